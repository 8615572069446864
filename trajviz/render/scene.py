"""The static part of a picture, shared by still plots and animations.

:func:`build_scene` makes (or takes) the figure, lays out the panels (overlay or
grid, optional loss panel, 2D or 3D), and draws everything that does not move:
the contour background, minima, gradient field, start markers, titles, labels,
colour bar and legend. Axes limits are fixed here, so an animator can draw the
scene once, cache its pixels and then draw only the paths as they grow.

Nothing here uses pyplot or changes ``matplotlib.rcParams``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import TrajvizError, unknown
from . import style as S
from .background import (Background, compute_background, draw_background, draw_background_3d,
                         draw_grad_field, draw_minima)

LAYOUTS = ("auto", "overlay", "grid")
VIEWS = ("2d", "3d")
SWARM_AT = 20          # more starts than this per optimizer are drawn as a translucent swarm
NARROW_INCHES = 8.0


@dataclass
class Scene:
    """A laid-out figure with its static artists; the paths are drawn on top of it.

    Attributes:
        fig: the root Figure. theme, fonts: the look.
        background: the contour grid and levels (fixed view limits).
        traces: the traces to draw (empty for a bare surface); styles: colour per label.
        panel: the map axes per trace label (all the same axes in the overlay layout).
        map_axes: the distinct map axes; loss_ax: the loss panel or None.
        swarm: whether paths are drawn as one translucent collection per optimizer.
        loss_shift: subtracted from losses in the loss panel; loss_floor: clip for the log axis.
    """

    fig: Any
    theme: S.Theme
    fonts: S.Fonts
    background: Background
    surface: Any
    traces: list
    styles: dict[str, S.TraceStyle]
    view: str
    layout: str
    panel: dict[str, Any]
    map_axes: list
    loss_ax: Any = None
    colorbar: Any = None
    legend: Any = None
    swarm: bool = False
    loss_shift: float = 0.0
    loss_floor: float = 1e-16
    loss_label: str = "f(x, y)"
    artists: dict[str, Any] = field(default_factory=dict)

    @property
    def is3d(self) -> bool:
        return self.view == "3d"

    def settle(self) -> None:
        """Run the constrained layout once more before the first draw.

        Its first pass mis-measures the titled, aspect-locked map by a few pixels
        (the y label can end up cut off); a second pass converges. Call after
        everything that changes text sizes has been drawn.
        """
        engine = self.fig.get_layout_engine()
        from matplotlib.layout_engine import ConstrainedLayoutEngine

        if isinstance(engine, ConstrainedLayoutEngine):
            engine.execute(self.fig)


def check_choice(value: str, choices, kind: str) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise unknown(kind, str(value), choices)
    return value.lower()


_POWERS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(value: float, pos=None) -> str:
    """A tick label on a log axis: ``1000`` -> ``"10³"``, ``1e-4`` -> ``"10⁻⁴"``, others as ``%g``."""
    if not value > 0 or not math.isfinite(value):
        return ""
    exponent = math.log10(value)
    n = round(exponent)
    if abs(exponent - n) > 1e-9:
        return f"{value:g}"
    return "10" + str(n).replace("-", "⁻").translate(_POWERS)


def pretty_formula(text: str) -> str:
    """``(a - x)^2`` -> ``(a − x)²``: superscript small integer powers, true minus signs."""
    import re

    text = text.replace("**", "^")
    text = re.sub(r"\^(\d)(?!\d)", lambda m: m.group(1).translate(_POWERS), text)
    text = text.replace(" - ", " − ").replace("(-", "(−")
    return text


def default_title(surface) -> str:
    formula = pretty_formula(surface.formula)
    return formula if surface.formula == surface.name else f"{surface.label}:  f(x, y) = {formula}"


def fit_title(text: str, width_in: float, fonts: S.Fonts) -> tuple[str, float]:
    """The title and its font size for a width in inches: long titles get a smaller font,
    at most two lines, and an ellipsis."""
    import textwrap

    def chars(size):
        return max(int(width_in * 72 / (0.55 * size)), 20)

    if len(text) <= chars(fonts.title):
        return text, fonts.title
    lines = textwrap.wrap(text, chars(fonts.label))
    if len(lines) > 2:
        lines = lines[:2]
        lines[1] = lines[1][:chars(fonts.label) - 1].rstrip() + "…"
    return "\n".join(lines), fonts.label


def run_summary(result) -> str:
    """``"500 steps, 2,000 starts, noise 0.1"`` from a Result's settings."""
    s = result.settings
    steps = s.get("steps", int(next(iter(result)).steps[-1]))
    parts = [f"{steps:,} steps"]
    n = s.get("starts", len(result.starts))
    if n > 1:
        parts.append(f"{n:,} starts")
    if s.get("noise"):
        parts.append(f"noise {s['noise']:g}")
    if s.get("batch_size"):
        parts.append(f"batch {s['batch_size']}")
    if s.get("lr") is not None:
        parts.append(f"lr {s['lr']:g}")
    if s.get("schedule"):
        parts.append(f"{s['schedule']} schedule")
    if s.get("tuned"):
        parts.append("learning rates tuned")
    return ", ".join(parts)


