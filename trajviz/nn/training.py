"""Train a network with several optimizers from one start, and put their paths on one plane.

Every method starts from the same initial weights and sees the same minibatches
in the same order: at gradient evaluation ``t`` the rows
``trajviz.sampling.batch_rows(seed, t, n, B)`` (the project's seeded stream;
computed on the device by :class:`trajviz.sampling.TorchStreams`). With
``batch_size >= n`` every step uses the whole data set. Each step is a plain
torch.optim step (``opt.step(closure)`` with ``zero_grad``, forward on the
batch, ``backward``), so the recorded training is exactly what a hand-written
loop produces.

Recorded per method, every ``record_every`` steps and the last: the flat
parameter vector (P,) in the order of ``model.parameters()``; the minibatch
loss at that step (the batch the step is about to use; NaN after the last
step); the full-data loss (evaluation mode, evaluated afterwards in batches);
the gradient used. Then the plane (:mod:`trajviz.nn.plane`), the projection of
every recorded vector, and the loss at each projected point.

>>> r = train("mlp", steps=20, device="cpu")
>>> r.labels
['sgd', 'momentum', 'rmsprop', 'adam']
>>> r["adam"].params.shape, r.plane.directions.shape
((21, 61), (2, 61))
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TrajvizError
from . import scenarios as _scenarios
from .grid import Evaluator, Layout, flatten
from .landscape import PlaneLandscape, window
from .plane import MAX_END_RATIO, MIN_CAPTURED, Plane, pca_plane, random_plane

DEFAULT_LR = 0.01
DEFAULT_EPOCHS = 12
DEFAULT_BATCH = 32
MAX_STEPS = 10_000_000
# A run whose full loss grows past this factor times its start's has diverged (the weights may still be
# finite, but one such path would be all the PCA plane shows).
DIVERGED = 1e6
# Host memory for the recorded vectors of all methods, before refusing (use record_every).
MAX_RECORD_BYTES = 4 * 2**30
EXPORTS = (".npz", ".json", ".csv")


class OffPlaneWarning(UserWarning):
    """Most of the movement is off the drawn plane: positions on the picture mean little."""


@dataclass
class MethodRun:
    """One optimizer's training, recorded and projected.

    Attributes:
        label: the name in outputs (``"adam"``). spec: the OptimizerSpec.
        hyperparameters: the keyword arguments given to torch.optim.
        steps: (T,) recorded step numbers (0 = the common start).
        params: (T, P) the flat parameter vectors, in ``model.parameters()`` order.
        coords: (T, 2) plane coordinates (a, b).
        off_plane: (T,) distance from the plane; distance: (T,) distance from the start;
        off_plane_ratio: (T,) off_plane / distance (0 at the start; NaN after divergence).
        loss: (T,) full-data loss (evaluation mode). loss_projected: (T,) the loss at the
            projected point ``center + a d1 + b d2``. batch_loss: (T,) the minibatch loss
            of the step taken from there (NaN at the last step).
        grads: (T, P) the minibatch gradient used at each recorded step (NaN at the last).
        velocities: (T, P) the displacement per step carried by momentum (-lr * buffer,
            from the optimizer's state via its registry entry), or None.
        diverged_at: the first recorded step whose weights or full loss are non-finite, or whose full
            loss exceeds DIVERGED (1e6) times the loss at the start; -1 if none.
    """

    label: str
    spec: Any
    hyperparameters: dict
    steps: np.ndarray
    params: np.ndarray
    loss: np.ndarray
    batch_loss: np.ndarray
    grads: np.ndarray
    velocities: np.ndarray | None
    diverged_at: int
    coords: np.ndarray | None = None
    off_plane: np.ndarray | None = None
    distance: np.ndarray | None = None
    off_plane_ratio: np.ndarray | None = None
    loss_projected: np.ndarray | None = None

    @property
    def final_loss(self) -> float:
        ok = np.flatnonzero(np.isfinite(self.loss))
        return float(self.loss[ok[-1]]) if len(ok) else math.nan

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def title(self) -> str:
        return self.spec.title


@dataclass
class TrainResult:
    """Every method's training on one shared plane.

    ``result.plane`` (center, directions, explained, loss_at), ``result["adam"]``
    (a :class:`MethodRun`), ``result.landscape`` (for the renderer),
    ``result.to_result()`` (a trajviz Result), ``result.save("run.npz")``.
    """

    name: str
    description: str
    methods: dict
    plane: Plane
    landscape: PlaneLandscape
    settings: dict
    evaluator: Any = field(repr=False, default=None)
    layout: Any = field(repr=False, default=None)
    warnings: list = field(default_factory=list)
    tuned: dict = field(default_factory=dict)

    def __getitem__(self, label: str) -> MethodRun:
        try:
            return self.methods[label]
        except KeyError:
            raise KeyError(f"{label!r}; this result has {', '.join(self.methods)}") from None

    def __iter__(self):
        return iter(self.methods.values())

    def __len__(self) -> int:
        return len(self.methods)

    @property
    def labels(self) -> list[str]:
        return list(self.methods)

    def __repr__(self) -> str:
        m = next(iter(self.methods.values()))
        return (f"<TrainResult {self.name}: {', '.join(self.methods)}; {int(m.steps[-1])} steps, "
                f"{self.plane.n_params} parameters, {self.plane.kind} plane "
                f"({100 * self.captured:.1f}% of the movement)>")

    @property
    def start(self) -> np.ndarray:
        """The common start (P,)."""
        return self.plane.origin

    @property
    def captured(self) -> float:
        """Share of all methods' squared movement from the start that the plane holds."""
        return self.plane.captured(np.concatenate([m.params for m in self]))

    def end_ratios(self) -> dict:
        """Off-plane distance over distance from the start, at each method's last finite step."""
        out = {}
        for m in self:
            ok = np.flatnonzero(np.isfinite(m.off_plane_ratio))
            out[m.label] = float(m.off_plane_ratio[ok[-1]]) if len(ok) else math.nan
        return out

    def grid(self, x, y) -> np.ndarray:
        """The loss on the plane at every (x[j], y[i]): (len(y), len(x))."""
        return self.landscape.grid(x, y)

    def with_plane(self, plane: str = "pca", *, center="start", seed: int | None = None,
                   bias: str = "zero") -> TrainResult:
        """The same training on another plane (no retraining)."""
        other = _project(self.name, self.description, list(self.methods.values()), self.evaluator,
                         self.layout, plane=plane, center=center,
                         seed=self.settings.get("seed", 0) if seed is None else seed, bias=bias,
                         settings=dict(self.settings))
        other.tuned = self.tuned
        return other

    # ---- pictures: the same renderer as every surface -----------------------------------------
    def plot(self, ax=None, **options):
        """The paths on the plane's contour map with the loss panel (options of ``trajviz.plot``)."""
        return self.to_result().plot(ax=ax, **options)

    def animate(self, path=None, **options):
        """Animate the training on the plane (options of ``trajviz.animate``); returns an Animation."""
        return self.to_result().animate(path, **options)

    def _repr_png_(self):
        return self.to_result()._repr_png_()

    # ---- the renderer's view --------------------------------------------------------------------
    def to_result(self):
        """A trajviz Result: the landscape and one Trace per method (path = plane coords, N = 1)."""
        from ..result import Result, Trace

        traces = {}
        for m in self:
            T = len(m.steps)
            inv = np.linalg.inv(self.plane.gram)
            grad = (m.grads @ self.plane.directions.T) @ inv.T
            vel = None if m.velocities is None else (m.velocities @ self.plane.directions.T) @ inv.T
            lr = m.hyperparameters.get("lr")
            extras = {
                "loss_projected": m.loss_projected[:, None],
                "off_plane": m.off_plane_ratio[:, None],
                "off_plane_distance": m.off_plane[:, None],
                "batch_loss": m.batch_loss[:, None],
            }
            kw = dict(label=m.label, spec=m.spec, hyperparameters=dict(m.hyperparameters), steps=m.steps.copy(),
                      path=m.coords[:, None, :].copy(), loss=m.loss[:, None].copy(), grad=grad[:, None, :],
                      velocity=None if vel is None else vel[:, None, :], step_size=None,
                      diverged_at=np.array([m.diverged_at]),
                      lr=None if not isinstance(lr, (int, float)) else np.full(T, float(lr)),
                      stayed_inside=np.array([True]))
            if "extras" in getattr(Trace, "__dataclass_fields__", {}):
                kw["extras"] = extras
            kw["tuned"] = self.tuned.get(m.label)
            trace = Trace(**kw)
            if "extras" not in kw:
                trace.extras = extras
            for key, value in extras.items():
                setattr(trace, key, value)
            traces[m.label] = trace
        first = next(iter(self.methods.values()))
        settings = {k: v for k, v in self.settings.items() if isinstance(v, (int, float, str, bool, type(None)))}
        settings.update(plane=self.plane.kind, explained=tuple(float(e) for e in self.plane.explained),
                        captured=self.captured, tuned=self.settings.get("tuned"))
        return Result(surface=self.landscape, traces=traces, starts=first.coords[:1].copy(), settings=settings)

    # ---- export ---------------------------------------------------------------------------------
    def summary(self) -> str:
        """A small table: each method's final loss, position on the plane and off-plane ratio."""
        lines = [f"{self.description}",
                 f"plane: {self.plane.description}",
                 f"{'method':<24} {'final loss':>11} {'projected':>11} {'a':>9} {'b':>9} {'off-plane':>9}"]
        ratios = self.end_ratios()
        for m in self:
            ok = np.flatnonzero(np.isfinite(m.loss))
            i = ok[-1] if len(ok) else -1
            lines.append(f"{m.label:<24} {m.loss[i]:>11.4g} {m.loss_projected[i]:>11.4g} {m.coords[i, 0]:>9.3g} "
                         f"{m.coords[i, 1]:>9.3g} {100 * ratios[m.label]:>8.1f}%")
        lines.append("(off-plane: distance from the plane / distance from the start, at the last step)")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready: settings, the plane's summary and per method the per-step arrays (no P-vectors)."""
        def arr(x):
            return [None if not np.isfinite(v) else float(v) for v in np.asarray(x, dtype=np.float64).ravel()]

        return {
            "scenario": self.name,
            "description": self.description,
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.settings.items()},
            "plane": {"kind": self.plane.kind, "center": self.plane.center_name, "seed": self.plane.seed,
                      "explained": arr(self.plane.explained), "captured": self.captured,
                      "n_params": self.plane.n_params, "description": self.plane.description},
            "domain": [list(self.landscape.domain[0]), list(self.landscape.domain[1])],
            "warnings": list(self.warnings),
            "methods": [{
                "name": m.label, "method": m.name, "analogy": m.spec.analogy,
                "hyperparameters": _jsonable(m.hyperparameters),
                "step": m.steps.tolist(), "a": arr(m.coords[:, 0]), "b": arr(m.coords[:, 1]),
                "loss": arr(m.loss), "loss_projected": arr(m.loss_projected), "batch_loss": arr(m.batch_loss),
                "off_plane_ratio": arr(m.off_plane_ratio), "off_plane_distance": arr(m.off_plane),
                "diverged_at": m.diverged_at if m.diverged_at >= 0 else None,
            } for m in self],
        }

    def to_npz(self, file, grid: int = 51) -> None:
        """Everything, stacked over methods: params (K, T, P), coords (K, T, 2), losses (K, T),
        the plane (center, directions, explained) and a ``grid`` x ``grid`` loss grid on the window."""
        ms = list(self)
        out = dict(
            methods=np.array([m.label for m in ms]), steps=ms[0].steps,
            params=np.stack([m.params for m in ms]), coords=np.stack([m.coords for m in ms]),
            loss=np.stack([m.loss for m in ms]), loss_projected=np.stack([m.loss_projected for m in ms]),
            batch_loss=np.stack([m.batch_loss for m in ms]),
            off_plane_ratio=np.stack([m.off_plane_ratio for m in ms]),
            off_plane_distance=np.stack([m.off_plane for m in ms]),
            diverged_at=np.array([m.diverged_at for m in ms]),
            center=self.plane.center, directions=self.plane.directions, explained=self.plane.explained,
            origin=self.plane.origin, plane_kind=np.array(self.plane.kind),
            param_names=np.array(list(self.layout.names)) if self.layout is not None else np.array([]),
        )
        if grid:
            (x0, x1), (y0, y1) = self.landscape.domain
            ga, gb = np.linspace(x0, x1, grid), np.linspace(y0, y1, grid)
            out.update(grid_a=ga, grid_b=gb, grid_loss=self.landscape.grid(ga, gb))
        np.savez(file, **out)

    def to_csv(self, file) -> None:
        file.write("optimizer,step,a,b,loss,loss_projected,batch_loss,off_plane_ratio\n")
        for m in self:
            label = m.label if not any(c in m.label for c in ',"\n') else '"' + m.label.replace('"', '""') + '"'
            for i, s in enumerate(m.steps.tolist()):
                file.write(f"{label},{s},{m.coords[i, 0]!r},{m.coords[i, 1]!r},{m.loss[i]!r},"
                           f"{m.loss_projected[i]!r},{m.batch_loss[i]!r},{m.off_plane_ratio[i]!r}\n")

    def save(self, path) -> Path:
        """Write the data to ``path`` by its extension (.npz, .json, .csv), atomically."""
        from ..atomic import atomic_path

        path = Path(path)
        ext = path.suffix.lower()
        if ext not in EXPORTS:
            raise TrajvizError(f"cannot export to '{path.name}': use one of {', '.join(EXPORTS)}")
        with atomic_path(path) as tmp:
            if ext == ".npz":
                with open(tmp, "wb") as f:
                    self.to_npz(f)
            elif ext == ".json":
                with open(tmp, "w") as f:
                    json.dump(self.to_dict(), f)
                    f.write("\n")
            else:
                with open(tmp, "w", newline="") as f:
                    self.to_csv(f)
        return path


