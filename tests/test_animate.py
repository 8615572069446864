"""Animations: the race, paced where the lesson happens, with the analogies drawn at one scale."""

from __future__ import annotations

import base64
import io
import os
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex

import trajviz
from trajviz import optimizers
from trajviz.errors import TrajvizError
from trajviz.options import AnimateOptions, PlotOptions
from trajviz.render import animate as A
from trajviz.render import figure as F
from trajviz.render import labels as L
from trajviz.render import layers as LY
from trajviz.render import pacing
from trajviz.render.animate import Animation
from trajviz.render.plot import plot_result as _plot_result

Image = pytest.importorskip("PIL.Image")
SIZE = "480x320"


def animate_result(result, path=None, **options):
    return result.animate(path, **options)


def plot_result(result, **options):
    return _plot_result(result, PlotOptions(**options))


@pytest.fixture(scope="module")
def quad():
    # one method per kind of mark: a step arrow, a velocity arrow, a box, an arrow and a box
    return trajviz.run("quadratic:kappa=10,angle=0", ["sgd", "momentum", "adagrad", "adam"], steps=30)


@pytest.fixture(scope="module")
def quad_gif(quad, tmp_path_factory):
    path = tmp_path_factory.mktemp("gif") / "quad.gif"
    anim = animate_result(quad, path, frames=12, fps=20, size=SIZE)
    return anim, path


def gif_frames(path):
    im = Image.open(path)
    return im, [(im.seek(i), im.info["duration"])[1] for i in range(im.n_frames)]


def layer(painter, kind):
    return next(x for x in painter.layers if isinstance(x, kind))


# ---- frames and timing ------------------------------------------------------------------------------
def test_gif_frames_durations_loop_and_size(quad_gif):
    anim, path = quad_gif
    im, durations = gif_frames(path)
    assert anim.frames == 12 == im.n_frames
    # 20 fps; the first frame held half a second, the last three seconds
    assert durations == [500] + [50] * 10 + [50 + 3000]
    assert im.info["loop"] == 0
    assert im.size == (480, 320) == anim.size
    assert anim.path == path


def test_pacing_gives_the_first_steps_a_frame_each_and_compresses_the_rest():
    rows = pacing.frame_rows(1001, 120)
    assert len(rows) == 120 and rows[-1] == 1000 and np.all(np.diff(rows) > 0)
    assert np.diff(rows[:21]).max() <= 2                  # the first ~20 steps: about a frame each
    assert np.diff(rows[-10:]).min() > 10                 # the tail is compressed
    short = pacing.frame_rows(31, 120)
    assert short.tolist() == list(range(31))              # a short run is never stretched


def test_the_animation_stops_once_every_head_has_settled():
    r = trajviz.run("quadratic:kappa=4,angle=0", ["momentum", "sgd"], steps=2000)
    anim = animate_result(r, size=SIZE)
    painter = anim.painter()
    # the heads settle long before step 2000: the frames end there, then one frame for the end
    assert painter.rows[-2] < 1000 and painter.rows[-1] == 2000
    assert anim.frames < AnimateOptions().budget


@pytest.mark.parametrize("kw, n", [({}, 31), ({"frames": 7}, 7), ({"duration": 0.5, "fps": 10}, 5),
                                   ({"frames": 500}, 31), ({"fps": 50}, 31)])
def test_frame_budget(quad, kw, n):
    anim = animate_result(quad, **kw)
    assert anim.frames == n
    assert anim.rows[0] == 0 and anim.rows[-1] == 30 and np.all(np.diff(anim.rows) > 0)


def test_default_budget_is_six_seconds():
    assert AnimateOptions().budget == 120
    assert AnimateOptions(fps=10).budget == 60


