"""Nothing lost, nothing crashes (issue 11): the user's files survive every failure and interrupt,
bad input is one line with exit code 2, valid input does not crash.

Each test here failed on the code before the fix (commit 95186b4) unless its docstring says
it guards a path that already held.
"""

from __future__ import annotations

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

    import trajviz.optimizers as O

    les = lesson(method, **kw)
    start = tuple(les.trail[0])
    spec = O.spec_string(les.method, les.hyperparameters)   # the lesson's own rates, as the engine takes them
    ref = trajviz.run(les.surface, spec, steps=les.update, start=start)
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


# ---- 4. surface parameters that break a curated rate ------------------------------------------------
@pytest.mark.parametrize("spec,param", [("rosenbrock:b=0", "b"), ("rosenbrock:b=-100", "b"),
                                        ("quadratic:kappa=0", "kappa"), ("quadratic:kappa=-1", "kappa")])
def test_parameter_that_breaks_the_surface_is_refused_naming_it(spec, param):
    """``rosenbrock:b=0`` was a ZeroDivisionError traceback; ``b=-100`` blamed a rate the user never gave."""
    line = one_line_error(invoke("run", spec, "--opt", "adam:lr=0.1", "--steps", "3"))
    assert f"parameter {param}" in line and "learning rate" not in line, line


def test_curated_rates_a_parameter_breaks_fall_back_with_a_note():
    """b = 1e-320 is allowed (b > 0) but 0.2 / b overflows: sgd runs at its default rate, and the
    command says why (before: "bad learning rate for sgd: inf", a rate the user never gave)."""
    import trajviz.optimizers as O
    import trajviz.surfaces as S

    surface = S.get("rosenbrock:b=1e-320")
    assert S.dropped_rates(surface) == ("sgd", "momentum", "nesterov")
    assert S.dropped_rates(S.get("rosenbrock:b=10")) == ()
    r = invoke("run", "rosenbrock:b=1e-320", "--opt", "sgd", "--opt", "adam", "--steps", "3")
    assert r.exit_code == 0, r.stderr
    notes = [ln for ln in r.stderr.splitlines() if ln.startswith("note:")]
    assert len(notes) == 1, r.stderr
    assert "b=" in notes[0] and "sgd" in notes[0] and "adam" not in notes[0] and "default rate" in notes[0]
    result = trajviz.run("rosenbrock:b=1e-320", ["sgd", "adam"], steps=3)
    assert result["sgd"].hyperparameters["lr"] == O.get_entry("sgd").fallback_lr
    # a rate the user gives leaves nothing to say
    for args in (("--lr", "0.01"), ("--opt", "sgd:lr=0.01")):
        r = invoke("run", "rosenbrock:b=1e-320", *args, "--steps", "3")
        assert r.exit_code == 0 and "note:" not in r.stderr, r.stderr


# ---- 5. sweeps too big for memory --------------------------------------------------------------------
def test_sweep_too_big_for_memory_is_refused_in_one_line(tmp_path, monkeypatch):
    """The issue's command was a MemoryError traceback ("Unable to allocate 39.1 GiB")."""
    monkeypatch.chdir(tmp_path)
    line = one_line_error(invoke("sweep", "quadratic", "--opt", "momentum", "--param", "lr=1e-3:1:log:512",
                                 "--param", "momentum=0:0.99:512", "--metric", "steps", "--steps", "20000",
                                 "-o", "m.csv"))
    assert "GiB" in line, line
    # the hint names what sweep has: no --record-every there
    assert "--record-every" not in line and "--metric loss" in line, line
    assert os.listdir(tmp_path) == []


# ---- 6. bad view ranges and titles: one line, never matplotlib's traceback ----------------------------
@pytest.mark.parametrize("command", ["plot", "animate", "run"])
@pytest.mark.parametrize("option,value", [("--xlim", "-1e308,1e308"), ("--xlim", "1e15,1.0000000000001e15"),
                                          ("--ylim", "-1e308,1e308"), ("--ylim", "5,5.000000000000001"),
                                          ("--xlim", "1,1"), ("--xlim", "2,1")])
def test_view_range_float64_cannot_draw_is_one_line(tmp_path, monkeypatch, command, option, value):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(invoke(command, "rosenbrock", "--opt", "sgd", "--steps", "3", option, value))
    assert line.startswith(f"Error: bad {option[2:]}: {value} (must be ")
    assert os.listdir(tmp_path) == []