def _jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, tuple):
            v = list(v)
        out[k] = v if isinstance(v, (bool, int, float, str, list)) or v is None else repr(v)
    return out


# ---- input checking ------------------------------------------------------------------------------
def _check_int(value, what: str, low: int = 1, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise TrajvizError(f"bad {what}: {value!r} (must be a whole number >= {low})")
    if value < low or (high is not None and value > high):
        raise TrajvizError(f"bad {what}: {value} (must be >= {low}" + (f" and <= {high:,})" if high else ")"))
    return int(value)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _as_tensor(x, what: str):
    import torch

    if isinstance(x, torch.Tensor):
        return x.detach()
    try:
        return torch.as_tensor(np.asarray(x))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TrajvizError(f"cannot read the {what} as a tensor: {_first_line(exc)}") from None


def _read_data(data):
    """(X, Y, loader batch size or None) from (X, Y), a TensorDataset, a Dataset or a DataLoader."""
    import torch
    from torch.utils.data import DataLoader, Dataset

    if data is None:
        raise TrajvizError("train(model, loss_fn, data): data is missing (a pair (X, Y) or a DataLoader)")
    batch = None
    if isinstance(data, DataLoader):
        batch = data.batch_size
        source = data
        if not isinstance(data.dataset, torch.utils.data.IterableDataset) and hasattr(data.dataset, "__len__"):
            # the rows in the data set's own order (the loader's shuffling is replaced by the seeded order)
            source = DataLoader(data.dataset, batch_size=max(1, min(len(data.dataset), 4096)), shuffle=False,
                                collate_fn=data.collate_fn)
        try:
            parts = list(source)
        except Exception as exc:  # noqa: BLE001 - the user's loader, said in one line
            raise TrajvizError(f"cannot read the DataLoader: {_first_line(exc)}") from None
        if not parts:
            raise TrajvizError("the DataLoader is empty")
        if not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in parts):
            raise TrajvizError("the DataLoader must yield (inputs, targets) pairs")
        X = torch.cat([_as_tensor(p[0], "inputs") for p in parts])
        Y = torch.cat([_as_tensor(p[1], "targets") for p in parts])
        return X, Y, batch
    if isinstance(data, Dataset) and not isinstance(data, (tuple, list)):
        if isinstance(data, torch.utils.data.TensorDataset) and len(data.tensors) == 2:
            return data.tensors[0], data.tensors[1], None
        try:
            return (*_read_data(DataLoader(data, batch_size=max(1, len(data))))[:2], None)
        except TypeError as exc:
            raise TrajvizError(f"cannot read the data set: {_first_line(exc)}") from None
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return _as_tensor(data[0], "inputs"), _as_tensor(data[1], "targets"), None
    raise TrajvizError("data must be a pair (X, Y) of tensors or arrays, a Dataset or a DataLoader")


