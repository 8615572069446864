"""A surface's function written out as a formula in the CLI's safe syntax, for the page.

The page evaluates built-in surfaces with the same formula language as the formula box
(:mod:`trajviz.surfaces.formula`), so it needs each surface as one formula string. Rather
than keep a second copy of every function, the surface's own ``fn`` is traced: it is
called with two stand-ins for ``x`` and ``y`` that record every operation (operators,
tensor methods such as ``.cos()``, and the whitelisted ``torch`` functions), with the
surface's parameters and constants as full-precision numbers. The result is fully
parenthesised, so the formula compiler performs the same floating-point operations in
the same order as the surface.

A surface written with anything else (``torch.where``, indexing, comparisons) cannot be
traced; :func:`expression` returns ``None`` and the page leaves that surface out (the
notebook's kernel mode still runs it). :func:`verified_expression` also checks the
formula against the surface on a grid before trusting it.

>>> import trajviz.surfaces as S
>>> expression(S.get("rosenbrock:b=10"))
'(((1.0 - x) ** 2.0) + (10.0 * ((y - (x ** 2.0)) ** 2.0)))'
"""

from __future__ import annotations

import math

import numpy as np

from ..surfaces.formula import FUNCTIONS

# tensor method / torch function name -> the formula's function name
_METHODS = {method: name for name, method in FUNCTIONS.items()}
_METHODS.update({"arcsin": "asin", "arccos": "acos", "arctan": "atan", "absolute": "abs"})


class NotTraceable(Exception):
    """The function did something the formula language cannot say."""


def _number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise NotTraceable(f"a {type(value).__name__} operand")
    v = float(value)
    if not math.isfinite(v):
        raise NotTraceable(f"the constant {v}")
    text = repr(v)
    return f"({text})" if v < 0 or text.startswith("-") else text


def _text(value) -> str:
    return value.text if isinstance(value, Traced) else _number(value)


class Traced:
    """A stand-in for a tensor that records the operations applied to it as formula text."""

    __slots__ = ("text",)
    __array_ufunc__ = None  # numpy scalars defer to our reflected operators

    def __init__(self, text: str):
        self.text = text

    def _bin(self, op, other, reflected=False):
        a, b = (_text(other), self.text) if reflected else (self.text, _text(other))
        return Traced(f"({a} {op} {b})")

    def __add__(self, o): return self._bin("+", o)
    def __radd__(self, o): return self._bin("+", o, True)
    def __sub__(self, o): return self._bin("-", o)
    def __rsub__(self, o): return self._bin("-", o, True)
    def __mul__(self, o): return self._bin("*", o)
    def __rmul__(self, o): return self._bin("*", o, True)
    def __truediv__(self, o): return self._bin("/", o)
    def __rtruediv__(self, o): return self._bin("/", o, True)
    def __pow__(self, o): return self._bin("**", o)
    def __rpow__(self, o): return self._bin("**", o, True)
    def __neg__(self): return Traced(f"(-{self.text})")
    def __pos__(self): return self
    def __abs__(self): return Traced(f"abs({self.text})")

    def __bool__(self):
        raise NotTraceable("a comparison or branch on the coordinates")

    def __getattr__(self, name):
        if name in _METHODS:
            return lambda: Traced(f"{_METHODS[name]}({self.text})")
        raise NotTraceable(f"the tensor attribute '{name}'")

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in _METHODS and len(args) == 1 and not kwargs:
            return Traced(f"{_METHODS[name]}({_text(args[0])})")
        raise NotTraceable(f"torch.{name}")


def is_formula_surface(surface) -> bool:
    """Whether the surface was made from a formula (not a registry entry)."""
    from .. import surfaces

    return surface.name == surface.formula and surface.name not in surfaces.names()


def expression(surface) -> str | None:
    """The surface's function as a formula string in the CLI's syntax, or None if it cannot be traced."""
    if is_formula_surface(surface):
        return surface.formula  # its own text
    try:
        out = surface.fn(Traced("x"), Traced("y"), **surface.params)
    except NotTraceable:
        return None
    except (TypeError, ValueError, AttributeError, ArithmeticError):
        return None
    if isinstance(out, Traced):
        return out.text
    try:
        return _number(out)  # a constant function
    except NotTraceable:
        return None


def compare_on_grid(surface, text: str, points: int = 61) -> float:
    """The largest relative difference between the formula and the surface on a grid over its domain.

    Relative to ``max(|f|, 1e-300)``; points where both are NaN count as equal.
    """
    import torch

    from ..surfaces.formula import compile_formula

    (x0, x1), (y0, y1) = surface.domain
    gx, gy = torch.meshgrid(torch.linspace(x0, x1, points, dtype=torch.float64),
                            torch.linspace(y0, y1, points, dtype=torch.float64), indexing="xy")
    with torch.no_grad():
        want = torch.as_tensor(surface(torch.stack([gx, gy], -1)), dtype=torch.float64).expand(gx.shape)
        got = compile_formula(text)(gx, gy).expand(gx.shape)
    both_nan = torch.isnan(want) & torch.isnan(got)
    diff = torch.where(both_nan, torch.zeros_like(want), (got - want).abs() / want.abs().clamp_min(1e-300))
    same_inf = torch.isinf(want) & (got == want)
    diff = torch.where(same_inf, torch.zeros_like(diff), diff)
    return float(diff.max()) if diff.numel() else 0.0


def verified_expression(surface, tolerance: float = 1e-12) -> str | None:
    """:func:`expression`, kept only if it equals the surface on a grid to ``tolerance`` (relative)."""
    text = expression(surface)
    if text is None:
        return None
    from ..errors import TrajvizError

    try:
        error = compare_on_grid(surface, text)
    except (TrajvizError, RuntimeError):
        return None
    return text if error <= tolerance else None


__all__ = ["expression", "is_formula_surface", "verified_expression", "compare_on_grid", "Traced", "NotTraceable"]
