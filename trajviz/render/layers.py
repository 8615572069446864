"""The moving parts of a picture, one layer per kind; each owns its artists and ``update(k)``.

* :class:`Paths`: thin lines with a dot at every iterate over a casing in the background
  colour (crossing lines stay apart); in animations the trail fades (recent steps strong,
  old ones faint), so noise reads as stagger.
* :class:`Heads`: the current position of every path, in the method's marker shape
  (a second cue besides colour), drawn above the minimum's star.
* :class:`Labels`: each method's name next to its head (see :mod:`.labels`).
* :class:`Marks`: the analogies at the heads, from the run's recorded state: the velocity
  momentum carries (filled arrow), SGD's step along the raw slope (hollow arrow), the
  per-axis step size (box). One display scale per kind of mark for every method, shown
  in the key; marks stay inside the map (shortened, tagged "÷k") and never vanish (a box is never
  smaller than the head it frames).
* :class:`Losses`: the loss curves growing in sync, each labelled at its end.
* :class:`Swarm`: thousands of paths of one method as one translucent collection.

A layer is built for a list of frame rows (the recorded step each frame shows) and
``still=True`` for the single frame of a still picture (real text artists, no fading).
In animations text is pasted from sprites rendered once (:class:`~.blit.Sprite`).
Nothing here names an optimizer: every fact comes from the traces.
"""

from __future__ import annotations

import math

import numpy as np

from . import labels as L

FADE_ROWS = 40          # the trail's fade, in recorded steps
FADE_FLOOR = 0.28       # opacity of the oldest part of a trail
MARK_FRACTION = 0.07    # a typical mark spans this fraction of the map's shorter side
MARK_CAP = 2.0          # no mark longer than this many times the typical one (then tagged)
MARK_MIN_PX = 7.0       # no mark shorter than this (the smallest steps stay visible)
BOX_CLEARANCE_PX = 3.0  # a box's half side is at least the head's radius plus this
MARK_QUANTILE = 0.75


def rgba(color, alpha=1.0):
    from matplotlib.colors import to_rgba

    return to_rgba(color, alpha)


def buffer_region(bbox, shape, pad: int = 0) -> tuple[int, int, int, int]:
    """The rows and columns (r0, r1, c0, c1) of a frame buffer of ``shape`` (rows top-down) that a
    display box (y up) covers, ``pad`` pixels around it, clamped to the buffer."""
    h, w = shape[0], shape[1]
    return (max(int(h - bbox.y1) - pad, 0), min(int(math.ceil(h - bbox.y0)) + pad, h),
            max(int(bbox.x0) - pad, 0), min(int(math.ceil(bbox.x1)) + pad, w))


class Layer:
    """A group of moving artists and how they look at frame ``k``."""

    def __init__(self):
        self.artists: list = []

    def update(self, k: int) -> None:  # pragma: no cover - every layer overrides it
        pass

    def paste(self, buf: np.ndarray) -> None:
        """Paste this frame's sprites into the frame's pixels (animations only)."""

    def prerender(self, blitter) -> None:
        """Draw, once, what later frames copy pixels from (animations only; after the freeze)."""

    def underlay(self, buf: np.ndarray) -> None:
        """Copy this frame's pre-rendered pixels into the frame, below every moving artist."""