def _check_model(model) -> None:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TrajvizError(f"model must be a torch.nn.Module or a scenario name ({', '.join(_scenarios.names())}); "
                           f"got {type(model).__name__}")
    params = list(model.named_parameters())
    if not params:
        raise TrajvizError("the model has no parameters to train")
    for name, p in params:
        if not p.is_floating_point():
            raise TrajvizError(f"parameter '{name}' of the model is {str(p.dtype).removeprefix('torch.')}: "
                               "trajviz trains floating-point parameters only")


def _check_fit(model, loss_fn, X, Y) -> None:
    """One forward and loss on two rows: a data set that does not fit the model fails here, in one line."""
    import torch

    if X.ndim == 0 or Y.ndim == 0:
        raise TrajvizError("the inputs and targets need a first dimension of rows")
    if len(X) != len(Y):
        raise TrajvizError(f"the data do not fit: {len(X)} input rows but {len(Y)} targets")
    if len(X) == 0:
        raise TrajvizError("the data set is empty")
    rows = slice(0, min(2, len(X)))
    probe = copy.deepcopy(model).eval()
    where = f"the data do not fit the model: inputs {tuple(X.shape)}, targets {tuple(Y.shape)}"
    try:
        with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = loss_fn(probe(X[rows]), Y[rows])
    except Exception as exc:  # noqa: BLE001 - whatever the model raises, one line
        raise TrajvizError(f"{where}: {_first_line(exc)}") from None
    for w in caught:
        # torch's losses warn, then broadcast (N, 1) against (N,) into (N, N): a silent wrong answer
        if "target size" in str(w.message):
            raise TrajvizError(f"{where}: {str(w.message).splitlines()[0]}")
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not isinstance(value, torch.Tensor) or value.numel() != 1 or not value.is_floating_point():
        raise TrajvizError("loss_fn(model(X), Y) must return a scalar floating-point tensor (a mean over rows)")


