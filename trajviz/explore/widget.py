"""The notebook widget: the explorer in a cell, on anywidget (``pip install "trajviz-optim[explore]"``).

Same interface as the page's ``window.trajviz``: ``w.state`` (a dict in the CLI's terms),
``w.setState(partial)`` and ``w.paths()`` ({label: [path per start]}).

* Page mode (default): the front end runs the built-in methods itself, exactly as the
  standalone page does, and reports its state and paths back (``w.paths()`` is what it drew;
  after ``setState`` it updates once the front end has redrawn).
* Kernel mode (``kernel=True``): each change goes to the kernel, which runs ``trajviz.run``
  and sends the paths to draw; so surfaces and optimizers registered in the notebook work,
  and ``w.paths()`` is up to date as soon as ``setState`` returns. Drags re-run when released.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import TrajvizError
from .config import PAGE_CLASSES, build_config, method_color, method_dashed, page_class, theme_payload
from .page import library_source, static_text

try:
    import anywidget
    import traitlets
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise TrajvizError('the notebook widget needs anywidget: pip install "trajviz-optim[explore]"') from exc

GRID_POINTS = 160
HEIGHT = 640


def esm_source() -> str:
    """The widget's ES module: the shared library, then the anywidget entry point."""
    return "const TV = {};\n" + library_source() + "\n" + static_text("widget.js")


def _nan_to_none(a: np.ndarray | None):
    if a is None:
        return None
    return np.where(np.isfinite(a), a, None).tolist() if a.dtype.kind == "f" else a.tolist()


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return repr(value)


def merge(current: dict, partial: dict) -> dict:
    """The state after ``partial``: a new surface brings its own start, steps and view (as in the page)."""
    from .. import surfaces

    unknown = sorted(set(partial) - {"surface", "opt", "start", "steps", "noise", "seed", "batch_size", "xlim",
                                     "ylim"})
    if unknown:
        raise TrajvizError(f"unknown setting '{unknown[0]}'")
    out = {**current, **partial}
    if "surface" in partial and partial["surface"] != current.get("surface"):
        for key in ("xlim", "ylim", "batch_size"):
            if key not in partial:
                out.pop(key, None)
        s = surfaces.get(partial["surface"], xlim=out.get("xlim"), ylim=out.get("ylim"))
        out.setdefault("start", None)
        if "start" not in partial:
            out["start"] = [list(s.start)]
        if "steps" not in partial:
            out["steps"] = s.steps
        if s.stochastic and "batch_size" not in out:
            out["batch_size"] = None
    return out


def kernel_config() -> dict:
    """What the front end needs in kernel mode: every registered surface and optimizer, by name."""
    from .. import optimizers, surfaces
    from ..render.scene import pretty_formula

    surfaces_out = []
    for name in surfaces.names():
        s = surfaces.get(name)
        surfaces_out.append({"key": name, "name": name, "title": name, "pretty": pretty_formula(s.formula),
                             "note": s.note})
    opts = []
    for name in optimizers.names():
        entry = optimizers.get_entry(name)
        opts.append({"name": name, "title": entry.title, "analogy": entry.analogy, "color": method_color(name),
                     "dashed": method_dashed(name), "cls": page_class(entry)})
    return {"surfaces": surfaces_out, "optimizers": opts, "classic": list(optimizers.CLASSIC), "notes": [],
            "data": {}, "classes": {}, "generic_lrs": {}, "formula_defaults": {}, "state": {},
            "theme": theme_payload()}


