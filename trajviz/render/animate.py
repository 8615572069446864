"""Animations: the paths grow on the contour map, every method racing at once.

>>> import trajviz
>>> anim = trajviz.animate("rosenbrock", "all", path="rosenbrock.gif")    # doctest: +SKIP
>>> anim = trajviz.run("beale", "all").animate(theme="dark", layout="grid")  # doctest: +SKIP
>>> anim.save("beale.webp")                                              # doctest: +SKIP

The picture is the still plot's (:func:`trajviz.render.scene.build_scene`): the
contour map, legend, colour bar and title are drawn once and their pixels
cached; each frame restores those pixels and draws only what moves (the paths
so far, their heads, the marks below, the step counter, the loss curves so far)
before handing the canvas buffer to the writer, which streams it to the file.
Memory does not grow with the number of frames. The last frame draws the same
paths (the same artists, with the same data) as the still plot.

The analogies, drawn from each Trace's recorded diagnostics (no code here names
an optimizer):

* a trace with a ``velocity`` (momentum, Nesterov, Adam, ...) gets an arrow at
  its head: the displacement per step that its momentum carries, in x/y units;
* a trace with a ``step_size`` (AdaGrad, Adadelta, RMSProp, Adam, ...) gets a box
  around its head whose half-width and half-height are the per-axis step
  ``lr / (sqrt(second moment) + eps)`` along x and along y;
* a trace with neither (SGD) gets an arrow along ``-grad``, the raw (noisy)
  slope that pushes it at this step: the drunk walker's stagger.

Scaling: these quantities are tiny (a step is a fraction of a pixel), so each is
drawn at ONE display scale per trace and per kind of mark, constant over all
frames: a shrinking box is a shrinking step, and a tall thin box a step larger
along y than along x (both axes of a box share the scale, and the map's aspect
is equal). The scale maps the 90th percentile of the sizes over the frames shown
(all starts) to :data:`MARK_FRACTION` (9%) of the view's shorter side (an arrow's
length, a box's full width; 15% in the grid layout, whose panels are small and
hold one method each); the few larger marks, usually the first steps,
where AdaGrad's accumulator is still small or the slope is steep, are shortened
to at most :data:`MARK_CAP` times that, keeping their direction and aspect, so
that one early spike does not shrink every later mark to a dot. Marks are drawn
for up to 20 starts per method (swarms get none) and turned off by ``story=False``.
Scales differ between methods: compare a method's marks over time, not
between methods.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..errors import TrajvizError
from . import style as S

MARK_FRACTION = 0.09        # a typical large mark spans this fraction of the view's shorter side
GRID_MARK_FRACTION = 0.15   # in the grid layout, where each small panel has one method
MARK_CAP = 2.0              # and no mark more than this many times that
MARK_QUANTILE = 0.9
NOTEBOOK_WARN_BYTES = 4 * 2**20


# ---- frame budget ----------------------------------------------------------------------------------
def frame_rows(n_rows: int, budget: int) -> np.ndarray:
    """The recorded rows the frames show: evenly spaced from the start to the end, at most
    one frame per row (a short run is not stretched), the last frame the finished paths."""
    n = min(int(budget), int(n_rows))
    if n <= 1:
        return np.array([n_rows - 1], dtype=np.int64)
    return np.floor(np.linspace(0, n_rows - 1, n) + 0.5).astype(np.int64)


# ---- display scale of the story marks --------------------------------------------------------------
def mark_scale(sizes: np.ndarray, target: float) -> float:
    """The factor that draws the :data:`MARK_QUANTILE` quantile of ``sizes`` at ``target``
    (0 when nothing is finite and positive)."""
    s = sizes[np.isfinite(sizes) & (sizes > 0)]
    if s.size == 0:
        return 0.0
    ref = float(np.quantile(s, MARK_QUANTILE))
    if not ref > 0:
        ref = float(s.max())
    return target / ref


def _cap(factor_sizes: np.ndarray, cap: float) -> np.ndarray:
    """Per-mark shrink factors (<= 1) that bring drawn sizes down to ``cap``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(factor_sizes > cap, cap / factor_sizes, 1.0)


def mark_kinds(trace) -> tuple[str | None, bool]:
    """``(arrow, box)``: the arrow a trace gets (``"velocity"``, ``"gradient"`` or None) and
    whether it gets a step-size box, from what it recorded."""
    if trace.velocity is not None:
        arrow = "velocity"
    elif trace.step_size is None:
        arrow = "gradient"
    else:
        arrow = None
    return arrow, trace.step_size is not None


