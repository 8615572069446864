"""Every option of every command, declared once.

Each group of options is a frozen dataclass whose fields carry, as metadata, the
help text, the command-line flag and the check of the value. From this one
declaration come:

* the Python keyword arguments (``trajviz.run(..., steps=200)`` builds a
  :class:`RunOptions`), checked when built, before any long work starts;
* the CLI's click options (:func:`click_options`), whose values go through the
  same checks (so ``--steps abc`` and ``steps="abc"`` fail with the same line);
* the docs of both (:func:`describe`, used by ``--help`` and the docstrings).

Adding an option is one field here (plus its use and its test).

>>> RunOptions(steps=200).steps
200
>>> RunOptions(steps=0)
Traceback (most recent call last):
...
trajviz.errors.TrajvizError: bad steps: 0 (must be a whole number from 1 to 100,000,000)
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from typing import Any

from . import checks
from .errors import TrajvizError, bad

MAX_STEPS = 100_000_000
MAX_STARTS = 10_000_000
MAX_SEED = 2**63 - 1
MAX_FPS, MIN_FPS = 50.0, 0.1
MAX_HOLD = 60.0
MAX_FRAMES = 100_000
MAX_SECONDS = 3600.0
LAYOUTS = ("auto", "overlay", "grid")
VIEWS = ("2d", "3d")
THEMES = ("light", "dark")
DTYPES = ("float32", "float64")
_DEVICE = re.compile(r"(auto|cpu|cuda|mps)(:\d+)?")
_SIZE = re.compile(r"^\s*(\d+)\s*[xX×*,]\s*(\d+)\s*$")


def option(default=None, *, help: str, flag: str | None = None, metavar: str | None = None,
           check=None, multiple: bool = False, cli: bool = True, negate: str | None = None, pair: bool = False):
    """A field with what the CLI and the docs need: help, flag, metavar, check (value -> value).

    ``negate``: a flag that turns a default-on option off; ``pair``: a ``--x/--no-x`` flag pair
    for an option whose default (None) means "automatic".
    """
    return field(default=default, metadata=dict(help=help, flag=flag, metavar=metavar, check=check,
                                                 multiple=multiple, cli=cli, negate=negate, pair=pair))


# ---- checks of single values (one rule per kind; wording from trajviz.errors.bad) -------------------
def _optional(check):
    return lambda v, what: None if v is None else check(v, what)


def _steps(v, what):
    return checks.whole(v, what, 1, MAX_STEPS)


def _starts(v, what):
    return checks.whole(v, what, 1, MAX_STARTS)


def _seed(v, what):
    return checks.whole(v, what, 0, MAX_SEED)


def _positive(v, what):
    return checks.number(v, what, 0, open_low=True)


def _nonnegative(v, what):
    return checks.number(v, what, 0)


def _increasing_pair(v, what):
    return checks.pair(v, what, increasing=True)


def _points(v, what):
    """One (x, y), ``"X,Y"``, or a list (or an (N, 2) array) of them -> a tuple of (x, y) pairs."""
    rule = "a point X,Y of two finite numbers, or a list of them"
    if isinstance(v, str):
        return (checks.pair(v, what),)
    import numpy as np

    try:
        arr = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        arr = None
    if arr is not None and arr.ndim == 1 and arr.shape == (2,):
        return (checks.pair(tuple(arr.tolist()), what),)
    if arr is not None and arr.ndim == 2 and arr.shape[1] == 2 and len(arr):
        if not np.isfinite(arr).all():
            raise bad(what, "non-finite coordinates", rule)
        return tuple((float(a), float(b)) for a, b in arr)
    try:
        items = list(v)
    except TypeError:
        raise bad(what, v, rule) from None
    if not items:
        return None
    if not all(isinstance(p, (str, tuple, list, np.ndarray)) for p in items):
        raise bad(what, v, rule)
    return tuple(checks.pair(p, what) for p in items)


def _device(v, what):
    text = str(v).strip().lower() if v is not None else "auto"
    if not _DEVICE.fullmatch(text) or text.startswith("auto:"):
        raise bad(what, v, "auto, cpu, cuda, cuda:N or mps")
    return text


def _dtype(v, what):
    if v is None:
        return None
    name = str(v).strip().lower().removeprefix("torch.")
    name = {"float": "float32", "double": "float64"}.get(name, name)
    return checks.choice(name, what, DTYPES)


def _batch_size(v, what):
    if v is None:
        return None
    if isinstance(v, str) and v.strip().lower() == "full":
        return "full"
    try:
        return checks.whole(v, what, 1)
    except TrajvizError:
        raise bad(what, v, "a whole number >= 1, or full") from None


def _schedule(v, what):
    if v is None:
        return None
    if not isinstance(v, str):
        return v  # a Schedule object, checked when the run is set up
    from .schedules import check_syntax

    return check_syntax(v)


def _opt(v, what):
    if v is None:
        return ("all",)
    items = list(v) if isinstance(v, (list, tuple)) else [v]
    if not items:
        return ("all",)
    for item in items:
        if isinstance(item, str) and not item.strip():
            raise bad(what, item, "an optimizer name such as adam, a spec adam:lr=0.1, or pkg.module:Class")
    return tuple(items)


def _surface(v, what):
    if isinstance(v, str):
        if not v.strip():
            raise bad(what, v, "a surface name (see trajviz list surfaces) or a formula in x and y")
        return v
    if v is None:
        raise bad(what, v, "a surface name (see trajviz list surfaces) or a formula in x and y")
    return v


def _size(v, what):
    """``"1280x720"`` or (w, h) -> (w, h) pixels, each from 32 to 20,000."""
    if v is None:
        return None
    rule = "WIDTHxHEIGHT in pixels, each from 32 to 20000, e.g. 1280x720"
    if isinstance(v, str):
        m = _SIZE.match(v)
        if not m:
            raise bad(what, v, rule)
        w, h = int(m.group(1)), int(m.group(2))
    else:
        try:
            w, h = v
            w, h = checks.whole(w, what, 1), checks.whole(h, what, 1)
        except (TypeError, ValueError, TrajvizError):
            raise bad(what, v, rule) from None
    if not (32 <= w <= 20000 and 32 <= h <= 20000):
        raise bad(what, f"{w}x{h}", rule)
    return (w, h)


def _dpi(v, what):
    return None if v is None else checks.number(v, what, 10, 2000)


def _fps(v, what):
    return checks.number(v, what, MIN_FPS, MAX_FPS, unit="frames per second")


def _hold(v, what):
    """The one rule for every hold: seconds from 0 to 60."""
    return checks.number(v, what, 0, MAX_HOLD, unit="seconds")


def _frames(v, what):
    return None if v is None else checks.whole(v, what, 1, MAX_FRAMES)


def _duration(v, what):
    return None if v is None else checks.number(v, what, 0, MAX_SECONDS, open_low=True, unit="seconds")


def _title(v, what):
    """A title is plain text: matplotlib's mathtext ($...$) is parsed now, so a bad one fails first."""
    if v is None:
        return None
    text = checks.text(v, what, 300)
    if text.count("$") >= 2 and text.count("$") - text.count(r"\$") >= 2:
        from matplotlib.mathtext import MathTextParser

        try:
            MathTextParser("path").parse(text)
        except ValueError as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "cannot parse"
            raise TrajvizError(f"bad {what}: {text!r} (its $...$ math does not parse: {first})") from None
    return text


