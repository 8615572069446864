"""Animation writers: frames in, one file out, atomically, with flat memory.

:class:`AnimationWriter` is a context manager in matplotlib's setup / grab /
finish style: ``append`` takes an RGB(A) frame; leaving the block finishes the file.
Each format is one backend behind ``start / add / finish`` (``abort`` on failure):
GIF (:mod:`.gif`, streamed), WebP and APNG (:mod:`.pillow`), MP4 (:mod:`.mp4`, an
optional extra) and a self-contained HTML player (:mod:`.html`).

The target holds its old bytes or a complete new file, whatever happens: frames go
to a temporary file beside it, renamed onto it only after the backend finished.
An exception, Ctrl-C or SIGTERM (``SystemExit`` from the CLI's handler) at any
point, while frames come in or while the file is finished, removes the temporary
file and leaves the target untouched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...atomic import atomic_path, check_writable
from ...errors import TrajvizError
from .gif import GifBackend
from .html import HtmlBackend
from .mp4 import MP4_EXTRA, Mp4Backend, available
from .pillow import PillowBackend

FORMATS = (".gif", ".webp", ".png", ".mp4", ".html")


def check_animation_path(path) -> Path:
    """Check the extension (and the mp4 extra) and that the file can be written, before rendering."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in FORMATS:
        raise TrajvizError(f"cannot write an animation to '{path.name}': use one of {', '.join(FORMATS)}")
    if ext == ".mp4" and not available():
        raise TrajvizError(f"writing .mp4 needs the mp4 extra: {MP4_EXTRA}")
    return check_writable(path)


def _backend(ext: str, tmp: Path, **kw):
    if ext == ".gif":
        return GifBackend(tmp, **kw)
    if ext == ".html":
        return HtmlBackend(tmp, **kw)
    if ext == ".mp4":
        return Mp4Backend(tmp, **kw)
    return PillowBackend(tmp, fmt="webp" if ext == ".webp" else "png", **kw)


class AnimationWriter:
    """Write frames to ``path`` by its extension; use as a context manager.

    Args:
        path: .gif, .webp, .png (APNG), .mp4 or .html.
        fps: frames per second; hold: seconds the last frame stays up (checked as every
            fps and hold are, see :mod:`trajviz.options`).
        palette_sample: an RGB frame whose colours seed the GIF/HTML palette (the finished
            picture is best), and ``exact_colors`` the colours that must stay exact.
        loop: 0 = forever.
    """

    def __init__(self, path, *, fps: float = 25.0, hold: float = 1.5, palette_sample=None, exact_colors=(),
                 loop: int = 0, title: str = "trajviz"):
        from ...options import _fps, _hold

        self.path = check_animation_path(path)
        self.ext = self.path.suffix.lower()
        self.fps = _fps(fps, "fps")
        self.hold = _hold(hold, "hold")
        self.options = dict(fps=self.fps, hold=self.hold, loop=int(loop), palette_sample=palette_sample,
                            exact_colors=tuple(exact_colors), title=title)
        self.frames = 0           # frames appended
        self.written_frames = 0   # frames in the file (identical neighbours merged)
        self.size = None
        self._atomic = None
        self._backend = None

    def __enter__(self):
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        self._backend = _backend(self.ext, tmp, **self.options)
        return self

    def __exit__(self, exc_type, exc, tb):
        atomic, self._atomic = self._atomic, None
        if exc_type is None:
            try:
                if self.frames == 0:
                    raise TrajvizError("no frames to write")
                self.written_frames = self._backend.finish()
            except BaseException as failure:
                # finishing failed or was interrupted: the atomic block must see it, or it
                # would rename a half-written file onto the target
                self._backend.abort()
                if not atomic.__exit__(type(failure), failure, failure.__traceback__):
                    raise
                return False
            atomic.__exit__(None, None, None)
            return False
        self._backend.abort()
        return atomic.__exit__(exc_type, exc, tb)

    def append(self, frame: np.ndarray) -> None:
        """Add one frame: (H, W, 3) RGB or (H, W, 4) RGBA uint8 (alpha is ignored).

        The frame is copied (or encoded) before this returns, so the caller may
        reuse its buffer, e.g. pass ``np.asarray(canvas.buffer_rgba())`` directly.
        """
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] not in (3, 4) or frame.dtype != np.uint8:
            raise TrajvizError("a frame is an (H, W, 3) uint8 array")
        if self.size is None:
            self.size = (frame.shape[1], frame.shape[0])
            self._backend.start(frame)
        elif (frame.shape[1], frame.shape[0]) != self.size:
            raise TrajvizError(f"frame size {frame.shape[1]}x{frame.shape[0]} differs from {self.size}")
        self.frames += 1
        self._backend.add(frame)

    # ---- a tail of frames encoded in another process ------------------------------------------------------
    def can_take_tail(self) -> bool:
        """Whether :meth:`encode_tail` / :meth:`append_tail` work here (GIF, after the first frame)."""
        return self.ext == ".gif" and self.size is not None

    def encode_tail(self, frames) -> tuple:
        """Encode the frames after this writer's last one, elsewhere: ``frames`` starts with that
        last frame (the seed) and goes on; nothing is written. The result goes to
        :meth:`append_tail` of the writer these frames belong to (in the process that owns the file)."""
        return self._backend.encode_tail(frames)

    def append_tail(self, tail: tuple, frames: int) -> None:
        """Join on ``frames`` frames encoded by :meth:`encode_tail`; append nothing after them."""
        self._backend.add_tail(*tail)
        self.frames += frames


__all__ = ["AnimationWriter", "FORMATS", "check_animation_path", "MP4_EXTRA"]
