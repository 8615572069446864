"""trajviz.nn.train: the recorded training is plain torch.optim, seeded, and the result API is stable."""

import copy
import json
import warnings

import numpy as np
import pytest
import torch

import trajviz.nn as tn
from trajviz import sampling
from trajviz.errors import TrajvizError
from trajviz.nn import scenarios


@pytest.fixture(autouse=True)
def _quiet_off_plane():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tn.OffPlaneWarning)
        yield


def plain_loop(model, loss_fn, X, Y, make_opt, *, steps, batch_size, seed):
    """What a tutorial writes by hand: one optimizer, the project's seeded minibatches (numpy reference)."""
    m = copy.deepcopy(model)
    opt = make_opt(m.parameters())
    flat = [torch.nn.utils.parameters_to_vector(m.parameters()).detach().clone()]
    losses = []
    for t in range(steps):
        rows = torch.as_tensor(sampling.batch_rows(seed, t, len(X), batch_size))
        opt.zero_grad()
        loss = loss_fn(m(X[rows]), Y[rows])
        loss.backward()
        opt.step()
        losses.append(loss.item())
        flat.append(torch.nn.utils.parameters_to_vector(m.parameters()).detach().clone())
    return torch.stack(flat).numpy(), np.array(losses)


def test_the_mlp_scenario_is_the_tutorials_experiment():
    sc = scenarios.get("mlp", seed=0)
    assert sc.X.shape == (1000, 1) and float(sc.X.min()) == -1 and float(sc.X.max()) == 1
    assert [tuple(p.shape) for p in sc.model.parameters()] == [(20, 1), (20,), (1, 20), (1,)]
    assert sc.batch_size == 32 and sc.epochs == 12
    resid = (sc.Y - sc.X**2).numpy()
    assert 0.08 < resid.std() < 0.12  # y = x^2 + 0.1 * noise
    r = tn.train("mlp", steps=2, device="cpu")
    assert r.labels == ["sgd", "momentum", "rmsprop", "adam"]
    hp = {m.label: m.hyperparameters for m in r}
    assert hp["sgd"]["lr"] == 0.01 and hp["momentum"] == {"momentum": 0.8, "lr": 0.01}
    assert hp["rmsprop"]["alpha"] == 0.9 and hp["adam"]["betas"] == (0.9, 0.99)
    assert all(h["lr"] == 0.01 for h in hp.values())


def test_twelve_epochs_of_32_is_384_steps():
    r = tn.train("mlp", opt="sgd", record_every=1000, device="cpu")
    assert r.settings["steps"] == 12 * 32 and r["sgd"].steps.tolist() == [0, 384]


@pytest.mark.parametrize("name", ["mlp", "classify"])
def test_every_method_equals_a_plain_torch_optim_loop(name):
    seed, steps, B = 4, 45, 32
    sc = scenarios.get(name, seed=seed)
    r = tn.train(name, seed=seed, steps=steps, device="cpu",
                 opt=["sgd:lr=0.01", "momentum:lr=0.01,momentum=0.8", "rmsprop:lr=0.01,alpha=0.9",
                      "adam:lr=0.01,betas=0.9/0.99", "torch.optim:Adagrad:lr=0.05"])
    makers = [lambda p: torch.optim.SGD(p, lr=0.01), lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.8),
              lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9),
              lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.99)), lambda p: torch.optim.Adagrad(p, lr=0.05)]
    for m, make in zip(r, makers):
        params, losses = plain_loop(sc.model, sc.loss_fn, sc.X, sc.Y, make, steps=steps, batch_size=B, seed=seed)
        np.testing.assert_array_equal(m.params, params, err_msg=m.label)
        np.testing.assert_array_equal(m.batch_loss[:-1], losses, err_msg=m.label)
        assert np.isnan(m.batch_loss[-1])
        with torch.no_grad():
            ref = copy.deepcopy(sc.model).eval()
            torch.nn.utils.vector_to_parameters(torch.as_tensor(params[-1]), ref.parameters())
            assert m.loss[-1] == pytest.approx(float(sc.loss_fn(ref(sc.X), sc.Y)), rel=1e-12)
        assert m.params.shape == (steps + 1, sc.n_params) and m.diverged_at == -1


