"""Still pictures of optimizer paths on a surface's contour map.

>>> import trajviz
>>> r = trajviz.run("rosenbrock", "all", steps=100)     # doctest: +SKIP
>>> fig = r.plot(theme="dark", loss_panel=True)          # doctest: +SKIP
>>> save_figure(fig, "rosenbrock.png")                   # doctest: +SKIP

Figures are made with ``matplotlib.figure.Figure`` and the Agg canvas: nothing
here imports pyplot, shows a window, or changes ``matplotlib.rcParams``.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..atomic import atomic_path
from ..errors import TrajvizError
from . import style as S
from .scene import SWARM_AT, Scene, build_scene, exit_point, valid_path

SAVE_FORMATS = (".png", ".svg", ".pdf")
SWARM_POINTS = 150      # a swarm path is thinned to at most this many vertices
SWARM_VERTICES = 1_200_000  # and all swarms of a picture to about this many (memory, build time)
PATH_WIDTH = 2.2


def plot_surface(surface, options=None, ax=None, *, xlim=None, ylim=None) -> Figure:
    """Draw a surface alone: contours (or a 3D mesh), its minimizers, optionally -grad f arrows.

    ``options`` is a :class:`~trajviz.options.PlotOptions` (default: the defaults). Returns the figure.

    >>> import trajviz.surfaces as S
    >>> fig = S.get("beale").plot(theme="dark")            # doctest: +SKIP
    """
    from ..options import PlotOptions

    options = options or PlotOptions()
    scene = build_scene(surface, None, ax, options, xlim=xlim, ylim=ylim)
    if ax is None:
        scene.settle()
    return scene.fig


def plot_result(result, options=None, ax=None, *, xlim=None, ylim=None) -> Figure:
    """Draw a Result's paths on the surface's contour map; returns the figure.

    ``options`` is a :class:`~trajviz.options.PlotOptions`: layout (overlay, grid or auto:
    grid for a swarm of several methods), theme, loss_panel, size (exact pixels), dpi, title,
    grad_field, view (2d or 3d), colorbar, legend, swarm. With ``ax`` the overlay is drawn on
    it; a grid, a loss panel or a 3D view on a 2D axes replace ``ax`` by panels that fill its
    place. ``xlim``/``ylim`` set the view (default: the surface's domain).

    Each path is drawn up to its last finite point; a path that diverged ends in an X
    where it left the view and its legend entry says at which step.
    """
    from ..checks import pair
    from ..options import PlotOptions

    options = options or PlotOptions()
    xlim = None if xlim is None else pair(xlim, "xlim", increasing=True)
    ylim = None if ylim is None else pair(ylim, "ylim", increasing=True)
    scene = build_scene(result.surface, result, ax, options, xlim=xlim, ylim=ylim)
    draw_paths(scene)
    if scene.loss_ax is not None:
        draw_losses(scene)
    if ax is None and scene.layout == "overlay":
        scene.settle()  # cheap for one map; a grid of panels is laid out well in one pass
    return scene.fig


def check_picture_path(path) -> Path:
    """The extension is a picture format and the file can be written: checked before any work."""
    from ..atomic import check_writable

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SAVE_FORMATS:
        shown = f"'{ext}'" if ext else "no extension"
        raise TrajvizError(f"cannot save a picture as '{path.name}' ({shown}): use one of "
                           f"{', '.join(SAVE_FORMATS)}")
    return check_writable(path)


def save_figure(fig: Figure, path, dpi: float | None = None) -> Path:
    """Write ``fig`` to ``path`` as .png, .svg or .pdf (by extension), atomically.

    ``dpi`` defaults to the figure's own, so a figure made with ``size="1280x720"``
    gives exactly a 1280x720 PNG. Errors (unknown extension, missing folder,
    unwritable file) raise :class:`~trajviz.errors.TrajvizError` before anything is written.
    """
    path = check_picture_path(path)
    ext = path.suffix.lower()
    dpi = fig.dpi if dpi is None else S.check_dpi(dpi)
    with atomic_path(path) as tmp:
        _savefig(fig, tmp, ext[1:], dpi)
    return path


def _savefig(fig: Figure, target, fmt: str, dpi: float) -> None:
    if fig.canvas is None or type(fig.canvas).__name__ == "FigureCanvasBase":
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    # explicit bbox and facecolor: a user's matplotlibrc (savefig.bbox: tight) must not change the size
    fig.savefig(target, format=fmt, dpi=dpi, facecolor=fig.get_facecolor(), bbox_inches=None,
                metadata=_metadata(fmt))


def _metadata(fmt: str) -> dict:
    from .._version import __version__

    software = f"trajviz {__version__}"
    if fmt == "png":
        return {"Software": software}
    if fmt == "pdf":
        return {"Creator": software}
    if fmt == "svg":
        return {"Creator": software, "Date": None}
    return {}


def result_png(result, dpi: float = 80) -> bytes:
    """The Result's default picture as PNG bytes (for Jupyter's ``_repr_png_``), 1024x576."""
    from ..options import PlotOptions

    fig = plot_result(result, PlotOptions(dpi=dpi))
    buf = io.BytesIO()
    _savefig(fig, buf, "png", fig.dpi)
    return buf.getvalue()


# ---- the moving parts: paths and losses ------------------------------------------------------------
def _halo(scene: Scene, width: float):
    if scene.theme.path_halo is None:
        return None
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=width + 1.6, foreground=scene.theme.path_halo, alpha=0.55)]


def draw_paths(scene: Scene) -> dict:
    """Draw every trace's paths on its panel; returns ``{label: [artists]}``."""
    out = {}
    for z, trace in enumerate(scene.traces):
        ax = scene.panel[trace.label]
        zorder = 3 + 0.01 * z
        if scene.swarm:
            out[trace.label] = _draw_swarm(scene, ax, trace, zorder)
        else:
            out[trace.label] = _draw_lines(scene, ax, trace, zorder)
    scene.artists["paths"] = out
    return out


