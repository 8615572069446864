"""The one-call functions: the only module that composes the engine, tuning and rendering.

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


def run_with(options: RunOptions, diagnostics: bool = True):
    """:func:`run` from checked options."""
    from .engine import ALL_KEYS, Setup, simulate
    from .result import Result

    setup = Setup(options)
    specs = _optimizers.resolve(list(options.opt), lr=options.lr, surface=setup.surface)
    tuned = {}
    if options.tune:
        from .tune import tune_specs

        specs, tuned = tune_specs(setup, specs)
    traces = simulate(setup, specs, keys=ALL_KEYS if diagnostics else ("path", "loss"))
    for trace in traces:
        trace.tuned = tuned.get(trace.label)
    settings = setup.settings(lr=options.lr, tuned={k: v.lr for k, v in tuned.items()} or None)
    return Result(surface=setup.surface, traces={t.label: t for t in traces}, starts=setup.x0,
                  settings=settings)


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
    """The final loss (or steps to a tolerance) of one optimizer over a 1D or 2D grid of its
    hyperparameters, every cell in one batched job; see :mod:`trajviz.sweep`."""
    from .sweep import sweep as _sweep

    (run_kw,) = split(options, RunOptions)
    return _sweep(surface, opt, params, metric=metric, tol=tol, **run_kw)


def save_picture(fig, path, dpi=None) -> Path:
    from .render.plot import save_figure

    return save_figure(fig, path, dpi=dpi)


run.__doc__ += "\n    Options:\n" + describe(RunOptions)
plot.__doc__ += "\n    Options:\n" + describe(RunOptions, PlotOptions)
animate.__doc__ += "\n    Options:\n" + describe(RunOptions, AnimateOptions)
explain.__doc__ += "\n    Options:\n" + describe(ExplainOptions)

__all__ = ["run", "run_with", "plot", "animate", "explain", "sweep"]
