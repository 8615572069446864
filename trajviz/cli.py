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
from .errors import TrajvizError
from .specs import parse_pair

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class TrajvizGroup(click.Group):
    """A group whose errors are one line on stderr, never a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        _exit_cleanly_on_sigterm()
        try:
            rv = super().main(args=args, prog_name=prog_name or "trajviz", complete_var=complete_var,
                              standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except KeyboardInterrupt:
            click.echo("Interrupted: no output written.", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except TrajvizError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1 if type(exc).__name__ == "OutputError" else 2)
        except OSError as exc:
            click.echo(f"Error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


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


def _pair(what):
    def convert(ctx, param, value):
        if value is None:
            return None
        if isinstance(value, tuple):
            return [parse_pair(v, what) for v in value] or None
        lo, hi = parse_pair(value, what)
        if lo >= hi:
            raise TrajvizError(f"bad {what} '{value}': need A < B")
        return lo, hi
    return convert


def _point(ctx, param, value):
    return None if value is None else parse_pair(value, "start")


# The options of a run, by the keyword they fill: run, plot and animate take them all,
# sweep the ones that make sense for a grid of cells.
RUN_OPTIONS = dict(
    surface=click.argument("surface"),
    opts=click.option("--opt", "opts", multiple=True, metavar="NAME[:k=v,...]",
                      help="Optimizer, repeatable: a name (see `trajviz list optimizers`), 'all' "
                           "(the classic seven), or pkg.module:Class; torch.optim keyword names as keys, "
                           "e.g. adam:lr=0.05,betas=0.9/0.99. Default: all."),
    steps=click.option("--steps", type=int, default=None, help="Number of steps (default: the surface's)."),
    start=click.option("--start", "start", multiple=True, metavar="X,Y", callback=_pair("start"),
                       help="Start point, repeatable (default: the surface's)."),
    starts=click.option("--starts", type=int, default=None, metavar="N",
                        help="Sample N start points in the domain (seeded)."),
    lr=click.option("--lr", type=float, default=None, help="Learning rate for every selected optimizer."),
    noise=click.option("--noise", type=float, default=0.0, show_default=True,
                       help="Std. dev. of seeded Gaussian noise added to every gradient."),
    batch_size=click.option("--batch-size", type=int, default=None,
                            help="Minibatch size (surfaces with data: regression)."),
    seed=click.option("--seed", type=int, default=0, show_default=True, help="Seed for starts, noise, batches."),
    device=click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps."),
    dtype=click.option("--dtype", type=click.Choice(["float32", "float64"]), default=None,
                       help="Default: float64 (float32 on mps)."),
    record_every=click.option("--record-every", type=int, default=1, show_default=True, metavar="K",
                              help="Keep every K-th step."),
    clip=click.option("--clip", type=float, default=None, help="Clip each path's gradient norm (off by default)."),
    schedule=click.option("--schedule", default=None, metavar="NAME[:k=v,...]",
                          help="Learning-rate schedule: cosine, step, exponential or warmup, with torch's "
                               "keyword names, e.g. step:step_size=100,gamma=0.5."),
    tune=click.option("--tune", is_flag=True,
                      help="Search each optimizer's learning rate first (64 log-spaced candidates and a "
                           "refinement, batched) and draw each with its best rate."),
    xlim=click.option("--xlim", callback=_pair("xlim"), metavar="A,B", help="x range of the domain."),
    ylim=click.option("--ylim", callback=_pair("ylim"), metavar="A,B", help="y range of the domain."),
)


def _options(*names):
    """A decorator applying the named RUN_OPTIONS (all of them by default)."""
    def apply(f):
        for name in reversed(names or tuple(RUN_OPTIONS)):
            f = RUN_OPTIONS[name](f)
        return f
    return apply


run_options = _options()


def _run(surface, opts, steps, start, starts, lr, noise, batch_size, seed, device, dtype, record_every,
         clip, schedule, tune, xlim, ylim, diagnostics=False):
    from .engine import run

    result = run(surface, list(opts) or "all", steps=steps, start=start or None, starts=starts, lr=lr,
                 noise=noise, batch_size=batch_size, seed=seed, device=device, dtype=dtype,
                 record_every=record_every, clip=clip, schedule=schedule, tune=tune, xlim=xlim, ylim=ylim,
                 diagnostics=diagnostics)
    if tune:
        from .tune import tuned_table

        click.echo(tuned_table({t.label: t.tuned for t in result if t.tuned is not None}), err=True)
    for label, i, step in result.divergences()[:20]:
        click.echo(f"warning: {label} (start {i}) diverged at step {step}", err=True)
    extra = len(result.divergences()) - 20
    if extra > 0:
        click.echo(f"warning: ... and {extra} more diverged paths", err=True)
    return result


_RUN_KEYS = ("surface", "opts", "steps", "start", "starts", "lr", "noise", "batch_size", "seed", "device",
             "dtype", "record_every", "clip", "schedule", "tune", "xlim", "ylim")


def _split(kwargs):
    run_kw = {k: kwargs.pop(k) for k in _RUN_KEYS}
    return run_kw, kwargs


def _checked_output(path, formats, what):
    if path is None:
        return None
    path = Path(path)
    if path.suffix.lower() not in formats:
        raise TrajvizError(f"cannot write {what} '{path.name}': use one of {', '.join(formats)}")
    from .atomic import check_writable

    check_writable(path)
    return path


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


@cli.command("run")
@run_options
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Write to FILE (.csv, .json or .npz) instead of CSV on stdout.")
def run_cmd(output, **kwargs):
    """Run optimizers and export their paths (CSV to stdout by default).

    CSV columns: optimizer,start,step,x,y,loss (step 0 is the start point).

    \b
    Example:
        trajviz run rosenbrock --opt adam:lr=0.05 --opt sgd --steps 200 -o paths.csv
    """
    from .result import EXPORT_FORMATS

    path = _checked_output(output, EXPORT_FORMATS, "paths")
    result = _run(**kwargs)
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


def plot_options(f):
    options = [
        click.option("--layout", type=click.Choice(["auto", "overlay", "grid"]), default="auto", show_default=True,
                     help="All paths on one map, or one small map per optimizer (auto: grid for swarms)."),
        click.option("--theme", type=click.Choice(["light", "dark"]), default="light", show_default=True,
                     help="Colours for light or dark slides."),
        click.option("--loss-panel", is_flag=True, help="Add a panel of loss against step."),
        click.option("--size", default=None, metavar="WxH", help="Picture size in pixels, e.g. 1280x720."),
        click.option("--dpi", type=int, default=None, help="Dots per inch (text scale)."),
        click.option("--title", default=None, help="Title (default: the surface and its formula)."),
        click.option("--no-colorbar", "colorbar", is_flag=True, flag_value=False, default=True,
                     help="Leave out the colour bar."),
        click.option("--no-legend", "legend", is_flag=True, flag_value=False, default=True,
                     help="Leave out the legend."),
        click.option("--grad-field", is_flag=True, help="Draw a faint field of -grad f arrows."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@cli.command("plot")
@run_options
@plot_options
@click.option("--view", type=click.Choice(["2d", "3d"]), default="2d", show_default=True,
              help="Contour map, or the surface in 3D with the paths on it.")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Picture file: .png, .svg or .pdf (default: SURFACE.png).")
def plot_cmd(output, **kwargs):
    """Draw the paths on the surface's contour map.

    \b
    Example:
        trajviz plot beale --opt all --loss-panel --size 1280x720 -o beale.png
    """
    run_kw, plot_kw = _split(kwargs)
    path = _checked_output(output or _default_name(run_kw["surface"], ".png"), (".png", ".svg", ".pdf"),
                           "picture")
    from .render.style import parse_size

    parse_size(plot_kw.get("size"))  # fail before the run, not after
    result = _run(**run_kw)
    from .render.plot import plot_result, save_figure

    fig = plot_result(result, xlim=run_kw["xlim"], ylim=run_kw["ylim"], **plot_kw)
    save_figure(fig, path, dpi=plot_kw.get("dpi"))
    click.echo(f"wrote {path}", err=True)


@cli.command("sweep", short_help="Map the final loss over a grid of hyperparameters.")
@_options("surface", "opts", "steps", "start", "starts", "noise", "batch_size", "seed", "device", "dtype",
          "schedule", "xlim", "ylim")
@click.option("--param", "params", multiple=True, required=True, metavar="KEY=MIN:MAX[:log]:COUNT",
              help="A grid axis (1 or 2 of them), with torch.optim's keyword names, e.g. "
                   "lr=1e-4:1e-1:log:64 or momentum=0:0.99:64.")
@click.option("--metric", type=click.Choice(["loss", "steps"]), default="loss", show_default=True,
              help="Final loss, or steps until loss - optimum <= --tol.")
@click.option("--tol", type=float, default=None, help="Tolerance for --metric steps (default 1e-6).")
@click.option("--theme", type=click.Choice(["light", "dark"]), default="light", show_default=True,
              help="Colours for light or dark slides.")
@click.option("--size", default=None, metavar="WxH", help="Picture size in pixels.")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Heat-map (.png, .svg, .pdf) or numbers (.csv); default SURFACE-sweep.png.")
def sweep_cmd(surface, opts, params, metric, tol, output, theme, size, **run_kw):
    """Map the final loss (or steps to converge) over a grid of hyperparameters.

    Give exactly one --opt. All cells run as one batched job; with several
    starts the metric is averaged over them. The method's default cell and the
    best cell are marked.

    \b
    Example:
        trajviz sweep quadratic --opt momentum --param lr=1e-4:1:log:64 --param momentum=0:0.99:64 -o map.png
    """
    from .sweep import parse_param, sweep

    axes = [parse_param(p) for p in params]
    path = _checked_output(output or _default_name(surface, "-sweep.png"), (".png", ".svg", ".pdf", ".csv"),
                           "sweep")
    if size is not None:
        from .render.style import parse_size

        parse_size(size)
    if len(opts) != 1:
        raise TrajvizError("a sweep maps one optimizer: give exactly one --opt")
    run_kw["start"] = run_kw["start"] or None
    result = sweep(surface, opts[0], axes, metric=metric, tol=tol, **run_kw)
    if result.best is not None:
        best = ", ".join(f"{a.key}={a.values[i]:.4g}" for a, i in zip(result.axes, result.best))
        click.echo(f"best: {best} -> {metric} {result.values[result.best]:.4g}", err=True)
    else:
        click.echo("warning: no cell converged", err=True)
    if path.suffix.lower() == ".csv":
        result.save(path)
    else:
        result.save(path, theme=theme, size=size)
    click.echo(f"wrote {path}", err=True)


@cli.command("animate", short_help="Animate the optimizers racing, with the analogies drawn.")
@run_options
@plot_options
@click.option("--fps", type=float, default=25.0, show_default=True, help="Frames per second.")
@click.option("--duration", type=float, default=None, help="Seconds of animation (frame budget = fps x duration; default 6 s).")
@click.option("--frames", type=int, default=None, help="Frame budget (long runs are subsampled to it).")
@click.option("--hold", type=float, default=1.5, show_default=True, help="Seconds the last frame stays up.")
@click.option("--no-story", "story", is_flag=True, flag_value=False, default=True,
              help="Leave out the velocity arrows, step boxes and gradient arrows.")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Animation file: .gif, .webp, .png (APNG), .mp4 or .html (default: SURFACE.gif).")
def animate_cmd(output, fps, duration, frames, hold, story, **kwargs):
    """Animate the optimizers racing on the surface, with the analogies drawn.

    Arrows are velocities (the downhill slope), boxes the per-axis step (the bad
    shoes), hollow arrows the raw slope (the drunk walker's next stagger).

    \b
    Example:
        trajviz animate rosenbrock --opt all
    """
    run_kw, plot_kw = _split(kwargs)
    path = Path(output or _default_name(run_kw["surface"], ".gif"))
    from .render.animate import animate_result, check_options

    check_options(fps=fps, duration=duration, frames=frames, hold=hold, path=path, **plot_kw)
    result = _run(**run_kw, diagnostics=story)
    anim = animate_result(result, path, fps=fps, duration=duration, frames=frames, hold=hold, story=story,
                          xlim=run_kw["xlim"], ylim=run_kw["ylim"], progress=sys.stderr.isatty(), **plot_kw)
    size = path.stat().st_size
    click.echo(f"wrote {path} ({anim.frames} frames, {size / 1024:.0f} KiB)", err=True)


@cli.command("explain", short_help="Take one update of a method apart, step by step.")
@click.argument("method")
@click.option("--surface", default=None, help="Surface to take the update on (default: one that shows the method best).")
@click.option("--update", type=int, default=None, help="Which update to take apart (1-based; default per method).")
@click.option("--start", default=None, metavar="X,Y", callback=_point, help="Start point of the run.")
@click.option("--theme", type=click.Choice(["light", "dark"]), default="light", show_default=True,
              help="Colours for light or dark slides.")
@click.option("--size", default=None, metavar="WxH", help="Clip size in pixels (default 1280x720).")
@click.option("--dpi", type=int, default=None, help="Dots per inch (text scale).")
@click.option("--fps", type=float, default=None, help="Frames per second (default 20).")
@click.option("--pace", type=float, default=1.0, show_default=True, help="Stretch each sub-step's time.")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Clip file: .gif, .webp, .png (APNG), .mp4 or .html (default METHOD.gif).")
def explain_cmd(method, surface, update, start, theme, size, dpi, fps, pace, output):
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
    from .render.writers import check_animation_path

    path = check_animation_path(output or _default_name(method, ".gif"))
    if size is not None:
        from .render.style import parse_size

        parse_size(size)
    from .render.explain import explain

    clip = explain(method, path, surface=surface, update=update, start=start, theme=theme, size=size, dpi=dpi,
                   fps=fps, pace=pace)
    click.echo(f"wrote {path} ({clip.frames} frames, {clip.seconds:.1f} s)", err=True)


TRAIN_PICTURES = (".png", ".svg", ".pdf", ".gif", ".webp", ".mp4", ".html")
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
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Data (.npz, .json, .csv) or picture (.png, .gif, .webp, .mp4, .html); "
                   "default: a summary on stdout.")
def train_cmd(scenario, opts, lr, seed, device, dtype, steps, epochs, batch_size, record_every, plane, center,
              plane_seed, output):
    """Train a small network with several optimizers from the same start, on one plane of its loss.

    Scenarios: mlp (a 1-20-1 ReLU network fitting y = x^2 + noise, the classic
    optimizer tutorial), classify (two Gaussian clouds, cross-entropy), digits
    (scikit-learn's 8x8 digits; needs the [digits] extra). All methods start from
    the same weights and see the same minibatches; the plane holds as much of
    their movement as it can, and the off-plane share is reported.

    \b
    Example:
        trajviz train mlp --seed 1 -o mlp.npz
    """
    path = _checked_output(output, TRAIN_PICTURES + TRAIN_DATA, "output") if output else None
    import warnings

    from .nn.training import OffPlaneWarning, train

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OffPlaneWarning)  # said below, one line each
        result = train(scenario, opt=list(opts) or None, lr=lr, seed=seed, device=device, dtype=dtype,
                       steps=steps, epochs=epochs, batch_size=batch_size, record_every=record_every,
                       plane=plane, center=center, plane_seed=plane_seed)
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
    else:
        _render(result, path)
    click.echo(f"wrote {path}", err=True)


def _render(result, path, **opts):
    """Draw a trained result (the lead wires this to the renderer through result.to_result())."""
    raise TrajvizError(f"cannot write '{Path(path).name}' yet: pictures of `trajviz train` are not wired to "
                       "the renderer; write .npz, .json or .csv for now")


def _default_name(surface: str, ext: str) -> str:
    import re

    stem = re.sub(r"[^A-Za-z0-9_.=-]+", "_", surface.split(":")[0]).strip("_") or "trajviz"
    return stem[:60] + ext


def main(argv=None):
    cli.main(args=argv, prog_name="trajviz")


if __name__ == "__main__":  # pragma: no cover
    main()
