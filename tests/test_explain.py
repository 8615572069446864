"""``trajviz explain``: the numbers a clip draws are torch.optim's, and the clip is a proper animation."""

from __future__ import annotations

import base64

import numpy as np
import pytest

import trajviz
import trajviz.optimizers as O
from trajviz.errors import TrajvizError
from trajviz.api import explain
from trajviz.lessons import AXES, lesson, supported
from trajviz.render.explain import Clip

iio = pytest.importorskip("imageio.v3")
Image = pytest.importorskip("PIL.Image")

METHODS = [spec.name for spec in O.resolve("all")]
SIZE = (480, 360)   # small frames keep the suite fast; the layout scales with the frame


def _torch_update(les):
    """The same update by torch.optim alone, from the lesson's start: (x before, x after)."""
    import torch

    cls = getattr(torch.optim, les.torch_class.rsplit(".", 1)[1])
    p = torch.tensor(np.asarray(les.trail[:1]), dtype=torch.float64, requires_grad=True)
    opt = cls([p], **les.hyperparameters)
    before = None
    for _ in range(les.update):
        opt.zero_grad()
        les.surface(p).sum().backward()
        before = p.detach().numpy()[0].copy()
        opt.step()
    return before, p.detach().numpy()[0].copy()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain")
    return {m: explain(m, folder / f"{m}.gif", size=SIZE, fps=10) for m in METHODS}


def test_every_classic_method_is_supported():
    assert METHODS == supported()


@pytest.mark.parametrize("method", METHODS)
def test_clip_is_a_looping_gif_with_a_held_last_frame(clips, method):
    clip = clips[method]
    frames = iio.imread(clip.path, index=None)
    assert frames.shape[1:] == (SIZE[1], SIZE[0], 3)
    assert len(frames) >= 3 * len(clip.lesson.stages)  # each sub-step grows in over several frames
    with Image.open(clip.path) as im:
        assert im.info["loop"] == 0
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
    assert durations[-1] >= 1500                          # the last frame is held
    assert durations[-1] > max(durations[:-1])
    assert sum(durations) / 1000 == pytest.approx(clip.seconds, abs=0.5)


@pytest.mark.parametrize("method", METHODS)
def test_new_position_is_torch_optims_update(clips, method):
    les = clips[method].lesson
    x, x_new = _torch_update(les)
    np.testing.assert_allclose(les.position, x, rtol=1e-12, atol=0)
    np.testing.assert_allclose(les.new_position, x_new, rtol=1e-12, atol=0)
    # the point the clip ends on is that position, and an arrow from x lands on it
    np.testing.assert_allclose(les.final_point(), x_new, rtol=1e-12, atol=0)
    last = les.visible(len(les.stages) - 1)
    landing = [m for m in last if m.kind == "arrow"
               and np.allclose(m.at, x, rtol=1e-12) and np.allclose(m.tip, x_new, rtol=1e-9, atol=1e-15)]
    assert landing, "no arrow from x to the new position"


@pytest.mark.parametrize("method", METHODS)
def test_lesson_agrees_with_the_engine(method):
    les = lesson(method)
    r = trajviz.run(les.surface, les.method + ":" + ",".join(f"{k}={_spec_value(v)}"
                                                             for k, v in les.hyperparameters.items()),
                    steps=les.update, start=les.trail[0], dtype="float64")
    path = next(iter(r)).path[:, 0]
    np.testing.assert_allclose(path[:-1], les.trail, rtol=1e-12)
    np.testing.assert_allclose(path[-1], les.new_position, rtol=1e-12)


def _spec_value(v):
    return "/".join(str(x) for x in v) if isinstance(v, tuple) else str(v)


def test_momentum_arrows_add_up_tip_to_tail():
    les = lesson("momentum")
    n = les.numbers
    mu = les.hyperparameters["momentum"]
    lr = les.hyperparameters["lr"]
    np.testing.assert_allclose(n["beta*v"], mu * -lr * les.state_before["momentum_buffer"])
    np.testing.assert_allclose(n["-lr*g"], -lr * les.grad)
    np.testing.assert_allclose(n["beta*v"] + n["-lr*g"], les.step, rtol=1e-12)
    marks = {m.key: m for m in les.marks("map")}
    # the gradient arrow starts at the tip of the decayed velocity
    np.testing.assert_allclose(marks["-lr*g"].at, marks["beta*v"].tip, rtol=1e-12)
    np.testing.assert_allclose(marks["-lr*g"].tip, les.new_position, rtol=1e-12)