def test_a_users_module_with_a_dataloader():
    torch.manual_seed(0)
    X = torch.randn(100, 2)
    Y = (X[:, :1] - 2 * X[:, 1:]).sin()
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    before = copy.deepcopy(model.state_dict())
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=16, shuffle=True)
    r = tn.train(model, torch.nn.functional.mse_loss, loader, opt=["sgd", "adam"], epochs=2, seed=1)
    assert r.settings["batch_size"] == 16 and r.settings["steps"] == 2 * 7
    assert r.settings["dtype"] == "float32"  # the module's own dtype
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # not modified
    start = torch.nn.utils.parameters_to_vector(model.parameters()).detach().double().numpy()
    np.testing.assert_array_equal(r.plane.center, start)
    # the loader's rows in its dataset order, its shuffling replaced by the seeded order
    params, _ = plain_loop(model, torch.nn.functional.mse_loss, X, Y, lambda p: torch.optim.Adam(p, lr=0.01),
                           steps=14, batch_size=16, seed=1)
    np.testing.assert_array_equal(r["adam"].params, params)


def test_the_result_api_names_tests_rely_on():
    r = tn.train("mlp", steps=30, device="cpu")
    P = 61
    assert r.plane.center.shape == (P,) and r.plane.directions.shape == (2, P)
    assert r.plane.explained.shape == (2,) and isinstance(r.plane.loss_at(0.1, -0.1), float)
    assert r.plane.loss_at(np.zeros((3, 4)), 0.0).shape == (3, 4)
    for m in r:
        T = len(m.steps)
        assert m.params.shape == (T, P) and m.coords.shape == (T, 2)
        for key in ("loss", "loss_projected", "batch_loss", "off_plane", "off_plane_ratio", "distance"):
            assert getattr(m, key).shape == (T,), key
        np.testing.assert_allclose(m.coords, r.plane.project(m.params).coords)
        np.testing.assert_allclose(m.loss_projected, r.plane.loss_at(m.coords[:, 0], m.coords[:, 1]), rtol=1e-12)
    assert r["adam"] is r.methods["adam"]
    with pytest.raises(KeyError, match="sgd, momentum"):
        r["nope"]


def test_same_seed_same_everything_different_seed_different_start_and_batches():
    a = tn.train("mlp", steps=40, seed=7, device="cpu")
    b = tn.train("mlp", steps=40, seed=7, device="cpu")
    for m, n in zip(a, b):
        for key in ("params", "loss", "batch_loss", "coords", "loss_projected", "off_plane_ratio"):
            np.testing.assert_array_equal(getattr(m, key), getattr(n, key))
    np.testing.assert_array_equal(a.plane.directions, b.plane.directions)
    np.testing.assert_array_equal(a.plane.explained, b.plane.explained)
    c = tn.train("mlp", steps=40, seed=8, device="cpu")
    assert not np.allclose(a.start, c.start)  # different initial weights
    assert not np.array_equal(scenarios.get("mlp", 7).Y, scenarios.get("mlp", 8).Y)  # different noise
    # different batch order: the same network and data trained with two seeds
    model, X, Y = scenarios.get("mlp", 7).model, scenarios.get("mlp", 7).X, scenarios.get("mlp", 7).Y
    r7 = tn.train(model, torch.nn.functional.mse_loss, (X, Y), opt="sgd", steps=3, seed=7)
    r8 = tn.train(model, torch.nn.functional.mse_loss, (X, Y), opt="sgd", steps=3, seed=8)
    np.testing.assert_array_equal(r7["sgd"].params[0], r8["sgd"].params[0])
    assert not np.array_equal(r7["sgd"].params[1], r8["sgd"].params[1])
    assert not np.array_equal(sampling.batch_rows(7, 0, 1000, 32), sampling.batch_rows(8, 0, 1000, 32))


