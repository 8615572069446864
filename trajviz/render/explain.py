"""Drawing ``trajviz explain``'s lessons: one update of an optimizer, as a teacher draws it on a board.

The lesson (:mod:`trajviz.lessons`) is plain data: the state around one torch.optim
update and its captioned sub-steps (marks that appear and go). This module lays out
the board once (title, caption band, the zoomed map, a row of squares per axis for
the adaptive methods, the table of numbers), caches its static pixels and draws each
frame's marks on top, then hands the frames to a writer.

>>> import trajviz
>>> clip = trajviz.explain("adam", "adam.gif")       # doctest: +SKIP
"""

from __future__ import annotations

import base64
import functools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..lessons.recipes import AXES, Lesson, Mark
from ..lessons.recipes import num as _num

# ---- drawing -------------------------------------------------------------------------------------------
FPS = 20.0
GROW = 0.6           # seconds a sub-step's new marks take to grow in
HOLD = (2.5, 7.0)    # seconds a sub-step stays up: time to read its caption and the table's new rows
READING = 16.0       # characters of caption read per second (a slide, read aloud)
MIN_SIDE_PX = 14.0   # a square is never drawn smaller than this (it stays a square, not a dot)


# sizes in points on a 1280x720 frame (12.8 x 7.2 inches); everything scales with the frame
FONT = {"title": 27, "subtitle": 13.5, "caption": 21, "table": 15.5, "label": 16.5, "square": 15,
        "row": 22, "tick": 11, "note": 12}
ARROW_WIDTH = 3.4
BAR_WIDTH = 2.8
HEAD = 22
POINT = 15


def _rgb(color) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(color)


def _hex(rgb) -> str:
    return "#{:02X}{:02X}{:02X}".format(*(round(min(max(c, 0.0), 1.0) * 255) for c in rgb))


