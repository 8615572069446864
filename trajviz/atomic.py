"""Atomic file output: write to a temporary file beside the target, then rename.

A failure (or Ctrl-C) part-way never leaves half a file, and never destroys an
existing file at the target path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import TrajvizError


class OutputError(TrajvizError):
    """The output path cannot be written (missing folder, no permission)."""


def check_writable(path) -> Path:
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write '{path}': folder '{folder}' does not exist")
    if path.is_dir():
        raise OutputError(f"cannot write '{path}': it is a folder")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(f"cannot write '{path}': permission denied")
    return path


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    >>> with atomic_path("out.csv") as tmp:  # doctest: +SKIP
    ...     Path(tmp).write_text("a,b\\n")
    """
    path = check_writable(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix if suffix is not None else path.suffix,
                               dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    try:
        yield Path(tmp)
        if path.exists():
            mode = path.stat().st_mode & 0o777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
