"""The default canvases show what theory and the classic tutorial say, measured on the runs' own data.

Basis (README, surfaces/catalog.py): every method at the rate --tune picks on the default canvas,
momentum 0.9, torch.optim's defaults otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import trajviz
import trajviz.surfaces as S


def steps_to_stay(loss: np.ndarray, target: float) -> int | None:
    """The first step from which the loss stays <= target (None if it never does)."""
    above = np.flatnonzero(~(loss <= target))
    if len(above) == 0:
        return 0
    k = int(above[-1]) + 1
    return k if k < len(loss) else None


@pytest.fixture(scope="module")
def quadratic():
    return trajviz.run("quadratic", "all", diagnostics=True)


@pytest.fixture(scope="module")
def rosenbrock():
    return trajviz.run("rosenbrock", "all", diagnostics=False)


def test_the_default_quadratic_is_ill_conditioned_enough_for_momentum():
    s = S.get("quadratic")
    kappa = s.params["kappa"]
    # heavy ball with beta = 0.9 contracts by sqrt(0.9) per step at best; gradient descent by
    # (kappa - 1) / (kappa + 1): momentum wins only above kappa = (1 + sqrt b) / (1 - sqrt b)
    assert kappa > (1 + math.sqrt(0.9)) / (1 - math.sqrt(0.9))
    assert s.params["angle"] % 90 != 0          # rotated: no free fit for per-axis step sizes


def test_momentum_and_nesterov_reach_the_minimum_in_clearly_fewer_steps_than_sgd(quadratic):
    k = {t.label: steps_to_stay(t.loss[:, 0], 1e-6) for t in quadratic}
    assert k["sgd"] is not None
    assert k["momentum"] is not None and k["momentum"] <= 0.5 * k["sgd"]
    assert k["nesterov"] is not None and k["nesterov"] <= 0.5 * k["sgd"]


def test_sgd_zig_zags_across_the_valley(quadratic):
    angle = math.radians(S.get("quadratic").params["angle"])
    p = quadratic["sgd"].path[:31, 0]
    v = -math.sin(angle) * p[:, 0] + math.cos(angle) * p[:, 1]      # the steep axis
    flips = int((np.sign(v[1:]) != np.sign(v[:-1])).sum())
    assert flips >= 25, flips


def test_at_least_three_methods_finish_on_rosenbrock(rosenbrock):
    end = {t.label: float(np.hypot(*(t.path[-1, 0] - (1.0, 1.0)))) for t in rosenbrock}
    finished = [k for k, d in end.items() if d <= 0.05]
    assert len(finished) >= 3, end
    # the robust part (large margins): the momentum methods and Adam finish
    assert {"momentum", "nesterov", "adam"} <= set(finished), end


def test_the_heavy_ball_arrives_before_the_drunk_walker_on_rosenbrock(rosenbrock):
    def arrival(t):
        d = np.hypot(t.path[:, 0, 0] - 1, t.path[:, 0, 1] - 1)
        return steps_to_stay(d, 0.05)

    a = {t.label: arrival(t) for t in rosenbrock}
    assert a["momentum"] is not None and a["nesterov"] is not None
    assert a["sgd"] is None or (a["momentum"] < a["sgd"] and a["nesterov"] < a["sgd"])


def test_adagrad_shoes_hurt_early_and_stay(quadratic):
    """Honest fact, not the story we might wish for: with exact gradients AdaGrad's per-axis step
    shrinks within its first steps (its first sways are its biggest) and then hardly changes."""
    box = np.sqrt(np.prod(quadratic["adagrad"].step_size[:, 0], axis=1))    # geometric mean of the axes
    assert box[1] / box[5] > 1.2
    assert box[25] / box[-1] < 1.1


def test_with_noise_every_sway_hurts_and_the_shoes_keep_tightening():
    """The README's noise example: sways keep coming, so AdaGrad's step keeps shrinking."""
    r = trajviz.run("quadratic", ["sgd", "adagrad"], noise=10, seed=0)
    box = np.sqrt(np.prod(r["adagrad"].step_size[:, 0], axis=1))
    assert box[25] / box[-1] > 2.0


@pytest.mark.slow
@pytest.mark.parametrize("surface", ["quadratic", "rosenbrock", "beale", "himmelblau", "booth", "matyas",
                                     "six_hump_camel", "goldstein_price", "regression"])
def test_stored_rates_are_what_tune_picks(surface):
    """Re-derive the stored default rates with --tune on each default canvas (one basin each)."""
    r = trajviz.run(surface, "all", tune=True, diagnostics=False)
    stored = S.get(surface).lrs
    for t in r:
        assert t.tuned is not None and t.tuned.lr is not None
        ratio = t.tuned.lr / stored[t.name]
        assert 1 / 1.6 < ratio < 1.6, (surface, t.name, t.tuned.lr, stored[t.name])
