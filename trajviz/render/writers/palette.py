"""Indexed frames: one palette shared by every frame, and frame-to-frame deltas.

GIF and the HTML player store frames as palette indices: a palette built once
from a sample frame (the finished picture) plus the colours that must stay exact
(the methods'), so lines keep their colours; each frame is cropped to what changed
since the previous one, with unchanged pixels transparent.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

TRANSPARENT = 255  # palette index reserved for "unchanged since the previous frame"
COLORS = 128       # palette entries used: the ramps are smooth and the method colours exact, and
                   # half the entries leave fewer shades on antialiased edges (a 10% smaller GIF)
EXACT_RADIUS = 12  # sampled palette entries this close (RGB levels) to an exact colour are dropped


def _hex_rgb(color: str) -> tuple[int, int, int]:
    from matplotlib.colors import to_rgb

    return tuple(int(round(c * 255)) for c in to_rgb(color))


def build_palette(sample: np.ndarray, exact_colors=(), size: int = COLORS) -> np.ndarray:
    """A (size, 3) uint8 palette: the exact colours first, then the sample's main colours."""
    exact = []
    for c in exact_colors:
        rgb = _hex_rgb(c) if isinstance(c, str) else tuple(int(v) for v in c)
        if rgb not in exact:
            exact.append(rgb)
    exact = exact[: size // 2]
    rest = size - len(exact)
    step = 2 if sample.shape[0] * sample.shape[1] > 250_000 else 1   # every other pixel: the same shares, 4x faster
    img = Image.fromarray(np.ascontiguousarray(sample[::step, ::step, :3]))
    quant = img.quantize(colors=rest, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal = np.array(quant.getpalette()[: 3 * rest], dtype=np.uint8).reshape(-1, 3)
    if exact:
        # Pillow maps colours to a fixed palette through a cache of 4x4x4-level cells: a sampled
        # entry within a few levels of an exact colour can win that colour's cell (white came out
        # 251 grey, Adam's orange another orange). Dropping such near twins keeps exact colours exact.
        ex = np.array(exact, dtype=np.int64)
        d2 = ((pal[:, None, :].astype(np.int64) - ex[None]) ** 2).sum(-1).min(axis=1)
        pal = pal[d2 > EXACT_RADIUS**2]
    out = np.zeros((size, 3), dtype=np.uint8)
    if exact:
        out[: len(exact)] = np.array(exact, dtype=np.uint8)
    out[len(exact): len(exact) + len(pal)] = pal
    if len(exact) + len(pal) < size:  # fewer colours in the sample than slots: repeat the first
        out[len(exact) + len(pal):] = out[0]
    return out


class Quantizer:
    """Maps RGB frames to indices of one fixed palette (nearest colour, no dithering)."""

    def __init__(self, palette: np.ndarray):
        self.palette = palette
        flat = np.zeros((256, 3), dtype=np.uint8)
        flat[: len(palette)] = palette
        flat[len(palette):] = palette[0]
        self._pal_img = Image.new("P", (1, 1))
        self._pal_img.putpalette(flat.reshape(-1).tolist())
        self.flat = flat

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Palette indices of an RGB or RGBA frame (alpha ignored)."""
        img = Image.fromarray(np.ascontiguousarray(frame))
        if img.mode != "RGB":
            img = img.convert("RGB")
        q = img.quantize(palette=self._pal_img, dither=Image.Dither.NONE)
        return np.asarray(q)


def p_image(indices: np.ndarray, flat_palette: np.ndarray) -> Image.Image:
    im = Image.frombytes("P", (indices.shape[1], indices.shape[0]), np.ascontiguousarray(indices).tobytes())
    im.putpalette(flat_palette.reshape(-1).tolist())
    return im


def rgb(frame: np.ndarray) -> np.ndarray:
    """A C-contiguous RGB copy (or view) of an RGB or RGBA frame."""
    if frame.shape[2] == 3:
        return np.ascontiguousarray(frame)
    # Pillow drops the alpha channel about twice as fast as a strided numpy copy
    return np.asarray(Image.fromarray(np.ascontiguousarray(frame), "RGBA").convert("RGB"))


def changed_bbox(prev: np.ndarray, cur: np.ndarray):
    """The (r0, r1, c0, c1) box where two arrays differ, or None."""
    return _box_of(prev != cur)


def _box_of(diff: np.ndarray):
    """The (r0, r1, c0, c1) box of the True entries of a 2D mask, or None."""
    rows = np.flatnonzero(diff.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(diff.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def frame_diff_box(a: np.ndarray, b: np.ndarray):
    """The box of pixels whose colour differs between two frames, or None."""
    if a.shape[2] == 4 and a.flags.c_contiguous and b.flags.c_contiguous:
        # RGBA as one uint32 per pixel: one comparison instead of four
        return changed_bbox(a.view(np.uint32)[..., 0], b.view(np.uint32)[..., 0])
    diff = (a[..., :3] != b[..., :3]).any(axis=2)
    return changed_bbox(diff, np.zeros_like(diff))


def delta(prev: np.ndarray, cur: np.ndarray):
    """``cur`` cropped to what changed since ``prev``, unchanged pixels made TRANSPARENT.

    Returns (crop, top, left, any_transparent); an identical frame gives one pixel.
    """
    r0, r1, c0, c1 = changed_bbox(prev, cur) or (0, 1, 0, 1)
    crop = cur[r0:r1, c0:c1].copy()
    same = prev[r0:r1, c0:c1] == crop
    crop[same] = TRANSPARENT
    return crop, r0, c0, bool(same.any())


class IndexedFrames:
    """Frames in, merged runs of palette-index frames out: ``add`` returns the finished runs.

    Only the pixels that changed since the previous frame are quantized: an animation
    redraws a small part of a large picture, and quantizing (or even copying) whole
    frames would cost more than drawing them. Identical neighbours merge into one frame
    shown longer.
    """

    def __init__(self, sample: np.ndarray | None, exact_colors=(), quant: Quantizer | None = None):
        self.quant = quant if quant is not None else Quantizer(build_palette(np.asarray(sample), exact_colors))
        self._frame = None
        self._pending = None      # [indices, count]

    def add(self, frame: np.ndarray):
        """Take one frame; return ``(indices, count)`` of a finished run, or None."""
        if self._pending is None:
            self._frame = np.array(frame)  # our own copy: the caller may reuse its buffer
            self._pending = [self.quant(frame), 1]
            return None
        if self._frame.shape != frame.shape:  # RGBA after RGB or the reverse
            self._frame = np.array(rgb(self._frame)) if frame.shape[2] == 3 else np.concatenate(
                [self._frame, np.full(self._frame.shape[:2] + (1,), 255, np.uint8)], axis=2)
        if frame.shape[2] == 4 and frame.flags.c_contiguous:
            # RGBA as one uint32 per pixel: one comparison instead of four, done once
            mine, theirs = self._frame.view(np.uint32)[..., 0], frame.view(np.uint32)[..., 0]
            diff = mine != theirs
            box = _box_of(diff)
        else:
            diff, box = None, frame_diff_box(self._frame, frame)
        if box is None:
            self._pending[1] += 1
            return None
        r0, r1, c0, c1 = box
        last = self._pending[0]
        if diff is not None:
            # only the pixels that changed are quantized (a box spans map and loss panel; a frame
            # changes a few percent of it): one row of them, put back where they came from
            moved = diff[r0:r1, c0:c1]
            new = theirs[r0:r1, c0:c1][moved]
            mine[r0:r1, c0:c1][moved] = new
            crop = last[r0:r1, c0:c1].copy()
            crop[moved] = self.quant(new.view(np.uint8).reshape(1, -1, 4))[0]
        else:
            self._frame[r0:r1, c0:c1] = frame[r0:r1, c0:c1]
            crop = self.quant(frame[r0:r1, c0:c1])
        if np.array_equal(last[r0:r1, c0:c1], crop):  # other colours, same palette indices
            self._pending[1] += 1
            return None
        q = last.copy()
        q[r0:r1, c0:c1] = crop
        done, self._pending = tuple(self._pending), [q, 1]
        return done

    def extend(self, count: int) -> None:
        """The pending run lasts ``count`` frames longer (identical frames encoded elsewhere)."""
        self._pending[1] += count

    def last(self):
        """The final run, ``(indices, count)``, or None if no frame came."""
        done, self._pending = (tuple(self._pending) if self._pending else None), None
        return done
