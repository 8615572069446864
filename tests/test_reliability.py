"""Nothing lost, nothing crashes (issue 11): the user's files survive every failure and interrupt,
bad input is one line with exit code 2, valid input does not crash.

Each test here failed on the code before the fix (commit 95186b4) unless its docstring says
it guards a path that already held.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

import trajviz
from trajviz.cli import cli

OLD = b"old bytes: the user's file, which must survive\n"


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, env=env)


def one_line_error(r, code: int = 2) -> str:
    """The result is one line on stderr, ``Error: ...``, with ``code`` and no traceback."""
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def leftovers(folder: Path, keep: str) -> list[str]:
    """Files in ``folder`` other than ``keep`` (a temporary file left behind shows up here)."""
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


def _mp4_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("imageio_ffmpeg") is not None


ANIMATION_FORMATS = [".gif", ".webp", ".png", ".html",
                     pytest.param(".mp4", marks=pytest.mark.skipif(not _mp4_available(),
                                                                   reason="needs the mp4 extra (imageio-ffmpeg)"))]


# ---- 1. the user's file survives: animation writers ----------------------------------------------
def frames(n: int = 6, w: int = 64, h: int = 48) -> list[np.ndarray]:
    """Distinct frames (a square moving over a gradient), so every format has work at every frame."""
    base = np.zeros((h, w, 3), dtype=np.uint8)
    base[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    base[..., 2] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    out = []
    for k in range(n):
        f = base.copy()
        f[10:20, 4 + 6 * k: 14 + 6 * k] = (255, 255, 0)
        out.append(f)
    return out


def write_animation(path: Path, n: int = 6, **kw) -> None:
    from trajviz.render.writers import AnimationWriter

    with AnimationWriter(path, fps=10, hold=0.5, **kw) as w:
        for f in frames(n):
            w.append(f)


class Counter:
    """Wraps ``owner.name``; raises ``exc`` on call number ``at`` (after letting ``before`` run)."""

    def __init__(self, monkeypatch, owner, name, at=None, exc=None, before=None):
        self.calls, self.at, self.exc, self.before = 0, at, exc, before
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            self.calls += 1
            if self.at is not None and self.calls == self.at:
                if self.before is not None:
                    self.before(*args, **kwargs)
                raise self.exc
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)


def _scribble(self, fp=None, *args, **kwargs):
    """What a failing encoder leaves: a few bytes in the file it was writing."""
    if isinstance(fp, (str, os.PathLike)):
        with open(fp, "ab") as fh:
            fh.write(b"partial")


def _calls_in_a_full_write(tmp_path, monkeypatch, ext, owner, name) -> int:
    with monkeypatch.context() as m:
        c = Counter(m, owner, name)
        write_animation(tmp_path / f"dry{ext}")
    (tmp_path / f"dry{ext}").unlink()
    return c.calls


@pytest.mark.parametrize("ext", [".gif", ".webp", ".png", ".html"])
@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(143), OSError(28, "No space left on device")],
                         ids=["ctrl-c", "sigterm", "encoder-error"])
def test_failure_while_finishing_keeps_the_old_file(tmp_path, monkeypatch, ext, exc):
    """The encoder's last call (in finishing the file) is interrupted or fails after writing part
    of the file: the target keeps its old bytes and no temporary file is left (before: the partial
    file was renamed onto the target)."""
    target = tmp_path / f"a{ext}"
    target.write_bytes(OLD)
    last = _calls_in_a_full_write(tmp_path, monkeypatch, ext, PIL.Image.Image, "save")
    Counter(monkeypatch, PIL.Image.Image, "save", at=last, exc=exc, before=_scribble)
    with pytest.raises(type(exc)):
        write_animation(target)
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path, target.name) == []


@pytest.mark.parametrize("ext", [".webp", ".png"])
@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(143)], ids=["ctrl-c", "sigterm"])
def test_interrupt_in_the_middle_of_encoding_keeps_the_old_file(tmp_path, monkeypatch, ext, exc):
    """WebP and APNG encode every frame when the file is finished: an interrupt half-way through."""
    target = tmp_path / f"a{ext}"
    target.write_bytes(OLD)
    total = _calls_in_a_full_write(tmp_path, monkeypatch, ext, PIL.Image, "frombytes")
    Counter(monkeypatch, PIL.Image, "frombytes", at=total - 2, exc=exc)
    with pytest.raises(type(exc)):
        write_animation(target)
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path, target.name) == []


@pytest.mark.skipif(not _mp4_available(), reason="needs the mp4 extra (imageio-ffmpeg)")
@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(143), RuntimeError("ffmpeg failed")],
                         ids=["ctrl-c", "sigterm", "encoder-error"])
def test_mp4_failure_while_finishing_keeps_the_old_file(tmp_path, monkeypatch, exc):
    """ffmpeg is closed (the file finished) and then the interrupt arrives, before the rename."""
    import imageio_ffmpeg

    real = imageio_ffmpeg.write_frames

    class Interrupted:
        def __init__(self, gen):
            self.gen = gen

        def send(self, value):
            return self.gen.send(value)

        def close(self):
            gen, self.gen = self.gen, None
            if gen is not None:
                gen.close()
                raise exc

    monkeypatch.setattr(imageio_ffmpeg, "write_frames", lambda *a, **k: Interrupted(real(*a, **k)))
    target = tmp_path / "a.mp4"
    target.write_bytes(OLD)
    with pytest.raises(type(exc)):
        write_animation(target)
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path, target.name) == []


@pytest.mark.parametrize("ext", ANIMATION_FORMATS)
@pytest.mark.parametrize("at", [1, 4])
def test_interrupt_while_frames_come_in_keeps_the_old_file(tmp_path, ext, at):
    """Guards a path that already held: Ctrl-C between frames."""
    from trajviz.render.writers import AnimationWriter

    target = tmp_path / f"a{ext}"
    target.write_bytes(OLD)
    with pytest.raises(KeyboardInterrupt):
        with AnimationWriter(target, fps=10, hold=0.5) as w:
            for k, f in enumerate(frames(6)):
                if k == at:
                    raise KeyboardInterrupt
                w.append(f)
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path, target.name) == []


@pytest.mark.parametrize("ext", ANIMATION_FORMATS)
def test_a_complete_write_replaces_the_old_file(tmp_path, ext):
    """The other half of the promise: without a failure the target is the complete new file."""
    target = tmp_path / f"a{ext}"
    target.write_bytes(OLD)
    write_animation(target)
    data = target.read_bytes()
    assert data != OLD and leftovers(tmp_path, target.name) == []
    if ext in (".gif", ".webp", ".png"):
        with PIL.Image.open(target) as im:
            assert im.n_frames == 6
    elif ext == ".html":
        assert data.rstrip().endswith(b"</html>")


# ---- 1. ... in a real run, through the command ---------------------------------------------------
ANIMATE = ("animate", "quadratic", "--opt", "sgd", "--opt", "adam", "--steps", "12", "--frames", "8",
           "--size", "160x120", "--fps", "10")


@pytest.mark.parametrize("ext", ANIMATION_FORMATS)
@pytest.mark.parametrize("when", ["first frame", "middle frame", "finishing"])
@pytest.mark.parametrize("exc,code", [(KeyboardInterrupt(), 130), (SystemExit(143), 143)], ids=["sigint", "sigterm"])
def test_interrupted_animate_command_keeps_the_old_file(tmp_path, monkeypatch, ext, when, exc, code):
    """``trajviz animate`` interrupted at several points of a real run: exit 130 (Ctrl-C) or 143
    (SIGTERM, which the command turns into SystemExit), and the old file is intact."""
    from trajviz.render import writers

    target = tmp_path / f"race{ext}"
    target.write_bytes(OLD)
    if when == "finishing":
        if ext == ".mp4":
            import imageio_ffmpeg

            real = imageio_ffmpeg.write_frames

            class Interrupted:
                def __init__(self, gen):
                    self.gen = gen

                def send(self, value):
                    return self.gen.send(value)

                def close(self):
                    gen, self.gen = self.gen, None
                    if gen is not None:
                        gen.close()
                        raise exc

            monkeypatch.setattr(imageio_ffmpeg, "write_frames", lambda *a, **k: Interrupted(real(*a, **k)))
        else:
            with monkeypatch.context() as m:
                c = Counter(m, PIL.Image.Image, "save")
                assert invoke(*ANIMATE, "-o", tmp_path / f"dry{ext}").exit_code == 0
            (tmp_path / f"dry{ext}").unlink()
            Counter(monkeypatch, PIL.Image.Image, "save", at=c.calls, exc=exc, before=_scribble)
    else:
        Counter(monkeypatch, writers.AnimationWriter, "append", at=1 if when == "first frame" else 4, exc=exc)
    r = CliRunner().invoke(cli, [*ANIMATE, "-o", str(target)])
    assert r.exit_code == code, (r.stderr, r.exception)
    assert "Traceback" not in r.stderr
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path, target.name) == []


# ---- 1. ... and the other outputs: pictures and data ----------------------------------------------
@pytest.mark.parametrize("ext", [".png", ".svg", ".pdf"])
@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(143), OSError(28, "No space left on device")],
                         ids=["ctrl-c", "sigterm", "disk-full"])
def test_picture_interrupted_while_saving_keeps_the_old_file(tmp_path, monkeypatch, ext, exc):
    """Guards a path that already held: save_figure (the picture written, then interrupted)."""
    import matplotlib.figure

    from trajviz.render.plot import save_figure

    target = tmp_path / f"p{ext}"
    target.write_bytes(OLD)
    fig = matplotlib.figure.Figure(figsize=(2, 1.5))
    fig.add_subplot().plot([0, 1], [1, 0])
    real = matplotlib.figure.Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        real(self, fname, *args, **kwargs)
        with open(fname, "ab") as fh:
            fh.write(b"partial")
        raise exc

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    with pytest.raises(type(exc)):
        save_figure(fig, target)
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path, target.name) == []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", real)
    save_figure(fig, target)
    assert target.read_bytes() != OLD and target.stat().st_size > 100


@pytest.mark.parametrize("ext", [".csv", ".json", ".npz"])
@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(143), OSError(28, "No space left on device")],
                         ids=["ctrl-c", "sigterm", "disk-full"])
def test_data_interrupted_while_saving_keeps_the_old_file(tmp_path, monkeypatch, ext, exc):
    """Guards a path that already held: Result.save interrupted half-way through the file."""
    result = trajviz.run("quadratic", ["sgd", "adam"], steps=20, starts=3)
    target = tmp_path / f"paths{ext}"
    target.write_bytes(OLD)
    real_open = open

    class Half:
        """A file that takes some bytes and then is interrupted."""

        def __init__(self, fh):
            self.fh, self.n = fh, 0

        def write(self, data):
            self.n += 1
            if self.n > 3:
                raise exc
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()

    import builtins

    monkeypatch.setattr(builtins, "open", lambda *a, **k: Half(real_open(*a, **k)))
    with pytest.raises(type(exc)):
        result.save(target)
    monkeypatch.setattr(builtins, "open", real_open)
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path, target.name) == []
    result.save(target)
    assert target.read_bytes() != OLD


def test_unwritable_target_fails_before_the_run_naming_the_target(monkeypatch):
    """``-o /sys/x.csv`` (a read-only file system, even for root): one line that names the target,
    exit 1, and the run never starts (before: the whole run, then an error naming the temporary file)."""
    import trajviz.optimizers

    def no_run(*a, **k):
        raise AssertionError("the run started")

    monkeypatch.setattr(trajviz.optimizers, "resolve", no_run)
    for args in (("run", "rosenbrock", "--steps", "2", "-o", "/sys/x.csv"),
                 ("plot", "rosenbrock", "--steps", "2", "-o", "/sys/x.png"),
                 ("animate", "rosenbrock", "--steps", "2", "-o", "/sys/x.gif")):
        line = one_line_error(invoke(*args), code=1)
        assert f"'{args[-1]}'" in line and ".x." not in line, line


@pytest.mark.parametrize("ext", [".webp", ".png", ".gif"])
@pytest.mark.parametrize("option,value", [("--hold", "1e300"), ("--hold", "1000000"), ("--hold", "nan"),
                                          ("--hold", "-1"), ("--fps", "1e300"), ("--fps", "0")])
def test_hold_and_fps_out_of_range_are_one_line_and_the_file_survives(tmp_path, ext, option, value):
    """``--hold 1e300`` was an OverflowError traceback that left a 0-byte file; ``--hold 1000000`` a
    truncated APNG in place of the old file."""
    target = tmp_path / f"a{ext}"
    target.write_bytes(OLD)
    line = one_line_error(invoke("animate", "rosenbrock", "--opt", "sgd", "--steps", "5", option, value,
                                 "-o", target))
    assert f"bad {option[2:]}: " in line and "(must be " in line, line
    assert target.read_bytes() == OLD and leftovers(tmp_path, target.name) == []


@pytest.mark.parametrize("kw", [dict(hold=1e300), dict(hold=1e6), dict(hold=float("nan")), dict(fps=1e300),
                                dict(fps=0)])
def test_writer_refuses_hold_and_fps_out_of_range_before_touching_the_file(tmp_path, kw):
    from trajviz.errors import TrajvizError
    from trajviz.render.writers import AnimationWriter

    target = tmp_path / "a.webp"
    target.write_bytes(OLD)
    with pytest.raises(TrajvizError, match=r"bad (hold|fps): .* \(must be "):
        with AnimationWriter(target, **{"fps": 10, "hold": 1, **kw}) as w:
            w.append(frames(1)[0])
    assert target.read_bytes() == OLD and leftovers(tmp_path, target.name) == []


# ---- 1. ... the real command, signalled while it encodes -------------------------------------------
SLOW_ENCODE = r"""
import os, sys, time
import PIL.Image