def _luminance(color) -> float:
    def lin(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _ink(color, background, target: float = 4.5) -> str:
    """The colour darkened (on light) or lightened (on dark) until text in it reads on ``background``."""
    towards = 0.0 if _luminance(background) > 0.4 else 1.0
    rgb = _rgb(color)
    for k in range(21):
        mixed = tuple(c + (towards - c) * k / 20 for c in rgb)
        if _contrast(mixed, background) >= target:
            return _hex(mixed)
    return _hex(rgb)


@dataclass(frozen=True)
class _Look:
    theme: Any
    scale: float
    fill: dict       # role -> colour of fills (squares, points)
    ink: dict        # role -> colour of lines and text, readable on the background

    def pt(self, name_or_size) -> float:
        size = FONT[name_or_size] if isinstance(name_or_size, str) else name_or_size
        return size * self.scale


def _look(theme, color: str, scale: float) -> _Look:
    from . import style as S

    th = S.get_theme(theme)
    fill = {"memory": th.memory, "gradient": th.gradient, "result": color, "position": th.text, "guide": th.muted}
    ink = {k: _ink(v, th.figure, 3.0 if k == "guide" else 4.5) for k, v in fill.items()}
    return _Look(theme=th, scale=scale, fill=fill, ink=ink)


def _ease(f: float) -> float:
    f = min(max(f, 0.0), 1.0)
    return f * f * (3 - 2 * f)


def _hp(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_hp(x) for x in v) + ")"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _wrap(text: str, width_pt: float, size_pt: float) -> str:
    """Break ``text`` into lines that fit ``width_pt`` (measured), greedily, word by word."""
    lines: list[str] = []
    for word in text.split():
        if lines and _text_width(lines[-1] + " " + word, size_pt) <= width_pt:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


@functools.lru_cache(maxsize=1)
def _measurer():
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(8, 8, 72)   # at 72 dpi a pixel is a point


def _text_width(text: str, size_pt: float) -> float:
    """Width in points of ``text`` in the default font (measured by Agg, not guessed)."""
    from matplotlib.font_manager import FontProperties

    w, _, _ = _measurer().get_text_width_height_descent(text, FontProperties(size=size_pt), ismath=False)
    return float(w)


def _edge(u, w: float, h: float) -> float:
    """Distance from a w x h box's centre to its edge along the unit vector ``u``."""
    ux, uy = abs(float(u[0])), abs(float(u[1]))
    if ux < 1e-9 and uy < 1e-9:
        return max(w, h) / 2
    return min(w / 2 / ux if ux > 1e-9 else np.inf, h / 2 / uy if uy > 1e-9 else np.inf)


def _text_box(text: str, size_pt: float) -> tuple[float, float]:
    """Rough (width, height) in points of a bold label, for placing it before drawing."""
    return 0.62 * size_pt * len(text) + 6, 1.35 * size_pt + 4


class _Board:
    """The figure of one lesson: fixed layout, static parts cached, marks drawn on top by hand.

    Layout in figure fractions, the same in every frame: the title on top, the caption
    band at the bottom, the zoomed map on the left, the table of numbers on the right
    and, for the adaptive methods, one row per axis with its squares in between. Every
    label's place is decided once, for the whole lesson, so nothing jumps.
    """

    def __init__(self, les: Lesson, *, theme="light", size=None, dpi=None):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from . import style as S

        self.les = les
        w_in, h_in = S.figsize(size if size is not None else S.DEFAULT_SIZE, dpi)
        self.fig = Figure(figsize=(w_in, h_in), dpi=S.DEFAULT_DPI if dpi is None else S.check_dpi(dpi))
        self.canvas = FigureCanvasAgg(self.fig)
        self.look = _look(theme, les.color, min(w_in / 12.8, h_in / 7.2))
        S.apply_figure(self.fig, self.look.theme)
        self.px = self.fig.dpi / 72          # pixels per point
        self._life = self._lifetimes()
        self._layout()
        self._draw_static()
        self.labels = self._place_labels()
        self.artists = {m.key: self._make(m) for m in les.marks()}
        self.caption = self.fig.text(0.03, 0.065, "", fontsize=self.look.pt("caption"),
                                     color=self.look.theme.text, va="center", ha="left", animated=True)
        self.canvas.draw()
        self.static = self.canvas.copy_from_bbox(self.fig.bbox)

    def _lifetimes(self) -> dict[str, set]:
        life: dict[str, set] = {}
        for i in range(len(self.les.stages)):
            for m in self.les.visible(i):
                life.setdefault(m.key, set()).add(i)
        return life

    # -- layout -----------------------------------------------------------------------------------------
    def _layout(self):
        les, fig = self.les, self.fig
        fw, fh = fig.get_size_inches()
        wide = fw / fh >= 1.5
        top, bottom = 0.83, 0.215
        if les.per_axis:
            map_box = (0.07, bottom, 0.28 if wide else 0.29, top - bottom)
            rows_x0 = map_box[0] + map_box[2] + 0.075
            self.table_x0 = 0.735 if wide else 0.70
        else:
            map_box = (0.07, bottom, 0.585 if wide else 0.535, top - bottom)
            self.table_x0 = map_box[0] + map_box[2] + 0.05
        self.table_x1 = 0.975
        self.table_top = top
        self._cols = None
        cols = self._table_columns()
        if les.per_axis:
            rows_w = cols[0] - rows_x0 - 0.03
        self.map_ax = fig.add_axes(map_box)
        self.row_axes = {}
        if les.per_axis:
            self._fit_rows(rows_x0, rows_w, bottom, top)
        self._fit_map()

    def _fit_map(self):
        """View limits around every map mark of the lesson, with room for labels, at the box's aspect."""
        ax, les = self.map_ax, self.les
        pts = [les.position, les.new_position]
        for m in les.marks("map"):
            pts.append(np.asarray(m.at))
            if m.kind in ("arrow", "ray"):
                pts.append(np.asarray(m.tip))
                if m.grow_from > 1:
                    pts.append(np.asarray(m.at) + m.grow_from * np.asarray(m.vec))
        pts = np.asarray(pts)
        lo, hi = pts.min(0), pts.max(0)
        span = max(float((hi - lo).max()), 1e-9)
        center = (lo + hi) / 2
        half = np.maximum((hi - lo) / 2, 0.15 * span) + 0.42 * span
        bbox = ax.get_position()
        fw, fh = self.fig.get_size_inches()
        box_aspect = (bbox.width * fw) / (bbox.height * fh)
        if half[0] / half[1] < box_aspect:
            half[0] = half[1] * box_aspect
        else:
            half[1] = half[0] / box_aspect
        self.xlim = (float(center[0] - half[0]), float(center[0] + half[0]))
        self.ylim = (float(center[1] - half[1]), float(center[1] + half[1]))
        ax.set_xlim(self.xlim)
        ax.set_ylim(self.ylim)

    def _fit_rows(self, x0: float, width: float, bottom: float, top: float):
        """One axes per axis row, at one scale (gradient units) so squares compare across axes.

        Each row is as tall as its largest square needs, and has its own origin, placed
        so that what it draws fits.
        """
        look, fig = self.look, self.fig
        fw, fh = fig.get_size_inches()
        w = width * fw * fig.dpi
        spans, sides, levels = {}, {}, 0
        for a in AXES:
            lo, hi, side = 0.0, 0.0, 1e-300
            for m in self.les.marks(a):
                if m.kind == "square":
                    s = m.side * max(1.0, m.grow_from)
                    ends = (m.at[0], m.at[0] + m.sign * s)
                    side = max(side, s)
                else:
                    ends = (m.at[0], m.at[0] + m.vec[0], m.at[0] + m.vec[0] * max(1.0, m.grow_from))
                    levels = max(levels, int(m.at[1]))
                lo, hi = min(lo, *ends), max(hi, *ends)
            spans[a], sides[a] = (lo, hi), side
        self.bar_gap = look.pt(30) * self.px     # a bar and its label per level, no overlap
        pad = look.pt(36) * self.px              # room for a bar's label beyond its tip
        top_pad = look.pt(24) * self.px          # room for a small square's label above it
        bars = (levels + 0.7) * self.bar_gap
        gap = 0.045 * fh * fig.dpi
        h_total = (top - bottom) * fh * fig.dpi
        k = min(min((w - 2 * pad) / max(hi - lo, 1e-300) for lo, hi in spans.values()),
                (h_total - gap - 2 * (bars + top_pad)) / sum(sides.values()))
        self.row_k = k                           # pixels per gradient unit
        y1 = top
        for a in AXES:
            h = bars + top_pad + k * sides[a]
            frac = h / (fh * fig.dpi)
            ax = fig.add_axes((x0, y1 - frac, width, frac))
            ax.set_axis_off()
            lo, hi = spans[a]
            mid = (lo + hi) / 2
            ax.set_xlim(mid - w / 2 / k, mid + w / 2 / k)
            ax.set_ylim(-bars / k, (h - bars) / k)
            self.row_axes[a] = ax
            y1 -= frac + gap / (fh * fig.dpi)

    def level_y(self, level: float) -> float:
        return -level * self.bar_gap / self.row_k

    # -- static parts -----------------------------------------------------------------------------------------
    def _draw_static(self):
        from . import style as S
        from .background import compute_background, draw_background, draw_minima

        les, look, th, fig = self.les, self.look, self.look.theme, self.fig
        ax = self.map_ax
        bg = compute_background(les.surface, self.xlim, self.ylim, points=220)
        draw_background(ax, bg, th)
        draw_minima(ax, les.surface, bg, th, size=look.pt(22))
        ax.set_xlim(self.xlim)
        ax.set_ylim(self.ylim)
        S.apply_axes(ax, th, S.Fonts.for_figure(*fig.get_size_inches()))
        ax.tick_params(labelsize=look.pt("tick"), length=3, pad=2)
        ax.locator_params(nbins=5)
        trail = les.trail
        if len(trail) > 1:
            ax.plot(trail[:, 0], trail[:, 1], color=look.ink["result"], lw=look.pt(2.2), alpha=0.6,
                    marker="o", ms=look.pt(5), zorder=3, solid_capstyle="round")
        ax.set_title("the path so far, zoomed in around x", fontsize=look.pt("note"), color=th.muted,
                     loc="left", pad=4)
        self._overview(ax)
        title = f"{les.title} — {les.tagline}"
        width = 0.95 * fig.get_size_inches()[0] * 72
        size = look.pt("title")
        size *= min(1.0, width / max(_text_width(title, size) * 1.08, 1e-9))  # bold is ~8% wider
        fig.text(0.03, 0.975, title, fontsize=size, fontweight="bold", color=th.text, va="top")
        hp = ", ".join(f"{k}={_hp(v)}" for k, v in les.hyperparameters.items())
        fig.text(0.03, 0.905, f"{les.torch_class}({hp})  ·  update {les.update}  ·  {les.surface.spec}",
                 fontsize=look.pt("subtitle"), color=th.muted, va="top")
        from matplotlib.patches import Rectangle

        fig.add_artist(Rectangle((-0.01, -0.01), 1.02, 0.14, transform=fig.transFigure,
                                 facecolor=th.legend_face, edgecolor=th.legend_edge, lw=0.8, zorder=-1))
        for a, rax in self.row_axes.items():
            rax.axvline(0.0, color=th.muted, lw=look.pt(1.0), alpha=0.5, zorder=0)
            rax.axhline(0.0, color=th.muted, lw=look.pt(1.0), alpha=0.5, zorder=0)
            box = rax.get_position()
            fig.text(box.x0 - 0.012, box.y1, a, fontsize=look.pt("row"), fontweight="bold", color=th.text,
                     ha="right", va="top")
        if self.row_axes:
            box = self.row_axes[AXES[0]].get_position()
            fig.text(box.x0 - 0.035, self.table_top + 0.012, "per axis, to scale (gradient units)",
                     fontsize=look.pt("note"), color=th.muted, ha="left", va="bottom")
        cols = self._table_columns()
        fs = look.pt("table")
        for x, name in ((cols[1], "x"), (cols[2], "y")):
            fig.text(x, self.table_top, name, fontsize=fs, fontweight="bold", color=th.muted, ha="right",
                     va="top")

    def _overview(self, ax):
        """A small map of the whole surface in the zoomed map's emptiest corner: where the zoom sits
        (a box), the minimum (a star), the path so far, and which way is downhill (the contours)."""
        from matplotlib.patches import Rectangle

        from .background import compute_background, draw_background, draw_minima

        les, look, th = self.les, self.look, self.look.theme
        pts = np.vstack([les.trail, les.position[None], les.new_position[None]] +
                        [np.asarray([m.at, m.tip]) for m in les.marks("map")])
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        u = np.column_stack([(pts[:, 0] - x0) / (x1 - x0), (pts[:, 1] - y0) / (y1 - y0)])
        size = 0.34
        corners = [(1 - size, 1 - size), (0.0, 1 - size), (1 - size, 0.0), (0.0, 0.0)]

        def crowd(c):
            inside = (u[:, 0] >= c[0] - 0.04) & (u[:, 0] <= c[0] + size + 0.04) & \
                     (u[:, 1] >= c[1] - 0.04) & (u[:, 1] <= c[1] + size + 0.04)
            return int(inside.sum())

        cx, cy = min(corners, key=crowd)
        inset = ax.inset_axes([cx + 0.01, cy + 0.01, size - 0.02, size - 0.02])
        surf = les.surface
        (dx0, dx1), (dy0, dy1) = surf.domain
        bg = compute_background(surf, (dx0, dx1), (dy0, dy1), points=90)
        draw_background(inset, bg, th)
        draw_minima(inset, surf, bg, th, size=look.pt(10))
        trail = np.vstack([les.trail, les.new_position[None]])
        inset.plot(trail[:, 0], trail[:, 1], color=look.ink["result"], lw=look.pt(1.4), zorder=3)
        inset.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=th.text, lw=look.pt(1.4),
                                  zorder=4))
        # a ring around the zoom: the box can be smaller than a pixel on the whole surface
        inset.plot([(x0 + x1) / 2], [(y0 + y1) / 2], "o", mfc="none", mec=th.text, mew=look.pt(1.4),
                   ms=look.pt(11), zorder=5)
        inset.set_xticks([])
        inset.set_yticks([])
        for spine in inset.spines.values():
            spine.set_edgecolor(th.spine)
            spine.set_linewidth(look.pt(1.2))
        inset.set_title("the whole surface", fontsize=look.pt("note") * 0.85, color=th.muted, pad=2)
        inset.set_gid("overview")
        self.overview = inset

    def _table_columns(self) -> tuple[float, float, float]:
        """Left edge of the names, right edges of the x and y values (figure fractions)."""
        if getattr(self, "_cols", None) is None:
            rows = [m for m in self.les.marks("table")]
            size = self.look.pt("table")
            fw = self.fig.get_size_inches()[0] * 72
            name_w = max([_text_width(m.label, size) for m in rows] + [0]) / fw
            val_w = max([_text_width(_num(v), size) for m in rows for v in m.vec] + [0]) / fw
            gap = size * 1.2 / fw
            x0 = self.table_x0
            need = name_w + 2 * (gap + val_w)
            if need > self.table_x1 - x0:   # a narrow frame: the table takes what it needs
                x0 = max(self.table_x1 - need, 0.5)
            self._cols = (x0, x0 + name_w + gap + val_w, x0 + name_w + 2 * (gap + val_w))
        return self._cols

    def _table_y(self, line: float) -> float:
        line_h = 1.55 * self.look.pt("table") / 72 / self.fig.get_size_inches()[1]
        return self.table_top - (line + 1) * line_h

    # -- labels -------------------------------------------------------------------------------------------------
    def _place_labels(self) -> dict[str, tuple[float, float, float, float]]:
        """Where each map label goes, once for the whole lesson: ``key -> (x, y, dx_pt, dy_pt)``.

        Candidates beside the arrow (or around the point) are scored by how much of the
        other marks shown at the same time, and of their labels, they would cover.
        """
        les, look, ax = self.les, self.look, self.map_ax
        to_pt = lambda xy: ax.transData.transform(np.atleast_2d(xy)) / self.px  # noqa: E731
        frame = ax.get_window_extent()
        fx0, fy0, fx1, fy1 = frame.x0 / self.px, frame.y0 / self.px, frame.x1 / self.px, frame.y1 / self.px
        marks = les.marks("map")
        samples: dict[str, np.ndarray] = {}
        for m in marks:
            if m.kind == "point":
                c = to_pt(m.at)[0]
                r = look.pt(POINT) / 2
                ang = np.linspace(0, 2 * np.pi, 9)
                samples[m.key] = np.vstack([c, c + r * np.c_[np.cos(ang), np.sin(ang)]])
            else:
                a, b = to_pt(m.at)[0], to_pt(m.tip)[0]
                n = max(2, int(np.hypot(*(b - a)) / 3))
                samples[m.key] = a + np.linspace(0, 1, n)[:, None] * (b - a)
        trail = to_pt(les.trail) if len(les.trail) > 1 else np.zeros((0, 2))
        if len(trail) > 1:
            trail = np.vstack([trail[i] + np.linspace(0, 1, 12)[:, None] * (trail[i + 1] - trail[i])
                               for i in range(len(trail) - 1)])
        placed: dict[str, tuple] = {}
        boxes: dict[str, tuple] = {}
        size = look.pt("label")
        step = np.asarray(les.step, dtype=float)
        for m in marks:
            if not m.label:
                continue
            w, h = _text_box(m.label, size)
            cands = []
            if m.kind == "point":
                c = to_pt(m.at)[0]
                n = float(np.hypot(*step)) or 1.0
                ahead = step / n * (1 if m.key == "new x" else -1)
                base = np.arctan2(ahead[1], ahead[0])
                for rank, d in enumerate((0, 45, -45, 90, -90, 135, -135, 180)):
                    u = np.array([np.cos(base + np.radians(d)), np.sin(base + np.radians(d))])
                    dist = look.pt(POINT) / 2 + look.pt(5) + _edge(u, w, h)
                    cands.append((c + u * dist, rank))
            else:
                a, b = to_pt(m.at)[0], to_pt(m.tip)[0]
                d = b - a
                n = float(np.hypot(*d)) or 1.0
                normal = np.array([-d[1], d[0]]) / n
                fracs = (1.0, 0.75, 0.5) if m.kind == "ray" else (0.5, 0.62, 0.38, 0.75, 0.25)
                rank = 0
                for t in fracs:
                    for side in (1, -1):
                        u = normal * side
                        dist = look.pt(8) + _edge(u, w, h)
                        cands.append((a + t * d + u * dist, rank))
                        rank += 1
                if m.kind == "ray":
                    u = d / n
                    cands.append((b + u * (look.pt(6) + _edge(u, w, h)), -1))
            life = self._life.get(m.key, set())
            others = [samples[o.key] for o in marks if o.key in samples and self._life.get(o.key, set()) & life]
            obstacles = np.vstack(others) if others else np.zeros((0, 2))
            best = None
            for center, rank in cands:
                x0, x1 = center[0] - w / 2 - 5, center[0] + w / 2 + 5
                y0, y1 = center[1] - h / 2 - 5, center[1] + h / 2 + 5
                hits = np.count_nonzero((obstacles[:, 0] > x0) & (obstacles[:, 0] < x1)
                                        & (obstacles[:, 1] > y0) & (obstacles[:, 1] < y1))
                thits = np.count_nonzero((trail[:, 0] > x0) & (trail[:, 0] < x1)
                                         & (trail[:, 1] > y0) & (trail[:, 1] < y1)) if len(trail) else 0
                overlap = 0.0
                for k2, (bx0, by0, bx1, by1) in boxes.items():
                    if self._life.get(k2, set()) & life:
                        overlap += max(0, min(x1, bx1) - max(x0, bx0)) * max(0, min(y1, by1) - max(y0, by0))
                outside = (max(0, fx0 - x0) + max(0, x1 - fx1)) * h + (max(0, fy0 - y0) + max(0, y1 - fy1)) * w
                score = 40 * hits + 12 * thits + overlap + 3 * outside + 15 * rank
                if best is None or score < best[0]:
                    best = (score, center, (x0, y0, x1, y1))
            _, center, box = best
            boxes[m.key] = box
            anchor = to_pt(m.at)[0] if m.kind == "point" else None
            if anchor is None:
                anchor = to_pt(m.at)[0] + 0.5 * (to_pt(m.tip)[0] - to_pt(m.at)[0])
            data_anchor = ax.transData.inverted().transform(anchor * self.px)
            off = center - anchor
            placed[m.key] = (float(data_anchor[0]), float(data_anchor[1]), float(off[0]), float(off[1]))
        return placed

    # -- marks --------------------------------------------------------------------------------------------------
    def _make(self, m: Mark) -> list:
        """A mark's artists, drawn only by hand (``animated=True``), each with its full opacity."""
        from matplotlib.patches import FancyArrowPatch, Rectangle

        look, th = self.look, self.look.theme
        ink, fill = look.ink[m.role], look.fill[m.role]
        out = []
        if m.kind in ("arrow", "ray", "bar"):
            ax = self.map_ax if m.panel == "map" else self.row_axes[m.panel]
            lw = look.pt(ARROW_WIDTH if m.kind != "bar" else BAR_WIDTH)
            arrow = FancyArrowPatch((0, 0), (1, 1), arrowstyle="-|>" if m.kind != "ray" else "-",
                                    mutation_scale=look.pt(HEAD), lw=lw, color=ink,
                                    linestyle=(0, (3, 2)) if m.dashed else "solid", shrinkA=0, shrinkB=0,
                                    zorder=5, animated=True, joinstyle="miter", capstyle="butt")
            ax.add_patch(arrow)
            out.append(arrow)
            if m.label and m.kind == "bar":
                out.append(ax.annotate(m.label, (0, 0), xytext=(0, 0), textcoords="offset points",
                                       fontsize=look.pt("square"), color=ink, fontweight="bold", va="center",
                                       animated=True, annotation_clip=False))
            elif m.label:
                out.append(self._map_label(m, ink))
        elif m.kind == "point":
            face = th.figure if m.role == "position" else fill
            (pt,) = self.map_ax.plot([m.at[0]], [m.at[1]], "o", ms=look.pt(POINT), mfc=face, mec=th.text,
                                     mew=look.pt(2.4), zorder=7, animated=True)
            out += [pt, self._map_label(m, ink)]
        elif m.kind == "square":
            ax = self.row_axes[m.panel]
            alpha = 0.45 if m.role == "gradient" else 0.28
            rect = Rectangle((m.at[0], 0.0), m.sign * m.side, m.side, facecolor=(*_rgb(fill), alpha),
                             edgecolor=ink, lw=look.pt(2.2), animated=True)
            ax.add_patch(rect)
            out += [rect, ax.text(0, 0, m.label, fontsize=look.pt("square"), color=ink, fontweight="bold",
                                  animated=True)]
        elif m.kind == "row":
            cols = self._table_columns()
            y = self._table_y(m.at[1])
            kw = dict(fontsize=look.pt("table"), color=ink, va="top", animated=True)
            out += [self.fig.text(cols[0], y, m.label, ha="left", **kw),
                    self.fig.text(cols[1], y, _num(m.vec[0]), ha="right", **kw),
                    self.fig.text(cols[2], y, _num(m.vec[1]), ha="right", **kw)]
        return out

    def _map_label(self, m: Mark, ink):
        look, th = self.look, self.look.theme
        x, y, dx, dy = self.labels[m.key]
        return self.map_ax.annotate(
            m.label, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=look.pt("label"), color=ink,
            fontweight="bold", ha="center", va="center", zorder=8, animated=True, annotation_clip=False,
            bbox=dict(boxstyle="round,pad=0.2", fc=th.figure, ec="none", alpha=0.85))

    def _set(self, m: Mark, arts: list, f: float, alpha: float):
        """Draw state of a mark: grown to ``f`` (0..1), at opacity ``alpha``."""
        look = self.look
        g = _ease(f)
        k = m.grow_from + (1.0 - m.grow_from) * g
        text_alpha = alpha * g
        if m.kind in ("arrow", "ray", "bar"):
            arrow = arts[0]
            if m.kind == "bar":
                ax = self.row_axes[m.panel]
                y = self.level_y(m.at[1])
                a, b = (m.at[0], y), (m.at[0] + k * m.vec[0], y)
            else:
                ax = self.map_ax
                a, b = m.at, (m.at[0] + k * m.vec[0], m.at[1] + k * m.vec[1])
            arrow.set_positions(a, b)
            pa, pb = ax.transData.transform([a, b])
            length_pt = float(np.hypot(*(pb - pa))) / self.px
            arrow.set_mutation_scale(min(look.pt(HEAD), 0.8 * length_pt))  # short arrows keep a short head
            arrow.set_visible(length_pt > 0.5)                               # a zero vector is not drawn
            # an arrow ending on the new position stops at the marker's edge, so its head shows
            ends_on = m.panel == "map" and g >= 1 and np.allclose(
                b, self.les.new_position, rtol=0, atol=1e-9 * (1 + float(np.abs(self.les.new_position).max())))
            arrow.shrinkB = look.pt(POINT) / 2 + 1 if ends_on else 0.0
            arrow.set_alpha(alpha)
            self._halo(arrow, alpha)
            if m.kind == "bar" and len(arts) > 1:
                sgn = 1 if m.vec[0] >= 0 else -1
                t = arts[1]
                # above the middle of the bar; a bar added tip to tail to another gets its label
                # below, so the two labels never meet
                t.xy = (m.at[0] + m.vec[0] / 2, y)
                below = m.at[0] != 0
                t.set_position((0, -look.pt(4) if below else look.pt(4)))
                t.set_ha("center")
                t.set_va("top" if below else "bottom")
                t.set_alpha(text_alpha)
            elif len(arts) > 1:
                arts[1].set_alpha(text_alpha)
        elif m.kind == "point":
            arts[0].set_markersize(look.pt(POINT) * (0.3 + 0.7 * g))
            arts[0].set_alpha(alpha)
            arts[1].set_alpha(text_alpha)
        elif m.kind == "square":
            rect, t = arts
            least = MIN_SIDE_PX / self.row_k               # data units of the minimum side
            s = max(m.side * k, least * min(1.0, g * 2))
            rect.set_xy((m.at[0], 0.0))
            rect.set_width(m.sign * s)
            rect.set_height(s)
            rect.set_alpha(None)
            base = 0.45 if m.role == "gradient" else 0.28
            rect.set_facecolor((*_rgb(self.look.fill[m.role]), base * alpha))
            rect.set_edgecolor((*_rgb(self.look.ink[m.role]), alpha))
            side = max(m.side, least)                     # the label goes by the final size: no jumping
            s_pt = side * self.row_k / self.px
            w, h = _text_box(m.label, look.pt("square"))
            if s_pt > max(w, h) + 6:
                t.set_position((m.at[0] + m.sign * side / 2, side / 2))
                t.set_ha("center")
                t.set_va("center")
            else:
                # above the square; squares at the origin read towards it, added ones away from it,
                # a line higher, so two small neighbours never write over each other
                at_origin = m.at[0] == 0
                edge = m.at[0] + m.sign * side if at_origin else m.at[0]
                right = (m.sign > 0) == at_origin
                lift = 3 * self.px + (0 if at_origin else h * self.px)
                t.set_position((edge, side + lift / self.row_k))
                t.set_ha("right" if right else "left")
                t.set_va("bottom")
            t.set_alpha(text_alpha)
        else:
            for t in arts:
                t.set_alpha(text_alpha)
        for t in arts[1:]:
            patch = t.get_bbox_patch() if hasattr(t, "get_bbox_patch") else None
            if patch is not None:   # a label's background follows its text
                patch.set_alpha(0.85 * t.get_alpha())

    def _halo(self, arrow, alpha: float):
        import matplotlib.patheffects as pe

        lw = arrow.get_linewidth()
        arrow.set_path_effects([pe.Stroke(linewidth=lw + self.look.pt(3), foreground=self.look.theme.figure,
                                          alpha=0.75 * alpha), pe.Normal()])

    def _draw(self, arts: list):
        for a in arts:
            if a.axes is not None:
                a.axes.draw_artist(a)
            else:
                self.fig.draw_artist(a)

    # -- frames ----------------------------------------------------------------------------------------------------
    def frames(self, fps: float = FPS, pace: float = 1.0):
        """Yield frames at ``fps``: every sub-step grows in, then holds (the same frame repeated).

        A frame is a view of the canvas's RGBA buffer, valid until the next one is drawn.
        ``pace`` stretches the holds (2.0: twice as long to read each caption).
        """
        les, fig, canvas = self.les, self.fig, self.canvas
        width_pt = 0.94 * fig.get_size_inches()[0] * 72
        shown: dict[str, Mark] = {}
        n_grow = max(1, int(round(GROW * fps)))
        order = {"square": 0, "bar": 1, "ray": 2, "arrow": 3, "point": 4, "row": 5}
        for stage in les.stages:
            leaving = [shown.pop(k) for k in stage.hide if k in shown]
            staying = list(shown.values())
            arriving = sorted(stage.show, key=lambda m: order[m.kind])
            self.caption.set_text(_wrap(stage.caption, width_pt, self.look.pt("caption")))
            # the sub-step's background: the static board, the marks that stay, the caption
            canvas.restore_region(self.static)
            for m in sorted(staying, key=lambda m: order[m.kind]):
                self._set(m, self.artists[m.key], 1.0, 1.0)
                self._draw(self.artists[m.key])
            fig.draw_artist(self.caption)
            base = canvas.copy_from_bbox(fig.bbox)
            frame = None
            for j in range(1, n_grow + 1):
                f = j / n_grow
                canvas.restore_region(base)
                for m in leaving:
                    self._set(m, self.artists[m.key], 1.0, 1.0 - _ease(f))
                    self._draw(self.artists[m.key])
                for m in arriving:
                    self._set(m, self.artists[m.key], f, 1.0)
                    self._draw(self.artists[m.key])
                frame = np.asarray(canvas.buffer_rgba())  # the writer copies what changed
                yield frame
            hold = pace * min(max(len(stage.caption) / READING, HOLD[0]), HOLD[1])
            for _ in range(max(0, int(round(hold * fps)) - 1)):
                yield frame
            for m in arriving:
                shown[m.key] = m

    def stage_ends(self) -> list[np.ndarray]:
        """The board at the end of every sub-step (RGB copies)."""
        return [f[..., :3].copy() for f in self.frames(fps=1.0, pace=0.0)]