def test_view_range_rule_in_python_too():
    with pytest.raises(trajviz.TrajvizError, match=r"bad xlim: .* \(must be "):
        trajviz.run("rosenbrock", "sgd", steps=2, xlim=(1e15, 1.0000000000001e15))
    with pytest.raises(trajviz.TrajvizError, match=r"bad ylim: .* \(must be "):
        trajviz.surfaces.get("rosenbrock", ylim=(-1e308, 1e308))


def test_narrow_but_drawable_ranges_still_work(tmp_path):
    """The rule refuses only what float64 cannot draw: a width of 1e-6 of the position is fine."""
    for lim in ("0.999,1.001", "1e6,1.000001e6", "-1e300,1e300"):
        r = invoke("plot", "rosenbrock", "--opt", "sgd", "--steps", "3", "--xlim", lim, "--size", "320x240",
                   "-o", tmp_path / "p.png")
        assert r.exit_code == 0, (lim, r.stderr)


@pytest.mark.parametrize("command", ["plot", "animate"])
@pytest.mark.parametrize("title", [r"$\foo$", "$x^$", "$\\frac{1}$"])
def test_title_mathtext_that_does_not_parse_is_one_line(tmp_path, monkeypatch, command, title):
    """``--title '$\\foo$'`` was matplotlib's ParseFatalException traceback, after the whole run."""
    import trajviz.optimizers

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(trajviz.optimizers, "resolve", lambda *a, **k: pytest.fail("the run started"))
    line = one_line_error(invoke(command, "rosenbrock", "--opt", "sgd", "--steps", "3", "--title", title))
    assert line.startswith("Error: bad title: ") and "(" in line
    assert os.listdir(tmp_path) == []


def test_titles_with_math_or_a_dollar_still_work(tmp_path):
    for title in (r"Rosenbrock, $\alpha = 0.1$", "costs $5"):
        r = invoke("plot", "rosenbrock", "--opt", "sgd", "--steps", "3", "--size", "320x240", "--title", title,
                   "-o", tmp_path / "p.png")
        assert r.exit_code == 0, (title, r.stderr)


# ---- 9. schedules that make the rate negative --------------------------------------------------------
@pytest.mark.parametrize("schedule", ["exponential:gamma=-1", "cosine:eta_min=-1", "step:gamma=-2",
                                      "exponential:gamma=0", "warmup:start_factor=-0.5"])
@pytest.mark.parametrize("command", ["run", "sweep"])
def test_schedule_that_makes_the_rate_negative_is_refused(tmp_path, monkeypatch, command, schedule):
    """Accepted before (paths walking uphill), while --lr -1 was refused."""
    monkeypatch.chdir(tmp_path)
    extra = ["--param", "momentum=0:0.9:3", "--opt", "momentum"] if command == "sweep" else ["--opt", "sgd"]
    line = one_line_error(invoke(command, "quadratic", "--steps", "5", "--schedule", schedule, *extra))
    assert "bad schedule" in line and "must be" in line, line
    assert os.listdir(tmp_path) == []


# ---- 10. whole numbers where torch takes floats -----------------------------------------------------
@pytest.mark.parametrize("spec,same_as", [
    ("adam:betas=0/0.999", "adam:betas=0.0/0.999"),
    ("adamw:betas=0/0.999,weight_decay=0", "adamw:betas=0.0/0.999,weight_decay=0.0"),
    ("radam:betas=0/0.999", "radam:betas=0.0/0.999"),
    ("nadam:betas=0/0.99", "nadam:betas=0.0/0.99"),
    ("adamax:betas=0/0.999", "adamax:betas=0.0/0.999"),
    ("rmsprop:alpha=1,lr=1", "rmsprop:alpha=1.0,lr=1.0"),
    ("torch.optim:Rprop:step_sizes=0/50", "torch.optim:Rprop:step_sizes=0.0/50.0"),
])
def test_whole_numbers_in_a_spec_are_floats_where_torch_takes_floats(spec, same_as):
    """``adam:betas=0/0.999`` was refused ("betas must be either both floats or both Tensors")."""
    r = invoke("run", "quadratic", "--opt", spec, "--steps", "20")
    assert r.exit_code == 0, r.stderr
    a = trajviz.run("quadratic", spec, steps=20)[spec]
    b = trajviz.run("quadratic", same_as, steps=20)[same_as]
    np.testing.assert_array_equal(a.path, b.path)


