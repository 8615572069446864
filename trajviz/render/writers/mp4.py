"""MP4 (H.264) through imageio-ffmpeg, an optional extra: ``pip install "trajviz-optim[mp4]"``."""

from __future__ import annotations

import numpy as np

from ...errors import TrajvizError

MP4_EXTRA = 'pip install "trajviz-optim[mp4]"  (imageio-ffmpeg)'


def available() -> bool:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


class Mp4Backend:
    def __init__(self, tmp, fps: float, hold: float, **_):
        self.tmp, self.fps, self.hold = tmp, fps, hold
        self.ff = None
        self.last = None
        self.n = 0

    def start(self, first: np.ndarray) -> None:
        import imageio_ffmpeg

        h, w = first.shape[:2]
        if w % 2 or h % 2:
            raise TrajvizError(f"bad size: {w}x{h} (must be even in both directions for mp4)")
        self.ff = imageio_ffmpeg.write_frames(str(self.tmp), (w, h), fps=self.fps, codec="libx264",
                                              pix_fmt_out="yuv420p", macro_block_size=2, quality=7,
                                              output_params=["-movflags", "+faststart"])
        self.ff.send(None)

    def add(self, frame: np.ndarray) -> None:
        self.last = np.ascontiguousarray(frame[..., :3])
        self.ff.send(self.last)
        self.n += 1

    def finish(self) -> int:
        extra = int(round(self.hold * self.fps))
        for _ in range(extra):
            self.ff.send(self.last)
        ff, self.ff = self.ff, None
        ff.close()
        return self.n + extra

    def abort(self) -> None:
        if self.ff is not None:
            ff, self.ff = self.ff, None
            try:
                ff.close()
            except Exception:  # noqa: BLE001 - ffmpeg may already be gone; the file is discarded anyway
                pass