def story_vectors(trace, rows: np.ndarray, view: float, fraction: float = MARK_FRACTION):
    """The arrow (F, N, 2) and box half-sizes (F, N, 2) of a trace at the frames' rows, in
    x/y units (NaN where none is drawn), or None for a mark the trace does not get.

    ``view`` is the length the marks are scaled to (the view's shorter side).
    """
    ok = (trace.valid() & np.isfinite(trace.path).all(-1))[rows]           # (F, N)
    kind, has_box = mark_kinds(trace)
    arrow = box = None
    if kind is not None:
        vec = trace.velocity if kind == "velocity" else -trace.grad
        v = np.where(ok[..., None], vec[rows], np.nan)
        length = np.hypot(v[..., 0], v[..., 1])
        target = fraction * view
        k = mark_scale(length, target)
        if k > 0:
            arrow = v * k * _cap(length * k, MARK_CAP * target)[..., None]
    if has_box:
        b = np.where(ok[..., None], trace.step_size[rows], np.nan)
        half = np.fmax(b[..., 0], b[..., 1])
        target = fraction * view / 2  # a box's half-width
        k = mark_scale(half, target)
        if k > 0:
            box = b * k * _cap(half * k, MARK_CAP * target)[..., None]
    return arrow, box


def _arrow_marker():
    from matplotlib.path import Path as MPath

    w, hw, hl = 0.16, 0.42, 0.55
    return MPath([(-1, -w), (1 - hl, -w), (1 - hl, -hw), (1, 0), (1 - hl, hw), (1 - hl, w), (-1, w), (-1, -w)],
                 closed=True)


def story_key(result, theme, scale: float = 1.0) -> list:
    """Legend entries that say what the arrows and boxes are (only the kinds drawn);
    ``scale`` sizes the marks with the figure's fonts."""
    from matplotlib.lines import Line2D

    th = S.get_theme(theme)
    kinds = [mark_kinds(t) for t in result]
    out = []
    common = dict(linestyle="none", markeredgecolor=th.text, markeredgewidth=1.1 * scale)
    if any(k == "velocity" for k, _ in kinds):
        out.append(Line2D([], [], marker=_arrow_marker(), markersize=15 * scale, markerfacecolor=th.muted,
                          label="arrow: velocity (momentum)", **common))
    if any(b for _, b in kinds):
        out.append(Line2D([], [], marker="s", markersize=10 * scale, markerfacecolor="none",
                          label="box: step size along x, y", **common))
    if any(k == "gradient" for k, _ in kinds):
        out.append(Line2D([], [], marker=_arrow_marker(), markersize=15 * scale, markerfacecolor=th.axes,
                          label="hollow arrow: \u2212gradient (raw slope)", **common))
    return out


# ---- the painter: one figure, cached background, frames drawn on top ------------------------------
class _Track:
    """One start's path of one trace: its line, its end mark, and how much of it each frame shows."""

    __slots__ = ("line", "end", "xy", "shown")

    def __init__(self, line, end, xy, shown):
        self.line, self.end, self.xy, self.shown = line, end, xy, shown