MARK = os.environ["TRAJVIZ_TEST_MARK"]
real = PIL.Image.Image.save


def save(self, fp, format=None, **params):
    if params.get("save_all"):
        # the animation is being encoded: say so, and take long enough to be signalled half-way
        open(MARK, "w").close()

        def slowly(images):
            for im in images:
                time.sleep(0.05)
                yield im

        class Slow(list):
            pass

        params["append_images"] = Slow(slowly(params.get("append_images") or []))
    return real(self, fp, format, **params)


PIL.Image.Image.save = save
from trajviz.cli import main

sys.argv[0] = "trajviz"
main(sys.argv[1:])
"""


def _signal_mid_encode(tmp_path, args, sig) -> subprocess.CompletedProcess:
    mark = tmp_path / "encoding"
    env = {**os.environ, "TRAJVIZ_TEST_MARK": str(mark)}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_ENCODE, *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not mark.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the encoder never started"
            time.sleep(0.02)
        time.sleep(0.3)   # some frames into the encoding
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    mark.unlink()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_animate_command_signalled_while_encoding_webp_keeps_the_old_file(tmp_path, sig, code):
    """The issue's case, in a real process: SIGINT or SIGTERM while the WebP is encoded."""
    target = tmp_path / "race.webp"
    target.write_bytes(OLD)
    done = _signal_mid_encode(tmp_path, ["animate", "rosenbrock", "--opt", "sgd", "--opt", "adam", "--steps",
                                         "60", "--frames", "40", "--size", "320x240", "-o", target.name], sig)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path, target.name) == []