# ---- paths ---------------------------------------------------------------------------------------------
class Paths(Layer):
    """Every 2D path of the picture in three collections: the casings, the lines (the trail's
    fade in a few bands of opacity: older bands faint), and a dot at every iterate.

    In an animation the faded past of every trail (its casing and its faintest band) is drawn
    into a picture of its own, kept while that past does not change (its edge moves in steps of
    FADE_ROWS / BANDS recorded steps) and copied under each frame; only the fresh trails are
    drawn per frame."""

    BANDS = 4   # opacity bands of a fading trail

    def __init__(self, scene, rows: np.ndarray, still: bool):
        super().__init__()
        from matplotlib.collections import LineCollection
        from matplotlib.lines import Line2D

        self.rows = rows
        self.still = still
        th, fonts = scene.theme, scene.fonts
        lw = fonts.line
        self.groups = []     # per map axes: dict of its collections, items and the past's cache

        def collections(ax, gid):
            casing = LineCollection([], colors=[rgba(th.axes, 0.8)], linewidths=lw + 2.4 * fonts.scale,
                                    capstyle="round", joinstyle="round", zorder=3)
            lines = LineCollection([], linewidths=lw, capstyle="round", joinstyle="round", zorder=3.1)
            for c, name in ((casing, "casings"), (lines, "paths")):
                ax.add_collection(c, autolim=False)
                c.set_gid(name + gid)
            return casing, lines

        for ax in scene.map_axes:
            items = []
            for trace in scene.traces:
                if scene.panel[trace.label] is not ax:
                    continue
                ok = trace.ok()
                shown = np.cumsum(ok, axis=0)
                st = scene.styles[trace.label]
                # a dot at every iterate, one marker line per method: Agg stamps one rendered marker
                # at every point (a collection with a colour per dot costs ~5 us a dot to draw)
                dots = Line2D([], [], linestyle="none", marker="o", markersize=fonts.dot, markeredgewidth=0,
                              markerfacecolor=st.color, zorder=3.2)
                dots.set_gid(f"dots-{len(self.artists)}")   # ids stay unique in an SVG
                ax.add_line(dots)
                self.artists.append(dots)
                per_start = []
                for i in range(trace.n_starts):
                    p = trace.path[:, i][ok[:, i]]
                    if len(p):
                        per_start.append((p, shown[:, i]))
                items.append((per_start, np.asarray(rgba(st.color)), st.linestyle, dots))
            if not items:
                continue
            casing, lines = collections(ax, "")
            self.artists += [casing, lines]
            group = {"ax": ax, "casing": casing, "lines": lines, "items": items, "past": None, "key": None,
                     "cache": None, "cache_key": None}
            if not still:
                past = collections(ax, "-past")
                for c in past:
                    c.set_animated(True)   # drawn by underlay, not in the frozen picture nor per frame
                group["past"] = past
            self.groups.append(group)

    def update(self, k: int) -> None:
        r = int(self.rows[k])
        for g in self.groups:
            cas, segs, colors, styles = [], [], [], []
            old_cas, old_segs, old_colors, old_styles, key = [], [], [], [], []
            for per_start, color, style, dots in g["items"]:
                pts = []
                for p, shown in per_start:
                    n = int(shown[r])
                    if n == 0:
                        key.append(0)
                        continue
                    if self.still or n <= 1:
                        bands = [(0, n, 1.0)]
                    else:
                        bands = _bands(n, self.BANDS)
                    past = 0
                    if g["past"] is not None and len(bands) == self.BANDS:
                        # the faintest band, from the start, is the past: drawn once, with its casing
                        lo, hi, alpha = bands[0]
                        past = hi
                        old_cas.append(p[:hi + 1])
                        old_segs.append(p[:hi + 1])
                        old_colors.append((*color[:3], alpha))
                        old_styles.append(style)
                        bands = bands[1:]
                    key.append(past)
                    cas.append(p[past:n])
                    for lo, hi, alpha in bands:
                        if hi - lo >= 1:
                            segs.append(p[lo:hi + (1 if hi < n else 0)])
                            colors.append((*color[:3], alpha))
                            styles.append(style)
                    # a dot at every iterate: on the whole path in a still, on the fresh trail in a frame
                    # (where step length and bouncing are read)
                    pts.append(p[0 if self.still else max(n - FADE_ROWS, 0):n])
                xy = np.concatenate(pts) if pts else np.empty((0, 2))
                dots.set_data(xy[:, 0], xy[:, 1])
            g["casing"].set_segments(cas)
            g["lines"].set_segments(segs)
            g["lines"].set_color(colors)
            g["lines"].set_linestyle(styles or "solid")
            if g["past"] is not None:
                g["key"] = tuple(key)
                if g["key"] != g["cache_key"]:
                    old_casing, old_lines = g["past"]
                    old_casing.set_segments(old_cas)
                    old_lines.set_segments(old_segs)
                    old_lines.set_color(old_colors)
                    old_lines.set_linestyle(old_styles or "solid")

    def prerender(self, blitter) -> None:
        self.renderer = blitter.renderer

    def underlay(self, buf: np.ndarray) -> None:
        for g in self.groups:
            if g["past"] is None:
                continue
            r0, r1, c0, c1 = buffer_region(g["ax"].bbox, buf.shape, pad=2)
            if g["key"] != g["cache_key"]:
                if any(g["key"]):
                    for c in g["past"]:
                        c.draw(self.renderer)
                g["cache"] = buf[r0:r1, c0:c1].copy()
                g["cache_key"] = g["key"]
            else:
                buf[r0:r1, c0:c1] = g["cache"]


def _bands(n: int, bands: int):
    """A trail of n points cut in opacity bands: the newest FADE_ROWS/bands points fully opaque,
    older bands fainter, everything older than FADE_ROWS at FADE_FLOOR. Band edges sit at fixed
    step multiples, so a point's opacity changes only a few times (small GIF deltas)."""
    width = FADE_ROWS // bands
    out = []
    top = n
    edge = (n - 1) // width * width          # the newest band starts on a multiple of its width
    for b in range(bands):
        lo = max(edge - b * width, 0) if b < bands - 1 else 0
        alpha = 1.0 - (1.0 - FADE_FLOOR) * b / (bands - 1)
        if top - lo > 0:
            out.append((lo, top, alpha))
        top = lo
        if lo == 0:
            break
    return out[::-1]


class Paths3D(Layer):
    """Paths lying on the 3D surface, each a line a hair above the mesh (no fading: depth reads
    poorly through transparency), with its head."""

    def __init__(self, scene, rows: np.ndarray):
        super().__init__()
        self.rows = rows
        self.items = []
        th, fonts = scene.theme, scene.fonts
        for z, trace in enumerate(scene.traces):
            ax = scene.panel[trace.label]
            st = scene.styles[trace.label]
            ok = trace.ok()
            shown = np.cumsum(ok, axis=0)
            for i in range(trace.n_starts):
                p = trace.path[:, i][ok[:, i]]
                if not len(p):
                    continue
                h = scene.surface_heights(_densify(p))
                line, = ax.plot([], [], [], color=st.color, linestyle=st.linestyle, linewidth=fonts.line * 1.3,
                                zorder=4 + 0.01 * z)
                head, = ax.plot([], [], [], marker=trace.marker, linestyle="none", markersize=fonts.head,
                                markerfacecolor=st.color, markeredgecolor=th.marker_edge,
                                markeredgewidth=1.1 * fonts.scale, zorder=8 + 0.01 * z)
                line.set_gid(f"path:{trace.label}:{i}")
                head.set_gid(f"head:{trace.label}")
                self.artists += [line, head]
                self.items.append((p, _densify(p), h, shown[:, i], line, head))

    def update(self, k: int) -> None:
        r = int(self.rows[k])
        for p, dense, h, shown, line, head in self.items:
            n = int(shown[r])
            m = (n - 1) * DENSIFY + 1 if n > 0 else 0
            line.set_data_3d(dense[:m, 0], dense[:m, 1], h[:m])
            if n:
                head.set_data_3d([dense[m - 1, 0]], [dense[m - 1, 1]], [h[m - 1]])
            else:
                head.set_data_3d([], [], [])


