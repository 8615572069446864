"""Blitting: draw the static picture once, then per frame only what moves.

A :class:`Blitter` owns a figure's Agg canvas: ``freeze()`` draws everything not
marked animated and keeps the pixels; ``frame(artists, after)`` restores them,
draws the moving artists, runs ``after(buffer)`` (pasting cached sprites, such as
labels and digits, whose text would cost more to draw than the rest of the frame)
and returns the canvas buffer (a view: the writer copies what changed).
Animations and the explain board both draw through it.
"""

from __future__ import annotations

import numpy as np


class Blitter:
    def __init__(self, fig):
        from .figure import ensure_canvas

        self.fig = fig
        self.canvas = ensure_canvas(fig)
        self.renderer = None
        self.static = None

    def freeze(self) -> None:
        """Draw the static picture (artists not marked animated) and keep its pixels."""
        self.canvas.draw()
        self.renderer = self.canvas.get_renderer()
        self.static = self.canvas.copy_from_bbox(self.fig.bbox)

    def region(self, bbox):
        return self.canvas.copy_from_bbox(bbox)

    def frame(self, artists, after=None, before=None) -> np.ndarray:
        """The static pixels, ``before(buffer)``, the ``artists`` on top (in order), then ``after(buffer)``."""
        self.canvas.restore_region(self.static)
        if before is not None:
            before(np.asarray(self.canvas.buffer_rgba()))
        r = self.renderer
        for a in artists:
            if a.get_visible():
                a.draw(r)
        buf = np.asarray(self.canvas.buffer_rgba())
        if after is not None:
            after(buf)
        return buf

    def restore(self, region) -> None:
        self.canvas.restore_region(region)

    def buffer(self) -> np.ndarray:
        return np.asarray(self.canvas.buffer_rgba())


class Sprite:
    """Pixels of an artist rendered once (straight RGBA), pasted into frames at any place."""

    def __init__(self, rgba: np.ndarray, anchor: tuple[float, float]):
        self.rgba = rgba                       # (h, w, 4) uint8
        self.alpha = rgba[..., 3:4].astype(np.float32) / 255.0
        self.color = rgba[..., :3].astype(np.float32)
        self.anchor = anchor                   # pixel of the sprite that goes to the paste point (x, y)

    @property
    def size(self) -> tuple[int, int]:
        return self.rgba.shape[1], self.rgba.shape[0]

    def paste(self, buf: np.ndarray, x: float, y_top: float) -> None:
        """Blend onto ``buf`` (rows top-down) with the sprite's top-left corner at (x, y_top) pixels."""
        h, w = self.rgba.shape[:2]
        x0, y0 = int(round(x)), int(round(y_top))
        bx0, by0 = max(x0, 0), max(y0, 0)
        bx1, by1 = min(x0 + w, buf.shape[1]), min(y0 + h, buf.shape[0])
        if bx1 <= bx0 or by1 <= by0:
            return
        sx0, sy0 = bx0 - x0, by0 - y0
        sx1, sy1 = sx0 + (bx1 - bx0), sy0 + (by1 - by0)
        a = self.alpha[sy0:sy1, sx0:sx1]
        dst = buf[by0:by1, bx0:bx1, :3]
        dst[...] = (self.color[sy0:sy1, sx0:sx1] * a + dst * (1.0 - a) + 0.5).astype(np.uint8)


_SPRITE_CANVASES: dict = {}


def render_sprite(make_artist, dpi: float, pad: int = 2) -> Sprite:
    """Render one text (or other artist) alone on a transparent canvas and cut out its pixels.

    ``make_artist(fig)`` adds the artist to the given transparent figure at (0.5, 0.5)
    in figure fraction with centre alignment; the sprite's anchor is its centre. One
    canvas per dpi serves every sprite (a new figure for each cost more than its text).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if dpi not in _SPRITE_CANVASES:
        fig = Figure(figsize=(6, 2), dpi=dpi)
        fig.patch.set_alpha(0.0)
        _SPRITE_CANVASES[dpi] = FigureCanvasAgg(fig)
    canvas = _SPRITE_CANVASES[dpi]
    fig = canvas.figure
    art = make_artist(fig)
    try:
        canvas.draw()
    finally:
        art.remove()
    buf = np.asarray(canvas.buffer_rgba()).copy()
    ink = buf[..., 3] > 0
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    if not len(rows):
        return Sprite(np.zeros((1, 1, 4), np.uint8), (0.0, 0.0))
    r0, r1 = max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, buf.shape[0])
    c0, c1 = max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, buf.shape[1])
    cx, cy = fig.bbox.width / 2, buf.shape[0] - fig.bbox.height / 2
    return Sprite(buf[r0:r1, c0:c1].copy(), (cx - c0, cy - r0))
