import math

import numpy as np
import pytest
import torch

import trajviz.surfaces as S
from trajviz.errors import TrajvizError

ALL = S.names()
WITH_MIN = [n for n in ALL if S.get(n).optimum is not None]


def grad_at(surface, points):
    xy = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    value = surface(xy)
    value.sum().backward()
    return value.detach().numpy(), xy.grad.numpy()


def test_registry_has_the_issue_surfaces():
    need = {"rosenbrock", "beale", "quadratic", "himmelblau", "rastrigin", "ackley", "booth", "matyas",
            "goldstein_price", "six_hump_camel", "styblinski_tang", "saddle", "regression"}
    assert need <= set(ALL)


@pytest.mark.parametrize("name", WITH_MIN)
def test_value_at_minimizers_is_the_optimum_and_gradient_vanishes(name):
    s = S.get(name)
    assert s.minima, "a surface with an optimum lists its minimizers"
    values, grads = grad_at(s, list(s.minima))
    np.testing.assert_allclose(values, s.optimum, rtol=1e-12, atol=1e-12)
    assert np.abs(grads).max() < 1e-6


@pytest.mark.parametrize("name", WITH_MIN)
def test_optimum_beats_random_points(name):
    s = S.get(name)
    (x0, x1), (y0, y1) = s.domain
    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(x0, x1, 5000), rng.uniform(y0, y1, 5000)], 1)
    values = s(torch.tensor(pts)).numpy()
    assert values.min() >= s.optimum - 1e-9


@pytest.mark.parametrize("name", ALL)
def test_batched_evaluation_any_shape_and_facts(name):
    s = S.get(name)
    pts = torch.randn(3, 4, 2, dtype=torch.float64)
    out = s(pts)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out[1, 2].item(), s(pts[1, 2]).item(), rtol=1e-13)
    (x0, x1), (y0, y1) = s.domain
    assert x0 < x1 and y0 < y1
    assert x0 <= s.start[0] <= x1 and y0 <= s.start[1] <= y1
    for mx, my in s.minima:
        assert x0 <= mx <= x1 and y0 <= my <= y1
    assert s.formula
    assert s(torch.tensor(s.start, dtype=torch.float32)).dtype == torch.float32


# published values (Jamil & Yang 2013; SFU library), at points other than the minimizer
REFERENCE = [
    ("rosenbrock", (-1.2, 1.0), 24.2),
    ("rosenbrock", (0.0, 0.0), 1.0),
    ("beale", (0.0, 0.0), 14.203125),
    ("himmelblau", (0.0, 0.0), 170.0),
    ("booth", (0.0, 0.0), 74.0),
    ("matyas", (1.0, 1.0), 0.04),
    ("goldstein_price", (0.0, 0.0), 600.0),
    ("rastrigin", (1.0, 1.0), 2.0),
    ("ackley", (1.0, 1.0), 20 - 20 * math.exp(-0.2)),
    ("six_hump_camel", (1.0, 1.0), 4 - 2.1 + 1 / 3 + 1),
    ("styblinski_tang", (0.0, 0.0), 0.0),
    ("styblinski_tang", (1.0, 1.0), -10.0),
    ("saddle", (1.0, 2.0), -3.0),
    ("quadratic:kappa=10,angle=0", (1.0, 1.0), 0.5 * (1 + 10)),
]


@pytest.mark.parametrize("name,point,expected", REFERENCE)
def test_reference_values(name, point, expected):
    value = S.get(name)(torch.tensor(point, dtype=torch.float64)).item()
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_parameters_by_name_move_the_minimum():
    s = S.get("rosenbrock:a=2,b=10")
    assert s.params == {"a": 2.0, "b": 10.0}
    assert s.minima == ((2.0, 4.0),)
    assert s(torch.tensor([2.0, 4.0], dtype=torch.float64)).item() == 0.0
    assert s(torch.tensor([0.0, 1.0], dtype=torch.float64)).item() == pytest.approx(4 + 10)


def test_quadratic_rotation():
    s = S.get("quadratic:kappa=25,angle=30")
    a = math.radians(30)
    # the stiff axis v is (x, y) rotated by 30 degrees: the point at v = 1, u = 0
    p = torch.tensor([-math.sin(a), math.cos(a)], dtype=torch.float64)
    assert s(p).item() == pytest.approx(0.5 * 25)
    q = torch.tensor([math.cos(a), math.sin(a)], dtype=torch.float64)
    assert s(q).item() == pytest.approx(0.5)


def test_saddle_says_it_has_no_minimum():
    s = S.get("saddle")
    assert s.optimum is None and s.minima == ()
    assert "no minimum" in s.note


def test_regression_minimum_is_least_squares_and_minibatch_is_mse():
    s = S.get("regression")
    assert s.stochastic and len(s.data) == 1000
    w, b = s.minima[0]
    assert w == pytest.approx(1.0, abs=0.05) and b == pytest.approx(0.0, abs=0.05)
    xy = torch.tensor([[0.3, -0.2], [1.5, 0.4]], dtype=torch.float64)
    everything = torch.arange(1000)
    np.testing.assert_allclose(s.minibatch(xy, everything).numpy(), s(xy).numpy(), rtol=1e-12)
    # a minibatch is the mean over its own rows
    idx = torch.tensor([3, 7, 7, 500])
    t, y = s.data.t[idx.numpy()], s.data.y[idx.numpy()]
    expected = np.mean((0.3 * t**2 - 0.2 - y) ** 2)
    assert s.minibatch(xy, idx)[0].item() == pytest.approx(expected, rel=1e-12)


def test_unknown_surface_suggests_closest():
    with pytest.raises(TrajvizError, match="did you mean 'rosenbrock'"):
        S.get("rosenbrok")


def test_unknown_parameter_lists_valid():
    with pytest.raises(TrajvizError, match=r"unknown parameter 'c'.*valid: a, b"):
        S.get("rosenbrock:c=1")
    with pytest.raises(TrajvizError, match="not a number"):
        S.get("rosenbrock:a=abc")


def test_register_user_surface():
    S.register("test_bowl", lambda x, y, k=3.0: x**2 + k * y**2, formula="x^2 + k y^2",
               domain=((-1, 1), (-1, 1)), minima=[(0, 0)], optimum=0.0, params={"k": 3.0},
               replace_existing=True)
    assert "test_bowl" in S.names()
    s = S.get("test_bowl:k=5")
    assert s(torch.tensor([0.0, 1.0])).item() == 5.0
    with pytest.raises(TrajvizError, match="already registered"):
        S.register("test_bowl", lambda x, y: x)


def test_formula_surface_with_limits():
    s = S.get("x**2 + 10*y**2", xlim=(-3, 3), ylim=(-2, 4))
    assert s.domain == ((-3.0, 3.0), (-2.0, 4.0))
    assert s(torch.tensor([1.0, 1.0])).item() == 11.0
    assert s.optimum is None and s.minima == ()
    with pytest.raises(TrajvizError, match="A < B"):
        S.get("x", xlim=(3, -3))