DENSIFY = 6   # points per step on a 3D path, so it follows the surface instead of cutting through it


def _densify(p: np.ndarray) -> np.ndarray:
    """Points along the path's straight steps (each step cut in DENSIFY pieces): a path lying on a
    curved surface needs its heights between the iterates too, or it saws through the mesh."""
    if len(p) < 2:
        return p.copy()
    t = np.linspace(0, 1, DENSIFY, endpoint=False)
    seg = p[:-1, None, :] + t[None, :, None] * (p[1:] - p[:-1])[:, None, :]
    return np.concatenate([seg.reshape(-1, 2), p[-1:]])


# ---- heads ---------------------------------------------------------------------------------------------------
def head_positions(trace, rows) -> np.ndarray:
    """(F, N, 2) each path's head at each frame (its last drawable point up to that row; NaN if none)."""
    ok = trace.ok()
    shown = np.cumsum(ok, axis=0)[rows]                          # (F, N)
    out = np.full((len(rows), trace.n_starts, 2), np.nan)
    for i in range(trace.n_starts):
        p = trace.path[:, i][ok[:, i]]
        n = shown[:, i]
        has = n > 0
        out[has, i] = p[n[has] - 1]
    return out


class Heads(Layer):
    """The heads in each method's own marker (one collection per map); a path that diverged ends
    in an X where it left the map, one that ended outside the map in an arrowhead on the border."""

    def __init__(self, scene, rows: np.ndarray):
        super().__init__()
        from matplotlib.collections import PathCollection
        from matplotlib.markers import MarkerStyle
        from matplotlib.transforms import IdentityTransform

        self.rows = rows
        th, fonts = scene.theme, scene.fonts
        (x0, x1), (y0, y1) = scene.xlim, scene.ylim
        self.per_trace = []
        self.groups = []
        size = fonts.head ** 2
        for ax in scene.map_axes:
            items = []
            for trace in scene.traces:
                if scene.panel[trace.label] is not ax:
                    continue
                # a path that diverged at its first step has only its start: its X goes beside the
                # start circle (the two markers' radii apart), toward where the step went
                gap = (0.95 * fonts.head / 2 + fonts.head / 2 + 2) * scene.fig.dpi / 72
                px = (ax.bbox.width / (x1 - x0), ax.bbox.height / (y1 - y0))
                pos, ends, angle = _heads_and_ends(trace, rows, (x0, x1), (y0, y1), gap, px)
                pos = scene.snap(ax, pos)
                items.append((pos, ends, angle, scene.styles[trace.label].color, trace.marker))
                self.per_trace.append(pos)
            coll = PathCollection([], sizes=[size], offsets=np.empty((0, 2)), offset_transform=ax.transData,
                                  transform=IdentityTransform(), edgecolors=th.marker_edge,
                                  linewidths=1.2 * fonts.scale, zorder=8)
            ax.add_collection(coll, autolim=False)
            coll.set_gid("heads")
            self.artists.append(coll)
            self.groups.append((coll, items))
        self._paths = {}
        self._marker = MarkerStyle

    def _path(self, marker, angle: float = 0.0):
        key = (marker, round(angle, 1))
        if key not in self._paths:
            m = self._marker(marker)
            tr = m.get_transform()
            if angle:
                tr = tr.rotate_deg(angle)
            self._paths[key] = m.get_path().transformed(tr)
        return self._paths[key]

    def update(self, k: int) -> None:
        for coll, items in self.groups:
            offs, paths, faces = [], [], []
            for pos, ends, angle, color, marker in items:
                for i in range(pos.shape[1]):
                    p = pos[k, i]
                    if not np.isfinite(p).all():
                        continue
                    e = ends[k, i]
                    offs.append(p)
                    paths.append(self._path(marker if e == 0 else "X" if e == 1 else ">", angle[k, i] if e == 2 else 0))
                    faces.append(color)
            coll.set_offsets(np.array(offs).reshape(-1, 2))
            coll.set_paths(paths)
            coll.set_facecolor(faces or "none")

    def positions(self, k: int):
        """Each trace's (N, 2) head positions at frame k (data units)."""
        return [pos[k] for pos in self.per_trace]


def _heads_and_ends(trace, rows, xlim, ylim, gap: float = 0.0, px=(1.0, 1.0)):
    """Per frame and start: where the head is drawn, as what (0 head, 1 diverged X, 2 ended
    outside the map: an arrowhead on the border), and the arrowhead's angle. A path that diverged
    at its first step gets its X ``gap`` pixels from its start (``px``: pixels per unit along x
    and y), toward -grad there."""
    ok = trace.ok()
    shown = np.cumsum(ok, axis=0)
    F, N = len(rows), trace.n_starts
    pos = np.full((F, N, 2), np.nan)
    ends = np.zeros((F, N), dtype=np.int8)
    angle = np.zeros((F, N))
    for i in range(N):
        p = trace.path[:, i][ok[:, i]]
        if not len(p):
            continue
        inside = ((p[:, 0] >= xlim[0]) & (p[:, 0] <= xlim[1]) & (p[:, 1] >= ylim[0]) & (p[:, 1] <= ylim[1]))
        last_in = np.maximum.accumulate(np.where(inside, np.arange(len(p)), -1))
        diverged = trace.diverged_at[i] >= 0
        for f, r in enumerate(rows):
            n = int(shown[r, i])
            if n == 0:
                continue
            done = n == len(p) and (diverged or f == F - 1)
            if inside[n - 1]:
                pos[f, i] = p[n - 1]
                ends[f, i] = 1 if done and diverged else 0
                if done and diverged and len(p) == 1 and gap > 0:
                    d = _first_direction(trace, i) * np.asarray(px)      # in pixels
                    pos[f, i] = p[0] + gap * d / np.hypot(*d) / np.asarray(px)
                continue
            j = int(last_in[n - 1])
            if j < 0:
                continue                     # never inside the map: nothing to draw
            a, d = p[j], p[j + 1] - p[j]
            pos[f, i] = _to_border(a, d, xlim, ylim)
            angle[f, i] = math.degrees(math.atan2(d[1], d[0]))
            ends[f, i] = 1 if done and diverged else 2
    return pos, ends, angle


