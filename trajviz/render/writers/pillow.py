"""Animated WebP and APNG through Pillow.

Frames are staged in a temporary raw file as they come and read back one at a time
when the file is encoded, so the frames are not all held in memory at once (Pillow's
APNG encoder keeps what it has encoded until the end).
"""

from __future__ import annotations

import tempfile

import numpy as np
from PIL import Image


class PillowBackend:
    def __init__(self, tmp, fps: float, hold: float, loop: int, fmt: str, **_):
        self.tmp, self.fps, self.hold, self.loop, self.fmt = tmp, fps, hold, loop, fmt
        self.stage = None
        self.n = 0
        self.size = None

    def start(self, first: np.ndarray) -> None:
        self.size = (first.shape[1], first.shape[0])
        self.stage = tempfile.TemporaryFile(dir=self.tmp.parent)

    def add(self, frame: np.ndarray) -> None:
        self.stage.write(np.ascontiguousarray(frame[..., :3]).tobytes())
        self.n += 1

    def finish(self) -> int:
        w, h = self.size
        n, stage = self.n, self.stage
        stage.flush()

        class Staged:
            """Frames 1..n-1 read back one at a time; iterable more than once (APNG takes two passes)."""

            def __len__(self):
                return n - 1

            def __iter__(self):
                for i in range(1, n):
                    stage.seek(i * w * h * 3)
                    yield Image.frombytes("RGB", (w, h), stage.read(w * h * 3))

        stage.seek(0)
        first = Image.frombytes("RGB", (w, h), stage.read(w * h * 3))
        ms = 1000.0 / self.fps
        durations = [ms] * n
        durations[-1] = ms + self.hold * 1000
        if self.fmt == "webp":
            first.save(self.tmp, format="WEBP", save_all=True, append_images=Staged(), duration=durations,
                       loop=self.loop, minimize_size=True, quality=90, method=4, lossless=False)
        else:
            first.save(self.tmp, format="PNG", save_all=True, append_images=Staged(), duration=durations,
                       loop=self.loop, optimize=False, default_image=False)
        self.abort()
        return n

    def abort(self) -> None:
        if self.stage is not None:
            self.stage.close()
            self.stage = None
