"""The Surface type: a 2D function with its facts (see :mod:`trajviz.surfaces` for the registry)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import TrajvizError

Domain = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class Surface:
    """A 2D function with its facts. Call it on a tensor of shape (..., 2).

    Attributes:
        name: registry name (or the formula text).
        formula: the function in one line.
        fn: ``fn(x, y, **params) -> tensor``, elementwise, tensor methods only.
        domain: ``((xmin, xmax), (ymin, ymax))`` for plotting.
        minima: known global minimizers ``[(x, y), ...]`` (empty if none).
        optimum: the global minimum value, or ``None`` (no minimum / unknown).
        start: a default start point that makes a good picture.
        log_levels: whether contours want log-spaced levels.
        params: the parameters bound by ``name:k=v``.
        lrs: curated learning rates per optimizer name.
        steps: default number of steps for this surface.
        note: one remark shown by ``trajviz list`` (e.g. "no minimum").
        data: the data set of a surface with minibatches (regression), else None.
        defaults: the family's default parameters (to name only those that differ).
        display: a short human title ("Rosenbrock valley"); the name if empty.
    """

    name: str
    formula: str
    fn: Callable[..., Any]
    domain: Domain
    minima: tuple[tuple[float, float], ...] = ()
    optimum: float | None = None
    start: tuple[float, float] = (0.0, 0.0)
    log_levels: bool = False
    params: Mapping[str, float] = field(default_factory=dict)
    lrs: Mapping[str, float] = field(default_factory=dict)
    steps: int = 300
    note: str = ""
    data: Any = None  # for surfaces with a data set (regression): see minibatch()
    defaults: Mapping[str, float] = field(default_factory=dict)
    display: str = ""

    def __call__(self, xy):
        return self.fn(xy[..., 0], xy[..., 1], **self.params)

    @property
    def title(self) -> str:
        return self.display or self.name

    @property
    def equation(self) -> str:
        """The formula with its parameters' values in place of their names (``b`` -> ``100``)."""
        import re

        text = self.formula
        for k, v in self.params.items():
            text = re.sub(rf"(?<![\w.]){re.escape(k)}(?![\w(])", f"{v:g}", text)
        return text

    @property
    def label(self) -> str:
        """``rosenbrock`` or ``rosenbrock:b=10``: the name with the parameters that differ from the defaults."""
        changed = {k: v for k, v in self.params.items() if self.defaults.get(k) != v}
        return self.name + (":" + ",".join(f"{k}={v:g}" for k, v in changed.items()) if changed else "")

    # ---- numpy views, for pictures (the renderer never touches torch) ----------------------
    def grid(self, x, y):
        """Values on the grid ``x`` (nx,) by ``y`` (ny,): an (ny, nx) float64 array, NaN where undefined."""
        import numpy as np
        import torch

        with torch.no_grad():
            gx, gy = torch.meshgrid(torch.as_tensor(np.asarray(x), dtype=torch.float64),
                                    torch.as_tensor(np.asarray(y), dtype=torch.float64), indexing="xy")
            z = torch.as_tensor(self(torch.stack([gx, gy], dim=-1)), dtype=torch.float64).expand(gx.shape)
            out = z.cpu().numpy().copy()
        out[~np.isfinite(out)] = np.nan
        return out

    def values(self, points):
        """Values at ``points`` (..., 2) as float64."""
        import numpy as np
        import torch

        with torch.no_grad():
            pts = torch.as_tensor(np.asarray(points, dtype=np.float64))
            return torch.as_tensor(self(pts), dtype=torch.float64).expand(pts.shape[:-1]).cpu().numpy().copy()

    def gradients(self, points):
        """The gradient at ``points`` (..., 2), by autograd, as float64 (..., 2)."""
        import numpy as np
        import torch

        pts = torch.tensor(np.asarray(points, dtype=np.float64), requires_grad=True)
        (grad,) = torch.autograd.grad(self(pts).sum(), pts)
        return grad.detach().cpu().numpy()

    @property
    def stochastic(self) -> bool:
        """True if the surface supports real minibatch gradients (``batch_size``)."""
        return self.data is not None

    def batch_rows(self, batch_size) -> int | None:
        """The minibatch size a run uses for ``batch_size`` (an int or ``"full"``): None for no
        minibatches or for every row (a batch of every row is the full objective, exact and the
        same in every epoch)."""
        if batch_size is None:
            return None
        if not self.stochastic:
            raise TrajvizError(f"batch size needs a surface with data (regression), not '{self.name}'")
        n = len(self.data)
        size = n if batch_size == "full" else batch_size
        if size > n:
            raise TrajvizError(f"bad batch size: {size} (must be at most {n}, the rows of the data set; or full)")
        return size if size < n else None

    def minibatch(self, xy, index):
        """The loss on the data rows ``index`` (only for stochastic surfaces)."""
        if self.data is None:
            raise TrajvizError(f"surface '{self.name}' has no data set: batch_size needs 'regression'")
        return self.data.loss(xy, index)

    @property
    def spec(self) -> str:
        if not self.params:
            return self.name
        return f"{self.name}:" + ",".join(f"{k}={v:g}" for k, v in self.params.items())

    def with_domain(self, xlim=None, ylim=None) -> Surface:
        (x0, x1), (y0, y1) = self.domain
        if xlim is not None:
            x0, x1 = _check_lim(xlim, "xlim")
        if ylim is not None:
            y0, y1 = _check_lim(ylim, "ylim")
        start = self.start
        if not (x0 <= start[0] <= x1 and y0 <= start[1] <= y1):
            # the default start must lie in the view: the usual corner of the new domain
            start = (x0 + 0.15 * (x1 - x0), y1 - 0.15 * (y1 - y0))
        return replace(self, domain=((x0, x1), (y0, y1)), start=start)

    def plot(self, ax=None, **options):
        """Draw the surface's contours (and minima) on ``ax``; returns the figure."""
        from ..render.plot import plot_surface

        return plot_surface(self, ax=ax, **options)


def _check_lim(lim, what: str) -> tuple[float, float]:
    from ..checks import pair

    return pair(lim, what, increasing=True)
