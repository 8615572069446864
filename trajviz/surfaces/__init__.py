"""The registry of 2D test surfaces.

Each surface is written once on ``x = xy[..., 0]`` and ``y = xy[..., 1]`` with
tensor methods, so it evaluates any batch of points (..., 2) -> (...) on any
device; its gradient comes from autograd. Its facts (formula, domain, minima,
optimum, default start, contour scale, curated learning rates) are data.

>>> import torch, trajviz.surfaces as S
>>> s = S.get("rosenbrock:b=10")
>>> float(s(torch.tensor([1.0, 1.0])))
0.0
>>> S.names()[:3]
['ackley', 'beale', 'booth']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import TrajvizError, unknown
from ..specs import is_name, parse_params, split_spec
from .surface import Domain, Surface, _check_lim  # noqa: F401  (Surface is part of this module's API)


@dataclass(frozen=True)
class _Entry:
    """A registered surface family: its builder and parameter defaults."""

    name: str
    build: Callable[..., Surface]
    defaults: Mapping[str, float]
    summary: str
    rules: Mapping[str, tuple] = None   # parameter -> (exclusive lower bound, what it must be)
    lrs: Any = None                      # the curated rates: a mapping, or a function of the parameters


_REGISTRY: dict[str, _Entry] = {}


def register(name: str, fn: Callable | None = None, *, formula: str = "", domain: Domain = ((-2, 2), (-2, 2)),
             minima=(), optimum: float | None = None, start=None, log_levels: bool = False,
             params: Mapping[str, float] | None = None, lrs: Mapping[str, float] | None = None,
             steps: int = 300, note: str = "", build: Callable[..., Surface] | None = None,
             display: str = "", param_rules: Mapping[str, tuple] | None = None, replace_existing: bool = False):
    """Add a surface to the registry (usable from notebooks).

    ``fn(x, y, **params)`` must use tensor operations so autograd and batching work.

    >>> import trajviz.surfaces as S
    >>> S.register("bowl", lambda x, y: x**2 + 3 * y**2, formula="x^2 + 3y^2",
    ...            domain=((-2, 2), (-2, 2)), minima=[(0, 0)], optimum=0.0, replace_existing=True)
    >>> S.get("bowl").optimum
    0.0

    ``minima``, ``optimum``, ``start`` and ``lrs`` may be callables of the
    params dict, for families whose minimizer moves with a parameter.
    """
    _load_catalog()
    name = name.lower()
    if not is_name(name) or ":" in name or "." in name:
        raise TrajvizError(f"surface name '{name}' must be a plain identifier")
    if name in _REGISTRY and not replace_existing:
        raise TrajvizError(f"surface '{name}' is already registered (pass replace_existing=True)")
    defaults = dict(params or {})

    if build is None:
        if fn is None:
            raise TrajvizError("register() needs fn or build")

        def build(**p):
            def value(v):
                return v(p) if callable(v) else v

            (x0, x1), (y0, y1) = domain
            st = value(start) if start is not None else (x0 + 0.15 * (x1 - x0), y1 - 0.15 * (y1 - y0))
            return Surface(
                name=name, formula=formula or name, fn=fn, domain=domain,
                minima=tuple(tuple(float(c) for c in m) for m in value(minima)),
                optimum=None if value(optimum) is None else float(value(optimum)),
                start=tuple(float(c) for c in st), log_levels=log_levels, params=p,
                lrs=curated_rates(lrs, p), steps=steps, note=note, defaults=defaults, display=display,
            )

    _REGISTRY[name] = _Entry(name, build, defaults, formula or name, dict(param_rules or {}), lrs)
    return None


def curated_rates(lrs, params) -> dict:
    """A family's curated learning rates for these parameters; a rate the parameters break
    (a division by zero, a negative or non-finite value) is left out, so the method falls
    back to its entry's default rate."""
    try:
        rates = lrs(dict(params)) if callable(lrs) else lrs
    except (ArithmeticError, ValueError):
        return {}
    out = {}
    for k, v in dict(rates or {}).items():
        try:
            v = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(v) and v > 0:
            out[k] = v
    return out


def dropped_rates(surface) -> tuple[str, ...]:
    """The methods whose curated rate on this surface its parameters break (see :func:`curated_rates`):
    they run at their entry's default rate instead.

    >>> dropped_rates(get("rosenbrock:b=1e-320"))
    ('sgd', 'momentum', 'nesterov')
    >>> dropped_rates(get("rosenbrock:b=10"))
    ()
    """
    if not isinstance(surface, Surface) or not surface.params:
        return ()
    _load_catalog()
    e = _REGISTRY.get(surface.name)
    if e is None or e.lrs is None:
        return ()
    usual = curated_rates(e.lrs, e.defaults)
    return tuple(k for k in usual if k not in surface.lrs)


def names() -> list[str]:
    """The registered surface names, sorted."""
    _load_catalog()
    return sorted(_REGISTRY)


def entry(name: str) -> _Entry:
    _load_catalog()
    if name not in _REGISTRY:
        raise unknown("surface", name, _REGISTRY)
    return _REGISTRY[name]


def get(spec, *, xlim=None, ylim=None) -> Surface:
    """Return the surface for ``spec``: a name, ``name:k=v,...``, a formula, or a Surface.

    >>> get("quadratic:kappa=25,angle=30").params["kappa"]
    25.0
    >>> get("x**2 + 10*y**2", xlim=(-3, 3), ylim=(-3, 3)).domain
    ((-3.0, 3.0), (-3.0, 3.0))
    """
    if isinstance(spec, Surface):
        surface = spec
    elif not isinstance(spec, str):
        raise TrajvizError(f"a surface is a name, a formula or a Surface, not {type(spec).__name__}")
    elif is_name(spec) and split_spec(spec)[0].lower() not in ("x", "y"):
        name, rest = split_spec(spec)
        e = entry(name.lower())
        given = parse_params(rest)
        bad = sorted(set(given) - set(e.defaults))
        if bad:
            valid = ", ".join(sorted(e.defaults)) or "none"
            raise TrajvizError(f"unknown parameter '{bad[0]}' for surface '{e.name}' (valid: {valid})")
        params = dict(e.defaults)
        for k, v in given.items():
            if isinstance(v, (tuple, bool, str)) or v is None:
                raise TrajvizError(f"bad {e.name} parameter {k}: {v} (must be a number)")
            params[k] = float(v)
            low, rule = (e.rules or {}).get(k, (None, ""))
            if low is not None and not params[k] > low:
                raise TrajvizError(f"bad {e.name} parameter {k}: {params[k]:g} (must be {rule})")
        surface = e.build(**params)
    else:
        from .formula import compile_formula

        f = compile_formula(spec)
        (x0, x1), (y0, y1) = ((-3.0, 3.0), (-3.0, 3.0))
        surface = Surface(name=spec, formula=spec, fn=lambda x, y, _f=f: _f(x, y),
                          domain=((x0, x1), (y0, y1)), start=(-2.2, 2.2))
        if xlim is not None or ylim is not None:
            surface = surface.with_domain(xlim, ylim)
            (x0, x1), (y0, y1) = surface.domain
            surface = replace(surface, start=(x0 + 0.15 * (x1 - x0), y1 - 0.15 * (y1 - y0)))
        return surface
    if xlim is not None or ylim is not None:
        surface = surface.with_domain(xlim, ylim)
    return surface


_loaded = False


def _load_catalog() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import catalog

        for args, kw in catalog.ENTRIES:
            register(*args, **kw)


__all__ = ["Surface", "get", "names", "register", "entry", "curated_rates", "dropped_rates"]
