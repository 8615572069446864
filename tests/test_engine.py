import os
import tracemalloc

import numpy as np
import pytest
import torch

import trajviz
import trajviz.optimizers as O
from trajviz.errors import TrajvizError

REGISTERED = O.names()


def separate_torch_run(cls, kwargs, surface, start, steps):
    """The reference: one torch.optim instance per start point, a plain Python loop."""
    p = torch.tensor([start], dtype=torch.float64, requires_grad=True)
    opt = cls([p], **kwargs)
    out = [p.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        surface(p).sum().backward()
        opt.step()
        out.append(p.detach().clone())
    return torch.cat(out).numpy()


@pytest.mark.parametrize("name", REGISTERED)
def test_batched_equals_separate_torch_optim_runs(name):
    starts = [(-1.5, 2.5), (0.3, -0.5), (1.2, 1.9)]
    # a small rate: the point is the equality, and every start must stay finite for all methods
    r = trajviz.run("rosenbrock", name, steps=40, start=starts, lr=1e-4)
    trace = r[name]
    assert trace.path.shape == (41, 3, 2)
    assert (trace.diverged_at == -1).all()
    spec = trace.spec
    for i, s in enumerate(starts):
        ref = separate_torch_run(spec.torch_class, trace.hyperparameters, r.surface, s, 40)
        np.testing.assert_array_equal(trace.path[:, i], ref)


def test_gradient_descent_closed_form_on_quadratic():
    kappa, lr, steps = 10.0, 0.05, 60
    r = trajviz.run(f"quadratic:kappa={kappa},angle=0", "sgd", lr=lr, steps=steps, start=(2.0, 1.0))
    t = np.arange(steps + 1)
    expected = np.stack([2.0 * (1 - lr) ** t, 1.0 * (1 - lr * kappa) ** t], 1)
    np.testing.assert_allclose(r["sgd"].path[:, 0], expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(r["sgd"].loss[:, 0], 0.5 * (expected[:, 0] ** 2 + kappa * expected[:, 1] ** 2),
                               rtol=1e-12, atol=1e-15)


def test_heavy_ball_closed_form_on_quadratic():
    # x_{t+1} = x_t - lr h x_t + mu (x_t - x_{t-1}): a linear recurrence, solved by a matrix power
    kappa, lr, mu, steps = 10.0, 0.02, 0.9, 80
    r = trajviz.run(f"quadratic:kappa={kappa},angle=0", f"momentum:momentum={mu}", lr=lr, steps=steps, start=(2.0, 1.0))
    path = r[f"momentum:momentum={mu}"].path[:, 0]
    for axis, h, x0 in ((0, 1.0, 2.0), (1, kappa, 1.0)):
        m = np.array([[1 + mu - lr * h, -mu], [1.0, 0.0]])
        x1 = x0 - lr * h * x0  # first step: the buffer starts as the gradient
        expected = [x0] + [(np.linalg.matrix_power(m, k) @ np.array([x1, x0]))[0] for k in range(steps)]
        np.testing.assert_allclose(path[:, axis], expected, rtol=1e-10, atol=1e-14)


def _readers_run(name, extra=""):
    """A run of a registered method on a rotated valley, weight decay off (its pull is no part of
    the velocity or the box), from two starts."""
    spec = O.get_entry(name)
    kw = "weight_decay=0" if "weight_decay" in spec.valid_keys() else ""
    label = f"{name}:{','.join(k for k in (kw, extra) if k)}" if (kw or extra) else name
    r = trajviz.run("quadratic:kappa=10,angle=30", label, steps=40, start=[(1.0, 1.0), (-2.0, 0.5)], lr=0.01)
    return r[label]


@pytest.mark.parametrize("name", REGISTERED)
def test_drawn_marks_are_the_real_update(name):
    """Every registered method's arrow and box, against the displacement torch.optim really made."""
    t = _readers_run(name)
    spec = t.spec
    step = np.diff(t.path, axis=0)                      # (T-1, N, 2): step t moves x_{t-1} -> x_t
    g = t.grad[:-1]                                     # the gradient each step used
    checked = False
    if t.velocity is not None and spec.velocity_is_step:
        np.testing.assert_allclose(t.velocity[1:], step, rtol=1e-9, atol=1e-15)
        checked = True
    if t.step_size is not None and t.velocity is None:
        np.testing.assert_allclose(-t.step_size[1:] * g, step, rtol=1e-9, atol=1e-15)
        checked = True
    if t.velocity is None and t.step_size is None:      # plain SGD: the hollow arrow is -lr g
        np.testing.assert_allclose(-t.lr[1:, None, None] * g, step, rtol=1e-9, atol=1e-15)
        checked = True
    if name == "nesterov":                              # x <- x - lr (g + mu v): step - mu v = -lr g
        mu = t.hyperparameters["momentum"]
        np.testing.assert_allclose(step - mu * t.velocity[1:], -0.01 * g, rtol=1e-9, atol=1e-15)
        checked = True
    if name == "nadam":                                 # step = momentum term + look-ahead gradient term
        b1, psi = t.hyperparameters.get("betas", (0.9, 0.999))[0], 0.004
        k = np.arange(1, len(step) + 1)
        mu = b1 * (1 - 0.5 * 0.96 ** (k * psi))
        prod = np.cumprod(mu.astype(np.float32), dtype=np.float32).astype(np.float64)   # torch keeps it in float32
        rest = -((1 - mu) / (1 - prod))[:, None, None] * t.step_size[1:] * g
        np.testing.assert_allclose(step - t.velocity[1:], rest, rtol=1e-9, atol=1e-15)
        checked = True
    if name == "rmsprop":                               # no momentum by default: the box alone
        assert t.velocity is None
    assert checked, f"{name}: no check covers what it draws"


def test_adadelta_box_uses_the_accumulator_the_step_used():
    t = _readers_run("adadelta")
    step, g = np.diff(t.path, axis=0), t.grad[:-1]
    # at step 1 the step-delta accumulator is still 0: the box is lr sqrt(eps) / sqrt(E[g^2] + eps)
    eps, rho = 1e-6, 0.9
    np.testing.assert_allclose(t.step_size[1, 0], 0.01 * np.sqrt(eps) / np.sqrt((1 - rho) * g[0, 0] ** 2 + eps),
                               rtol=1e-9)
    np.testing.assert_allclose(-t.step_size[1:] * g, step, rtol=1e-9, atol=1e-15)


def test_sgd_with_momentum_draws_its_velocity():
    t = trajviz.run("quadratic:kappa=10,angle=30", "sgd:momentum=0.8", steps=20, lr=0.01)["sgd:momentum=0.8"]
    assert t.velocity is not None
    np.testing.assert_allclose(t.velocity[1:], np.diff(t.path, axis=0), rtol=1e-9, atol=1e-15)


def test_radam_box_switches_at_the_rectification():
    t = _readers_run("radam")
    b2 = 0.999
    rho_inf = 2 / (1 - b2) - 1
    k = np.arange(1, 41)
    rho = rho_inf - 2 * k * b2**k / (1 - b2**k)
    early = np.flatnonzero(rho <= 5) + 1
    assert len(early) and (t.step_size[early] == 0.01).all()     # plain momentum steps: rate lr
    assert not np.allclose(t.step_size[early[-1] + 1], 0.01)


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "adam"])
def test_step_size_reader_is_the_per_axis_rate(name):
    trace = trajviz.run("quadratic:kappa=10,angle=0", name, steps=30, start=(1.0, 1.0))[name]
    s, g = trace.step_size, trace.grad
    step = np.diff(trace.path[:, 0], axis=0)
    assert np.isnan(s[0]).all() and (s[1:] > 0).all()
    if name != "adam":  # x_t - x_{t-1} = -step_size_t * g_{t-1}
        np.testing.assert_allclose(step, -s[1:, 0] * g[:-1, 0], rtol=1e-9, atol=1e-15)


