"""The one-call functions: the only module that composes the engine, tuning and rendering
(``train`` hands over to :mod:`trajviz.nn`, which composes a network's plane).

Every keyword is declared once in :mod:`trajviz.options` and checked before any
long work starts (a bad ``dpi`` fails before a seven-second run, not after it).

>>> import trajviz
>>> r = trajviz.run("rosenbrock", "all", steps=100)
>>> r["adam"].path.shape
(101, 1, 2)
"""

from __future__ import annotations

from pathlib import Path

from . import optimizers as _optimizers
from .options import AnimateOptions, ExplainOptions, PlotOptions, RunOptions, describe, split


# ---- run ----------------------------------------------------------------------------------------
def run(surface="rosenbrock", opt="all", *, diagnostics: bool = True, **options):
    """Run optimizers on a surface from one or many starts; return a :class:`~trajviz.result.Result`.

    ``surface`` is a name (``"rosenbrock:b=10"``), a formula (``"x**2 + 10*y**2"``) or a Surface;
    ``opt`` is ``"all"`` (the classic seven), a spec (``"adam:lr=0.05"``), a torch.optim class, or
    a list of these. ``diagnostics=False`` keeps only path and loss (less memory).
    """
    (run_kw,) = split(options, RunOptions)
    return run_with(RunOptions(surface=surface, opt=opt, **run_kw), diagnostics=diagnostics)


def run_with(options: RunOptions, diagnostics: bool = True, beside: bool = False, meanwhile=None):
    """:func:`run` from checked options.

    ``beside`` (the command line): use a second core where there is one (see :mod:`trajviz.worker`):
    every other method runs in a forked child (the paths are the same bits: every method's rows are
    computed on their own); with ``meanwhile``, the whole run goes to a child while this process
    calls ``meanwhile()`` (the command loads the drawing), and gets the traces back.
    """
    if beside and meanwhile is not None:
        from . import worker

        helper = worker.start(lambda: _run_parts(options, diagnostics, beside))
        if helper is not None:
            try:
                meanwhile()
                parts = helper.result()
            finally:
                helper.cancel()
            if parts is not None:
                return _assemble(options, *parts)
    return _assemble(options, *_run_parts(options, diagnostics, beside))


def _run_parts(options: RunOptions, diagnostics: bool, beside: bool):
    """The run's traces and settings (what a child sends back: no surface, which may hold lambdas)."""
    from .engine import ALL_KEYS, Setup

    setup = Setup(options)
    specs = _optimizers.resolve(list(options.opt), lr=options.lr, surface=setup.surface)
    tuned = {}
    if options.tune:
        from .tune import tune_specs

        specs, tuned = tune_specs(setup, specs)
    traces = _simulate(setup, specs, ALL_KEYS if diagnostics else ("path", "loss"), beside)
    for trace in traces:
        trace.tuned = tuned.get(trace.label)
    settings = setup.settings(lr=options.lr, tuned={k: v.lr for k, v in tuned.items()} or None)
    return traces, settings


def _assemble(options: RunOptions, traces, settings):
    from .engine import Setup
    from .result import Result

    setup = Setup(options)   # the same surface and starts as the run's (both follow from the options)
    return Result(surface=setup.surface, traces={t.label: t for t in traces}, starts=setup.x0,
                  settings=settings)


SPLIT_MEMORY_SHARE = 0.25   # a run split over two processes is copied once more on its way back


def _simulate(setup, specs, keys, beside: bool):
    """``engine.simulate``, with every other spec in a forked child when ``beside`` (alternate specs:
    neighbours in a list tend to cost alike, e.g. the adaptive methods and their readers)."""
    from . import worker
    from .engine import MEMORY_BUDGET, check_memory, recorded_bytes, simulate

    theirs = specs[1::2]
    rows = len(specs) * len(setup.x0)
    check_memory(setup, rows, keys)     # the whole job, as one process would check it
    small = recorded_bytes(setup, rows, keys) <= SPLIT_MEMORY_SHARE * MEMORY_BUDGET
    helper = worker.start(lambda: simulate(setup, theirs, keys=keys)) if beside and theirs and small else None
    if helper is None:
        return simulate(setup, specs, keys=keys)
    try:
        mine = simulate(setup, specs[0::2], keys=keys)
        other = helper.result()
    finally:
        helper.cancel()
    if other is None:                        # the child failed: its share runs here
        other = simulate(setup, theirs, keys=keys)
    out = [None] * len(specs)
    out[0::2], out[1::2] = mine, other
    return out