def _first_direction(trace, i: int) -> np.ndarray:
    """The unit direction of path i's first step (-grad at its start), or up-right if unknown."""
    g = None if trace.grad is None else np.asarray(trace.grad[0, i], dtype=float)
    if g is not None and np.isfinite(g).all() and np.hypot(*g) > 0:
        return -g / np.hypot(*g)
    return np.array([math.sqrt(0.5), math.sqrt(0.5)])


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
    return _to_border(path[j], path[j + 1] - path[j], xlim, ylim)


def _to_border(a, d, xlim, ylim) -> np.ndarray:
    """Where the step from ``a`` by ``d`` (starting inside the view) crosses the view's border
    (``a + d`` if it does not)."""
    t = 1.0
    for k, (lo, hi) in enumerate((xlim, ylim)):
        if d[k] > 0:
            t = min(t, (hi - a[k]) / d[k])
        elif d[k] < 0:
            t = min(t, (lo - a[k]) / d[k])
    return a + max(t, 0.0) * d


def _last_inside(p, xlim, ylim) -> int:
    inside = (p[:, 0] >= xlim[0]) & (p[:, 0] <= xlim[1]) & (p[:, 1] >= ylim[0]) & (p[:, 1] <= ylim[1])
    return int(np.flatnonzero(inside)[-1])


# ---- labels --------------------------------------------------------------------------------------------------
class Labels(Layer):
    """Method names at their heads (one label per method, at its first start's head)."""

    def __init__(self, scene, heads: Heads, rows: np.ndarray, still: bool):
        super().__init__()
        from matplotlib.collections import LineCollection

        self.scene, self.heads, self.rows, self.still = scene, heads, rows, still
        fonts = scene.fonts
        self.entries = []   # (trace index, ax, text, colour)
        for j, trace in enumerate(scene.traces):
            self.entries.append((j, scene.panel[trace.label], scene.label_text(trace), scene.styles[trace.label].color))
        self.axes = list(dict.fromkeys(ax for _, ax, _, _ in self.entries))
        self.leaders = {}
        for ax in self.axes:
            coll = LineCollection([], linewidths=1.8 * fonts.scale, zorder=9)
            ax.add_collection(coll, autolim=False)
            coll.set_gid("leaders")
            self.leaders[ax] = coll
            self.artists.append(coll)
        self.sprites = [scene.sprite(text, color) for _, _, text, color in self.entries]
        self.sizes = np.array([s.size for s in self.sprites], dtype=float)
        self.texts = []
        if still:
            for (j, ax, text, color), s in zip(self.entries, self.sprites):
                t = scene.label_artist(ax, text, color)
                self.texts.append(t)
                self.artists.append(t)
        self.prev = None
        self.placed = None     # per entry: (centre px (x, y up), far) at the current frame
        self.plan = None       # an animation's places, frame by frame
        self.obstacles = {ax: scene.obstacles_px(ax) for ax in self.axes}   # the starts and minima: fixed

    def _heads_px(self, k: int):
        """Every head on each axes (pixels, y up), and each label's own head."""
        per_ax = {ax: [] for ax in self.axes}
        own = np.full((len(self.entries), 2), np.nan)
        positions = self.heads.positions(k)
        for (j, ax, _, _), pos in zip(self.entries, positions):
            px = self.scene.to_px(ax, pos)
            per_ax[ax].append(px)
            own[j] = px[0]
        return {ax: np.concatenate(v) if v else np.zeros((0, 2)) for ax, v in per_ax.items()}, own

    def update(self, k: int) -> None:
        if not self.still:
            # an animation's labels are placed for every frame in order, once: a label prefers last
            # frame's place, so frame k's places depend on the frames before it, and any frame can
            # then be drawn in any order (or by another process) and come out the same
            if self.plan is None:
                self.plan = []
                for j in range(len(self.rows)):
                    self._place(j)
                    self.plan.append(self.placed)
            self.placed = self.plan[k]
            self._set_leaders()
            return
        self._place(k)
        self._set_leaders()

    def _place(self, k: int) -> None:
        per_ax, own = self._heads_px(k)
        centers = np.full((len(self.entries), 2), np.nan)
        far = np.zeros(len(self.entries), dtype=bool)
        for ax in self.axes:
            idx = [j for j, (_, a, _, _) in enumerate(self.entries) if a is ax]
            bounds = self.scene.axes_px(ax)
            prev = None if self.prev is None else self.prev[idx]
            c, f = L.place(own[idx], self.sizes[idx], bounds, prev, obstacles=list(per_ax[ax]) + self.obstacles[ax])
            centers[idx], far[idx] = c, f
        self.prev = centers
        self.placed = (centers, far, own)

    def _set_leaders(self) -> None:
        centers, far, own = self.placed
        for ax in self.axes:
            segs = []
            for j, (_, a, _, color) in enumerate(self.entries):
                if a is ax and far[j] and np.isfinite(centers[j]).all():
                    segs.append(self.scene.from_px(ax, np.array([own[j], _toward(centers[j], own[j],
                                                                                  self.sizes[j])])))
            self.leaders[ax].set_segments(segs)
            self.leaders[ax].set_color([rgba(self.entries[j][3], 0.9) for j, (_, a, _, _) in enumerate(self.entries)
                                        if a is ax and far[j] and np.isfinite(centers[j]).all()])
        if self.still:
            for j, t in enumerate(self.texts):
                ok = np.isfinite(centers[j]).all()
                t.set_visible(bool(ok))
                if ok:
                    t.set_position(self.scene.from_px(self.entries[j][1], centers[j][None])[0])

    def paste(self, buf: np.ndarray) -> None:
        centers, far, _ = self.placed
        h = buf.shape[0]
        for j, s in enumerate(self.sprites):
            if np.isfinite(centers[j]).all():
                w, ht = s.size
                s.paste(buf, centers[j][0] - w / 2, h - centers[j][1] - ht / 2)

    def boxes(self):
        """This frame's label boxes in pixels (x0, y0, x1, y1), y up; None where a label is hidden."""
        centers, _, _ = self.placed
        return [None if not np.isfinite(c).all() else L._box(c, s) for c, s in zip(centers, self.sizes)]