def test_sgd_has_no_velocity_or_box():
    trace = trajviz.run("quadratic:kappa=10,angle=0", "sgd", steps=5, start=(-2.6, 1.2))["sgd"]
    assert trace.velocity is None and trace.step_size is None
    np.testing.assert_allclose(trace.grad[0, 0], [(-2.6), 10 * 1.2])


@pytest.mark.parametrize("surface", ["rosenbrock", "beale", "quadratic"])
def test_defaults_make_a_good_picture(surface):
    r = trajviz.run(surface, "all")
    assert list(r.traces) == list(O.CLASSIC)
    (x0, x1), (y0, y1) = r.surface.domain
    for trace in r:
        path, loss = trace.path[:, 0], trace.loss[:, 0]
        assert np.isfinite(path).all() and trace.diverged_at[0] == -1, trace.label
        moved = np.abs(path - path[0]).max(0)
        assert moved.max() > 0.05 * max(x1 - x0, y1 - y0), (trace.label, moved)
        assert loss[-1] < loss[0], trace.label
        assert x0 <= path[:, 0].min() and path[:, 0].max() <= x1, trace.label
        assert y0 <= path[:, 1].min() and path[:, 1].max() <= y1, trace.label


def test_starts_sampled_in_domain_with_seed():
    a = trajviz.run("beale", "adam", steps=3, starts=50, seed=1)
    b = trajviz.run("beale", "adam", steps=3, starts=50, seed=1)
    c = trajviz.run("beale", "adam", steps=3, starts=50, seed=2)
    assert a.starts.shape == (50, 2)
    (x0, x1), (y0, y1) = a.surface.domain
    assert (a.starts[:, 0] >= x0).all() and (a.starts[:, 0] <= x1).all()
    assert (a.starts[:, 1] >= y0).all() and (a.starts[:, 1] <= y1).all()
    np.testing.assert_array_equal(a.starts, b.starts)
    assert not np.array_equal(a.starts, c.starts)


