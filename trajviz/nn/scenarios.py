"""Built-in training scenarios: the tutorials' small networks, their data and settings.

A scenario is data: a model with its initial weights, a loss, the data set, and
the settings the tutorial trains with. Data and initial weights are drawn from
the seed with torch generators on the CPU (then moved to the device), so a seed
gives the same network and data on every device, and the global torch RNG is
never touched.

* ``mlp`` (default): a 1-20-1 ReLU MLP fitted to ``y = x^2 + 0.1 * noise`` on
  1,000 points ``x = linspace(-1, 1)``, minibatches of 32, 12 epochs; SGD,
  Momentum (0.8), RMSprop (alpha 0.9) and Adam (betas 0.9/0.99), all at lr 0.01.
* ``classify``: two Gaussian clouds (100 points each, means (2, 2) and
  (-2, -2), unit variance), a 2-10-2 ReLU classifier, cross-entropy.
* ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, no download), a
  64-32-10 ReLU classifier, cross-entropy. Needs ``pip install "trajviz-optim[digits]"``.

>>> s = get("mlp", seed=0)
>>> tuple(s.X.shape), tuple(s.Y.shape), s.n_params
((1000, 1), (1000, 1), 61)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import TrajvizError, unknown

# The tutorial's four optimizers and settings, with the registry names readers know as labels.
TUTORIAL_OPT = (
    ("sgd", "sgd:lr=0.01"),
    ("momentum", "momentum:lr=0.01,momentum=0.8"),
    ("rmsprop", "rmsprop:lr=0.01,alpha=0.9"),
    ("adam", "adam:lr=0.01,betas=0.9/0.99"),
)

# Sub-seeds: the data and the initial weights come from independent generators, so changing
# the size of the data set does not change the network's start (and vice versa).
_DATA, _INIT = 1, 2


def sub_seed(seed: int, what: int) -> int:
    """A 63-bit seed for one purpose (data, init) derived from the run's seed (numpy SeedSequence)."""
    state = np.random.SeedSequence([int(seed) & (2**64 - 1), what]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def generator(seed: int, what: int):
    import torch

    return torch.Generator().manual_seed(sub_seed(seed, what))


@dataclass
class Scenario:
    """A model, its loss, its data and the tutorial's settings.

    Attributes:
        name: the scenario's name (``"mlp"``).
        title: one line for a picture's title.
        description: the model, loss and data in one line (the landscape's formula).
        model: the network with its initial weights (float64 on the CPU).
        loss_fn: ``loss_fn(output, target) -> scalar`` (a mean over the rows).
        X, Y: the whole data set (rows first).
        batch_size, epochs: the tutorial's minibatch size and number of epochs.
        opt: the default optimizer specs as ``(label, spec)`` pairs.
        lr: the learning rate for an ``--opt`` given without one.
    """

    name: str
    title: str
    description: str
    model: Any
    loss_fn: Callable
    X: Any
    Y: Any
    batch_size: int
    epochs: int
    opt: tuple = TUTORIAL_OPT
    lr: float = 0.01
    extra: dict = field(default_factory=dict)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def lr_for(self, optimizer: str) -> float:
        """The learning rate for an optimizer given without ``lr=`` (same protocol as a Surface)."""
        return self.lr


def init_linear(model, gen) -> None:
    """torch's default nn.Linear initialisation (uniform +-1/sqrt(fan_in) for weight and bias), seeded."""
    import torch

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                bound = 1.0 / math.sqrt(module.in_features)
                module.weight.copy_(torch.empty_like(module.weight).uniform_(-bound, bound, generator=gen))
                if module.bias is not None:
                    module.bias.copy_(torch.empty_like(module.bias).uniform_(-bound, bound, generator=gen))


def mlp_net(sizes, dtype):
    """A ReLU MLP with the given layer sizes, e.g. (1, 20, 1)."""
    import torch

    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def mlp(seed: int = 0, n: int = 1000, hidden: int = 20, noise: float = 0.1) -> Scenario:
    import torch

    dt = torch.float64
    x = torch.linspace(-1.0, 1.0, n, dtype=dt).unsqueeze(1)
    y = x**2 + noise * torch.randn(x.shape, generator=generator(seed, _DATA), dtype=dt)
    model = mlp_net((1, hidden, 1), dt)
    init_linear(model, generator(seed, _INIT))
    return Scenario(
        name="mlp", title=f"1-{hidden}-1 ReLU network fitting y = x\u00b2 + noise",
        description=f"MLP 1-{hidden}-1 (ReLU), MSE on y = x^2 + {noise:g} noise, {n:,} points",
        model=model, loss_fn=torch.nn.functional.mse_loss, X=x, Y=y, batch_size=32, epochs=12,
    )


def classify(seed: int = 0, n_per_class: int = 100, hidden: int = 10, distance: float = 2.0) -> Scenario:
    import torch

    dt = torch.float64
    gen = generator(seed, _DATA)
    centre = torch.full((n_per_class, 2), distance, dtype=dt)
    x0 = centre + torch.randn(centre.shape, generator=gen, dtype=dt)
    x1 = -centre + torch.randn(centre.shape, generator=gen, dtype=dt)
    x = torch.cat([x0, x1])
    y = torch.cat([torch.zeros(n_per_class, dtype=torch.int64), torch.ones(n_per_class, dtype=torch.int64)])
    model = mlp_net((2, hidden, 2), dt)
    init_linear(model, generator(seed, _INIT))
    return Scenario(
        name="classify", title=f"2-{hidden}-2 ReLU network classifying two Gaussian clouds",
        description=(f"MLP 2-{hidden}-2 (ReLU), cross-entropy, two Gaussian clouds at "
                     f"\u00b1({distance:g}, {distance:g}), {2 * n_per_class} points"),
        model=model, loss_fn=torch.nn.functional.cross_entropy, X=x, Y=y, batch_size=32, epochs=12,
    )


def digits(seed: int = 0, hidden: int = 32) -> Scenario:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise TrajvizError("scenario 'digits' needs scikit-learn: pip install \"trajviz-optim[digits]\"") from None
    import torch

    dt = torch.float64
    data = load_digits()  # bundled inside scikit-learn: no download
    x = torch.as_tensor(data.data, dtype=dt) / 16.0
    y = torch.as_tensor(data.target, dtype=torch.int64)
    model = mlp_net((64, hidden, 10), dt)
    init_linear(model, generator(seed, _INIT))
    return Scenario(
        name="digits", title=f"64-{hidden}-10 ReLU network on scikit-learn's 8\u00d78 digits",
        description=f"MLP 64-{hidden}-10 (ReLU), cross-entropy, {len(x):,} 8x8 digits",
        model=model, loss_fn=torch.nn.functional.cross_entropy, X=x, Y=y, batch_size=64, epochs=5,
    )


SCENARIOS: dict[str, Callable[..., Scenario]] = {"mlp": mlp, "classify": classify, "digits": digits}


def names() -> list[str]:
    return list(SCENARIOS)


def get(name: str, seed: int = 0) -> Scenario:
    """The scenario ``name`` with data and initial weights drawn from ``seed``."""
    key = str(name).strip().lower()
    if key not in SCENARIOS:
        raise unknown("scenario", str(name), SCENARIOS)
    return SCENARIOS[key](seed=seed)


__all__ = ["Scenario", "SCENARIOS", "TUTORIAL_OPT", "get", "names", "sub_seed"]
