"""The built-in surfaces. Each is one function of (x, y) and its facts as data.

Values and minimizers follow the usual references (Jamil & Yang 2013, "A literature
survey of benchmark functions for global optimization problems"; the SFU Virtual
Library of Simulation Experiments); the tests check them.

The default learning rates are not hand-picked to tell a story. On every surface with
one basin they are what ``--tune`` picks on that surface's default canvas (start and
steps): of 64 log-spaced rates from 1e-6 to 100 plus 16 refinements, the one whose path
ends with the lowest loss without leaving the plotted domain; momentum 0.9, everything
else torch.optim's defaults (tests/test_defaults.py re-derives them, marked slow). Where
a parameter changes the curvature, the rates of the plain gradient methods scale with
it, as their stability limit does. On the multimodal surfaces (rastrigin, ackley,
styblinski_tang) and the saddle that rule measures luck across basins (or has nothing to
converge to), so their rates are hand-picked and said to be.
"""

from __future__ import annotations

import math

from .regression import RegressionData

# The built-ins as data: trajviz.surfaces registers them when first asked (the catalog does
# not import the registry, so the two never import each other).
ENTRIES: list[tuple[tuple, dict]] = []


def register(*args, **kw):
    ENTRIES.append((args, kw))

TAU = 2 * math.pi


def rosenbrock(x, y, a=1.0, b=100.0):
    return (a - x) ** 2 + b * (y - x**2) ** 2


register(
    "rosenbrock", rosenbrock, display="Rosenbrock valley", formula="(a - x)^2 + b (y - x^2)^2",
    domain=((-2.0, 2.0), (-1.0, 3.0)), minima=lambda p: [(p["a"], p["a"] ** 2)], optimum=0.0,
    start=(-1.5, 2.5), log_levels=True, params={"a": 1.0, "b": 100.0}, steps=1000,
    # tuned at b = 100 (the gradient methods' rates scale with 1/b, like their stability limit)
    lrs=lambda p: {"sgd": 0.200 / p["b"], "momentum": 0.187 / p["b"], "nesterov": 0.122 / p["b"],
                   "adagrad": 0.114, "adadelta": 1.27, "rmsprop": 0.0128, "adam": 0.126,
                   "adamw": 0.0851, "adamax": 0.114, "nadam": 0.0255, "radam": 0.00303},
    param_rules={"b": (0.0, "a number > 0: the valley needs walls")},
)


def beale(x, y):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


register(
    "beale", beale, display="Beale's function", formula="(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
    domain=((-4.5, 4.5), (-4.5, 4.5)), minima=[(3.0, 0.5)], optimum=0.0, start=(1.0, 1.5),
    log_levels=True, steps=500,
    lrs={"sgd": 0.0348, "momentum": 0.00656, "nesterov": 0.00779, "adagrad": 2.35, "adadelta": 1.82,
         "rmsprop": 0.045, "adam": 1.58, "adamw": 0.05, "adamax": 0.1, "nadam": 0.05, "radam": 0.1},
)


def quadratic(x, y, kappa=10.0, angle=0.0):
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    u, v = c * x + s * y, -s * x + c * y
    return 0.5 * (u**2 + kappa * v**2)


def _quadratic_lrs(p):
    # tuned at kappa = 100 (the gradient methods' rates scale with 1/kappa, like their stability limit)
    k = max(p["kappa"], 1.0)
    return {"sgd": 1.94 / k, "momentum": 0.405 / k, "nesterov": 0.481 / k, "adagrad": 1.10,
            "adadelta": 3.15, "rmsprop": 0.0420, "adam": 1.25, "adamw": 1.22, "adamax": 1.31,
            "nadam": 0.169, "radam": 0.0133}