def test_whole_numbers_stay_whole_where_torch_takes_ints():
    import trajviz.optimizers as O

    spec = O.get("torch.optim:LBFGS:max_iter=5,history_size=10,lr=1")
    assert type(spec.kwargs["max_iter"]) is int and type(spec.kwargs["history_size"]) is int
    assert type(spec.kwargs["lr"]) is float
    assert O.get("adam:betas=0/0.999").kwargs["betas"] == (0.0, 0.999)
    assert all(type(b) is float for b in O.get("nadam:betas=0/0.5").kwargs["betas"])


# ---- 11. accepted but wrong, refused but right ------------------------------------------------------
def test_tol_with_metric_loss_is_refused(tmp_path, monkeypatch):
    """--tol was silently ignored with --metric loss."""
    monkeypatch.chdir(tmp_path)
    line = one_line_error(invoke("sweep", "quadratic", "--opt", "sgd", "--param", "lr=1e-3:1:log:4", "--steps",
                                 "5", "--tol", "1e-3"))
    assert "tol" in line and "steps" in line
    r = invoke("sweep", "quadratic", "--opt", "sgd", "--param", "lr=1e-3:1:log:4", "--steps", "5", "--tol",
               "1e-3", "--metric", "steps", "-o", "m.csv")
    assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("text,fix", [("sgd,lr=0.1", "sgd:lr=0.1"), ("adam,lr=0.05,betas=0.9/0.99", "adam:lr=0.05"),
                                      ("adam lr=0.1", None), ("momentum;lr=0.1", None)])
@pytest.mark.parametrize("command", ["run", "plot", "animate"])
def test_malformed_optimizer_says_the_syntax(tmp_path, monkeypatch, command, text, fix):
    """``--opt "sgd,lr=0.1"`` said "cannot import optimizer"."""
    monkeypatch.chdir(tmp_path)
    line = one_line_error(invoke(command, "quadratic", "--steps", "3", "--opt", text))
    assert f"bad optimizer: {text} (must be NAME[:key=value,...]" in line, line
    assert "cannot import" not in line
    if fix:
        assert f"did you mean '{fix}" in line, line
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("formula", ["-x**2 + y**2", "-(x - 1)**2 + 3*y**2", "-1 + x**2 + y**2"])
def test_formula_starting_with_a_minus_says_to_put_dashdash_before_it(formula):
    """A formula starting with '-' read as an unknown option, without a word about --."""
    line = one_line_error(invoke("run", formula, "--steps", "3"))
    assert "--" in line and f'-- "{formula}"' in line, line
    r = invoke("run", "--opt", "sgd", "--steps", "3", "--", formula)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == "optimizer,start,step,x,y,loss"


@pytest.mark.parametrize("command", ["run", "plot", "animate", "sweep", "explore"])
def test_surface_help_says_how_to_pass_a_formula_starting_with_a_minus(command):
    r = invoke(command, "--help")
    text = " ".join(r.stdout.split())
    assert "SURFACE" in text and "formula" in text and f'trajviz {command} [OPTIONS] -- "-x**2 + y**2"' in text


def test_unknown_option_that_is_no_formula_gets_no_formula_hint():
    line = one_line_error(invoke("list", "-x"))
    assert "formula" not in line
    line = one_line_error(invoke("explain", "-x"))
    assert "formula" not in line


def test_batch_size_full_is_the_whole_data_set_and_equals_the_exact_gradient():
    """--batch-size 1000 on regression (1,000 rows) was not full-batch (minibatches drawn with
    replacement); now each epoch visits every row once, so B = 1000 and 'full' are the exact gradient."""
    kw = dict(steps=30, starts=3, seed=4)
    exact = trajviz.run("regression", ["sgd", "adam"], **kw)
    for b in ("full", 1000, "1000"):
        r = trajviz.run("regression", ["sgd", "adam"], batch_size=b, **kw)
        for label in ("sgd", "adam"):
            np.testing.assert_array_equal(r[label].path, exact[label].path)
    smaller = trajviz.run("regression", ["sgd"], batch_size=999, **kw)
    assert not np.array_equal(smaller["sgd"].path, exact["sgd"].path)
    r = invoke("run", "regression", "--opt", "sgd", "--steps", "3", "--batch-size", "full")
    assert r.exit_code == 0, r.stderr
    line = one_line_error(invoke("run", "regression", "--opt", "sgd", "--steps", "3", "--batch-size", "1001"))
    assert "1000" in line and "full" in line


