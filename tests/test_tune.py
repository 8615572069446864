import numpy as np
import pytest
import torch

import trajviz
from trajviz.errors import TrajvizError
from trajviz.schedules import parse_schedule
from trajviz.api import sweep
from trajviz.sweeps import parse_param


def test_tuning_finds_one_over_a_on_a_quadratic():
    # gradient descent on 0.5 * a * |x|^2 converges fastest (in one step) at lr = 1/a
    a = 4.0
    r = trajviz.run(f"0.5*{a}*(x**2 + y**2)", "sgd", steps=40, start=(1.0, -0.5), tune=True)
    tuned = r["sgd"].tuned
    assert tuned.lr == pytest.approx(1 / a, rel=0.02)
    assert r["sgd"].hyperparameters["lr"] == tuned.lr
    assert len(tuned.candidates) == 64 + 16
    assert r.settings["tuned"] == {"sgd": tuned.lr}


def test_tuning_is_deterministic_and_penalises_divergence():
    kw = dict(steps=60, tune=True, noise=0.3, seed=5)
    a = trajviz.run("quadratic:kappa=10,angle=0", ["sgd", "adam"], **kw)
    b = trajviz.run("quadratic:kappa=10,angle=0", ["sgd", "adam"], **kw)
    for label in ("sgd", "adam"):
        assert a[label].tuned.lr == b[label].tuned.lr
        np.testing.assert_array_equal(a[label].path, b[label].path)
    t = a["sgd"].tuned
    # rates above 2/kappa make gradient descent diverge on the stiff axis: they must score inf
    assert np.isinf(t.scores[t.candidates > 2.5 / 10]).all()
    assert t.lr < 2 / 10


def test_tuning_beats_or_matches_the_curated_rate():
    base = trajviz.run("rosenbrock", "all", steps=150)
    tuned = trajviz.run("rosenbrock", "all", steps=150, tune=True)
    for label in base.traces:
        assert tuned[label].final_loss()[0] <= base[label].final_loss()[0] * (1 + 1e-9), label


def test_schedule_matches_torch_scheduler():
    steps = 120
    r = trajviz.run("quadratic:kappa=10,angle=0", "sgd", steps=steps, lr=0.1, schedule="step:step_size=25,gamma=0.5")
    p = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=25, gamma=0.5)
    expected = []
    for _ in range(steps + 1):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(r["sgd"].lr, expected, rtol=1e-15)
    assert r["sgd"].schedule == "step(step_size=25, gamma=0.5)"
    # and the path follows the scheduled rates: x_{t+1} = (1 - lr_t) x_t on the u axis
    x = r["sgd"].path[:, 0, 0]
    np.testing.assert_allclose(x[1:], x[:-1] * (1 - np.array(expected[:-1])), rtol=1e-12)


@pytest.mark.parametrize("name,cls", [("cosine", "CosineAnnealingLR"), ("exponential", "ExponentialLR"),
                                      ("warmup", "LinearLR")])
def test_named_schedules(name, cls):
    s = parse_schedule(name, steps=100)
    assert s.class_name == cls
    r = trajviz.run("quadratic:kappa=10,angle=0", "adam", steps=100, schedule=name)
    lr = r["adam"].lr
    assert np.isfinite(lr).all() and lr.min() < lr.max()


@pytest.mark.parametrize("spec,match", [("linear", "unknown schedule"), ("step:gamma=x", "not a number"),
                                        ("step:stepsize=3", r"unknown key 'stepsize'.*step_size")])
def test_bad_schedules(spec, match):
    with pytest.raises(TrajvizError, match=match):
        parse_schedule(spec, 100)


def test_sweep_cell_equals_the_single_run():
    m = sweep("rosenbrock", "momentum", ["lr=1e-5:1e-3:log:12", "momentum=0:0.95:5"], steps=80)
    assert m.values.shape == (12, 5)
    for i, j in ((3, 1), (10, 4), (7, 0)):
        lr, mom = float(m.axes[0].values[i]), float(m.axes[1].values[j])
        single = trajviz.run("rosenbrock", f"momentum:lr={lr!r},momentum={mom!r}", steps=80)
        expected = next(iter(single)).loss[-1, 0]
        assert m.values[i, j] == pytest.approx(expected, rel=1e-9)
    assert m.best == np.unravel_index(np.nanargmin(m.values), m.values.shape)
    # the default cell is the curated rate and momentum 0.9
    assert m.axes[1].values[m.default[1]] == pytest.approx(0.95)