def _choice(choices):
    return lambda v, what: checks.choice(v, what, choices)


# ---- the declarations ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunOptions:
    """What a run needs: the surface, the optimizers and everything that shapes their paths."""

    surface: Any = option("rosenbrock", help="A surface name (see `trajviz list surfaces`), name:k=v,..., "
                          "or a formula in x and y such as \"x**2 + 10*y**2\".", check=_surface, cli=False)
    opt: Any = option(("all",), flag="--opt", metavar="NAME[:k=v,...]", multiple=True, check=_opt,
                      help="Optimizer, repeatable: a name (see `trajviz list optimizers`), 'all' (the "
                           "classic seven), or pkg.module:Class; torch.optim's keyword names as keys, e.g. "
                           "adam:lr=0.05,betas=0.9/0.99. Default: all.")
    steps: int | None = option(None, check=_optional(_steps), metavar="N",
                               help="Number of steps (default: the surface's).")
    start: Any = option(None, metavar="X,Y", multiple=True, check=_optional(_points),
                        help="Start point, repeatable (default: the surface's).")
    starts: int | None = option(None, metavar="N", check=_optional(_starts),
                                help="Sample N start points in the domain (seeded).")
    lr: float | None = option(None, check=_optional(_positive), metavar="RATE",
                              help="Learning rate for every selected optimizer (a spec's own lr= wins).")
    noise: float = option(0.0, check=_nonnegative, metavar="S",
                          help="Std. dev. of seeded Gaussian noise added to every gradient (the drunk "
                               "walker's stagger).")
    batch_size: Any = option(None, check=_batch_size, metavar="B|full",
                             help="Minibatch size on surfaces with data (regression: 1,000 rows). Each epoch "
                                  "visits every row once, in a seeded order (drawn without replacement; the "
                                  "last batch of an epoch may be short), and every start sees the same "
                                  "batches. 'full', or B equal to the number of rows, is the full data set "
                                  "(the exact gradient). Default: the full data set.")
    seed: int = option(0, check=_seed, help="Seed for sampled starts, noise and minibatch order.")
    device: str = option("auto", check=_device, help="auto, cpu, cuda, cuda:N or mps.")
    dtype: str | None = option(None, check=_dtype, metavar="float32|float64",
                               help="Default: float64 (float32 on mps).")
    record_every: int = option(1, check=lambda v, w: checks.whole(v, w, 1), metavar="K",
                               help="Keep every K-th step (and the last).")
    clip: float | None = option(None, check=_optional(_positive), metavar="NORM",
                                help="Clip each path's gradient norm (off by default: clipping turns SGD "
                                     "into normalized SGD).")
    schedule: Any = option(None, check=_schedule, metavar="NAME[:k=v,...]",
                           help="Learning-rate schedule: cosine, step, exponential or warmup, with torch's "
                                "keyword names, e.g. step:step_size=100,gamma=0.5.")
    tune: bool = option(False, check=checks.flag,
                        help="Search each optimizer's learning rate first (64 log-spaced candidates and a "
                             "refinement, batched) and run each with its best rate.")
    xlim: Any = option(None, check=_optional(_increasing_pair), metavar="A,B", help="x range of the domain.")
    ylim: Any = option(None, check=_optional(_increasing_pair), metavar="A,B", help="y range of the domain.")

    def __post_init__(self):
        _check_all(self)
        if self.start is not None and self.starts is not None:
            raise TrajvizError("give either start (points) or starts (a number to sample), not both")