def test_minibatches_are_epochs_without_replacement():
    from trajviz.sampling import batch_rows

    for n, b in ((1000, 100), (1000, 16), (7, 3)):
        per_epoch = -(-n // b)
        for epoch in range(2):
            rows = np.concatenate([batch_rows(5, epoch * per_epoch + k, n, b) for k in range(per_epoch)])
            assert sorted(rows.tolist()) == list(range(n)), (n, b, epoch)


def test_batch_size_help_says_what_a_batch_is():
    text = " ".join(invoke("run", "--help").stdout.split())
    assert "without replacement" in text and "'full'" in text and "same batches" in text


def test_string_hyperparameters_reach_torch():
    """LBFGS ``line_search_fn=strong_wolfe`` was refused ("is not a number"); its paths are a plain
    torch.optim loop's."""
    import torch

    spec = "torch.optim:LBFGS:line_search_fn=strong_wolfe"
    r = invoke("run", "rosenbrock", "--opt", spec, "--steps", "5")
    assert r.exit_code == 0, r.stderr
    result = trajviz.run("rosenbrock", spec, steps=5, start=(-1.5, 2.5))
    assert result[spec].hyperparameters["line_search_fn"] == "strong_wolfe"
    surface = trajviz.surfaces.get("rosenbrock")
    p = torch.tensor([[-1.5, 2.5]], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([p], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = surface(p).sum()
        loss.backward()
        return loss

    for step in range(1, 6):
        opt.step(closure)
        np.testing.assert_allclose(result[spec].path[step, 0], p.detach().numpy()[0], rtol=1e-12)
    # a word where torch takes a number, or a value torch refuses: one line each
    assert "is not a number" in one_line_error(invoke("run", "--opt", "adam:lr=fast", "--steps", "2"))
    line = one_line_error(invoke("run", "--opt", "torch.optim:LBFGS:line_search_fn=wolfe", "--steps", "2"))
    assert "strong_wolfe" in line


# ---- 13. sweep --help on --opt -------------------------------------------------------------------------
def test_sweep_help_says_opt_takes_exactly_one():
    """It said --opt was repeatable with default all."""
    text = " ".join(invoke("sweep", "--help").stdout.split())
    opt = text[text.index("--opt"):text.index("--steps")]
    assert "exactly one" in opt and "repeatable" not in opt and "Default: all" not in opt, opt
    for args in ((), ("--opt", "all"), ("--opt", "sgd", "--opt", "adam")):
        line = one_line_error(invoke("sweep", "quadratic", "--param", "lr=0.1:1:3", "--steps", "3", *args))
        assert "exactly one --opt" in line


# ---- 16. tab completion of the package -------------------------------------------------------------------
def test_dir_of_the_package_lists_the_lazy_api_without_importing_torch():
    """``trajviz.<TAB>`` in IPython offered only annotations, errors, TrajvizError."""
    code = ("import sys, trajviz; names = dir(trajviz); "
            "print(sorted(set(['run', 'plot', 'animate', 'explain', 'sweep', 'Result', 'surfaces', "
            "'optimizers']) - set(names)), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "False"], out


def test_trajviz_sweep_stays_the_function_after_a_sweep():
    """No module of the package is named like a function of the API (a submodule import would set the
    package attribute to the module): the sweep machinery lives in trajviz.sweeps."""
    code = ("import trajviz; trajviz.sweep('quadratic', 'sgd', ['lr=0.1:1:2'], steps=2); "
            "print(callable(trajviz.sweep))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True"], out


# ---- 17. trajviz list fits the terminal -------------------------------------------------------------------
@pytest.mark.parametrize("columns", [80, 60, 40])
@pytest.mark.parametrize("args", [("list",), ("list", "surfaces"), ("list", "optimizers"), ("list", "--rules")])
def test_list_fits_the_terminal_width(columns, args):
    """The tables were 178-185 columns wide and wrapped in an 80-column terminal."""
    r = invoke(*args, env={"COLUMNS": str(columns)})
    assert r.exit_code == 0, r.stderr
    widest = max(r.stdout.splitlines(), key=len)
    assert len(widest) <= columns, widest
    import trajviz.optimizers as O
    import trajviz.surfaces as S

    names = ((S.names() if "optimizers" not in args and "--rules" not in args else [])
             + (O.names() if "surfaces" not in args else []))
    starts = {ln.split()[0].split(":")[0] for ln in r.stdout.splitlines() if ln.strip()}
    assert set(names) <= starts, set(names) - starts   # every name still starts its row


def test_list_uses_the_width_it_has():
    """Nothing is cut off, and a wide terminal gets one line per row with the update rules in it."""
    import trajviz.optimizers as O

    r = invoke("list", "optimizers", env={"COLUMNS": "400"})
    for name in O.names():
        (line,) = [ln for ln in r.stdout.splitlines() if ln.startswith(name + " ")]
        assert O.get_entry(name).rule in line
    narrow = invoke("list", "optimizers", env={"COLUMNS": "80"}).stdout
    assert "trajviz list optimizers --rules" in " ".join(narrow.split())
    assert not any(ln.rstrip().endswith("...") and "[:k=v" not in ln for ln in narrow.splitlines())


# ---- 18. saying what is happening, from the start ------------------------------------------------------
@pytest.fixture
def terminal(monkeypatch):
    """stderr as a terminal: the commands say what they are doing as they go."""
    import trajviz.cli

    monkeypatch.setattr(trajviz.cli, "_interactive", lambda: True)


def _mark_when_called(monkeypatch, owner, name, mark):
    import click

    real = getattr(owner, name)

    def wrapper(*a, **k):
        click.echo(mark, err=True)
        return real(*a, **k)

    monkeypatch.setattr(owner, name, wrapper)


def test_animate_says_what_it_runs_then_what_it_renders(tmp_path, monkeypatch, terminal):
    """Nothing was printed for ~4 s before the progress bar appeared."""
    import trajviz.api
    from trajviz.render.animate import Animation

    monkeypatch.setenv("TRAJVIZ_JOBS", "1")   # the run in this process, where its mark prints
    _mark_when_called(monkeypatch, trajviz.api, "run_with", "<the run starts>")
    _mark_when_called(monkeypatch, Animation, "save", "<the frames are drawn>")
    r = invoke("animate", "rosenbrock", "--opt", "all", "--steps", "50", "--frames", "12", "--size", "160x120",
               "-o", tmp_path / "a.gif")
    assert r.exit_code == 0, r.stderr
    lines = r.stderr.splitlines()
    order = [next(i for i, ln in enumerate(lines) if ln.startswith(p)) for p in
             ("running 7 methods x 50 steps on rosenbrock ...", "<the run starts>", "rendering ",
              "<the frames are drawn>", "wrote ")]
    assert order == sorted(order), r.stderr
    frames = int(lines[order[2]].split()[1])
    assert lines[order[2]] == f"rendering {frames} frames to {tmp_path / 'a.gif'} ..."
    assert f"({frames} frames" in lines[order[4]]


@pytest.mark.parametrize("args,said", [
    (("run", "himmelblau", "--opt", "adam", "--steps", "5", "--starts", "30"),
     "running 1 method x 5 steps from 30 starts on himmelblau ..."),
    (("run", "quadratic:kappa=10", "--opt", "sgd", "--opt", "all", "--steps", "1"),
     "running 8 methods x 1 step on quadratic:kappa=10 ..."),
    (("run", "x**2 + 3*y**2", "--opt", "sgd"), "running 1 method x 300 steps on x**2 + 3*y**2 ..."),
    (("sweep", "quadratic", "--opt", "momentum", "--param", "lr=1e-3:1:log:4", "--param", "momentum=0:0.9:3",
      "--steps", "5", "-o", "m.csv"), "sweeping momentum over 4 x 3 cells (12 runs) x 5 steps on quadratic ..."),
])
def test_commands_say_what_they_run_before_they_run(tmp_path, monkeypatch, terminal, args, said):
    monkeypatch.chdir(tmp_path)
    r = invoke(*args)
    assert r.exit_code == 0, r.stderr
    assert r.stderr.splitlines()[0] == said, r.stderr


def test_nothing_extra_is_said_when_stderr_is_no_terminal(tmp_path):
    """In logs and pipes only what matters: warnings, notes and the file written."""
    r = invoke("run", "quadratic", "--opt", "sgd", "--steps", "3", "-o", tmp_path / "p.csv")
    assert r.exit_code == 0 and r.stderr.splitlines() == [f"wrote {tmp_path / 'p.csv'}"], r.stderr


def test_bad_input_is_still_one_line_on_a_terminal(tmp_path, monkeypatch, terminal):
    monkeypatch.chdir(tmp_path)
    for args in (("run", "nosuchsurface"), ("animate", "quadratic", "--steps", "0"),
                 ("plot", "quadratic", "--xlim", "2,1")):
        one_line_error(invoke(*args))


# ---- 20. the HTML player in a browser ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def player(tmp_path_factory):
    """A real animation as an HTML page, at the default size (1280x720, the window's own size)."""
    path = tmp_path_factory.mktemp("player") / "race.html"
    r = invoke("animate", "rosenbrock", "--opt", "all", "--steps", "300", "--frames", "60", "-o", path)
    assert r.exit_code == 0, r.stderr
    return path


def _chromium_mark():
    from trajviz.explore.browser import needs_chromium

    return needs_chromium()


CANVAS_COLOURS = """() => {
  const c = document.getElementById('c'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  for (let i = 0; i < d.length; i += 4 * 97) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2] | (d[i + 3] << 24));
  return seen.size;
}"""


@_chromium_mark()
def test_html_player_fits_a_1280x720_window_and_draws(player):
    """In a 1280x720 window the Play button and the scrubber were below the fold and the x-axis
    label cut off: the whole picture and the controls are in view, and the canvas is drawn."""
    from trajviz.explore.browser import chromium

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(player.resolve().as_uri())
        page.wait_for_function(f"({CANVAS_COLOURS})() > 50", timeout=20000)
        for selector in ("#c", "#play", "#step", "#scrub", "#label"):
            box = page.locator(selector).bounding_box()
            assert box is not None, selector
            assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
            assert box["x"] + box["width"] <= 1280 and box["y"] + box["height"] <= 720, (selector, box)
        assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight + 1")
        canvas = page.locator("#c").bounding_box()
        assert abs(canvas["width"] / canvas["height"] - 1280 / 720) < 0.01   # scaled, not cropped
        page.locator("#play").click()   # pause, then step: the controls work
        before = page.locator("#label").inner_text()
        page.locator("#step").click()
        assert page.locator("#label").inner_text() != before
        assert errors == []


@_chromium_mark()
def test_html_player_draws_under_a_virtual_time_budget(player, tmp_path):
    """Headless Chromium with --virtual-time-budget left the canvas blank: the frames waited on
    img.decode() promises that never settled there."""
    from trajviz.explore.browser import CHROMIUM_ARGS, find_chromium

    shot = tmp_path / "shot.png"
    subprocess.run([find_chromium(), "--headless", *CHROMIUM_ARGS, "--virtual-time-budget=3000",
                    "--window-size=1280,720", "--hide-scrollbars", f"--screenshot={shot}", player.resolve().as_uri()],
                   capture_output=True, timeout=120, check=True)
    with PIL.Image.open(shot) as im:
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.shape[:2] == (720, 1280)
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert colours > 1000, colours   # a blank page with its controls has a few dozen
    # the drawn picture has the contour map's dark lines and the methods' colours, not only white
    assert (pixels.sum(axis=2) < 200).mean() > 0.001


# ---- 19. a divergence cross on the start circle -----------------------------------------------------------
def test_divergence_cross_does_not_cover_the_start_circle():
    """``trajviz animate rosenbrock --opt sgd --opt adam --lr 1``: sgd diverges at step 1 and its X
    sat on the start circle, one unreadable mark. Measured on the artists, in pixels."""
    from matplotlib.markers import MarkerStyle

    anim = trajviz.animate("rosenbrock", ["sgd", "adam"], lr=1, frames=20)
    painter = anim.painter()
    x = MarkerStyle("X")
    cross = x.get_path().transformed(x.get_transform()).vertices
    fonts, dpi = painter.scene.fonts, painter.scene.fig.dpi
    apart = (0.95 * fonts.head / 2 + fonts.head / 2) * dpi / 72   # the two markers' radii, in pixels
    seen = 0
    for k in (0, painter.frames // 2, painter.frames - 1):
        painter.frame(k)
        fig = painter.scene.fig
        (starts,) = [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == "starts"]
        for heads in (a for ax in fig.axes for a in ax.get_children() if a.get_gid() == "heads"):
            at = heads.axes.transData.transform(starts.get_xydata())
            for offset, path in zip(heads.get_offsets(), heads.get_paths()):
                if path.vertices.shape == cross.shape and np.allclose(path.vertices, cross):
                    seen += 1
                    xy = heads.axes.transData.transform(np.asarray(offset, dtype=float)[None])[0]
                    assert np.hypot(*(at - xy).T).min() >= apart, (k, offset)
    assert seen, "no divergence cross drawn"
