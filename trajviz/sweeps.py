"""Hyperparameter maps: the grid axes, and the metric over the grid as data.

:func:`trajviz.api.sweep` runs every cell in one batched job on the device (rows =
cells x starts), so a 64 x 64 map of a momentum method costs about what 64
ordinary runs do. This is the convergence-rate map of the well-known interactive
article on momentum, for any method and any surface.

>>> import trajviz
>>> m = trajviz.sweep("quadratic", "momentum", ["lr=1e-3:1:log:16", "momentum=0:0.99:8"], steps=50)  # doctest: +SKIP
>>> m.values.shape                                                                                  # doctest: +SKIP
(16, 8)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .errors import TrajvizError

MAX_POINTS = 512
METRICS = ("loss", "steps")


@dataclass(frozen=True)
class Axis:
    key: str
    values: np.ndarray
    log: bool


def parse_param(text: str) -> Axis:
    """``lr=1e-4:1e-1:log:64`` or ``momentum=0:0.99:64`` or ``eps=1e-8,1e-6,1e-4``."""
    key, eq, rest = str(text).partition("=")
    key = key.strip()
    if not eq or not key or not rest.strip():
        raise TrajvizError(f"malformed --param '{text}': expected KEY=MIN:MAX[:log]:COUNT")
    if ":" not in rest:
        try:
            vals = [float(v) for v in rest.split(",")]
        except ValueError:
            raise TrajvizError(f"malformed --param '{text}': values must be numbers") from None
        if not vals or not all(math.isfinite(v) for v in vals):
            raise TrajvizError(f"malformed --param '{text}': values must be finite numbers")
        return Axis(key, np.array(vals), False)
    parts = rest.split(":")
    log = len(parts) == 4 and parts[2].strip().lower() == "log"
    if len(parts) not in (3, 4) or (len(parts) == 4 and not log):
        raise TrajvizError(f"malformed --param '{text}': expected KEY=MIN:MAX[:log]:COUNT")
    try:
        lo, hi = float(parts[0]), float(parts[1])
        count = int(parts[-1])
    except ValueError:
        raise TrajvizError(f"malformed --param '{text}': MIN and MAX are numbers, COUNT a whole number") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise TrajvizError(f"bad grid for {key}: min {lo:g} must be less than max {hi:g}")
    if count < 1:
        raise TrajvizError(f"bad grid for {key}: {count} points (need at least 1)")
    if count > MAX_POINTS:
        raise TrajvizError(f"bad grid for {key}: {count} points (at most {MAX_POINTS})")
    if log and lo <= 0:
        raise TrajvizError(f"bad grid for {key}: a log grid needs min > 0")
    values = np.geomspace(lo, hi, count) if log else np.linspace(lo, hi, count)
    return Axis(key, values, log)


@dataclass
class SweepResult:
    """A metric over a 1D or 2D grid of hyperparameters."""

    surface: object
    optimizer: str               # the label, as the user wrote the spec
    spec: object                 # the optimizer entry (its colour, its title)
    axes: list[Axis]
    metric: str
    values: np.ndarray           # shape (len(axis0),) or (len(axis0), len(axis1)); NaN = diverged / not reached
    default: tuple               # grid index nearest the method's default hyperparameters
    best: tuple | None           # grid index of the best cell (None if every cell failed)
    tol: float | None = None
    settings: dict = field(default_factory=dict)

    def cells(self):
        for index in itertools.product(*(range(len(a.values)) for a in self.axes)):
            yield index, {a.key: float(a.values[i]) for a, i in zip(self.axes, index)}, float(self.values[index])

    def to_csv(self, file) -> None:
        file.write(",".join([a.key for a in self.axes] + [self.metric]) + "\n")
        for _, params, value in self.cells():
            file.write(",".join([repr(v) for v in params.values()] + [repr(value)]) + "\n")

    def save(self, path, **plot_options) -> Path:
        """Write ``.csv`` numbers, or a ``.png``/``.svg``/``.pdf`` heat-map, atomically."""
        path = Path(path)
        ext = path.suffix.lower()
        if ext == ".csv":
            with atomic_path(path) as tmp:
                with open(tmp, "w") as f:
                    self.to_csv(f)
            return path
        if ext in (".png", ".svg", ".pdf"):
            from .render.plot import save_figure
            from .render.sweep import plot_sweep

            fig = plot_sweep(self, **plot_options)
            return save_figure(fig, path)
        raise TrajvizError(f"cannot write a sweep to '{path.name}': use .png, .svg, .pdf or .csv")

    def plot(self, ax=None, **options):
        from .render.sweep import plot_sweep

        return plot_sweep(self, ax=ax, **options)


def steps_to_tol(loss: np.ndarray, steps: np.ndarray, target: float) -> np.ndarray:
    """(rows,) first recorded step with loss <= target; NaN if never."""
    reached = loss <= target
    first = np.argmax(reached, axis=0)
    return np.where(reached.any(axis=0), steps[first].astype(float), np.nan)


def _torch_default(spec, key):
    import inspect

    p = inspect.signature(spec.torch_class.__init__).parameters.get(key)
    return None if p is None or p.default is inspect.Parameter.empty else p.default