def _heights(scene: Scene, trace, i: int, n: int) -> np.ndarray:
    loss = trace.loss[:, i]
    loss = loss[trace.valid()[:, i] & np.isfinite(trace.path[:, i]).all(-1)][:n]
    return scene.background.height(loss) + _lift(scene)


def _lift(scene: Scene) -> float:
    # a hair above the mesh, so the path is not buried in it
    if not scene.is3d:
        return 0.0
    lo, hi = scene.map_axes[0].get_zlim()
    return 0.01 * (hi - lo)


def _draw_lines(scene: Scene, ax, trace, zorder: float) -> list:
    th, st, bg = scene.theme, scene.styles[trace.label], scene.background
    width = PATH_WIDTH * scene.fonts.tick / 10
    halo = _halo(scene, width)
    artists = []
    for i in range(trace.n_starts):
        p = valid_path(trace, i)
        if len(p) == 0:
            continue
        kw = dict(color=st.color, linestyle=st.linestyle, linewidth=width, zorder=zorder,
                  solid_capstyle="round", solid_joinstyle="round")
        if scene.is3d:
            (line,) = ax.plot(p[:, 0], p[:, 1], _heights(scene, trace, i, len(p)), **kw)
        else:
            (line,) = ax.plot(p[:, 0], p[:, 1], **kw)
            if halo:
                line.set_path_effects(halo)
        line.set_gid(f"path:{trace.label}:{i}")
        artists.append(line)
        diverged = trace.diverged_at[i] >= 0
        end, kind = p[-1], "end"
        marker = dict(marker="o", markersize=7 * scene.fonts.tick / 10, markerfacecolor=st.color,
                      markeredgecolor=th.marker_edge, markeredgewidth=1.0, linestyle="none",
                      zorder=zorder + 2)
        hit = None if scene.is3d else exit_point(p, bg.xlim, bg.ylim)
        if diverged:
            kind = "exit"
            end = hit if hit is not None else p[-1]
            marker.update(marker="X", markersize=10 * scene.fonts.tick / 10)
        elif hit is not None:
            # ended outside the view: an arrowhead where it left, pointing the way it went
            from matplotlib.markers import MarkerStyle
            from matplotlib.transforms import Affine2D

            kind, end = "outside", hit
            j = _last_inside(p, bg.xlim, bg.ylim)
            d = p[j + 1] - p[j]
            angle = math.degrees(math.atan2(d[1], d[0]))
            marker.update(marker=MarkerStyle(">", transform=Affine2D().rotate_deg(angle)),
                          markersize=9 * scene.fonts.tick / 10)
        if scene.is3d:
            h = _heights(scene, trace, i, len(p))[-1]
            (m,) = ax.plot([end[0]], [end[1]], [h], **marker)
        else:
            (m,) = ax.plot([end[0]], [end[1]], **marker)
        m.set_gid(f"{kind}:{trace.label}:{i}")
        artists.append(m)
    return artists