class _Digits:
    """The step counter's digits as cached sprites, pasted into each frame.

    Drawing a text costs more than everything else in a frame, and only the digits
    change: each digit is rendered once (in every place at once), cut out by place,
    and copied into the frame's pixels. The counter's box is opaque and its digits
    are tabular, so the result is the text matplotlib would draw; that is checked
    once, and without an exact match the counter is drawn as text every frame.
    """

    def __init__(self, top: int, bottom: int, slots: list, sprites: dict):
        self.top, self.bottom = top, bottom     # pixel rows of the digits in the frame, top-down
        self.slots = slots                      # [(x0, x1), ...] pixel columns of each place
        self.sprites = sprites                  # "0".."9" -> pixels under all the places

    def paste(self, buf: np.ndarray, step: int, origin: tuple[int, int] = (0, 0)) -> None:
        """Write the digits of ``step`` into ``buf`` (RGBA rows top-down; ``origin`` is the
        frame pixel at ``buf[0, 0]``)."""
        oy, ox = origin
        base = self.slots[0][0]
        for k, ch in enumerate(str(step).rjust(len(self.slots))):
            if ch != " ":
                x0, x1 = self.slots[k]
                buf[self.top - oy:self.bottom - oy, x0 - ox:x1 - ox] = self.sprites[ch][:, x0 - base:x1 - base]

    @classmethod
    def make(cls, painter) -> _Digits | None:
        """Render the sprites on the painter's canvas (its pixels are put back); None if the
        pasted digits would not be exactly the drawn text."""
        text, renderer = painter.counter, painter.renderer
        buf = np.asarray(painter.canvas.buffer_rgba())
        width, fmt, total = painter._counter_digits, painter._counter_format, int(painter.steps[-1])
        box = painter._pinned_boxes()[-1]
        h = buf.shape[0]
        r0, r1 = max(0, h - int(box.y1)), min(h, h - int(box.y0))
        c0, c1 = max(0, int(box.x0)), min(buf.shape[1], int(box.x1))
        gap = chr(0x2007)
        prefix, suffix = "step ", f" / {total}"
        before = buf[r0:r1, c0:c1].copy()

        def render(s: str) -> np.ndarray:
            buf[r0:r1, c0:c1] = before  # drawn over itself, the box's antialiased rim would change
            text.set_text(s)
            text.draw(renderer)
            return buf[r0:r1, c0:c1].copy()

        def ink(img):
            diff = (img != blank).any(-1)
            rows, cols = np.flatnonzero(diff.any(1)), np.flatnonzero(diff.any(0))
            return (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1) if len(rows) else None

        try:
            blank = render(prefix + gap * width + suffix)
            full = {str(d): render(prefix + str(d) * width + suffix) for d in range(10)}
            first = ink(render(prefix + "8" + gap * (width - 1) + suffix))
            # numbers with every digit in every place, and a short one: all must paste exactly
            trials = {n: render(fmt(n)) for n in {total, 7, int("1234567890"[:width]), int("9876543210"[:width]),
                                                  int("5069381742"[:width])}}
            boxes = [ink(img) for img in full.values()]
        finally:
            text.set_text(prefix + gap * width + suffix)
            buf[r0:r1, c0:c1] = before
        if first is None or any(b is None for b in boxes):
            return None
        top, bottom = max(min(b[0] for b in boxes) - 1, 0), min(max(b[1] for b in boxes) + 1, r1 - r0)
        left, right = min(b[2] for b in boxes), max(b[3] for b in boxes)
        ink_w = first[3] - first[2]
        advance = (right - left - ink_w) / (width - 1) if width > 1 else ink_w + 2.0
        pad = max(0.0, (advance - ink_w) / 2)
        edges = [int(round(left - pad + k * advance)) for k in range(width + 1)]
        edges[0], edges[-1] = max(min(edges[0], left), 0), min(max(edges[-1], right), c1 - c0)
        digits = cls(top + r0, bottom + r0, [(edges[k] + c0, edges[k + 1] + c0) for k in range(width)],
                     {d: img[top:bottom, edges[0]:edges[-1]].copy() for d, img in full.items()})
        band = (slice(top, bottom), slice(edges[0], edges[-1]))
        outside = np.ones(before.shape[:2], dtype=bool)
        outside[band] = False
        if not np.array_equal(before[band], blank[band]):
            return None
        for n, drawn in trials.items():
            pasted = before.copy()
            digits.paste(pasted, n, origin=(r0, c0))
            if not np.array_equal(pasted[band], drawn[band]) or ((drawn != blank).any(-1) & outside).any():
                return None
        return digits