def test_counter_counts_steps_with_record_every():
    r = trajviz.run("quadratic", "sgd", steps=40, record_every=10)
    painter = animate_result(r, frames=3, size=SIZE).painter()
    # rows 0, 1 and 4 of the five recorded (log-time pacing): steps 0, 10 and 40
    assert painter.rows.tolist() == [0, 1, 4]
    assert [painter.counter.text(k) for k in range(3)] == ["0", "10", "40"]


# ---- the picture ---------------------------------------------------------------------------------
def test_last_frame_draws_the_still_plots_paths(quad_gif, quad):
    anim, _ = quad_gif
    painter = anim.painter()
    painter.frame(painter.frames - 1)
    still = plot_result(quad, size=SIZE)
    # the fresh trails and their faded past (drawn into a cache of its own)
    mine = [c for ax in painter.scene.fig.axes for c in ax.collections if c.get_gid() in ("paths", "paths-past")]
    assert len(mine) == 2
    theirs = next(c for ax in still.axes for c in ax.collections if c.get_gid() == "paths")
    full = {tuple(map(tuple, s)) for s in theirs.get_segments()}
    # the still draws each path in one piece; the last frame draws the same points (in fade bands)
    for trace, seg in zip(quad, theirs.get_segments()):
        np.testing.assert_array_equal(seg, trace.path[:, 0])
    drawn = np.concatenate([s for c in mine for s in c.get_segments()])
    assert {tuple(p) for p in drawn} == {p for s in full for p in s}


def test_paths_grow_and_heads_move(quad):
    painter = animate_result(quad, frames=5, size=SIZE).painter()
    painter.frame(2)
    row = int(painter.rows[2])
    paths = layer(painter, LY.Paths)
    group = paths.groups[0]
    past = group["key"][1]            # where momentum's fresh trail begins (its faded past is cached)
    np.testing.assert_array_equal(group["casing"].get_segments()[1], quad["momentum"].path[past: row + 1, 0])
    heads = layer(painter, LY.Heads).groups[0][0]
    np.testing.assert_allclose(heads.get_offsets()[1], quad["momentum"].path[row, 0], atol=0.02)


def test_nothing_outside_the_moving_parts_changes(quad_gif):
    anim, path = quad_gif
    painter = anim.painter()
    scene = painter.scene
    im = Image.open(path)
    first = np.asarray(im.convert("RGB")).copy()
    im.seek(im.n_frames - 1)
    last = np.asarray(im.convert("RGB"))
    h = scene.fig.bbox.height
    keep = np.ones(first.shape[:2], dtype=bool)
    for ax in [*scene.map_axes, scene.loss_ax]:                       # the map, the loss panel
        b = ax.get_window_extent()
        keep[int(h - b.y1) - 4:int(h - b.y0) + 4, int(b.x0) - 4:int(b.x1) + 200] = False
    x, y = scene.counter_at                                           # and the step counter
    keep[max(int(h - y) - 20, 0):int(h - y) + 20, : int(x) + 2] = False
    assert np.array_equal(first[keep], last[keep])


def test_method_colours_stay_exact_in_the_gif(quad_gif, quad):
    anim, path = quad_gif
    im = Image.open(path)
    im.seek(im.n_frames - 1)
    rgb = np.asarray(im.convert("RGB")).reshape(-1, 3)
    present = {"#{:02x}{:02x}{:02x}".format(*c) for c in np.unique(rgb, axis=0)}
    for trace in quad:
        assert trace.color.lower() in present, trace.name


