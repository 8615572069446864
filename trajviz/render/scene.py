"""The static part of a picture, shared by still plots and animations: layout, view, what never moves.

:func:`build_scene` lays out the figure by hand (fast, and the same in every frame):
a title band (a short title and the formula as a subtitle), the map on the left
and the loss panel on the right (16:9 filled), or one small map per method in the
grid layout with the loss panel in the spare cell. The view frames the action
(:mod:`.view`); the contours are computed for it. Then it draws what does not
move: the contours (a few labelled, no colour bar by default), the minima, the
starts, the titles, the loss axes. The layers (:mod:`.layers`) draw the rest.

Nothing here uses pyplot or changes ``matplotlib.rcParams``, and nothing here
knows which optimizer it draws: colours, markers and names come from the traces.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import TrajvizError
from . import style as S
from .background import Background, compute_background, draw_background, draw_background_3d, draw_minima

SWARM_AT = 20          # more starts than this per optimizer are drawn as a translucent swarm
MARKER_GLYPHS = {"o": "●", "^": "▲", "v": "▼", "s": "■", "D": "◆", "d": "◆", "X": "✖", "P": "✚", "*": "★", "p": "⬟", "h": "⬢"}


@dataclass
class Scene:
    """A laid-out figure with its static artists and the geometry the layers need."""

    fig: Any
    theme: S.Theme
    fonts: S.Fonts
    surface: Any
    result: Any
    traces: list
    styles: dict
    view: str
    layout: str
    panel: dict
    map_axes: list
    loss_ax: Any
    background: Background
    xlim: tuple
    ylim: tuple
    swarm: bool
    own: bool
    loss_shift: float = 0.0
    loss_floor: float = 1e-16
    loss_label: str = "loss"
    counter_at: tuple | None = None           # (x, y) figure pixels of the step counter's right end
    key_box: tuple | None = None              # (x0, y0, x1, y1) figure pixels for the key of the marks
    artists: dict = field(default_factory=dict)

    @property
    def is3d(self) -> bool:
        return self.view == "3d"

    # ---- geometry (pixels, y up) ----------------------------------------------------------------------
    def to_px(self, ax, pts) -> np.ndarray:
        pts = np.asarray(pts, dtype=float).reshape(-1, 2)
        if self.is3d:
            return self._to_px_3d(ax, pts)
        return ax.transData.transform(pts)

    def _to_px_3d(self, ax, pts) -> np.ndarray:
        from mpl_toolkits.mplot3d import proj3d

        z = self.surface_heights(pts)
        xs, ys, _ = proj3d.proj_transform(pts[:, 0], pts[:, 1], z, ax.get_proj())
        return ax.transData.transform(np.column_stack([xs, ys]))

    def surface_heights(self, pts) -> np.ndarray:
        pts = np.asarray(pts, dtype=float).reshape(-1, 2)
        out = np.full(len(pts), np.nan)
        ok = np.isfinite(pts).all(1)
        if ok.any():
            out[ok] = self.background.height(self.surface.values(pts[ok])) + self.lift
        return out

    @property
    def lift(self) -> float:
        if not self.is3d:
            return 0.0
        lo, hi = self.map_axes[0].get_zlim()
        return 0.012 * (hi - lo)

    def snap(self, ax, pts) -> np.ndarray:
        """Points moved to the nearest pixel centre: a mark whose head creeps by a fraction of a
        pixel is drawn the same, so the frame does not change (and the GIF does not grow)."""
        pts = np.asarray(pts, dtype=float)
        flat = pts.reshape(-1, 2)
        ok = np.isfinite(flat).all(1)
        out = flat.copy()
        if ok.any():
            px = np.floor(ax.transData.transform(flat[ok])) + 0.5
            out[ok] = ax.transData.inverted().transform(px)
        return out.reshape(pts.shape)

    def from_px(self, ax, px) -> np.ndarray:
        return ax.transData.inverted().transform(np.asarray(px, dtype=float).reshape(-1, 2))

    def axes_px(self, ax) -> tuple[float, float, float, float]:
        b = ax.bbox
        return b.x0 + 2, b.y0 + 2, b.x1 - 2, b.y1 - 2

    def px_per_unit(self, ax) -> float:
        (x0, x1) = self.xlim
        return ax.bbox.width / (x1 - x0)

    def obstacles_px(self, ax) -> list:
        """Points labels keep clear of besides the heads: the starts and the minima."""
        out = []
        if self.result is not None and not self.swarm:
            out += list(self.to_px(ax, self.result.starts))
        minima = _minima_in(self.surface, self.xlim, self.ylim)
        if len(minima):
            out += list(self.to_px(ax, minima))
        return out

    # ---- text ---------------------------------------------------------------------------------------------
    def label_text(self, trace) -> str:
        return trace.full_title

    def loss_label_text(self, trace) -> str:
        return f"{MARKER_GLYPHS.get(trace.marker, '●')} {trace.full_title}"

    def sprite(self, text: str, color: str, small: bool = False, box: bool = True):
        """A label rendered once, to paste into frames: bold, in the method's colour made readable,
        with a halo of the background's colour (``box``: the map's) so lines under it do not cut it."""
        from .blit import render_sprite

        size = self.fonts.small * (0.85 if small else 1.0)
        face = self.theme.label_face if box else self.theme.figure
        ink = S.readable(color, face)

        def make(fig):
            return fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=size, fontweight="bold",
                            color=ink, path_effects=self._halo(face) if box else None)

        return render_sprite(make, self.fig.dpi, pad=1)

    def _halo(self, face):
        from matplotlib import patheffects

        return [patheffects.withStroke(linewidth=3.2 * self.fonts.scale, foreground=face)]

    def label_artist(self, ax, text: str, color: str):
        face = self.theme.label_face
        t = ax.text(0, 0, text, ha="center", va="center", fontsize=self.fonts.small, fontweight="bold",
                    color=S.readable(color, face), path_effects=self._halo(face), zorder=10, clip_on=False)
        t.set_gid(f"label:{text}")
        return t

    def loss_label_artist(self, text: str, color: str):
        from matplotlib.transforms import IdentityTransform

        t = self.fig.text(0, 0, text, ha="left", va="center", fontsize=self.fonts.small, fontweight="bold",
                          color=S.readable(color, self.theme.figure), transform=IdentityTransform(), zorder=10)
        t.set_gid(f"loss-label:{text}")
        return t


# ---- text helpers --------------------------------------------------------------------------------------------
from .style import _POWERS, power_of_ten  # noqa: E402, F401  (tick labels on log axes)


def pretty_formula(text: str) -> str:
    """``(a - x)^2`` -> ``(a − x)²``: superscripts for small integer powers, true minus signs, pi as π."""
    text = text.replace("**", "^")
    text = re.sub(r"\^(\d)(?!\d)", lambda m: m.group(1).translate(_POWERS), text)
    text = re.sub(r"(?<![\w.])0\.5 ", "½ ", text)
    text = re.sub(r"\bpi\b", "π", text)
    text = text.replace(" - ", " − ").replace("(-", "(−").replace(" -", " −")
    return text


def title_of(surface, result, title: str | None) -> tuple[str, str]:
    """A short title (``"Rosenbrock valley · 500 steps"``) and the formula as a subtitle."""
    if title is not None:
        return title, ""
    parts = [pretty_formula(surface.title)]
    if result is not None:
        s = result.settings
        steps = f"{s.get('steps', int(result.traces[next(iter(result.traces))].steps[-1])):,} steps"
        parts.append(steps + (f" ({s['epochs']:g} epochs)" if s.get("epochs") else ""))
        n = s.get("starts", len(result.starts))
        if n > 1:
            parts.append(f"{n:,} starts")
        if s.get("noise"):
            parts.append(f"noise {s['noise']:g}")
        if s.get("batch_size"):
            parts.append(f"batches of {s['batch_size']}")
        if s.get("lr") is not None:
            parts.append(f"lr {s['lr']:g}")
        if s.get("schedule"):
            parts.append(f"{s['schedule']} schedule")
        if s.get("tuned"):
            parts.append("rates tuned")
    sub = pretty_formula(surface.equation)
    if not getattr(surface, "equation_is_formula", True):   # a sentence (a network's plane), as it is
        pass
    elif sub and sub != surface.title:
        sub = "f(x, y) = " + sub if "=" not in sub.split(",")[0] else sub
    else:
        sub = ""
    return "  ·  ".join(parts), sub


def _fit_text(fig, text: str, size: float, width_px: float, bold: bool = False, min_size: float = 7.0) -> float:
    """The largest font size <= ``size`` at which ``text`` fits ``width_px`` on one line."""
    w = S.text_width(text, size, bold) * fig.dpi / 72
    if w <= width_px:
        return size
    return max(size * width_px / w, min_size)


def _minima_in(surface, xlim, ylim) -> np.ndarray:
    pts = np.asarray(surface.minima, dtype=np.float64).reshape(-1, 2)
    inside = (pts[:, 0] >= xlim[0]) & (pts[:, 0] <= xlim[1]) & (pts[:, 1] >= ylim[0]) & (pts[:, 1] <= ylim[1])
    return pts[inside]


# ---- layout --------------------------------------------------------------------------------------------------
def _grid_shape(n: int, aspect: float, width: float, height: float, title_h: float) -> tuple[int, int]:
    """Rows and columns for n panels of ``aspect`` (w/h) that make the panels largest (pixels in)."""
    best, best_key = (1, n), None
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        cell_w = min(width / cols, (height / rows - title_h) * aspect)
        key = (round(cell_w, 1), -(rows * cols - n))
        if best_key is None or key > best_key:
            best, best_key = (rows, cols), key
    return best


def build_scene(surface, result, ax, options, *, xlim=None, ylim=None, animated: bool = False) -> Scene:
    """Lay out the figure for a surface (and a Result's paths, if any) and draw its static parts.

    ``options`` is a :class:`~trajviz.options.PlotOptions`. With ``ax`` given, the map is
    drawn on it (a grid, a loss panel or a 3D view need a figure of their own, made when
    ``ax`` is None). ``animated``: leave room for the step counter and the key of the marks.
    """
    o = options
    th = S.get_theme(o.theme)
    traces = list(result) if result is not None else []
    view = o.view
    if ax is not None and getattr(ax, "name", "") == "3d":
        view = "3d"
    n_starts = len(result.starts) if result is not None else 0
    swarm = (n_starts > SWARM_AT) if o.swarm is None else bool(o.swarm)
    own = ax is None
    loss_panel = bool(traces) and (o.loss_panel if o.loss_panel is not None else own)
    if loss_panel and not traces:
        raise TrajvizError("a loss panel needs a run (a Result), not a bare surface")
    layout = o.layout
    if layout == "auto":
        layout = "grid" if swarm and len(traces) > 1 and view == "2d" else "overlay"
    grid = layout == "grid" and len(traces) > 1
    if not own and (grid or loss_panel or (view == "3d") != (getattr(ax, "name", "") == "3d")):
        raise TrajvizError("a grid, a loss panel or a 3D view needs a figure of its own: leave out ax, or "
                           "pass layout='overlay', loss_panel=False and an axes of the same kind")
    if own:
        from .figure import new_figure

        w_in, h_in = S.figsize(o.size, o.dpi)
        fig = new_figure((w_in, h_in), o.dpi or S.DEFAULT_DPI, th.figure)
    else:
        fig = ax.figure
        fig = getattr(fig, "figure", fig)
        w_in, h_in = fig.get_size_inches()
    fonts = S.Fonts.for_figure(w_in, h_in)
    dpi = fig.dpi
    W, H = w_in * dpi, h_in * dpi
    pt = dpi / 72                                   # pixels per point
    styles = S.trace_styles(traces, th)

    # ---- boxes, in pixels ------------------------------------------------------------------------------
    title_h = (fonts.title * 1.25 + fonts.subtitle * 1.3) * pt + 10 * fonts.scale if own else 0.0
    tick_w = 3.6 * fonts.tick * pt                  # room for y tick labels ("−1.5", "10⁻³")
    tick_h = 2.6 * fonts.tick * pt                  # x tick labels and the axis letter
    pad = 10 * fonts.scale
    panel = {}
    map_axes = []
    loss_ax = None
    counter_at = (W - pad, H - pad - fonts.title * pt * 0.6) if own and animated else None
    key_box = None
    proj = {"projection": "3d"} if view == "3d" else {}
    if not own:
        map_axes = [ax]
        panel = {t.label: ax for t in traces}
        bbox = ax.get_window_extent()
        aspect = bbox.width / max(bbox.height, 1)
    elif not grid:
        top = H - title_h
        map_h = top - tick_h - pad
        label_w = _label_width(traces, fonts, pt) if loss_panel else 0
        if loss_panel:
            map_w = min(map_h, 0.52 * W)
        else:
            map_w = min(map_h * 1.5, W - tick_w - 2 * pad)
        x0 = tick_w + pad
        rect = (x0, tick_h, map_w, map_h)
        m = fig.add_axes(_frac(rect, W, H), **proj)
        map_axes, panel = [m], {t.label: m for t in traces}
        aspect = map_w / map_h
        if loss_panel:
            lx0 = x0 + map_w + tick_w + 2.2 * pad
            lx1 = W - label_w - pad
            # the key (up to three rows) below the loss panel's step axis, clear of its label
            key_h = 3 * fonts.small * 1.45 * pt if animated else 0.0
            ly0 = pad * 0.5 + key_h + tick_h
            loss_ax = fig.add_axes(_frac((lx0, ly0, max(lx1 - lx0, 40), top - ly0 - 1.6 * fonts.label * pt), W, H))
            if animated:
                key_box = (x0 + map_w + 2.2 * pad, pad * 0.5, W - pad, pad * 0.5 + key_h)
        elif animated:
            key_box = (x0 + map_w + 2 * pad, tick_h, W - pad, tick_h + 3 * fonts.small * 1.6 * pt)
    else:
        n = len(traces) + (1 if loss_panel else 0)
        top = H - title_h
        if len(getattr(surface, "axis_labels", ("x", "y"))[1]) > 2:   # a long y label stands rotated
            tick_w += 1.3 * fonts.label * pt
        cell_title = fonts.label * 2.9 * pt          # two lines: the name, then the analogy
        avail_w, avail_h = W - tick_w - pad, top - tick_h
        rows, cols = _grid_shape(n, 1.25, avail_w, avail_h, cell_title + tick_h * 0.2)
        cw, ch = avail_w / cols, avail_h / rows
        inner_w, inner_h = cw - tick_w * 0.35 - pad, ch - cell_title - tick_h * 0.35
        for i, t in enumerate(traces):
            r, c = divmod(i, cols)
            rect = (tick_w + c * cw, top - (r + 1) * ch + tick_h * 0.35, inner_w, inner_h)
            share = {} if view == "3d" or not map_axes else {"sharex": map_axes[0], "sharey": map_axes[0]}
            a = fig.add_axes(_frac(rect, W, H), **proj, **share)
            map_axes.append(a)
            panel[t.label] = a
        aspect = inner_w / inner_h
        if loss_panel:
            r, c = divmod(len(traces), cols)
            lw = _label_width(traces, fonts, pt)
            x0 = tick_w + c * cw + tick_w * 0.55
            # the loss panel and its end labels take the rest of the row, unless the key needs a cell there
            keyed = animated and rows * cols - n > 0
            right = tick_w + (c + 1) * cw if keyed else W
            width = max(right - pad - lw - x0, 0.35 * cw)
            rect = (x0, top - (r + 1) * ch + tick_h * 0.35, width, inner_h)
            loss_ax = fig.add_axes(_frac(rect, W, H))
        spare = rows * cols - n
        if animated and spare > 0:
            r, c = divmod(n, cols)
            key_box = (tick_w + c * cw, top - (r + 1) * ch, tick_w + (c + spare) * cw - pad, top - r * ch - cell_title)

    # ---- the view, then the contours for it -------------------------------------------------------------
    from .view import fit_view

    whole = swarm or result is None or view == "3d"
    vx, vy = fit_view(surface, result, aspect if view == "2d" else 1.0, xlim=xlim, ylim=ylim, whole=whole)
    bg = compute_background(surface, vx, vy, points=260 if len(map_axes) == 1 else 160)
    scene = Scene(fig=fig, theme=th, fonts=fonts, surface=surface, result=result, traces=traces, styles=styles,
                  view=view, layout="grid" if grid else "overlay", panel=panel, map_axes=map_axes, loss_ax=loss_ax,
                  background=bg, xlim=vx, ylim=vy, swarm=swarm, own=own, counter_at=counter_at, key_box=key_box)
    for a in map_axes:
        _draw_map_static(scene, a, o)
    if result is not None and not swarm:
        for a in map_axes:
            _draw_starts(scene, a, result.starts)
    if grid:
        for t in traces:
            _panel_title(scene, panel[t.label], t)
        if view == "2d":
            cols = _grid_shape(len(traces) + (1 if loss_panel else 0), 1.25, W - tick_w - pad,
                               H - title_h - tick_h, fonts.label * 2.9 * pt)[1]
            _label_outer(map_axes, cols, len(traces) + (1 if loss_panel else 0))
    if loss_ax is not None:
        _setup_loss_axes(scene)
    if own and o.title != "":
        text, sub = title_of(surface, result, o.title)
        width = W - 2 * pad - (10 * fonts.title * pt if animated else 0)
        size = _fit_text(fig, text, fonts.title, width, bold=True, min_size=fonts.small)
        t1 = fig.text(pad / W, 1 - pad / H, text, ha="left", va="top", fontsize=size, fontweight="bold",
                      color=th.text)
        t1.set_gid("title")
        if sub:
            size2 = _fit_text(fig, sub, fonts.subtitle, W - 2 * pad, min_size=fonts.small * 0.75)
            t2 = fig.text(pad / W, 1 - (pad + fonts.title * 1.3 * pt) / H, sub, ha="left", va="top",
                          fontsize=size2, color=th.muted)
            t2.set_gid("subtitle")
    elif not own and o.title != "":
        text, _ = title_of(surface, result, o.title)
        map_axes[0].set_title(text, loc="left", color=th.text, fontsize=fonts.label)
    if o.colorbar and view == "2d":
        _draw_colorbar(scene)
    return scene


def _frac(rect, W, H):
    x, y, w, h = rect
    return (x / W, y / H, w / W, h / H)


def _label_width(traces, fonts, pt) -> float:
    if not traces:
        return 0.0
    w = max(S.text_width("● " + t.full_title, fonts.small, True) for t in traces) * pt
    return w + 18 * fonts.scale


def _label_outer(axes: list, cols: int, n: int) -> None:
    """Tick labels only on the left column and on panels with no panel below them."""
    for i, a in enumerate(axes):
        if i % cols:
            a.tick_params(labelleft=False)
            a.set_ylabel("")
        if i + cols < n:
            a.tick_params(labelbottom=False)
            a.set_xlabel("")


def _draw_map_static(scene: Scene, ax, o):
    th, bg, fonts = scene.theme, scene.background, scene.fonts
    if scene.is3d:
        draw_background_3d(ax, bg, th)
        ax.computed_zorder = False
        (x0, x1), (y0, y1) = bg.xlim, bg.ylim
        m = max(x1 - x0, y1 - y0)
        ax.set_box_aspect(((x1 - x0) / m, (y1 - y0) / m, 0.55), zoom=0.92)
        ax.view_init(elev=38, azim=-58)
        ax.set_zlabel(bg.height_label, labelpad=8 * fonts.scale)
        xl, yl = (a.split(" (")[0] for a in getattr(scene.surface, "axis_labels", ("x", "y")))
        ax.set_xlabel(xl, labelpad=4)
        ax.set_ylabel(yl, labelpad=4)
    else:
        draw_background(ax, bg, th, labels=scene.layout == "overlay", fontsize=fonts.small * 0.9)
        ax.set_aspect("auto")
        xl, yl = getattr(scene.surface, "axis_labels", ("x", "y"))
        ax.set_xlabel(xl, labelpad=2)
        ax.set_ylabel(yl, labelpad=2, rotation=0 if len(yl) <= 2 else 90)
        ax.locator_params(nbins=5)
        if o.grad_field:
            from .background import draw_grad_field

            scene.artists.setdefault("grad_field", []).append(draw_grad_field(ax, scene.surface, bg, th))
    ax.set_xlim(scene.xlim)
    ax.set_ylim(scene.ylim)
    ax.set_autoscale_on(False)
    star = draw_minima(ax, scene.surface, bg, th, size=fonts.head * 1.45)
    scene.artists.setdefault("minima", []).append(star)
    S.apply_axes(ax, th, fonts)


def _draw_starts(scene: Scene, ax, starts: np.ndarray):
    th = scene.theme
    pts = np.unique(np.asarray(starts), axis=0)
    kw = dict(marker="o", linestyle="none", markersize=scene.fonts.head * 0.95, markerfacecolor=th.start_face,
              markeredgecolor=th.marker_edge, markeredgewidth=1.6 * scene.fonts.scale, zorder=7.5, label="start")
    if scene.is3d:
        line, = ax.plot(pts[:, 0], pts[:, 1], scene.surface_heights(pts), **kw)
    else:
        line, = ax.plot(pts[:, 0], pts[:, 1], **kw)
    line.set_gid("starts")
    scene.artists.setdefault("starts", []).append(line)


def _panel_title(scene: Scene, ax, trace):
    """The method's name and, on a second line, its analogy: every panel's title two lines high."""
    th, fonts = scene.theme, scene.fonts
    width = ax.get_window_extent().width
    name, analogy = trace.full_title, trace.analogy or " "
    size = min(_fit_text(scene.fig, name, fonts.label, width, bold=True, min_size=fonts.small * 0.6),
               _fit_text(scene.fig, analogy, fonts.label, width, min_size=fonts.small * 0.6))
    ax.set_title(f"{name}\n{analogy}", color=S.readable(scene.styles[trace.label].color, th.figure),
                 fontsize=size, loc="left", pad=3, linespacing=1.1)
    if not scene.is3d:
        top = ax.spines["top"]
        top.set_color(scene.styles[trace.label].color)
        top.set_linewidth(3.5 * fonts.scale)


def _finite_range(arrays) -> tuple[float | None, float | None]:
    lo = hi = None
    for a in arrays:
        f = np.asarray(a, dtype=float)
        f = f[np.isfinite(f)]
        if f.size == 0:
            continue
        lo = float(f.min()) if lo is None else min(lo, float(f.min()))
        hi = float(f.max()) if hi is None else max(hi, float(f.max()))
    return lo, hi


def _setup_loss_axes(scene: Scene):
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax, th, fonts = scene.loss_ax, scene.theme, scene.fonts
    surface = scene.surface
    projected = [t.extras["loss_projected"] for t in scene.traces if "loss_projected" in (getattr(t, "extras", None) or {})]
    lo, hi = _finite_range([t.loss for t in scene.traces] + projected)
    if surface.optimum is not None:
        shift, what = float(surface.optimum), "f*"
    elif not getattr(surface, "shift_loss", True):   # a network's loss: drawn as it is
        shift, what = 0.0, ""
    elif lo is not None:
        shift, what = lo, "lowest"
    else:
        shift, what = 0.0, ""
    scale = max(abs(lo - shift), abs(hi - shift)) if lo is not None else 1.0
    scene.loss_shift = shift
    floor = max(scale, 1e-300) * 1e-15
    scene.loss_floor = floor
    label = "loss" if not shift else f"loss − {what}" if what == "f*" else "loss − lowest"
    scene.loss_label = label
    ax.set_yscale("log")
    shown = [np.maximum(np.asarray(v) - shift, floor) for v in [t.loss for t in scene.traces] + projected]
    slo, shi = _finite_range(shown)
    if slo is None:
        slo, shi = floor, 1.0
    ax.set_ylim(slo / 2.5, shi * 2.5)
    steps = int(scene.traces[0].steps[-1]) if scene.traces else 1
    ax.set_xlim(0, max(steps, 1))
    ax.set_xlabel("step", labelpad=1)
    if projected:   # the true loss, beside the loss at the projected points (dashed, said in the subtitle)
        label = "full-data loss"
    size = _fit_text(scene.fig, label, fonts.label, ax.get_window_extent().width, min_size=fonts.small * 0.7)
    ax.set_title(label, loc="left", color=th.text, fontsize=size, pad=4)
    ax.grid(True, which="major", color=th.grid, linewidth=0.8)
    ax.set_axisbelow(True)
    if math.log10(shi * 2.5) - math.log10(slo / 2.5) >= 2.5:
        ax.yaxis.set_major_locator(LogLocator(numticks=6))
        ax.yaxis.set_major_formatter(FuncFormatter(power_of_ten))
    else:   # a decade or two (a run that ends in a local minimum): 1, 2, 5 of each decade, as numbers
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0), numticks=8))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_locator(_step_locator(3 if ax.get_window_extent().width < 260 * fonts.scale else 4))
    ax.set_facecolor(th.axes)
    S.apply_axes(ax, th, fonts)


def _step_locator(n: int = 4):
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(n, integer=True)


def _draw_colorbar(scene: Scene):
    """A colour bar beside each map (off by default: the contours carry labels instead)."""
    from matplotlib.cm import ScalarMappable

    bg, th, fonts = scene.background, scene.theme, scene.fonts
    m = ScalarMappable(norm=bg.norm(), cmap=th.cmap())
    ax = scene.map_axes[0]
    cax = ax.inset_axes([1.015, 0.0, 0.025, 1.0])
    cbar = scene.fig.colorbar(m, cax=cax)
    if bg.log:
        from matplotlib.ticker import FuncFormatter, LogLocator

        cbar.set_ticks(LogLocator(numticks=8))
        cbar.ax.yaxis.set_major_formatter(FuncFormatter(power_of_ten))
    cbar.ax.tick_params(colors=th.spine, labelcolor=th.text, labelsize=fonts.tick * 0.85)
    cbar.outline.set_edgecolor(th.spine)
    scene.artists["colorbar"] = cbar
    return cbar


__all__ = ["Scene", "build_scene", "power_of_ten", "pretty_formula", "title_of", "SWARM_AT"]
