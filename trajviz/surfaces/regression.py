"""The ``regression`` surface: a real least-squares problem with minibatches.

1,000 points ``t`` uniform on [-1, 1] with targets ``t**2 + 0.1 * noise``,
drawn once from a fixed seed. The model ``w * t**2 + b`` has two parameters,
plotted as (x, y) = (w, b); the loss is the mean squared error. The full loss
is evaluated from the data's moments (it is a quadratic in (w, b)), so a
contour grid does not need a 1,000-wide axis; minibatch losses use the rows.
"""

from __future__ import annotations

import numpy as np

N_POINTS = 1000
SEED = 20240601


class RegressionData:
    def __init__(self, n: int = N_POINTS, noise: float = 0.1, seed: int = SEED):
        rng = np.random.default_rng(seed)
        self.t = rng.uniform(-1.0, 1.0, n)
        self.y = self.t**2 + noise * rng.standard_normal(n)
        f = self.t**2
        # moments of the quadratic loss: E[(w f + b - y)^2]
        self.m_ff, self.m_f, self.m_fy = (f * f).mean(), f.mean(), (f * self.y).mean()
        self.m_y, self.m_yy = self.y.mean(), (self.y * self.y).mean()
        design = np.stack([f, np.ones(n)], axis=1)
        solution, *_ = np.linalg.lstsq(design, self.y, rcond=None)
        self.minimizer = (float(solution[0]), float(solution[1]))
        self.optimum = float(np.mean((design @ solution - self.y) ** 2))
        self._cache: dict = {}

    def __len__(self) -> int:
        return len(self.t)

    def full(self, w, b):
        return (w * w * self.m_ff + 2 * w * b * self.m_f + b * b
                - 2 * w * self.m_fy - 2 * b * self.m_y + self.m_yy)

    def tensors(self, like):
        key = (like.device, like.dtype)
        if key not in self._cache:
            self._cache[key] = (like.new_tensor(self.t**2), like.new_tensor(self.y))
        return self._cache[key]

    def loss(self, xy, index):
        """MSE on the rows ``index`` (a 1-D index tensor), for every point in ``xy``."""
        f, y = self.tensors(xy)
        f, y = f[index], y[index]
        w, b = xy[..., 0:1], xy[..., 1:2]
        return ((w * f + b - y) ** 2).mean(-1)
