"""The second core (trajviz.worker): forked children that never hang, never outlive the command,
and never cost a result: whatever a child cannot do, the parent does."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from trajviz import worker
from trajviz.errors import TrajvizError

pytestmark = pytest.mark.skipif(not (sys.platform.startswith("linux") and worker.cores() >= 2),
                                reason="needs Linux and two cores")


def test_a_child_returns_raises_bad_input_and_fails_soft():
    assert worker.start(lambda: 41 + 1).result() == 42
    with pytest.raises(TrajvizError, match="bad"):
        worker.start(lambda: (_ for _ in ()).throw(TrajvizError("bad value"))).result()
    assert worker.start(lambda: 1 / 0).result() is None            # the caller does the work
    assert worker.start(lambda: lambda: 1).result() is None         # a result that does not pickle
    assert worker.start(lambda: os._exit(7)).result() is None       # a child that dies


def test_a_callers_own_gc_freeze_is_left_alone():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert worker.start(lambda: 1).result() == 1
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_a_child_after_openmp_work_does_not_hang(tmp_path):
    """torch's OpenMP pool, used by the parent before the fork, would hang the child's first
    parallel region (reproduced with a plain fork); the child runs torch on one thread."""
    code = textwrap.dedent("""
        import torch
        from trajviz import worker
        x = torch.rand(5_000_000)
        x.exp().sum()                        # a parallel region in the parent
        h = worker.start(lambda: float(torch.rand(5_000_000).exp().sum() > 0))
        print("result", h.result())
    """)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90, env=env)
    assert r.returncode == 0, r.stderr
    assert "result 1.0" in r.stdout


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_children_die_with_a_killed_command(tmp_path):
    """kill -9 of the command (no clean-up runs) takes its run's child and grandchild with it."""
    exe = [sys.executable, "-m", "trajviz", "animate", "rosenbrock", "--steps", "40000", "-o", str(tmp_path / "a.gif")]
    proc = subprocess.Popen(exe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        family = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            kids = _children(proc.pid)
            grandkids = [g for k in kids for g in _children(k)]
            if kids and grandkids:
                family = kids + grandkids
                break
            time.sleep(0.1)
        assert family, "the run's child and grandchild never appeared"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in family):
            time.sleep(0.1)
        assert not any(_alive(p) for p in family)
        assert not (tmp_path / "a.gif").exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_formula_surface_runs_in_the_child_without_a_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "trajviz", "plot", "x**2 + 10*y**2", "--opt", "sgd", "--opt", "adam",
                        "-o", str(tmp_path / "p.png")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and (tmp_path / "p.png").stat().st_size > 0


@pytest.mark.parametrize("surface", ["x**2 + 10*y**2", "regression"])
def test_the_whole_run_in_a_child_equals_a_run_here(surface, monkeypatch):
    from trajviz.api import run_with
    from trajviz.options import RunOptions

    got = []
    real = worker.start

    def start(fn):
        w = real(fn)
        result = w.result

        def recorded():
            value = result()
            got.append(value is not None)
            return value

        w.result = recorded
        return w

    monkeypatch.setattr(worker, "start", start)
    ro = RunOptions(surface=surface, steps=30, opt=("sgd", "momentum", "adam"))
    calls = []
    there = run_with(ro, beside=True, meanwhile=lambda: calls.append(1))
    assert calls == [1] and got and got[0]        # the child's traces were used, not a run here
    monkeypatch.setenv("TRAJVIZ_JOBS", "1")
    here = run_with(ro)
    assert there.labels == here.labels and there.surface.spec == here.surface.spec
    for a, b in zip(there, here):
        assert (a.path == b.path).all() and (a.loss == b.loss).all()
    assert (there.starts == here.starts).all() and there.settings == here.settings


def test_the_memory_guard_sees_the_whole_split_job(monkeypatch):
    import trajviz.engine as E
    from trajviz import api
    from trajviz.api import run_with
    from trajviz.options import RunOptions

    ro = RunOptions(surface="rosenbrock", steps=50)
    started = []
    real = worker.start
    monkeypatch.setattr(worker, "start", lambda fn: (started.append(1), real(fn))[1])
    need = E.recorded_bytes(E.Setup(ro), 7 * 1, E.ALL_KEYS)
    monkeypatch.setattr(E, "MEMORY_BUDGET", need - 1)        # the whole job is over, each half is not
    with pytest.raises(TrajvizError, match="needs"):
        run_with(ro, beside=True)
    monkeypatch.setattr(E, "MEMORY_BUDGET", need * 2)         # fits, but too big to copy: no split
    run_with(ro, beside=True)
    assert started == []
    monkeypatch.setattr(E, "MEMORY_BUDGET", int(need / api.SPLIT_MEMORY_SHARE) + 1)
    run_with(ro, beside=True)
    assert started == [1]