def test_noise_is_seeded_and_has_the_right_scale():
    kw = dict(steps=200, start=(1.0, 1.0), noise=0.5, lr=0.01)
    a = trajviz.run("quadratic:kappa=10,angle=0", "sgd", seed=3, **kw)["sgd"]
    b = trajviz.run("quadratic:kappa=10,angle=0", "sgd", seed=3, **kw)["sgd"]
    c = trajviz.run("quadratic:kappa=10,angle=0", "sgd", seed=4, **kw)["sgd"]
    np.testing.assert_array_equal(a.path, b.path)
    assert not np.array_equal(a.path, c.path)
    x, y = a.path[:, 0, 0], a.path[:, 0, 1]
    clean = np.stack([x, 10 * y], 1)
    residual = a.grad[:, 0] - clean
    assert residual.std() == pytest.approx(0.5, rel=0.1)


def test_every_method_sees_the_same_noise_for_a_seed():
    r = trajviz.run("quadratic:kappa=10,angle=0", ["sgd", "sgd:lr=0.0001"], steps=5, noise=1.0, seed=7, start=(0.0, 0.0))
    a, b = r["sgd"], r["sgd:lr=0.0001"]
    # at step 0 both sit at the minimum, so the gradient is pure noise: the same draw for both
    np.testing.assert_array_equal(a.grad[0], b.grad[0])


def test_minibatches_on_regression():
    full = trajviz.run("regression", "sgd", steps=50, seed=0)["sgd"]
    mb = trajviz.run("regression", "sgd", steps=50, batch_size=8, seed=0)["sgd"]
    mb2 = trajviz.run("regression", "sgd", steps=50, batch_size=8, seed=0)["sgd"]
    np.testing.assert_array_equal(mb.path, mb2.path)
    assert not np.allclose(full.path, mb.path)
    # the minibatch gradient is noisy around the full gradient; the loss recorded is the full loss
    s = trajviz.surfaces.get("regression")
    xy = torch.tensor(mb.path[:, 0], requires_grad=True)
    s(xy).sum().backward()
    diff = mb.grad[:, 0] - xy.grad.numpy()
    assert np.abs(diff).max() > 1e-3
    np.testing.assert_allclose(mb.loss[:, 0], s(torch.tensor(mb.path[:, 0])).numpy(), rtol=1e-12)
    with pytest.raises(TrajvizError, match="regression"):
        trajviz.run("rosenbrock", "sgd", steps=2, batch_size=8)
    with pytest.raises(TrajvizError, match="at most 1000"):
        trajviz.run("regression", "sgd", steps=2, batch_size=5000)


def test_record_every_subsamples_the_same_path():
    full = trajviz.run("rosenbrock", "adam", steps=103)["adam"]
    sub = trajviz.run("rosenbrock", "adam", steps=103, record_every=10)["adam"]
    assert sub.steps.tolist() == list(range(0, 101, 10)) + [103]
    np.testing.assert_array_equal(sub.path, full.path[sub.steps])
    np.testing.assert_array_equal(sub.step_size[1:], full.step_size[sub.steps[1:]])


