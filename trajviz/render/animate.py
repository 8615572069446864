"""Animations: the paths grow on the contour map, every method racing at once.

>>> import trajviz
>>> anim = trajviz.animate("rosenbrock", "all", path="rosenbrock.gif")    # doctest: +SKIP
>>> anim = trajviz.run("beale", "all").animate(theme="dark", layout="grid")  # doctest: +SKIP
>>> anim.save("beale.webp")                                              # doctest: +SKIP

The picture is the still plot's (:func:`trajviz.render.scene.build_scene`): the map,
the loss panel, the titles are drawn once and their pixels kept; each frame restores
them and draws only what moves (:mod:`.layers`: paths, heads, marks, loss curves),
pastes the labels and the step counter from sprites, and hands the canvas buffer to
the writer, which streams it to the file. Memory does not grow with the number of
frames. Pacing (:mod:`.pacing`): the first steps a frame each, the rest compressed,
stopping once every head has settled; a short hold on the first frame, a long one on
the last.

The analogies, drawn from each Trace's recorded state (no code here names an
optimizer), at one display scale per kind of mark shared by every method and shown
in the key below the loss panel:

* a method with a ``velocity`` (Momentum, Nesterov, Adam, ...) gets a filled arrow at
  its head: the displacement per step its momentum carries;
* a method with neither velocity nor step size (SGD) gets a hollow arrow: its step along
  the raw (noisy) slope, ``-lr * g``: the drunk walker's stagger;
* a method with a ``step_size`` (AdaGrad, Adadelta, RMSProp, Adam, ...) gets a box whose
  half-width and half-height are its per-axis step size ``lr / (sqrt(second moment) + eps)``:
  the bad shoes (watch AdaGrad's shrink).

Marks longer than the cap are shortened and tagged with the factor ("÷5"); tiny ones are
drawn at a minimum visible size.
"""

from __future__ import annotations

import contextlib
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..errors import TrajvizError
from . import layers as LY
from . import pacing
from . import style as S
from .. import worker
from .blit import Blitter
from .figure import NotebookDisplay


class Counter:
    """The step counter "step 123 / 500": the fixed text drawn once, the digits pasted from sprites."""

    def __init__(self, scene, steps: np.ndarray, rows: np.ndarray):
        from .blit import Sprite

        self.scene, self.steps, self.rows = scene, steps, rows
        fig, th, fonts = scene.fig, scene.theme, scene.fonts
        total = int(steps[-1])
        self.width = len(f"{total:,}")
        size = fonts.label
        x, y = scene.counter_at
        suffix = f" / {total:,}"
        from matplotlib.transforms import IdentityTransform

        t = fig.text(x, y, suffix, ha="right", va="center", fontsize=size, color=th.muted,
                     transform=IdentityTransform())
        t.set_gid("counter")
        r = fig.canvas.get_renderer()
        ext = t.get_window_extent(r)
        self.right = ext.x0                                   # digits end where " / 500" begins
        glyphs = [str(d) for d in range(10)] + [","]
        from .blit import render_sprite

        raw = [render_sprite(lambda f, g=g: f.text(0.5, 0.5, g, ha="center", va="baseline", fontsize=size,
                                                  fontweight="bold", color=th.text), fig.dpi, pad=0)
               for g in glyphs]
        # one band of rows for every glyph, so digits sit on one baseline
        self.sprites = {}
        base = max(s.anchor[1] for s in raw)
        below = max(s.rgba.shape[0] - s.anchor[1] for s in raw)
        for g, s in zip(glyphs, raw):
            top = int(round(base - s.anchor[1]))
            rgba = np.zeros((int(round(base + below)) + 1, s.rgba.shape[1], 4), np.uint8)
            rgba[top:top + s.rgba.shape[0]] = s.rgba[: rgba.shape[0] - top]
            self.sprites[g] = Sprite(rgba, (0, base))
        self.advance = max(s.size[0] for g, s in self.sprites.items() if g != ",")
        # the digits' baseline on the suffix's: its window extent's bottom is its descent below it
        descent = ext.height * 0.22
        self.y_top = ext.y0 + descent + base
        self.k = 0
        label = fig.text(self.right - self.advance * (self.width + 0.6), y, "step", ha="right", va="center",
                         fontsize=size, color=th.muted, transform=IdentityTransform())
        label.set_gid("counter-label")

    def update(self, k: int) -> None:
        self.k = k

    def text(self, k: int) -> str:
        """The digits frame ``k`` shows: the recorded step of its row."""
        return f"{int(self.steps[int(self.rows[k])]):,}"

    def paste(self, buf: np.ndarray) -> None:
        text = self.text(self.k)
        h = buf.shape[0]
        x = self.right - 2
        for ch in reversed(text):
            s = self.sprites[ch]
            w = s.size[0] if ch == "," else self.advance
            x -= w
            s.paste(buf, x + (w - s.size[0]) / 2, h - self.y_top)