def test_marks_follow_the_recorded_state_at_one_scale_per_kind(quad):
    painter = animate_result(quad, frames=31, size=SIZE).painter()
    marks = layer(painter, LY.Marks)
    scales = painter.scales
    assert set(scales) == {"arrow", "box"}
    k = 5
    row = int(painter.rows[k])
    painter.set_frame(k)
    kinds = {kind: (art, items) for kind, ax, art, items in marks.items}
    # the velocity arrow is the recorded velocity times the one arrow scale (to a pixel)
    art, items = kinds["velocity"]
    unit = 1 / painter.scene.px_per_unit(painter.scene.map_axes[0])
    for heads, v, tag, color in items:
        if tag[k, 0] == 1.0:
            want = [t for t in quad if t.color == color][0].velocity[row, 0] * scales["arrow"]
            if np.hypot(*want) > 2 * LY.MARK_MIN_PX * unit:
                np.testing.assert_allclose(v[k, 0], want, atol=unit)
    # boxes of different methods share one scale: their half sizes compare as the step sizes do
    art, items = kinds["box"]
    ada, adam = quad["adagrad"].step_size[row, 0], quad["adam"].step_size[row, 0]
    got = {color: b[k, 0] for heads, b, tag, color in items}
    a, m = got[quad["adagrad"].color], got[quad["adam"].color]
    if min(a.min(), m.min()) > 2 * LY.MARK_MIN_PX * unit and max(a.max(), m.max()) < LY.MARK_CAP * 0.07:
        np.testing.assert_allclose(a / m, ada / adam, rtol=0.05)


def test_marks_stay_inside_the_map_and_big_ones_are_tagged():
    r = trajviz.run("rosenbrock", "all", steps=300)
    painter = animate_result(r, frames=40, size=SIZE).painter()
    marks = layer(painter, LY.Marks)
    (x0, x1), (y0, y1) = painter.scene.xlim, painter.scene.ylim
    cap = LY.MARK_CAP * LY.MARK_FRACTION * min(x1 - x0, y1 - y0)
    tagged = 0
    for kind, ax, art, items in marks.items:
        for heads, v, tag, color in items:
            size = np.hypot(v[..., 0], v[..., 1]) if kind != "box" else np.fmax(v[..., 0], v[..., 1])
            unit = 1 / painter.scene.px_per_unit(ax)                     # marks sit on whole pixels
            assert np.nanmax(size) <= cap * (1 if kind != "box" else 0.5) + unit
            tagged += int((tag > 1).sum())
    assert tagged > 0


def test_no_story_no_marks(quad):
    painter = animate_result(quad, frames=3, size=SIZE, story=False).painter()
    assert not any(isinstance(x, LY.Marks) for x in painter.layers)
    assert painter.scene.artists.get("key") is None


def test_key_draws_its_reference_marks_at_the_marks_scale(quad):
    painter = animate_result(quad, frames=3, size=SIZE).painter()
    key = painter.scene.artists["key"]
    unit = painter.scene.px_per_unit(painter.scene.map_axes[0])
    for kind, length_px, text, hollow in key:
        value = float(text.split(": ")[-1].split()[0])
        assert length_px == pytest.approx(value * painter.scales["arrow" if kind == "arrow" else "box"] * unit)


def _labels_ok_in_every_frame(painter):
    labels = layer(painter, LY.Labels)
    heads = layer(painter, LY.Heads)
    for k in range(painter.frames):
        painter.set_frame(k)
        boxes = [b for b in labels.boxes() if b is not None]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not L._overlap(a, b), (k, a, b)
        for pos in heads.positions(k):
            for px in painter.scene.to_px(painter.scene.map_axes[0], pos):
                if np.isfinite(px).all():
                    for b in boxes:
                        assert not (b[0] < px[0] < b[2] and b[1] < px[1] < b[3]), (k, px, b)


@pytest.mark.parametrize("surface", ["rosenbrock", "quadratic"])
def test_labels_never_overlap_nor_cover_a_head_in_the_default_animations(surface):
    painter = trajviz.run(surface, "all").animate().painter()
    _labels_ok_in_every_frame(painter)


def test_the_default_gif_is_under_a_megabyte(tmp_path):
    anim = trajviz.animate("rosenbrock", "all", path=tmp_path / "r.gif")
    assert anim.size == (1280, 720)
    assert (tmp_path / "r.gif").stat().st_size < 2**20


