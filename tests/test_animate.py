"""Animations: frames and timing read back from the files, the last frame's drawn data, the
story marks, every format, bad input, interruption, memory, notebooks."""

from __future__ import annotations

import ast
import base64
import io
import os
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import trajviz
from trajviz import optimizers
from trajviz.errors import TrajvizError
from trajviz.render import animate as A
from trajviz.render import style as S
from trajviz.options import PlotOptions
from trajviz.render.animate import Animation, frame_rows, story_vectors
from trajviz.render.plot import plot_result as _plot_result


def animate_result(result, path=None, **options):
    return result.animate(path, **options)


def plot_result(result, **options):
    return _plot_result(result, PlotOptions(**options))

SIZE = "480x320"


@pytest.fixture(scope="module")
def quad():
    # one method per kind of mark: -grad arrow, velocity arrow, box, arrow and box
    return trajviz.run("quadratic", ["sgd", "momentum", "adagrad", "adam"], steps=30)


@pytest.fixture(scope="module")
def quad_gif(quad, tmp_path_factory):
    path = tmp_path_factory.mktemp("gif") / "quad.gif"
    anim = animate_result(quad, path, frames=12, fps=20, size=SIZE)
    return anim, path


def gif_frames(path):
    im = Image.open(path)
    return im, [(im.seek(i), im.info["duration"])[1] for i in range(im.n_frames)]


def lines_by_gid(fig, prefix):
    return {line.get_gid(): line for ax in fig.axes for line in ax.get_lines()
            if (line.get_gid() or "").startswith(prefix)}


def artists_by_gid(scene, gid):
    return [a for ax in scene.map_axes for a in ax.get_children() if a.get_gid() == gid]


# ---- frames and timing ------------------------------------------------------------------------------
def test_gif_frames_durations_loop_and_size(quad_gif):
    anim, path = quad_gif
    im, durations = gif_frames(path)
    assert anim.frames == 12 == im.n_frames
    assert durations == [50] * 11 + [50 + 1500]   # 20 fps, the last frame held 1.5 s
    assert im.info["loop"] == 0                    # loops forever
    assert im.size == (480, 320) == anim.size
    assert anim.path == path


@pytest.mark.parametrize("kw, n", [({}, 31), ({"frames": 7}, 7), ({"duration": 0.5, "fps": 10}, 5),
                                   ({"frames": 500}, 31), ({"fps": 50}, 31)])
def test_frame_budget(quad, kw, n):
    # a long run is subsampled to the budget; a short one is never stretched past its steps
    anim = animate_result(quad, **kw)
    assert anim.frames == n
    assert anim.rows[0] == 0 and anim.rows[-1] == 30 and np.all(np.diff(anim.rows) > 0)


def test_default_budget_is_six_seconds():
    from trajviz.options import AnimateOptions

    assert len(frame_rows(10_001, AnimateOptions().budget)) == 150
    assert len(frame_rows(10_001, AnimateOptions(fps=10).budget)) == 60


def test_counter_counts_steps_with_record_every(tmp_path):
    r = trajviz.run("quadratic", "sgd", steps=40, record_every=10)
    anim = animate_result(r, frames=3, size=SIZE)
    painter = anim.painter()
    assert [painter._counter_text(k).split()[1] for k in range(3)] == ["0", "20", "40"]


# ---- the picture ---------------------------------------------------------------------------------
def test_last_frame_draws_the_still_plots_paths(quad_gif, quad):
    anim, _ = quad_gif
    still = plot_result(quad, size=SIZE)
    for prefix in ("path:", "end:"):
        ours, theirs = lines_by_gid(anim.scene.fig, prefix), lines_by_gid(still, prefix)
        assert ours.keys() == theirs.keys() and len(ours) == (len(quad) if prefix == "path:" else len(quad))
        for gid, line in theirs.items():
            np.testing.assert_array_equal(ours[gid].get_xydata(), line.get_xydata())
            assert ours[gid].get_color() == line.get_color()
            assert ours[gid].get_visible()


def test_paths_grow_and_heads_move(quad):
    anim = animate_result(quad, frames=5, size=SIZE)
    painter = anim.painter()
    painter.frame(2)
    row = int(painter.rows[2])
    line = lines_by_gid(painter.scene.fig, "path:momentum:")["path:momentum:0"]
    np.testing.assert_array_equal(line.get_xydata(), quad["momentum"].path[: row + 1, 0])
    heads = artists_by_gid(painter.scene, "heads")[0]
    assert len(heads.get_offsets()) == len(quad)
    assert not lines_by_gid(painter.scene.fig, "end:")["end:momentum:0"].get_visible()


