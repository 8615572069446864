import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import trajviz
from trajviz.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_help_and_version_do_not_import_torch_or_matplotlib():
    code = (
        "import sys\nfrom trajviz.cli import cli\n"
        "for a in (['--help'], ['--version'], ['run', '--help']):\n"
        "    try:\n        cli.main(a)\n    except SystemExit:\n        pass\n"
        "print('HEAVY', 'torch' in sys.modules, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY False False" in out
    assert "0.1" in out  # --version printed


def test_python_dash_m_and_version():
    out = subprocess.run([sys.executable, "-m", "trajviz", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"trajviz {trajviz.__version__}"


def test_list_tables():
    r = invoke("list", "surfaces")
    assert r.exit_code == 0
    for name in trajviz.surfaces.names():
        assert name in r.stdout
    assert "no minimum" in r.stdout
    r = invoke("list", "optimizers")
    assert r.exit_code == 0
    for name, analogy in (("sgd", "drunk walker"), ("momentum", "downhill slope"), ("adagrad", "bad shoes")):
        line = next(ln for ln in r.stdout.splitlines() if ln.startswith(name + " "))
        assert analogy in line


def test_run_csv_to_stdout_reads_back_exactly():
    r = invoke("run", "rosenbrock", "--opt", "adam", "--opt", "sgd", "--steps", "20", "--start", "-1.2,1",
               "--start", "0.5,0.5")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["optimizer", "start", "step", "x", "y", "loss"]
    assert len(rows) == 1 + 2 * 2 * 21
    ref = trajviz.run("rosenbrock", ["adam", "sgd"], steps=20, start=[(-1.2, 1), (0.5, 0.5)])
    for opt, start, step, x, y, loss in rows[1:]:
        t = ref[opt]
        i, s = int(start), int(step)
        assert float(x) == t.path[s, i, 0] and float(y) == t.path[s, i, 1] and float(loss) == t.loss[s, i]
    assert rows[1][:3] == ["adam", "0", "0"] and float(rows[1][3]) == -1.2


def test_run_formula_with_limits():
    r = invoke("run", "x**2 + 10*y**2", "--xlim", "-3,3", "--ylim", "-3,3", "--opt", "sgd:lr=0.01",
               "--steps", "5")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[1].startswith("sgd:lr=0.01,0,0,")


@pytest.mark.parametrize("ext", ["csv", "json", "npz"])
def test_run_to_file_by_extension(tmp_path, ext):
    out = tmp_path / f"paths.{ext}"
    r = invoke("run", "saddle", "--opt", "sgd:lr=0.3", "--opt", "adam", "--steps", "40", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    assert "diverged at step" in r.stderr
    ref = trajviz.run("saddle", ["sgd:lr=0.3", "adam"], steps=40)
    d = int(ref["sgd:lr=0.3"].diverged_at[0])
    if ext == "csv":
        rows = list(csv.DictReader(out.open()))
        sgd = [row for row in rows if row["optimizer"] == "sgd:lr=0.3"]
        assert len(sgd) == d  # ends at its last finite step
        assert float(sgd[-1]["y"]) == ref["sgd:lr=0.3"].path[d - 1, 0, 1]
    elif ext == "json":
        data = json.loads(out.read_text())
        sgd, adam = data["optimizers"]
        assert sgd["starts"][0]["diverged_at"] == d and len(sgd["starts"][0]["x"]) == d
        assert adam["starts"][0]["diverged_at"] is None and len(adam["starts"][0]["x"]) == 41
        assert adam["analogy"] == "downhill slope and bad shoes"
        assert adam["starts"][0]["y"] == ref["adam"].path[:, 0, 1].tolist()
    else:
        z = np.load(out)
        assert z["optimizers"].tolist() == ["sgd:lr=0.3", "adam"]
        assert z["path"].shape == (2, 41, 1, 2)
        np.testing.assert_array_equal(z["path"][1], ref["adam"].path)
        assert z["diverged_at"].tolist() == [[d], [-1]]


BAD = [
    (["run", "rosenbrok"], "did you mean 'rosenbrock'"),
    (["run", "rosenbrock", "--opt", "adamm"], "did you mean 'adam'"),
    (["run", "rosenbrock", "--opt", "adam:lrr=0.1"], "valid keys: lr"),
    (["run", "rosenbrock", "--opt", "adam:lr=-1"], "learning rate"),
    (["run", "rosenbrock", "--opt", "adam:lr=0"], "learning rate"),
    (["run", "rosenbrock", "--opt", "adam:lr=nan"], "finite"),
    (["run", "rosenbrock", "--opt", "adam:lr=fast"], "not a number"),
    (["run", "rosenbrock", "--lr", "0"], "bad lr: 0"),
    (["run", "rosenbrock", "--lr", "nan"], "bad lr: nan"),
    (["run", "rosenbrock", "--steps", "0"], "steps"),
    (["run", "rosenbrock", "--steps", "-5"], "steps"),
    (["run", "rosenbrock", "--steps", "ten"], "bad steps: ten"),
    (["run", "rosenbrock", "--start", "1"], "bad start: 1"),
    (["run", "rosenbrock", "--start", "a,b"], "bad start: a,b"),
    (["run", "rosenbrock", "--start", "1,nan"], "bad start: 1,nan"),
    (["run", "rosenbrock", "--device", "tpu"], "bad device: tpu"),
    (["run", "rosenbrock", "--device", "cuda:7"], "not available"),
    (["run", "rosenbrock", "--device", "mps"], "not available"),
    (["run", "__import__('os').system('echo hi')"], "not allowed"),
    (["run", "x ** 2 + open(y)"], "not allowed"),
    (["run", "rosenbrock", "--xlim", "3,-3"], "A < B"),
    (["run", "rosenbrock", "-o", "paths.txt"], "use one of .csv, .json, .npz"),
    (["run", "rosenbrock", "-o", "no/such/folder/p.csv"], "does not exist"),
    (["run", "rosenbrock", "--batch-size", "4"], "regression"),
    (["run", "rosenbrock", "--record-every", "0"], "record_every"),
    (["run", "rosenbrock", "--noise", "-1"], "noise"),
    (["run", "rosenbrock", "--opt", "all:lr=1"], "takes no parameters"),
    (["list", "things"], "Invalid value"),
    (["frobnicate"], "No such command"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a)[:40] for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if args[:2] == ["run", "rosenbrock"] and "--steps" not in args:
        args = args + ["--steps", "2"]
    r = invoke(*args)
    if "-o" in args and "does not exist" in message:
        assert r.exit_code == 1
    else:
        assert r.exit_code == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    assert message in lines[0]
    assert r.stdout == ""
    assert os.listdir(tmp_path) == []


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    out = tmp_path / "paths.csv"
    out.write_text("precious\n")

    def boom(self, f):
        f.write("optimizer,start,step,x,y,loss\nhalf")
        raise KeyboardInterrupt

    monkeypatch.setattr(trajviz.Result, "to_csv", boom)
    r = CliRunner().invoke(cli, ["run", "quadratic:kappa=10,angle=0", "--opt", "sgd", "--steps", "3", "-o", str(out)])
    assert r.exit_code == 130
    assert out.read_text() == "precious\n"
    assert os.listdir(tmp_path) == ["paths.csv"]


def test_unwritable_output_is_exit_1(tmp_path):
    if os.geteuid() == 0:
        target = tmp_path / "dir.csv"
        target.mkdir()
        r = invoke("run", "quadratic:kappa=10,angle=0", "--steps", "2", "-o", str(target))
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        r = invoke("run", "quadratic:kappa=10,angle=0", "--steps", "2", "-o", str(ro / "p.csv"))
    assert r.exit_code == 1 and r.stderr.startswith("Error: cannot write")


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    for name in cli.commands:
        r = invoke(name, "--help")
        assert r.exit_code == 0
        assert "Example" in r.stdout, name
        assert f"trajviz {name}" in readme, name


def test_run_tune_prints_the_table(tmp_path):
    r = invoke("run", "quadratic:kappa=10,angle=0", "--opt", "sgd", "--opt", "adam", "--steps", "30", "--tune",
               "-o", str(tmp_path / "p.json"))
    assert r.exit_code == 0, r.stderr
    assert "tuned lr" in r.stderr and "sgd" in r.stderr
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["settings"]["tuned"]["sgd"] == data["optimizers"][0]["hyperparameters"]["lr"]


def test_run_with_schedule():
    r = invoke("run", "quadratic:kappa=10,angle=0", "--opt", "sgd:lr=0.1", "--steps", "4", "--schedule", "exponential:gamma=0.5")
    assert r.exit_code == 0, r.stderr
    xs = [float(row.split(",")[3]) for row in r.stdout.splitlines()[1:]]
    # u axis of the quadratic: x_{t+1} = (1 - lr_t) x_t with lr_t = 0.1 * 0.5^t
    for t in range(4):
        assert xs[t + 1] == pytest.approx(xs[t] * (1 - 0.1 * 0.5**t), rel=1e-12)


def test_sweep_command(tmp_path):
    out = tmp_path / "map.csv"
    r = invoke("sweep", "quadratic:kappa=10,angle=0", "--opt", "momentum", "--param", "lr=1e-3:0.3:log:5",
               "--param", "momentum=0:0.9:4", "--steps", "30", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    assert "best: lr=" in r.stderr
    rows = out.read_text().splitlines()
    assert rows[0] == "lr,momentum,loss" and len(rows) == 21
    png = tmp_path / "map.png"
    r = invoke("sweep", "quadratic:kappa=10,angle=0", "--opt", "sgd", "--param", "lr=1e-3:0.3:log:5", "--metric", "steps",
               "--tol", "1e-3", "--steps", "60", "--size", "640x480", "-o", str(png))
    assert r.exit_code == 0, r.stderr
    from PIL import Image

    assert Image.open(png).size == (640, 480)


@pytest.mark.parametrize("args,message", [
    (["--param", "lr=1:0.1:5"], "less than"),
    (["--param", "lr=0.1:1:0"], "at least 1"),
    (["--param", "rate=0.1:1:3"], "unknown key 'rate'"),
    (["--param", "lr=0.1:1:3", "--opt", "sgd", "--opt", "adam"], "exactly one --opt"),
    (["--param", "lr=0.1:1:3", "-o", "map.txt"], "use one of"),
    ([], "Missing option '--param'"),
])
def test_sweep_bad_input(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if "--opt" not in args:
        args = ["--opt", "momentum"] + args
    r = invoke("sweep", "quadratic:kappa=10,angle=0", "--steps", "3", *args)
    assert r.exit_code == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert os.listdir(tmp_path) == []


def test_explain_command_writes_a_clip(tmp_path):
    out = tmp_path / "momentum.gif"
    r = invoke("explain", "momentum", "--size", "480x270", "--fps", "10", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    from PIL import Image

    im = Image.open(out)
    assert im.size == (480, 270) and im.n_frames > 5 and im.info["loop"] == 0


@pytest.mark.parametrize("args,message", [
    (["adamw"], "no lesson for 'adamw'"),
    (["momentm"], "did you mean 'momentum'"),
    (["adam", "-o", "clip.txt"], "use one of .gif"),
    (["adam", "--fps", "0"], "fps"),
    (["adam", "--size", "big"], "bad size"),
])
def test_explain_bad_input(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("explain", *args)
    assert r.exit_code == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert os.listdir(tmp_path) == []


def test_animate_command_writes_the_default_gif(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("animate", "quadratic:kappa=10,angle=0", "--opt", "sgd", "--opt", "adam", "--steps", "30", "--size", "320x240",
               "--frames", "12", "--fps", "10")
    assert r.exit_code == 0, r.stderr
    from PIL import Image

    im = Image.open(tmp_path / "quadratic.gif")
    assert im.size == (320, 240) and im.info["loop"] == 0
    assert 2 <= im.n_frames <= 12
    assert os.listdir(tmp_path) == ["quadratic.gif"]


@pytest.mark.parametrize("args,message,code", [
    (["--fps", "0"], "fps", 2),
    (["--frames", "0"], "frames", 2),
    (["--duration", "-1"], "duration", 2),
    (["-o", "anim.avi"], "use one of .gif", 2),
    (["-o", "no/such/dir/a.gif"], "does not exist", 1),
    (["--size", "12"], "bad size", 2),
])
def test_animate_bad_input(args, message, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("animate", "quadratic:kappa=10,angle=0", "--steps", "3", *args)
    assert r.exit_code == code, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert os.listdir(tmp_path) == []


def test_animate_mp4_without_the_extra_names_it(tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_ffmpeg(name, *a, **k):
        if name == "imageio_ffmpeg":
            raise ImportError("no imageio_ffmpeg")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_ffmpeg)
    r = invoke("animate", "quadratic:kappa=10,angle=0", "--steps", "3", "-o", str(tmp_path / "a.mp4"))
    assert r.exit_code == 2 and "trajviz-optim[mp4]" in r.stderr
    assert os.listdir(tmp_path) == []


def test_sigterm_during_a_render_leaves_no_file(tmp_path):
    import signal
    import time

    out = tmp_path / "race.gif"
    proc = subprocess.Popen([sys.executable, "-m", "trajviz", "animate", "rosenbrock", "--steps", "1000",
                             "--frames", "400", "--size", "640x360", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    seen = False
    while time.time() < deadline and not seen:
        seen = any(p.name.startswith(".race.gif") for p in tmp_path.iterdir())
        time.sleep(0.05)  # until the writer has opened its temporary file
    assert seen, "the render never started writing"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert list(tmp_path.iterdir()) == []