class Painter:
    """Draws the frames of an animation onto one figure.

    ``painter.frame(k)`` sets every moving artist to frame k, restores the cached
    static pixels, draws the moving artists and returns the canvas's RGBA buffer
    (a view: copy it to keep it). ``painter.scene`` is the still plot's Scene; after
    the last frame its artists hold the still plot's data.
    """

    def __init__(self, result, rows: np.ndarray, options, *, xlim=None, ylim=None):
        from ..options import replace
        from .plot import draw_losses, draw_paths
        from .scene import SWARM_AT, build_scene

        o = options
        if o.layout == "auto":
            o = replace(o, layout=auto_layout(result, o.story))
        story = o.story and len(result.starts) <= SWARM_AT
        scene = build_scene(result.surface, result, None, o.picture(), xlim=xlim, ylim=ylim,
                            legend_extra=story_key(result, o.theme, _font_scale(o.size, o.dpi)) if story and o.legend
                            else ())
        self.scene = scene
        self.result = result
        self.rows = np.asarray(rows, dtype=np.int64)
        self.steps = scene.traces[0].steps
        self.moving = []        # artists redrawn every frame
        self._updates = []      # callables(k, final) that set the moving artists to frame k
        self._head_sources = {}
        paths = draw_paths(scene)
        if scene.swarm:
            for trace in scene.traces:
                self._swarm(trace, paths[trace.label])
        else:
            for trace in scene.traces:
                self._lines(trace, paths[trace.label])
            self._heads()
            if story:
                self._marks()
        if scene.loss_ax is not None:
            self._losses(draw_losses(scene))
        self._counter()
        self._overlays()
        for a in self.moving:
            a.set_animated(True)
        self.moving.sort(key=lambda a: a.get_zorder())
        scene.settle()
        self._place_counter()
        canvas = scene.fig.canvas
        canvas.draw()
        self.canvas = canvas
        self.renderer = canvas.get_renderer()
        self.background = canvas.copy_from_bbox(scene.fig.bbox)
        # static artists that sit above moving ones (the step counter, a legend inside the loss
        # panel): their pixels are pasted back over each frame
        self._pinned = [canvas.copy_from_bbox(b) for b in self._pinned_boxes()]
        self._digits = _Digits.make(self)
        if self._digits is None:  # an unusual font: draw the counter's text every frame
            self._pinned.pop()
            self._updates.append(lambda k, final: self.counter.set_text(self._counter_text(k)))
        canvas.restore_region(self.background)

    # -- building ---------------------------------------------------------------------------------
    def _lines(self, trace, artists):
        by_gid = {a.get_gid(): a for a in artists}
        ok = trace.valid() & np.isfinite(trace.path).all(-1)                 # (T, N)
        shown = np.cumsum(ok, axis=0)[self.rows]                               # (F, N) points shown
        ax = self.scene.panel[trace.label]
        tracks = []
        for i in range(trace.n_starts):
            line = by_gid.get(f"path:{trace.label}:{i}")
            if line is None:
                continue
            end = next(by_gid[g] for g in (f"{kind}:{trace.label}:{i}" for kind in ("end", "exit", "outside"))
                       if g in by_gid)
            xy = np.ascontiguousarray(line.get_xydata())
            tracks.append(_Track(line, end, xy, shown[:, i]))
            self.moving += [line, end]
        self._head_sources.setdefault(ax, []).append((tracks, self.scene.styles[trace.label].color))

        def update(k, final):
            for t in tracks:
                n = int(t.shown[k])
                t.line.set_data(t.xy[:n, 0], t.xy[:n, 1])
                t.end.set_visible(n >= len(t.xy))

        self._updates.append(update)

    def _heads(self):
        """One marker collection per map for the heads of the unfinished paths (the still
        plot's end marks take over where a path is done)."""
        from matplotlib.colors import to_rgba

        th, fonts = self.scene.theme, self.scene.fonts
        for ax, sources in self._head_sources.items():
            size = (7 * fonts.tick / 10) ** 2
            heads = ax.scatter([], [], s=size, marker="o", edgecolors=th.marker_edge, linewidths=1.0, zorder=5)
            heads.set_gid("heads")
            self.moving.append(heads)
            colors = [(tracks, to_rgba(c)) for tracks, c in sources]

            def update(k, final, heads=heads, colors=colors):
                xy, fc = [], []
                for tracks, color in colors:
                    for t in tracks:
                        n = int(t.shown[k])
                        if 0 < n < len(t.xy):
                            xy.append(t.xy[n - 1])
                            fc.append(color)
                heads.set_offsets(np.array(xy).reshape(-1, 2))
                heads.set_facecolor(fc or "none")
                heads.set_visible(bool(xy))

            self._updates.append(update)

    def _swarm(self, trace, artists):
        from .plot import _swarm_points, swarm_rows

        coll, dots = artists
        final_segments, final_offsets = coll.get_segments(), dots.get_offsets().copy()
        srows = swarm_rows(len(trace.steps), _swarm_points(self.scene))
        ok = trace.valid() & np.isfinite(trace.path).all(-1)                   # (T, N)
        # the thinned paths, NaN after divergence (a NaN vertex breaks a line)
        sub = np.where(ok[srows][..., None], trace.path[srows], np.nan).transpose(1, 0, 2)  # (N, R, 2)
        self.moving += [coll, dots]

        def update(k, final):
            if final:
                coll.set_segments(final_segments)
                dots.set_offsets(final_offsets)
                return
            r = int(self.rows[k])
            j = int(np.searchsorted(srows, r, side="right"))
            head = np.where(ok[r][:, None], trace.path[r], np.nan)
            coll.set_segments(np.concatenate([sub[:, :j], head[:, None]], axis=1))
            dots.set_offsets(head[ok[r]])

        self._updates.append(update)

    def _marks(self):
        from matplotlib.collections import PolyCollection
        from matplotlib.quiver import Quiver

        scene = self.scene
        th, fonts = scene.theme, scene.fonts
        (x0, x1), (y0, y1) = scene.background.xlim, scene.background.ylim
        view = min(x1 - x0, y1 - y0)
        fraction = GRID_MARK_FRACTION if scene.layout == "grid" else MARK_FRACTION
        pt = fonts.tick / 10 * scene.fig.dpi / 72      # one (scaled) point in pixels
        for ax in scene.map_axes:
            arrows = {"velocity": [], "gradient": []}   # (trace, (F, N, 2) vectors, colour)
            boxes = []
            for trace in scene.traces:
                if scene.panel[trace.label] is not ax:
                    continue
                arrow, box = story_vectors(trace, self.rows, view, fraction)
                color = scene.styles[trace.label].color
                if arrow is not None:
                    arrows[mark_kinds(trace)[0]].append((trace, arrow, color))
                if box is not None:
                    boxes.append((trace, box, color))
            if boxes:
                coll = PolyCollection([], closed=True, linewidths=1.5 * pt * 72 / scene.fig.dpi, zorder=4.5)
                ax.add_collection(coll, autolim=False)
                coll.set_gid("boxes")
                self.moving.append(coll)
                self._updates.append(self._box_update(coll, boxes))
            for kind, items in arrows.items():
                if not items:
                    continue
                n = sum(a.shape[1] for _, a, _ in items)
                colors = [c for _, a, c in items for _ in range(a.shape[1])]
                if kind == "velocity":
                    style = dict(color=colors, edgecolor=th.marker_edge, linewidth=0.5 * pt * 72 / scene.fig.dpi)
                else:  # hollow: the slope, not a carried velocity
                    style = dict(color=th.axes, edgecolor=colors, linewidth=1.4 * pt * 72 / scene.fig.dpi)
                q = Quiver(ax, np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), angles="xy",
                           scale_units="xy", scale=1, units="dots", pivot="tail", width=3.0 * pt,
                           headwidth=3.0, headlength=3.4, headaxislength=3.0, minlength=0, minshaft=1.2,
                           zorder=4.6, **style)
                ax.add_collection(q, autolim=False)
                q.set_gid(f"arrows:{kind}")
                self.moving.append(q)
                self._updates.append(self._arrow_update(q, items))

    def _arrow_update(self, q, arrows):
        def update(k, final):
            xy, uv = [], []
            for trace, a, _ in arrows:
                r = int(self.rows[k])
                xy.append(trace.path[r])
                uv.append(a[k])
            xy, uv = np.concatenate(xy), np.concatenate(uv)
            q.set_offsets(np.where(np.isfinite(xy), xy, 0.0))
            q.set_UVC(np.ma.masked_invalid(uv[:, 0]), np.ma.masked_invalid(uv[:, 1]))

        return update

    def _box_update(self, coll, boxes):
        from matplotlib.colors import to_rgba

        def update(k, final):
            verts, edge, face = [], [], []
            r = int(self.rows[k])
            for trace, b, color in boxes:
                centre = trace.path[r]
                for i in range(b.shape[1]):
                    hw, hh = b[k, i]
                    cx, cy = centre[i]
                    if not (np.isfinite(hw) and np.isfinite(hh) and np.isfinite(cx) and np.isfinite(cy)):
                        continue
                    verts.append([(cx - hw, cy - hh), (cx + hw, cy - hh), (cx + hw, cy + hh), (cx - hw, cy + hh)])
                    edge.append(to_rgba(color))
                    face.append(to_rgba(color, 0.16))
            coll.set_verts(verts)
            coll.set_edgecolor(edge)
            coll.set_facecolor(face)

        return update

    def _losses(self, losses):
        from matplotlib.transforms import Bbox

        from .scene import SWARM_AT

        scene = self.scene
        ax = scene.loss_ax
        artists = [a for arts in losses.values() for a in arts]
        self.moving += artists
        th = scene.theme
        heads = []
        for trace in scene.traces:
            if scene.swarm or trace.n_starts > SWARM_AT:
                continue
            st = scene.styles[trace.label]
            valid = trace.valid() & np.isfinite(trace.loss)
            y = np.where(valid, np.maximum(trace.loss - scene.loss_shift, scene.loss_floor), np.nan)
            (h,) = ax.plot([], [], marker="o", linestyle="none", markersize=5 * scene.fonts.tick / 10,
                           markerfacecolor=st.color, markeredgecolor=th.marker_edge, markeredgewidth=0.8,
                           zorder=6)
            heads.append((h, y))
            self.moving.append(h)
        steps = self.steps

        def update(k, final):
            r = int(self.rows[k])
            box = ax.bbox
            x = box.x1 if final else float(ax.transData.transform((steps[r], 1.0))[0])
            clip = Bbox.from_extents(box.x0, box.y0, max(box.x0, min(x + 1, box.x1)), box.y1)
            for a in artists:
                a.set_clip_box(clip)
            for h, y in heads:
                ok = np.isfinite(y[r])
                h.set_data(np.full(int(ok.sum()), steps[r]), y[r][ok])

        self._updates.append(update)

    def _counter(self):
        """The step counter: its box and fixed text are drawn with the static picture; only its
        digits change (see :class:`_Digits`)."""
        scene = self.scene
        th, fonts = scene.theme, scene.fonts
        total = int(self.steps[-1])
        width = len(str(total))
        # digits and U+2007 (figure space) share one width: the box does not twitch as digits appear
        self._counter_format = lambda step: f"step {step:\u2007>{width}d} / {total}"
        self._counter_digits = width
        box = dict(boxstyle="round,pad=0.3", facecolor=th.legend_face, edgecolor=th.legend_edge)
        blank = f"step {chr(0x2007) * width} / {total}"
        if scene.layout == "grid":
            # placed once the layout is done (see _place_counter): in an empty cell, or top right
            text = scene.fig.text(0.99, 0.985, blank, ha="right", va="top", color=th.text,
                                  fontsize=fonts.label * 1.15, zorder=20, bbox=box)
        else:
            ax = scene.map_axes[0]
            (cx, cy), ha, va = self._free_corner()
            pad = 0.02
            text = ax.text(cx + (pad if cx == 0 else -pad), cy + (pad if cy == 0 else -pad), blank,
                           transform=ax.transAxes, ha=ha, va=va, color=th.text, fontsize=fonts.label,
                           zorder=20, bbox=box)
        text.set_gid("counter")
        self.counter = text

    def _counter_text(self, k: int) -> str:
        return self._counter_format(int(self.steps[int(self.rows[k])]))

    def _place_counter(self):
        """In the grid layout, the step counter goes in the centre of the first empty cell."""
        scene = self.scene
        if scene.layout != "grid":
            return
        axes = list(scene.map_axes) + ([scene.loss_ax] if scene.loss_ax is not None else [])
        gs = axes[0].get_subplotspec().get_gridspec()
        rows, cols = gs.get_geometry()
        used = len(axes)
        if used >= rows * cols or used < cols:
            return
        above = axes[used - cols].get_position()      # same column, one row up
        left = axes[used - 1].get_position()          # same row
        x = (above.x0 + above.x1) / 2
        y = (left.y0 + left.y1) / 2
        self.counter.set_position((x, y))
        self.counter.set_horizontalalignment("center")
        self.counter.set_verticalalignment("center")

    def _free_corner(self):
        """The map corner farthest from every path point, start and minimum (in axes units)."""
        scene = self.scene
        (x0, x1), (y0, y1) = scene.background.xlim, scene.background.ylim
        pts = [np.asarray(self.result.starts).reshape(-1, 2), np.asarray(scene.surface.minima).reshape(-1, 2)]
        for trace in scene.traces:
            p = trace.path[:, : min(trace.n_starts, 200)].reshape(-1, 2)
            pts.append(p[np.isfinite(p).all(-1)])
        pts = np.concatenate(pts)
        u = np.column_stack([(pts[:, 0] - x0) / (x1 - x0), (pts[:, 1] - y0) / (y1 - y0)])
        corners = [((1, 1), "right", "top"), ((0, 1), "left", "top"), ((1, 0), "right", "bottom"),
                   ((0, 0), "left", "bottom")]
        best, best_d = corners[0], -1.0
        for c in corners:
            # the counter is wide and short: distances along x count less
            d = np.min(np.hypot((u[:, 0] - c[0][0]) / 2.5, u[:, 1] - c[0][1])) if len(u) else 1.0
            if d > best_d + 1e-9:
                best, best_d = c, d
        return best

    def _overlays(self):
        """Static artists drawn above the moving ones (starts, minima, notes) join the moving ones."""
        moving = set(map(id, self.moving))
        low = min((a.get_zorder() for a in self.moving), default=3)
        axes = list(self.scene.map_axes) + ([self.scene.loss_ax] if self.scene.loss_ax is not None else [])
        self._pinned_legends = []
        for ax in axes:
            if ax.get_legend() is not None and ax.get_legend().get_visible():
                self._pinned_legends.append(ax.get_legend())
            for a in [*ax.lines, *ax.collections, *ax.texts, *ax.patches]:
                if id(a) not in moving and a is not self.counter and a.get_visible() and a.get_zorder() >= low:
                    self.moving.append(a)

    def _pinned_boxes(self):
        from matplotlib.text import Text
        from matplotlib.transforms import Bbox

        out = []
        for a in [*self._pinned_legends, self.counter]:
            b = a.get_window_extent(self.renderer)
            if isinstance(a, Text) and a.get_bbox_patch() is not None:
                b = Bbox.union([b, a.get_bbox_patch().get_window_extent(self.renderer)])
            out.append(Bbox.from_extents(math.floor(b.x0) - 1, math.floor(b.y0) - 1, math.ceil(b.x1) + 1,
                                         math.ceil(b.y1) + 1))
        return out

    # -- drawing ----------------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        return len(self.rows)

    def set_frame(self, k: int) -> None:
        """Set every moving artist to frame ``k`` (the last frame is the still plot)."""
        final = k == len(self.rows) - 1
        for update in self._updates:
            update(k, final)

    def frame(self, k: int) -> np.ndarray:
        """Frame ``k`` as an (H, W, 4) RGBA view of the canvas buffer."""
        self.set_frame(k)
        canvas, renderer = self.canvas, self.renderer
        canvas.restore_region(self.background)
        for a in self.moving:
            if a.get_visible():
                a.draw(renderer)
        for region in self._pinned:
            canvas.restore_region(region)
        buf = np.asarray(canvas.buffer_rgba())
        if self._digits is not None:
            self._digits.paste(buf, int(self.steps[int(self.rows[k])]))
        else:
            self.counter.draw(renderer)
        return buf

    def exact_colors(self) -> list[str]:
        """Colours that must stay exact in a GIF palette: the methods' and the theme's text and marks."""
        th = self.scene.theme
        out = [s.color for s in self.scene.styles.values()]
        out += [th.text, th.muted, th.marker_edge, th.star_face, th.star_edge, th.start_face, th.figure,
                th.legend_face, th.legend_edge, th.spine]
        return out


