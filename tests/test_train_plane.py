"""trajviz.nn planes and the batched loss grid: exactness against plain evaluation and closed forms."""

import copy
import warnings

import numpy as np
import pytest
import torch

import trajviz.nn as tn
from trajviz.nn import scenarios
from trajviz.nn.grid import Evaluator, FallbackWarning, flatten
from trajviz.nn.plane import Plane, filter_normalized_direction, pca_plane, random_plane


def pointwise(model, loss_fn, X, Y, thetas):
    """The reference: load each vector into a copy of the model, run it on the whole data set."""
    m = copy.deepcopy(model).eval()
    out = []
    with torch.no_grad():
        for theta in np.asarray(thetas).reshape(-1, np.asarray(thetas).shape[-1]):
            torch.nn.utils.vector_to_parameters(torch.as_tensor(theta, dtype=torch.float64), m.parameters())
            out.append(float(loss_fn(m(X), Y)))
    return np.array(out)


@pytest.fixture(scope="module")
def mlp_run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tn.OffPlaneWarning)
        return tn.train("mlp", steps=60, device="cpu")


@pytest.mark.parametrize("name", ["mlp", "classify"])
@pytest.mark.parametrize("budget", [None, 40_000])  # 40 kB: one point per call and the rows split too
def test_batched_grid_equals_point_by_point(name, budget):
    sc = scenarios.get(name, seed=3)
    ev = Evaluator(sc.model, sc.loss_fn, sc.X, sc.Y, budget=budget)
    if budget is not None:
        assert ev.chunk == 1 and ev._rows < len(sc.X)
    center = flatten(sc.model).numpy()
    rng = np.random.default_rng(0)
    dirs = rng.normal(size=(2, center.size)) * 0.5
    a, b = np.meshgrid(np.linspace(-1, 1, 7), np.linspace(-2, 1, 5))
    grid = ev.plane_losses(center, dirs, a, b)
    assert grid.shape == (5, 7) and grid.dtype == np.float64
    ref = pointwise(sc.model, sc.loss_fn, sc.X, sc.Y, center + a[..., None] * dirs[0] + b[..., None] * dirs[1])
    np.testing.assert_allclose(grid.ravel(), ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(grid.ravel(), ref, rtol=1e-12)  # in fact to rounding


def test_plane_loss_at_scalars_arrays_and_grid(mlp_run):
    plane = mlp_run.plane
    value = plane.loss_at(0.0, 0.0)
    assert isinstance(value, float)
    assert value == pytest.approx(mlp_run["sgd"].loss[0], rel=1e-12)  # the start is (0, 0)
    a = np.array([[0.1, 0.2, 0.3]])
    b = np.array([[0.0], [0.5]])
    out = plane.loss_at(a, b)
    assert out.shape == (2, 3)
    ref = pointwise(scenarios.get("mlp").model, torch.nn.functional.mse_loss, scenarios.get("mlp").X,
                    scenarios.get("mlp").Y, plane.point(*np.broadcast_arrays(a, b)))
    np.testing.assert_allclose(out.ravel(), ref, rtol=1e-12)
    x, y = np.linspace(-0.2, 0.4, 4), np.linspace(0, 0.3, 3)
    g = mlp_run.grid(x, y)
    assert g.shape == (3, 4)
    assert g[2, 1] == pytest.approx(plane.loss_at(x[1], y[2]), rel=1e-12)


def test_linear_model_gives_an_exact_quadratic_on_any_plane():
    torch.manual_seed(0)
    X = torch.randn(200, 3, dtype=torch.float64)
    Y = X @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64) + 0.3 + 0.1 * torch.randn(200, 1,
                                                                                                  dtype=torch.float64)
    model = torch.nn.Linear(3, 1, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tn.OffPlaneWarning)
        r = tn.train(model, torch.nn.functional.mse_loss, (X, Y), opt=["sgd:lr=0.05", "adam:lr=0.05"], epochs=3)
        planes = [r.plane, r.with_plane("random", center="adam", bias="copy").plane]
    rng = np.random.default_rng(1)
    planes.append(Plane(center=rng.normal(size=4), directions=rng.normal(size=(2, 4)), kind="given",
                        explained=np.zeros(2), origin=np.zeros(4), evaluator=r.evaluator))
    A = np.concatenate([X.numpy(), np.ones((200, 1))], axis=1)  # theta = (w1, w2, w3, bias)
    y = Y.numpy()[:, 0]
    a, b = np.meshgrid(np.linspace(-3, 3, 9), np.linspace(-2, 2, 7))
    for plane in planes:
        r0, u, v = A @ plane.center - y, A @ plane.directions[0], A @ plane.directions[1]
        closed = (np.mean(r0**2) + 2 * a * np.mean(r0 * u) + 2 * b * np.mean(r0 * v)
                  + a**2 * np.mean(u * u) + 2 * a * b * np.mean(u * v) + b**2 * np.mean(v * v))
        np.testing.assert_allclose(plane.loss_at(a, b), closed, rtol=1e-10, atol=1e-12)