@pytest.mark.parametrize("method, key", [("adagrad", "sum"), ("rmsprop", "square_avg"),
                                         ("adadelta", "square_avg")])
def test_squares_have_the_accumulated_area(method, key):
    les = lesson(method)
    new = {m.panel: m for m in les.marks() if m.kind == "square" and m.key.endswith(":new")}
    old = {m.panel: m for m in les.marks() if m.kind == "square" and m.key.endswith(":old")}
    for i, a in enumerate(AXES):
        assert new[a].side ** 2 == pytest.approx(les.state_after[key][i], rel=1e-12)
        assert old[a].side ** 2 == pytest.approx(les.state_before[key][i], rel=1e-12)


def test_adam_divides_the_corrected_slope_by_the_side():
    les = lesson("adam")
    t, lr = les.update, les.hyperparameters["lr"]
    b1, b2 = 0.9, 0.999
    m_hat = les.state_after["exp_avg"] / (1 - b1**t)
    v_hat = les.state_after["exp_avg_sq"] / (1 - b2**t)
    squares = {m.panel: m for m in les.marks() if m.key.endswith(":v_hat")}
    for i, a in enumerate(AXES):
        assert squares[a].side ** 2 == pytest.approx(v_hat[i], rel=1e-12)
    np.testing.assert_allclose(-lr * m_hat / (np.sqrt(v_hat) + 1e-8), les.step, rtol=1e-9)
    rows = {m.label: m.vec for m in les.marks("table")}
    np.testing.assert_allclose(rows["step"], les.step)


def test_every_sub_step_has_a_caption_and_numbered_steps():
    for method in METHODS:
        les = lesson(method)
        assert all(s.caption for s in les.stages)
        assert [s.caption.split(".")[0] for s in les.stages[1:]] == [str(i) for i in range(1, len(les.stages))]


def test_options_move_the_lesson():
    les = lesson("momentum:momentum=0.5", update=3, surface="quadratic:kappa=4", start=(-2.0, 1.0))
    assert les.hyperparameters["momentum"] == 0.5
    assert les.update == 3 and les.surface.spec.startswith("quadratic")
    np.testing.assert_allclose(les.trail[0], (-2.0, 1.0))
    x, x_new = _torch_update(les)
    np.testing.assert_allclose(les.new_position, x_new, rtol=1e-12)


@pytest.mark.parametrize("method, message", [
    ("adamm", "did you mean 'adam'"),
    ("adamw", "choose from: sgd, momentum"),
    ("momentum:weight_decay=0.1", "cannot show 'weight_decay'"),
    ("", "bad method"),
])
def test_bad_methods(method, message, tmp_path):
    with pytest.raises(TrajvizError, match=message):
        explain(method, tmp_path / "out.gif", size=SIZE)
    assert not list(tmp_path.iterdir())


def test_bad_arguments(tmp_path):
    with pytest.raises(TrajvizError, match="update"):
        lesson("sgd", update=0)
    with pytest.raises(TrajvizError, match="no velocity"):
        lesson("momentum", update=1)
    with pytest.raises(TrajvizError, match="cannot write"):
        explain("sgd", tmp_path / "out.txt")
    with pytest.raises(TrajvizError, match="fps"):
        explain("sgd", tmp_path / "out.gif", fps=0)
    with pytest.raises(TrajvizError, match="theme"):
        explain("sgd", tmp_path / "out.gif", theme="sepia")
    assert not list(tmp_path.iterdir())


def test_notebook_clip_is_an_inline_gif():
    clip = explain("sgd", size=SIZE, theme="dark")
    assert isinstance(clip, Clip) and clip.path is None
    bundle = clip._repr_mimebundle_()
    gif = base64.b64decode(bundle["image/gif"])
    assert gif.startswith(b"GIF89a")
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert "sgd" in bundle["text/plain"]


def test_other_formats(tmp_path):
    clip = explain("adagrad", tmp_path / "adagrad.webp", size=SIZE, fps=10)
    frames = [iio.imread(clip.path, index=i) for i in (0, 5)]
    assert frames[0].shape[:2] == (SIZE[1], SIZE[0])