def _font_scale(size, dpi) -> float:
    return S.Fonts.for_figure(*S.figsize(size, dpi)).legend / 10.5


def auto_layout(result, story: bool = True) -> str:
    """The ``auto`` layout: ``overlay``, every method on one map, since the race is the point
    of an animation; a swarm of several methods gets a panel each, as in the still plot."""
    from .scene import SWARM_AT

    return "grid" if len(result.starts) > SWARM_AT and len(result) > 1 else "overlay"


# ---- the Animation object ----------------------------------------------------------------------------
class Animation:
    """An animation of a Result: write it with :meth:`save`; in Jupyter it shows inline as a GIF.

    Attributes:
        path: the file last written (None until saved).
        frames: the number of frames (before identical neighbours are merged).
        fps, hold: frames per second, and seconds the last frame is held.
        scene: the Scene of the last frame (the still plot's artists and data), built on demand.
    """

    def __init__(self, result, rows: np.ndarray, options, *, xlim=None, ylim=None):
        self.result = result
        self.rows = np.asarray(rows, dtype=np.int64)
        self.fps = options.fps
        self.hold = options.hold
        self.progress = options.progress
        self.options = options
        self.view = (xlim, ylim)
        self.path: Path | None = None
        self._painter: Painter | None = None
        self._gif: bytes | None = None
        self._png: bytes | None = None

    @property
    def frames(self) -> int:
        return len(self.rows)

    @property
    def duration(self) -> float:
        """Seconds of one loop: the frames, then the hold."""
        return self.frames / self.fps + self.hold

    @property
    def size(self) -> tuple[int, int]:
        w, h = S.figsize(self.options.size, self.options.dpi)
        dpi = S.DEFAULT_DPI if self.options.dpi is None else self.options.dpi
        return int(round(w * dpi)), int(round(h * dpi))

    def __repr__(self) -> str:
        w, h = self.size
        where = f" -> {self.path}" if self.path else ""
        return (f"<Animation {self.result.surface.spec}: {', '.join(self.result.labels)}; {self.frames} frames "
                f"at {self.fps:g} fps, {w}x{h}{where}>")

    def painter(self) -> Painter:
        return Painter(self.result, self.rows, self.options, xlim=self.view[0], ylim=self.view[1])

    def save(self, path, *, progress: bool | None = None) -> Path:
        """Write the animation to ``path`` (.gif, .webp, .png, .mp4, .html), atomically."""
        from .writers import AnimationWriter, check_animation_path

        path = check_animation_path(path)
        painter = self.painter()
        n = painter.frames
        sample = painter.frame(n - 1)[..., :3].copy()  # the finished picture seeds the palette
        show = self.progress if progress is None else progress
        with AnimationWriter(path, fps=self.fps, hold=self.hold, palette_sample=sample,
                             exact_colors=painter.exact_colors(), title=_page_title(self.result)) as writer:
            with _progress(n, show) as bar:
                for k in range(n):
                    writer.append(painter.frame(k))
                    bar.update(1)
        self._painter = painter
        self.path = path
        if path.suffix.lower() == ".gif" and path.stat().st_size <= 4 * NOTEBOOK_WARN_BYTES:
            self._gif = path.read_bytes()
        return path

    @property
    def scene(self):
        """The Scene in its last frame: the still plot's artists and data, plus the moving marks."""
        if self._painter is None:
            painter = self.painter()
            painter.frame(painter.frames - 1)
            self._painter = painter
        return self._painter.scene

    def last_frame(self) -> np.ndarray:
        """The last frame as an (H, W, 3) RGB array."""
        painter = self._painter or self.painter()
        self._painter = painter
        return painter.frame(painter.frames - 1)[..., :3].copy()

    # -- notebooks ----------------------------------------------------------------------------------
    def to_gif(self) -> bytes:
        """The animation as GIF bytes (rendered once, then kept)."""
        if self._gif is None:
            with tempfile.TemporaryDirectory() as tmp:
                target = Path(tmp) / "animation.gif"
                kept = self.path
                self.save(target, progress=False)
                self.path = kept
                self._gif = target.read_bytes()
        return self._gif

    def _repr_png_(self) -> bytes:
        if self._png is None:
            from PIL import Image

            buf = io.BytesIO()
            Image.fromarray(self.last_frame()).save(buf, format="PNG", optimize=True)
            self._png = buf.getvalue()
        return self._png

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        gif = self.to_gif()
        if len(gif) > NOTEBOOK_WARN_BYTES:
            warnings.warn(f"this animation is a {len(gif) / 2**20:.1f} MB GIF inside the notebook; pass "
                          f"frames= (now {self.frames}) or a smaller size= to make it lighter, or save() it "
                          f"to a file", stacklevel=2)
        return {"image/gif": base64.b64encode(gif).decode("ascii"),
                "image/png": base64.b64encode(self._repr_png_()).decode("ascii"),
                "text/plain": repr(self)}


