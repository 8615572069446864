"""The registry of optimizers, each backed by its torch.optim implementation.

An entry is data: the torch.optim class, its defaults, its analogy, its update
rule, and how to read its state for the renderer (the velocity and the
per-axis step size). The engine never asks which optimizer it is running.

>>> import trajviz.optimizers as O
>>> O.get("adam:lr=0.05,betas=0.9/0.99").kwargs
{'lr': 0.05, 'betas': (0.9, 0.99)}
>>> [o.name for o in O.resolve("all")][:3]
['sgd', 'momentum', 'nesterov']
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import TrajvizError, unknown
from ..specs import SYNTAX, is_name, parse_params, split_spec

CLASSIC = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam")

# state reader: (state, group, t, grad) -> tensor (N, 2) on the device, or None; read after step t,
# ``grad`` the gradient that step used
Reader = Callable[[Mapping[str, Any], Mapping[str, Any], int, Any], Any]


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer: the torch.optim class, hyperparameters and how to read its state.

    Attributes:
        name: registry name (``"adam"``) or import path (``"torch.optim:ASGD"``).
        cls: the torch.optim.Optimizer subclass, or its import path (resolved lazily).
        defaults: keyword arguments the entry sets on top of torch's own defaults.
        kwargs: the user's keyword arguments (``adam:lr=0.05``), torch's own names.
        analogy: the picture in a few words ("drunk walker").
        velocity: reads the velocity from the state, as a displacement per step
            in (x, y) units; ``None`` if the method has none.
        step_size: reads the per-axis effective step size,
            ``lr / (sqrt(second moment) + eps)``; ``None`` if the method has none.
        batchable: whether rows of one (N, 2) parameter evolve independently
            (elementwise updates). If not, the engine runs one instance per start.
        label: how the run is named in results (the spec as written).
        lr_scale: whether each step is proportional to lr (a bool, or a function of
            the hyperparameters); lets tuning and sweeps batch learning rates.
        doc: the update rule written out, as in torch.optim's documentation; its
            indented lines are the equations (``rule`` is them on one line).
        filled: hyperparameters trajviz filled in (the learning rate from ``--lr``, the
            surface's curated rate or the entry's default), kept apart from ``kwargs``
            so that names and labels show only what the user wrote.
        color, linestyle, marker: how the method is drawn, in every picture.
        default_lr: the rate used where neither the user nor the surface gives one.
        lesson: the recipe of ``trajviz explain`` for this method (None: not explained).
        velocity_is_step: the whole step is the velocity (momentum SGD, Adam, Adamax, RAdam):
            the arrow drawn is exactly the displacement.
    """

    name: str
    cls: Any
    defaults: Mapping[str, Any] = field(default_factory=dict)
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    analogy: str = ""
    velocity: Reader | None = None
    step_size: Reader | None = None
    batchable: bool = True
    display: str = ""
    label: str = ""
    lr_scale: Any = False
    doc: str = ""
    filled: Mapping[str, Any] = field(default_factory=dict)
    color: str = ""
    dark_color: str = ""
    linestyle: Any = "solid"
    marker: str = "o"
    default_lr: float | None = None
    lesson: Any = None
    velocity_is_step: bool = False

    def lr_is_scale(self, hyperparameters: Mapping[str, Any] | None = None) -> bool:
        """Whether each step is proportional to ``lr`` for these hyperparameters (declared as data)."""
        rule = self.lr_scale
        return bool(rule(dict(hyperparameters or self.hyperparameters())) if callable(rule) else rule)

    @property
    def title(self) -> str:
        """Display name, e.g. ``"Momentum"``."""
        return self.display or self.name

    @property
    def rule(self) -> str:
        """The update rule on one line: the equations of ``doc`` (its indented lines)."""
        lines = [line.strip() for line in self.doc.splitlines() if line.startswith("    ") and line.strip()]
        eqs = [" ".join(line.split("  (")[0].split()) for line in lines]
        return ";  ".join(eqs) if eqs else (self.doc.strip().splitlines() or [""])[0]

    @property
    def full_title(self) -> str:
        """``"Adam"``, or ``"Adam (betas=0.9/0.99)"`` with the hyperparameters the user gave."""
        extra = format_kwargs(self.kwargs)
        return f"{self.title} ({extra})" if extra else self.title

    def color_for(self, dark: bool = False) -> str:
        """The method's colour on a light background, or on a dark one (its own dark colour, else
        its light one lightened to 3:1 against a near-black background)."""
        if not dark:
            return self.color
        if self.dark_color:
            return self.dark_color
        from ..colors import readable

        return readable(self.color, DARK_BACKGROUND, 3.0)

    @property
    def fallback_lr(self) -> float | None:
        """The entry's default rate, else the torch class's own default (None if it has none)."""
        if self.default_lr is not None:
            return float(self.default_lr)
        import inspect as _inspect

        p = _inspect.signature(self.torch_class.__init__).parameters.get("lr")
        if p is not None and isinstance(p.default, (int, float)) and not isinstance(p.default, bool) \
                and p.default > 0:
            return float(p.default)
        return None

    @property
    def torch_class(self):
        return _import_class(self.cls) if isinstance(self.cls, str) else self.cls

    def hyperparameters(self) -> dict:
        """Entry defaults, then what trajviz filled in, then the user's kwargs (torch fills the rest)."""
        return {**self.defaults, **self.filled, **self.kwargs}

    def valid_keys(self) -> list[str]:
        sig = inspect.signature(self.torch_class.__init__)
        return [p for p in sig.parameters if p not in ("self", "params")
                and sig.parameters[p].kind not in (inspect.Parameter.VAR_POSITIONAL,
                                                   inspect.Parameter.VAR_KEYWORD)]

    def with_kwargs(self, **kwargs) -> OptimizerSpec:
        return replace(self, kwargs={**self.kwargs, **kwargs})

    def with_filled(self, **values) -> OptimizerSpec:
        """The spec with values trajviz chose (a rate from ``--lr``, the surface or tuning)."""
        return replace(self, filled={**self.filled, **values})

    def without(self, *keys: str) -> OptimizerSpec:
        """The spec without some of the user's keys, labelled by what is left."""
        kwargs = {k: v for k, v in self.kwargs.items() if k not in keys}
        return replace(self, kwargs=kwargs, label=spec_string(self.name, kwargs))

    def make(self, params):
        """Instantiate the torch optimizer on ``params``; bad values become TrajvizError."""
        try:
            return self.torch_class(params, **torch_types(self.torch_class, self.hyperparameters()))
        except (ValueError, TypeError, RuntimeError) as exc:
            raise TrajvizError(f"bad hyperparameters for {self.label or self.name}: {exc}") from None

    def check(self) -> OptimizerSpec:
        """Validate keys and values now (before a long run); return self."""
        valid = self.valid_keys()
        bad = [k for k in self.kwargs if k not in valid]
        if bad:
            raise TrajvizError(
                f"unknown key '{bad[0]}' for optimizer {self.name} (valid keys: {', '.join(valid)})")
        lr = self.hyperparameters().get("lr")
        if lr is not None:
            if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
                raise TrajvizError(f"bad learning rate for {self.name}: {lr} (must be a number > 0)")
        import torch

        # torch checks some values only when it steps (betas of the wrong length, capturable on
        # the CPU, ...): one probe step on a dummy parameter finds them before a long run
        p = torch.ones(1, 2, requires_grad=True)
        opt = self.make([p])

        def closure():
            opt.zero_grad()
            value = (p * p).sum()
            value.backward()
            return value

        try:
            opt.step(closure)
        except Exception as exc:  # noqa: BLE001 - any failure here is a bad setting, said in one line
            raise TrajvizError(f"bad hyperparameters for {self.label or self.name}: "
                               f"{type(exc).__name__}: {exc}".replace("\n", " ")) from None
        return self


