"""The run engine: every optimizer on N start points as one (N, 2) tensor on the device.

torch.optim's classic methods update each element independently, so N starts
stacked in one parameter give N independent paths for the price of one Python
loop (the loss is summed, not averaged, so each row sees its own gradient).

Nothing is read back to the host per step: divergence is tracked with device
masks, and recorded steps go to a device buffer that is copied to host numpy
arrays once per chunk. Memory grows only with the number of recorded steps.
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


def run(surface, opt="all", *, steps: int | None = None, start=None, starts: int | None = None,
        lr: float | None = None, noise: float = 0.0, batch_size: int | None = None, seed: int = 0,
        device="auto", dtype=None, record_every: int = 1, clip: float | None = None,
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

    >>> import trajviz
    >>> r = trajviz.run("rosenbrock", "all", steps=100)
    >>> sorted(r.traces)[:2]
    ['adadelta', 'adagrad']
    """
    surf = _surfaces.get(surface, xlim=xlim, ylim=ylim)
    steps = _check_int(steps if steps is not None else surf.steps, "steps")
    record_every = _check_int(record_every, "record_every")
    noise = _check_float(noise, "noise")
    seed = _check_int(seed, "seed", low=0)
    if clip is not None:
        clip = _check_float(clip, "clip")
        if clip == 0:
            raise TrajvizError("bad clip: 0 (must be > 0)")
    if batch_size is not None:
        batch_size = _check_int(batch_size, "batch size")
        if not surf.stochastic:
            raise TrajvizError(f"batch size needs a surface with data (regression), not '{surf.name}'")
        if batch_size > len(surf.data):
            raise TrajvizError(f"bad batch size: {batch_size} (the data set has {len(surf.data)} points)")
    specs = _optimizers.resolve(opt, lr=lr, surface=surf)
    x0 = start_points(surf, start, starts, seed)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)

    record_steps = list(range(0, steps + 1, record_every))
    if record_steps[-1] != steps:
        record_steps.append(steps)
    traces = {}
    for spec in specs:
        traces[spec.label] = _run_one(surf, spec, x0, steps, record_steps, noise, batch_size, seed,
                                      dev, dt, clip)
    settings = {
        "steps": steps, "starts": len(x0), "noise": noise, "batch_size": batch_size, "seed": seed,
        "device": str(dev), "dtype": str(dt).removeprefix("torch."), "record_every": record_every,
        "lr": lr, "clip": clip,
    }
    return Result(surface=surf, traces=traces, starts=x0, settings=settings)