def test_grid_layout_dark_theme_and_loss_panel(quad, tmp_path):
    anim = animate_result(quad, tmp_path / "g.gif", frames=4, size="640x400", layout="grid", theme="dark")
    scene = anim.scene
    assert scene.layout == "grid" and len(scene.map_axes) == len(quad) and scene.loss_ax is not None
    assert to_hex(scene.fig.get_facecolor()) == "#14171c"


def test_3d_animation(quad, tmp_path):
    anim = animate_result(quad, tmp_path / "d.gif", frames=4, size=SIZE, view="3d")
    assert anim.scene.is3d and Image.open(tmp_path / "d.gif").n_frames == 4


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
    assert html.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in html
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
    ({"hold": 1e300}, "bad hold"), ({"path": "/no/such/folder/a.gif"}, "does not exist"),
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
    with pytest.raises(TrajvizError, match="bad dpi"):
        trajviz.animate("quadratic", "sgd", dpi=5)


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


@pytest.mark.parametrize("ext", [".gif", ".webp", ".png", ".html"])
def test_interrupted_render_leaves_the_old_file(quad, tmp_path, monkeypatch, ext):
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
    anim = animate_result(r, frames=frames, size="160x120", dpi=40, legend=False, title="")
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
    monkeypatch.setattr(F, "NOTEBOOK_WARN_BYTES", 1000)
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


def test_no_drawing_code_names_an_optimizer():
    # the full guard is tests/test_architecture.py; here: the marks come from what was recorded
    sgd = trajviz.run("quadratic", "sgd:momentum=0.8", steps=5)["sgd:momentum=0.8"]
    assert LY.mark_kinds(sgd) == ("velocity", False)       # plain SGD's entry, with momentum: an arrow
    assert LY.mark_kinds(trajviz.run("quadratic", "sgd", steps=5)["sgd"]) == ("step", False)
    assert optimizers.get_entry("sgd").velocity is not None


# ---- the second core --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rosen():
    return trajviz.run("rosenbrock", "all", steps=120)


def _spy_worker(monkeypatch, wrap=None):
    """Count forked children (and optionally wrap the function a child runs)."""
    from trajviz import worker

    started = []
    real = worker.start

    def start(fn):
        started.append(fn)
        return real(wrap(fn) if wrap else fn)

    monkeypatch.setattr(worker, "start", start)
    return started


def test_frames_drawn_by_a_forked_child_give_the_same_bytes(rosen, tmp_path, monkeypatch):
    from trajviz import worker

    if not worker.available():
        pytest.skip("needs Linux and two cores")
    started = _spy_worker(monkeypatch)
    both = animate_result(rosen, tmp_path / "both.gif", frames=40, size=SIZE)
    assert len(started) == 1 and both.frames >= A.SPLIT_AT
    monkeypatch.setenv("TRAJVIZ_JOBS", "1")
    one = animate_result(rosen, tmp_path / "one.gif", frames=40, size=SIZE)
    assert len(started) == 1          # no child this time
    assert (tmp_path / "both.gif").read_bytes() == (tmp_path / "one.gif").read_bytes()


@pytest.mark.parametrize("failure", ["raises", "dies"])
def test_a_child_that_fails_leaves_its_frames_to_the_parent(rosen, tmp_path, monkeypatch, failure):
    from trajviz import worker

    if not worker.available():
        pytest.skip("needs Linux and two cores")
    monkeypatch.setenv("TRAJVIZ_JOBS", "1")
    animate_result(rosen, tmp_path / "one.gif", frames=40, size=SIZE)
    monkeypatch.delenv("TRAJVIZ_JOBS")

    def broken(fn):
        def run():
            if failure == "dies":
                os._exit(9)
            raise RuntimeError("no")
        return run

    started = _spy_worker(monkeypatch, broken)
    animate_result(rosen, tmp_path / "both.gif", frames=40, size=SIZE)
    assert len(started) == 1
    assert (tmp_path / "both.gif").read_bytes() == (tmp_path / "one.gif").read_bytes()


