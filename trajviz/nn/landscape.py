"""The loss on a plane through a network's parameter space, as a trajviz landscape.

:class:`PlaneLandscape` has what the renderer asks of any landscape (a Surface
is another): ``name``, ``spec``, ``formula``, ``domain``, ``minima``,
``optimum``, ``log_levels``, ``grid(x, y)`` and ``values(points)``. Its grid is
the batched evaluator's (:mod:`trajviz.nn.grid`), so a contour map of a network
costs one vmapped pass per chunk of grid points.
"""

from __future__ import annotations

import numpy as np

# Margin around the paths, as a fraction of their extent on each side.
MARGIN = 0.15
# Neither axis of the window is narrower than this fraction of the other.
MIN_ASPECT = 0.25
# Grid used to find the lowest point when the renderer has not asked for a grid yet.
MINIMA_GRID = 101


def window(points: np.ndarray, margin: float = MARGIN) -> tuple[tuple[float, float], tuple[float, float]]:
    """A box around the finite points (M, 2) with a margin, neither side degenerate."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(1)]
    if len(pts) == 0:
        return (-1.0, 1.0), (-1.0, 1.0)
    lo, hi = pts.min(0), pts.max(0)
    span = hi - lo
    big = float(span.max()) or 1.0
    span = np.maximum(span, MIN_ASPECT * big)
    mid = (lo + hi) / 2
    half = span * (0.5 + margin)
    return ((float(mid[0] - half[0]), float(mid[0] + half[0])),
            (float(mid[1] - half[1]), float(mid[1] + half[1])))


class PlaneLandscape:
    """The full-data loss on a plane, for the renderer.

    Attributes:
        name: the scenario (``"mlp"``) or ``"model"``.
        spec: as the CLI spells it (``"mlp"``).
        formula: one line: the model, loss and data, and what the plane holds.
        domain: the plane window around every path (and the plane's center), with a margin.
        minima: the lowest point of the last grid evaluated (or of a 101 x 101 grid).
        optimum: None (the true minimum of a network's loss is not known).
        log_levels: True (losses are positive and span decades).
        axis_labels: (x label, y label), e.g. ``"PC1 (88.6% of the movement)"``.
        title, equation: the picture's title and subtitle.
        shift_loss: False: the loss panel shows the loss, not the loss minus the lowest seen.
    """

    optimum = None
    log_levels = True
    shift_loss = False  # the loss panel draws the loss itself (a network's loss has no known minimum)
    equation_is_formula = False  # the subtitle is a sentence, not "f(x, y) = ..."
    grid_points = 121  # the contour map's grid: each point is a pass over the whole data set
    value_label = "loss"  # what the heights are (3D view, colour bar)

    def __init__(self, plane, name: str, spec: str, formula: str, domain, title: str | None = None,
                 equation: str | None = None):
        self.plane = plane
        self.name = name
        self.spec = spec
        self.label = spec
        self.formula = formula
        self.domain = domain
        self.title = title or name       # the picture's title: the model, loss and data
        self.equation = equation or ""   # its subtitle: what the plane holds, how far the paths leave it
        self._last = None  # (x, y, z) of the last grid call
        self._minima = None
        names = ("PC1", "PC2") if plane.kind == "pca" else ("d1", "d2")
        # optional, beyond the protocol: what each axis is and how much of the movement it holds
        self.axis_labels = tuple(f"{n} ({100 * e:.1f}% of the movement)" for n, e in zip(names, plane.explained))

    def __repr__(self) -> str:
        return f"<PlaneLandscape {self.spec}: {self.plane.kind} plane, {self.plane.n_params} parameters>"

    def grid(self, x, y) -> np.ndarray:
        """Loss at every (x[j], y[i]): shape (len(y), len(x)), float64."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if self._last is not None and np.array_equal(self._last[0], x) and np.array_equal(self._last[1], y):
            return self._last[2].copy()
        z = self.plane.grid(x, y)
        self._last = (x, y, z)
        self._minima = None
        return z.copy()

    def values(self, points) -> np.ndarray:
        """Loss at plane points (..., 2) -> (...), float64."""
        pts = np.asarray(points, dtype=np.float64)
        return np.asarray(self.plane.loss_at(pts[..., 0], pts[..., 1]), dtype=np.float64)

    @property
    def minima(self) -> tuple:
        """``((a, b),)``: the lowest grid point (of the last grid drawn), or ``()`` if none is finite."""
        if self._minima is None:
            if self._last is None:
                (x0, x1), (y0, y1) = self.domain
                self.grid(np.linspace(x0, x1, MINIMA_GRID), np.linspace(y0, y1, MINIMA_GRID))
            x, y, z = self._last
            if not np.isfinite(z).any():
                self._minima = ()
            else:
                i, j = np.unravel_index(int(np.nanargmin(z)), z.shape)
                self._minima = ((float(x[j]), float(y[i])),)
        return self._minima


__all__ = ["PlaneLandscape", "window"]