# ---- plot ------------------------------------------------------------------------------------------
def plot(surface="rosenbrock", opt="all", *, ax=None, path=None, **options):
    """Run the optimizers and draw them on the contour map in one call; returns the figure.

    Takes every keyword of :func:`run` and of the picture (see below); ``path`` also writes the
    figure (.png, .svg, .pdf), atomically.
    """
    from .render.plot import check_picture_path, plot_result, save_figure

    run_kw, plot_kw = split(options, RunOptions, PlotOptions)
    ro, po = RunOptions(surface=surface, opt=opt, **run_kw), PlotOptions(**plot_kw)
    if path is not None:
        check_picture_path(path)
    result = run_with(ro)
    fig = plot_result(result, po, ax=ax, xlim=ro.xlim, ylim=ro.ylim)
    if path is not None:
        save_figure(fig, path, dpi=po.dpi)
    return fig


# ---- animate ---------------------------------------------------------------------------------------
def animate(surface="rosenbrock", opt="all", *, path=None, **options):
    """Run the optimizers and animate them in one call; returns the Animation (written to ``path`` if given).

    Takes every keyword of :func:`run`, of the picture and of the animation (see below).
    """
    from .render.animate import animate_result
    from .render.writers import check_animation_path

    run_kw, anim_kw = split(options, RunOptions, AnimateOptions)
    ro, ao = RunOptions(surface=surface, opt=opt, **run_kw), AnimateOptions(**anim_kw)
    if path is not None:
        check_animation_path(path)
    result = run_with(ro, diagnostics=ao.story)
    return animate_result(result, ao, path=path, xlim=ro.xlim, ylim=ro.ylim)


# ---- explain ---------------------------------------------------------------------------------------
def explain(method: str, path=None, **options):
    """Take one torch.optim update of ``method`` apart as a captioned clip; returns a Clip.

    ``method`` is a classic method name, optionally with torch.optim keywords
    (``"momentum:momentum=0.8"``). ``path`` writes the clip (.gif, .webp, .png, .mp4, .html);
    without it the GIF is kept in memory for a notebook.
    """
    from .lessons import lesson
    from .render.explain import render_lesson
    from .render.writers import check_animation_path

    eo = ExplainOptions(**split(options, ExplainOptions)[0])
    if path is not None:
        path = check_animation_path(path)
    les = lesson(method, surface=eo.surface, update=eo.update, start=eo.start)
    return render_lesson(les, eo, path=path)