def _peak_bytes(opt, **kw):
    tracemalloc.start()
    trajviz.run("rosenbrock", opt, start=[(-1.5, 2.5)] * 500, **kw)
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def test_memory_grows_only_with_what_is_recorded():
    _peak_bytes("adam", steps=5)  # warm-up: one-time allocations are not the run's
    small = _peak_bytes("adam", steps=100, record_every=1)
    long = _peak_bytes("adam", steps=600, record_every=6)  # 6x the steps, the same 101 records
    more = _peak_bytes("adam", steps=400, record_every=1)  # 4x the records
    assert long < 1.3 * small
    assert more > 2 * small  # the measure can tell


@pytest.mark.slow
def test_memory_50k_steps_of_all_like_1000_recorded():
    _peak_bytes("all", steps=5)
    base = _peak_bytes("all", steps=1000, record_every=1)
    long = _peak_bytes("all", steps=50_000, record_every=50)
    assert long < 1.3 * base


def test_divergence_is_reported_and_others_go_on():
    r = trajviz.run("saddle", "sgd", lr=0.3, steps=60, start=[(-1.0, 0.5), (-1.0, 0.0)])
    trace = r["sgd"]
    assert trace.diverged_at[0] > 0 and trace.diverged_at[1] == -1
    d = trace.diverged_at[0]
    assert np.isnan(trace.path[d:, 0]).all() and np.isfinite(trace.path[:d, 0]).all()
    assert np.isfinite(trace.path[:, 1]).all()
    assert r.divergences() == [("sgd", 0, d)]
    (x0, x1), (y0, y1) = r.surface.domain
    assert abs(trace.path[d - 1, 0, 1]) <= y1 + 5 * (y1 - y0)


def test_non_finite_loss_counts_as_divergence():
    r = trajviz.run("log(x)", "sgd", steps=50, lr=1.0, start=(0.5, 0.0), xlim=(-1, 3), ylim=(-1, 1))
    trace = r["sgd"]
    d = trace.diverged_at[0]
    assert d > 0 and np.isfinite(trace.loss[:d, 0]).all()


def test_row_coupling_optimizers_run_per_start():
    # LBFGS couples all entries of its parameter; run per start it must equal separate runs
    starts = [(-1.5, 2.5), (0.5, 0.5)]
    r = trajviz.run("rosenbrock", "torch.optim:LBFGS:lr=0.5,max_iter=4", steps=5, start=starts)
    trace = next(iter(r))
    assert trace.spec.batchable is False
    for i, s in enumerate(starts):
        p = torch.tensor([s], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([p], lr=0.5, max_iter=4)
        ref = [p.detach().clone()]

        def closure():
            opt.zero_grad()
            v = r.surface(p).sum()
            v.backward()
            return v
        for _ in range(5):
            opt.step(closure)
            ref.append(p.detach().clone())
        np.testing.assert_allclose(trace.path[:, i], torch.cat(ref).numpy(), rtol=1e-12)


def test_optimizer_class_object_and_import_path():
    r = trajviz.run("quadratic:kappa=10,angle=0", [torch.optim.ASGD, "torch.optim:Rprop:lr=0.01"], steps=5)
    assert [t.spec.batchable for t in r] == [True, True]
    assert "torch.optim:Rprop:lr=0.01" in r.traces


def test_clip_only_when_asked():
    free = trajviz.run("rosenbrock", "sgd", steps=1, lr=1e-3)["sgd"]
    clipped = trajviz.run("rosenbrock", "sgd", steps=1, lr=1e-3, clip=1.0)["sgd"]
    assert np.linalg.norm(free.path[1, 0] - free.path[0, 0]) > 1e-2
    assert np.linalg.norm(clipped.path[1, 0] - clipped.path[0, 0]) == pytest.approx(1e-3)


def test_float32_and_device():
    r = trajviz.run("quadratic:kappa=10,angle=0", "adam", steps=5, dtype="float32", device="cpu")
    assert r["adam"].path.dtype == np.float32 and r.settings["dtype"] == "float32"
    assert trajviz.run("quadratic:kappa=10,angle=0", "adam", steps=1).settings["device"] == "cpu"


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps", "tpu", "cuda:x"])
def test_unavailable_or_unknown_device(device):
    if device.startswith("cuda") and torch.cuda.device_count() > 1:
        pytest.skip("has CUDA GPUs")
    with pytest.raises(TrajvizError, match="device"):
        trajviz.run("quadratic:kappa=10,angle=0", "sgd", steps=1, device=device)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    cpu = trajviz.run("rosenbrock", "all", steps=50, device="cpu")
    gpu = trajviz.run("rosenbrock", "all", steps=50, device="cuda")
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a.path, b.path, rtol=1e-9)