def kernel_result(state: dict) -> dict:
    """Run ``state`` with trajviz.run; return what the front end draws (and the checked state)."""
    from ..api import run
    from ..render.scene import pretty_formula
    from .expression import is_formula_surface

    result = run(state["surface"], list(state["opt"]), steps=state.get("steps"), start=state.get("start"),
                 noise=state.get("noise", 0.0), seed=state.get("seed", 0), batch_size=state.get("batch_size"),
                 xlim=state.get("xlim"), ylim=state.get("ylim"), dtype="float64", device="cpu")
    surf = result.surface
    formula = is_formula_surface(surf)
    (x0, x1), (y0, y1) = surf.domain
    gx, gy = np.linspace(x0, x1, GRID_POINTS), np.linspace(y0, y1, GRID_POINTS)
    z = surf.grid(gx, gy)
    checked = {"surface": state["surface"], "opt": list(state["opt"]), "start": result.starts.tolist(),
               "steps": result.settings["steps"], "noise": result.settings["noise"], "seed": result.settings["seed"]}
    if surf.stochastic:
        size = result.settings["batch_size"]
        checked["batch_size"] = None if size in (None, "full") or size >= len(surf.data) else size
    for key in ("xlim", "ylim"):
        if state.get(key) is not None:
            checked[key] = [float(v) for v in state[key]]
    seen: dict[str, int] = {}
    methods, traces = [], []
    for trace in result:
        spec = trace.spec
        repeat = seen.get(spec.name, 0)
        seen[spec.name] = repeat + 1
        hp = {k: _jsonable(v) for k, v in trace.hyperparameters.items()}
        methods.append({"label": trace.label, "name": spec.name, "title": spec.title, "analogy": spec.analogy,
                        "color": spec.color, "dashed": spec.linestyle not in ("solid", "-", None), "repeat": repeat,
                        "cls": spec.torch_class.__name__, "hp": hp})
        traces.append({"label": trace.label, "name": spec.name, "path": _nan_to_none(trace.path),
                       "loss": _nan_to_none(trace.loss), "grad": _nan_to_none(trace.grad),
                       "velocity": _nan_to_none(trace.velocity), "step_size": _nan_to_none(trace.step_size),
                       "diverged_at": trace.diverged_at.tolist()})
    surface = {"spec": state["surface"], "key": state["surface"], "name": surf.name,
               "title": "formula" if formula else surf.label, "pretty": pretty_formula(surf.formula),
               "formula": surf.formula, "formula_surface": formula, "note": surf.note,
               "domain": [list(surf.domain[0]), list(surf.domain[1])], "minima": [list(m) for m in surf.minima],
               "optimum": surf.optimum, "log_levels": bool(surf.log_levels),
               "n_data": len(surf.data) if surf.stochastic else None}
    return {"state": checked, "surface": surface, "methods": methods, "traces": traces,
            "grid": {"x": gx.tolist(), "y": gy.tolist(), "z": _nan_to_none(z)}}


class Explorer(anywidget.AnyWidget):
    """The explorer as a notebook widget; see the module docstring."""

    _esm = esm_source()
    _css = static_text("page.css")
    config = traitlets.Dict().tag(sync=True)
    state = traitlets.Dict().tag(sync=True)
    kernel = traitlets.Bool(False).tag(sync=True)
    request = traitlets.Dict().tag(sync=True)
    result = traitlets.Dict().tag(sync=True)
    height = traitlets.Int(HEIGHT).tag(sync=True)

    def __init__(self, surface: str = "rosenbrock", opt: Any = "all", *, kernel: bool = False,
                 height: int = HEIGHT, **settings):
        if kernel:
            from .. import optimizers

            specs = optimizers.resolve(list(opt) if isinstance(opt, (list, tuple)) else opt)
            state = {"surface": surface, "opt": [s.label.split("#")[0] for s in specs], "start": settings.get("start"),
                     "steps": settings.get("steps"), "noise": settings.get("noise", 0.0), "seed": settings.get("seed", 0),
                     "batch_size": settings.get("batch_size"), "xlim": settings.get("xlim"),
                     "ylim": settings.get("ylim")}
            first = kernel_result(state)
            super().__init__(config=kernel_config(), state=first["state"], kernel=True,
                             result={"seq": 0, **first}, height=height)
        else:
            config = build_config(surface, opt, **settings)
            super().__init__(config=config, state=config["state"], kernel=False, result={}, height=height)

    @traitlets.observe("request")
    def _on_request(self, change):
        request = change["new"] or {}
        if not self.kernel or "partial" not in request:
            return
        try:
            self._run(request["partial"], seq=request.get("seq", 0))
        except TrajvizError as exc:
            field = "surface" if "surface" in request["partial"] else None
            self.result = {"seq": request.get("seq", 0), "error": str(exc), "field": field}

    def _run(self, partial: dict, seq: int = 0) -> None:
        out = kernel_result(merge(self.state, partial))
        self.result = {"seq": seq, **out}
        self.state = out["state"]

    def setState(self, partial: dict) -> dict:  # noqa: N802 - the page's name, on purpose
        """Change part of the state (``{"start": [[0, 1]]}``); bad values raise TrajvizError. Returns the state."""
        if not isinstance(partial, dict):
            raise TrajvizError("setState takes a dict such as {'start': [[0.0, 1.0]]}")
        if self.kernel:
            self._run(partial)
        else:
            state = merge(self.state, partial)
            settings = {k: v for k, v in state.items() if k not in ("surface", "opt")}
            build_config(state["surface"], state["opt"], **settings)  # checks it as the CLI would
            self.state = state
        return dict(self.state)

    def paths(self) -> dict:
        """``{label: [[[x, y], ...] per start]}``: the paths as drawn (each up to its divergence)."""
        if self.kernel:
            out = {}
            for trace in self.result.get("traces", []):
                per_start = []
                for i in range(len(trace["diverged_at"])):
                    stop = trace["diverged_at"][i] if trace["diverged_at"][i] >= 0 else len(trace["path"])
                    per_start.append([trace["path"][t][i] for t in range(stop)])
                out[trace["label"]] = per_start
            return out
        return dict(self.result.get("paths", {}))


__all__ = ["Explorer", "esm_source", "kernel_result", "kernel_config", "merge", "PAGE_CLASSES"]