def _lesson(seed):
    r = tn.train("mlp", seed=seed, device="cpu", record_every=10_000)  # the default 12 epochs
    final = {m.label: m.final_loss for m in r}
    return final


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_tutorials_lesson_holds_on_the_runs_own_data(seed):
    final = _lesson(seed)
    assert final["momentum"] < final["sgd"] and final["rmsprop"] < final["sgd"] and final["adam"] < final["sgd"], final


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3, 20))
def test_the_tutorials_lesson_holds_for_more_seeds(seed):
    test_the_tutorials_lesson_holds_on_the_runs_own_data(seed)


def test_a_diverging_method_is_cut_and_reported():
    r = tn.train("mlp", opt=["sgd:lr=50", "adam"], steps=64, device="cpu")
    m = r["sgd:lr=50"]
    assert 0 < m.diverged_at <= 64
    i = int(np.searchsorted(m.steps, m.diverged_at))
    assert np.isnan(m.params[i:]).all() and np.isfinite(m.params[:i]).all()
    assert np.isnan(m.coords[i:]).all() and np.isnan(m.loss[i:]).all()
    assert np.isfinite(r["adam"].coords).all() and r["adam"].diverged_at == -1
    assert np.isfinite(r.plane.directions).all()


def test_record_every_keeps_the_last_step():
    r = tn.train("mlp", opt="adam", steps=25, record_every=10, device="cpu")
    full = tn.train("mlp", opt="adam", steps=25, device="cpu")
    assert r["adam"].steps.tolist() == [0, 10, 20, 25]
    np.testing.assert_array_equal(r["adam"].params, full["adam"].params[[0, 10, 20, 25]])


def test_off_plane_warning_when_the_plane_holds_little():
    with pytest.warns(tn.OffPlaneWarning, match="holds only"):
        r = tn.train("mlp", steps=60, device="cpu", plane="random", plane_seed=3)
    assert r.warnings and "holds only" in r.warnings[0]
    assert r.plane.kind == "random" and r.captured < 0.5


def test_to_result_is_a_trajviz_result_with_a_landscape():
    from trajviz.result import Result

    r = tn.train("mlp", steps=30, device="cpu")
    res = r.to_result()
    assert isinstance(res, Result) and res.labels == r.labels
    land = res.surface
    for attr in ("name", "spec", "formula", "domain", "minima", "optimum", "log_levels"):
        assert hasattr(land, attr), attr
    assert land.spec == "mlp" and land.optimum is None and land.log_levels is True
    assert "\n" not in land.formula and "PCA" in land.formula
    assert land.axis_labels[0].startswith("PC1 (") and "% of the movement" in land.axis_labels[1]
    (x0, x1), (y0, y1) = land.domain
    x, y = np.linspace(x0, x1, 7), np.linspace(y0, y1, 5)
    z = land.grid(x, y)
    assert z.shape == (5, 7) and z.dtype == np.float64
    assert land.values(np.array([[x[2], y[3]]]))[0] == pytest.approx(z[3, 2], rel=1e-12)
    assert land.values(np.zeros((2, 3, 2))).shape == (2, 3)
    (mx, my), = land.minima
    assert z.min() == pytest.approx(land.values(np.array([mx, my])), rel=1e-12)
    for t in res:
        m = r[t.label]
        assert t.path.shape == (31, 1, 2) and t.loss.shape == (31, 1) and t.grad.shape == (31, 1, 2)
        np.testing.assert_array_equal(t.path[:, 0], m.coords)
        np.testing.assert_array_equal(t.loss[:, 0], m.loss)
        np.testing.assert_array_equal(t.loss_projected[:, 0], m.loss_projected)
        np.testing.assert_array_equal(t.extras["off_plane"][:, 0], m.off_plane_ratio)
        assert (x0 < t.path[..., 0]).all() and (t.path[..., 0] < x1).all()
        assert (y0 < t.path[..., 1]).all() and (t.path[..., 1] < y1).all()
    assert res["momentum"].velocity is not None and res["sgd"].velocity is None
    # the projected gradient is the in-plane part of SGD's step: x_{t+1} - x_t = -lr * g (exact on the plane)
    sgd = res["sgd"]
    np.testing.assert_allclose(np.diff(sgd.path[:, 0], axis=0), -0.01 * sgd.grad[:-1, 0], atol=1e-12)