register(
    "quadratic", quadratic, display="Elongated bowl", formula="0.5 (u^2 + kappa v^2),  (u, v) = (x, y) rotated by angle°",
    # kappa 100: heavy-ball momentum 0.9 beats gradient descent only above kappa ~38; rotated, so
    # per-axis step sizes get no free fit to the axes
    domain=((-3.0, 3.0), (-2.0, 2.0)), minima=[(0.0, 0.0)], optimum=0.0, start=(-2.5, -0.5),
    log_levels=False, params={"kappa": 100.0, "angle": 30.0}, lrs=_quadratic_lrs, steps=400,
    param_rules={"kappa": (0.0, "a number > 0 (the ratio of the curvatures)")},
)


def himmelblau(x, y):
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


register(
    "himmelblau", himmelblau, display="Himmelblau's four minima", formula="(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
    domain=((-5.0, 5.0), (-5.0, 5.0)),
    minima=[(3.0, 2.0), (-2.805118086952745, 3.131312518250573),
            (-3.779310253377747, -3.283185991286170), (3.584428340330492, -1.848126526964404)],
    optimum=0.0, start=(0.0, -0.5), log_levels=True,
    lrs={"sgd": 0.0197, "momentum": 0.00926, "nesterov": 0.0116, "adagrad": 1.1, "adadelta": 1.76,
         "rmsprop": 0.0851, "adam": 0.518},
)


def rastrigin(x, y):
    return 20 + x**2 - 10 * (TAU * x).cos() + y**2 - 10 * (TAU * y).cos()


register(
    "rastrigin", rastrigin, display="Rastrigin's egg crate", formula="20 + x^2 - 10 cos(2 pi x) + y^2 - 10 cos(2 pi y)",
    domain=((-5.12, 5.12), (-5.12, 5.12)), minima=[(0.0, 0.0)], optimum=0.0, start=(-4.3, 4.1),
    lrs={"sgd": 0.002, "momentum": 0.002, "nesterov": 0.002, "adagrad": 0.5, "adadelta": 10.0,
         "rmsprop": 0.02, "adam": 0.05},
    note="many local minima",
)


def ackley(x, y):
    # the tiny shift keeps sqrt differentiable at the minimizer (value changes by < 1e-14)
    r = (0.5 * (x**2 + y**2) + 1e-30).sqrt()
    return -20 * (-0.2 * r).exp() - (0.5 * ((TAU * x).cos() + (TAU * y).cos())).exp() + math.e + 20


register(
    "ackley", ackley, display="Ackley's crater",
    formula="-20 exp(-0.2 sqrt(0.5 (x^2 + y^2))) - exp(0.5 (cos 2 pi x + cos 2 pi y)) + e + 20",
    domain=((-5.0, 5.0), (-5.0, 5.0)), minima=[(0.0, 0.0)], optimum=0.0, start=(-4.0, 3.5),
    lrs={"sgd": 0.05, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.5, "adadelta": 10.0,
         "rmsprop": 0.02, "adam": 0.05},
    note="many local minima",
)


def booth(x, y):
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


register(
    "booth", booth, display="Booth's bowl", formula="(x + 2y - 7)^2 + (2x + y - 5)^2",
    domain=((-10.0, 10.0), (-10.0, 10.0)), minima=[(1.0, 3.0)], optimum=0.0, start=(-8.0, -7.0),
    log_levels=True,
    lrs={"sgd": 0.0794, "momentum": 0.00481, "nesterov": 0.0474, "adagrad": 9.16, "adadelta": 20.2,
         "rmsprop": 0.492, "adam": 3.38},
)


def matyas(x, y):
    return 0.26 * (x**2 + y**2) - 0.48 * x * y


register(
    "matyas", matyas, display="Matyas' flat bowl", formula="0.26 (x^2 + y^2) - 0.48 xy",
    domain=((-10.0, 10.0), (-10.0, 10.0)), minima=[(0.0, 0.0)], optimum=0.0, start=(-8.0, 6.0),
    log_levels=True,
    lrs={"sgd": 1.88, "momentum": 1.53, "nesterov": 1.2, "adagrad": 12.7, "adadelta": 17.3,
         "rmsprop": 0.484, "adam": 5.02},
)


def goldstein_price(x, y):
    a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
    b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
    return a * b