# ---- the clip ------------------------------------------------------------------------------------------------
@dataclass
class Clip:
    """A rendered lesson: the file written (``path``), or the GIF bytes kept in memory.

    In Jupyter it displays inline as a GIF (``_repr_mimebundle_``); ``_repr_png_``
    gives the last frame for exports that cannot show animations.
    """

    lesson: Lesson
    path: Path | None
    data: bytes | None
    frames: int
    seconds: float
    last_frame: np.ndarray = field(repr=False, default=None)

    def gif_bytes(self) -> bytes | None:
        if self.data is not None:
            return self.data
        if self.path is not None and self.path.suffix.lower() == ".gif":
            return self.path.read_bytes()
        return None

    def _repr_png_(self) -> bytes | None:
        if self.last_frame is None:
            return None
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(self.last_frame).save(buf, format="PNG", optimize=True)
        return buf.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        out = {"text/plain": repr(self)}
        gif = self.gif_bytes()
        if gif is not None:
            out["image/gif"] = base64.b64encode(gif).decode("ascii")
        png = self._repr_png_()
        if png is not None:
            out["image/png"] = base64.b64encode(png).decode("ascii")
        return out

    def __repr__(self) -> str:
        where = f" -> {self.path}" if self.path is not None else f", {len(self.data or b''):,} bytes in memory"
        return (f"<Clip {self.lesson.method}: {len(self.lesson.stages)} sub-steps, {self.frames} frames, "
                f"{self.seconds:.1f} s{where}>")


