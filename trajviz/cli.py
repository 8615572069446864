"""The ``trajviz`` command: thin wrappers over the library.

Commands parse options, call ``trajviz.run`` and the renderers, and turn
library errors into one line on stderr with exit code 2 (bad input) or 1
(cannot write). torch and matplotlib are imported only inside commands, so
``trajviz --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._version import __version__
from .errors import OutputError, TrajvizError
from .options import AnimateOptions, ExplainOptions, PlotOptions, RunOptions, click_options, from_cli

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class TrajvizGroup(click.Group):
    """A group whose errors are one line on stderr, never a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        _exit_cleanly_on_sigterm()
        given = list(sys.argv[1:] if args is None else args)   # for the hint on a formula read as an option
        try:
            rv = super().main(args=args, prog_name=prog_name or "trajviz", complete_var=complete_var,
                              standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except KeyboardInterrupt:
            click.echo("Interrupted: no output written.", err=True)
            sys.exit(130)
        except click.exceptions.NoSuchOption as exc:
            click.echo(f"Error: {exc.format_message()}{_formula_hint(exc, given)}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except TrajvizError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1 if isinstance(exc, OutputError) else 2)
        except OSError as exc:
            click.echo(f"Error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


def _formula_hint(exc, args) -> str:
    """A formula such as "-x**2 + y**2" reads as an option; say how to pass it (after --)."""
    command = exc.ctx.command if exc.ctx is not None else None
    if command is None or not any(isinstance(p, click.Argument) and p.name == "surface" for p in command.params):
        return ""
    name = exc.option_name or ""
    token = next((a for a in args if a.startswith(name) and not a.startswith("--") and len(a) > 1), None)
    if token is None:
        return ""
    return (f" (if {token} is a surface formula, put -- before it: "
            f"trajviz {command.name} [OPTIONS] -- \"{token}\")")


def _exit_cleanly_on_sigterm():
    """Turn SIGTERM into SystemExit, so half-written temporary files are removed as on Ctrl-C."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # not allowed here (embedded interpreters)
        pass


def _interactive() -> bool:
    """Whether stderr is a terminal: then the commands say what they are doing as they go."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _status(text: str) -> None:
    """One line on what is happening now (only on a terminal: logs and pipes stay quiet)."""
    if _interactive():
        click.echo(text, err=True)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _say_running(ro: RunOptions) -> None:
    """"running 7 methods x 1,000 steps on rosenbrock ...": said before the run starts."""
    if not _interactive():
        return
    from . import optimizers, surfaces

    surface = surfaces.get(ro.surface, xlim=ro.xlim, ylim=ro.ylim)
    methods = sum(len(optimizers.CLASSIC) if isinstance(o, str) and o.strip().lower() == "all" else 1
                  for o in ro.opt)
    steps = ro.steps if ro.steps is not None else surface.steps
    starts = ro.starts if ro.starts is not None else len(ro.start) if ro.start else 1
    where = f" from {starts:,} starts" if starts > 1 else ""
    verb = "tuning, then running" if ro.tune else "running"
    _status(f"{verb} {_plural(methods, 'method')} x {_plural(steps, 'step')}{where} on {surface.label} ...")


def _rate_note(surface, specs, lr) -> None:
    """Say when the surface's parameters broke its curated rates, so some methods run at default rates."""
    from .surfaces import dropped_rates

    dropped = set(dropped_rates(surface))
    if not dropped or lr is not None:
        return
    hit = [s.label for s in specs if s.name in dropped and "lr" not in s.kwargs]
    if hit:
        params = ",".join(f"{k}={v:g}" for k, v in surface.params.items() if surface.defaults.get(k) != v)
        click.echo(f"note: {params} on {surface.name} makes its curated learning rates for {', '.join(hit)} "
                   "inapplicable: default rates used (set one with --lr or lr=)", err=True)


def _report(result, tune: bool, lr=None) -> None:
    """What the user should know about a run: curated rates it could not use, the tuned rates, the
    paths that diverged."""
    if not tune:
        _rate_note(result.surface, [t.spec for t in result], lr)
    if tune:
        from .tune import tuned_table

        click.echo(tuned_table({t.label: t.tuned for t in result if t.tuned is not None}), err=True)
    for label, i, step in result.divergences()[:20]:
        click.echo(f"warning: {label} (start {i}) diverged at step {step}", err=True)
    extra = len(result.divergences()) - 20
    if extra > 0:
        click.echo(f"warning: ... and {extra} more diverged paths", err=True)


def _checked_output(path, formats, what):
    if path is None:
        return None
    path = Path(path)
    if path.suffix.lower() not in formats:
        raise TrajvizError(f"cannot write {what} '{path.name}': use one of {', '.join(formats)}")
    from .atomic import check_writable

    check_writable(path)
    return path


def _surface_steps(ro: RunOptions) -> int:
    from .surfaces import get

    return get(ro.surface, xlim=ro.xlim, ylim=ro.ylim).steps


def _run_options(surface, values) -> RunOptions:
    return from_cli(RunOptions, {**values, "surface": surface, "opt": values.get("opt") or ("all",)})


@click.group(cls=TrajvizGroup, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="trajviz", message="%(prog)s %(version)s")
def cli():
    """Watch gradient optimizers move on 2D loss surfaces.

    \b
    Example:
        trajviz animate rosenbrock --opt all
    """


@cli.command("list")
@click.argument("what", type=click.Choice(["surfaces", "optimizers", "all"]), default="all")
@click.option("--rules", is_flag=True, help="Also write out each optimizer's update rule in full.")
def list_cmd(what, rules):
    """List the surfaces and optimizers.

    \b
    Example:
        trajviz list optimizers --rules
    """
    from .tables import optimizer_rules, optimizer_table, surface_table

    if rules:
        click.echo(optimizer_rules())
        return
    if what in ("surfaces", "all"):
        click.echo(surface_table())
    if what == "all":
        click.echo()
    if what in ("optimizers", "all"):
        click.echo(optimizer_table())


# ---- shell completion: names from the registries, which load without torch ----------------------
def _complete_surface(ctx, param, incomplete: str) -> list[str]:
    from .surfaces import names

    return [n for n in names() if n.startswith(incomplete.lower())]


def _complete_optimizer(ctx, param, incomplete: str) -> list[str]:
    if ":" in incomplete or "," in incomplete:   # keys after the name, or an import path: nothing to offer
        return []
    from .optimizers import names

    return [n for n in ("all", *names()) if n.startswith(incomplete.lower())]


def _complete_one_optimizer(ctx, param, incomplete: str) -> list[str]:
    return [n for n in _complete_optimizer(ctx, param, incomplete) if n != "all"]


def _complete_method(ctx, param, incomplete: str) -> list[str]:
    from .lessons import supported

    return [n for n in supported() if n.startswith(incomplete.lower())]


RUN_COMPLETION = {"opt": _complete_optimizer}

SURFACE = click.argument("surface", default="rosenbrock", required=False, shell_complete=_complete_surface)
SURFACE_HELP = ("SURFACE is a name (see trajviz list surfaces), name:k=v,... or a formula in x and y "
                "(default: rosenbrock). A formula that starts with '-' goes after --, or it reads as an "
                "option: trajviz {command} [OPTIONS] -- \"-x**2 + y**2\".")


def _surface_help(fn):
    """Put SURFACE_HELP in the command's help, before its example."""
    import inspect

    doc = inspect.cleandoc(fn.__doc__ or "")
    text = SURFACE_HELP.format(command=fn.__name__.removesuffix("_cmd"))
    head, sep, tail = doc.partition("\b\nExample")
    fn.__doc__ = f"{head.rstrip()}\n\n{text}\n\n{sep}{tail}" if sep else f"{doc}\n\n{text}"
    return fn


@cli.command("run")
@_surface_help
@SURFACE
@click_options(RunOptions, complete=RUN_COMPLETION)
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Write to FILE (.csv, .json or .npz) instead of CSV on stdout.")
def run_cmd(surface, output, **values):
    """Run optimizers and export their paths (CSV to stdout by default).

    CSV columns: optimizer,start,step,x,y,loss (step 0 is the start point).

    \b
    Example:
        trajviz run rosenbrock --opt adam:lr=0.05 --opt sgd --steps 200 -o paths.csv
    """
    from .api import run_with
    from .result import EXPORT_FORMATS

    ro = _run_options(surface, values)
    path = _checked_output(output, EXPORT_FORMATS, "paths")
    _say_running(ro)
    result = run_with(ro, diagnostics=False, beside=True)
    _report(result, ro.tune, ro.lr)
    if path is None:
        stream = sys.stdout
        try:
            result.to_csv(stream)
            stream.flush()
        except BrokenPipeError:  # e.g. piped into `head`
            sys.stderr.close()
        return
    result.save(path)
    click.echo(f"wrote {path}", err=True)


@cli.command("plot")
@_surface_help
@SURFACE
@click_options(RunOptions, PlotOptions, complete=RUN_COMPLETION)
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Picture file: .png, .svg or .pdf (default: SURFACE.png).")
def plot_cmd(surface, output, **values):
    """Draw the paths on the surface's contour map.

    \b
    Example:
        trajviz plot beale --opt all --loss-panel --size 1280x720 -o beale.png
    """
    from .api import run_with
    from .render.plot import check_picture_path, plot_result, save_figure

    ro = _run_options(surface, values)
    po = from_cli(PlotOptions, values)
    path = check_picture_path(output or _default_name(surface, ".png"))
    _say_running(ro)
    result = run_with(ro, diagnostics=False, beside=True, meanwhile=_warm_up)
    _report(result, ro.tune, ro.lr)
    _status(f"drawing {path} ...")
    fig = plot_result(result, po, xlim=ro.xlim, ylim=ro.ylim)
    save_figure(fig, path, dpi=po.dpi)
    click.echo(f"wrote {path}", err=True)


@cli.command("sweep", short_help="Map the final loss over a grid of hyperparameters.")
@_surface_help
@SURFACE
@click.option("--opt", "opt", multiple=True, metavar="NAME[:k=v,...]", shell_complete=_complete_one_optimizer,
              help="The one optimizer to map (required, exactly one; not 'all'): a name (see `trajviz list "
                   "optimizers`) or pkg.module:Class, with torch.optim's keyword names for the values it "
                   "keeps fixed, e.g. adam:betas=0.9/0.99.")
@click_options(RunOptions, only=("steps", "start", "starts", "noise", "batch_size", "seed", "device",
                                 "dtype", "schedule", "xlim", "ylim"))
@click.option("--param", "params", multiple=True, required=True, metavar="KEY=MIN:MAX[:log]:COUNT",
              help="A grid axis (1 or 2 of them), with torch.optim's keyword names, e.g. "
                   "lr=1e-4:1e-1:log:64 or momentum=0:0.99:64.")
@click.option("--metric", type=click.Choice(["loss", "steps"]), default="loss", show_default=True,
              help="Final loss, or steps until loss - optimum <= --tol.")
@click.option("--tol", type=float, default=None, help="Tolerance for --metric steps (default 1e-6).")
@click_options(PlotOptions, only=("theme", "size"))
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Heat-map (.png, .svg, .pdf) or numbers (.csv); default SURFACE-sweep.png.")
def sweep_cmd(surface, params, metric, tol, output, **values):
    """Map the final loss (or steps to converge) over a grid of hyperparameters.

    Give exactly one --opt. All cells run as one batched job; with several
    starts the metric is averaged over them. The method's default cell and the
    best cell are marked.

    \b
    Example:
        trajviz sweep quadratic --opt momentum --param lr=1e-4:1:log:64 --param momentum=0:0.99:64 -o map.png
    """
    from .api import sweep
    from .sweeps import parse_param

    axes = [parse_param(p) for p in params]
    path = _checked_output(output or _default_name(surface, "-sweep.png"), (".png", ".svg", ".pdf", ".csv"),
                           "sweep")
    po = from_cli(PlotOptions, {k: values.pop(k) for k in ("theme", "size")})
    opts = values.pop("opt") or ()
    if len(opts) != 1 or opts[0].strip().lower() == "all":
        raise TrajvizError("a sweep maps one optimizer: give exactly one --opt")
    ro = _run_options(surface, {**values, "opt": opts})
    run_kw = {k: getattr(ro, k) for k in ("steps", "start", "starts", "noise", "batch_size", "seed", "device",
                                          "dtype", "schedule", "xlim", "ylim")}
    if _interactive():
        import math

        cells = " x ".join(f"{len(a.values):,}" for a in axes)
        steps = ro.steps if ro.steps is not None else _surface_steps(ro)
        _status(f"sweeping {opts[0]} over {cells} cells ({math.prod(len(a.values) for a in axes):,} runs) "
                f"x {_plural(steps, 'step')} on {surface} ...")
    result = sweep(surface, opts[0], axes, metric=metric, tol=tol, **run_kw)
    _rate_note(result.surface, [result.spec], None)
    if result.best is not None:
        best = ", ".join(f"{a.key}={a.values[i]:.4g}" for a, i in zip(result.axes, result.best))
        click.echo(f"best: {best} -> {metric} {result.values[result.best]:.4g}", err=True)
    else:
        click.echo("warning: no cell converged", err=True)
    if path.suffix.lower() == ".csv":
        result.save(path)
    else:
        result.save(path, theme=po.theme, size=po.size)
    click.echo(f"wrote {path}", err=True)


@cli.command("animate", short_help="Animate the optimizers racing, with the analogies drawn.")
@_surface_help
@SURFACE
@click_options(RunOptions, AnimateOptions, complete=RUN_COMPLETION)
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Animation file: .gif, .webp, .png (APNG), .mp4 or .html (default: SURFACE.gif).")
def animate_cmd(surface, output, **values):
    """Animate the optimizers racing on the surface, with the analogies drawn.

    Arrows are velocities (the downhill slope), boxes the per-axis step (the bad
    shoes), hollow arrows the raw slope (the drunk walker's next stagger).

    \b
    Example:
        trajviz animate rosenbrock --opt all
    """
    from .api import run_with
    from .options import replace
    from .render.animate import animate_result
    from .render.writers import check_animation_path

    ro = _run_options(surface, values)
    ao = replace(from_cli(AnimateOptions, values), progress=sys.stderr.isatty())
    path = check_animation_path(output or _default_name(surface, ".gif"))
    _say_running(ro)
    result = run_with(ro, diagnostics=ao.story, beside=True, meanwhile=_warm_up)
    _report(result, ro.tune, ro.lr)
    anim = animate_result(result, ao, xlim=ro.xlim, ylim=ro.ylim)
    if _interactive():
        _status(f"rendering {_plural(anim.frames, 'frame')} to {path} ...")
    anim.save(path)
    size = path.stat().st_size
    click.echo(f"wrote {path} ({anim.frames} frames, {size / 1024:.0f} KiB)", err=True)


@cli.command("explain", short_help="Take one update of a method apart, step by step.")
@click.argument("method", shell_complete=_complete_method)
@click_options(ExplainOptions, complete={"surface": _complete_surface})
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Clip file: .gif, .webp, .png (APNG), .mp4 or .html (default METHOD.gif).")
def explain_cmd(method, output, **values):
    """Take one update of a method apart, step by step, the way a teacher draws it.

    Momentum: the velocity decays by beta, the gradient is added tip to tail, the
    step, the new position. AdaGrad, RMSProp, Adadelta, Adam: a square per axis
    whose area is the remembered g^2, and the gradient divided by its side. Every
    number is torch.optim's own. Methods: sgd, momentum, nesterov, adagrad,
    adadelta, rmsprop, adam.

    \b
    Example:
        trajviz explain momentum -o momentum.gif
    """
    from .api import explain
    from .render.writers import check_animation_path

    eo = from_cli(ExplainOptions, values)
    path = check_animation_path(output or _default_name(method, ".gif"))
    clip = explain(method, path, **{k: getattr(eo, k) for k in values})
    click.echo(f"wrote {path} ({clip.frames} frames, {clip.seconds:.1f} s)", err=True)


@cli.command("explore", short_help="Write an interactive page: drag the start, move the sliders.")
@_surface_help
@SURFACE
@click_options(RunOptions, only=("opt", "start", "steps", "noise", "batch_size", "seed", "xlim", "ylim"),
               complete=RUN_COMPLETION)
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Write the page to FILE.html (default: a temporary file, opened in your browser).")
def explore_cmd(surface, output, **values):
    """Write one self-contained HTML page where every path re-runs as you drag the
    start or move a slider; without -o it opens in your browser. It works offline.

    \b
    Example:
        trajviz explore rosenbrock --opt sgd --opt momentum --opt adam -o explorer.html
    """
    from .explore.command import explore_command

    path, opened = explore_command(_run_options(surface, values), output=output)
    size = path.stat().st_size
    where = "opened it in your browser" if opened else "open it in a browser"
    click.echo(f"wrote {path} ({size / 1024:.0f} KiB); {where}", err=True)


TRAIN_STILLS = (".png", ".svg", ".pdf")
TRAIN_PICTURES = TRAIN_STILLS + (".gif", ".webp", ".mp4", ".html")
TRAIN_DATA = (".npz", ".json", ".csv")


@cli.command("train", short_help="Train a real network with several optimizers; their paths on one plane.")
@click.argument("scenario", default="mlp")
@click.option("--opt", "opts", multiple=True, metavar="NAME[:k=v,...]",
              help="Optimizer, repeatable, as for `trajviz run` (torch.optim keyword names, pkg.module:Class). "
                   "Default: the tutorial's SGD, Momentum 0.8, RMSprop (alpha 0.9), Adam (0.9/0.99), lr 0.01.")
@click.option("--lr", type=float, default=None,
              help="Learning rate for every optimizer given without lr= (default 0.01).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the data, initial weights and batches.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default=None,
              help="Default: float64 (float32 on mps).")
@click.option("--steps", type=int, default=None, help="Optimizer steps (instead of --epochs).")
@click.option("--epochs", type=int, default=None, help="Epochs (default: the scenario's, 12 for mlp).")
@click.option("--batch-size", type=int, default=None, help="Minibatch size (default: the scenario's, 32 for mlp).")
@click.option("--record-every", type=int, default=1, show_default=True, metavar="K", help="Keep every K-th step.")
@click.option("--plane", type=click.Choice(["pca", "random"]), default="pca", show_default=True,
              help="PCA of all paths about the common start, or filter-normalised random directions.")
@click.option("--center", default="start", show_default=True,
              help="Random plane's center: start, end (of the best method), or a method's label (its end).")
@click.option("--plane-seed", type=int, default=None, help="Seed of the random directions (default: --seed).")
@click.option("--tune", is_flag=True, default=False,
              help="First train each method at 13 rates from 1e-4 to 1 and keep the one with the lowest "
                   "final loss (a fair race; 13x the training time).")
@click_options(AnimateOptions, only=("layout", "theme", "loss_panel", "size", "dpi", "title", "colorbar", "legend",
                                     "view", "fps", "duration", "frames", "hold", "story"))
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Data (.npz, .json, .csv), a picture (.png, .svg, .pdf) or an animation (.gif, .webp, .mp4, "
                   ".html); default: a summary on stdout.")
def train_cmd(scenario, opts, lr, seed, device, dtype, steps, epochs, batch_size, record_every, plane, center,
              plane_seed, tune, output, **values):
    """Train a small network with several optimizers from the same start, on one plane of its loss.

    Scenarios: mlp (a 1-20-1 ReLU network fitting y = x^2 + noise, the classic
    optimizer tutorial), classify (two Gaussian clouds, cross-entropy), digits
    (scikit-learn's 8x8 digits; needs the [digits] extra). All methods start from
    the same weights and see the same minibatches; the plane holds as much of
    their movement as it can, and the off-plane share is reported.

    \b
    Examples:
        trajviz train -o mlp.png
        trajviz train classify --epochs 6 -o classify.gif
        trajviz train mlp --seed 1 -o mlp.npz
    """
    path = _checked_output(output, TRAIN_PICTURES + TRAIN_DATA, "output") if output else None
    ao = from_cli(AnimateOptions, values)   # checked before the training starts
    import warnings

    from .nn.training import OffPlaneWarning, train

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OffPlaneWarning)  # said below, one line each
        result = train(scenario, opt=list(opts) or None, lr=lr, seed=seed, device=device, dtype=dtype,
                       steps=steps, epochs=epochs, batch_size=batch_size, record_every=record_every,
                       plane=plane, center=center, plane_seed=plane_seed, tune=tune)
    if tune:
        from .tune import tuned_table

        click.echo(tuned_table(result.tuned), err=True)
    for note in result.warnings:
        click.echo(f"warning: {note}", err=True)
    for m in result:
        if m.diverged_at >= 0:
            click.echo(f"warning: {m.label} diverged at step {m.diverged_at}", err=True)
    if path is None:
        click.echo(result.summary())
        return
    if path.suffix.lower() in TRAIN_DATA:
        result.save(path)
    elif path.suffix.lower() in TRAIN_STILLS:
        from .render.plot import plot_result, save_figure

        save_figure(plot_result(result.to_result(), ao), path, dpi=ao.dpi)
    else:
        from .options import replace
        from .render.animate import animate_result

        anim = animate_result(result.to_result(), replace(ao, progress=sys.stderr.isatty()), path)
        click.echo(f"wrote {path} ({anim.frames} frames, {path.stat().st_size / 1024:.0f} KiB)", err=True)
        return
    click.echo(f"wrote {path}", err=True)


def _warm_up() -> None:
    """What a picture needs loaded (torch, matplotlib, the fonts, the renderer), loaded while the run
    goes on in a child: otherwise it would come after the run."""
    from .render import animate, plot  # noqa: F401
    from .render.figure import warm_up

    warm_up()


def _default_name(surface: str, ext: str) -> str:
    import re

    stem = re.sub(r"[^A-Za-z0-9_.=-]+", "_", surface.split(":")[0]).strip("_") or "trajviz"
    return stem[:60] + ext


def main(argv=None):
    """The ``trajviz`` command. Its process ends when the command is done, so the objects it built
    (torch's and matplotlib's modules above all) are frozen first: the collector's last walk over
    them at exit took a second or more of every command that imported torch."""
    import gc

    try:
        cli.main(args=argv, prog_name="trajviz")
    finally:
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    main()