def test_a_path_in_a_known_plane_projects_exactly():
    rng = np.random.default_rng(2)
    P = 50
    origin = rng.normal(size=P)
    basis, _ = np.linalg.qr(rng.normal(size=(P, 3)))
    u1, u2, u3 = basis.T
    t = np.linspace(0, 1, 30)[:, None]
    paths = [origin + 3 * t * u1 + np.sin(4 * t) * u2,
             origin + t * u1 - 2 * t**2 * u2,
             origin + 0.5 * np.cos(3 * t) * u1 - 0.5 * u1 + t * u2]
    plane = pca_plane(np.concatenate(paths), origin)
    assert plane.explained.sum() == pytest.approx(1.0, abs=1e-12)
    assert plane.explained[0] >= plane.explained[1] > 0
    np.testing.assert_allclose(plane.directions @ plane.directions.T, np.eye(2), atol=1e-12)
    # the plane spans u1 and u2
    np.testing.assert_allclose(np.linalg.norm(plane.directions @ np.stack([u1, u2]).T, axis=0), 1.0, atol=1e-12)
    for path in paths:
        proj = plane.project(path)
        np.testing.assert_allclose(proj.off, 0.0, atol=1e-12)
        np.testing.assert_allclose(proj.ratio, 0.0, atol=1e-10)
        np.testing.assert_allclose(plane.point(proj.coords[:, 0], proj.coords[:, 1]), path, atol=1e-12)
    assert plane.captured(np.concatenate(paths)) == pytest.approx(1.0, abs=1e-12)
    # a point off the plane: 3 along u1 and 4 off it -> coords (3, 0) in (u1, u2), off 4, ratio 4/5
    known = Plane(center=origin, directions=np.stack([u1, u2]), kind="given", explained=np.zeros(2),
                  origin=origin)
    proj = known.project(origin + 3 * u1 + 4 * u3)
    np.testing.assert_allclose(proj.coords, [3.0, 0.0], atol=1e-12)
    assert proj.off == pytest.approx(4.0) and proj.ratio == pytest.approx(0.8)


def test_pca_plane_of_a_training_run_is_orthonormal_and_starts_at_the_origin(mlp_run):
    plane = mlp_run.plane
    assert plane.center.shape == (61,) and plane.directions.shape == (2, 61)
    np.testing.assert_allclose(plane.directions @ plane.directions.T, np.eye(2), atol=1e-12)
    assert 0 < plane.explained[1] <= plane.explained[0] and plane.explained.sum() <= 1 + 1e-12
    assert mlp_run.captured == pytest.approx(plane.explained.sum(), rel=1e-9)
    for m in mlp_run:
        np.testing.assert_allclose(m.coords[0], 0.0, atol=1e-12)
        assert m.off_plane_ratio[0] == 0.0
        # coordinates, off-plane distance and distance from the start agree (Pythagoras)
        np.testing.assert_allclose(np.hypot(np.linalg.norm(m.coords, axis=1), m.off_plane), m.distance, rtol=1e-9,
                                   atol=1e-12)


def _filter_norms(t):
    return t.reshape(t.shape[0], -1).norm(dim=1).numpy()


@pytest.mark.parametrize("bias", ["zero", "copy"])
def test_filter_normalised_directions_have_the_filter_norms_of_the_weights(bias):
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 6 * 6, 5), torch.nn.BatchNorm1d(5)).double()
    weights = [p.detach() for p in model.parameters()]
    d = filter_normalized_direction(weights, torch.Generator().manual_seed(0), bias=bias)
    off = 0
    for w in weights:
        part = torch.as_tensor(d[off:off + w.numel()]).reshape(w.shape)
        off += w.numel()
        if w.dim() >= 2:
            np.testing.assert_allclose(_filter_norms(part), _filter_norms(w), rtol=1e-8)
            assert not torch.allclose(part, w)  # a random direction, not the weights
        elif bias == "zero":
            assert not part.any()
        else:
            assert torch.equal(part, w)
    assert off == d.size