def valid_path(trace, i: int) -> np.ndarray:
    """The (T', 2) finite prefix of path i (up to its divergence)."""
    p = trace.path[:, i]
    ok = trace.valid()[:, i] & np.isfinite(p).all(-1)
    return p[ok]


def exit_point(path: np.ndarray, xlim, ylim) -> np.ndarray | None:
    """Where ``path`` last leaves the view rectangle, on its border; None if it ends inside."""
    if len(path) == 0:
        return None
    inside = ((path[:, 0] >= xlim[0]) & (path[:, 0] <= xlim[1])
              & (path[:, 1] >= ylim[0]) & (path[:, 1] <= ylim[1]))
    if inside[-1]:
        return None
    idx = np.flatnonzero(inside)
    if len(idx) == 0:
        return None
    j = idx[-1]
    a, b = path[j], path[j + 1]
    d = b - a
    t = 1.0
    for k, (lo, hi) in enumerate((xlim, ylim)):
        if d[k] > 0:
            t = min(t, (hi - a[k]) / d[k])
        elif d[k] < 0:
            t = min(t, (lo - a[k]) / d[k])
    return a + max(t, 0.0) * d


def _end_marks(scene) -> set:
    """Which end marks the paths will need: ``exit`` (diverged), ``outside`` (ended off view)."""
    marks = set()
    if scene.swarm:
        return marks
    bg = scene.background
    for trace in scene.traces:
        for i in range(trace.n_starts):
            if trace.diverged_at[i] >= 0:
                marks.add("exit")
            elif not scene.is3d and exit_point(valid_path(trace, i), bg.xlim, bg.ylim) is not None:
                marks.add("outside")
    return marks


def _grid_shape(n: int, aspect: float, width: float, height: float, fonts: S.Fonts) -> tuple[int, int]:
    """Rows and columns for n panels of aspect (w/h) that make the panels largest.

    Sizes in inches; each panel loses room to its two-line title and tick labels,
    the figure to the colour bar and the title.
    """
    row_extra = (3.2 * fonts.legend + 1.6 * fonts.tick) / 72
    col_extra = 3.5 * fonts.tick / 72
    width, height = width - 1.1, height - 2.6 * fonts.title / 72
    best, best_key = (1, n), None
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        cell_w = min(width / cols - col_extra, (height / rows - row_extra) * aspect)
        key = (round(cell_w, 3), -(rows * cols - n))
        if best_key is None or key > best_key:
            best, best_key = (rows, cols), key
    return best


def _label_outer(axes: list, cols: int, extra: int = 0) -> None:
    """Tick labels only on the left column and on panels with no panel below them."""
    n = len(axes) + extra
    for i, a in enumerate(axes):
        if i % cols:
            a.tick_params(labelleft=False)
            a.set_ylabel("")
        if i + cols < n:
            a.tick_params(labelbottom=False)
            a.set_xlabel("")


def _is3d(ax) -> bool:
    return getattr(ax, "name", "") == "3d"


