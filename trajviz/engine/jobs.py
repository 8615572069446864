"""Rows and parameter groups: one optimizer's share of the run's shared position tensor.

A job is one optimizer spec run from every start, for each of its hyperparameter
variants (tuning and sweeps give several). Its rows are a contiguous slice of the
run's position tensor ``X`` (rows x 2); its torch.optim parameters are views into
that slice, so one forward and one backward over ``X`` give every method its
gradient, and every ``optimizer.step()`` writes its rows of ``X`` in place.

Within a job, variants that share every hyperparameter but the learning rate share
one parameter group when the method's step is proportional to its rate (declared on
the registry entry): torch.optim steps with lr = 1 and each row's displacement is
scaled by its own rate. Other variants get a parameter group each.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import TrajvizError


def needs_closure(spec) -> bool:
    """Whether the class re-evaluates the function inside ``step`` (LBFGS): it takes a closure."""
    import inspect

    param = inspect.signature(spec.torch_class.step).parameters.get("closure")
    return param is not None and param.default is inspect.Parameter.empty


class Job:
    """One optimizer over ``n_var`` variants x ``n_starts`` starts, rows ``offset .. offset + n_rows``.

    Attributes:
        spec, variants (the full hyperparameters per variant), order (the variant of each
        group of rows, as laid out), owners [(optimizer, [params])], lr_scale (rows, 1) or
        None, schedulers, velocity / step_size readers (None when the method has none).
    """

    def __init__(self, spec, variants: Sequence[dict] | None, n_starts: int, offset: int, schedule):
        self.spec = spec
        base = spec.hyperparameters()
        self.variants = [dict(v) for v in (variants or [{}])]
        self.full = [{**base, **v} for v in self.variants]
        self.base = base
        self.n_var = len(self.variants)
        self.n_starts = n_starts
        self.offset = offset
        self.n_rows = self.n_var * n_starts
        self.schedule = schedule
        self.batchable = spec.batchable
        self.closure = needs_closure(spec)
        full = self.full
        self.scaled = (self.batchable and self.n_var > 1 and all("lr" in f for f in full)
                       and all(spec.lr_is_scale(f) for f in full) and len({f["lr"] for f in full}) > 1
                       and (schedule is None or schedule.scale_free))
        if self.batchable:
            groups: dict = {}
            for v, f in enumerate(full):
                key = tuple(sorted((k, repr(val)) for k, val in f.items() if not (self.scaled and k == "lr")))
                groups.setdefault(key, []).append(v)
            self.groups = list(groups.values())
        else:
            self.groups = [[v] for v in range(self.n_var)]
        self.order = [v for members in self.groups for v in members]   # variant of each block of rows
        has_readers = self.batchable and (spec.velocity is not None or spec.step_size is not None)
        self.velocity = spec.velocity if has_readers else None
        self.step_size = spec.step_size if has_readers else None
        self.owners: list = []
        self._slices = None
        self.block = None
        self.lr_scale = None
        self.schedulers: list = []

    @property
    def rows(self) -> slice:
        return slice(self.offset, self.offset + self.n_rows)

    def start_index(self) -> np.ndarray:
        """(n_rows,) the start each row runs from."""
        return np.tile(np.arange(self.n_starts), self.n_var)

    def layout(self) -> np.ndarray:
        """(n_rows,) for each laid-out row, its row in variant-major order (variant v, start i -> v*N + i)."""
        n = self.n_starts
        return np.concatenate([np.arange(v * n, (v + 1) * n) for v in self.order])

    def build(self, X, dtype, device) -> None:
        """Make the parameters (views of this job's rows of ``X``), the optimizers and schedulers."""
        import torch

        spec, n = self.spec, self.n_starts
        block = self.block = X[self.rows]
        if self.batchable:
            params, group_dicts, lr_rows, at = [], [], [], 0
            for members in self.groups:
                p = block[at:at + len(members) * n]
                at += len(members) * n
                p.requires_grad_(True)
                params.append(p)
                kw = dict(self.full[members[0]])
                if self.scaled:
                    kw["lr"] = 1.0
                    lr_rows.append(torch.tensor([self.full[v]["lr"] for v in members], dtype=dtype, device=device)
                                   .repeat_interleave(n)[:, None])
                group_dicts.append({"params": [p], **kw})
            try:
                opt = spec.torch_class(group_dicts, **{k: v for k, v in group_dicts[0].items() if k != "params"})
            except (ValueError, TypeError, RuntimeError) as exc:
                raise TrajvizError(f"bad hyperparameters for {spec.label}: {exc}") from None
            self.owners = [(opt, params)]
            self.lr_scale = torch.cat(lr_rows) if self.scaled else None
        else:
            # one instance per start, so an update that couples rows cannot mix paths
            owners = []
            for r in range(self.n_rows):
                p = block[r:r + 1]
                p.requires_grad_(True)
                owners.append((spec.with_kwargs(**self.variants[r // n]).make([p]), [p]))
            self.owners = owners
        if self.schedule is not None:
            self.schedulers = [self.schedule.make(o) for o, _ in self.owners]

    def set_grads(self, G) -> None:
        """Hand each parameter its rows of the shared gradient ``G`` (views, no copy)."""
        if self._slices is None:
            at, self._slices = self.offset, []
            for _, params in self.owners:
                for p in params:
                    self._slices.append((p, slice(at, at + p.shape[0])))
                    at += p.shape[0]
        for p, rows in self._slices:
            p.grad = G[rows]

    def step(self, t: int, closure_for=None) -> None:
        """One optimizer step for every owner (then the lr scaling and the schedules)."""
        if self.scaled:
            prev = self.block.clone()
        try:
            for o, ps in self.owners:
                if self.closure:
                    o.step(closure_for(o, ps))
                else:
                    o.step()
        except (RuntimeError, ValueError, AssertionError, IndexError, TypeError, ZeroDivisionError) as exc:
            raise TrajvizError(f"{self.spec.label} failed at step {t + 1}: {type(exc).__name__}: {exc}"
                               .replace("\n", " ")) from None
        if self.scaled:
            import torch

            with torch.no_grad():
                self.block.copy_(prev + self.lr_scale * (self.block - prev))
        for s in self.schedulers:
            s.step()

    def read(self, reader, t: int):
        """The state a reader gives after step ``t``, for every row (laid-out order), or None."""
        import torch

        parts = []
        for o, _ in self.owners:
            for group in o.param_groups:
                for p in group["params"]:
                    v = reader(o.state[p], group, t, p.grad)
                    if v is None:
                        return None
                    parts.append(v)
        out = parts[0] if len(parts) == 1 else torch.cat(parts)
        return out * self.lr_scale if self.lr_scale is not None else out

    def lrs(self) -> list[tuple[int, float]]:
        """(variant, learning rate in force) for every variant."""
        out = []
        if self.batchable:
            o = self.owners[0][0]
            for gi, members in enumerate(self.groups):
                value = o.param_groups[gi].get("lr")
                if isinstance(value, (int, float)):
                    for v in members:
                        out.append((v, value * (self.full[v]["lr"] if self.scaled else 1.0)))
        else:
            for v in range(self.n_var):
                value = self.owners[v * self.n_starts][0].param_groups[0].get("lr")
                if isinstance(value, (int, float)):
                    out.append((v, float(value)))
        return out
