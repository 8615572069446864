"""One call in a forked process, beside the caller: work for a second core.

The ``trajviz`` command runs the optimizers in a child (half of the methods in a grandchild)
while it gets the drawing ready; an animation's later frames are drawn and encoded by a child.

:func:`start` forks (Linux only, where fork is the platform's own way and a child starts in
milliseconds with the parent's figure already built) and runs ``fn()`` in the child; the
caller goes on with its own share and later asks :meth:`Worker.result`. The child never
touches the caller's files (it returns its result through a pipe and exits without running
the caller's clean-up), ignores Ctrl-C (the caller decides), and is killed by
:meth:`Worker.cancel` on any failure or interrupt of the caller (and by the kernel if the caller
dies). A child runs torch on one thread (a forked OpenMP pool would hang). A child that fails or dies
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


_OPEN: set = set()   # the pipe ends this process holds for its workers: a child closes them all


class Worker:
    def __init__(self, proc, conn):
        self._proc, self._conn = proc, conn

    def result(self):
        """The child's return value, or None if it failed or died (then do the work yourself).
        A :class:`~trajviz.errors.TrajvizError` the child raised (bad input) is raised here."""
        try:
            kind, value = self._conn.recv()
        except Exception:           # it died (EOF), or what it sent does not unpickle here
            kind, value = "died", None
        except BaseException:       # Ctrl-C or SIGTERM while waiting: the child goes too
            self.cancel()
            raise
        self._close()
        self._proc.join()
        if kind == "raise":
            raise value
        return value if kind == "ok" else None

    def cancel(self) -> None:
        """Kill the child if it still runs (safe to call at any time, more than once); a grandchild
        dies with it (see :func:`_child`)."""
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join()
        self._close()

    def _close(self) -> None:
        _OPEN.discard(self._conn)
        self._conn.close()


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this process when its parent dies (Linux), so that no child of a
    killed command runs on (or blocks forever writing a result nobody reads)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return
    if os.getppid() != parent:         # the parent died before the request: go now
        os._exit(1)


def _child(fn, conn, parent: int) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C reaches the whole group: the parent decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)   # not the CLI's handler: just end
    _die_with_parent(parent)
    for other in list(_OPEN):          # the parent's ends of other workers' pipes (and our own
        if other is not conn:          # read end): held here they would hide a dead child's EOF
            other.close()
    _OPEN.clear()
    _OPEN.add(conn)                    # a child of this child closes it in turn
    if "torch" in sys.modules:
        # a forked copy of an OpenMP thread pool the parent used would hang the first parallel
        # region here; one thread never enters one (and the parent goes on with its own core)
        sys.modules["torch"].set_num_threads(1)
    from .errors import TrajvizError

    try:
        out = ("ok", fn())
    except TrajvizError as exc:   # bad input: the parent says it, as it would have
        out = ("raise", exc)
    except BaseException as exc:  # noqa: BLE001 - reported, and the parent does the work itself
        out = ("error", f"{type(exc).__name__}: {exc}")
    try:
        try:
            conn.send(out)
        except Exception as exc:  # noqa: BLE001 - e.g. a result that does not pickle: the parent does it
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    except Exception:  # noqa: BLE001 - the parent is gone or not listening: nothing to tell
        pass
    finally:
        conn.close()


def start(fn) -> Worker | None:
    """Run ``fn()`` in a forked child; None where that is not possible (then run it yourself)."""
    if not available():
        return None
    import gc
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    _OPEN.update((recv, send))
    # not a daemon: a child may have a child of its own (the run's second half); every caller
    # cancels its worker on any way out, and a child dies with its parent
    proc = ctx.Process(target=_child, args=(fn, send, os.getpid()), daemon=False, name="trajviz-worker")
    frozen = gc.get_freeze_count() == 0   # (a caller's own freeze is left alone)
    if frozen:
        gc.freeze()   # the child's collector never walks (and so never copies) the parent's objects
    try:
        proc.start()
    except OSError:
        _OPEN.difference_update((recv, send))
        recv.close()
        send.close()
        return None
    finally:
        if frozen:
            gc.unfreeze()
    _OPEN.discard(send)
    send.close()
    return Worker(proc, recv)