class Painter:
    """Draws the frames of an animation onto one figure.

    ``painter.frame(k)`` sets every moving artist to frame k, restores the static pixels,
    draws the moving artists, pastes the labels and digits, and returns the canvas's RGBA
    buffer (a view: copy it to keep it). ``painter.scene`` is the Scene.
    """

    def __init__(self, result, budget: int, options, *, xlim=None, ylim=None):
        from ..options import replace
        from .scene import SWARM_AT, build_scene

        o = options
        if o.layout == "auto":
            o = replace(o, layout="grid" if len(result.starts) > SWARM_AT and len(result) > 1 else "overlay")
        scene = build_scene(result.surface, result, None, o.picture(), xlim=xlim, ylim=ylim, animated=True)
        self.scene, self.result = scene, result
        self.steps = scene.traces[0].steps
        n_rows = len(self.steps)
        settle = pacing.settle_row(scene.traces, lambda xy: _px(scene, xy), n_rows) if not scene.swarm else n_rows
        self.rows = pacing.frame_rows(n_rows, budget, settle)
        story = o.story and not scene.swarm and not scene.is3d
        layers = []
        if scene.swarm:
            layers.append(LY.Swarm(scene, self.rows))
        elif scene.is3d:
            layers.append(LY.Paths3D(scene, self.rows))
        else:
            layers.append(LY.Paths(scene, self.rows, still=False))
        heads = None
        if not scene.swarm and not scene.is3d:
            heads = LY.Heads(scene, self.rows)
            layers.append(heads)
        self.scales = {}
        if story:
            (x0, x1), (y0, y1) = scene.xlim, scene.ylim
            self.scales = LY.mark_scales(scene.traces, self.rows, min(x1 - x0, y1 - y0))
            marks = LY.Marks(scene, self.rows, self.scales, still=False)
            layers.append(marks)
        if heads is not None and o.legend and scene.layout == "overlay":   # grid panels carry titles
            layers.append(LY.Labels(scene, heads, self.rows, still=False))
        if scene.loss_ax is not None:
            layers.append(LY.Losses(scene, self.rows, still=False))
        self.layers = layers
        if story and scene.key_box is not None:
            draw_key(scene, self.scales, [(t.title, *LY.mark_kinds(t)) for t in scene.traces])
        self.counter = Counter(scene, self.steps, self.rows) if scene.counter_at is not None else None
        self.moving = sorted((a for layer in layers for a in layer.artists), key=lambda a: a.get_zorder())
        for a in self.moving:
            a.set_animated(True)
        self.blitter = Blitter(scene.fig)
        self.blitter.freeze()
        for layer in layers:
            layer.prerender(self.blitter)
        self.canvas = self.blitter.canvas

    @property
    def frames(self) -> int:
        return len(self.rows)

    def set_frame(self, k: int) -> None:
        for layer in self.layers:
            layer.update(k)
        if self.counter is not None:
            self.counter.update(k)

    def frame(self, k: int) -> np.ndarray:
        """Frame ``k`` as an (H, W, 4) RGBA view of the canvas buffer."""
        self.set_frame(k)

        def after(buf):
            for layer in self.layers:
                layer.paste(buf)
            if self.counter is not None:
                self.counter.paste(buf)

        def before(buf):
            for layer in self.layers:
                layer.underlay(buf)

        return self.blitter.frame(self.moving, after, before)

    def exact_colors(self) -> list[str]:
        """Colours that must stay exact in a GIF palette: the methods' and the theme's text and marks."""
        th = self.scene.theme
        out = [s.color for s in self.scene.styles.values()]
        out += [S.readable(c, th.label_face) for c in out]
        out += [th.text, th.muted, th.marker_edge, th.star_face, th.star_edge, th.start_face, th.figure,
                th.label_face, th.spine]
        return list(dict.fromkeys(out))


def _px(scene, xy):
    ax = scene.map_axes[0]
    flat = np.asarray(xy, dtype=float).reshape(-1, 2)
    return ax.transData.transform(flat).reshape(np.shape(xy))


