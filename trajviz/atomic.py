"""Atomic file output: write to a temporary file beside the target, then rename.

The target holds either its old bytes or a complete new file, whatever happens:
an exception, Ctrl-C or SIGTERM (turned into ``SystemExit`` by the CLI) at any
point before the rename removes the temporary file and leaves the target alone.
The rename happens only when the block that wrote the file finished without an
exception.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from .errors import OutputError


def check_writable(path) -> Path:
    """Fail now, naming ``path``, if a file cannot be created there (before any long work)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write '{path}': folder '{folder}' does not exist")
    if path.is_dir():
        raise OutputError(f"cannot write '{path}': it is a folder")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(f"cannot write '{path}': permission denied")
    # access() says yes on read-only file systems (/sys, /proc, a read-only mount): try for real
    try:
        probe = _create_temp(path)
    except OSError as exc:
        raise OutputError(f"cannot write '{path}': {exc.strerror or exc}") from None
    os.close(probe[0])
    os.unlink(probe[1])
    return path


def _create_temp(path: Path) -> tuple[int, str]:
    """A new empty file beside ``path``, created with mode 0666 so the kernel applies the umask
    (reading the umask would mean setting it, a race with other threads)."""
    folder = str(path.parent) if str(path.parent) else "."
    for _ in range(100):
        # the target's extension last: encoders such as ffmpeg choose the format by it
        name = os.path.join(folder, f".{path.name}.{os.getpid()}{os.urandom(3).hex()}{path.suffix}")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), name
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "no free temporary name", folder)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    >>> with atomic_path("out.csv") as tmp:  # doctest: +SKIP
    ...     Path(tmp).write_text("a,b\\n")
    """
    path = check_writable(path)
    try:
        fd, tmp = _create_temp(path)
    except OSError as exc:
        raise OutputError(f"cannot write '{path}': {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield Path(tmp)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise OutputError(f"cannot write '{path}': {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


__all__ = ["atomic_path", "check_writable", "OutputError"]