def _last_inside(p, xlim, ylim) -> int:
    inside = (p[:, 0] >= xlim[0]) & (p[:, 0] <= xlim[1]) & (p[:, 1] >= ylim[0]) & (p[:, 1] <= ylim[1])
    return int(np.flatnonzero(inside)[-1])


def swarm_alpha(n: int) -> float:
    return float(min(0.6, max(0.03, 5.0 / math.sqrt(max(n, 1)))))


def swarm_rows(t: int, max_points: int) -> np.ndarray:
    """Which of t recorded steps a swarm path keeps: all, or about ``max_points`` of them,
    half evenly spaced and half log-spaced (paths move most in their first steps), plus the last."""
    if t <= max_points:
        return np.arange(t)
    half = max(max_points // 2, 2)
    even = np.linspace(0, t - 1, half).round()
    early = np.geomspace(1, t - 1, half).round()
    return np.unique(np.concatenate([[0, t - 1], even, early])).astype(np.int64)


def swarm_segments(trace, max_points: int = SWARM_POINTS) -> list | np.ndarray:
    """Each path's finite prefix at the rows of :func:`swarm_rows`, ending at its last finite point."""
    t = len(trace.steps)
    rows = swarm_rows(t, max_points)
    sub = trace.path[rows].transpose(1, 0, 2)                    # (N, R, 2)
    if trace.diverged_at.max() < 0 and np.isfinite(sub).all():
        return np.ascontiguousarray(sub)
    valid = trace.valid() & np.isfinite(trace.path).all(-1)      # (T, N)
    last = valid.sum(0) - 1
    full = last == t - 1
    segs = list(sub[full]) if full.all() else [None] * trace.n_starts
    if not full.all():
        for i in np.flatnonzero(full):
            segs[i] = sub[i]
        sub_valid = valid[rows].T
        for i in np.flatnonzero(~full & (last >= 0)):
            seg = sub[i][sub_valid[i]]
            if not sub_valid[i].any() or rows[sub_valid[i]][-1] != last[i]:
                seg = np.concatenate([seg, trace.path[last[i], i][None]])
            segs[i] = seg
        segs = [seg for seg in segs if seg is not None]
    return segs


def _draw_swarm(scene: Scene, ax, trace, zorder: float) -> list:
    from matplotlib.collections import LineCollection

    st = scene.styles[trace.label]
    n = trace.n_starts
    alpha = swarm_alpha(n)
    width = 0.7 * scene.fonts.tick / 10
    if scene.is3d:
        from mpl_toolkits.mplot3d.art3d import Line3DCollection

        coll = Line3DCollection(_swarm_3d(scene, trace), colors=st.color, linewidths=width, alpha=alpha,
                                zorder=zorder)
        ax.add_collection3d(coll)  # autoscaling is off: the view stays fixed
    else:
        coll = LineCollection(swarm_segments(trace, _swarm_points(scene)), colors=st.color, linewidths=width,
                              alpha=alpha, zorder=zorder, capstyle="round", joinstyle="round")
        ax.add_collection(coll, autolim=False)
    if not scene.is3d:  # mplot3d ignores rasterization (with a warning)
        coll.set_rasterized(True)  # vector files stay small; the swarm is a texture anyway
    coll.set_gid(f"swarm:{trace.label}")
    valid = trace.valid() & np.isfinite(trace.path).all(-1)
    last = valid.sum(0) - 1
    ok = (last >= 0) & (trace.diverged_at < 0)
    ends = trace.path[last[ok], np.flatnonzero(ok)]
    if scene.is3d:
        h = scene.background.height(trace.loss[last[ok], np.flatnonzero(ok)])
        dots = ax.scatter(ends[:, 0], ends[:, 1], h, s=5, color=st.color, alpha=min(1.0, 3 * alpha),
                          linewidths=0, zorder=zorder + 1)
    else:
        dots = ax.scatter(ends[:, 0], ends[:, 1], s=6 * scene.fonts.tick / 10, color=st.color,
                          alpha=min(1.0, 3 * alpha), linewidths=0, zorder=zorder + 1)
    if not scene.is3d:
        dots.set_rasterized(True)
    dots.set_gid(f"ends:{trace.label}")
    return [coll, dots]


def _swarm_points(scene: Scene) -> int:
    total = sum(t.n_starts for t in scene.traces)
    return int(min(SWARM_POINTS, max(12, SWARM_VERTICES // max(total, 1))))


def _swarm_3d(scene: Scene, trace) -> list:
    rows = swarm_rows(len(trace.steps), _swarm_points(scene))
    valid = (trace.valid() & np.isfinite(trace.path).all(-1))[rows]
    h = scene.background.height(trace.loss[rows])
    out = []
    for i in range(trace.n_starts):
        v = valid[:, i]
        if v.any():
            out.append(np.column_stack([trace.path[rows, i][v], h[v, i]]))
    return out


QUANTILE_STARTS = 2000  # quartiles of a swarm's loss from at most this many (evenly strided) starts


def quartiles(y: np.ndarray) -> np.ndarray:
    """(3, T) quartiles over the starts of y (T, N), ignoring NaN; NaN where no start is left."""
    y = y[:, ::max(1, math.ceil(y.shape[1] / QUANTILE_STARTS))]
    s = np.sort(y, axis=1)  # NaN sorts last
    n = np.isfinite(s).sum(1)
    out = np.full((3, len(y)), np.nan)
    rows = np.flatnonzero(n)
    for k, p in enumerate((0.25, 0.5, 0.75)):
        pos = (n[rows] - 1) * p
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n[rows] - 1)
        w = pos - lo
        out[k, rows] = s[rows, lo] * (1 - w) + s[rows, hi] * w
    return out


def draw_losses(scene: Scene) -> dict:
    """Loss against step in the loss panel: one line per start, or median and quartiles of a swarm."""
    ax, th = scene.loss_ax, scene.theme
    out = {}
    width = 1.8 * scene.fonts.tick / 10
    for z, trace in enumerate(scene.traces):
        st = scene.styles[trace.label]
        valid = trace.valid() & np.isfinite(trace.loss)
        y = np.maximum(trace.loss - scene.loss_shift, scene.loss_floor)
        y = np.where(valid, y, np.nan)
        artists = []
        if scene.swarm or trace.n_starts > SWARM_AT:
            q = quartiles(y)
            band = ax.fill_between(trace.steps, q[0], q[2], color=st.color, alpha=0.18, linewidth=0,
                                   zorder=2)
            (line,) = ax.plot(trace.steps, q[1], color=st.color, linestyle=st.linestyle, linewidth=width,
                              zorder=3 + 0.01 * z)
            line.set_gid(f"loss-median:{trace.label}")
            artists += [band, line]
        else:
            for i in range(trace.n_starts):
                v = valid[:, i]
                if not v.any():
                    continue
                (line,) = ax.plot(trace.steps[v], y[v, i], color=st.color, linestyle=st.linestyle,
                                  linewidth=width, zorder=3 + 0.01 * z)
                line.set_gid(f"loss:{trace.label}:{i}")
                artists.append(line)
                if trace.diverged_at[i] >= 0:
                    (m,) = ax.plot(trace.steps[v][-1:], y[v, i][-1:], marker="X", linestyle="none",
                                   markersize=8, markerfacecolor=st.color, markeredgecolor=th.marker_edge,
                                   zorder=5)
                    artists.append(m)
        out[trace.label] = artists
    scene.artists["losses"] = out
    return out


__all__ = ["plot_surface", "plot_result", "save_figure", "check_picture_path", "result_png", "draw_paths",
           "draw_losses", "exit_point", "swarm_segments", "SAVE_FORMATS"]
