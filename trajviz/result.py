"""What a run returns: host numpy arrays per optimizer, and their export.

Nothing here touches torch; rendering reads these arrays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_path
from .errors import TrajvizError

EXPORT_FORMATS = (".csv", ".json", ".npz")


@dataclass
class Trace:
    """One optimizer's run from N starts.

    Attributes:
        label: the name in outputs (``"adam"`` or ``"adam:lr=0.1"``).
        spec: the OptimizerSpec (analogy, update rule, display name).
        hyperparameters: the keyword arguments given to torch.optim.
        steps: (T,) the recorded step numbers; step 0 is the start point.
        path: (T, N, 2) positions; NaN from a path's divergence on.
        loss: (T, N) the surface's value at each position.
        grad: (T, N, 2) the gradient used at that position (with noise / minibatch).
        velocity: (T, N, 2) displacement per step carried by momentum, or None.
        step_size: (T, N, 2) per-axis effective learning rate, or None.
        diverged_at: (N,) step at which each path turned non-finite or left the
            box around the domain; -1 if it did not.
        lr: (T,) the learning rate in force at each recorded step (schedules change it).
        schedule: the schedule's label, or None. tuned: the tuning record, or None.
        stayed_inside: (N,) whether each path stayed inside the plotting domain.
        extras: further per-step arrays a run records beyond these (a network's plane has
            ``loss_projected`` (T, N), the loss at each point's projection, drawn dashed, and
            ``off_plane`` (T, N), the distance from the plane over the distance from the start).
    """

    label: str
    spec: Any
    hyperparameters: dict
    steps: np.ndarray
    path: np.ndarray
    loss: np.ndarray
    grad: np.ndarray
    velocity: np.ndarray | None
    step_size: np.ndarray | None
    diverged_at: np.ndarray
    lr: np.ndarray | None = None
    schedule: str | None = None
    tuned: Any = None
    stayed_inside: np.ndarray | None = None
    extras: dict = field(default_factory=dict)

    # ---- the method's facts, carried by its entry -------------------------------------
    @property
    def name(self) -> str:
        """The method's registry name (or import path): its identity, never cut from a label."""
        return self.spec.name

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def full_title(self) -> str:
        """``"Adam"`` or ``"Adam (lr=0.1)"``: the name and the hyperparameters the user gave."""
        return self.spec.full_title

    @property
    def analogy(self) -> str:
        return self.spec.analogy

    @property
    def color(self) -> str:
        return self.spec.color

    @property
    def linestyle(self):
        return self.spec.linestyle

    @property
    def marker(self) -> str:
        return self.spec.marker

    @property
    def n_starts(self) -> int:
        return self.path.shape[1]

    # ---- masks ------------------------------------------------------------------------------
    def valid(self) -> np.ndarray:
        """(T, N) mask of recorded steps before each path's divergence."""
        div = np.where(self.diverged_at < 0, np.iinfo(np.int64).max, self.diverged_at)
        return self.steps[:, None] < div[None, :]

    def ok(self) -> np.ndarray:
        """(T, N) recorded steps that can be drawn: before the divergence, at a finite position."""
        return self.valid() & np.isfinite(self.path).all(-1)

    def valid_path(self, i: int) -> np.ndarray:
        """The (T', 2) drawable prefix of path ``i``."""
        return self.path[:, i][self.ok()[:, i]]

    def final_loss(self) -> np.ndarray:
        """(N,) loss at each path's last valid recorded step."""
        valid = self.valid()
        last = np.maximum(valid.sum(0) - 1, 0)
        return self.loss[last, np.arange(self.n_starts)]