@pytest.mark.parametrize("ext", ["npz", "json", "csv"])
def test_save_by_extension(tmp_path, ext):
    r = tn.train("classify", steps=12, device="cpu")
    path = r.save(tmp_path / f"run.{ext}")
    if ext == "npz":
        d = np.load(path)
        assert d["params"].shape == (4, 13, r.plane.n_params) and d["coords"].shape == (4, 13, 2)
        np.testing.assert_array_equal(d["directions"], r.plane.directions)
        np.testing.assert_array_equal(d["loss_projected"][3], r["adam"].loss_projected)
        assert d["grid_loss"].shape == (51, 51) and list(d["methods"]) == r.labels
    elif ext == "json":
        d = json.loads(path.read_text())
        assert d["plane"]["kind"] == "pca" and len(d["plane"]["explained"]) == 2
        adam = d["methods"][3]
        assert adam["name"] == "adam" and adam["loss"] == r["adam"].loss.tolist()
        assert adam["off_plane_ratio"][0] == 0.0
    else:
        lines = path.read_text().splitlines()
        assert lines[0] == "optimizer,step,a,b,loss,loss_projected,batch_loss,off_plane_ratio"
        assert len(lines) == 1 + 4 * 13 and lines[-1].startswith("adam,12,")


@pytest.mark.parametrize("call, message", [
    (lambda: tn.train("nope"), "unknown scenario 'nope'"),
    (lambda: tn.train("mlp", opt="adam:lr=-1"), "learning rate"),
    (lambda: tn.train("mlp", opt="adamm"), "unknown optimizer 'adamm'; did you mean 'adam'"),
    (lambda: tn.train("mlp", opt="adam:foo=1"), "unknown key 'foo'"),
    (lambda: tn.train("mlp", opt="nosuch.module:Opt"), "cannot import optimizer"),
    (lambda: tn.train("mlp", steps=5, epochs=2), "steps or epochs"),
    (lambda: tn.train("mlp", steps=0), "number of steps"),
    (lambda: tn.train("mlp", batch_size=0), "batch size"),
    (lambda: tn.train("mlp", steps=3, plane="tsne"), "unknown plane 'tsne'"),
    (lambda: tn.train("mlp", steps=3, plane="random", center="lbfgs"), "unknown plane center"),
    (lambda: tn.train("mlp", device="cuda:7"), "not available"),
    (lambda: tn.train("mlp", loss_fn=torch.nn.functional.mse_loss), "brings its own loss"),
    (lambda: tn.train(torch.nn.Linear(1, 1), torch.nn.functional.mse_loss, None), "data is missing"),
    (lambda: tn.train(torch.nn.Linear(1, 1), None, (torch.zeros(4, 1), torch.zeros(4, 1))), "loss_fn"),
    (lambda: tn.train(torch.nn.Linear(1, 1), torch.nn.functional.mse_loss, (torch.zeros(4, 3), torch.zeros(4, 1))),
     "the data do not fit the model: inputs (4, 3), targets (4, 1): RuntimeError"),
    (lambda: tn.train(torch.nn.Linear(1, 1), torch.nn.functional.mse_loss, (torch.zeros(4, 1), torch.zeros(5, 1))),
     "4 input rows but 5 targets"),
    (lambda: tn.train(torch.nn.Linear(2, 3), torch.nn.functional.mse_loss, (torch.zeros(4, 2), torch.zeros(4, 2))),
     "do not fit"),
    (lambda: tn.train(torch.nn.Linear(2, 1), torch.nn.functional.mse_loss, (torch.zeros(4, 2), torch.zeros(4))),
     "Using a target size (torch.Size([2])) that is different to the input size"),
    (lambda: tn.train(torch.nn.Identity(), torch.nn.functional.mse_loss, (torch.zeros(4, 1), torch.zeros(4, 1))),
     "no parameters"),
    (lambda: tn.train("not a model".split(), torch.nn.functional.mse_loss, (torch.zeros(4, 1), torch.zeros(4, 1))),
     "must be a torch.nn.Module"),
])
def test_bad_input_is_one_clear_line(call, message):
    with pytest.raises(TrajvizError) as info:
        call()
    text = str(info.value)
    assert message in text and "\n" not in text


