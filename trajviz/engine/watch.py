"""The divergence watch: which rows are still alive, on the device, with no host round trip.

A row diverges when its position or its loss turns non-finite, or when it leaves a
wide box around the domain (:data:`ESCAPE_WIDTHS` domain widths beyond each side).
``alive`` only ever turns off, so counting a row's alive steps gives the step it
diverged at. Separately, ``inside`` says whether a row ever left the plotting
domain itself (tuning disqualifies such rates).
"""

from __future__ import annotations

import numpy as np

ESCAPE_WIDTHS = 5.0


class Watch:
    def __init__(self, domain, n_rows: int, dtype, device):
        import torch

        (xa, xb), (ya, yb) = domain
        self.center = torch.tensor([(xa + xb) / 2, (ya + yb) / 2], dtype=dtype, device=device)
        self.half = torch.tensor([(0.5 + ESCAPE_WIDTHS) * (xb - xa), (0.5 + ESCAPE_WIDTHS) * (yb - ya)],
                                 dtype=dtype, device=device)
        self.dom_half = torch.tensor([(xb - xa) / 2, (yb - ya) / 2], dtype=dtype, device=device)
        self.alive = torch.ones(n_rows, dtype=torch.bool, device=device)
        self.alive_steps = torch.zeros(n_rows, dtype=torch.long, device=device)
        self.inside = torch.ones(n_rows, dtype=torch.bool, device=device)

    def see(self, x, loss) -> None:
        """Take in the positions and losses of one step."""
        import torch

        off = (x - self.center).abs()
        self.alive &= (off <= self.half).all(-1) & torch.isfinite(loss)
        self.alive_steps += self.alive
        self.inside &= (off <= self.dom_half).all(-1)

    def any_alive(self) -> bool:
        return bool(self.alive.any())   # a host sync: called once per recorded chunk only

    def diverged_at(self, steps: int) -> np.ndarray:
        """(rows,) the first bad step of each row, -1 for rows that stayed fine."""
        counted = self.alive_steps.cpu().numpy().astype(np.int64)
        return np.where(counted > steps, -1, counted)

    def stayed_inside(self) -> np.ndarray:
        return self.inside.cpu().numpy()
