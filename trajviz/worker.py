"""One call in a forked process, beside the caller: work for a second core.

The ``trajviz`` command runs the optimizers in a child (half of the methods in a grandchild)
while it gets the drawing ready; an animation's later frames are drawn and encoded by a child.

:func:`start` forks (Linux only, where fork is the platform's own way and a child starts in
milliseconds with the parent's figure already built) and runs ``fn()`` in the child; the
caller goes on with its own share and later asks :meth:`Worker.result`. The child never
touches the caller's files (it returns its result through a pipe and exits without running
the caller's clean-up), ignores Ctrl-C (the caller decides), and is killed by
:meth:`Worker.cancel` on any failure or interrupt of the caller. A child that fails or dies
gives ``None``: the caller then does the work itself, so a missing core never loses a file.
"""

from __future__ import annotations

import os
import sys


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def available() -> bool:
    """Forking helps here, and is safe: Linux, at least two cores for this process, no other Python
    thread (a notebook's kernel has several: a lock one of them holds would stay held in the child),
    and not turned off (``TRAJVIZ_JOBS=1``)."""
    import threading

    return (sys.platform.startswith("linux") and cores() >= 2 and threading.active_count() == 1
            and os.environ.get("TRAJVIZ_JOBS", "") != "1")


class Worker:
    def __init__(self, proc, conn):
        self._proc, self._conn = proc, conn

    def result(self):
        """The child's return value, or None if it failed or died (then do the work yourself).
        A :class:`~trajviz.errors.TrajvizError` the child raised (bad input) is raised here."""
        try:
            kind, value = self._conn.recv()
        except (EOFError, OSError):
            kind, value = "died", None
        except BaseException:       # Ctrl-C or SIGTERM while waiting: the child goes too
            self.cancel()
            raise
        self._conn.close()
        self._proc.join()
        if kind == "raise":
            raise value
        return value if kind == "ok" else None

    def cancel(self) -> None:
        """Kill the child if it still runs (safe to call at any time, more than once)."""
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join()
        self._conn.close()


def _child(fn, conn) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C reaches the whole group: the parent decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)   # not the CLI's handler: just end
    from .errors import TrajvizError

    try:
        out = ("ok", fn())
    except TrajvizError as exc:   # bad input: the parent says it, as it would have
        out = ("raise", exc)
    except BaseException as exc:  # noqa: BLE001 - reported, and the parent does the work itself
        out = ("error", f"{type(exc).__name__}: {exc}")
    try:
        conn.send(out)
    finally:
        conn.close()


def start(fn) -> Worker | None:
    """Run ``fn()`` in a forked child; None where that is not possible (then run it yourself)."""
    if not available():
        return None
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    # not a daemon: a child may have a child of its own (the run's second half); every caller
    # cancels its worker on any way out, so none outlives its parent's work
    proc = ctx.Process(target=_child, args=(fn, send), daemon=False, name="trajviz-worker")
    import gc

    gc.freeze()   # the child's collector never walks (and so never copies) the parent's objects
    try:
        proc.start()
    except OSError:
        recv.close()
        send.close()
        return None
    finally:
        gc.unfreeze()
    send.close()
    return Worker(proc, recv)