def test_non_floating_parameters_are_refused():
    class Counter(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(1, 1)
            self.count = torch.nn.Parameter(torch.zeros(1, dtype=torch.int64), requires_grad=False)

        def forward(self, x):
            return self.lin(x)

    with pytest.raises(TrajvizError, match="parameter 'count' of the model is int64: trajviz trains floating-point"):
        tn.train(Counter(), torch.nn.functional.mse_loss, (torch.zeros(4, 1), torch.zeros(4, 1)))


def test_digits_scenario_when_scikit_learn_is_installed():
    pytest.importorskip("sklearn")
    r = tn.train("digits", steps=6, device="cpu", opt=["sgd:lr=0.1", "adam"])
    assert r.plane.n_params == 64 * 32 + 32 + 32 * 10 + 10
    assert r["adam"].loss[-1] < r["adam"].loss[0]


@pytest.mark.cuda
def test_cuda_training_and_grid_match_the_cpu():
    cpu = tn.train("mlp", steps=20, device="cpu")
    gpu = tn.train("mlp", steps=20, device="cuda")
    for m, n in zip(cpu, gpu):
        np.testing.assert_allclose(n.params, m.params, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(n.loss, m.loss, rtol=1e-9)
    a = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(gpu.plane.loss_at(a, 0.2), cpu.plane.loss_at(a, 0.2), rtol=1e-9)


@pytest.mark.parametrize("name", ["trajviz.nn", "trajviz.nn.scenarios", "trajviz.nn.grid", "trajviz.nn.training",
                                  "trajviz.nn.plane", "trajviz.nn.landscape"])
def test_docstring_examples(name):
    import doctest
    import importlib

    failed, _ = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failed == 0


def test_tune_picks_the_rate_whose_training_ends_lowest():
    """tune=True: every method trained at each candidate rate from the same start on the same
    minibatches; the chosen rate is the candidate with the lowest full-data loss at the end, and the
    final run is that training (its end loss equals the winning score)."""
    from trajviz.nn.training import TUNE_RATES

    r = tn.train("classify", opt=["sgd", "adam:lr=0.5"], steps=12, device="cpu", tune=True)
    assert set(r.tuned) == {"sgd", "adam"}            # a tuned spec is named without the rate it replaced
    for label, t in r.tuned.items():
        assert t.lr in TUNE_RATES
        assert np.isfinite(t.scores).any()
        assert t.score == pytest.approx(np.min(t.scores))
        assert t.lr == TUNE_RATES[int(np.argmin(t.scores))]
        assert r[label].hyperparameters["lr"] == t.lr
        assert r[label].loss[-1] == pytest.approx(t.score, rel=1e-9)
    assert r.tuned["adam"].before == 0.5
    assert r.settings["tuned"] == {k: t.lr for k, t in r.tuned.items()}
    picture = r.to_result()
    assert picture.settings["tuned"] == r.settings["tuned"] and picture["adam"].tuned is r.tuned["adam"]
    # the tuned run itself equals an untuned run at the chosen rate
    again = tn.train("classify", opt=[f"adam:lr={r.tuned['adam'].lr}"], steps=12, device="cpu")
    np.testing.assert_array_equal(again[f"adam:lr={r.tuned['adam'].lr}"].params, r["adam"].params)