@pytest.mark.parametrize("kwargs,match", [
    (dict(steps=0), "steps"),
    (dict(steps=-3), "steps"),
    (dict(steps=2.5), "steps"),
    (dict(record_every=0), "record_every"),
    (dict(noise=-1), "noise"),
    (dict(noise=float("nan")), "noise"),
    (dict(lr=0), "bad lr"),
    (dict(lr=float("nan")), "bad lr"),
    (dict(lr=-0.1), "bad lr"),
    (dict(start=(1, 2, 3)), "bad start"),
    (dict(start=(1, float("inf"))), "bad start"),
    (dict(start=(1, 2), starts=5), "either"),
    (dict(starts=0), "starts"),
    (dict(dtype="float16"), "dtype"),
    (dict(clip=0), "clip"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(TrajvizError, match=match):
        trajviz.run("quadratic:kappa=10,angle=0", "sgd", **{"steps": 2, **kwargs})


@pytest.mark.parametrize("spec,match", [
    ("adam:lrr=0.1", r"unknown key 'lrr'.*valid keys: lr, betas"),
    ("adam:lr=abc", "not a number"),
    ("adam:lr=nan", "must be finite"),
    ("adam:betas=2/0.9", "bad hyperparameters"),
    ("adamm", "did you mean 'adam'"),
    ("no.such.module:Opt", "cannot import"),
    ("torch.nn:Linear", "not a torch.optim.Optimizer"),
    ("adam:lr", "expected key=value"),
])
def test_bad_optimizer_specs(spec, match):
    with pytest.raises(TrajvizError, match=match):
        O.get(spec)


def test_registry_entries_carry_their_facts():
    for name in O.CLASSIC:
        e = O.get_entry(name)
        assert e.analogy and e.rule
    assert O.get_entry("sgd").analogy == "drunk walker"
    assert O.get_entry("momentum").analogy == "downhill slope"
    assert O.get_entry("adagrad").analogy == "bad shoes"
    assert O.get("momentum").hyperparameters()["momentum"] == 0.9
    assert O.get("nesterov").hyperparameters()["nesterov"] is True
    assert O.get("adam:lr=0.05,betas=0.9/0.99").kwargs == {"lr": 0.05, "betas": (0.9, 0.99)}


def test_learning_rate_precedence():
    r = trajviz.run("rosenbrock", ["adam", "adam:lr=0.3"], steps=1, lr=0.02)
    assert r["adam"].hyperparameters["lr"] == 0.02
    assert r["adam:lr=0.3"].hyperparameters["lr"] == 0.3
    curated = trajviz.run("rosenbrock", "adam", steps=1)["adam"].hyperparameters["lr"]
    assert curated == trajviz.surfaces.get("rosenbrock").lrs["adam"]


@pytest.mark.parametrize("spec,match", [
    ("adam:betas=0.9/0.99/0.5", "too many values"),
    ("adam:capturable=true", "capturable"),
    ("torch.optim:SparseAdam", "dense gradients"),
    ("torch.optim:LBFGS:history_size=0", "bad hyperparameters"),
])
def test_values_torch_only_checks_when_stepping_are_caught_before_the_run(spec, match):
    with pytest.raises(TrajvizError, match=match):
        O.get(spec)


def test_users_own_module_by_import_path(tmp_path, monkeypatch):
    (tmp_path / "myopt.py").write_text(
        "import torch\n"
        "class HalfSGD(torch.optim.SGD):\n"
        "    def __init__(self, params, lr=0.01):\n"
        "        super().__init__(params, lr=lr / 2)\n")
    monkeypatch.chdir(tmp_path)
    r = trajviz.run("quadratic:kappa=10,angle=0", ["myopt:HalfSGD:lr=0.2", "sgd:lr=0.1"], steps=5)
    a, b = r.traces.values()
    assert a.spec.batchable is False  # an unknown class runs per start
    np.testing.assert_allclose(a.path, b.path, rtol=1e-15)


def test_closure_optimizers_refuse_noise_they_would_ignore():
    with pytest.raises(TrajvizError, match="closure"):
        trajviz.run("rosenbrock", "torch.optim:LBFGS", steps=3, noise=1.0)


def test_memory_is_checked_before_the_run():
    with pytest.raises(TrajvizError, match="GiB.*record-every"):
        trajviz.run("rosenbrock", "sgd", starts=5_000_000, steps=200)


def test_limits_move_a_start_outside_the_new_domain():
    r = trajviz.run("rosenbrock", "sgd", steps=2, xlim=(0, 2), ylim=(0, 2))
    (x0, x1), (y0, y1) = r.surface.domain
    assert x0 <= r.starts[0, 0] <= x1 and y0 <= r.starts[0, 1] <= y1
    assert trajviz.run("rosenbrock", "sgd", steps=2, xlim=(-2, 0)).starts[0].tolist() == [-1.5, 2.5]


def test_stayed_inside_and_diagnostics_flag():
    r = trajviz.run("saddle", ["sgd", "adam"], steps=150, diagnostics=False)
    sgd = r["sgd"]
    assert sgd.grad is None and sgd.velocity is None and sgd.path.shape == (151, 1, 2)
    assert not sgd.stayed_inside[0]  # it escapes along y
    assert trajviz.run("quadratic:kappa=10,angle=0", "adam", steps=20)["adam"].stayed_inside.all()


# ---- the second core: half the methods in a forked child --------------------------------------------
def _same_traces(a, b):
    assert a.labels == b.labels
    for ta, tb in zip(a, b):
        for key in ("path", "loss", "grad", "velocity", "step_size", "lr"):
            x, y = getattr(ta, key), getattr(tb, key)
            assert (x is None) == (y is None), (ta.label, key)
            if x is not None:
                np.testing.assert_array_equal(x, y, err_msg=f"{ta.label} {key}")
        np.testing.assert_array_equal(ta.diverged_at, tb.diverged_at)
        np.testing.assert_array_equal(ta.stayed_inside, tb.stayed_inside)
        assert ta.hyperparameters == tb.hyperparameters


@pytest.mark.parametrize("kw", [
    dict(surface="rosenbrock", steps=200),
    dict(surface="quadratic", steps=80, noise=0.5, seed=3, start=((1.0, 1.0), (-2.0, 0.5))),
    dict(surface="regression", steps=60, batch_size=8, opt=("sgd", "adam", "momentum")),
    dict(surface="rosenbrock", steps=30, opt=("sgd:lr=0.05", "adam", "torch.optim:LBFGS:lr=0.5,max_iter=4",
                                             "rmsprop")),   # one diverges, one runs its own loop
], ids=["rosenbrock", "noise", "minibatch", "diverge-and-closure"])
def test_a_run_split_over_two_processes_equals_one_run(kw, monkeypatch):
    from trajviz import worker
    from trajviz.api import run_with
    from trajviz.options import RunOptions

    if not worker.available():
        pytest.skip("needs Linux and two cores")
    started = []
    real = worker.start
    monkeypatch.setattr(worker, "start", lambda fn: (started.append(fn), real(fn))[1])
    ro = RunOptions(**kw)
    split = run_with(ro, beside=True)
    assert len(started) == 1
    one = run_with(ro, beside=False)
    assert len(started) == 1
    _same_traces(split, one)
    if "sgd:lr=0.05" in kw.get("opt", ()):
        assert (split["sgd:lr=0.05"].diverged_at >= 0).all()


def test_a_split_run_whose_child_fails_runs_that_half_here(monkeypatch):
    from trajviz import worker
    from trajviz.api import run_with
    from trajviz.options import RunOptions

    if not worker.available():
        pytest.skip("needs Linux and two cores")
    real = worker.start

    def dies(fn):
        return real(lambda: os._exit(3))

    monkeypatch.setattr(worker, "start", dies)
    ro = RunOptions(surface="rosenbrock", steps=50)
    _same_traces(run_with(ro, beside=True), run_with(ro, beside=False))


def test_an_error_in_the_childs_half_is_raised_here(monkeypatch):
    import trajviz.engine as E
    from trajviz import worker
    from trajviz.api import run_with
    from trajviz.options import RunOptions

    if not worker.available():
        pytest.skip("needs Linux and two cores")
    parent, real = os.getpid(), E.simulate

    def simulate(setup, specs, **kw):
        if os.getpid() != parent:
            raise TrajvizError(f"{specs[0].label} failed at step 3: no")
        return real(setup, specs, **kw)

    monkeypatch.setattr(E, "simulate", simulate)
    with pytest.raises(TrajvizError, match="failed at step 3"):
        run_with(RunOptions(surface="rosenbrock", steps=20, opt=("sgd", "adam")), beside=True)
