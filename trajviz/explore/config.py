"""What the page (and the widget) are given: surfaces, optimizers, colours and the first state.

Everything is plain JSON. Surfaces travel as formula strings in the CLI's safe syntax
(:mod:`trajviz.explore.expression`), each checked against its torch definition on a grid;
optimizers as their registry facts plus their torch.optim class, whose update rule the
page has written out (``static/optim.js``). What the page cannot run exactly is left out
and named in ``notes``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

from .. import optimizers as _optimizers
from .. import surfaces as _surfaces
from ..errors import TrajvizError
from ..options import RunOptions
from .expression import is_formula_surface, verified_expression

# torch.optim classes whose single-tensor update the page implements (static/optim.js)
PAGE_CLASSES = ("SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "RAdam")
# keys that change how torch computes, not what: accepted and ignored by the page
NO_OP_KEYS = ("foreach", "differentiable")
# keys that select another implementation, which the page does not reproduce
KERNEL_ONLY_KEYS = ("fused", "capturable")
FLAG_KEYS = ("nesterov", "maximize", "centered", "amsgrad", "decoupled_weight_decay")
FORMULA_DOMAIN = ((-3.0, 3.0), (-3.0, 3.0))
FORMULA_START = (-2.2, 2.2)
FORMULA_STEPS = 300
MAX_PAGE_STARTS = 20
# run options the page has no use for, and why
UNSUPPORTED = {
    "starts": "add starts in the page (double-click the map)",
    "lr": "set each method's learning rate in the page",
    "clip": "the page does not clip gradients",
    "schedule": "the page runs each method at a constant learning rate",
    "tune": "move each method's learning rate in the page",
    "record_every": "the page records every step",
    "dtype": "the page computes in float64",
    "device": "the page computes in the browser",
}
MAX_PAGE_STEPS = 5000
MAX_PAGE_SEED = 2**53 - 1  # JavaScript's integers


def method_color(name: str) -> str:
    """A method's colour (a fact of its optimizer entry)."""
    return _optimizers.get_entry(name).color


def method_dashed(name: str) -> bool:
    return _optimizers.get_entry(name).linestyle not in ("solid", "-", None)