def _toward(center, head, size):
    """The point on a label box's edge facing its head (where a leader line stops)."""
    d = np.asarray(head) - np.asarray(center)
    w, h = size
    if not np.any(d):
        return np.asarray(center)
    t = min(w / 2 / abs(d[0]) if d[0] else math.inf, h / 2 / abs(d[1]) if d[1] else math.inf)
    return np.asarray(center) + d * min(t, 1.0)


# ---- marks ----------------------------------------------------------------------------------------------------
def mark_kinds(trace) -> tuple[str | None, bool]:
    """``(arrow, box)``: the arrow a trace gets (``"velocity"``, ``"step"`` or None) and whether it
    gets a step-size box, from what it recorded."""
    if trace.velocity is not None:
        arrow = "velocity"
    elif trace.step_size is None and trace.grad is not None:
        arrow = "step"
    else:
        arrow = None
    return arrow, trace.step_size is not None


def arrow_vectors(trace, rows) -> np.ndarray | None:
    """(F, N, 2) the arrow at each frame in data units: the velocity, or the step along the raw
    slope (-lr g, the displacement plain SGD takes), NaN where there is none."""
    kind, _ = mark_kinds(trace)
    ok = trace.ok()[rows]
    if kind == "velocity":
        v = trace.velocity[rows]
    elif kind == "step":
        lr = np.asarray(trace.lr if trace.lr is not None else np.full(len(trace.steps), np.nan))
        lr = lr.reshape(len(trace.steps), -1)[:, :1]
        v = -trace.grad[rows] * lr[rows][:, :, None]
    else:
        return None
    return np.where(ok[..., None], v, np.nan)


def box_sizes(trace, rows) -> np.ndarray | None:
    """(F, N, 2) the per-axis step size at each frame, NaN where there is none."""
    if trace.step_size is None:
        return None
    return np.where(trace.ok()[rows][..., None], trace.step_size[rows], np.nan)


def scale_for(sizes: np.ndarray, target: float) -> float:
    """Data-to-display factor that draws the MARK_QUANTILE quantile of ``sizes`` at ``target``."""
    s = sizes[np.isfinite(sizes) & (sizes > 0)]
    if s.size == 0:
        return 0.0
    ref = float(np.quantile(s, MARK_QUANTILE))
    return target / ref if ref > 0 else target / float(s.max())


def mark_scales(traces, rows, view: float, fraction: float = MARK_FRACTION) -> dict:
    """One display factor per kind of mark, shared by every method: ``{"arrow": k, "box": k}``
    (display length in data units = factor x quantity)."""
    arrows, boxes = [], []
    for t in traces:
        a = arrow_vectors(t, rows)
        if a is not None:
            arrows.append(np.hypot(a[..., 0], a[..., 1]).ravel())
        b = box_sizes(t, rows)
        if b is not None:
            boxes.append(np.fmax(b[..., 0], b[..., 1]).ravel())
    out = {}
    if arrows:
        out["arrow"] = scale_for(np.concatenate(arrows), fraction * view)
    if boxes:
        out["box"] = scale_for(np.concatenate(boxes), fraction * view / 2)
    return out