def _resolve_opt(opt, lr, defaults):
    from .. import optimizers as O

    if opt is None:
        specs = O.resolve([s for _, s in defaults], lr=lr)  # lr checked here, set below
        # the scenario's settings are trajviz's choice, not the user's: kept in `filled`, so that
        # pictures name the methods ("Momentum") and the settings go in the run's description
        specs = [spec.with_filled(**spec.kwargs) for spec in specs]
        return [replace(spec if lr is None else spec.with_filled(lr=float(lr)), kwargs={}, label=label)
                for (label, _), spec in zip(defaults, specs)]
    # a spec's own lr= wins, then --lr, then the tutorial's 0.01 (not torch's per-class defaults)
    return O.resolve(opt, lr=DEFAULT_LR if lr is None else lr)


# ---- training ------------------------------------------------------------------------------------
def _record_steps(steps: int, every: int) -> np.ndarray:
    rec = list(range(0, steps + 1, every))
    if rec[-1] != steps:
        rec.append(steps)
    return np.asarray(rec, dtype=np.int64)


def train_method(model, spec, loss_fn, X, Y, *, steps: int, batch_size: int, seed: int,
                 record_every: int = 1) -> MethodRun:
    """Train a copy of ``model`` with one optimizer spec; record every ``record_every`` steps."""
    import torch

    from ..sampling import TorchStreams

    m = copy.deepcopy(model)
    m.train()
    params = list(m.parameters())
    dev, dt = params[0].device, params[0].dtype
    opt = spec.make(params)
    n = len(X)
    full_batch = batch_size >= n
    streams = TorchStreams(seed, dev, dt)
    rec = _record_steps(steps, record_every)
    where = np.full(steps + 1, -1, dtype=np.int64)
    where[rec] = np.arange(len(rec))
    P = sum(p.numel() for p in params)
    thetas = torch.full((len(rec), P), math.nan, dtype=dt, device=dev)
    grads = torch.full((len(rec), P), math.nan, dtype=dt, device=dev)
    reader = getattr(spec, "velocity", None)
    vels = torch.full((len(rec), P), math.nan, dtype=dt, device=dev) if reader is not None else None
    batch_loss = torch.full((len(rec),), math.nan, dtype=dt, device=dev)
    has_velocity = False
    # LBFGS and friends need a closure; a user's optimizer may not take one
    takes_closure = "closure" in inspect.signature(opt.step).parameters
    thetas[0] = flatten(m)
    per_epoch = -(-n // batch_size)
    diverged_at = -1
    for t in range(steps):
        if full_batch:
            Xb, Yb = X, Y
        else:
            rows = streams.batch(t, n, batch_size)
            Xb, Yb = X[rows], Y[rows]

        def closure():
            opt.zero_grad()
            value = loss_fn(m(Xb), Yb)
            value.backward()
            return value

        if takes_closure:
            value = opt.step(closure)
        else:
            value = closure()
            opt.step()
        i = where[t]
        if i >= 0:
            if value is not None:
                batch_loss[i] = value.detach() if isinstance(value, torch.Tensor) else float(value)
            grads[i] = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                                  for p in params])
        j = where[t + 1]
        if j >= 0:
            thetas[j] = flatten(m)
            if vels is not None:
                v_now = _velocity(opt, params, reader, t + 1)
                if v_now is not None:
                    vels[j] = v_now
                    has_velocity = True
        # one host sync per epoch: stop a run whose weights turned non-finite
        if (t + 1) % per_epoch == 0 or t + 1 == steps:
            if not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
                break
    th = thetas.double().cpu().numpy()
    bl = batch_loss.double().cpu().numpy()
    g = grads.double().cpu().numpy()
    v = vels.double().cpu().numpy() if has_velocity else None
    if v is not None:
        v[0] = 0.0  # no momentum at the start
    bad = ~np.isfinite(th).all(1)
    if bad.any():
        # the first recorded step whose weights are not finite (everything from there on is noise)
        k = int(np.argmax(bad))
        diverged_at = int(rec[k])
        th[k:] = np.nan
        g[k:] = np.nan
        bl[k:] = np.nan
        if v is not None:
            v[k:] = np.nan
    return MethodRun(label=spec.label or spec.name, spec=spec, hyperparameters=spec.hyperparameters(),
                     steps=rec, params=th, loss=np.full(len(rec), np.nan), batch_loss=bl, grads=g,
                     velocities=v, diverged_at=diverged_at)