def _page_title(result) -> str:
    return f"trajviz: {result.surface.spec}"


@contextlib.contextmanager
def _progress(n: int, show: bool):
    if not show:
        yield _NoBar()
        return
    import click

    with click.progressbar(length=n, label="rendering frames", file=sys.stderr, show_eta=True,
                           show_pos=True) as bar:
        yield bar


class _NoBar:
    def update(self, n):
        pass


# ---- public entry point ---------------------------------------------------------------------------------
def animate_result(result, options=None, path=None, *, xlim=None, ylim=None) -> Animation:
    """Animate a Result's paths growing on the contour map; write ``path`` if given.

    ``options`` is an :class:`~trajviz.options.AnimateOptions` (fps, duration or frames: the
    frame budget, default 6 s; hold; story: the velocity arrows, step boxes and -grad arrows;
    and every picture option). Long runs are subsampled to the budget; short runs get one
    frame per recorded step, never more. ``path``: .gif, .webp, .png (APNG), .mp4 (mp4 extra)
    or .html; None to only return the Animation (it renders when saved or shown in Jupyter).

    >>> import trajviz
    >>> r = trajviz.run("rosenbrock", "all", steps=300)               # doctest: +SKIP
    >>> anim = r.animate("rosenbrock.gif", frames=100)                  # doctest: +SKIP
    """
    from ..options import AnimateOptions

    options = options or AnimateOptions()
    if path is not None:
        from .writers import check_animation_path

        check_animation_path(path)
    if not len(result):
        raise TrajvizError("nothing to animate: the result has no optimizer")
    rows = frame_rows(len(next(iter(result)).steps), options.budget)
    anim = Animation(result, rows, options, xlim=xlim, ylim=ylim)
    if path is not None:
        anim.save(path)
    return anim


__all__ = ["animate_result", "Animation", "Painter", "frame_rows", "story_vectors", "mark_kinds", "story_key",
           "mark_scale", "MARK_FRACTION", "GRID_MARK_FRACTION", "MARK_CAP"]