def render_lesson(les: Lesson, options, path=None) -> Clip:
    """Render a lesson as a captioned clip (``options``: an ExplainOptions); write ``path`` if given,
    else keep the GIF in memory for a notebook. Returns a :class:`Clip`."""
    from .writers import AnimationWriter

    fps, pace, hold = options.fps, options.pace, options.hold
    board = _Board(les, theme=options.theme, size=options.size, dpi=options.dpi)
    # the palette: the end of every sub-step, so marks that come and go keep their colours
    stage_ends = board.stage_ends()
    samples = np.concatenate([f[::2, ::2] for f in stage_ends], axis=0)
    look = board.look
    exact = list(dict.fromkeys([*look.ink.values(), *look.fill.values(), look.theme.figure, look.theme.text]))
    tmp = None
    target = path
    if path is None:
        tmp = tempfile.TemporaryDirectory()
        target = Path(tmp.name) / f"{les.method}.gif"
    try:
        n = 0
        with AnimationWriter(target, fps=fps, hold=hold, palette_sample=samples, exact_colors=exact,
                             title=f"trajviz explain {les.method}") as writer:
            for frame in board.frames(fps=fps, pace=pace):
                writer.append(frame)
                n += 1
        data = Path(target).read_bytes() if path is None else None
    finally:
        if tmp is not None:
            tmp.cleanup()
    return Clip(lesson=les, path=Path(path) if path is not None else None, data=data, frames=n,
                seconds=n / fps + hold, last_frame=stage_ends[-1])


__all__ = ["render_lesson", "Clip", "FPS"]
