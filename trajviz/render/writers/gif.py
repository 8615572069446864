"""GIF, streamed frame by frame: memory does not grow with the number of frames.

Pillow's own multi-frame GIF writer keeps every frame until the end, so here Pillow
encodes each frame (its LZW coder) and this module writes the GIF container around
it: one global palette shared by all frames, the loop flag, per-frame delays, and
each frame cropped to what changed since the previous one with unchanged pixels
transparent.
"""

from __future__ import annotations

import io
import struct

import numpy as np

from .palette import TRANSPARENT, IndexedFrames, delta, p_image

MAX_DELAY_CS = 65535  # a GIF frame's delay is a 16-bit count of 1/100 s


def frame_blocks(indices: np.ndarray, flat_palette: np.ndarray) -> bytes:
    """Pillow's encoding of one frame: the image descriptor and LZW data (no header, no trailer)."""
    buf = io.BytesIO()
    p_image(indices, flat_palette).save(buf, format="GIF", optimize=False)
    data = buf.getvalue()
    pos = 13
    packed = data[10]
    if packed & 0x80:
        pos += 3 * (2 ** ((packed & 0x07) + 1))
    while pos < len(data):
        block = data[pos]
        if block == 0x21:  # extension: label, then sub-blocks
            pos += 2
            while data[pos]:
                pos += data[pos] + 1
            pos += 1
        elif block == 0x2C:
            end = len(data) - 1 if data[-1] == 0x3B else len(data)
            return data[pos:end]
        else:
            break
    raise RuntimeError("unexpected GIF layout from Pillow")


class GifBackend:
    def __init__(self, tmp, fps: float, hold: float, loop: int, palette_sample, exact_colors, **_):
        self.tmp, self.fps, self.hold, self.loop = tmp, fps, hold, loop
        self.palette_sample, self.exact_colors = palette_sample, exact_colors
        self.fh = None
        self.frames = None
        self.prev = None
        self.written = 0

    def start(self, first: np.ndarray) -> None:
        h, w = first.shape[:2]
        sample = self.palette_sample if self.palette_sample is not None else first
        self.frames = IndexedFrames(sample, self.exact_colors)
        self.flat = self.frames.quant.flat
        self.fh = open(self.tmp, "wb")
        self.fh.write(b"GIF89a" + struct.pack("<HHBBB", w, h, 0xF7, 0, 0) + self.flat.tobytes())
        self.fh.write(b"\x21\xFF\x0BNETSCAPE2.0\x03\x01" + struct.pack("<H", self.loop) + b"\x00")

    def add(self, frame: np.ndarray) -> None:
        done = self.frames.add(frame)
        if done is not None:
            self._write(*done, last=False)

    def finish(self) -> int:
        done = self.frames.last()
        if done is not None:
            self._write(*done, last=True)
        self.fh.write(b"\x3B")
        self.fh.close()
        self.fh = None
        return self.written

    def abort(self) -> None:
        if self.fh is not None:
            self.fh.close()

    def _write(self, indices: np.ndarray, count: int, last: bool) -> None:
        seconds = count / self.fps + (self.hold if last else 0.0)
        top = left = 0
        transparent = False
        shown = indices
        if self.prev is not None:
            shown, top, left, transparent = delta(self.prev, indices)
        packed = (1 << 2) | (1 if transparent else 0)  # disposal 1: keep, then draw on top
        delay = min(MAX_DELAY_CS, max(2, int(round(seconds * 100))))
        self.fh.write(b"\x21\xF9\x04" + struct.pack("<BHB", packed, delay, TRANSPARENT if transparent else 0)
                      + b"\x00")
        blocks = bytearray(frame_blocks(shown, self.flat))
        blocks[1:5] = struct.pack("<HH", left, top)
        self.fh.write(bytes(blocks))
        self.prev = indices
        self.written += 1