@dataclass(frozen=True)
class PlotOptions:
    """How a picture looks."""

    layout: str = option("auto", check=_choice(LAYOUTS), metavar="auto|overlay|grid",
                         help="All paths on one map, or one small map per optimizer (auto: grid for swarms).")
    theme: Any = option("light", check=lambda v, w: v if not isinstance(v, str) else checks.choice(v, w, THEMES),
                        metavar="light|dark", help="Colours for light or dark slides.")
    loss_panel: bool | None = option(None, check=_optional(checks.flag), pair=True,
                                     help="The loss curves beside the map (default: on in a picture of its own).")
    size: Any = option(None, check=_size, metavar="WxH", help="Picture size in pixels, e.g. 1280x720.")
    dpi: float | None = option(None, check=_dpi, help="Dots per inch (text scale).")
    title: str | None = option(None, check=_title, help="Title (default: the surface and its formula).")
    colorbar: bool = option(False, check=checks.flag,
                            help="Add a colour bar (without it, a few contour lines carry their values).")
    legend: bool = option(True, check=checks.flag, negate="--no-legend",
                          help="Leave out the method names at the heads and the key of the marks.")
    grad_field: bool = option(False, check=checks.flag, help="Draw a faint field of -grad f arrows.")
    view: str = option("2d", check=_choice(VIEWS), metavar="2d|3d",
                       help="Contour map, or the surface in 3D with the paths on it.")
    swarm: bool | None = option(None, check=_optional(checks.flag), cli=False,
                                help="Draw each method's paths as one translucent swarm (default: over 20 starts).")

    def __post_init__(self):
        _check_all(self)


@dataclass(frozen=True)
class AnimateOptions(PlotOptions):
    """How an animation looks and plays (on top of the picture's options)."""

    fps: float = option(20.0, check=_fps, help="Frames per second.")
    duration: float | None = option(None, check=_duration, metavar="SECONDS",
                                    help="Seconds of animation (frame budget = fps x duration; default 6 s).")
    frames: int | None = option(None, check=_frames, metavar="N",
                                help="Frame budget (long runs are subsampled to it).")
    hold: float = option(3.0, check=_hold, metavar="SECONDS", help="Seconds the last frame stays up.")
    story: bool = option(True, check=checks.flag, negate="--no-story",
                         help="Leave out the velocity arrows, step boxes and gradient arrows.")
    progress: bool = option(False, check=checks.flag, cli=False, help="Show a progress bar on stderr.")

    def __post_init__(self):
        _check_all(self)
        if self.frames is not None and self.duration is not None:
            raise TrajvizError("give either frames or duration, not both")

    @property
    def budget(self) -> int:
        """How many frames at most: ``frames``, or ``duration`` seconds at ``fps``, or 6 s."""
        if self.frames is not None:
            return self.frames
        seconds = self.duration if self.duration is not None else DEFAULT_SECONDS
        return max(1, int(round(seconds * self.fps)))

    def picture(self) -> PlotOptions:
        return PlotOptions(**{f.name: getattr(self, f.name) for f in fields(PlotOptions)})


DEFAULT_SECONDS = 6.0
MAX_UPDATE = 10_000
MAX_PACE = 10.0