def nice_factor(k: float) -> str:
    """A clamped mark's shortening as a short tag: ÷2, ÷5, ÷10, ÷20, ÷50, ... (rounded up): the mark
    is drawn that many times smaller than the map's scale would make it."""
    for m in (2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if k <= m:
            return f"÷{m}"
    return "÷1000+"


class Marks(Layer):
    """Arrows and boxes at the heads, at one display scale per kind for every method."""

    def __init__(self, scene, rows: np.ndarray, scales: dict, still: bool):
        super().__init__()
        from matplotlib.collections import PolyCollection
        from matplotlib.quiver import Quiver

        self.scene, self.rows, self.still = scene, rows, still
        th, fonts = scene.theme, scene.fonts
        self.items = []
        self.tags = []          # per frame: [(ax, data xy, text)]
        (x0, x1), (y0, y1) = scene.xlim, scene.ylim
        view = min(x1 - x0, y1 - y0)
        cap = MARK_CAP * MARK_FRACTION * view
        for ax in scene.map_axes:
            traces = [t for t in scene.traces if scene.panel[t.label] is ax]
            px_per_unit = scene.px_per_unit(ax)
            min_len = MARK_MIN_PX / px_per_unit
            # a box is the shoe around the walker's foot: never smaller than the head it frames (else the
            # smallest steps, AdaGrad's late ones, would hide under the marker)
            head_px = fonts.head * scene.fig.dpi / 72 / 2
            min_half_box = (head_px + BOX_CLEARANCE_PX) / px_per_unit
            arrows = {"velocity": [], "step": []}
            boxes = []
            for t in traces:
                kind, has_box = mark_kinds(t)
                color = scene.styles[t.label].color
                heads = scene.snap(ax, head_positions(t, rows))
                unit = 1.0 / px_per_unit                      # one pixel, in data units
                if kind is not None and "arrow" in scales:
                    v = arrow_vectors(t, rows) * scales["arrow"]
                    v, tag = _fit(v, cap, min_len)
                    arrows[kind].append((heads, np.round(v / unit) * unit, tag, color))
                if has_box and "box" in scales:
                    b = box_sizes(t, rows) * scales["box"]
                    b, tag = _fit(b, cap / 2, min_half_box, per_axis=True)
                    boxes.append((heads, np.round(b / unit) * unit, tag, color))
            if boxes:
                coll = PolyCollection([], closed=True, linewidths=1.3 * fonts.scale, zorder=6)
                ax.add_collection(coll, autolim=False)
                coll.set_gid("boxes")
                self.artists.append(coll)
                self.items.append(("box", ax, coll, boxes))
            for kind, items in arrows.items():
                if not items:
                    continue
                n = sum(h.shape[1] for h, _, _, _ in items)
                colors = [c for h, _, _, c in items for _ in range(h.shape[1])]
                px = fonts.scale * scene.fig.dpi / 72
                if kind == "velocity":
                    style = dict(color=colors, edgecolor=th.marker_edge, linewidth=0.6 * fonts.scale)
                else:  # hollow: the raw slope's step, not a carried velocity
                    style = dict(color=th.axes, edgecolor=colors, linewidth=1.6 * fonts.scale)
                q = Quiver(ax, np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), angles="xy",
                           scale_units="xy", scale=1, units="dots", pivot="tail", width=3.0 * px,
                           headwidth=3.2, headlength=3.4, headaxislength=3.0, minlength=0, minshaft=1.0,
                           zorder=6.5, **style)
                ax.add_collection(q, autolim=False)
                q.set_gid(f"arrows:{kind}")
                self.artists.append(q)
                self.items.append((kind, ax, q, items))
        self.tag_sprites = {}

    def update(self, k: int) -> None:
        self.current_tags = []
        for kind, ax, artist, items in self.items:
            if kind == "box":
                verts, edge, face = [], [], []
                for heads, b, tag, color in items:
                    for i in range(heads.shape[1]):
                        (cx, cy), (hw, hh) = heads[k, i], b[k, i]
                        if not (np.isfinite(hw) and np.isfinite(hh) and np.isfinite(cx) and np.isfinite(cy)):
                            continue
                        verts.append([(cx - hw, cy - hh), (cx + hw, cy - hh), (cx + hw, cy + hh), (cx - hw, cy + hh)])
                        edge.append(rgba(color))
                        face.append(rgba(color, 0.0))
                        if tag[k, i] > 1.0001:
                            self.current_tags.append((ax, (cx + hw, cy + hh), nice_factor(tag[k, i]), color))
                artist.set_verts(verts)
                artist.set_edgecolor(edge)
                artist.set_facecolor(face)
            else:
                xy = np.concatenate([h[k] for h, _, _, _ in items])
                uv = np.concatenate([v[k] for _, v, _, _ in items])
                artist.set_offsets(np.where(np.isfinite(xy), xy, 0.0))
                artist.set_UVC(np.ma.masked_invalid(uv[:, 0]), np.ma.masked_invalid(uv[:, 1]))
                for h, v, tag, color in items:
                    for i in range(h.shape[1]):
                        if tag[k, i] > 1.0001 and np.isfinite(h[k, i]).all():
                            self.current_tags.append((ax, h[k, i] + v[k, i], nice_factor(tag[k, i]), color))

    def paste(self, buf: np.ndarray) -> None:
        h = buf.shape[0]
        for ax in dict.fromkeys(ax for ax, _, _, _ in self.current_tags):
            tags = [(xy, text, color) for a, xy, text, color in self.current_tags if a is ax]
            pxs = self.scene.to_px(ax, np.array([xy for xy, _, _ in tags]))
            for px, (_, text, color) in zip(pxs, tags):
                key = (text, color)
                if key not in self.tag_sprites:
                    self.tag_sprites[key] = self.scene.sprite(text, color, small=True)
                s = self.tag_sprites[key]
                w, ht = s.size
                s.paste(buf, px[0] + 3, h - px[1] - ht - 1)