def _cut_divergence(m: MethodRun) -> None:
    """A run whose full loss is non-finite or DIVERGED x the start's has diverged there: NaN from then on."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(m.loss) | (m.loss > DIVERGED * max(float(m.loss[0]), np.finfo(float).tiny))
    if not bad.any():
        return
    k = int(np.argmax(bad))
    m.diverged_at = int(m.steps[k]) if m.diverged_at < 0 else min(m.diverged_at, int(m.steps[k]))
    for key in ("params", "grads", "velocities", "loss", "batch_loss"):
        arr = getattr(m, key)
        if arr is not None:
            arr[k:] = np.nan


def _velocity(opt, params, reader, t):
    """The momentum displacement per step, flat (P,), from the entry's reader (zero where none yet)."""
    import torch

    group_of = {id(p): g for g in opt.param_groups for p in g["params"]}
    # readers are (state, group, t) or, on the refactored registry, (state, group, t, grad)
    with_grad = len(inspect.signature(reader).parameters) >= 4
    parts, found = [], False
    for p in params:
        args = (opt.state.get(p, {}), group_of[id(p)], t) + ((p.grad,) if with_grad else ())
        v = reader(*args)
        found = found or v is not None
        parts.append(torch.zeros_like(p).reshape(-1) if v is None else v.reshape(-1))
    return torch.cat(parts) if found else None