def _region(ax):
    spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
    if spec is None:
        raise TrajvizError("this layout needs an axes made with subplots (grid, loss panel or 3D view "
                           "replace it with several panels in the same place)")
    return spec


def build_scene(surface, result, ax, options, *, xlim=None, ylim=None, legend_extra=()) -> Scene:
    """Lay out the figure for a surface (and a Result's paths, if any) and draw its static parts.

    ``options`` is a :class:`~trajviz.options.PlotOptions` (see :func:`trajviz.render.plot.plot_result`).
    With ``ax`` given, the overlay is drawn on it; a grid, a loss panel or a 3D view on a 2D
    axes replace ``ax`` by panels that fill its place in the figure. ``legend_extra``: more
    legend entries (artists with labels), after the methods' (an animation's key to its
    arrows and boxes); in the grid layout they get a legend of their own below the panels.
    """
    o = options
    layout, theme, loss_panel, size, dpi, title = o.layout, o.theme, o.loss_panel, o.size, o.dpi, o.title
    grad_field, view, colorbar, legend, swarm = o.grad_field, o.view, o.colorbar, o.legend, o.swarm
    th = S.get_theme(theme)
    if size is not None or dpi is not None or ax is None:
        fig_size = S.figsize(size, dpi)
    traces = list(result) if result is not None else []
    if loss_panel and not traces:
        raise TrajvizError("a loss panel needs a run (a Result), not a bare surface")
    if ax is not None and _is3d(ax):
        view = "3d"
    is3d = view == "3d"
    bg = compute_background(surface, xlim, ylim)
    n_starts = len(result.starts) if result is not None else 0
    swarm = (n_starts > SWARM_AT) if swarm is None else bool(swarm)

    own = ax is None
    if own:
        fig = S.figure_class()(figsize=fig_size, dpi=S.DEFAULT_DPI if dpi is None else S.check_dpi(dpi),
                     layout="constrained")
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
        S.apply_figure(fig, th)
        fig.get_layout_engine().set(w_pad=0.08, h_pad=0.08, wspace=0.04, hspace=0.06)
        parent = fig
        region = fig.add_gridspec(1, 1)[0]
    else:
        parent = ax.figure
        fig = getattr(ax.figure, "figure", ax.figure)  # the root figure, also of a subfigure's axes
        region = None
        # the theme's text colours need its background: colour the figure too
        S.apply_figure(fig, th)
    fonts = S.Fonts.for_figure(*fig.get_size_inches())

    if layout == "auto":
        # thousands of paths of seven methods on one map are a blur: one panel each
        layout = "grid" if swarm and len(traces) > 1 and not is3d else "overlay"
    grid = layout == "grid" and len(traces) > 1
    proj = {"projection": "3d"} if is3d else {}
    # beside the map on wide pictures; on narrow ones (under ~8 inches, 800 px at dpi 100)
    # a legend on the right would squeeze the map to nothing, so it goes on the map
    legend_parent = fig if own and fig.get_size_inches()[0] >= NARROW_INCHES else None
    if not own and not grid and not loss_panel and is3d == _is3d(ax):
        map_axes = [ax]
        panel = {t.label: ax for t in traces}
        loss_ax = None
    else:
        if not own:
            region = _region(ax)
            ax.remove()
        loss_ax = None
        if not grid:
            if loss_panel and own:
                # map on the left; legend above the loss panel on the right
                w_in, h_in = fig.get_size_inches()
                ratio = 1.2 if is3d else (bg.xlim[1] - bg.xlim[0]) / (bg.ylim[1] - bg.ylim[0])
                map_w = (h_in - 1.0) * ratio + 2.4
                map_w = min(max(map_w, 0.45 * w_in), 0.66 * w_in)
                left, right = fig.subfigures(1, 2, width_ratios=(map_w, w_in - map_w), wspace=0.0)
                for sub in (left, right):
                    sub.set_facecolor("none")
                m = left.add_subplot(**proj)
                loss_ax = right.add_subplot()
                legend_parent = right
            elif loss_panel:
                # without a layout engine, leave room for the map's colour bar between the panels
                spaced = fig.get_layout_engine() is None
                gs = region.subgridspec(1, 2, wspace=0.6 if spaced else None)
                m = parent.add_subplot(gs[0], **proj)
                loss_ax = parent.add_subplot(gs[1])
            else:
                m = parent.add_subplot(region, **proj)
            map_axes = [m]
            panel = {t.label: m for t in traces}
        else:
            n = len(traces) + (1 if loss_panel else 0)
            (x0, x1), (y0, y1) = bg.xlim, bg.ylim
            w_in, h_in = fig.get_size_inches()
            rows, cols = _grid_shape(n, (x1 - x0) / (y1 - y0), w_in, h_in, fonts)
            gs = region.subgridspec(rows, cols)
            map_axes, panel = [], {}
            for i, trace in enumerate(traces):
                share = {} if is3d or not map_axes else {"sharex": map_axes[0], "sharey": map_axes[0]}
                a = parent.add_subplot(gs[i // cols, i % cols], **proj, **share)
                map_axes.append(a)
                panel[trace.label] = a
            if loss_panel:
                i = len(traces)
                loss_ax = parent.add_subplot(gs[i // cols, i % cols])

    scene = Scene(fig=fig, theme=th, fonts=fonts, background=bg, surface=surface, traces=traces,
                  styles=S.trace_styles(traces), view=view, layout="grid" if grid else "overlay",
                  panel=panel, map_axes=map_axes, loss_ax=loss_ax, swarm=swarm)
    scene.artists["legend_parent"] = legend_parent
    scene.artists["legend_extra"] = list(legend_extra)
    scene.artists["marks"] = _end_marks(scene)

    filled = None
    for a in map_axes:
        filled = _draw_map_static(scene, a, grad_field)
    if result is not None and not swarm:
        for a in map_axes:
            _draw_starts(scene, a, result.starts)
    if grid:
        for trace in traces:
            _panel_title(scene, panel[trace.label], trace)
        if not is3d:
            _label_outer(map_axes, cols, extra=1 if loss_ax is not None else 0)
        else:
            for a in map_axes:  # no room between small 3D panels; the colour bar names the height
                a.set_zlabel("")
    if loss_ax is not None:
        _setup_loss_axes(scene)

    if colorbar:
        scene.colorbar = _draw_colorbar(scene, filled)

    if title is None:
        title = default_title(surface)
    info = run_summary(result) if result is not None else ""
    w_in, h_in = fig.get_size_inches()
    if grid:
        text, size = fit_title(title, 0.9 * w_in, fonts)
        text = "\n".join(t for t in (text, info) if t)
        if text:
            fig.suptitle(text, color=th.text, fontsize=size)
    elif title:
        a = map_axes[0]
        if not own:
            width = a.get_position().width * w_in
        elif is3d:
            width = 0.55 * w_in
        else:
            ratio = (bg.xlim[1] - bg.xlim[0]) / (bg.ylim[1] - bg.ylim[0])
            room = (0.62 * w_in if loss_ax is not None else w_in - (5.6 if legend else 1.8))
            width = min((h_in - 1.1) * ratio, room)
        text, size = fit_title(title, width, fonts)
        a.set_title(text, loc="left", color=th.text, fontsize=size)

    if legend:
        scene.legend = _draw_legend(scene, own, info)
    return scene


def _draw_map_static(scene: Scene, ax, grad_field: bool):
    th, bg, fonts = scene.theme, scene.background, scene.fonts
    if scene.is3d:
        filled = draw_background_3d(ax, bg, th)
        ax.computed_zorder = False
        (x0, x1), (y0, y1) = bg.xlim, bg.ylim
        m = max(x1 - x0, y1 - y0)
        ax.set_box_aspect(((x1 - x0) / m, (y1 - y0) / m, 0.55), zoom=0.95)
        ax.view_init(elev=38, azim=-58)
        ax.set_zlabel(bg.height_label, labelpad=6)
        ax.set_xlabel("x", labelpad=4)
        ax.set_ylabel("y", labelpad=4)
        from matplotlib.cm import ScalarMappable

        filled = ScalarMappable(norm=bg.norm3d(), cmap=th.cmap())
    else:
        filled = draw_background(ax, bg, th)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        if grad_field:
            scene.artists.setdefault("grad_field", []).append(draw_grad_field(ax, scene.surface, bg, th))
    ax.set_autoscale_on(False)
    scene.artists.setdefault("minima", []).append(draw_minima(ax, scene.surface, bg, th,
                                                              size=14 * fonts.tick / 10))
    S.apply_axes(ax, th, fonts)
    return filled


def _draw_starts(scene: Scene, ax, starts: np.ndarray):
    th = scene.theme
    pts = np.unique(np.asarray(starts), axis=0)
    kw = dict(marker="o", linestyle="none", markersize=8 * scene.fonts.tick / 10,
              markerfacecolor=th.start_face, markeredgecolor=th.marker_edge, markeredgewidth=1.4,
              zorder=7, label="start")
    if scene.is3d:
        z = _start_heights(scene, pts)
        (line,) = ax.plot(pts[:, 0], pts[:, 1], z, **kw)
    else:
        (line,) = ax.plot(pts[:, 0], pts[:, 1], **kw)
    line.set_gid("starts")
    scene.artists.setdefault("starts", []).append(line)


def _start_heights(scene: Scene, pts: np.ndarray) -> np.ndarray:
    # the traces recorded the loss at the start (step 0); fall back to the grid
    for trace in scene.traces:
        p0, l0 = trace.path[0], trace.loss[0]
        out = np.empty(len(pts))
        for k, p in enumerate(pts):
            hit = np.flatnonzero((p0 == p).all(-1))
            out[k] = l0[hit[0]] if len(hit) else np.nan
        if np.isfinite(out).all():
            return scene.background.height(out)
    return np.full(len(pts), scene.background.height(np.array([scene.background.top]))[0])


def _panel_title(scene: Scene, ax, trace):
    import textwrap

    th, fonts = scene.theme, scene.fonts
    # wrap the analogy to the panel's width so neighbouring titles never collide
    width_pt = ax.get_position().width * scene.fig.get_size_inches()[0] * 72
    chars = max(int(width_pt / (0.52 * fonts.legend)), 12)
    lines = [S.method_name(trace)] + textwrap.wrap(trace.analogy, chars)
    ax.set_title("\n".join(lines), color=th.text, fontsize=fonts.legend, linespacing=1.15)
    if not scene.is3d:
        # the panel's top edge in the method's colour ties it to its loss curve
        top = ax.spines["top"]
        top.set_color(scene.styles[trace.label].color)
        top.set_linewidth(3.5)
    note = S.divergence_note(trace)
    if note and not scene.is3d:
        ax.text(0.02, 0.02, note, transform=ax.transAxes, ha="left", va="bottom",
                fontsize=fonts.small, color=th.text, zorder=12,
                bbox=dict(boxstyle="round,pad=0.25", facecolor=th.legend_face, edgecolor=th.legend_edge,
                          alpha=0.85))


def _finite_range(arrays) -> tuple[float | None, float | None]:
    """The smallest and largest finite value over arrays (NaN marks diverged steps)."""
    import warnings

    lo = hi = None
    for a in arrays:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN arrays
            a_lo, a_hi = np.nanmin(a), np.nanmax(a)
        if not (np.isfinite(a_lo) and np.isfinite(a_hi)):  # an inf slipped in: the slow way
            f = a[np.isfinite(a)]
            if f.size == 0:
                continue
            a_lo, a_hi = f.min(), f.max()
        lo = float(a_lo) if lo is None else min(lo, float(a_lo))
        hi = float(a_hi) if hi is None else max(hi, float(a_hi))
    return lo, hi


def _setup_loss_axes(scene: Scene):
    ax, th, fonts = scene.loss_ax, scene.theme, scene.fonts
    surface = scene.surface
    lo, hi = _finite_range(t.loss for t in scene.traces)
    if surface.optimum is not None:
        shift = float(surface.optimum)
    elif lo is not None:
        shift = lo
    else:
        shift = 0.0
    scale = max(abs(lo - shift), abs(hi - shift)) if lo is not None else 1.0
    scene.loss_shift = shift
    scene.loss_floor = max(scale, 1.0) * 1e-16
    label = "f(x, y)"
    if shift:
        what = "f*" if surface.optimum is not None else "min"
        label = f"f(x, y) {'−' if shift > 0 else '+'} {abs(shift):.4g}  ({what})"
    scene.loss_label = label
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(label)
    ax.set_title("loss", color=th.text, fontsize=fonts.label)
    steps = int(scene.traces[0].steps[-1]) if scene.traces else 1
    ax.set_xlim(0, max(steps, 1))
    ax.grid(True, which="major", color=th.grid, linewidth=0.6)
    ax.set_axisbelow(True)
    S.apply_axes(ax, th, fonts)


def _draw_colorbar(scene: Scene, mappable):
    th, fonts = scene.theme, scene.fonts
    bg = scene.background
    if len(scene.map_axes) > 1 or scene.is3d:
        kw = {"shrink": 0.7, "pad": 0.06} if scene.is3d else {"fraction": 0.03, "pad": 0.02}
        target = scene.map_axes if len(scene.map_axes) > 1 else scene.map_axes[0]
        cbar = scene.fig.colorbar(mappable, ax=target, **kw)
    else:
        # an inset follows the map's box (its equal aspect), so no gap opens between them
        cax = scene.map_axes[0].inset_axes([1.025, 0.0, 0.035, 1.0])
        cbar = scene.fig.colorbar(mappable, cax=cax)
    # contourf colour bars tick at level boundaries by default: odd numbers
    if bg.log:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

        cbar.set_ticks(LogLocator(numticks=12))
        # "10³" in plain text: the look of LogFormatterSciNotation without mathtext, whose
        # parser costs about half a second the first time a process draws a picture
        cbar.ax.yaxis.set_major_formatter(FuncFormatter(power_of_ten))
        # minor ticks as one marker line: the same marks as matplotlib's own minor ticks, without
        # one Tick object (two lines, two texts) per mark, which cost ~0.4 s per picture
        cbar.ax.yaxis.set_minor_locator(NullLocator())
        _log_minor_ticks(cbar.ax, bg.floor, bg.top, th.spine)
    else:
        from matplotlib.ticker import MaxNLocator, ScalarFormatter

        cbar.set_ticks(MaxNLocator(8))
        cbar.ax.yaxis.set_major_formatter(ScalarFormatter())
    cbar.set_label(bg.label, color=th.text, fontsize=fonts.label)
    cbar.ax.tick_params(colors=th.spine, labelcolor=th.text, labelsize=fonts.tick, which="both")
    cbar.outline.set_edgecolor(th.spine)
    cbar.ax.set_facecolor(th.axes)
    return cbar


def _log_minor_ticks(ax, lo: float, hi: float, color: str):
    """Minor ticks at 2..9 x 10^k on a vertical colour bar's log axis (outward, on the right)."""
    import matplotlib as mpl
    from matplotlib.lines import Line2D
    from matplotlib.markers import TICKRIGHT

    if not (0 < lo < hi):
        return None
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    values = [m * 10.0**e for e in decades for m in range(2, 10) if lo <= m * 10.0**e <= hi]
    line = Line2D(np.ones(len(values)), values, transform=ax.get_yaxis_transform(), linestyle="none",
                  marker=TICKRIGHT, markersize=mpl.rcParams["ytick.minor.size"],
                  markeredgewidth=mpl.rcParams["ytick.minor.width"], color=color, clip_on=False)
    line.set_in_layout(False)
    line.set_gid("minor-ticks")
    ax.add_artist(line)
    return line


def legend_handles(scene: Scene, with_markers: bool = True):
    """Proxy artists for the legend: one per trace, then start and minimum markers."""
    from matplotlib.lines import Line2D

    th = scene.theme
    handles = []
    for trace in scene.traces:
        st = scene.styles[trace.label]
        handles.append(Line2D([], [], color=st.color, linestyle=st.linestyle, linewidth=2.4,
                              marker="o", markersize=6, markeredgecolor=th.marker_edge,
                              markeredgewidth=0.8, label=_wrapped_label(trace)))
    handles += scene.artists.get("legend_extra", [])
    if with_markers:
        if scene.traces and not scene.swarm:
            handles.append(Line2D([], [], marker="o", linestyle="none", markersize=7,
                                  markerfacecolor=th.start_face, markeredgecolor=th.marker_edge,
                                  markeredgewidth=1.4, label="start"))
        if not scene.swarm:
            marks = scene.artists.get("marks", set())
            if "exit" in marks:
                handles.append(Line2D([], [], marker="X", linestyle="none", markersize=8,
                                      markerfacecolor=th.muted, markeredgecolor=th.marker_edge,
                                      label="diverged: left the view here"))
            if "outside" in marks:
                handles.append(Line2D([], [], marker=">", linestyle="none", markersize=7,
                                      markerfacecolor=th.muted, markeredgecolor=th.marker_edge,
                                      label="ended outside the view"))
        if scene.artists.get("minima") and scene.artists["minima"][0] is not None:
            handles.append(Line2D([], [], marker="*", linestyle="none", markersize=12,
                                  markerfacecolor=th.star_face, markeredgecolor=th.star_edge,
                                  label="global minimum"))
    return handles


LEGEND_CHARS = 46


def _wrapped_label(trace) -> str:
    """The legend label, with a long note (divergence, tuned rate) on its own line."""
    text = S.legend_label(trace)
    if len(text) <= LEGEND_CHARS:
        return text
    plain = S.method_name(trace) + (f" - {trace.analogy}" if trace.analogy else "")
    notes = [n for n in (S.run_note(trace), S.divergence_note(trace)) if n]
    return plain + (f"\n({'; '.join(notes)})" if notes else "")


def _draw_legend(scene: Scene, own: bool, info: str = ""):
    th, fonts = scene.theme, scene.fonts
    if scene.layout == "grid":
        extra = scene.artists.get("legend_extra")
        if extra:
            key = scene.fig.legend(handles=extra, loc="outside lower center", ncols=len(extra),
                                   fontsize=fonts.small, frameon=False, handlelength=1.6)
            S.style_legend(key, th)
            scene.artists["legend_key"] = key
        if scene.loss_ax is None:
            return None
        from matplotlib.lines import Line2D

        styles = scene.styles
        handles = [Line2D([], [], color=styles[t.label].color, linestyle=styles[t.label].linestyle,
                          linewidth=2.2, label=S.method_name(t)) for t in scene.traces]
        leg = scene.loss_ax.legend(handles=handles, loc="best", fontsize=0.9 * fonts.small,
                                   ncols=2 if len(handles) > 4 else 1, handlelength=1.5, columnspacing=0.8,
                                   labelspacing=0.3, borderpad=0.3)
        S.style_legend(leg, th)
        return leg
    handles = legend_handles(scene)
    if not handles:
        return None
    parent = scene.artists.get("legend_parent")
    if parent is not None:
        where = "outside right upper" if parent is scene.fig else "outside upper left"
        leg = parent.legend(handles=handles, loc=where, fontsize=fonts.legend, frameon=False,
                            handlelength=2.4, title=info or None, title_fontsize=fonts.small,
                            alignment="left")
    else:
        leg = scene.map_axes[0].legend(handles=handles, loc="best", fontsize=fonts.small, framealpha=0.85,
                                       title=info or None, title_fontsize=fonts.small, alignment="left",
                                       borderpad=0.3, labelspacing=0.25, handlelength=1.8)
    S.style_legend(leg, th)
    if leg.get_title() is not None:
        leg.get_title().set_color(th.muted)
    return leg


__all__ = ["Scene", "build_scene", "valid_path", "exit_point", "legend_handles", "default_title",
           "fit_title", "run_summary", "LAYOUTS", "VIEWS", "SWARM_AT", "check_choice"]
