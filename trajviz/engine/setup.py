"""The checked settings of one run, resolved against torch: surface, starts, device, dtype, records."""

from __future__ import annotations

import numpy as np

from .. import surfaces as _surfaces
from ..devices import resolve_device, resolve_dtype
from ..errors import TrajvizError
from ..options import RunOptions


def start_points(surface, start=None, starts=None, seed: int = 0) -> np.ndarray:
    """The (N, 2) start points: given point(s), N seeded samples in the domain, or the default."""
    if start is not None and starts is not None:
        raise TrajvizError("give either start (points) or starts (a number to sample), not both")
    if starts is not None:
        rng = np.random.default_rng(seed)
        (x0, x1), (y0, y1) = surface.domain
        return np.stack([rng.uniform(x0, x1, int(starts)), rng.uniform(y0, y1, int(starts))], axis=1)
    if start is None:
        return np.asarray([surface.start], dtype=np.float64)
    return np.asarray(start, dtype=np.float64).reshape(-1, 2)


class Setup:
    """What every optimizer of one run shares (also used by tuning and sweeps).

    Attributes: surface (a Surface with the view applied), steps, record_every, noise,
    seed, clip, batch_size (None: the full objective), schedule (a Schedule or None),
    x0 (N, 2) starts, device, dtype, record_steps (the recorded step numbers).
    """

    def __init__(self, options: RunOptions):
        from ..schedules import parse_schedule

        o = options
        self.options = o
        self.surface = _surfaces.get(o.surface, xlim=o.xlim, ylim=o.ylim)
        surf = self.surface
        self.steps = o.steps if o.steps is not None else surf.steps
        self.record_every = o.record_every
        self.noise = o.noise
        self.seed = o.seed
        self.clip = o.clip
        self.batch_size = surf.batch_rows(o.batch_size)
        self.schedule = parse_schedule(o.schedule, self.steps)
        self.x0 = start_points(surf, o.start, o.starts, o.seed)
        self.device = resolve_device(o.device)
        self.dtype = resolve_dtype(o.dtype, self.device)
        rec = list(range(0, self.steps + 1, self.record_every))
        if rec[-1] != self.steps:
            rec.append(self.steps)
        self.record_steps = rec

    @classmethod
    def of(cls, surface, **options) -> Setup:
        """A Setup from keywords (tests and tools); the options are checked as everywhere."""
        return cls(RunOptions(surface=surface, **options))

    def settings(self, **extra) -> dict:
        out = {
            "steps": self.steps, "starts": len(self.x0), "noise": self.noise, "batch_size": self.options.batch_size,
            "seed": self.seed, "device": str(self.device), "dtype": str(self.dtype).removeprefix("torch."),
            "record_every": self.record_every, "clip": self.clip,
            "schedule": self.schedule.label if self.schedule else None,
        }
        out.update(extra)
        return out