def test_nothing_jumps_between_frames(quad_gif):
    # axes, legend and colour bar are drawn once: outside the map, frames differ only in the counter
    anim, path = quad_gif
    scene = anim.scene
    fig_h = scene.fig.bbox.height
    box = scene.map_axes[0].get_window_extent()
    im = Image.open(path)
    first = np.asarray(im.convert("RGB")).copy()
    im.seek(im.n_frames - 1)
    last = np.asarray(im.convert("RGB"))
    outside = np.ones(first.shape[:2], dtype=bool)
    outside[int(fig_h - box.y1) - 2:int(fig_h - box.y0) + 2, int(box.x0) - 2:int(box.x1) + 2] = False
    assert np.array_equal(first[outside], last[outside])
    assert tuple(scene.map_axes[0].get_xlim()) == scene.background.xlim


def test_method_colours_stay_exact_in_the_gif(quad_gif, quad):
    _, path = quad_gif
    im = Image.open(path)
    im.seek(im.n_frames - 1)
    rgb = np.asarray(im.convert("RGB")).reshape(-1, 3)
    colours = {tuple(c) for c in np.unique(rgb, axis=0)}
    for trace in quad:
        c = trace.color
        assert tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) in colours, trace.name


# ---- the analogies ----------------------------------------------------------------------------------
def test_arrows_and_boxes_follow_the_recorded_diagnostics(quad_gif, quad):
    anim, _ = quad_gif
    scene = anim.scene
    velocity = artists_by_gid(scene, "arrows:velocity")[0]
    gradient = artists_by_gid(scene, "arrows:gradient")[0]
    boxes = artists_by_gid(scene, "boxes")[0]
    # momentum and adam carry a velocity; sgd (neither) shows its slope; adagrad and adam a box
    assert velocity.N == 2 and gradient.N == 1
    assert len(boxes.get_paths()) == 2
    edge = {optimizers.get_entry(n).color for n in ("adagrad", "adam")}
    from matplotlib.colors import to_hex

    assert {to_hex(c).upper() for c in boxes.get_edgecolor()} == {c.upper() for c in edge}
    # each arrow starts at its method's head and points along the recorded vector
    row = int(anim.rows[-1])
    offsets = velocity.get_offsets()
    np.testing.assert_allclose(offsets[0], quad["momentum"].path[row, 0])
    v = quad["momentum"].velocity[row, 0]
    u = np.array([velocity.U[0], velocity.V[0]])
    np.testing.assert_allclose(u / np.linalg.norm(u), v / np.linalg.norm(v), atol=1e-9)


def test_no_story_no_marks(quad):
    anim = animate_result(quad, frames=3, size=SIZE, story=False)
    scene = anim.scene
    gids = {a.get_gid() for ax in scene.map_axes for a in ax.get_children()}
    assert not gids & {"arrows:velocity", "arrows:gradient", "boxes"}
    assert lines_by_gid(scene.fig, "path:")  # the paths are still there


def test_one_display_scale_per_trace(quad):
    # the box is the per-axis step times one constant: AdaGrad's shrinking steps shrink the box,
    # and x and y keep their ratio
    trace = quad["adagrad"]
    rows = frame_rows(31, 31)
    _, box = story_vectors(trace, rows, view=4.0)
    step = trace.step_size[rows, 0]
    ratio = box[:, 0] / step
    ok = np.isfinite(ratio).all(-1)
    capped = np.isclose(np.fmax(box[:, 0, 0], box[:, 0, 1]), A.MARK_CAP * A.MARK_FRACTION * 4.0 / 2)
    scale = ratio[ok & ~capped]
    np.testing.assert_allclose(scale, scale[0, 0], rtol=1e-9)
    assert np.nanmax(np.fmax(box[..., 0], box[..., 1])) <= A.MARK_CAP * A.MARK_FRACTION * 4.0 / 2 + 1e-12
    # the 90th percentile of the sizes is drawn at MARK_FRACTION of the view (a box's full width)
    half = np.fmax(box[ok, 0, 0], box[ok, 0, 1])
    assert np.quantile(half, A.MARK_QUANTILE) == pytest.approx(A.MARK_FRACTION * 4.0 / 2, rel=0.05)


