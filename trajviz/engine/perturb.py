"""Gradient perturbation: seeded noise (the drunk walker's stagger) and per-row clipping.

Noise comes from :mod:`trajviz.sampling` (stream 1): start ``i`` at gradient evaluation
``t`` gets the same draw in every method and every sweep cell, whatever the number of
starts. Clipping rescales each row's gradient to at most ``clip`` in norm.
"""

from __future__ import annotations

import numpy as np


class Perturbation:
    def __init__(self, noise: float, clip: float | None, streams, start_index: np.ndarray, n_starts: int,
                 device):
        import torch

        self.noise, self.clip, self.streams, self.n_starts = noise, clip, streams, n_starts
        same = len(start_index) == n_starts and np.array_equal(start_index, np.arange(n_starts))
        self.index = None if same else torch.as_tensor(start_index, dtype=torch.int64, device=device)

    @property
    def active(self) -> bool:
        return bool(self.noise) or self.clip is not None

    def apply(self, G, t: int) -> None:
        """Perturb the shared gradient ``G`` (rows x 2) in place, for gradient evaluation ``t``."""
        import torch

        if self.noise:
            draw = self.streams.noise(t, self.n_starts)
            G.add_(self.noise * (draw if self.index is None else draw[self.index]))
        if self.clip is not None:
            norm = G.norm(dim=-1, keepdim=True)
            G.mul_(torch.clamp(self.clip / norm.clamp_min(1e-300), max=1.0))