register(
    "goldstein_price", goldstein_price, display="Goldstein-Price",
    formula="[1 + (x+y+1)^2 (19 - 14x + 3x^2 - 14y + 6xy + 3y^2)] [30 + (2x-3y)^2 (18 - 32x + 12x^2 + 48y - 36xy + 27y^2)]",
    domain=((-2.0, 2.0), (-2.0, 2.0)), minima=[(0.0, -1.0)], optimum=3.0, start=(-1.5, -1.5),
    log_levels=True, steps=600,
    lrs={"sgd": 5.99e-5, "momentum": 5.12e-6, "nesterov": 7.61e-6, "adagrad": 1.53, "adadelta": 35.6,
         "rmsprop": 0.11, "adam": 0.161},
)


def six_hump_camel(x, y):
    return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2


register(
    "six_hump_camel", six_hump_camel, display="Six-hump camel", formula="(4 - 2.1x^2 + x^4/3) x^2 + xy + (-4 + 4y^2) y^2",
    domain=((-2.0, 2.0), (-1.0, 1.0)),
    minima=[(0.08984201368301331, -0.7126564032704135), (-0.08984201368301331, 0.7126564032704135)],
    optimum=-1.031628453489877, start=(1.0, 0.9),
    lrs={"sgd": 0.0278, "momentum": 0.00481, "nesterov": 0.00645, "adagrad": 0.387, "adadelta": 1.03,
         "rmsprop": 0.0155, "adam": 0.0896},
)


ST_X = -2.903534027771178


def styblinski_tang(x, y):
    return 0.5 * (x**4 - 16 * x**2 + 5 * x + y**4 - 16 * y**2 + 5 * y)


register(
    "styblinski_tang", styblinski_tang, display="Styblinski-Tang", formula="0.5 (x^4 - 16x^2 + 5x + y^4 - 16y^2 + 5y)",
    domain=((-5.0, 5.0), (-5.0, 5.0)), minima=[(ST_X, ST_X)], optimum=-78.33233140754282,
    start=(4.5, -0.5),
    lrs={"sgd": 0.005, "momentum": 0.002, "nesterov": 0.002, "adagrad": 0.5, "adadelta": 10.0,
         "rmsprop": 0.02, "adam": 0.05},
    note="local minima",
)


def saddle(x, y):
    return x**2 - y**2


register(
    "saddle", saddle, display="Saddle (no minimum)", formula="x^2 - y^2", domain=((-2.0, 2.0), (-2.0, 2.0)), minima=[],
    optimum=None, start=(-1.8, 0.02), steps=200,
    lrs={"sgd": 0.02, "momentum": 0.005, "nesterov": 0.005, "adagrad": 0.1, "adadelta": 10.0,
         "rmsprop": 0.005, "adam": 0.02},
    note="no minimum: unbounded below along y; paths escape the box",
)


_DATA: RegressionData | None = None


def _regression_data() -> RegressionData:
    global _DATA
    if _DATA is None:
        _DATA = RegressionData()
    return _DATA


def _build_regression():
    from .surface import Surface

    data = _regression_data()
    return Surface(
        name="regression", display="Least squares, 1,000 points",
        formula="mean of (w t^2 + b - target)^2 over 1,000 points,  (x, y) = (w, b)",
        fn=lambda x, y: data.full(x, y), domain=((-1.0, 3.0), (-1.5, 1.5)), minima=(data.minimizer,),
        optimum=data.optimum, start=(-0.5, 1.2), log_levels=True, steps=300, data=data,
        lrs={"sgd": 0.518, "momentum": 0.161, "nesterov": 0.12, "adagrad": 0.289, "adadelta": 2.61,
             "rmsprop": 0.0208, "adam": 0.12, "adamw": 0.05, "adamax": 0.1, "nadam": 0.05, "radam": 0.1},
        note="minibatches with batch_size",
    )


register("regression", build=lambda: _build_regression(),
         formula="MSE of w t^2 + b on 1,000 seeded points (t, t^2 + 0.1 noise)")