_REGISTRY: dict[str, OptimizerSpec] = {}


def _signature_types(cls, key: str) -> str:
    """What ``cls.__init__`` says ``key`` takes, as text: its annotation, else its default's type."""
    try:
        p = inspect.signature(cls.__init__).parameters.get(key)
    except (TypeError, ValueError):
        return ""
    if p is None:
        return ""
    if p.annotation is not inspect.Parameter.empty:
        return p.annotation if isinstance(p.annotation, str) else str(p.annotation)
    d = p.default
    if isinstance(d, tuple):
        return "tuple[" + ", ".join(type(v).__name__ for v in d) + "]"
    return "" if d is inspect.Parameter.empty or d is None else type(d).__name__


def torch_types(cls, kwargs: Mapping[str, Any]) -> dict:
    """``kwargs`` in the types ``cls`` takes: a whole number becomes a float where the signature
    takes floats (``betas=0/0.999`` is ``(0.0, 0.999)``; torch refuses a mixed pair), stays an int
    where it takes ints (LBFGS ``max_iter``); a word is kept only where it takes text.

    >>> import torch
    >>> torch_types(torch.optim.Adam, {"betas": (0, 0.999), "lr": 1})
    {'betas': (0.0, 0.999), 'lr': 1.0}
    >>> torch_types(torch.optim.LBFGS, {"max_iter": 5, "line_search_fn": "strong_wolfe"})
    {'max_iter': 5, 'line_search_fn': 'strong_wolfe'}
    """
    import re

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    out = {}
    for key, value in kwargs.items():
        text = _signature_types(cls, key)
        floats = bool(re.search(r"\bfloat\b", text)) and not re.search(r"\bint\b", text)
        if is_int(value) and floats:
            value = float(value)
        elif isinstance(value, tuple) and floats:
            value = tuple(float(v) if is_int(v) else v for v in value)
        elif isinstance(value, str) and text and not re.search(r"\bstr\b", text):
            raise TrajvizError(f"bad value for '{key}': '{value}' is not a number")
        out[key] = value
    return out


