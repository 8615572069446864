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
        self.final = None     # the last run of a tail joined on (its blocks), written by finish

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
        if self.final is not None:
            self._emit(*self.final, last=True)
        else:
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

    # ---- a tail encoded elsewhere (another process), joined on ------------------------------------------
    def encode_tail(self, frames) -> tuple[int, list]:
        """Encode ``frames`` (an iterable) as this backend would after its own frames, without
        writing: the first frame is the seed, the last frame this backend was given (it is not
        written again). Returns (how many more frames the seed's run lasts, [(count, blocks,
        transparent), ...] for each run after it). Needs only the palette (after ``start``)."""
        it = iter(frames)
        indexed = IndexedFrames(None, quant=self.frames.quant)
        indexed.add(next(it))
        lead, prev, runs = None, None, []

        def finished(indices, count):
            nonlocal lead, prev
            if lead is None:
                lead = count - 1
            else:
                runs.append((count, *self._encode(prev, indices)))
            prev = indices

        for frame in it:
            done = indexed.add(frame)
            if done is not None:
                finished(*done)
        finished(*indexed.last())
        return lead, runs

    def add_tail(self, lead: int, runs: list) -> None:
        """Join on a tail from :meth:`encode_tail` (seeded with this backend's last frame); no
        frame may be added after it."""
        self.frames.extend(lead)
        if runs:
            self._write(*self.frames.last(), last=False)
            for count, blocks, transparent in runs[:-1]:
                self._emit(count, blocks, transparent, last=False)
            self.final = runs[-1]

    def _encode(self, prev, indices: np.ndarray) -> tuple[bytes, bool]:
        """One frame's image blocks (cropped to what changed since ``prev``, if any) and whether it
        has transparent (unchanged) pixels."""
        top = left = 0
        transparent = False
        shown = indices
        if prev is not None:
            shown, top, left, transparent = delta(prev, indices)
        blocks = bytearray(frame_blocks(shown, self.flat))
        blocks[1:5] = struct.pack("<HH", left, top)
        return bytes(blocks), transparent

    def _emit(self, count: int, blocks: bytes, transparent: bool, last: bool) -> None:
        seconds = count / self.fps + (self.hold if last else 0.0)
        packed = (1 << 2) | (1 if transparent else 0)  # disposal 1: keep, then draw on top
        delay = min(MAX_DELAY_CS, max(2, int(round(seconds * 100))))
        self.fh.write(b"\x21\xF9\x04" + struct.pack("<BHB", packed, delay, TRANSPARENT if transparent else 0)
                      + b"\x00")
        self.fh.write(blocks)
        self.written += 1

    def _write(self, indices: np.ndarray, count: int, last: bool) -> None:
        self._emit(count, *self._encode(self.prev, indices), last=last)
        self.prev = indices
