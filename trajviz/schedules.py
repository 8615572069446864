"""Learning-rate schedules, by name, through ``torch.optim.lr_scheduler``.

>>> parse_schedule("step:step_size=100,gamma=0.5", steps=300).label
'step(step_size=100, gamma=0.5)'

Defaults scale with the run's length: ``cosine`` anneals to 0 over all steps,
``step`` halves the rate every third of the run, ``exponential`` multiplies it
by 0.99 per step, ``warmup`` ramps it linearly from 1% over the first tenth.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from .errors import TrajvizError, unknown
from .specs import parse_params, split_spec

SCHEDULES = {
    "cosine": ("CosineAnnealingLR", lambda steps: {"T_max": steps, "eta_min": 0.0}),
    "step": ("StepLR", lambda steps: {"step_size": max(1, steps // 3), "gamma": 0.5}),
    "exponential": ("ExponentialLR", lambda steps: {"gamma": 0.99}),
    "warmup": ("LinearLR", lambda steps: {"start_factor": 0.01, "end_factor": 1.0,
                                          "total_iters": max(1, steps // 10)}),
}
# parameters that set an absolute rate rather than a factor (then lr is no pure scale)
_ABSOLUTE = ("eta_min",)
# values that would make the learning rate negative (or zero for good) are refused, as --lr -1 is
_RULES = {
    "gamma": (lambda v: v > 0, "a number > 0"),
    "eta_min": (lambda v: v >= 0, "a number >= 0"),
    "start_factor": (lambda v: v > 0, "a number > 0"),
    "end_factor": (lambda v: v > 0, "a number > 0"),
}


def check_syntax(spec: str) -> str:
    """Check a schedule spec without torch: a known name, numbers, and values that keep lr >= 0."""
    name, rest = split_spec(str(spec))
    name = name.lower()
    if name not in SCHEDULES:
        raise unknown("schedule", name, SCHEDULES)
    given = parse_params(rest)
    for k, v in given.items():
        if isinstance(v, (tuple, bool, str)) or v is None:
            raise TrajvizError(f"bad schedule {name} {k}: {v} (must be a number)")
        rule = _RULES.get(k)
        if rule is not None and not rule[0](v):
            raise TrajvizError(f"bad schedule {name} {k}: {v:g} (must be {rule[1]}: the learning rate "
                               "must stay positive)")
    return str(spec)


@dataclass(frozen=True)
class Schedule:
    name: str
    class_name: str
    kwargs: dict = field(default_factory=dict)
    given: dict = field(default_factory=dict)

    @property
    def torch_class(self):
        import torch

        return getattr(torch.optim.lr_scheduler, self.class_name)

    @property
    def label(self) -> str:
        if not self.given:
            return self.name
        return f"{self.name}(" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                           for k, v in self.given.items()) + ")"

    @property
    def scale_free(self) -> bool:
        """True if the schedule multiplies the rate (so lr stays a pure scale of each step)."""
        return all(not self.kwargs.get(k) for k in _ABSOLUTE)

    def make(self, optimizer) -> Any:
        try:
            return self.torch_class(optimizer, **self.kwargs)
        except (ValueError, TypeError) as exc:
            raise TrajvizError(f"bad schedule {self.label}: {exc}") from None


def parse_schedule(spec, steps: int) -> Schedule | None:
    """``None``, ``"cosine"`` or ``"step:step_size=100,gamma=0.5"`` -> a checked Schedule."""
    if spec is None or isinstance(spec, Schedule):
        return spec
    check_syntax(spec)
    name, rest = split_spec(str(spec))
    name = name.lower()
    class_name, defaults = SCHEDULES[name]
    given = parse_params(rest)
    sched = Schedule(name, class_name, {**defaults(steps), **given}, given)
    sig = inspect.signature(sched.torch_class.__init__)
    valid = [p for p in sig.parameters if p not in ("self", "optimizer", "last_epoch", "verbose")]
    bad = [k for k in given if k not in valid]
    if bad:
        raise TrajvizError(f"unknown key '{bad[0]}' for schedule {name} (valid keys: {', '.join(valid)})")
    for k, v in given.items():
        if isinstance(v, (tuple, bool)) or v is None:
            raise TrajvizError(f"bad value for '{k}' in schedule {name}: {v}")
    for k in ("T_max", "step_size", "total_iters"):
        v = sched.kwargs.get(k)
        if v is not None and (isinstance(v, float) and not v.is_integer() or v < 1):
            raise TrajvizError(f"bad value for '{k}' in schedule {name}: {v} (must be a whole number >= 1)")
    import torch

    probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = sched.make(probe)
    try:  # a few steps find what the constructor lets through (a division by zero, say)
        for _ in range(3):
            probe.step()
            scheduler.step()
    except (ZeroDivisionError, ValueError, TypeError, OverflowError) as exc:
        raise TrajvizError(f"bad schedule {sched.label}: {type(exc).__name__}: {exc}") from None
    return sched