def register(name: str, cls, *, defaults: Mapping[str, Any] | None = None, analogy: str = "",
             velocity: Reader | None = None, step_size: Reader | None = None,
             batchable: bool = True, display: str = "", lr_scale: Any = False, doc: str = "",
             color: str | None = None, dark_color: str = "", linestyle: Any = "solid", marker: str = "o",
             default_lr: float | None = None, lesson: Any = None, velocity_is_step: bool = False,
             replace_existing: bool = False) -> OptimizerSpec:
    """Add an optimizer to the registry: a torch.optim class (or import path) and its facts.

    Facts not given get sensible defaults: a colour of its own (a stable pick by name; for dark
    slides, the same lightened), a solid line, a round head, and the torch class's own default
    learning rate.

    >>> import torch, trajviz.optimizers as O
    >>> e = O.register("heavyball", torch.optim.SGD, defaults={"momentum": 0.99},
    ...                analogy="very heavy ball", replace_existing=True)
    >>> e.fallback_lr, e.color.startswith("#")
    (0.001, True)
    """
    _load_catalog()
    name = name.lower()
    if name in _REGISTRY and not replace_existing:
        raise TrajvizError(f"optimizer '{name}' is already registered (pass replace_existing=True)")
    spec = OptimizerSpec(name=name, cls=cls, defaults=dict(defaults or {}), analogy=analogy,
                         velocity=velocity, step_size=step_size, batchable=batchable,
                         display=display, label=name, lr_scale=lr_scale, doc=doc,
                         color=color or fallback_color(name), dark_color=dark_color, linestyle=linestyle,
                         marker=marker, default_lr=default_lr, lesson=lesson, velocity_is_step=velocity_is_step)
    _REGISTRY[name] = spec
    return spec