def _run_one(surf, spec, x0, steps, record_steps, noise, batch_size, seed, dev, dt, clip) -> Trace:
    import torch

    n = len(x0)
    start = torch.as_tensor(x0, dtype=dt, device=dev)
    if spec.batchable:
        params = [start.clone().requires_grad_(True)]
        opts = [spec.make(params)]
    else:
        params = [start[i:i + 1].clone().requires_grad_(True) for i in range(n)]
        opts = [spec.make([p]) for p in params]
    readers = spec.batchable and (spec.velocity is not None or spec.step_size is not None)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)

    (xa, xb), (ya, yb) = surf.domain
    # a path diverges when its position or loss is non-finite, or it leaves this box
    center = torch.tensor([(xa + xb) / 2, (ya + yb) / 2], dtype=dt, device=dev)
    half = torch.tensor([(0.5 + ESCAPE_WIDTHS) * (xb - xa), (0.5 + ESCAPE_WIDTHS) * (yb - ya)],
                        dtype=dt, device=dev)
    # alive is monotone, so counting the alive steps gives the first bad step
    alive = torch.ones(n, dtype=torch.bool, device=dev)
    alive_steps = torch.zeros(n, dtype=torch.long, device=dev)
    n_data = len(surf.data) if batch_size else 0

    def stacked():
        return params[0] if spec.batchable else torch.cat(params)

    def objective(x):
        if batch_size:
            index = torch.randint(n_data, (batch_size,), generator=gen, device=dev)
            return surf.minibatch(x, index)
        return surf(x)

    def make_closure(opt, p):
        # for optimizers such as LBFGS that re-evaluate the function inside step()
        def closure():
            opt.zero_grad()
            value = objective(p).sum()
            value.backward()
            return value
        return closure

    needs_closure = _needs_closure(spec)

    # host arrays for what is recorded; device buffers for one chunk
    np_dt = np.float32 if dt == torch.float32 else np.float64
    t_rec = len(record_steps)
    host = {
        "path": np.empty((t_rec, n, 2), np_dt), "loss": np.empty((t_rec, n), np_dt),
        "grad": np.empty((t_rec, n, 2), np_dt),
    }
    if readers:
        host["velocity"] = np.full((t_rec, n, 2), np.nan, np_dt) if spec.velocity else None
        host["step_size"] = np.full((t_rec, n, 2), np.nan, np_dt) if spec.step_size else None
    keys = [k for k, v in host.items() if v is not None]
    per_record = n * (2 + 1 + 2 + 2 * (len(keys) - 3)) * (4 if np_dt == np.float32 else 8)
    chunk = max(1, min(t_rec, 256, CHUNK_BYTES // max(per_record, 1)))
    buf = {k: torch.full((chunk,) + host[k].shape[1:], float("nan"), dtype=dt, device=dev) for k in keys}
    filled, written = 0, 0
    record_set = set(record_steps)

    def flush():
        nonlocal filled, written
        if filled:
            for k in keys:
                host[k][written:written + filled] = buf[k][:filled].cpu().numpy()
                if k in ("velocity", "step_size"):
                    buf[k][:filled].fill_(float("nan"))
            written += filled
            filled = 0

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
            g = params[0].grad if spec.batchable else torch.cat([p.grad for p in params])
            if noise or clip is not None:
                if noise:
                    g = g + noise * torch.randn(g.shape, generator=gen, device=dev, dtype=dt)
                if clip is not None:
                    norm = g.norm(dim=-1, keepdim=True)
                    g = g * torch.clamp(clip / norm.clamp_min(1e-300), max=1.0)
                if spec.batchable:
                    params[0].grad.copy_(g)
                else:
                    for i, p in enumerate(params):
                        p.grad.copy_(g[i:i + 1])
            if t in record_set:
                buf["path"][filled].copy_(x)
                buf["loss"][filled].copy_(loss)
                buf["grad"][filled].copy_(g)
                if readers and t > 0:
                    state, group = opts[0].state[params[0]], opts[0].param_groups[0]
                    for k, reader in (("velocity", spec.velocity), ("step_size", spec.step_size)):
                        if k in buf:
                            v = reader(state, group, t)
                            if v is not None:
                                buf[k][filled].copy_(v)
                filled += 1
                if filled == chunk:
                    flush()
                    if not bool(alive.any()):
                        break  # every path has diverged: nothing left to run
            if t == steps:
                break
        # Diverged rows are left to run on: the update is elementwise (or per start),
        # so their NaNs cannot reach the other rows; the host masks them below.
        for o, p in zip(opts, params):
            if needs_closure:
                o.step(make_closure(o, p))
            else:
                o.step()
    flush()

    counted = alive_steps.cpu().numpy().astype(np.int64)
    diverged = np.where(counted > steps, -1, counted)
    diverged_at = diverged
    steps_arr = np.asarray(record_steps, dtype=np.int64)
    if written < t_rec:  # stopped early: every path diverged
        for k in keys:
            host[k][written:] = np.nan
    div = np.where(diverged_at < 0, np.iinfo(np.int64).max, diverged_at)
    dead = steps_arr[:, None] >= div[None, :]
    for k in keys:
        host[k][dead] = np.nan
    for k in ("velocity", "step_size"):
        if host.get(k) is not None and np.isnan(host[k]).all():
            host[k] = None  # e.g. RMSprop without momentum keeps no velocity
    return Trace(
        label=spec.label, spec=spec, hyperparameters=spec.hyperparameters(), steps=steps_arr,
        path=host["path"], loss=host["loss"], grad=host["grad"], velocity=host.get("velocity"),
        step_size=host.get("step_size"), diverged_at=diverged_at,
    )


def _needs_closure(spec) -> bool:
    import inspect

    step = spec.torch_class.step
    param = inspect.signature(step).parameters.get("closure")
    return param is not None and param.default is inspect.Parameter.empty