# ---- planes and projection -------------------------------------------------------------------------
def _plane_center(center, runs, origin):
    if isinstance(center, str):
        key = center.strip()
        if key == "start":
            return origin, "start"
        finals = {m.label: m for m in runs}
        if key == "end":
            best = min(runs, key=lambda m: m.final_loss if math.isfinite(m.final_loss) else math.inf)
            key = best.label
        if key.startswith("end:"):
            key = key[4:]
        if key not in finals:
            by_name = [m.label for m in runs if m.name == key]
            key = by_name[0] if len(by_name) == 1 else key
        if key not in finals:
            raise TrajvizError(f"unknown plane center '{center}' (use start, end, or a method: "
                               f"{', '.join(finals)})")
        m = finals[key]
        ok = np.flatnonzero(np.isfinite(m.params).all(1))
        return m.params[ok[-1]], f"end of {key}"
    vec = np.asarray(center, dtype=np.float64).reshape(-1)
    if vec.shape != origin.shape or not np.isfinite(vec).all():
        raise TrajvizError(f"plane center must be start, end, a method label, or a finite vector of "
                           f"{origin.shape[0]} numbers")
    return vec, "given point"


def _project(name, description, runs, evaluator, layout, *, plane, center, seed, bias, settings,
             emit_warnings: bool = True) -> TrainResult:
    origin = runs[0].params[0].copy()
    every = np.concatenate([m.params for m in runs])
    kind = str(plane).strip().lower()
    if kind == "pca":
        if not (isinstance(center, str) and center == "start"):
            raise TrajvizError("the PCA plane is centred on the common start; --center is for --plane random")
        pl = pca_plane(every, origin)
        pl.description = (f"PCA of all paths: {100 * pl.explained[0]:.1f}% + {100 * pl.explained[1]:.1f}% "
                          f"of the movement")
    elif kind == "random":
        c, cname = _plane_center(center, runs, origin)
        pl = random_plane(c, layout.shapes, every, origin, seed=seed, bias=bias)
        pl.center_name = cname
        pl.description = (f"random filter-normalised directions (seed {seed}), centred on the {cname}: "
                          f"{100 * pl.captured(every):.1f}% of the movement")
    else:
        raise TrajvizError(f"unknown plane '{plane}' (use pca or random)")
    pl.evaluator = evaluator
    out_runs = {}
    ratios_end = {}
    for m in runs:
        proj = pl.project(m.params)
        ok = np.isfinite(m.params).all(1)
        coords = np.where(ok[:, None], proj.coords, np.nan)
        m = replace(m, coords=coords, off_plane=np.where(ok, proj.off, np.nan),
                    distance=np.where(ok, proj.distance, np.nan), off_plane_ratio=np.where(ok, proj.ratio, np.nan))
        m.loss_projected = evaluator.plane_losses(pl.center, pl.directions, coords[:, 0], coords[:, 1])
        out_runs[m.label] = m
        last = np.flatnonzero(ok)
        ratios_end[m.label] = float(m.off_plane_ratio[last[-1]]) if len(last) else math.nan
    captured = pl.captured(every)
    notes = []
    if captured < MIN_CAPTURED:
        notes.append(f"the {kind} plane holds only {100 * captured:.0f}% of the movement: most of it is off "
                     "the plane, so positions on the picture say little about where the weights are")
    far = {k: v for k, v in ratios_end.items() if v > MAX_END_RATIO}
    if far:
        worst = max(far, key=far.get)
        notes.append(f"{', '.join(far)} end{'s' if len(far) == 1 else ''} further off the plane than in it "
                     f"({worst}: off-plane distance {far[worst]:.2f}x its distance from the start)")
    if emit_warnings:
        for note in notes:
            warnings.warn(note, OffPlaneWarning, stacklevel=3)
    pts = [m.coords for m in out_runs.values()] + [np.zeros((1, 2))]
    domain = window(np.concatenate(pts))
    end_max = max((v for v in ratios_end.values() if math.isfinite(v)), default=math.nan)
    formula = f"{description}; {pl.description}; ends off the plane by <= {100 * end_max:.0f}% of their distance"
    land = PlaneLandscape(pl, name=name, spec=settings.get("spec", name), formula=formula, domain=domain,
                          title=settings.get("title", description),
                          equation=(f"{_plane_phrase(pl, every)}  ·  the paths end ≤ {100 * end_max:.0f}% off it"
                                    "  ·  dashed: the loss at the projection"))
    return TrainResult(name=name, description=description, methods=out_runs, plane=pl, landscape=land,
                       settings=settings, evaluator=evaluator, layout=layout, warnings=notes)