@dataclass
class Result:
    """The paths of every selected optimizer on one surface.

    >>> import trajviz
    >>> r = trajviz.run("quadratic", "momentum", steps=50)
    >>> r["momentum"].path.shape
    (51, 1, 2)
    """

    surface: Any
    traces: dict[str, Trace]
    starts: np.ndarray
    settings: dict = field(default_factory=dict)

    def __getitem__(self, label: str) -> Trace:
        try:
            return self.traces[label]
        except KeyError:
            raise KeyError(f"{label!r}; this result has {', '.join(self.traces)}") from None

    def __iter__(self):
        return iter(self.traces.values())

    def __len__(self) -> int:
        return len(self.traces)

    @property
    def labels(self) -> list[str]:
        return list(self.traces)

    def __repr__(self) -> str:
        t = next(iter(self.traces.values()))
        return (f"<Result {self.surface.spec}: {', '.join(self.traces)}; {len(self.starts)} start(s), "
                f"{int(t.steps[-1])} steps>")

    def divergences(self) -> list[tuple[str, int, int]]:
        """``[(optimizer label, start index, step), ...]`` for every diverged path."""
        out = []
        for trace in self:
            for i in np.flatnonzero(trace.diverged_at >= 0):
                out.append((trace.label, int(i), int(trace.diverged_at[i])))
        return out

    # ---- export -----------------------------------------------------------------
    def to_csv(self, file) -> None:
        """Write ``optimizer,start,step,x,y,loss`` rows at full precision to a text file object."""
        file.write("optimizer,start,step,x,y,loss\n")
        for trace in self:
            valid = trace.valid()
            label = _csv_field(trace.label)
            for i in range(trace.n_starts):
                rows = np.flatnonzero(valid[:, i])
                xs = trace.path[rows, i, 0].tolist()
                ys = trace.path[rows, i, 1].tolist()
                ls = trace.loss[rows, i].tolist()
                steps = trace.steps[rows].tolist()
                file.write("".join(f"{label},{i},{s},{x!r},{y!r},{v!r}\n"
                                   for s, x, y, v in zip(steps, xs, ys, ls)))

    def to_dict(self) -> dict:
        """A JSON-ready dict: settings, and per optimizer and start the path and diverged_at."""
        out = {
            "surface": self.surface.spec,
            "formula": self.surface.formula,
            "domain": [list(self.surface.domain[0]), list(self.surface.domain[1])],
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.settings.items()},
            "optimizers": [],
        }
        for trace in self:
            valid = trace.valid()
            starts = []
            for i in range(trace.n_starts):
                rows = np.flatnonzero(valid[:, i])
                d = int(trace.diverged_at[i])
                starts.append({
                    "start": i,
                    "step": trace.steps[rows].tolist(),
                    "x": trace.path[rows, i, 0].tolist(),
                    "y": trace.path[rows, i, 1].tolist(),
                    "loss": trace.loss[rows, i].tolist(),
                    "diverged_at": d if d >= 0 else None,
                })
            out["optimizers"].append({
                "name": trace.label, "method": trace.name, "analogy": trace.analogy,
                "hyperparameters": _jsonable(trace.hyperparameters), "starts": starts,
            })
        return out

    def to_npz(self, file) -> None:
        """Arrays stacked over optimizers: path (K, T, N, 2), loss (K, T, N), diverged_at (K, N)."""
        traces = list(self)
        np.savez(
            file,
            optimizers=np.array([t.label for t in traces]),
            steps=traces[0].steps,
            starts=self.starts,
            path=np.stack([t.path for t in traces]),
            loss=np.stack([t.loss for t in traces]),
            diverged_at=np.stack([t.diverged_at for t in traces]),
        )

    def save(self, path) -> Path:
        """Write the paths to ``path`` by its extension (.csv, .json, .npz), atomically."""
        path = Path(path)
        ext = path.suffix.lower()
        if ext not in EXPORT_FORMATS:
            raise TrajvizError(f"cannot export to '{path.name}': use one of {', '.join(EXPORT_FORMATS)}")
        with atomic_path(path) as tmp:
            if ext == ".csv":
                with open(tmp, "w", newline="") as f:
                    self.to_csv(f)
            elif ext == ".json":
                with open(tmp, "w") as f:
                    json.dump(self.to_dict(), f)
                    f.write("\n")
            else:
                with open(tmp, "wb") as f:
                    self.to_npz(f)
        return path

    # ---- drawing: convenience accessors of trajviz.render ------------------------------------
    def plot(self, ax=None, **options):
        """Draw the paths on the surface's contour map (options of ``trajviz.plot``); returns the figure."""
        from .options import PlotOptions, build
        from .render.plot import plot_result

        return plot_result(self, build(PlotOptions, options), ax=ax)

    def _repr_png_(self):
        from .render.plot import result_png

        return result_png(self)

    def animate(self, path=None, **options):
        """Animate the paths (options of ``trajviz.animate``); write ``path`` if given. Returns an Animation."""
        from .options import AnimateOptions, build
        from .render.animate import animate_result

        return animate_result(self, build(AnimateOptions, options), path=path)


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, tuple):
            v = list(v)
        if isinstance(v, (bool, int, float, str, list)) or v is None:
            out[k] = v
        else:
            out[k] = repr(v)
    return out