DARK_BACKGROUND = "#14171C"   # what an automatic dark colour is made readable against

# Colours for optimizers that bring none (user classes), picked by a stable hash of the name.
FALLBACK_COLORS: tuple[str, ...] = ("#332288", "#88CCEE", "#117733", "#DDCC77", "#CC6677", "#AA3377",
                                    "#6699CC", "#997700")


def fallback_color(name: str) -> str:
    import zlib

    return FALLBACK_COLORS[zlib.crc32(name.lower().encode()) % len(FALLBACK_COLORS)]


def format_kwargs(kwargs: Mapping[str, Any]) -> str:
    """``{"lr": 0.05, "betas": (0.9, 0.99)}`` -> ``"lr=0.05,betas=0.9/0.99"`` (the spec syntax)."""
    def value(v):
        if isinstance(v, tuple):
            return "/".join(value(x) for x in v)
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return f"{v:g}" if float(f"{v:g}") == v else repr(v)
        return str(v)

    return ",".join(f"{k}={value(v)}" for k, v in kwargs.items())


def spec_string(name: str, kwargs: Mapping[str, Any]) -> str:
    """The spec a user would write for ``name`` with ``kwargs``."""
    extra = format_kwargs(kwargs)
    return f"{name}:{extra}" if extra else name


def names() -> list[str]:
    """Registered names, the classic seven first in their teaching order."""
    _load_catalog()
    rest = sorted(n for n in _REGISTRY if n not in CLASSIC)
    return [n for n in CLASSIC if n in _REGISTRY] + rest


def get_entry(name: str) -> OptimizerSpec:
    """The registered entry for ``name`` (no parsing, no torch import)."""
    _load_catalog()
    if name not in _REGISTRY:
        raise unknown("optimizer", name, list(_REGISTRY) + ["all"])
    return _REGISTRY[name]


def _import_class(path: str):
    import os
    import sys

    module, _, attr = path.partition(":")
    if not attr:
        module, _, attr = path.rpartition(".")
    # the user's own module in the current folder (the console script does not put it on sys.path)
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        raise TrajvizError(f"cannot import optimizer '{path}': {exc}") from None
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
    import torch

    if not (inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer)):
        raise TrajvizError(f"'{path}' is not a torch.optim.Optimizer subclass")
    return obj


def _separable_builtin(cls) -> bool:
    import torch

    known = {torch.optim.SGD, torch.optim.Adagrad, torch.optim.Adadelta, torch.optim.RMSprop,
             torch.optim.Adam, torch.optim.AdamW, torch.optim.Adamax, torch.optim.NAdam,
             torch.optim.RAdam, torch.optim.ASGD, torch.optim.Rprop}
    return cls in known


def from_class(cls, label: str | None = None, kwargs: Mapping[str, Any] | None = None) -> OptimizerSpec:
    """A spec for any torch.optim.Optimizer subclass (object or ``pkg.mod:Class`` path).

    Elementwise torch.optim classes run batched; any other class runs one
    instance per start, so that an update coupling the rows (LBFGS, Adafactor)
    cannot mix independent paths.
    """
    klass = _import_class(cls) if isinstance(cls, str) else cls
    import torch

    if not (inspect.isclass(klass) and issubclass(klass, torch.optim.Optimizer)):
        raise TrajvizError(f"{cls!r} is not a torch.optim.Optimizer subclass")
    name = cls if isinstance(cls, str) else f"{klass.__module__}:{klass.__qualname__}"
    return OptimizerSpec(name=name, cls=klass, kwargs=dict(kwargs or {}), display=klass.__name__,
                         batchable=_separable_builtin(klass), label=label or name,
                         doc=f"{klass.__name__} from {klass.__module__}", color=fallback_color(name))