def _plane_phrase(pl, every) -> str:
    """The plane in a few words for a picture's subtitle."""
    if pl.kind == "pca":
        return f"the paths' main plane holds {100 * float(sum(pl.explained)):.1f}% of the movement"
    return f"a random plane holds {100 * pl.captured(every):.1f}% of the movement"


# ---- the public function -----------------------------------------------------------------------------
def train(model="mlp", loss_fn=None, data=None, opt=None, *, seed: int = 0, device="auto", dtype=None,
          steps: int | None = None, epochs: int | None = None, batch_size: int | None = None,
          lr: float | None = None, record_every: int = 1, plane: str = "pca", center="start",
          plane_seed: int | None = None, bias: str = "zero", budget: int | None = None,
          tune: bool = False) -> TrainResult:
    """Train ``model`` with each optimizer from the same start on the same minibatches; project onto one plane.

    Args:
        model: a built-in scenario (``"mlp"``, ``"classify"``, ``"digits"``) or any
            ``torch.nn.Module`` (its current weights are the common start; it is not modified).
        loss_fn: ``loss_fn(model(X), Y) -> scalar`` (a mean over rows), for a module.
        data: ``(X, Y)`` tensors or arrays, a Dataset or a DataLoader (read once into
            tensors; its batch size is the default; its order is replaced by the seeded one).
        opt: optimizer specs as for ``trajviz run`` (``"adam:lr=0.01"``, ``"pkg.mod:Class"``,
            OptimizerSpec, a torch.optim class, or a list). Default: the tutorial's four.
        seed: draws a scenario's data and initial weights, the minibatch order and dropout.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``. dtype: float32 or
            float64 (default: float64 for scenarios, the module's own dtype for a module).
        steps / epochs: optimizer steps, or epochs of ceil(n / batch_size) steps (default 12 epochs).
        batch_size: minibatch size (default: the scenario's, the loader's, or 32).
        lr: learning rate for every method given without ``lr=`` (default 0.01).
        record_every: keep every k-th step (and the last).
        plane: ``"pca"`` (default) or ``"random"`` (filter-normalised, seeded).
        center: for the random plane: ``"start"``, ``"end"`` (the end of the method with the
            lowest final loss), a method label (its end), or a vector (P,).
        plane_seed: seed of the random directions (default: ``seed``).
        bias: random plane, parameters with <= 1 dimension: ``"zero"`` or ``"copy"``.
        tune: first train every method at each rate of :data:`TUNE_RATES` (same start, same
            minibatches) and keep the rate with the lowest full-data loss at the end (a fair race:
            each method at its best rate); the record is ``result.tuned`` (``{label: Tuned}``).
        budget: memory budget (bytes) of one batched loss evaluation.
    """
    import torch

    from ..devices import resolve_device, resolve_dtype

    seed = _check_int(seed, "seed", low=0, high=2**63 - 1)
    record_every = _check_int(record_every, "record_every")
    dev = resolve_device(device)
    if isinstance(model, str):
        if loss_fn is not None or data is not None:
            raise TrajvizError(f"scenario '{model}' brings its own loss and data: pass a torch.nn.Module to use yours")
        sc = _scenarios.get(model, seed=seed)
        name, description, spec_text, title = sc.name, sc.description, sc.name, sc.title
        net, loss_fn, X, Y = sc.model, sc.loss_fn, sc.X, sc.Y
        default_batch, default_epochs, defaults = sc.batch_size, sc.epochs, sc.opt
        dt = resolve_dtype(dtype, dev)
    else:
        _check_model(model)
        if loss_fn is None or not callable(loss_fn):
            raise TrajvizError("train(model, loss_fn, data): loss_fn must be a callable loss_fn(output, target)")
        X, Y, loader_batch = _read_data(data)
        name, spec_text = "model", "model"
        description = f"{type(model).__name__} ({sum(p.numel() for p in model.parameters()):,} parameters), " \
                      f"{getattr(loss_fn, '__name__', type(loss_fn).__name__)}, {len(X):,} rows"
        title = f"{type(model).__name__} ({sum(p.numel() for p in model.parameters()):,} parameters)"
        net = model
        default_batch, default_epochs, defaults = loader_batch or DEFAULT_BATCH, DEFAULT_EPOCHS, _scenarios.TUTORIAL_OPT
        own = next(model.parameters()).dtype
        dt = resolve_dtype(own if dtype is None else dtype, dev)
    specs = _resolve_opt(opt, lr, defaults)
    net = copy.deepcopy(net).to(device=dev, dtype=dt)
    X = X.to(device=dev, dtype=dt if X.is_floating_point() else X.dtype)
    Y = Y.to(device=dev, dtype=dt if Y.is_floating_point() else Y.dtype)
    _check_fit(net, loss_fn, X, Y)
    n = len(X)
    batch_size = _check_int(default_batch if batch_size is None else batch_size, "batch size")
    batch_size = min(batch_size, n) if batch_size is not None else batch_size
    per_epoch = -(-n // batch_size)
    if steps is not None and epochs is not None:
        raise TrajvizError("give steps or epochs, not both")
    if steps is not None:
        steps = _check_int(steps, "number of steps", high=MAX_STEPS)
    else:
        epochs = _check_int(default_epochs if epochs is None else epochs, "number of epochs")
        steps = epochs * per_epoch
        if steps > MAX_STEPS:
            raise TrajvizError(f"bad number of epochs: {epochs} ({steps:,} steps; at most {MAX_STEPS:,})")
    layout = Layout.of(net)
    n_rec = len(_record_steps(steps, record_every))
    need = len(specs) * n_rec * layout.size * 8 * 3  # parameters, gradients, velocities (float64 on the host)
    if need > MAX_RECORD_BYTES:
        raise TrajvizError(f"recording {len(specs)} x {n_rec:,} steps of {layout.size:,} parameters needs "
                           f"{need / 2**30:.1f} GiB: use record_every (--record-every) to keep fewer steps")
    evaluator = Evaluator(net, loss_fn, X, Y, budget=budget)
    runs = []
    drop_seed = _scenarios.sub_seed(seed, 4)
    devices = [dev.index or 0] if dev.type == "cuda" else []
    tuned = {}
    if tune:
        specs, tuned = _tune(net, specs, loss_fn, X, Y, evaluator, steps=steps, batch_size=batch_size, seed=seed,
                             devices=devices, drop_seed=drop_seed)
    for spec in specs:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(drop_seed)  # dropout and friends: the same masks for every method
            run = train_method(net, spec, loss_fn, X, Y, steps=steps, batch_size=batch_size, seed=seed,
                               record_every=record_every)
        runs.append(run)
    every = np.concatenate([m.params for m in runs])
    full = evaluator.losses(np.nan_to_num(every))
    full[~np.isfinite(every).all(1)] = np.nan
    k = 0
    for m in runs:
        m.loss = full[k:k + len(m.steps)]
        k += len(m.steps)
        _cut_divergence(m)
    settings = dict(spec=spec_text, seed=seed, device=str(dev), dtype=str(dt).removeprefix("torch."),
                    steps=steps, epochs=steps / per_epoch, batch_size=batch_size, n_rows=n,
                    record_every=record_every, n_params=layout.size, title=title,
                    tuned={k: t.lr for k, t in tuned.items()} or None)
    result = _project(name, description, runs, evaluator, layout, plane=plane, center=center,
                      seed=seed if plane_seed is None else _check_int(plane_seed, "plane seed", low=0),
                      bias=bias, settings=settings)
    result.tuned = tuned
    return result


# Rates tried by tune=True: every third of a decade from 1e-4 to 1.
TUNE_RATES = tuple(float(v) for v in np.geomspace(1e-4, 1.0, 13))


def _tune(net, specs, loss_fn, X, Y, evaluator, *, steps, batch_size, seed, devices, drop_seed):
    """Each spec with a learning rate, trained at every rate of TUNE_RATES (only the end recorded);
    the rate whose end has the lowest full-data loss wins. Returns (specs, {label: Tuned})."""
    import torch

    from ..tune import Tuned

    out, tuned = [], {}
    for spec in specs:
        if "lr" not in spec.valid_keys():
            out.append(spec)
            continue
        before = spec.hyperparameters().get("lr")
        base = spec.without("lr") if "lr" in spec.kwargs else spec
        ends = []
        for rate in TUNE_RATES:
            candidate = base.with_filled(lr=rate)
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(drop_seed)
                run = train_method(net, candidate, loss_fn, X, Y, steps=steps, batch_size=batch_size, seed=seed,
                                   record_every=steps)
            ends.append(run.params[-1])
        ends = np.asarray(ends)
        scores = np.full(len(ends), np.inf)
        ok = np.isfinite(ends).all(1)
        if ok.any():
            scores[ok] = evaluator.losses(ends[ok])
        scores[~np.isfinite(scores)] = np.inf
        best = int(np.argmin(scores))
        lr = TUNE_RATES[best] if np.isfinite(scores[best]) else None
        # a tuned run is named without the rate it replaced ("adam:lr=0.1" -> "adam"); a scenario's
        # label ("momentum") stays
        chosen = base.with_filled(lr=lr) if lr is not None else spec
        tuned[chosen.label or chosen.name] = Tuned(label=chosen.label or chosen.name, lr=lr, before=before,
                                                   score=float(scores[best]), candidates=np.asarray(TUNE_RATES),
                                                   scores=scores)
        out.append(chosen)
    return out, tuned


__all__ = ["train", "train_method", "TrainResult", "MethodRun", "OffPlaneWarning"]