def page_class(spec) -> str | None:
    """The torch.optim class name the page can run for this optimizer spec, or None."""
    import torch

    cls = spec.torch_class
    for name in PAGE_CLASSES:
        if cls is getattr(torch.optim, name):
            return name
    return None


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def class_info(name: str) -> dict:
    """The keyword names and defaults of a torch.optim class's constructor."""
    import torch

    sig = inspect.signature(getattr(torch.optim, name).__init__)
    params = [p for p in sig.parameters.values() if p.name not in ("self", "params")
              and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    defaults = {p.name: _jsonable(p.default) for p in params
                if p.default is not inspect.Parameter.empty and p.name not in NO_OP_KEYS + KERNEL_ONLY_KEYS}
    return {
        "keys": [p.name for p in params],
        "defaults": defaults,
        "flags": [k for k in FLAG_KEYS if k in defaults],
        "numbers": [k for k, v in defaults.items() if k not in FLAG_KEYS and k != "betas"
                    and isinstance(v, (int, float))],
        "kernel_only": [k for k in KERNEL_ONLY_KEYS if k in [p.name for p in params]],
    }


def optimizer_entries() -> list[dict]:
    """Every registered optimizer the page can run: its facts, colour and torch class."""
    out = []
    for name in _optimizers.names():
        entry = _optimizers.get_entry(name)
        cls = page_class(entry)
        if cls is None:
            continue
        out.append({
            "name": name, "title": entry.title, "analogy": entry.analogy, "cls": cls,
            "defaults": {k: _jsonable(v) for k, v in entry.defaults.items()},
            "color": method_color(name), "dashed": method_dashed(name), "marker": entry.marker, "rule": entry.rule,
        })
    return out


def _lrs(surface, names) -> dict:
    """The learning rate each method gets on ``surface`` when its spec sets none, in
    ``optimizers.resolve``'s order: the surface's curated rate, else the entry's default."""
    out = {}
    for name in names:
        rate = surface.lrs.get(name) if surface is not None else None
        if rate is None:
            rate = _optimizers.get_entry(name).fallback_lr
        if rate is not None and math.isfinite(rate) and rate > 0:
            out[name] = float(rate)
    return out


def surface_entry(surface, key: str, names: Sequence[str], aliases: Sequence[str] = ()) -> dict | None:
    """The page's record of a surface, or None if its function cannot be written as a formula."""
    formula_surface = is_formula_surface(surface)
    text = surface.formula if formula_surface else verified_expression(surface)
    if text is None:
        return None
    entry = _surfaces.entry(surface.name) if not formula_surface else None
    data_key = None
    from ..surfaces.regression import RegressionData

    if isinstance(surface.data, RegressionData):
        data_key = surface.name
    from ..render.scene import pretty_formula

    return {
        "key": key, "aliases": [a for a in aliases if a != key], "name": surface.name,
        "title": surface.name if formula_surface else surface.label, "pretty": pretty_formula(surface.formula),
        "formula": surface.formula, "expression": text, "formula_surface": formula_surface,
        "params": dict(surface.params), "param_defaults": dict(entry.defaults) if entry else {},
        "domain": [list(surface.domain[0]), list(surface.domain[1])],
        "minima": [list(m) for m in surface.minima], "optimum": surface.optimum,
        "start": list(surface.start), "log_levels": bool(surface.log_levels),
        "lrs": _lrs(surface, names), "steps": min(int(surface.steps), MAX_PAGE_STEPS), "note": surface.note,
        "data": data_key,
    }


def _data_payload(surface) -> dict:
    data = surface.data
    return {"f": (data.t**2).tolist(), "y": data.y.tolist()}


def build_config(surface: str = "rosenbrock", opt: Any = "all", **settings) -> dict:
    """The page's payload for ``surface`` and ``opt`` with ``settings`` (start, steps, noise,
    seed, batch_size, xlim, ylim: checked as ``trajviz run`` checks them)."""
    unsupported = sorted(set(settings) - {"start", "steps", "noise", "seed", "batch_size", "xlim", "ylim"})
    if unsupported:
        raise TrajvizError(f"the page does not take '{unsupported[0]}' (it takes start, steps, noise, seed, "
                           "batch_size, xlim and ylim)")
    return page_config(RunOptions(surface=surface, opt=opt, **settings))


def page_config(options: RunOptions) -> dict:
    """The page's payload: every surface and optimizer it can run, and the first state.

    Raises TrajvizError for bad input (as ``trajviz run`` would), before anything is written.
    """
    o = options
    for key, why in UNSUPPORTED.items():
        if getattr(o, key) not in (None, False, 1, "auto", "float64"):
            raise TrajvizError(f"the page does not take {key}: {why}")
    surface = o.surface
    chosen = _surfaces.get(surface, xlim=o.xlim, ylim=o.ylim)
    steps = o.steps if o.steps is not None else chosen.steps
    batch_size = chosen.batch_rows(o.batch_size)
    starts = [list(map(float, p)) for p in (o.start or [chosen.start])]
    specs = _optimizers.resolve(list(o.opt), surface=chosen)
    if len(starts) > MAX_PAGE_STARTS:
        raise TrajvizError(f"the page draws at most {MAX_PAGE_STARTS} starts (got {len(starts)})")
    if o.seed > MAX_PAGE_SEED:
        raise TrajvizError(f"the page takes seeds up to 2**53 - 1 (got {o.seed})")
    if steps > MAX_PAGE_STEPS:
        raise TrajvizError(f"the page runs at most {MAX_PAGE_STEPS:,} steps (got {steps:,})")

    optimizers = optimizer_entries()
    page_names = [entry["name"] for entry in optimizers]
    notes = []
    surfaces, data = [], {}
    given = surface if isinstance(surface, str) else chosen.spec
    given = given.strip()
    for name in _surfaces.names():
        s = _surfaces.get(name)
        item = surface_entry(s, name, page_names, aliases=[s.spec])
        if item is None:
            notes.append(f"surface '{name}' is not in the page: its function uses operations the formula "
                         "language cannot write (the notebook's kernel mode runs it)")
            continue
        surfaces.append(item)
    keys = {k for s in surfaces for k in [s["key"], *s["aliases"]]}
    if given not in keys:
        base = _surfaces.get(given) if isinstance(surface, str) else chosen
        item = surface_entry(base, given, page_names, aliases=[base.spec])
        if item is None:
            raise TrajvizError(f"surface '{given}' cannot be drawn in the page: its function uses operations the "
                               "formula language cannot write; use it in a notebook with kernel=True")
        if not item["formula_surface"]:
            surfaces.insert(0, item)
    for item in surfaces:
        if item["data"] and item["data"] not in data:
            data[item["data"]] = _data_payload(_surfaces.get(item["name"]))

    opt_specs = []
    for spec in specs:
        cls = page_class(spec)
        bad_keys = [k for k in spec.kwargs if k in KERNEL_ONLY_KEYS and spec.kwargs[k]]
        in_registry = spec.name in page_names
        if cls is None or not in_registry or bad_keys:
            why = (f"{', '.join(bad_keys)} selects another torch implementation" if bad_keys and in_registry
                   else f"the page has no written-out update rule for {spec.torch_class.__name__}"
                   if cls is None else "the page runs registered optimizers by name")
            notes.append(f"'{spec.label}' is not in the page ({why}); trajviz run and the notebook's "
                         "kernel mode run it")
            continue
        opt_specs.append(spec.label.split("#")[0] if spec.kwargs else spec.name)
    if not opt_specs:
        raise TrajvizError("none of the selected optimizers can run in the page: " + "; ".join(notes))

    state = {"surface": given, "opt": opt_specs, "start": starts, "steps": steps, "noise": float(o.noise),
             "seed": o.seed}
    if chosen.stochastic:
        state["batch_size"] = batch_size
    if o.xlim is not None:
        state["xlim"] = [float(v) for v in o.xlim]
    if o.ylim is not None:
        state["ylim"] = [float(v) for v in o.ylim]
    return {
        "version": 1,
        "classes": {name: class_info(name) for name in sorted({o["cls"] for o in optimizers})},
        "optimizers": optimizers,
        "classic": [n for n in _optimizers.CLASSIC if n in page_names],
        "surfaces": surfaces,
        "data": data,
        "generic_lrs": _lrs(None, page_names),
        "formula_defaults": {"domain": [list(d) for d in FORMULA_DOMAIN], "start": list(FORMULA_START),
                             "steps": FORMULA_STEPS},
        "state": state,
        "notes": notes,
        "theme": theme_payload(),
    }


def theme_payload(name: str = "light") -> dict:
    """The colours the page draws with, from trajviz's theme."""
    from ..render.style import THEMES

    th = THEMES[name]
    return {"surface": list(th.surface_colors), "contour": th.contour_line, "contour_alpha": th.contour_alpha,
            "text": th.text, "muted": th.muted, "axes": th.axes, "star": th.star_face, "edge": th.marker_edge}


__all__ = ["build_config", "theme_payload", "optimizer_entries", "surface_entry", "class_info", "method_color", "page_class",
           "PAGE_CLASSES"]