def test_explain_command_signalled_while_encoding_keeps_the_old_file(tmp_path):
    target = tmp_path / "adam.webp"
    target.write_bytes(OLD)
    done = _signal_mid_encode(tmp_path, ["explain", "adam", "--size", "320x180", "--fps", "5", "-o",
                                         target.name], signal.SIGTERM)
    assert done.returncode == 143, done.stderr
    assert "Traceback" not in done.stderr
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path, target.name) == []


# ---- 2, 3, 12. explain: the first update, tiny steps, 'all' ----------------------------------------
def _explained_against_the_engine(method: str, **kw):
    """The lesson's update is torch.optim's: the engine, run to the same update, lands on the same point."""
    from trajviz.lessons import lesson

    les = lesson(method, **kw)
    start = tuple(les.trail[0])
    ref = trajviz.run(les.surface, method, steps=les.update, start=start)
    (trace,) = list(ref)
    np.testing.assert_allclose(trace.path[les.update - 1, 0], les.position, rtol=1e-12, atol=0)
    np.testing.assert_allclose(trace.path[les.update, 0], les.new_position, rtol=1e-12, atol=0)
    return les


def _explained_methods():
    from trajviz.lessons import supported

    return supported()


@pytest.mark.parametrize("method", _explained_methods())
def test_explain_takes_apart_the_first_update_of_every_method(method):
    """``explain adam --update 1`` (also rmsprop, adadelta) was a KeyError: torch makes that state
    on the first step; before it the state is torch's initial one."""
    try:
        les = _explained_against_the_engine(method, update=1)
    except trajviz.TrajvizError as exc:   # a method with no velocity before its first update says so
        assert "must be >= 2" in str(exc) and method in ("momentum", "nesterov"), exc
        return
    assert les.update == 1 and len(les.trail) == 1
    for key, value in les.state_before.items():
        if isinstance(value, np.ndarray) and key not in ("sum",):   # adagrad's sum starts at its init value
            assert np.all(value == 0), (key, value)