def _nice(value: float) -> float:
    """1, 2 or 5 times a power of ten, at most ``value``."""
    if not value > 0 or not math.isfinite(value):
        return 0.0
    e = math.floor(math.log10(value))
    for m in (5, 2, 1):
        if m * 10.0 ** e <= value:
            return m * 10.0 ** e
    return 10.0 ** e


def draw_key(scene, scales: dict, kinds: list) -> None:
    """The compact key of the marks, each with its one scale: a reference arrow and box drawn at
    the same display scale as the marks on the map, and what they mean in a few words."""
    from matplotlib.patches import FancyArrow, Rectangle
    from matplotlib.transforms import IdentityTransform

    fig, th, fonts = scene.fig, scene.theme, scene.fonts
    x0, y0, x1, y1 = scene.key_box
    px_unit = scene.px_per_unit(scene.map_axes[0])
    pt = fig.dpi / 72
    items = []
    arrows = {a for _, a, _ in kinds if a}
    boxed = any(b for _, _, b in kinds)
    # what each mark is, in full and (where the key's box is narrow, e.g. one cell of a grid) short
    words = {"velocity": ("velocity (carried from step to step)", "velocity carried"),
             "step": ("step along the slope, −lr·g", "slope step −lr·g"),
             "box": ("step size per axis (half side)", "per-axis step, half side")}
    if "arrow" in scales:
        ref = _nice(70 * fonts.scale / (scales["arrow"] * px_unit))
        for k in ("velocity", "step"):
            if k in arrows:
                items.append(("arrow", ref * scales["arrow"] * px_unit, k, f": {ref:g} per step", k == "step"))
    if "box" in scales and boxed:
        ref = _nice(16 * fonts.scale / (scales["box"] * px_unit))
        items.append(("box", ref * scales["box"] * px_unit, "box", f": {ref:g}", False))
    if not items:
        return
    t = IdentityTransform()
    line_h = (y1 - y0) / max(len(items), 2)
    glyph_w = max([k[1] for k in items if k[0] == "arrow"] + [2 * k[1] for k in items if k[0] == "box"] + [0])
    text_x = x0 + glyph_w + 12 * fonts.scale
    room = x1 - text_x
    for form in (0, 1):
        texts = [words[k[2]][form] + k[3] for k in items]
        widest = max(S.text_width(text, fonts.small) * pt for text in texts)
        if widest * 0.85 <= room:
            break
    size = fonts.small if widest <= room else max(fonts.small * room / widest, fonts.small * 0.55)
    items = [(kind, length, text, hollow) for (kind, length, _, _, hollow), text in zip(items, texts)]
    y = y1 - line_h / 2
    for kind, length, text, hollow in items:
        if kind == "arrow":
            fig.patches.append(FancyArrow(x0, y, length, 0, width=3.4 * fonts.scale, head_width=11 * fonts.scale,
                                          head_length=10 * fonts.scale, length_includes_head=True,
                                          facecolor=th.axes if hollow else th.muted, edgecolor=th.text,
                                          linewidth=1.0 * fonts.scale, transform=t, figure=fig))
        else:
            cx = x0 + glyph_w / 2
            fig.patches.append(Rectangle((cx - length, y - length), 2 * length, 2 * length, facecolor="none",
                                         edgecolor=th.text, linewidth=1.6 * fonts.scale, transform=t, figure=fig))
            fig.patches.append(Rectangle((cx - 2, y - 2), 4, 4, color=th.text, transform=t, figure=fig))
        fig.text(text_x, y, text, fontsize=size, color=th.text, va="center", transform=t)
        y -= line_h
    scene.artists["key"] = items