# ---- sweep -----------------------------------------------------------------------------------------
def sweep(surface, opt, params, *, metric: str = "loss", tol: float | None = None, **options):
    """Run one optimizer over a 1D or 2D grid of its hyperparameters (every cell in one batched
    job) and return the metric map, a :class:`~trajviz.sweeps.SweepResult`.

    ``params``: axes such as ``"lr=1e-4:1:log:64"`` or ``"momentum=0:0.99:64"``.
    ``metric="loss"``: mean final loss over the starts (NaN where a path diverged).
    ``metric="steps"``: steps until ``loss - optimum <= tol`` (``loss <= tol`` when the
    surface has no known optimum); NaN where never reached. The other keywords are
    those of :func:`run` (steps, start, starts, noise, seed, device, ...).
    """
    import itertools
    import math

    import numpy as np

    from .engine import Setup, simulate
    from .errors import TrajvizError
    from .sweeps import METRICS, Axis, SweepResult, _torch_default, parse_param, steps_to_tol

    (run_options,) = split(options, RunOptions)
    if metric not in METRICS:
        raise TrajvizError(f"unknown metric '{metric}' (use loss or steps)")
    axes = [p if isinstance(p, Axis) else parse_param(p) for p in params]
    if not 1 <= len(axes) <= 2:
        raise TrajvizError(f"a sweep takes 1 or 2 --param axes, not {len(axes)}")
    if len(axes) == 2 and axes[0].key == axes[1].key:
        raise TrajvizError(f"--param {axes[0].key} is given twice")
    lr = run_options.pop("lr", None)
    setup = Setup(RunOptions(surface=surface, **run_options))
    specs = _optimizers.resolve(opt, lr=lr, surface=setup.surface)
    if len(specs) != 1:
        raise TrajvizError("a sweep maps one optimizer: give exactly one --opt")
    spec = specs[0]
    valid = spec.valid_keys()
    for a in axes:
        if a.key not in valid:
            raise TrajvizError(f"unknown key '{a.key}' for optimizer {spec.name} (valid keys: {', '.join(valid)})")
    grid = list(itertools.product(*(a.values for a in axes)))
    variants = [{a.key: float(v) for a, v in zip(axes, cell)} for cell in grid]
    for a in axes:  # values the optimizer would refuse, found before the long run
        for v in a.values:
            spec.with_kwargs(**{a.key: float(v)}).check()
    if tol is not None and metric != "steps":
        raise TrajvizError("tol only applies to metric steps (steps until loss - optimum <= tol); "
                           "with metric loss, leave it out")
    if metric == "steps":
        if tol is None:
            tol = 1e-6
        if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
            raise TrajvizError(f"bad tolerance: {tol} (must be > 0)")
        record = list(range(setup.steps + 1))
    else:
        record = [0, setup.steps]
    hint = ("use fewer --steps, fewer --starts or a smaller grid" if metric == "loss" else
            "use fewer --steps, fewer --starts, a smaller grid or --metric loss (which keeps only the last step)")
    (trace,) = simulate(setup, [spec], [variants], keys=("path", "loss") if metric == "loss" else ("loss",),
                        record_steps=record, hint=hint)
    n = len(setup.x0)
    shape = tuple(len(a.values) for a in axes)
    if metric == "loss":
        final = trace.loss[-1].reshape(len(grid), n)
        ok = (trace.diverged_at.reshape(len(grid), n) < 0) & np.isfinite(final)
        values = np.where(ok.all(axis=1), np.where(ok, final, 0).mean(axis=1), np.nan)
    else:
        optimum = setup.surface.optimum
        target = (optimum if optimum is not None else 0.0) + tol
        per_row = steps_to_tol(trace.loss, trace.steps, target).reshape(len(grid), n)
        values = np.where(np.isfinite(per_row).all(axis=1), per_row.max(axis=1), np.nan)
    values = values.reshape(shape)
    best = None
    if np.isfinite(values).any():
        best = tuple(int(i) for i in np.unravel_index(np.nanargmin(values), shape))
    hp = spec.hyperparameters()
    default = []
    for a in axes:
        d = hp.get(a.key, _torch_default(spec, a.key))
        try:
            d = float(d)
        except (TypeError, ValueError):
            d = float(a.values[0])
        scale = np.log(a.values) - np.log(d) if a.log and d > 0 else a.values - d
        default.append(int(np.argmin(np.abs(scale))))
    return SweepResult(surface=setup.surface, optimizer=spec.label, spec=spec, axes=axes, metric=metric, values=values,
                       default=tuple(default), best=best, tol=tol if metric == "steps" else None,
                       settings=setup.settings(default_hyperparameters={k: hp.get(k) for k in (a.key for a in axes)}))



def save_picture(fig, path, dpi=None) -> Path:
    from .render.plot import save_figure

    return save_figure(fig, path, dpi=dpi)


run.__doc__ += "\n    Options:\n" + describe(RunOptions)
plot.__doc__ += "\n    Options:\n" + describe(RunOptions, PlotOptions)
animate.__doc__ += "\n    Options:\n" + describe(RunOptions, AnimateOptions)
explain.__doc__ += "\n    Options:\n" + describe(ExplainOptions)

# ---- train ------------------------------------------------------------------------------------------
def train(model="mlp", loss_fn=None, data=None, opt=None, **options):
    """Train a network with several optimizers from the same weights on the same minibatches, and
    see their paths on one plane of its loss; returns a :class:`~trajviz.nn.TrainResult`.

    ``model`` is a built-in scenario (``"mlp"``: the tutorial's 1-20-1 network on y = x^2 + noise,
    ``"classify"``, ``"digits"``) or any ``torch.nn.Module`` with ``loss_fn`` and ``data`` (tensors
    or a DataLoader). The result plots and animates like any other (``result.plot()``,
    ``result.animate("train.gif")``) and exposes ``result.plane`` (``center``, ``directions``,
    ``explained``, ``loss_at(a, b)``). Every keyword: :func:`trajviz.nn.train`.

    >>> r = train("mlp", steps=20, device="cpu")              # doctest: +SKIP
    >>> r.plane.directions.shape                               # doctest: +SKIP
    (2, 61)
    """
    from .nn.training import train as _train

    return _train(model, loss_fn, data, opt, **options)


__all__ = ["run", "run_with", "plot", "animate", "explain", "sweep", "train"]