def test_no_render_code_names_an_optimizer():
    source = Path(A.__file__).read_text()
    names = {n.lower() for n in optimizers.names()} if hasattr(optimizers, "names") else \
        {"sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam"}
    strings = {node.value.lower() for node in ast.walk(ast.parse(source))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not names & strings


def test_legend_says_the_analogy_and_the_marks(quad_gif):
    anim, _ = quad_gif
    fig = anim.scene.fig
    legends = list(fig.legends) + [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    texts = [t.get_text() for leg in legends for t in leg.get_texts()]
    assert "SGD - drunk walker" in texts
    assert "arrow: velocity (momentum)" in texts
    assert "box: step size along x, y" in texts
    assert any(t.startswith("hollow arrow") for t in texts)


def test_grid_layout_dark_theme_and_loss_panel(quad, tmp_path):
    anim = animate_result(quad, tmp_path / "g.gif", frames=4, size="640x400", layout="grid", theme="dark",
                          loss_panel=True)
    scene = anim.scene
    assert scene.layout == "grid" and len(scene.map_axes) == len(quad) and scene.loss_ax is not None
    assert scene.fig.get_facecolor()[:3] == pytest.approx((0x14 / 255, 0x17 / 255, 0x1C / 255))
    # the loss curves are whole on the last frame
    for line in scene.loss_ax.get_lines():
        if (line.get_gid() or "").startswith("loss:"):
            assert line.get_clip_box().x1 >= scene.loss_ax.bbox.x1


# ---- formats ----------------------------------------------------------------------------------------
def test_every_format_reads_back(quad, tmp_path):
    import imageio.v3 as iio

    anim = animate_result(quad, frames=6, size=SIZE)
    webp = anim.save(tmp_path / "a.webp")
    assert iio.imread(webp, index=5).shape[:2] == (320, 480)
    apng = anim.save(tmp_path / "a.png")
    im = Image.open(apng)
    assert im.n_frames == 6 and im.size == (480, 320)
    html = anim.save(tmp_path / "a.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("data:image/png;base64,") == 6
    assert anim.path == tmp_path / "a.html"


def test_mp4(quad, tmp_path):
    ffmpeg = pytest.importorskip("imageio_ffmpeg")
    path = animate_result(quad, tmp_path / "a.mp4", frames=6, size=SIZE).path
    reader = ffmpeg.read_frames(str(path))
    meta = next(reader)
    assert meta["size"] == (480, 320)
    assert sum(1 for _ in reader) >= 6


def test_mp4_without_the_extra_says_which(quad, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import fails as if not installed
    with pytest.raises(TrajvizError, match=r"mp4 extra.*trajviz-optim\[mp4\]"):
        animate_result(quad, tmp_path / "a.mp4", frames=3, size=SIZE)
    assert not list(tmp_path.iterdir())


# ---- bad input, interruption ----------------------------------------------------------------------------
@pytest.mark.parametrize("kw, match", [
    ({"path": "out.avi"}, "cannot write an animation to 'out.avi'"),
    ({"fps": 0}, "bad fps"), ({"fps": -2}, "bad fps"), ({"frames": 0}, "bad frames"),
    ({"frames": -3}, "bad frames"), ({"frames": 2.5}, "bad frames"), ({"duration": 0}, "bad duration"),
    ({"frames": 5, "duration": 1}, "either frames or duration"), ({"layout": "stacked"}, "unknown layout"),
    ({"theme": "neon"}, "unknown theme"), ({"size": "big"}, "bad size"), ({"hold": -1}, "bad hold"),
    ({"path": "/no/such/folder/a.gif"}, "does not exist"),
])
def test_bad_input_is_one_clear_error(quad, kw, match):
    with pytest.raises(TrajvizError, match=match) as err:
        animate_result(quad, **kw)
    assert "\n" not in str(err.value)


def test_bad_input_is_caught_before_the_run(monkeypatch):
    import trajviz.api

    monkeypatch.setattr(trajviz.api, "run_with", lambda *a, **k: pytest.fail("ran before checking"))
    with pytest.raises(TrajvizError, match="bad fps"):
        trajviz.animate("quadratic", "sgd", fps=0)


def test_unwritable_path(quad, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(TrajvizError, match="permission denied"):
            animate_result(quad, folder / "a.gif", frames=3)
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("ext", [".gif", ".webp"])
def test_interrupted_render_leaves_no_file(quad, tmp_path, monkeypatch, ext):
    calls = {"n": 0}
    frame = A.Painter.frame

    def interrupted(self, k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return frame(self, k)

    monkeypatch.setattr(A.Painter, "frame", interrupted)
    existing = tmp_path / f"keep{ext}"
    existing.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        animate_result(quad, tmp_path / f"a{ext}", frames=8, size=SIZE)
    with pytest.raises(KeyboardInterrupt):
        calls["n"] = 0
        animate_result(quad, existing, frames=8, size=SIZE)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"keep{ext}"]  # no file, no temp file
    assert existing.read_bytes() == b"old"


# ---- memory ----------------------------------------------------------------------------------------
def _peak(frames: int, steps: int) -> int:
    r = trajviz.run("quadratic", ["sgd", "adam"], steps=steps)
    anim = animate_result(r, frames=frames, size="160x120", dpi=40, legend=False, colorbar=False, title="")
    anim.painter()  # warm caches and imports outside the measurement
    tracemalloc.start()
    try:
        anim.save(Path(os.environ.get("TMPDIR", "/tmp")) / f"trajviz-mem-{os.getpid()}.gif")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        anim.path.unlink()


def test_memory_does_not_grow_with_frames():
    small, large = _peak(20, 200), _peak(200, 200)
    assert large < 1.3 * small + 2**20, (small, large)


@pytest.mark.slow
def test_memory_flat_over_2000_frames():
    small, large = _peak(200, 2000), _peak(2000, 2000)
    assert large < 1.3 * small + 2**20, (small, large)


# ---- notebooks ----------------------------------------------------------------------------------------
def test_notebook_shows_a_gif_and_a_png_fallback(quad):
    anim = animate_result(quad, frames=5, size=SIZE)
    bundle = anim._repr_mimebundle_()
    gif = base64.b64decode(bundle["image/gif"])
    assert gif.startswith(b"GIF89a")
    assert Image.open(io.BytesIO(gif)).n_frames == 5
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(anim._repr_png_())).size == (480, 320)
    assert "5 frames" in bundle["text/plain"]
    assert anim.path is None  # showing it wrote no file


def test_notebook_warns_about_a_large_gif(quad, monkeypatch):
    monkeypatch.setattr(A, "NOTEBOOK_WARN_BYTES", 1000)
    anim = animate_result(quad, frames=5, size=SIZE)
    with pytest.warns(UserWarning, match="frames="):
        anim._repr_mimebundle_()


def test_result_animate_and_one_call_form(quad, tmp_path):
    anim = quad.animate(tmp_path / "r.gif", frames=3, size=SIZE)
    assert isinstance(anim, Animation) and (tmp_path / "r.gif").exists()
    anim = trajviz.animate("quadratic", "sgd", steps=10, path=tmp_path / "o.gif", size=SIZE, noise=0.5)
    assert anim.frames == 11 and Image.open(tmp_path / "o.gif").n_frames == 11


def test_progress_bar_on_stderr(quad, tmp_path, capsys):
    animate_result(quad, tmp_path / "p.gif", frames=3, size=SIZE, progress=True)
    assert "rendering frames" in capsys.readouterr().err


def test_writer_quantizes_changes_only_and_merges_repeats(tmp_path):
    from trajviz.render.writers import AnimationWriter

    base = np.full((60, 80, 4), 255, np.uint8)
    frames = []
    for k in range(4):
        f = base.copy()
        f[10:20, 10 + 10 * k:20 + 10 * k, :3] = (0, 114, 178)
        frames += [f, f.copy()]  # every frame twice: merged into one GIF frame of twice the delay
    with AnimationWriter(tmp_path / "w.gif", fps=10, hold=0.5, exact_colors=["#0072B2"]) as w:
        buf = np.empty_like(base)
        for f in frames:
            buf[:] = f  # one reused buffer, as a canvas hands it over
            w.append(buf)
    im, durations = gif_frames(tmp_path / "w.gif")
    assert w.frames == 8 and w.written_frames == im.n_frames == 4
    assert durations == [200, 200, 200, 200 + 500]
    for k in range(4):
        im.seek(k)
        rgb = np.asarray(im.convert("RGB"))
        assert np.array_equal(rgb, frames[2 * k][..., :3])
