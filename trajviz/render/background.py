"""The contour background: the surface evaluated once on a grid, and its colour levels.

A :class:`Background` is computed once per picture (or per animation) and drawn
with :func:`draw_background`; an animator draws it once, caches the pixels and then
draws only what moves. The surface hands over its values as numpy arrays
(``surface.grid``, ``surface.values``): nothing in ``render/`` touches torch.

>>> import trajviz.surfaces as S
>>> bg = compute_background(S.get("rosenbrock"))
>>> bg.log, bg.z.shape
(True, (300, 300))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .style import Theme

GRID_POINTS = 300      # along the longer side of the view
LOG_LEVELS = 28
LINEAR_LEVELS = 24
LOG_SPAN = 1e8         # log levels cover at most this ratio below the highest value
HEIGHT_PERCENTILE = 8.0  # the 3D view's log heights stop at this percentile of the grid


@dataclass(frozen=True)
class Background:
    """The surface on a grid over the view, with the levels to colour it.

    Attributes:
        xlim, ylim: the view (axes limits), fixed for every frame.
        x, y: grid coordinates (nx,), (ny,); z: raw values (ny, nx), NaN where undefined.
        log: whether levels are log-spaced (the surface's ``log_levels``).
        shift: subtracted before the log (the optimum if known, else the grid minimum).
        floor, top: the range of shown values ``z - shift`` (log) or ``z`` (linear).
        levels: contour levels in shown units; label: the colour bar's label.
    """

    surface: Any
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    log: bool
    shift: float
    floor: float
    top: float
    levels: np.ndarray
    label: str

    def shown(self, values) -> np.ndarray:
        """Loss values in the colour scale's units (shifted, clipped to the level range)."""
        v = np.asarray(values, dtype=np.float64)
        if self.log:
            v = v - self.shift
        return np.clip(v, self.floor, self.top)

    @cached_property
    def height_floor(self) -> float:
        # a 3D mesh of log values grows spikes where a few grid points near the minimum dip
        # by orders of magnitude; flooring at a low percentile of the grid keeps valleys smooth
        if not self.log:
            return self.floor
        shown = self.shown(self.z)
        shown = shown[np.isfinite(shown)]
        low = float(np.percentile(shown, HEIGHT_PERCENTILE)) if shown.size else self.floor
        return min(max(self.floor, low), self.top / 10)

    def height(self, values) -> np.ndarray:
        """Loss values as heights for the 3D view (log10 of shown values on log surfaces)."""
        v = np.maximum(self.shown(values), self.height_floor)
        return np.log10(v) if self.log else v

    @property
    def height_label(self) -> str:
        return f"log10({self.label})" if self.log else self.label

    def norm(self):
        from matplotlib.colors import LogNorm, Normalize

        return LogNorm(self.floor, self.top) if self.log else Normalize(self.floor, self.top)

    def norm3d(self):
        """The colour scale of the 3D mesh: the span of its heights."""
        from matplotlib.colors import LogNorm

        return LogNorm(self.height_floor, self.top) if self.log else self.norm()


def _shift_label(shift: float, name: str = "f(x, y)") -> str:
    if shift == 0:
        return name
    sign = "−" if shift > 0 else "+"
    return f"{name} {sign} {abs(shift):.4g}"


def compute_background(surface, xlim=None, ylim=None, points: int = GRID_POINTS,
                       levels: int | None = None) -> Background:
    """Evaluate ``surface`` on a grid over the view (its domain unless xlim/ylim)."""
    (x0, x1), (y0, y1) = surface.domain
    if xlim is not None:
        x0, x1 = (float(v) for v in xlim)
    if ylim is not None:
        y0, y1 = (float(v) for v in ylim)
    wx, wy = x1 - x0, y1 - y0
    points = min(points, getattr(surface, "grid_points", points))  # a costly surface caps its grid
    value_name = getattr(surface, "value_label", "f(x, y)")       # a network's plane: "loss"
    nx = max(int(round(points * min(1.0, wx / wy))), 40)
    ny = max(int(round(points * min(1.0, wy / wx))), 40)
    x, y = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
    z = np.array(surface.grid(x, y), dtype=np.float64)
    z[~np.isfinite(z)] = np.nan
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        finite = np.zeros(1)
    log = bool(surface.log_levels)
    if log:
        shift = float(surface.optimum) if surface.optimum is not None else float(finite.min())
        shown = finite - shift
        top = float(shown.max())
        if not top > 0:
            top = 1.0
        positive = shown[shown > 0]
        floor = max(float(positive.min()) if positive.size else top / LOG_SPAN, top / LOG_SPAN)
        if floor >= top:
            floor = top / 10
        n = levels or LOG_LEVELS
        lv = np.geomspace(floor, top, n)
    else:
        shift = 0.0
        floor, top = float(finite.min()), float(finite.max())
        if not top > floor:
            top = floor + 1.0
        n = levels or LINEAR_LEVELS
        # quadratic spacing: levels dense near the minimum, where the paths end up
        lv = floor + (top - floor) * np.linspace(0.0, 1.0, n) ** 2
    return Background(surface=surface, xlim=(float(x0), float(x1)), ylim=(float(y0), float(y1)),
                      x=x, y=y, z=z, log=log, shift=shift, floor=floor, top=top, levels=lv,
                      label=_shift_label(shift, value_name) if log else value_name)


def draw_background(ax, bg: Background, theme: Theme, *, lines: bool = True, labels: bool = False,
                    fontsize: float = 10.0):
    """Filled contours (and thin contour lines, a few labelled with their value) on a 2D axes;
    returns the filled ContourSet."""
    shown = np.ma.masked_invalid(bg.shown(bg.z))
    filled = ax.contourf(bg.x, bg.y, shown, levels=bg.levels, cmap=theme.cmap(), norm=bg.norm(),
                         zorder=0, extend="neither")
    if lines:
        ax.contour(bg.x, bg.y, shown, levels=bg.levels[1::2], colors=theme.contour_line,
                        linewidths=0.6, alpha=theme.contour_alpha, zorder=0.5)
        if labels:
            _label_levels(ax, bg, shown, theme, fontsize)
    ax.set_xlim(bg.xlim)
    ax.set_ylim(bg.ylim)
    return filled


def _label_levels(ax, bg: Background, shown, theme: Theme, fontsize: float):
    """A few contour lines labelled with their value (powers of ten on log surfaces): the scale
    without a colour bar."""
    if bg.log:
        lo, hi = math.ceil(math.log10(bg.floor)), math.floor(math.log10(bg.top))
        values = [10.0 ** e for e in range(lo, hi + 1)]
        values = values[::max(1, len(values) // 4)]
    else:
        from matplotlib.ticker import MaxNLocator

        values = [v for v in MaxNLocator(4).tick_values(bg.floor, bg.top) if bg.floor < v < bg.top]
    if not values:
        return None
    cs = ax.contour(bg.x, bg.y, shown, levels=values, colors=theme.contour_line, linewidths=0.9,
                    alpha=min(1.0, theme.contour_alpha * 2.2), zorder=0.6)
    from .style import power_of_ten

    fmt = (lambda v: power_of_ten(v) or f"{v:g}") if bg.log else (lambda v: f"{v:g}")
    texts = ax.clabel(cs, fmt=fmt, fontsize=fontsize, inline=True, inline_spacing=3)
    for t in texts:
        t.set_color(theme.muted)
    return cs


def draw_background_3d(ax, bg: Background, theme: Theme, *, points: int = 120):
    """The surface as a shaded 3D mesh (subsampled to ``points`` per side); returns the mesh."""
    from matplotlib.colors import LightSource

    sx = max(1, math.ceil(len(bg.x) / points))
    sy = max(1, math.ceil(len(bg.y) / points))
    gx, gy = np.meshgrid(bg.x[::sx], bg.y[::sy])
    zz = bg.z[::sy, ::sx]
    h = bg.height(zz)
    rgba = theme.cmap()(bg.norm3d()(bg.shown(zz)))
    # relief shading: the mesh is otherwise one flat wash of colour
    hs = np.nan_to_num(h, nan=float(np.nanmin(h)) if np.isfinite(h).any() else 0.0)
    (x0, x1), (y0, y1) = bg.xlim, bg.ylim
    span = max(float(np.ptp(hs)), 1e-12)
    rgb = LightSource(azdeg=300, altdeg=40).shade_rgb(
        rgba[..., :3], hs, fraction=0.7, blend_mode="soft",
        vert_exag=0.5 * max(x1 - x0, y1 - y0) / span, dx=(x1 - x0) / max(hs.shape[1] - 1, 1),
        dy=(y1 - y0) / max(hs.shape[0] - 1, 1))
    colors = np.concatenate([rgb, np.full(rgb.shape[:-1] + (1,), 0.92)], axis=-1)
    mesh = ax.plot_surface(gx, gy, np.ma.masked_invalid(h), facecolors=colors, rstride=1, cstride=1,
                           linewidth=0, antialiased=False, shade=False, zorder=0)
    ax.set_xlim(bg.xlim)
    ax.set_ylim(bg.ylim)
    off = bg.shift if bg.log else 0.0
    lo, hi = bg.height(np.array([bg.floor + off, bg.top + off]))
    ax.set_zlim(lo, hi)
    return mesh


def gradient_field(surface, xlim, ylim, n: int = 21):
    """``(X, Y, U, V)``: -grad f on an n-point grid (along the longer side)."""
    (x0, x1), (y0, y1) = xlim, ylim
    wx, wy = x1 - x0, y1 - y0
    nx = max(int(round(n * min(1.0, wx / wy))), 5)
    ny = max(int(round(n * min(1.0, wy / wx))), 5)
    # cell centres, so no arrow sits on the frame
    x = x0 + (np.arange(nx) + 0.5) * wx / nx
    y = y0 + (np.arange(ny) + 0.5) * wy / ny
    gx, gy = np.meshgrid(x, y)
    g = -np.asarray(surface.gradients(np.stack([gx, gy], -1)), dtype=np.float64)
    return gx, gy, g[..., 0], g[..., 1]


def draw_grad_field(ax, surface, bg: Background, theme: Theme, n: int = 21):
    """Faint unit arrows along -grad f (their length would span many orders of magnitude)."""
    gx, gy, u, v = gradient_field(surface, bg.xlim, bg.ylim, n)
    norm = np.hypot(u, v)
    ok = np.isfinite(norm) & (norm > 0)
    cell = min((bg.xlim[1] - bg.xlim[0]) / gx.shape[1], (bg.ylim[1] - bg.ylim[0]) / gx.shape[0])
    scale = np.where(ok, 0.6 * cell / np.where(ok, norm, 1.0), 0.0)
    return ax.quiver(gx[ok], gy[ok], (u * scale)[ok], (v * scale)[ok], angles="xy", scale_units="xy",
                     scale=1, pivot="mid", color=theme.arrow, alpha=theme.arrow_alpha, width=0.0022,
                     headwidth=4, headlength=4.5, headaxislength=4, zorder=1)


def minima_in_view(surface, bg: Background) -> np.ndarray:
    """(M, 2) known global minimizers inside the view."""
    pts = np.asarray(surface.minima, dtype=np.float64).reshape(-1, 2)
    inside = ((pts[:, 0] >= bg.xlim[0]) & (pts[:, 0] <= bg.xlim[1])
              & (pts[:, 1] >= bg.ylim[0]) & (pts[:, 1] <= bg.ylim[1]))
    return pts[inside]


def draw_minima(ax, surface, bg: Background, theme: Theme, size: float = 15.0):
    """The global minimizers as stars (one Line2D, gid ``minima``), or None if there are none."""
    pts = minima_in_view(surface, bg)
    if len(pts) == 0:
        return None
    kw = dict(marker="*", linestyle="none", markersize=size, markerfacecolor=theme.star_face,
              markeredgecolor=theme.star_edge, markeredgewidth=1.0, zorder=6, label="global minimum")
    if hasattr(ax, "zaxis"):
        z = bg.height(surface.values(pts))
        (line,) = ax.plot(pts[:, 0], pts[:, 1], z, **kw)
    else:
        (line,) = ax.plot(pts[:, 0], pts[:, 1], **kw)
    line.set_gid("minima")
    return line


__all__ = ["Background", "compute_background", "draw_background", "draw_background_3d",
           "gradient_field", "draw_grad_field", "minima_in_view", "draw_minima"]