def test_sweep_with_schedule_and_per_group_keys_equals_single_runs():
    m = sweep("quadratic:kappa=10,angle=0", "adam", ["lr=1e-3:0.3:log:6", "eps=1e-8:1e-2:log:3"], steps=50, schedule="cosine")
    i, j = 4, 2
    lr, eps = float(m.axes[0].values[i]), float(m.axes[1].values[j])
    single = trajviz.run("quadratic:kappa=10,angle=0", f"adam:lr={lr!r},eps={eps!r}", steps=50, schedule="cosine")
    assert m.values[i, j] == pytest.approx(next(iter(single)).loss[-1, 0], rel=1e-9)


def test_sweep_steps_metric():
    m = sweep("quadratic:kappa=10,angle=0", "sgd", ["lr=0.01:0.3:log:20"], steps=300, metric="steps", tol=1e-8)
    # on 0.5 (x^2 + 10 y^2) gradient descent is fastest near lr = 2 / (1 + 10)
    best_lr = m.axes[0].values[m.best[0]]
    assert 0.12 < best_lr < 0.22
    assert np.isnan(m.values[0])  # the smallest rate does not get there in 300 steps


@pytest.mark.parametrize("param,match", [
    ("lr=1:0.1:8", "less than"), ("lr=0.1:0.1:8", "less than"), ("lr=0.001:1:0", "at least 1"),
    ("lr=0:1:log:8", "min > 0"), ("lr=a:b:3", "numbers"), ("lr", "expected KEY"),
    ("lr=1:2:lin:3", "expected KEY"),
])
def test_bad_grids(param, match):
    with pytest.raises(TrajvizError, match=match):
        parse_param(param)


def test_sweep_unknown_key_and_axes():
    with pytest.raises(TrajvizError, match=r"unknown key 'mom'.*valid keys"):
        sweep("quadratic:kappa=10,angle=0", "momentum", ["mom=0:0.9:4"], steps=5)
    with pytest.raises(TrajvizError, match="one optimizer"):
        sweep("quadratic:kappa=10,angle=0", "all", ["lr=0.01:0.1:3"], steps=5)
    with pytest.raises(TrajvizError, match="1 or 2"):
        sweep("quadratic:kappa=10,angle=0", "adam", ["lr=0.01:0.1:3", "eps=1e-8:1e-6:2", "weight_decay=0:0.1:2"], steps=5)


def test_sweep_exports(tmp_path):
    m = sweep("quadratic:kappa=10,angle=0", "momentum", ["lr=0.001:0.1:log:4", "momentum=0:0.9:3"], steps=20)
    m.save(tmp_path / "map.csv")
    rows = (tmp_path / "map.csv").read_text().splitlines()
    assert rows[0] == "lr,momentum,loss" and len(rows) == 1 + 12
    lr, mom, loss = (float(v) for v in rows[1 + 2 * 3 + 1].split(","))
    assert loss == m.values[2, 1] and lr == m.axes[0].values[2] and mom == m.axes[1].values[1]
    m.save(tmp_path / "map.png")
    from PIL import Image

    assert Image.open(tmp_path / "map.png").format == "PNG"


def test_tuned_run_is_not_named_by_the_rate_it_replaced():
    r = trajviz.run("quadratic:kappa=10,angle=0", ["sgd:lr=0.001", "momentum:lr=0.5,momentum=0.8"], steps=30, tune=True)
    assert list(r.traces) == ["sgd", "momentum:momentum=0.8"]
    assert r["momentum:momentum=0.8"].hyperparameters["momentum"] == 0.8


@pytest.mark.parametrize("spec", ["cosine:T_max=0", "step:step_size=0", "warmup:total_iters=-3",
                                  "cosine:T_max=-1"])
def test_schedules_that_would_divide_by_zero_are_refused(spec):
    with pytest.raises(TrajvizError, match="whole number >= 1"):
        parse_schedule(spec, 100)


def test_sweep_checks_every_value():
    with pytest.raises(TrajvizError, match="learning rate|Invalid"):
        sweep("quadratic:kappa=10,angle=0", "momentum", ["lr=0.1,-0.1,0.2"], steps=5)


@pytest.mark.parametrize("opt", ["adam:decoupled_weight_decay=true", "adamw"])
def test_sweep_over_weight_decay_equals_single_runs(opt):
    # decoupled decay x * (1 - lr wd) is still proportional to lr: the shared-tensor rate scaling holds
    m = sweep("rosenbrock", opt, ["lr=0.01:0.3:log:3", "weight_decay=0:0.5:2"], steps=40)
    for i, j in ((2, 1), (0, 0)):
        lr, wd = float(m.axes[0].values[i]), float(m.axes[1].values[j])
        extra = "decoupled_weight_decay=true," if ":" in opt else ""
        single = trajviz.run("rosenbrock", f"{opt.split(':')[0]}:{extra}lr={lr!r},weight_decay={wd!r}", steps=40)
        assert m.values[i, j] == pytest.approx(next(iter(single)).loss[-1, 0], rel=1e-9)
