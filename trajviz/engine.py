"""The run engine: every optimizer on N start points as one (N, 2) tensor on the device.

torch.optim's classic methods update each element independently, so N starts
stacked in one parameter give N independent paths for the price of one Python
loop (the loss is summed, not averaged, so each row sees its own gradient).

Nothing is read back to the host per step: divergence is tracked with device
masks, and recorded steps go to a device buffer that is copied to host numpy
arrays once per chunk. Memory grows only with the number of recorded steps.

The same job runs hyperparameter *variants* side by side (learning-rate tuning
and sweeps): rows are variants x starts. Variants that differ only in the
learning rate share one tensor where the method's update is proportional to
its learning rate (declared on the registry entry): torch.optim takes the step
with lr = 1 and each row's displacement is scaled by its own rate. Other
variants get a parameter group each, which torch.optim handles exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import optimizers as _optimizers
from . import surfaces as _surfaces
from .devices import resolve_device, resolve_dtype
from .errors import TrajvizError
from .result import Result, Trace

# How far beyond the domain a path may go before it counts as diverged, in domain widths.
ESCAPE_WIDTHS = 5.0
# Device buffer budget for recorded steps (bytes); bounds the chunk length.
CHUNK_BYTES = 32 * 2**20
MAX_STARTS = 10_000_000
MAX_STEPS = 100_000_000
MAX_SEED = 2**63 - 1
# Recorded arrays larger than this are refused with a hint, rather than failing half-way.
MEMORY_BUDGET = 8 * 2**30
DIAGNOSTICS = ("grad", "velocity", "step_size")
ALL_KEYS = ("path", "loss", "grad", "velocity", "step_size")


def _check_int(value, what: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise TrajvizError(f"bad {what}: {value!r} (must be a whole number >= {low})")
    if value < low:
        raise TrajvizError(f"bad {what}: {value} (must be >= {low})")
    return int(value)


def _check_float(value, what: str, low: float = 0.0) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TrajvizError(f"bad {what}: {value!r} (must be a number)") from None
    if not math.isfinite(v) or v < low:
        raise TrajvizError(f"bad {what}: {value} (must be a finite number >= {low:g})")
    return v


def start_points(surface, start=None, starts=None, seed: int = 0) -> np.ndarray:
    """The (N, 2) start points: given point(s), N seeded samples in the domain, or the default."""
    if start is not None and starts is not None:
        raise TrajvizError("give either start (points) or starts (a number to sample), not both")
    if starts is not None:
        n = _check_int(starts, "number of starts")
        if n > MAX_STARTS:
            raise TrajvizError(f"bad number of starts: {n} (at most {MAX_STARTS:,})")
        rng = np.random.default_rng(seed)
        (x0, x1), (y0, y1) = surface.domain
        return np.stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)], axis=1)
    if start is None:
        return np.asarray([surface.start], dtype=np.float64)
    try:
        pts = np.asarray(start, dtype=np.float64)
    except (TypeError, ValueError):
        raise TrajvizError(f"malformed start {start!r}: expected (x, y) or a list of them") from None
    if pts.ndim == 1:
        pts = pts[None, :]
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise TrajvizError(f"malformed start {start!r}: expected (x, y) or a list of them")
    if not np.isfinite(pts).all():
        raise TrajvizError(f"malformed start {start!r}: coordinates must be finite")
    return pts


class Setup:
    """Checked settings shared by every optimizer of one run (also used by tuning and sweeps)."""

    def __init__(self, surface, *, steps=None, start=None, starts=None, noise=0.0, batch_size=None, seed=0,
                 device="auto", dtype=None, record_every=1, clip=None, schedule=None, xlim=None, ylim=None):
        from .schedules import parse_schedule

        self.surface = _surfaces.get(surface, xlim=xlim, ylim=ylim)
        surf = self.surface
        self.steps = _check_int(steps if steps is not None else surf.steps, "steps")
        if self.steps > MAX_STEPS:
            raise TrajvizError(f"bad steps: {self.steps} (at most {MAX_STEPS:,})")
        self.record_every = _check_int(record_every, "record_every")
        self.noise = _check_float(noise, "noise")
        self.seed = _check_int(seed, "seed", low=0)
        if self.seed > MAX_SEED:
            raise TrajvizError(f"bad seed: {self.seed} (at most 2**63 - 1)")
        self.clip = None
        if clip is not None:
            self.clip = _check_float(clip, "clip")
            if self.clip == 0:
                raise TrajvizError("bad clip: 0 (must be > 0)")
        self.batch_size = None
        if batch_size is not None:
            self.batch_size = _check_int(batch_size, "batch size")
            if not surf.stochastic:
                raise TrajvizError(f"batch size needs a surface with data (regression), not '{surf.name}'")
            if self.batch_size > len(surf.data):
                raise TrajvizError(
                    f"bad batch size: {self.batch_size} (the data set has {len(surf.data)} points)")
        self.schedule = parse_schedule(schedule, self.steps)
        self.x0 = start_points(surf, start, starts, self.seed)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        rec = list(range(0, self.steps + 1, self.record_every))
        if rec[-1] != self.steps:
            rec.append(self.steps)
        self.record_steps = rec

    def settings(self, **extra) -> dict:
        out = {
            "steps": self.steps, "starts": len(self.x0), "noise": self.noise, "batch_size": self.batch_size,
            "seed": self.seed, "device": str(self.device), "dtype": str(self.dtype).removeprefix("torch."),
            "record_every": self.record_every, "clip": self.clip,
            "schedule": self.schedule.label if self.schedule else None,
        }
        out.update(extra)
        return out


def run(surface, opt="all", *, steps: int | None = None, start=None, starts: int | None = None,
        lr: float | None = None, noise: float = 0.0, batch_size: int | None = None, seed: int = 0,
        device="auto", dtype=None, record_every: int = 1, clip: float | None = None,
        schedule: str | None = None, tune: bool = False, diagnostics: bool = True,
        xlim: Sequence[float] | None = None, ylim: Sequence[float] | None = None) -> Result:
    """Run optimizers on a surface from one or many starts; return a :class:`Result`.

    Args:
        surface: a name (``"rosenbrock:b=10"``), a formula (``"x**2 + 10*y**2"``) or a Surface.
        opt: ``"all"`` (the classic seven), a spec (``"adam:lr=0.05"``), a torch.optim
            class, or a list of these.
        steps: number of optimizer steps (default: the surface's own).
        start: one (x, y) or a list of them. starts: sample this many starts in the domain.
        lr: learning rate for every selected optimizer (a spec's own ``lr=`` wins).
        noise: standard deviation of seeded Gaussian noise added to every gradient.
        batch_size: minibatch size on surfaces with data (``regression``).
        seed: seeds the start sampling, the noise and the minibatches.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``. dtype: float32 or float64.
        record_every: keep every k-th step (and the last).
        clip: clip each path's gradient to this norm (off by default: clipping
            turns SGD into normalized SGD).
        schedule: a learning-rate schedule, ``cosine``, ``step``, ``exponential`` or
            ``warmup``, with parameters by name (``"step:step_size=100,gamma=0.5"``).
        tune: search each optimizer's learning rate first (see :mod:`trajviz.tune`)
            and run each with its best rate.
        diagnostics: also record the gradient, velocity and per-axis step that the
            animations draw (``False`` keeps only path and loss: less memory).

    >>> import trajviz
    >>> r = trajviz.run("rosenbrock", "all", steps=100)
    >>> list(r.traces)[:2]
    ['sgd', 'momentum']
    """
    setup = Setup(surface, steps=steps, start=start, starts=starts, noise=noise, batch_size=batch_size,
                  seed=seed, device=device, dtype=dtype, record_every=record_every, clip=clip,
                  schedule=schedule, xlim=xlim, ylim=ylim)
    specs = _optimizers.resolve(opt, lr=lr, surface=setup.surface)
    tuned = {}
    if tune:
        from .tune import tune_specs

        for spec in specs:  # the candidates are rows of one job each
            check_memory(setup, spec, ("loss",), n_rows=len(setup.x0) * 64, n_records=2)
        specs, tuned = tune_specs(setup, specs)
    keys = ALL_KEYS if diagnostics else ("path", "loss")
    for spec in specs:
        check_memory(setup, spec, keys)
    traces = {}
    for spec in specs:
        trace = run_job(setup, spec, keys=keys)
        if spec.label in tuned:
            trace.tuned = tuned[spec.label]
        traces[spec.label] = trace
    settings = setup.settings(lr=lr, tuned={k: v.lr for k, v in tuned.items()} or None)
    return Result(surface=setup.surface, traces=traces, starts=setup.x0, settings=settings)


def check_memory(setup, spec, keys=ALL_KEYS, n_rows: int | None = None, n_records: int | None = None) -> None:
    """Refuse, with a hint, a run whose recorded arrays would not fit the memory budget."""
    rows = n_rows if n_rows is not None else len(setup.x0)
    records = n_records if n_records is not None else len(setup.record_steps)
    floats = sum({"path": 2, "loss": 1, "grad": 2, "velocity": 2, "step_size": 2}[k] for k in keys)
    width = 4 if str(setup.dtype).endswith("float32") else 8
    need = rows * records * floats * width
    if need > MEMORY_BUDGET:
        raise TrajvizError(
            f"{spec.label}: recording {records:,} steps of {rows:,} paths needs {need / 2**30:.1f} GiB "
            f"(at most {MEMORY_BUDGET / 2**30:.0f} GiB): use --record-every, fewer --starts or fewer --steps")


def run_job(setup: Setup, spec, variants: Sequence[dict] | None = None, keys=ALL_KEYS,
            record_steps: Sequence[int] | None = None) -> Trace:
    """Run one optimizer from every start, for each hyperparameter variant.

    Rows of the returned Trace are variant-major: row ``v * N + i`` is variant
    ``v`` from start ``i``. With no variants, the spec's own hyperparameters.
    """
    import torch

    surf, steps, dev, dt = setup.surface, setup.steps, setup.device, setup.dtype
    noise, clip, batch_size, schedule = setup.noise, setup.clip, setup.batch_size, setup.schedule
    record_steps = list(record_steps if record_steps is not None else setup.record_steps)
    n_starts = len(setup.x0)
    base = spec.hyperparameters()
    variants = [dict(v) for v in (variants or [{}])]
    full = [{**base, **v} for v in variants]
    n_var = len(variants)
    n = n_var * n_starts
    start = torch.as_tensor(np.tile(setup.x0, (n_var, 1)), dtype=dt, device=dev)

    # --- parameters, optimizer(s) and per-row learning-rate scales ---------------------
    scaled = (spec.batchable and n_var > 1 and all(spec.lr_is_scale(f) for f in full)
              and len({f.get("lr") for f in full}) > 1 and all("lr" in f for f in full)
              and (schedule is None or schedule.scale_free))
    if spec.batchable:
        groups: dict = {}
        for v, f in enumerate(full):
            key = tuple(sorted((k, repr(val)) for k, val in f.items() if not (scaled and k == "lr")))
            groups.setdefault(key, []).append(v)
        order = [v for members in groups.values() for v in members]  # variant order of the rows
        rows = np.concatenate([np.arange(v * n_starts, (v + 1) * n_starts) for v in order])
        params, group_dicts, lr_rows = [], [], []
        for members in groups.values():
            p = start[np.concatenate([np.arange(v * n_starts, (v + 1) * n_starts) for v in members])]
            p = p.clone().requires_grad_(True)
            params.append(p)
            kw = dict(full[members[0]])
            if scaled:
                kw["lr"] = 1.0
                lr_rows.append(torch.tensor([full[v]["lr"] for v in members], dtype=dt, device=dev)
                               .repeat_interleave(n_starts)[:, None])
            group_dicts.append({"params": [p], **kw})
        try:
            opts = [spec.torch_class(group_dicts, **{k: v for k, v in group_dicts[0].items() if k != "params"})]
        except (ValueError, TypeError, RuntimeError) as exc:
            raise TrajvizError(f"bad hyperparameters for {spec.label}: {exc}") from None
        owners = [(opts[0], params)]
    else:
        order = list(range(n_var))
        rows = np.arange(n)
        params = [start[r:r + 1].clone().requires_grad_(True) for r in range(n)]
        opts = [spec.with_kwargs(**variants[r // n_starts]).make([p]) for r, p in enumerate(params)]
        owners = [(o, [p]) for o, p in zip(opts, params)]
        lr_rows = []
    lr_scale = torch.cat(lr_rows) if scaled else None
    schedulers = [schedule.make(o) for o in opts] if schedule else []
    readers = spec.batchable and (spec.velocity is not None or spec.step_size is not None)

    gen = torch.Generator(device=dev)
    gen.manual_seed(setup.seed)
    (xa, xb), (ya, yb) = surf.domain
    # a path diverges when its position or loss is non-finite, or it leaves this box
    center = torch.tensor([(xa + xb) / 2, (ya + yb) / 2], dtype=dt, device=dev)
    half = torch.tensor([(0.5 + ESCAPE_WIDTHS) * (xb - xa), (0.5 + ESCAPE_WIDTHS) * (yb - ya)],
                        dtype=dt, device=dev)
    # alive is monotone, so counting the alive steps gives the first bad step
    alive = torch.ones(n, dtype=torch.bool, device=dev)
    alive_steps = torch.zeros(n, dtype=torch.long, device=dev)
    # whether each path stayed inside the plotting domain itself (tuning penalises leaving it)
    dom_center = torch.tensor([(xa + xb) / 2, (ya + yb) / 2], dtype=dt, device=dev)
    dom_half = torch.tensor([(xb - xa) / 2, (yb - ya) / 2], dtype=dt, device=dev)
    inside = torch.ones(n, dtype=torch.bool, device=dev)
    n_data = len(surf.data) if batch_size else 0
    single = len(params) == 1

    def stacked():
        return params[0] if single else torch.cat(params)

    def objective(x):
        if batch_size:
            index = torch.randint(n_data, (batch_size,), generator=gen, device=dev)
            return surf.minibatch(x, index)
        return surf(x)

    def make_closure(opt, ps):
        # for optimizers such as LBFGS that re-evaluate the function inside step()
        def closure():
            opt.zero_grad()
            value = objective(torch.cat(ps) if len(ps) > 1 else ps[0]).sum()
            value.backward()
            return value
        return closure

    needs_closure = _needs_closure(spec)
    if needs_closure and (noise or clip is not None or batch_size):
        raise TrajvizError(f"{spec.label} re-evaluates the function inside its step (a closure), so "
                           "--noise, --clip and --batch-size would not reach it: run it without them")

    # host arrays for what is recorded; device buffers for one chunk
    np_dt = np.float32 if dt == torch.float32 else np.float64
    t_rec = len(record_steps)
    shapes = {"path": (n, 2), "loss": (n,), "grad": (n, 2), "velocity": (n, 2), "step_size": (n, 2)}
    wanted = [k for k in keys if k in ("path", "loss", "grad")
              or (readers and k == "velocity" and spec.velocity) or (readers and k == "step_size" and spec.step_size)]
    host = {k: np.full((t_rec,) + shapes[k], np.nan, np_dt) for k in wanted}
    per_record = sum(int(np.prod(shapes[k])) for k in wanted) * (4 if np_dt == np.float32 else 8)
    chunk = max(1, min(t_rec, 256, CHUNK_BYTES // max(per_record, 1)))
    buf = {k: torch.full((chunk,) + shapes[k], float("nan"), dtype=dt, device=dev) for k in wanted}
    lr_host = np.full((t_rec, n_var), np.nan)
    filled, written = 0, 0
    record_at = {s: j for j, s in enumerate(record_steps)}

    def flush():
        nonlocal filled, written
        if filled:
            for k in wanted:
                host[k][written:written + filled] = buf[k][:filled].cpu().numpy()
                if k in ("velocity", "step_size"):
                    buf[k][:filled].fill_(float("nan"))
            written += filled
            filled = 0

    def read_state(reader, t):
        parts = []
        for o, _ in owners:
            for group in o.param_groups:
                for p in group["params"]:
                    v = reader(o.state[p], group, t)
                    if v is None:
                        return None
                    parts.append(v)
        out = parts[0] if len(parts) == 1 else torch.cat(parts)
        return out * lr_scale if lr_scale is not None else out

    # where each variant's learning rate lives: (optimizer, group index, scale)
    if spec.batchable:
        lr_source = {}
        for gi, members in enumerate(groups.values()):
            for v in members:
                lr_source[v] = (opts[0], gi, full[v]["lr"] if scaled else 1.0)
    else:
        lr_source = {v: (opts[v * n_starts], 0, 1.0) for v in range(n_var)}

    def record_lrs(j):
        for v, (o, gi, scale) in lr_source.items():
            value = o.param_groups[gi].get("lr")
            if isinstance(value, (int, float)):
                lr_host[j, v] = value * scale

    for t in range(steps + 1):
        for o in opts:
            o.zero_grad(set_to_none=True)
        x = stacked()
        value = objective(x)
        value.sum().backward()
        with torch.no_grad():
            loss = surf(x) if batch_size else value
            ok = ((x - center).abs() <= half).all(-1) & torch.isfinite(loss)
            alive &= ok
            alive_steps += alive
            inside &= ((x - dom_center).abs() <= dom_half).all(-1)
            g = torch.cat([p.grad for p in params]) if not single else params[0].grad
            if noise or clip is not None:
                if noise:
                    # every variant (and every optimizer) sees the same noise for a seed
                    draw = torch.randn((n_starts, 2), generator=gen, device=dev, dtype=dt)
                    g = g + noise * (draw.repeat(n_var, 1) if n_var > 1 else draw)
                if clip is not None:
                    norm = g.norm(dim=-1, keepdim=True)
                    g = g * torch.clamp(clip / norm.clamp_min(1e-300), max=1.0)
                offset = 0
                for p in params:
                    p.grad.copy_(g[offset:offset + len(p)])
                    offset += len(p)
            if t in record_at:
                j = record_at[t]
                if "path" in buf:
                    buf["path"][filled].copy_(x)
                if "loss" in buf:
                    buf["loss"][filled].copy_(loss)
                if "grad" in buf:
                    buf["grad"][filled].copy_(g)
                if t > 0:
                    for k, reader in (("velocity", spec.velocity), ("step_size", spec.step_size)):
                        if k in buf:
                            v = read_state(reader, t)
                            if v is not None:
                                buf[k][filled].copy_(v)
                record_lrs(j)
                filled += 1
                if filled == chunk:
                    flush()
                    if not bool(alive.any()):
                        break  # every path has diverged: nothing left to run
            if t == steps:
                break
            if scaled:
                prev = x.detach().clone()
        # Diverged rows are left to run on: the update is elementwise (or per start),
        # so their NaNs cannot reach the other rows; the host masks them below.
        try:
            for o, ps in owners:
                if needs_closure:
                    o.step(make_closure(o, ps))
                else:
                    o.step()
        except (RuntimeError, ValueError, AssertionError, IndexError, TypeError) as exc:
            raise TrajvizError(f"{spec.label} failed at step {t + 1}: {type(exc).__name__}: {exc}"
                               .replace("\n", " ")) from None
        if scaled:
            with torch.no_grad():
                moved = prev + lr_scale * (stacked() - prev)
                offset = 0
                for p in params:
                    p.copy_(moved[offset:offset + len(p)])
                    offset += len(p)
        for s in schedulers:
            s.step()
    flush()

    counted = alive_steps.cpu().numpy().astype(np.int64)
    stayed_inside = inside.cpu().numpy()
    diverged_at = np.where(counted > steps, -1, counted)
    steps_arr = np.asarray(record_steps, dtype=np.int64)
    if written < t_rec:  # stopped early: every path diverged
        for k in wanted:
            host[k][written:] = np.nan
    div = np.where(diverged_at < 0, np.iinfo(np.int64).max, diverged_at)
    dead = steps_arr[:, None] >= div[None, :]
    for k in wanted:
        host[k][dead] = np.nan
    # back to variant-major row order
    reordered = not np.array_equal(rows, np.arange(n))
    if reordered:
        inverse = np.empty(n, dtype=np.int64)
        inverse[rows] = np.arange(n)
        for k in wanted:
            host[k] = host[k][:, inverse]
        diverged_at = diverged_at[inverse]
    for k in ("velocity", "step_size"):
        if host.get(k) is not None and np.isnan(host[k]).all():
            host[k] = None  # e.g. RMSprop without momentum keeps no velocity
    return Trace(
        label=spec.label, spec=spec, hyperparameters=dict(full[0]) if n_var == 1 else dict(base),
        steps=steps_arr, path=host.get("path"), loss=host.get("loss"), grad=host.get("grad"),
        velocity=host.get("velocity"), step_size=host.get("step_size"), diverged_at=diverged_at,
        lr=lr_host[:, 0] if n_var == 1 else lr_host, schedule=schedule.label if schedule else None,
        stayed_inside=stayed_inside[inverse] if reordered else stayed_inside,
    )


def _needs_closure(spec) -> bool:
    import inspect

    step = spec.torch_class.step
    param = inspect.signature(step).parameters.get("closure")
    return param is not None and param.default is inspect.Parameter.empty