def test_an_interrupt_kills_the_child_and_keeps_the_old_file(rosen, tmp_path, monkeypatch):
    import multiprocessing

    from trajviz import worker

    if not worker.available():
        pytest.skip("needs Linux and two cores")
    parent = os.getpid()
    frame = A.Painter.frame
    drawn = {"n": 0}

    def interrupted(self, k):
        if os.getpid() == parent:
            drawn["n"] += 1
            if drawn["n"] == 8:          # after the fork: the parent is drawing its share
                raise KeyboardInterrupt
        return frame(self, k)

    started = _spy_worker(monkeypatch)
    monkeypatch.setattr(A.Painter, "frame", interrupted)
    target = tmp_path / "keep.gif"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        animate_result(rosen, target, frames=40, size=SIZE)
    assert len(started) == 1
    assert multiprocessing.active_children() == []        # killed and reaped
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.gif"]


@pytest.mark.parametrize("split", [1, 3, 4, 5, 6, 8])
def test_a_tail_encoded_elsewhere_joins_on_exactly(tmp_path, split):
    """Runs of identical frames across the join (and a tail that is all one run) come out as if
    one writer had taken every frame."""
    from trajviz.render.writers import AnimationWriter

    base = np.full((40, 50, 4), 255, np.uint8)
    frames = []
    for k, x in enumerate([0, 5, 5, 5, 10, 10, 15, 20, 20]):
        f = base.copy()
        f[5:15, x:x + 10, :3] = (0, 114, 178)
        frames.append(f)
    frames.append(frames[-1].copy())

    def write(path, split=None):
        with AnimationWriter(path, fps=10, hold=0.5, palette_sample=frames[-1][..., :3],
                             exact_colors=["#0072B2"]) as w:
            for f in frames[:split]:
                w.append(f)
            if split is not None:
                assert w.can_take_tail()
                w.append_tail(w.encode_tail(iter(frames[split - 1:])), len(frames) - split)
        return w

    one = write(tmp_path / "one.gif")
    two = write(tmp_path / "two.gif", split)
    assert two.frames == one.frames == len(frames) and two.written_frames == one.written_frames
    assert (tmp_path / "two.gif").read_bytes() == (tmp_path / "one.gif").read_bytes()


def test_the_cached_past_of_the_trails_draws_every_frame_as_drawn_afresh(rosen):
    """Frames drawn in order (the faded past copied from its cache while it does not change) equal
    frames drawn each by a new painter (the past drawn for that frame alone)."""
    options = dict(frames=30, size=SIZE)
    painter = animate_result(rosen, **options).painter()
    cached = [painter.frame(k)[..., :3].copy() for k in range(painter.frames)]
    paths = layer(painter, LY.Paths)
    keys = {paths.groups[0]["key"]}
    for k in (0, 7, 15, painter.frames - 1):
        fresh = animate_result(rosen, **options).painter()
        np.testing.assert_array_equal(fresh.frame(k)[..., :3], cached[k], err_msg=f"frame {k}")
        keys.add(layer(fresh, LY.Paths).groups[0]["key"])
    assert len(keys) > 1 and any(any(key) for key in keys)   # the past grew: the cache was really used


def test_no_fork_beside_other_threads_or_when_turned_off(monkeypatch):
    import threading

    from trajviz import worker

    if not (sys.platform.startswith("linux") and worker.cores() >= 2):
        pytest.skip("needs Linux and two cores")
    assert worker.available()
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not worker.available()          # a notebook kernel's threads: draw everything here
        assert worker.start(lambda: 1) is None
    finally:
        stop.set()
        t.join()
    monkeypatch.setenv("TRAJVIZ_JOBS", "1")
    assert not worker.available() and A._split(120) == 120
    monkeypatch.delenv("TRAJVIZ_JOBS")
    assert worker.available() and A._split(120) == round(120 * A.PARENT_SHARE) and A._split(A.SPLIT_AT - 1) == A.SPLIT_AT - 1