def test_explain_command_first_update_of_adam(tmp_path):
    r = invoke("explain", "adam", "--update", "1", "--size", "160x90", "--fps", "2", "-o", tmp_path / "a.gif")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "a.gif").stat().st_size > 0


@pytest.mark.parametrize("method,kw", [
    ("sgd:lr=1e-12", {}),
    ("adam:lr=1e-10", {}),
    ("momentum:lr=1e-09,momentum=0.999999", {"update": 3}),
    ("sgd", {"surface": "x**2/1e8 + y**2/1e8", "start": (2, 2)}),
    ("momentum", {"surface": "x**2/1e8 + y**2/1e8", "start": (2, 2)}),
    ("adagrad:lr=1e-13", {}),
    ("rmsprop:lr=1e-12", {"update": 2}),
])
def test_explain_tiny_steps_match_torch(method, kw):
    """A step tiny against x (lr = 1e-12, a very flat surface): ``x_new - x`` keeps few digits, and the
    self-check said "does not match torch.optim's" for a correct update."""
    les = _explained_against_the_engine(method, **kw)
    assert np.all(np.abs(les.step) < 1e-6 * np.abs(les.position).max())


def test_explain_self_check_still_catches_a_wrong_number():
    """The tolerance is that of the subtraction, not a blank cheque: a number 1% off fails."""
    from trajviz.lessons.recipes import Context

    ctx = Context(name="sgd", hp={"lr": 0.1}, t=1, x=np.array([1.0, 1.0]), g=np.array([1.0, 2.0]),
                  x_new=np.array([0.9, 0.8]), before={}, after={})
    ctx.check("step", ctx.dx, [-0.1, -0.2])
    with pytest.raises(RuntimeError, match="does not match torch.optim's"):
        ctx.check("step", ctx.dx * 1.01, [-0.1, -0.2])


def test_explain_all_says_one_method_at_a_time():
    """``explain all`` answered "unknown optimizer 'all'; did you mean 'all'?"."""
    line = one_line_error(invoke("explain", "all"))
    assert "one method at a time" in line and "did you mean" not in line