def get(spec: str) -> OptimizerSpec:
    """Parse ``name[:k=v,...]`` or ``pkg.module:Class[:k=v,...]`` into a checked spec.

    Keys are torch.optim's own keyword names; unknown keys and bad values raise
    :class:`TrajvizError` listing the valid keys.

    >>> spec = get("momentum:lr=0.01,momentum=0.8")
    >>> spec.hyperparameters()
    {'momentum': 0.8, 'lr': 0.01}
    >>> spec.analogy
    'downhill slope'
    """
    if isinstance(spec, OptimizerSpec):
        return spec.check()
    name, rest = split_spec(spec)
    if not is_name(name):
        raise _malformed(spec)
    kwargs = parse_params(rest, words=True)
    if ":" in name or "." in name:
        out = from_class(name, label=spec.strip(), kwargs=kwargs)
        out = replace(out, kwargs=torch_types(out.torch_class, kwargs))
    else:
        _load_catalog()
        key = name.lower()
        if key == "all":
            raise TrajvizError("'all' takes no parameters; use --lr to set every learning rate")
        if key not in _REGISTRY:
            raise unknown("optimizer", name, list(_REGISTRY) + ["all"])
        entry = _REGISTRY[key]
        out = replace(entry, kwargs=torch_types(entry.torch_class, kwargs),
                      label=spec.strip() if kwargs else key)
    return out.check()


def _malformed(text: str) -> TrajvizError:
    """The error for an optimizer that is not written as NAME[:key=value,...], with the likely fix."""
    _load_catalog()
    text = text.strip()
    head, _, tail = text.partition(",")
    fix = ""
    if "=" in tail and head.strip().lower() in _REGISTRY:
        fix = f"; did you mean '{head.strip()}:{tail.strip()}'?"
    return TrajvizError(f"bad optimizer: {text} (must be {SYNTAX}, e.g. adam:lr=0.05,betas=0.9/0.99, "
                        f"or pkg.module:Class[:key=value,...]{fix})")


def resolve(opt, *, lr: float | None = None, surface=None) -> list[OptimizerSpec]:
    """Turn ``opt`` into checked specs with their learning rates filled in.

    ``opt`` is ``"all"``, a spec string, an OptimizerSpec, a torch.optim class,
    or a list of these. The learning rate is, in order: the spec's own ``lr=``,
    then ``lr`` (``--lr``), then the surface's curated rate for that method.
    """
    items: Sequence = opt if isinstance(opt, (list, tuple)) else [opt]
    if not items:
        raise TrajvizError("no optimizer selected")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))
                           or not math.isfinite(lr) or lr <= 0):
        raise TrajvizError(f"bad learning rate: {lr} (must be a number > 0)")
    specs: list[OptimizerSpec] = []
    for item in items:
        if isinstance(item, str) and item.strip().lower() == "all":
            _load_catalog()
            specs.extend(_REGISTRY[n] for n in CLASSIC)
        elif isinstance(item, str):
            specs.append(get(item))
        elif isinstance(item, OptimizerSpec):
            specs.append(item)
        else:
            specs.append(from_class(item))
    out = []
    seen: dict[str, int] = {}
    for spec in specs:
        if "lr" not in spec.kwargs and "lr" in spec.valid_keys():
            rate = lr
            if rate is None and surface is not None:
                rate = surface.lrs.get(spec.name)
            if rate is None:
                rate = spec.fallback_lr
            if rate is not None:
                spec = spec.with_filled(lr=float(rate))
        label = spec.label or spec.name
        if label in seen:
            seen[label] += 1
            label = f"{label}#{seen[label]}"
        else:
            seen[label] = 1
        out.append(replace(spec, label=label).check())
    return out


_loaded = False


def _load_catalog() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import catalog

        for args, kw in catalog.ENTRIES:
            register(*args, **kw)


__all__ = ["OptimizerSpec", "register", "get", "get_entry", "resolve", "names", "from_class", "CLASSIC",
           "format_kwargs", "spec_string", "fallback_color", "torch_types"]