# ---- the Animation object ----------------------------------------------------------------------------
class Animation(NotebookDisplay):
    """An animation of a Result: write it with :meth:`save`; in Jupyter it shows inline as a GIF.

    Attributes:
        path: the file last written (None until saved).
        frames: the number of frames (before identical neighbours are merged).
        fps, hold: frames per second, and seconds the last frame is held.
        scene: the Scene of the last frame, built on demand.
    """

    def __init__(self, result, options, *, xlim=None, ylim=None):
        self.result = result
        self.options = options
        self.fps = options.fps
        self.hold = options.hold
        self.progress = options.progress
        self.view = (xlim, ylim)
        self.path: Path | None = None
        self._painter: Painter | None = None
        self._gif: bytes | None = None

    def painter(self) -> Painter:
        if self._painter is None:
            self._painter = Painter(self.result, self.options.budget, self.options, xlim=self.view[0],
                                    ylim=self.view[1])
        return self._painter

    @property
    def rows(self) -> np.ndarray:
        return self.painter().rows

    @property
    def frames(self) -> int:
        return self.painter().frames

    @property
    def duration(self) -> float:
        """Seconds of one loop: the frames, the opening hold, then the closing hold."""
        return sum(pacing.durations(self.frames, self.fps, self.hold))

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

    def save(self, path, *, progress: bool | None = None) -> Path:
        """Write the animation to ``path`` (.gif, .webp, .png, .mp4, .html), atomically."""
        from .writers import AnimationWriter, check_animation_path

        path = check_animation_path(path)
        painter = self.painter()
        n = painter.frames
        sample = painter.frame(n - 1)[..., :3].copy()  # the finished picture seeds the palette
        show = self.progress if progress is None else progress
        opening = pacing.hold_frames(pacing.OPEN_HOLD, self.fps) if n > 1 else 0
        with AnimationWriter(path, fps=self.fps, hold=self.hold, palette_sample=sample,
                             exact_colors=painter.exact_colors(), title=f"trajviz: {self.result.surface.spec}") as w:
            with _progress(n, show) as bar:
                first = painter.frame(0)
                for _ in range(1 + opening):   # identical frames: merged into one longer frame
                    w.append(first)
                bar.update(1)
                # on a second core, a forked child draws and encodes the later frames meanwhile
                split = _split(n) if w.can_take_tail() else n
                helper = worker.start(lambda: w.encode_tail(painter.frame(j) for j in range(split - 1, n))) \
                    if split < n else None
                try:
                    for k in range(1, split if helper is not None else n):
                        w.append(painter.frame(k))
                        bar.update(1)
                    if helper is not None:
                        tail = helper.result()
                        if tail is not None:
                            w.append_tail(tail, n - split)
                            bar.update(n - split)
                        else:                    # the child failed: draw its frames here
                            for k in range(split, n):
                                w.append(painter.frame(k))
                                bar.update(1)
                finally:
                    if helper is not None:
                        helper.cancel()
        self.path = path
        if path.suffix.lower() == ".gif" and path.stat().st_size <= 16 * 2**20:
            self._gif = path.read_bytes()
        return path

    @property
    def scene(self):
        """The Scene in its last frame."""
        painter = self.painter()
        painter.frame(painter.frames - 1)
        return painter.scene

    def last_frame(self) -> np.ndarray:
        """The last frame as an (H, W, 3) RGB array."""
        painter = self.painter()
        return painter.frame(painter.frames - 1)[..., :3].copy()

    def gif_bytes(self) -> bytes:
        """The animation as GIF bytes (rendered once, then kept)."""
        if self._gif is None:
            with tempfile.TemporaryDirectory() as tmp:
                target = Path(tmp) / "animation.gif"
                kept = self.path
                self.save(target, progress=False)
                self.path = kept
                self._gif = target.read_bytes()
        return self._gif

    to_gif = gif_bytes


SPLIT_AT = 24          # frames: fewer are drawn faster than a second process starts
PARENT_SHARE = 0.58   # later frames cost more (more steps per frame, a larger changed area)


def _split(n: int) -> int:
    """The first frame the forked child draws (n: none, all frames here)."""
    if n < SPLIT_AT or not worker.available():
        return n
    return max(2, int(round(n * PARENT_SHARE)))


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
    frame budget, default 6 s; hold; story: the arrows and boxes; and every picture option).
    ``path``: .gif, .webp, .png (APNG), .mp4 (mp4 extra) or .html; None to only return the
    Animation (it renders when saved or shown in Jupyter).

    >>> import trajviz
    >>> r = trajviz.run("rosenbrock", "all", steps=300)               # doctest: +SKIP
    >>> anim = r.animate("rosenbrock.gif", frames=100)                  # doctest: +SKIP
    """
    from ..checks import pair
    from ..options import AnimateOptions

    options = options or AnimateOptions()
    if path is not None:
        from .writers import check_animation_path

        check_animation_path(path)
    if not len(result):
        raise TrajvizError("nothing to animate: the result has no optimizer")
    anim = Animation(result, options, xlim=None if xlim is None else pair(xlim, "xlim", increasing=True),
                     ylim=None if ylim is None else pair(ylim, "ylim", increasing=True))
    if path is not None:
        anim.save(path)
    return anim


__all__ = ["animate_result", "Animation", "Painter", "draw_key"]
