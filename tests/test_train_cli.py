"""`trajviz train`: options reach the library, data outputs, one-line errors with exit code 2."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

import trajviz.nn as tn
from trajviz.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_summary_on_stdout():
    r = invoke("train", "--steps", "20", "--device", "cpu")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert "MLP 1-20-1 (ReLU)" in out and "PCA of all paths" in out
    for label in ("sgd", "momentum", "rmsprop", "adam"):
        assert any(line.startswith(label + " ") for line in out.splitlines()), label


def test_npz_output_equals_the_library(tmp_path):
    out = tmp_path / "run.npz"
    r = invoke("train", "classify", "--opt", "adam:lr=0.02", "--opt", "sgd:lr=0.1", "--steps", "15", "--seed", "3",
               "--batch-size", "20", "--dtype", "float32", "--device", "cpu", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    assert f"wrote {out}" in r.stderr
    d = np.load(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tn.OffPlaneWarning)
        ref = tn.train("classify", opt=["adam:lr=0.02", "sgd:lr=0.1"], steps=15, seed=3, batch_size=20,
                       dtype="float32", device="cpu")
    assert list(d["methods"]) == ["adam:lr=0.02", "sgd:lr=0.1"]
    np.testing.assert_array_equal(d["params"][0], ref["adam:lr=0.02"].params)
    np.testing.assert_array_equal(d["coords"][1], ref["sgd:lr=0.1"].coords)


def test_random_plane_centred_on_a_method_to_json(tmp_path):
    out = tmp_path / "run.json"
    r = invoke("train", "--steps", "30", "--plane", "random", "--center", "adam", "--plane-seed", "2",
               "--device", "cpu", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    d = json.loads(out.read_text())
    assert d["plane"]["kind"] == "random" and d["plane"]["center"] == "end of adam" and d["plane"]["seed"] == 2
    adam = next(m for m in d["methods"] if m["name"] == "adam")
    assert abs(adam["a"][-1]) < 1e-9 and abs(adam["b"][-1]) < 1e-9
    assert "warning:" in r.stderr  # a random plane through 61 parameters holds little of the movement


def _train_png_gif(tmp_path):
    png, gif = tmp_path / "mlp.png", tmp_path / "mlp.gif"
    r = invoke("train", "--epochs", "2", "--device", "cpu", "--size", "640x360", "-o", str(png))
    assert r.exit_code == 0, r.stderr
    g = invoke("train", "--epochs", "2", "--device", "cpu", "--size", "640x360", "--frames", "12", "-o", str(gif))
    assert g.exit_code == 0, g.stderr
    return png, gif, g


def test_pictures_of_a_training(tmp_path):
    from PIL import Image

    png, gif, g = _train_png_gif(tmp_path)
    assert Image.open(png).size == (640, 360)
    with Image.open(gif) as im:
        assert im.size == (640, 360) and im.n_frames >= 6
    assert "frames" in g.stderr and f"wrote {gif}" in g.stderr


def test_the_picture_draws_the_plane_the_projected_loss_and_the_methods():
    """The figure itself: axes say what share of the movement each holds, the loss panel has one
    dashed curve per method at the projected points (their data), the subtitle the off-plane figure."""
    import matplotlib

    matplotlib.use("Agg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tn.OffPlaneWarning)
        r = tn.train("mlp", epochs=2, device="cpu")
    fig = r.plot(size="800x450")
    texts = {t.get_gid(): t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_gid()}
    assert texts["title"].startswith("1-20-1 ReLU network fitting y = x² + noise")
    assert "64 steps (2 epochs)" in texts["title"] and "batches of 32" in texts["title"]
    end = max(r.end_ratios().values())
    assert f"the paths end ≤ {100 * end:.0f}% off it" in texts["subtitle"]
    assert f"holds {100 * r.plane.explained.sum():.1f}% of the movement" in texts["subtitle"]
    assert "dashed: the loss at the projection" in texts["subtitle"]
    assert not texts["subtitle"].startswith("f(x, y)")
    map_ax = next(a for a in fig.axes if "PC1" in a.get_xlabel())
    assert map_ax.get_xlabel() == f"PC1 ({100 * r.plane.explained[0]:.1f}% of the movement)"
    assert map_ax.get_ylabel() == f"PC2 ({100 * r.plane.explained[1]:.1f}% of the movement)"
    projected = next(c for c in fig.findobj(matplotlib.collections.LineCollection)
                     if c.get_gid() == "losses-projected")
    segs = projected.get_segments()
    assert len(segs) == len(r)
    for seg, m in zip(segs, r):
        np.testing.assert_allclose(seg[:, 1], m.loss_projected, rtol=1e-12)   # the loss itself, not shifted
    # every label of the title band fits the picture
    renderer = fig.canvas.get_renderer()
    for gid in ("title", "subtitle"):
        t = next(t for t in fig.findobj(matplotlib.text.Text) if t.get_gid() == gid)
        assert t.get_window_extent(renderer).x1 <= fig.bbox.width + 1, gid


@pytest.mark.parametrize("args, message", [
    (["nope"], "Error: unknown scenario 'nope' (choose from: classify, digits, mlp)"),
    (["--opt", "adam:lr=oops"], "Error: bad value for 'lr': 'oops' is not a number"),
    (["--steps", "3", "--epochs", "2"], "Error: give steps or epochs, not both"),
    (["--batch-size", "-1"], "Error: bad batch size: -1 (must be >= 1)"),
    (["-o", "out.txt"], "Error: cannot write output 'out.txt': use one of"),
    (["--device", "tpu"], "Error: unknown device 'tpu'"),
    (["--plane", "pca", "--center", "adam", "--steps", "2"], "Error: the PCA plane is centred on the common start"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    r = invoke("train", *args)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines


def test_train_help_does_not_import_torch():
    code = ("import sys\nfrom trajviz.cli import cli\ntry:\n    cli.main(['train', '--help'])\n"
            "except SystemExit:\n    pass\nprint('HEAVY', 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY False" in out and "trajviz train mlp" in out


def test_train_tune_prints_the_chosen_rates():
    r = invoke("train", "classify", "--opt", "sgd", "--steps", "6", "--device", "cpu", "--tune")
    assert r.exit_code == 0, r.stderr
    assert "tuned lr" in r.stderr and "sgd" in r.stderr