def _fit(v: np.ndarray, cap: float, min_len: float, per_axis: bool = False):
    """Marks scaled for display: longer than ``cap`` shortened to it (the factor is returned for the
    tag), shorter than ``min_len`` (but not zero) lengthened to it."""
    if per_axis:
        size = np.fmax(np.abs(v[..., 0]), np.abs(v[..., 1]))
    else:
        size = np.hypot(v[..., 0], v[..., 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.where(size > cap, size / cap, 1.0)
        grow = np.where((size > 0) & (size < min_len), min_len / size, 1.0)
    factor = np.where(np.isfinite(size), 1.0 / shrink * grow, np.nan)
    return v * factor[..., None], np.where(np.isfinite(size), shrink, 1.0)


# ---- losses ----------------------------------------------------------------------------------------------------
class Losses(Layer):
    """The loss curves growing in sync with the map (one collection, cut at the current step);
    a marker at each curve's head; each curve named at its end in the right margin when the race is over."""

    def __init__(self, scene, rows: np.ndarray, still: bool):
        super().__init__()
        from matplotlib.collections import LineCollection, PathCollection
        from matplotlib.markers import MarkerStyle
        from matplotlib.transforms import IdentityTransform

        self.scene, self.rows, self.still = scene, rows, still
        ax = scene.loss_ax
        th, fonts = scene.theme, scene.fonts
        steps = scene.traces[0].steps
        self.steps = steps
        curves, colors, styles, markers, self.curves = [], [], [], [], []
        self.label_items = []
        for trace in scene.traces:
            st = scene.styles[trace.label]
            valid = trace.valid() & np.isfinite(trace.loss)
            y = np.where(valid, np.maximum(trace.loss - scene.loss_shift, scene.loss_floor), np.nan)
            if trace.n_starts > 3:
                q = quartiles(y)
                band = ax.fill_between(steps, q[0], q[2], color=st.color, alpha=0.16, linewidth=0, zorder=2)
                band.set_gid(f"loss-band:{trace.label}")   # the same in every frame: drawn once
                ys = [q[1]]
            else:
                ys = [y[:, i] for i in range(trace.n_starts)]
            for c in ys:
                curves.append(np.column_stack([steps, c]))
                colors.append(st.color)
                styles.append(st.linestyle)
                markers.append(trace.marker)
                self.curves.append(c)
            self.label_items.append((trace, ys[0], st.color))
        self.lines = LineCollection(curves, colors=colors, linestyles=styles, linewidths=fonts.line * 1.2, zorder=3)
        ax.add_collection(self.lines, autolim=False)
        self.lines.set_gid("losses")
        # a landscape that is a plane through a bigger space (a network's) also has the loss at each
        # point's projection onto the plane: drawn dashed beside the true loss, so the viewer sees
        # where the map is faithful
        projected = []
        for trace in scene.traces:
            extra = getattr(trace, "extras", None) or {}
            if "loss_projected" in extra and trace.n_starts <= 3:
                p = np.asarray(extra["loss_projected"], dtype=float)
                p = np.where(trace.valid() & np.isfinite(p), np.maximum(p - scene.loss_shift, scene.loss_floor),
                             np.nan)
                projected += [(np.column_stack([steps, p[:, i]]), scene.styles[trace.label].color)
                              for i in range(trace.n_starts)]
        self.projected = None
        if projected:
            self.projected = LineCollection([c for c, _ in projected], colors=[c for _, c in projected],
                                            linestyles=(0, (2.5, 2.0)), linewidths=fonts.line * 0.8, alpha=0.85,
                                            zorder=2.5)
            ax.add_collection(self.projected, autolim=False)
            self.projected.set_gid("losses-projected")
        paths = []
        for m in markers:
            ms = MarkerStyle(m)
            paths.append(ms.get_path().transformed(ms.get_transform()))
        self.marker_paths = paths
        self.colors = colors
        self.ends = PathCollection(paths, sizes=[(fonts.head * 0.8) ** 2], offsets=np.empty((0, 2)),
                                   offset_transform=ax.transData, transform=IdentityTransform(),
                                   edgecolors=th.marker_edge,
                                   linewidths=0.9 * fonts.scale, zorder=5)
        self.ends.set_clip_on(False)
        ax.add_collection(self.ends, autolim=False)
        self.ends.set_gid("loss-heads")
        # a still draws the whole curves; an animation draws them once (:meth:`prerender`) and each
        # frame copies the columns up to its step (:meth:`underlay`): the curves cost nothing per frame
        self.drawn = [self.lines] + ([self.projected] if self.projected is not None else [])
        self.full = None
        if still:
            self.artists += self.drawn
        else:
            for a in self.drawn:
                a.set_animated(True)   # kept out of the frozen picture
        self.artists.append(self.ends)
        self.sprites = [scene.sprite(scene.loss_label_text(t), c, box=False) for t, _, c in self.label_items]
        self.heights = np.array([s.size[1] + 1 for s in self.sprites], dtype=float)
        self.texts = []
        if still:
            for (t, _, c) in self.label_items:
                txt = scene.loss_label_artist(scene.loss_label_text(t), c)
                self.texts.append(txt)
                self.artists.append(txt)
        self.placed = None

    @staticmethod
    def _last_finite(c, r):
        while r > 0 and not np.isfinite(c[r]):
            r -= 1
        return r

    def _region(self, shape):
        """Rows and columns of the frame the curves can touch: the loss axes and a few px around."""
        return buffer_region(self.scene.loss_ax.bbox, shape, pad=3)

    def prerender(self, blitter) -> None:
        from matplotlib.transforms import Bbox

        box = self.scene.loss_ax.bbox
        for a in self.drawn:
            a.set_clip_box(Bbox.from_extents(box.x0, box.y0 - 2, box.x1, box.y1 + 2))
        buf = blitter.buffer()
        r0, r1, c0, c1 = self._region(buf.shape)
        before = buf[r0:r1, c0:c1].copy()
        for a in self.drawn:
            a.draw(blitter.renderer)
        self.full = buf[r0:r1, c0:c1].copy()
        buf[r0:r1, c0:c1] = before

    def underlay(self, buf: np.ndarray) -> None:
        if self.full is None:
            return
        r0, r1, c0, c1 = self._region(buf.shape)
        cut = min(max(int(self.x_end) + 1, c0), c1) - c0
        buf[r0:r1, c0:c0 + cut] = self.full[:, :cut]

    def update(self, k: int) -> None:
        from matplotlib.transforms import Bbox

        ax, scene, steps = self.scene.loss_ax, self.scene, self.steps
        r = int(self.rows[k])
        final = k == len(self.rows) - 1 or self.still
        box = ax.bbox
        x = box.x1 + 2 if final else float(ax.transData.transform((steps[r], 1.0))[0])
        self.x_end = x
        if self.still:
            clip = Bbox.from_extents(box.x0, box.y0 - 2, max(box.x0, min(x + 1, box.x1)), box.y1 + 2)
            for a in self.drawn:
                a.set_clip_box(clip)
        offs, paths, faces = [], [], []
        for c, path, color in zip(self.curves, self.marker_paths, self.colors):
            rr = self._last_finite(c, r)
            if np.isfinite(c[rr]):
                offs.append((steps[rr], c[rr]))
                paths.append(path)
                faces.append(color)
        self.ends.set_offsets(np.array(offs).reshape(-1, 2))
        self.ends.set_paths(paths)
        self.ends.set_facecolor(faces or "none")
        # the names in the right margin, beside their curves' ends (stacked without overlap), once the
        # race is over: while it runs the curves' heads carry each method's colour and head shape, as
        # on the map, and a name that ran beside a falling curve would be at the wrong height or moving
        # (and the moving names alone made a fifth of a GIF's bytes)
        if not final:
            self.placed = []
            return
        ys = self._label_ys(r)
        lo, hi = box.y0 - 0.05 * box.height, box.y1 + 0.05 * box.height
        centers = L.spread(ys, self.heights, lo, hi)
        x_left = box.x1 + 10 * scene.fonts.scale
        self.placed = [(x_left, cy) for cy in centers]
        if self.still:
            for txt, (xl, cy) in zip(self.texts, self.placed):
                txt.set_position((xl, cy))

    def _label_ys(self, r: int) -> np.ndarray:
        ax, steps, box = self.scene.loss_ax, self.steps, self.scene.loss_ax.bbox
        out = []
        for t, c, _ in self.label_items:
            rr = self._last_finite(c, r)
            y = c[rr]
            out.append(float(ax.transData.transform((steps[rr], y))[1]) if np.isfinite(y) else box.y0)
        return np.asarray(out)

    def paste(self, buf: np.ndarray) -> None:
        h = buf.shape[0]
        for s, (xl, cy) in zip(self.sprites, self.placed):
            w, ht = s.size
            s.paste(buf, xl, h - cy - ht / 2)


QUANTILE_STARTS = 2000


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


# ---- swarms ----------------------------------------------------------------------------------------------------
SWARM_POINTS = 150          # a swarm path is thinned to at most this many vertices
SWARM_VERTICES = 1_200_000  # and all swarms of a picture to about this many (memory, build time)


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


class Swarm(Layer):
    """Each method's many paths as one translucent collection (thinned), and their heads as dots."""

    def __init__(self, scene, rows: np.ndarray):
        super().__init__()
        from matplotlib.collections import LineCollection

        self.rows = rows
        total = sum(t.n_starts for t in scene.traces)
        points = int(min(SWARM_POINTS, max(12, SWARM_VERTICES // max(total, 1))))
        self.items = []
        for z, trace in enumerate(scene.traces):
            ax = scene.panel[trace.label]
            st = scene.styles[trace.label]
            alpha = swarm_alpha(trace.n_starts)
            srows = swarm_rows(len(trace.steps), points)
            ok = trace.ok()
            sub = np.where(ok[srows][..., None], trace.path[srows], np.nan).transpose(1, 0, 2)   # (N, R, 2)
            coll = LineCollection([], colors=st.color, linewidths=0.8 * scene.fonts.scale, alpha=alpha,
                                  zorder=3 + 0.01 * z, capstyle="round", joinstyle="round")
            ax.add_collection(coll, autolim=False)
            coll.set_rasterized(True)   # vector files stay small; the swarm is a texture anyway
            coll.set_gid(f"swarm:{trace.label}")
            dots = ax.scatter([], [], s=(1.6 * scene.fonts.scale) ** 2, color=st.color, alpha=min(1.0, 3 * alpha),
                              linewidths=0, zorder=3.5 + 0.01 * z)
            dots.set_rasterized(True)
            dots.set_gid(f"ends:{trace.label}")
            self.artists += [coll, dots]
            self.items.append((trace, srows, sub, ok, coll, dots))

    def update(self, k: int) -> None:
        r = int(self.rows[k])
        for trace, srows, sub, ok, coll, dots in self.items:
            j = int(np.searchsorted(srows, r, side="right"))
            last = np.minimum(ok.sum(0) - 1, r)
            idx = np.arange(trace.n_starts)
            head = np.where((last >= 0)[:, None], trace.path[np.maximum(last, 0), idx], np.nan)
            segs = np.concatenate([sub[:, :j], head[:, None]], axis=1)
            coll.set_segments(list(segs))
            alive = np.isfinite(head).all(1) & (trace.diverged_at < 0)
            dots.set_offsets(head[alive])
