"""The run engine: every optimizer, from every start, as rows of one tensor on the device.

torch.optim's classic methods update each element independently, so N starts
stacked in one parameter give N independent paths for the price of one Python
loop (the loss is summed, not averaged, so each row sees its own gradient). All
methods of a run share one position tensor ``X``: one forward and one backward
give every method its gradient, and each torch.optim optimizer steps its own rows
in place (see :mod:`.jobs`). Nothing is read back to the host per step (see
:mod:`.watch` and :mod:`.recorder`).

The parts: :mod:`.setup` (checked settings), :mod:`.jobs` (rows and parameter
groups), :mod:`.watch` (divergence), :mod:`.perturb` (noise and clipping),
:mod:`.recorder` (what is kept). The engine knows nothing of tuning or pictures:
:mod:`trajviz.api` composes them.

>>> from trajviz.engine import Setup, simulate
>>> import trajviz.optimizers as O
>>> setup = Setup.of("rosenbrock", steps=100)
>>> [t.label for t in simulate(setup, O.resolve("all", surface=setup.surface))][:2]
['sgd', 'momentum']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import TrajvizError
from ..result import Trace
from .jobs import Job, needs_closure
from .perturb import Perturbation
from .recorder import ALL_KEYS, Recorder, floats_per_row
from .setup import Setup, start_points
from .watch import ESCAPE_WIDTHS, Watch

# Recorded arrays larger than this are refused with a hint, rather than failing half-way.
MEMORY_BUDGET = 8 * 2**30


RECORD_HINT = "use --record-every, fewer --starts, fewer --steps or a smaller grid"


def recorded_bytes(setup: Setup, n_rows: int, keys=ALL_KEYS, n_records: int | None = None) -> int:
    """Bytes the recorded arrays of ``n_rows`` paths take."""
    records = n_records if n_records is not None else len(setup.record_steps)
    width = 4 if str(setup.dtype).endswith("float32") else 8
    return n_rows * records * floats_per_row(keys) * width


def check_memory(setup: Setup, n_rows: int, keys=ALL_KEYS, n_records: int | None = None, what: str = "",
                 hint: str = RECORD_HINT) -> None:
    """Refuse, with a hint (what the caller's user can change), a job whose recorded arrays (or device
    buffers) would not fit the budget."""
    records = n_records if n_records is not None else len(setup.record_steps)
    need = recorded_bytes(setup, n_rows, keys, records)
    if need > MEMORY_BUDGET:
        raise TrajvizError(
            f"{what + ': ' if what else ''}recording {records:,} steps of {n_rows:,} paths needs "
            f"{need / 2**30:.1f} GiB (at most {MEMORY_BUDGET / 2**30:.0f} GiB): {hint}")


def simulate(setup: Setup, specs, variants: Sequence[Sequence[dict] | None] | None = None, keys=ALL_KEYS,
             record_steps: Sequence[int] | None = None, hint: str = RECORD_HINT) -> list[Trace]:
    """Run every spec from every start (for each of its variants); one Trace per spec, in order.

    ``variants[j]`` lists hyperparameter overrides for spec j (None: its own). Rows of a
    Trace are variant-major: row ``v * N + i`` is variant ``v`` from start ``i``.
    """
    from ..sampling import TorchStreams

    specs = list(specs)
    variants = list(variants) if variants is not None else [None] * len(specs)
    record_steps = list(record_steps if record_steps is not None else setup.record_steps)
    n_starts = len(setup.x0)
    jobs, offset = [], 0
    for spec, var in zip(specs, variants):
        job = Job(spec, var, n_starts, offset, setup.schedule)
        if job.closure and (setup.noise or setup.clip is not None or setup.batch_size):
            raise TrajvizError(f"{spec.label} re-evaluates the function inside its step (a closure), so "
                               "--noise, --clip and --batch-size would not reach it: run it without them")
        jobs.append(job)
        offset += job.n_rows
    check_memory(setup, offset, keys, len(record_steps), hint=hint)
    streams = TorchStreams(setup.seed, setup.device, setup.dtype)
    # closure methods evaluate the function themselves: they run in a loop of their own
    shared = [j for j in jobs if not j.closure]
    own = [j for j in jobs if j.closure]
    results: dict[int, Trace] = {}
    if shared:
        for j, trace in zip(shared, _run(setup, shared, keys, record_steps, streams)):
            results[id(j)] = trace
    for j in own:
        j.offset = 0
        (results[id(j)],) = _run(setup, [j], keys, record_steps, streams)
    return [results[id(j)] for j in jobs]


def _run(setup: Setup, jobs: list[Job], keys, record_steps: list[int], streams) -> list[Trace]:
    """The step loop of jobs that share one position tensor."""
    import torch

    surf, steps, dev, dt = setup.surface, setup.steps, setup.device, setup.dtype
    n_starts = len(setup.x0)
    # lay the jobs out one after the other (closure jobs run alone, from row 0)
    offset = 0
    for job in jobs:
        job.offset = offset
        offset += job.n_rows
    n = offset
    X = torch.as_tensor(np.concatenate([np.tile(setup.x0, (j.n_var, 1)) for j in jobs]), dtype=dt,
                        device=dev).clone()
    for job in jobs:
        job.build(X, dt, dev)
    leaf = X.detach().requires_grad_(True)   # the same storage: the forward sees every step's positions
    watch = Watch(surf.domain, n, dt, dev)
    start_index = np.concatenate([j.start_index() for j in jobs])
    perturb = Perturbation(setup.noise, setup.clip, streams, start_index, n_starts, dev)
    readers = [(k, j) for j in jobs for k in ("velocity", "step_size") if k in keys and getattr(j, k)]
    wanted = [k for k in keys if k in ("path", "loss", "grad")] + sorted({k for k, _ in readers})
    rec = Recorder(wanted, len(record_steps), n, dt, dev)
    lrs = [np.full((len(record_steps), j.n_var), np.nan) for j in jobs]
    recorded = np.zeros(steps + 1, dtype=bool)
    recorded[record_steps] = True
    record_index = {s: i for i, s in enumerate(record_steps)}
    n_data = len(surf.data) if setup.batch_size else 0
    batch = setup.batch_size

    def objective(x, t):
        if batch:
            return surf.minibatch(x, streams.batch(t, n_data, batch))
        return surf(x)

    closure_job = jobs[0] if len(jobs) == 1 and jobs[0].closure else None

    def closure_for(o, ps):
        def closure():
            o.zero_grad()
            value = objective(torch.cat(ps) if len(ps) > 1 else ps[0], 0).sum()
            value.backward()
            return value
        return closure

    for t in range(steps + 1):
        value = objective(leaf, t)
        (G,) = torch.autograd.grad(value.sum(), leaf)
        with torch.no_grad():
            loss = surf(X) if batch else value.detach()
            watch.see(X, loss)
            if perturb.active:
                perturb.apply(G, t)
            if recorded[t]:
                rec.take("path", X)
                rec.take("loss", loss)
                rec.take("grad", G)
                if t > 0:
                    for k, job in readers:
                        v = job.read(getattr(job, k), t)
                        if v is not None:
                            rec.take(k, v, job.rows)
                i = record_index[t]
                if setup.schedule is not None or i == 0:   # without a schedule the rates never change
                    for job, arr in zip(jobs, lrs):
                        for v, lr in job.lrs():
                            arr[i, v] = lr
                if rec.next() and not watch.any_alive():
                    break   # every path has diverged: nothing left to run
        if t == steps:
            break
        # Diverged rows run on: updates are elementwise (or per start), so their NaNs cannot
        # reach other rows; the host masks them below.
        for job in jobs:
            if closure_job is None:
                job.set_grads(G)
            job.step(t, closure_for)
    rec.flush()
    if setup.schedule is None:
        for arr in lrs:
            arr[:] = arr[0]
    diverged = watch.diverged_at(steps)
    inside = watch.stayed_inside()
    steps_arr = np.asarray(record_steps, dtype=np.int64)
    host = rec.host
    if rec.written < len(record_steps):   # stopped early: every path diverged
        for k in wanted:
            host[k][rec.written:] = np.nan
    div = np.where(diverged < 0, np.iinfo(np.int64).max, diverged)
    dead = steps_arr[:, None] >= div[None, :]
    for k in wanted:
        host[k][dead] = np.nan
    return [_trace(job, host, diverged, inside, steps_arr, lr, setup) for job, lr in zip(jobs, lrs)]


def _trace(job: Job, host: dict, diverged, inside, steps_arr, lr, setup) -> Trace:
    """One job's rows, back in variant-major order."""
    rows = job.rows
    # laid-out row r holds variant-major row layout()[r]; take them back in variant-major order
    order = np.argsort(job.layout())
    mine = {}
    for k in ("path", "loss", "grad", "velocity", "step_size"):
        a = host.get(k)
        if a is None or (k in ("velocity", "step_size") and getattr(job, k) is None):
            mine[k] = None
            continue
        a = a[:, rows][:, order]
        if k in ("velocity", "step_size") and np.isnan(a).all():
            a = None   # e.g. RMSprop without momentum keeps no velocity
        mine[k] = a
    n_var = job.n_var
    sched = setup.schedule
    return Trace(
        label=job.spec.label, spec=job.spec,
        hyperparameters=dict(job.full[0]) if n_var == 1 else dict(job.base),
        steps=steps_arr, path=mine["path"], loss=mine["loss"], grad=mine["grad"],
        velocity=mine["velocity"], step_size=mine["step_size"],
        diverged_at=diverged[rows][order], lr=lr[:, 0] if n_var == 1 else lr,
        schedule=sched.label if sched else None, stayed_inside=inside[rows][order],
    )


__all__ = ["Setup", "simulate", "check_memory", "recorded_bytes", "start_points", "ALL_KEYS", "ESCAPE_WIDTHS", "MEMORY_BUDGET",
           "needs_closure"]