def test_random_plane_is_seeded_and_filter_normalised_around_its_center(mlp_run):
    sc = scenarios.get("mlp")
    shapes = [tuple(p.shape) for p in sc.model.parameters()]
    end = mlp_run["adam"].params[-1]
    every = np.concatenate([m.params for m in mlp_run])
    p1 = random_plane(end, shapes, every, mlp_run.start, seed=5)
    p2 = random_plane(end, shapes, every, mlp_run.start, seed=5)
    p3 = random_plane(end, shapes, every, mlp_run.start, seed=6)
    np.testing.assert_array_equal(p1.directions, p2.directions)
    assert not np.allclose(p1.directions, p3.directions)
    w1 = torch.as_tensor(end[:20]).reshape(20, 1)  # first Linear weight, 20 filters of one input
    for d in p1.directions:
        np.testing.assert_allclose(np.abs(d[:20]), np.abs(w1[:, 0].numpy()), rtol=1e-8)  # 1-element filters
        assert not d[20:40].any()  # its bias: zero
    with pytest.warns(tn.OffPlaneWarning):  # a random plane through 61 parameters holds little of the movement
        r = mlp_run.with_plane("random", center="adam")
    np.testing.assert_allclose(r.plane.center, end)
    assert r.plane.loss_at(0.0, 0.0) == pytest.approx(mlp_run["adam"].loss[-1], rel=1e-12)
    np.testing.assert_allclose(r["adam"].coords[-1], 0.0, atol=1e-12)


def test_models_with_running_statistics_are_evaluated_in_eval_mode():
    torch.manual_seed(0)
    X, Y = torch.randn(64, 3, dtype=torch.float64), torch.randn(64, 1, dtype=torch.float64)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                                torch.nn.Dropout(0.5), torch.nn.Linear(8, 1)).double()
    model.train()
    model(X)  # move the running statistics away from their initial values
    ev = Evaluator(model, torch.nn.functional.mse_loss, X, Y)
    center = flatten(model).numpy()
    dirs = np.random.default_rng(0).normal(size=(2, center.size)) * 0.1
    a = np.linspace(-1, 1, 5)
    got = ev.plane_losses(center, dirs, a, a[::-1])
    ref = pointwise(model, torch.nn.functional.mse_loss, X, Y, center + a[:, None] * dirs[0] + a[::-1, None] * dirs[1])
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert model.training  # the user's model is left as it was


def test_a_loss_that_cannot_be_vmapped_falls_back_to_a_loop_with_a_warning():
    sc = scenarios.get("mlp")

    def loss_fn(out, y):
        value = torch.nn.functional.mse_loss(out, y)
        if value.item() > 1e9:  # data-dependent control flow: vmap refuses .item()
            return value * 0
        return value

    ev = Evaluator(sc.model, loss_fn, sc.X, sc.Y)
    center = flatten(sc.model).numpy()
    thetas = center + np.random.default_rng(0).normal(size=(3, center.size)) * 0.1
    with pytest.warns(FallbackWarning, match="vmap"):
        got = ev.losses(thetas)
    np.testing.assert_allclose(got, pointwise(sc.model, torch.nn.functional.mse_loss, sc.X, sc.Y, thetas), rtol=1e-12)


def test_the_randomized_svd_for_large_runs_finds_the_same_plane(mlp_run, monkeypatch):
    import trajviz.nn.plane as plane_module

    every = np.concatenate([m.params for m in mlp_run])
    exact = pca_plane(every, mlp_run.start)
    monkeypatch.setattr(plane_module, "EXACT_SVD", 10)
    approx = pca_plane(every, mlp_run.start)
    np.testing.assert_allclose(approx.explained, exact.explained, rtol=1e-6)
    np.testing.assert_allclose(np.abs(approx.directions @ exact.directions.T), np.eye(2), atol=1e-6)


def test_velocities_are_recorded_only_for_methods_with_momentum(mlp_run):
    assert mlp_run["sgd"].velocities is None and mlp_run["rmsprop"].velocities is None
    v = mlp_run["momentum"].velocities
    assert v.shape == mlp_run["momentum"].params.shape and not v[0].any()
    # torch.optim.SGD with momentum: x_{t+1} - x_t = -lr * buf_{t+1} = the recorded velocity
    np.testing.assert_allclose(np.diff(mlp_run["momentum"].params, axis=0), v[1:], rtol=1e-9, atol=1e-15)