@dataclass(frozen=True)
class ExplainOptions:
    """What ``trajviz explain`` takes apart and how the clip looks."""

    surface: str | None = option(None, check=_optional(lambda v, w: _surface(v, w)),
                                 help="Surface to take the update on (default: one that shows the method best).")
    update: int | None = option(None, check=_optional(lambda v, w: checks.whole(v, w, 1, MAX_UPDATE)),
                                help="Which update to take apart (1-based; default per method).")
    start: Any = option(None, metavar="X,Y", check=_optional(lambda v, w: checks.pair(v, w)),
                        help="Start point of the run.")
    theme: Any = option("light", check=lambda v, w: v if not isinstance(v, str) else checks.choice(v, w, THEMES),
                        metavar="light|dark", help="Colours for light or dark slides.")
    size: Any = option(None, check=_size, metavar="WxH", help="Clip size in pixels (default 1280x720).")
    dpi: float | None = option(None, check=_dpi, help="Dots per inch (text scale).")
    fps: float = option(20.0, check=_fps, help="Frames per second.")
    pace: float = option(1.0, check=lambda v, w: checks.number(v, w, 0, MAX_PACE),
                         help="Stretch the time each sub-step stays up (2 = twice as long to read).")
    hold: float = option(3.0, check=_hold, metavar="SECONDS", help="Seconds the last frame stays up.")

    def __post_init__(self):
        _check_all(self)


def _check_all(obj) -> None:
    for f in fields(obj):
        check = f.metadata.get("check")
        if check is not None:
            object.__setattr__(obj, f.name, check(getattr(obj, f.name), f.name))


# ---- building from keywords ------------------------------------------------------------------------------
def names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def split(kwargs: dict, *classes) -> list[dict]:
    """Split keyword arguments over option classes; an unknown keyword is one clear error."""
    out = [{} for _ in classes]
    for key, value in kwargs.items():
        for i, cls in enumerate(classes):
            if key in names(cls):
                out[i][key] = value
                break
        else:
            valid = sorted({n for cls in classes for n in names(cls)})
            from .errors import unknown

            raise unknown("option", key, valid)
    return out


def build(cls, kwargs: dict):
    """``cls(**kwargs)`` with an unknown keyword said as a TrajvizError."""
    (mine,) = split(kwargs, cls)
    return cls(**mine)


def replace(obj, **changes):
    return dataclasses.replace(obj, **changes)


# ---- the CLI and the docs ------------------------------------------------------------------------------
def flag_of(f) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def click_options(*classes, exclude: tuple[str, ...] = (), only: tuple[str, ...] | None = None,
                  complete: dict | None = None):
    """A decorator adding a click option for every CLI field of ``classes``.

    Values arrive as text (or flags) and are checked when the options object is built,
    so the CLI and Python say the same thing about a bad value. ``complete`` maps a field
    to its shell-completion callback (click's ``shell_complete``).
    """
    import click

    complete = complete or {}

    def decorate(fn):
        for cls in reversed(classes):
            for f in reversed(fields(cls)):
                if not f.metadata.get("cli", True) or f.name in exclude or (only is not None and f.name not in only):
                    continue
                help_text = f.metadata["help"]
                if f.metadata.get("pair"):
                    name = flag_of(f)[2:]
                    opt = click.option(f"--{name}/--no-{name}", f.name, default=None, help=help_text)
                elif f.type in ("bool", bool) or isinstance(f.default, bool):
                    negate = f.metadata.get("negate")
                    if negate:
                        opt = click.option(negate, f.name, is_flag=True, flag_value=False, default=True,
                                           help=help_text)
                    else:
                        opt = click.option(flag_of(f), f.name, is_flag=True, default=False, help=help_text)
                else:
                    default = None
                    if not f.metadata.get("multiple") and f.default is not None:
                        default = f.default
                    opt = click.option(flag_of(f), f.name, default=default, multiple=f.metadata.get("multiple"),
                                       metavar=f.metadata.get("metavar"), help=help_text,
                                       show_default=default is not None and default != "",
                                       shell_complete=complete.get(f.name))
                fn = opt(fn)
        return fn

    return decorate


def from_cli(cls, values: dict):
    """Build ``cls`` from click's values: empty repeatable options mean 'not given'."""
    kw = {}
    for f in fields(cls):
        if f.name not in values:
            continue
        v = values[f.name]
        if f.metadata.get("multiple") and (v == () or v is None):
            continue
        kw[f.name] = v
    return cls(**kw)


def describe(*classes) -> str:
    """The options as a docstring section: ``name: help`` lines."""
    lines = []
    for cls in classes:
        for f in fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else None
            lines.append(f"    {f.name} (default {default!r}): {f.metadata['help']}")
    return "\n".join(lines)


def is_option_field(cls, name: str) -> bool:
    return name in names(cls)


__all__ = ["RunOptions", "PlotOptions", "AnimateOptions", "ExplainOptions", "click_options", "from_cli",
           "describe", "split", "build", "option", "MAX_STEPS", "MAX_STARTS", "MAX_SEED", "LAYOUTS", "VIEWS",
           "THEMES"]
