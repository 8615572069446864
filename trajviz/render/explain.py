"""``trajviz explain METHOD``: one update of an optimizer, drawn as a teacher draws it on a board.

The clip breaks a single torch.optim update into captioned sub-steps: momentum's
velocity decays by beta and the gradient is added tip to tail; the adaptive
methods keep a square per axis whose area is the remembered g^2, and divide the
gradient by its side. Every number is real: :func:`lesson` steps the torch.optim
optimizer itself, keeps its state before and after the explained update, and
reads the new position from torch. The intermediate quantities drawn (``beta*v``,
``g/sqrt(G)``) are computed from that state and checked to add up to torch's
update, so the picture cannot drift from the library it explains.

Two layers, as everywhere in trajviz:

* :func:`lesson` returns a :class:`Lesson`, plain data: the state before and
  after, the named numbers, and the :class:`Stage` list (caption + marks);
* :func:`explain` renders a lesson to a file (.gif, .webp, .png, .mp4, .html)
  or, without a path, to an in-memory GIF that a notebook displays inline.

>>> from trajviz.render.explain import explain, lesson
>>> les = lesson("momentum")                         # doctest: +SKIP
>>> [s.caption[:22] for s in les.stages][:2]         # doctest: +SKIP
['Momentum, update 7: at', '1. The velocity decays']
>>> explain("adam", "adam.gif")                      # doctest: +SKIP
<Clip adam: 8 sub-steps, ... -> adam.gif>
"""

from __future__ import annotations

import base64
import functools
import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TrajvizError

# ---- what each method's lesson uses by default ---------------------------------------------
# A picture of the mechanism needs the right ground: momentum and SGD read best where the
# valley is tilted (the raw slope points across it), the adaptive methods on an axis-aligned
# valley, where "per axis" is visible. ``update`` is the torch.optim step explained (1-based);
# each was picked by looking at the clip: the velocity already built up, the gradient still
# visible next to it, the squares of the two axes of comparable size.


@dataclass(frozen=True)
class _Recipe:
    tagline: str
    surface: str
    update: int
    start: tuple[float, float] | None
    keys: tuple[str, ...]          # hyperparameters the lesson draws faithfully
    build: Callable[..., list]     # (ctx) -> the stages; fills ctx.numbers


MAX_UPDATE = 10_000   # the lesson replays every update before the explained one
MAX_PACE = 10.0
TILTED = "quadratic:kappa=10,angle=30"
ALIGNED = "quadratic:kappa=10"
ALIGNED_START = (-2.6, 0.6)   # the y slope about twice the x slope: both rows of squares readable


# ---- data ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mark:
    """One thing drawn on the board.

    Attributes:
        key: unique within a lesson; a later stage hides a mark by its key.
        kind: ``arrow``, ``point`` or ``ray`` on the map (position units); ``square``,
            ``bar`` on a per-axis row (gradient units); ``row`` a line of the table.
        panel: ``map``, ``table`` or the axis row ``x`` / ``y``.
        role: ``memory`` (what the optimizer carried in), ``gradient`` (the new
            slope), ``result`` (what the update produces), ``position``, ``guide``.
        label: the arrow's, point's or square's label, or the quantity's name in the table.
        at: map: tail or point (x, y); axis row: (u, level) with u along the axis and
            bars on number line ``level`` under the squares; table: (0, line number).
        vec: arrows, rays and bars: the displacement (a bar's is ``(du, 0)``); table
            rows: the (x, y) values.
        side: squares: the side length (the area is the remembered g^2).
        sign: squares: +1 draws towards +u, -1 towards -u.
        grow_from: the size the mark starts at when it appears, as a multiple of its
            own size (0: grows from nothing; 1/beta: shrinks from the old vector).
        dashed: drawn dashed (what was, or a direction only).
    """

    key: str
    kind: str
    panel: str
    role: str
    label: str = ""
    at: tuple[float, float] = (0.0, 0.0)
    vec: tuple[float, float] = (0.0, 0.0)
    side: float = 0.0
    sign: int = 1
    grow_from: float = 0.0
    dashed: bool = False

    @property
    def tip(self) -> tuple[float, float]:
        return (self.at[0] + self.vec[0], self.at[1] + self.vec[1])


@dataclass(frozen=True)
class Stage:
    """One sub-step: its caption, the marks it adds and the keys of the marks it takes away."""

    caption: str
    show: tuple[Mark, ...] = ()
    hide: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lesson:
    """One torch.optim update, taken apart.

    Attributes:
        method: registry name (``"momentum"``); title: display name; tagline: the analogy.
        surface: the Surface; hyperparameters: what torch.optim was given.
        update: which update this is (torch's step count after it, 1-based).
        trail: (update, 2) the positions before it (start ... ``position``).
        position: x before the update; grad: the gradient torch used there.
        new_position: x after ``optimizer.step()``, read from torch.
        state_before, state_after: the optimizer state (numpy) around the update.
        numbers: the named quantities the clip draws (``"beta*v"``, ``"g/sqrt(G)"``, ...).
        stages: the captioned sub-steps, in order.
    """

    method: str
    title: str
    tagline: str
    surface: Any
    hyperparameters: dict
    torch_class: str
    update: int
    trail: np.ndarray
    position: np.ndarray
    grad: np.ndarray
    new_position: np.ndarray
    state_before: dict
    state_after: dict
    numbers: dict
    stages: tuple[Stage, ...]
    per_axis: bool

    @property
    def step(self) -> np.ndarray:
        """The displacement of the update, ``new_position - position`` (torch's)."""
        return self.new_position - self.position

    def marks(self, panel: str | None = None) -> list[Mark]:
        """Every mark of the lesson (optionally of one panel), in order of appearance."""
        return [m for s in self.stages for m in s.show if panel is None or m.panel == panel]

    def visible(self, stage: int) -> list[Mark]:
        """The marks on the board at the end of sub-step ``stage``."""
        shown: dict[str, Mark] = {}
        for s in self.stages[: stage + 1]:
            for k in s.hide:
                shown.pop(k, None)
            for m in s.show:
                shown[m.key] = m
        return list(shown.values())

    def final_point(self) -> np.ndarray:
        """The "new position" point the clip ends on."""
        pts = [m for m in self.visible(len(self.stages) - 1) if m.kind == "point" and m.key == "new x"]
        return np.asarray(pts[0].at)

    def __repr__(self) -> str:
        return (f"<Lesson {self.method}: update {self.update} on {self.surface.spec}, "
                f"{len(self.stages)} sub-steps>")


# ---- number formatting -----------------------------------------------------------------------------
def _num(v: float, digits: int = 3) -> str:
    v = float(v)
    if v == 0:
        return "0"
    mag = abs(v)
    if 1e-3 <= mag < 1e4:
        decimals = max(0, digits - 1 - int(math.floor(math.log10(mag))))
        text = f"{v:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    else:
        text = f"{v:.{digits}g}"
    return text.replace("-", "−")


AXES = ("x", "y")


# ---- stepping torch.optim ---------------------------------------------------------------------------
@dataclass
class _Context:
    """What a lesson builder reads: torch's state around one update, as numpy."""

    name: str
    hp: dict
    t: int
    x: np.ndarray
    g: np.ndarray
    x_new: np.ndarray
    before: dict
    after: dict
    numbers: dict = field(default_factory=dict)

    @property
    def dx(self) -> np.ndarray:
        return self.x_new - self.x

    @property
    def lr(self) -> float:
        return float(self.hp["lr"])

    def check(self, name: str, value, expected) -> None:
        """Record a drawn quantity and check it against torch's result (a bug otherwise)."""
        value, expected = np.asarray(value, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        scale = max(float(np.abs(expected).max()), 1e-300)
        if not np.allclose(value, expected, rtol=1e-9, atol=1e-12 * scale):
            raise RuntimeError(f"explain: {name} = {value} does not match torch.optim's {expected}")


def _numpy_state(state: Mapping) -> dict:
    import torch

    out = {}
    for k, v in state.items():
        if torch.is_tensor(v):
            a = v.detach().cpu().numpy().astype(np.float64)
            out[k] = a.reshape(-1).copy() if a.size == 2 else float(a.reshape(-1)[0])
        else:
            out[k] = v
    return out


def _run_torch(spec, surface, start, t: int):
    """Step torch.optim ``t`` times from ``start``; the state around the last step."""
    import torch

    p = torch.tensor([list(start)], dtype=torch.float64, requires_grad=True)
    opt = spec.make([p])
    trail = [p.detach().numpy()[0].copy()]
    before = x = g = None
    for k in range(t):
        opt.zero_grad(set_to_none=True)
        surface(p).sum().backward()
        if k == t - 1:
            before = _numpy_state(opt.state[p])
            x = p.detach().numpy()[0].copy()
            g = p.grad.detach().numpy()[0].copy()
        opt.step()
        trail.append(p.detach().numpy()[0].copy())
    after = _numpy_state(opt.state[p])
    defaults = dict(opt.defaults)
    trail = np.asarray(trail)
    if not np.isfinite(trail).all():
        raise TrajvizError(f"{spec.label} diverges within {t} updates from {tuple(start)}: "
                           "choose a smaller lr, another start or an earlier update")
    return trail, x, g, trail[-1].copy(), before, after, defaults


# ---- the lessons ---------------------------------------------------------------------------------------
def _row(i: int, name: str, values, role: str) -> Mark:
    """A line of the table of numbers: a quantity's name and its (x, y) values."""
    return Mark(f"row{i}", "row", "table", role, name, at=(0.0, float(i)),
                vec=(float(values[0]), float(values[1])))


def _intro_map(ctx, extra=()):
    return (Mark("x", "point", "map", "position", "x", at=tuple(ctx.x)),) + tuple(extra)


def _sgd(ctx: _Context):
    lr, g = ctx.lr, ctx.g
    lg = -lr * g
    ctx.check("-lr*g", lg, ctx.dx)
    ctx.numbers.update({"g": g, "-lr*g": lg})
    return [
        Stage(f"SGD, update {ctx.t}: it stands at x and feels the slope g there.",
              _intro_map(ctx) + (_row(0, "x", ctx.x, "position"), _row(1, "g", g, "gradient"))),
        Stage(f"1. It steps straight down the raw slope: −lr·g, with lr = {_num(lr)}.",
              (Mark("-lr*g", "arrow", "map", "gradient", "−lr·g", at=tuple(ctx.x), vec=tuple(lg)),
               _row(2, "−lr·g", lg, "gradient"))),
        Stage("2. New position x ← x − lr·g. The slope points across the valley, not to the minimum: "
              "the drunk walker staggers.",
              (Mark("new x", "point", "map", "result", "new x", at=tuple(ctx.x_new)),
               _row(3, "new x", ctx.x_new, "result"))),
    ]


def _velocity_intro(ctx, v, name: str, extra: str = ""):
    return Stage(
        f"{name}, update {ctx.t}: at x, moving with velocity v (its last step).{extra}",
        _intro_map(ctx, (Mark("v", "arrow", "map", "memory", "v", at=tuple(ctx.x), vec=tuple(v), dashed=True),))
        + (_row(0, "x", ctx.x, "position"), _row(1, "v", v, "memory")))


def _momentum(ctx: _Context):
    mu, lr, g = float(ctx.hp["momentum"]), ctx.lr, ctx.g
    v = -lr * ctx.before["momentum_buffer"]          # displacement per step, as the engine records it
    v_new = -lr * ctx.after["momentum_buffer"]
    bv, lg = mu * v, -lr * g
    ctx.check("beta*v - lr*g", bv + lg, v_new)
    ctx.check("new v", v_new, ctx.dx)
    ctx.numbers.update({"v": v, "beta*v": bv, "g": g, "-lr*g": lg, "new v": v_new})
    return [
        _velocity_intro(ctx, v, "Momentum"),
        Stage(f"1. The velocity decays: v ← β·v, with β = {_num(mu)}.",
              (Mark("beta*v", "arrow", "map", "memory", "β·v", at=tuple(ctx.x), vec=tuple(bv), grow_from=1 / mu),
               _row(2, "β·v", bv, "memory")), hide=("v",)),
        Stage(f"2. The gradient is added tip to tail: v ← β·v − lr·g, with lr = {_num(lr)}.",
              (Mark("-lr*g", "arrow", "map", "gradient", "−lr·g", at=tuple(ctx.x + bv), vec=tuple(lg)),
               _row(3, "g", g, "gradient"), _row(4, "−lr·g", lg, "gradient"))),
        Stage("3. The new velocity is the step: x ← x + v.",
              (Mark("new v", "arrow", "map", "result", "new v", at=tuple(ctx.x), vec=tuple(v_new)),
               _row(5, "new v", v_new, "result"))),
        Stage("4. New position. Inertia carries the ball on; the gradient only steers it.",
              (Mark("new x", "point", "map", "result", "new x", at=tuple(ctx.x_new)),
               _row(6, "new x", ctx.x_new, "result"))),
    ]


def _nesterov(ctx: _Context):
    mu, lr, g = float(ctx.hp["momentum"]), ctx.lr, ctx.g
    v = -lr * ctx.before["momentum_buffer"]
    v_new = -lr * ctx.after["momentum_buffer"]
    bv, lg = mu * v, -lr * g
    bvn = mu * v_new
    ctx.check("beta*v - lr*g", bv + lg, v_new)
    ctx.check("beta*(new v) - lr*g", bvn + lg, ctx.dx)
    ctx.numbers.update({"v": v, "beta*v": bv, "g": g, "-lr*g": lg, "new v": v_new, "beta*(new v)": bvn})
    return [
        _velocity_intro(ctx, v, "Nesterov", " torch.optim keeps x at the look-ahead point."),
        Stage(f"1. The velocity decays: v ← β·v, with β = {_num(mu)}.",
              (Mark("beta*v", "arrow", "map", "memory", "β·v", at=tuple(ctx.x), vec=tuple(bv), grow_from=1 / mu),
               _row(2, "β·v", bv, "memory")), hide=("v",)),
        Stage(f"2. The gradient, measured ahead, is added tip to tail: new v = β·v − lr·g, with lr = {_num(lr)}.",
              (Mark("-lr*g", "arrow", "map", "gradient", "−lr·g", at=tuple(ctx.x + bv), vec=tuple(lg)),
               Mark("new v", "arrow", "map", "memory", "new v", at=tuple(ctx.x), vec=tuple(v_new), dashed=True),
               _row(3, "g", g, "gradient"), _row(4, "−lr·g", lg, "gradient"), _row(5, "new v", v_new, "memory"))),
        Stage("3. Look ahead: coast on β·(new v), then add −lr·g once more, tip to tail.",
              (Mark("beta*new v", "arrow", "map", "result", "β·new v", at=tuple(ctx.x), vec=tuple(bvn),
                    grow_from=1 / mu),
               Mark("-lr*g again", "arrow", "map", "gradient", "−lr·g", at=tuple(ctx.x + bvn), vec=tuple(lg)),
               _row(6, "β·new v", bvn, "result")),
              hide=("beta*v", "-lr*g", "new v")),
        Stage("4. New position x ← x + β·(new v) − lr·g: the slope corrects the course one step early.",
              (Mark("step", "arrow", "map", "result", "step", at=tuple(ctx.x), vec=tuple(ctx.dx)),
               Mark("new x", "point", "map", "result", "new x", at=tuple(ctx.x_new)),
               _row(7, "new x", ctx.x_new, "result"))),
    ]


def _direction_ray(ctx) -> Mark:
    # the plain gradient's direction, as long as the actual step: compare the directions
    g = ctx.g
    n = float(np.hypot(*g))
    length = float(np.hypot(*ctx.dx))
    d = -g / n * length if n > 0 else np.zeros(2)
    return Mark("-g direction", "ray", "map", "guide", "−g direction", at=tuple(ctx.x), vec=tuple(d), dashed=True)


def _axis_steps(ctx, caption: str, last_caption: str, row: int) -> list[Stage]:
    """The map part shared by the adaptive methods: the step per axis, then the new position."""
    dx, x = ctx.dx, ctx.x
    return [
        Stage(caption, (
            Mark("x-step", "arrow", "map", "result", "x-step", at=tuple(x), vec=(float(dx[0]), 0.0)),
            Mark("y-step", "arrow", "map", "result", "y-step", at=(float(x[0] + dx[0]), float(x[1])),
                 vec=(0.0, float(dx[1]))),
            _row(row, "step", dx, "result"))),
        Stage(last_caption, (
            Mark("step", "arrow", "map", "result", "step", at=tuple(x), vec=tuple(dx)),
            Mark("new x", "point", "map", "result", "new x", at=tuple(ctx.x_new)))),
    ]


def _squares(key: str, role: str, label: str, sides, *, at=None, sign, grow_from=None) -> tuple[Mark, ...]:
    """A square per axis row (side = sqrt of the area drawn)."""
    out = []
    for i, a in enumerate(AXES):
        u0 = 0.0 if at is None else float(at[i])
        gf = 0.0 if grow_from is None else float(grow_from[i])
        out.append(Mark(f"{a}:{key}", "square", a, role, label, at=(u0, 0.0), side=float(sides[i]),
                        sign=int(sign[i]), grow_from=gf))
    return tuple(out)


def _bars(key: str, role: str, label: str, values, *, level: int, at=None, grow_from: float = 0.0,
          dashed: bool = False) -> tuple[Mark, ...]:
    """A signed bar per axis row, on number line ``level`` under the squares."""
    return tuple(Mark(f"{a}:{key}", "bar", a, role, label, at=(0.0 if at is None else float(at[i]), float(level)),
                      vec=(float(values[i]), 0.0), grow_from=grow_from, dashed=dashed)
                 for i, a in enumerate(AXES))


def _ratio(a, b):
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def _gap(sides):
    return 0.12 * np.max(sides, axis=0)


def _adagrad(ctx: _Context):
    lr, g, eps = ctx.lr, ctx.g, float(ctx.hp.get("eps", 1e-10))
    if ctx.hp.get("lr_decay", 0):
        raise TrajvizError("explain draws AdaGrad without lr_decay")
    G0, G1 = ctx.before["sum"], ctx.after["sum"]
    ctx.check("G + g^2", G0 + g**2, G1)
    ratio = g / (np.sqrt(G1) + eps)
    ctx.check("-lr*g/sqrt(G)", -lr * ratio, ctx.dx)
    ctx.numbers.update({"g": g, "G": G0, "g^2": g**2, "new G": G1, "sqrt(G)": np.sqrt(G1), "g/sqrt(G)": ratio})
    s0, sa, s1 = np.sqrt(G0), np.abs(g), np.sqrt(G1)
    sign = np.where(g < 0, -1, 1)
    stages = [
        Stage(f"AdaGrad, update {ctx.t}: each axis keeps a square whose area G is the sum of its past g².",
              _intro_map(ctx, (_direction_ray(ctx),)) + _squares("old", "memory", "G", s0, sign=sign)
              + (_row(0, "g", g, "gradient"), _row(1, "G", G0, "memory"))),
        Stage("1. Every sway hurts: each axis adds the square of its new gradient, g².",
              _squares("add", "gradient", "g²", sa, at=sign * (s0 + _gap([s0, s1])), sign=sign)
              + (_row(2, "+ g²", g**2, "gradient"),)),
        Stage("2. The areas add up: G ← G + g². The steep axis has the big square.",
              _squares("new", "result", "G", s1, sign=sign, grow_from=_ratio(s0, s1))
              + (_row(3, "= G", G1, "result"), _row(4, "√G", s1, "result")),
              hide=("x:old", "y:old", "x:add", "y:add")),
        Stage("3. Divide the gradient by the side of its square: g/√G.",
              _bars("g", "gradient", "g", g, level=1) + (_row(5, "g/√G", ratio, "result"),)),
    ]
    return stages + _axis_steps(
        ctx, f"4. Step per axis: −lr·g/√G, with lr = {_num(lr)}.",
        "5. New position: the steep axis is held back, the shallow one is not; the step turns "
        "away from the raw gradient.", 6)


def _fading(ctx: _Context, *, decay: float, key: str, name: str, letter: str, area: str):
    """The first sub-steps of RMSProp and Adadelta: the squares fade, take in g², merge."""
    g = ctx.g
    E0, E1 = ctx.before[key], ctx.after[key]
    ctx.check(f"{letter}*E + (1-{letter})*g^2", decay * E0 + (1 - decay) * g**2, E1)
    s0, sd, sa, s1 = np.sqrt(E0), np.sqrt(decay * E0), np.sqrt(1 - decay) * np.abs(g), np.sqrt(E1)
    sign = np.where(g < 0, -1, 1)
    ctx.numbers.update({"g": g, area: E0, f"{letter}*{area}": decay * E0,
                        f"(1-{letter})*g^2": (1 - decay) * g**2, f"new {area}": E1})
    stages = [
        Stage(f"{name}, update {ctx.t}: each axis keeps a square whose area {area} is a fading average of g².",
              _intro_map(ctx, (_direction_ray(ctx),)) + _squares("old", "memory", area, s0, sign=sign)
              + (_row(0, "g", g, "gradient"), _row(1, area, E0, "memory"))),
        Stage(f"1. The memory fades first: {area} ← {letter}·{area}, with {letter} = {_num(decay)}.",
              _squares("faded", "memory", f"{letter}·{area}", sd, sign=sign, grow_from=_ratio(s0, sd))
              + (_row(2, f"{letter}·{area}", decay * E0, "memory"),), hide=("x:old", "y:old")),
        Stage(f"2. It takes in a little of the new sway: (1−{letter})·g².",
              _squares("add", "gradient", "g²", sa, at=sign * (sd + _gap([sd, s1])), sign=sign)
              + (_row(3, f"+ (1−{letter})·g²", (1 - decay) * g**2, "gradient"),)),
        Stage("3. The areas add up. Short memory: old sways fade away, recent ones count.",
              _squares("new", "result", area, s1, sign=sign, grow_from=_ratio(sd, s1))
              + (_row(4, f"= {area}", E1, "result"),),
              hide=("x:faded", "y:faded", "x:add", "y:add")),
    ]
    return stages, E1


def _rmsprop(ctx: _Context):
    if ctx.hp.get("centered") or ctx.hp.get("momentum"):
        raise TrajvizError("explain draws plain RMSProp (no centered, no momentum)")
    alpha, eps, lr, g = float(ctx.hp["alpha"]), float(ctx.hp["eps"]), ctx.lr, ctx.g
    stages, E1 = _fading(ctx, decay=alpha, key="square_avg", name="RMSProp", letter="α", area="E")
    side = np.sqrt(E1)
    ratio = g / (side + eps)
    ctx.check("-lr*g/(sqrt(E)+eps)", -lr * ratio, ctx.dx)
    ctx.numbers.update({"sqrt(E)": side, "g/sqrt(E)": ratio})
    stages.append(Stage("4. Divide the gradient by the side of its square: g/√E.",
                        _bars("g", "gradient", "g", g, level=1)
                        + (_row(5, "√E", side, "result"), _row(6, "g/√E", ratio, "result"))))
    return stages + _axis_steps(
        ctx, f"5. Step per axis: −lr·g/√E, with lr = {_num(lr)}.",
        "6. New position: both axes take steps of about the same size, whatever their slope.", 7)


def _adadelta(ctx: _Context):
    rho, eps, lr, g = float(ctx.hp["rho"]), float(ctx.hp["eps"]), ctx.lr, ctx.g
    stages, E1 = _fading(ctx, decay=rho, key="square_avg", name="Adadelta", letter="ρ", area="E")
    D0, D1 = ctx.before["acc_delta"], ctx.after["acc_delta"]
    side = np.sqrt(E1 + eps)
    unit = np.sqrt(D0 + eps)
    ratio = g / side
    delta = unit * ratio
    ctx.check("-lr*delta", -lr * delta, ctx.dx)
    ctx.check("rho*D + (1-rho)*delta^2", rho * D0 + (1 - rho) * delta**2, D1)
    ctx.numbers.update({"sqrt(E+eps)": side, "g/sqrt(E+eps)": ratio, "D": D0, "sqrt(D+eps)": unit,
                        "delta": delta, "new D": D1})
    stages.append(Stage("4. Divide the gradient by the side of its square: g/√E.",
                        _bars("g", "gradient", "g", g, level=1)
                        + (_row(5, "√(E+ε)", side, "result"), _row(6, "g/√E", ratio, "result"))))
    stages.append(Stage("5. Its own units: times √(D+ε), the size of its recent steps (D fades like E).",
                        (_row(7, "√(D+ε)", unit, "memory"), _row(8, "Δ", delta, "result"))))
    return stages + _axis_steps(
        ctx, f"6. Step per axis: −lr·Δ, with lr = {_num(lr)}.",
        "7. New position. D then takes in Δ²: the steps set the scale of the next steps.", 9)


def _adam(ctx: _Context):
    if ctx.hp.get("amsgrad") or ctx.hp.get("weight_decay"):
        raise TrajvizError("explain draws plain Adam (no amsgrad, no weight_decay)")
    b1, b2 = (float(b) for b in ctx.hp["betas"])
    eps, lr, g, t = float(ctx.hp["eps"]), ctx.lr, ctx.g, ctx.t
    m0, m1 = ctx.before["exp_avg"], ctx.after["exp_avg"]
    v0, v1 = ctx.before["exp_avg_sq"], ctx.after["exp_avg_sq"]
    ctx.check("b1*m + (1-b1)*g", b1 * m0 + (1 - b1) * g, m1)
    ctx.check("b2*v + (1-b2)*g^2", b2 * v0 + (1 - b2) * g**2, v1)
    c1, c2 = 1 - b1**t, 1 - b2**t
    mh, vh = m1 / c1, v1 / c2
    side = np.sqrt(vh)
    ratio = mh / (side + eps)
    ctx.check("-lr*m_hat/(sqrt(v_hat)+eps)", -lr * ratio, ctx.dx)
    ctx.numbers.update({"g": g, "m": m0, "b1*m": b1 * m0, "(1-b1)*g": (1 - b1) * g, "new m": m1, "v": v0,
                        "new v": v1, "m_hat": mh, "v_hat": vh, "sqrt(v_hat)": side, "m_hat/sqrt(v_hat)": ratio})
    sign = np.where(mh < 0, -1, 1)
    sv0, sv1, sa = np.sqrt(v0), np.sqrt(v1), np.sqrt(1 - b2) * np.abs(g)
    stages = [
        Stage(f"Adam, update {t}: a slope memory m (like momentum) and a square v per axis (like RMSProp).",
              _intro_map(ctx, (_direction_ray(ctx),)) + _bars("m", "memory", "m", m0, level=2, dashed=True)
              + _squares("old", "memory", "v", sv0, sign=sign)
              + (_row(0, "g", g, "gradient"), _row(1, "m", m0, "memory"), _row(2, "v", v0, "memory"))),
        Stage(f"1. The slope memory decays: m ← β₁·m, with β₁ = {_num(b1)}.",
              _bars("b1m", "memory", "β₁·m", b1 * m0, level=2, grow_from=1 / b1)
              + (_row(3, "β₁·m", b1 * m0, "memory"),), hide=("x:m", "y:m")),
        Stage("2. The gradient is added tip to tail: m ← β₁·m + (1−β₁)·g.",
              _bars("(1-b1)g", "gradient", "(1−β₁)·g", (1 - b1) * g, level=3, at=b1 * m0)
              + _bars("new m", "result", "m", m1, level=1)
              + (_row(4, "+ (1−β₁)·g", (1 - b1) * g, "gradient"), _row(5, "= m", m1, "result"))),
        Stage(f"3. The squares fade by β₂ = {_num(b2)} and take in (1−β₂)·g², as in RMSProp: "
              "still tiny, the memory is young.",
              _squares("add", "gradient", "g²", sa, at=sign * (sv0 + _gap([sv0, side])), sign=sign)
              + (_row(6, "= v", v1, "result"),)),
        Stage(f"4. Bias correction for a young memory (t = {t}): m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).",
              _bars("m_hat", "result", "m̂", mh, level=1, grow_from=c1)
              + _squares("v_hat", "result", "v̂", side, sign=sign, grow_from=_ratio(sv1, side))
              + (_row(7, "m̂", mh, "result"), _row(8, "√v̂", side, "result")),
              hide=tuple(f"{a}:{k}" for a in AXES for k in ("old", "add", "b1m", "(1-b1)g", "new m"))),
        Stage("5. Divide the slope by the side of its square: m̂/√v̂.",
              (_row(9, "m̂/√v̂", ratio, "result"),)),
    ]
    return stages + _axis_steps(
        ctx, f"6. Step per axis: −lr·m̂/(√v̂+ε), with lr = {_num(lr)}.",
        "7. New position: early on m̂/√v̂ ≈ ±1, so each axis moves about lr, whatever its slope.", 10)


RECIPES: dict[str, _Recipe] = {
    "sgd": _Recipe("the drunk walker", TILTED, 3, None, ("lr",), _sgd),
    "momentum": _Recipe("the downhill slope", TILTED, 7, (-2.6, -0.6), ("lr", "momentum"), _momentum),
    "nesterov": _Recipe("the downhill slope, looking ahead", TILTED, 14, None, ("lr", "momentum"), _nesterov),
    "adagrad": _Recipe("bad shoes", ALIGNED, 4, None, ("lr", "eps", "initial_accumulator_value"), _adagrad),
    "adadelta": _Recipe("shoes with a short memory, in its own units", ALIGNED, 4, ALIGNED_START, ("lr", "rho", "eps"),
                        _adadelta),
    "rmsprop": _Recipe("shoes with a short memory", ALIGNED, 4, None, ("lr", "alpha", "eps"), _rmsprop),
    "adam": _Recipe("slope and shoes", ALIGNED, 6, ALIGNED_START, ("lr", "betas", "eps"), _adam),
}


def supported() -> list[str]:
    """The methods :func:`explain` can take apart (the classic seven)."""
    return list(RECIPES)


def lesson(method: str, *, surface=None, update: int | None = None, start=None) -> Lesson:
    """Take one torch.optim update of ``method`` apart; see :class:`Lesson`.

    Args:
        method: a classic method name, optionally with torch.optim keywords
            (``"momentum:momentum=0.8"``, ``"adam:lr=0.1"``).
        surface: a surface name, formula or Surface (default: the method's recipe,
            an elongated quadratic).
        update: which update to explain, 1-based (default: the recipe's).
        start: the start point (default: the recipe's on its own surface, else the surface's).
    """
    from .. import optimizers as O
    from .. import surfaces as S
    from ..specs import split_spec

    if not isinstance(method, str) or not method.strip():
        raise TrajvizError(f"bad method {method!r}: give a name such as 'momentum'")
    name = split_spec(method)[0].strip().lower()
    O.get_entry(name)  # unknown names: the registry's error with a suggestion
    if name not in RECIPES:
        raise TrajvizError(f"explain takes apart the classic methods only, not '{name}' "
                           f"(choose from: {', '.join(RECIPES)})")
    recipe = RECIPES[name]
    surf = S.get(surface if surface is not None else recipe.surface)
    spec = O.resolve(method, surface=surf)[0]
    extra = sorted(k for k in spec.kwargs if k not in recipe.keys)
    if extra:
        raise TrajvizError(f"explain draws the textbook {spec.title} update; it cannot show '{extra[0]}' "
                           f"(keys it can show: {', '.join(recipe.keys)})")
    t = recipe.update if update is None else update
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 1 <= t <= MAX_UPDATE:
        raise TrajvizError(f"bad update {update!r}: a whole number from 1 to {MAX_UPDATE:,}")
    t = int(t)
    if name in ("momentum", "nesterov") and t < 2:
        raise TrajvizError(f"{spec.title} has no velocity before its first update: choose update >= 2")
    if start is None:
        start = recipe.start if recipe.start is not None and surface is None else surf.start
    try:
        start = tuple(float(c) for c in start)
        if len(start) != 2 or not all(math.isfinite(c) for c in start):
            raise ValueError
    except (TypeError, ValueError):
        raise TrajvizError(f"malformed start {start!r}: expected (x, y)") from None
    hp = spec.hyperparameters()
    for key in ("momentum", "betas"):   # a decay of 0 leaves nothing to draw (and no momentum buffer)
        value = hp.get(key)
        if value is not None and min(value if isinstance(value, tuple) else (value,)) <= 0:
            raise TrajvizError(f"explain needs {key} > 0 to draw a memory, not {value}")
    trail, x, g, x_new, before, after, defaults = _run_torch(spec, surf, start, t)
    ctx = _Context(name=name, hp={**defaults, **hp}, t=t, x=x, g=g, x_new=x_new, before=before, after=after)
    stages = recipe.build(ctx)
    return Lesson(method=name, title=spec.title, tagline=recipe.tagline, surface=surf, hyperparameters=hp,
                  torch_class=f"torch.optim.{spec.torch_class.__name__}", update=t, trail=trail[:-1],
                  position=x, grad=g, new_position=x_new, state_before=before, state_after=after,
                  numbers=dict(ctx.numbers), stages=tuple(stages), per_axis=any(
                      m.panel in AXES for s in stages for m in s.show))


# ---- drawing -------------------------------------------------------------------------------------------
FPS = 20.0
GROW = 0.6           # seconds a sub-step's new marks take to grow in
HOLD = (1.2, 2.0)    # seconds a sub-step stays up: longer captions are held longer, within these
READING = 35.0       # characters of caption read per second
LAST_HOLD = 1.5      # extra seconds on the last frame before the loop restarts

GRADIENT = {"light": "#B8322A", "dark": "#FF8A80"}
MEMORY = {"light": "#6E6E6E", "dark": "#A7ADB4"}

# sizes in points on a 1280x720 frame (12.8 x 7.2 inches); everything scales with the frame
FONT = {"title": 27, "subtitle": 13.5, "caption": 21, "table": 15.5, "label": 16.5, "square": 15,
        "row": 22, "tick": 11, "note": 12}
ARROW_WIDTH = 3.4
BAR_WIDTH = 2.8
HEAD = 22
POINT = 15


def _rgb(color) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(color)


def _hex(rgb) -> str:
    return "#{:02X}{:02X}{:02X}".format(*(round(min(max(c, 0.0), 1.0) * 255) for c in rgb))


def _luminance(color) -> float:
    def lin(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _ink(color, background, target: float = 4.5) -> str:
    """The colour darkened (on light) or lightened (on dark) until text in it reads on ``background``."""
    towards = 0.0 if _luminance(background) > 0.4 else 1.0
    rgb = _rgb(color)
    for k in range(21):
        mixed = tuple(c + (towards - c) * k / 20 for c in rgb)
        if _contrast(mixed, background) >= target:
            return _hex(mixed)
    return _hex(rgb)


@dataclass(frozen=True)
class _Look:
    theme: Any
    scale: float
    fill: dict       # role -> colour of fills (squares, points)
    ink: dict        # role -> colour of lines and text, readable on the background

    def pt(self, name_or_size) -> float:
        size = FONT[name_or_size] if isinstance(name_or_size, str) else name_or_size
        return size * self.scale


def _look(theme, method: str, scale: float) -> _Look:
    from . import style as S

    th = S.get_theme(theme)
    fill = {"memory": MEMORY.get(th.name, th.muted), "gradient": GRADIENT.get(th.name, GRADIENT["light"]),
            "result": S.color_for(method), "position": th.text, "guide": th.muted}
    ink = {k: _ink(v, th.figure, 3.0 if k == "guide" else 4.5) for k, v in fill.items()}
    return _Look(theme=th, scale=scale, fill=fill, ink=ink)


def _ease(f: float) -> float:
    f = min(max(f, 0.0), 1.0)
    return f * f * (3 - 2 * f)


def _hp(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_hp(x) for x in v) + ")"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _wrap(text: str, width_pt: float, size_pt: float) -> str:
    """Break ``text`` into lines that fit ``width_pt`` (measured), greedily, word by word."""
    lines: list[str] = []
    for word in text.split():
        if lines and _text_width(lines[-1] + " " + word, size_pt) <= width_pt:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


@functools.lru_cache(maxsize=1)
def _measurer():
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(8, 8, 72)   # at 72 dpi a pixel is a point


def _text_width(text: str, size_pt: float) -> float:
    """Width in points of ``text`` in the default font (measured by Agg, not guessed)."""
    from matplotlib.font_manager import FontProperties

    w, _, _ = _measurer().get_text_width_height_descent(text, FontProperties(size=size_pt), ismath=False)
    return float(w)


def _edge(u, w: float, h: float) -> float:
    """Distance from a w x h box's centre to its edge along the unit vector ``u``."""
    ux, uy = abs(float(u[0])), abs(float(u[1]))
    if ux < 1e-9 and uy < 1e-9:
        return max(w, h) / 2
    return min(w / 2 / ux if ux > 1e-9 else np.inf, h / 2 / uy if uy > 1e-9 else np.inf)


def _text_box(text: str, size_pt: float) -> tuple[float, float]:
    """Rough (width, height) in points of a bold label, for placing it before drawing."""
    return 0.62 * size_pt * len(text) + 6, 1.35 * size_pt + 4


class _Board:
    """The figure of one lesson: fixed layout, static parts cached, marks drawn on top by hand.

    Layout in figure fractions, the same in every frame: the title on top, the caption
    band at the bottom, the zoomed map on the left, the table of numbers on the right
    and, for the adaptive methods, one row per axis with its squares in between. Every
    label's place is decided once, for the whole lesson, so nothing jumps.
    """

    def __init__(self, les: Lesson, *, theme="light", size=None, dpi=None):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from . import style as S

        self.les = les
        w_in, h_in = S.figsize(size if size is not None else S.DEFAULT_SIZE, dpi)
        self.fig = Figure(figsize=(w_in, h_in), dpi=S.DEFAULT_DPI if dpi is None else S.check_dpi(dpi))
        self.canvas = FigureCanvasAgg(self.fig)
        self.look = _look(theme, les.method, min(w_in / 12.8, h_in / 7.2))
        S.apply_figure(self.fig, self.look.theme)
        self.px = self.fig.dpi / 72          # pixels per point
        self._life = self._lifetimes()
        self._layout()
        self._draw_static()
        self.labels = self._place_labels()
        self.artists = {m.key: self._make(m) for m in les.marks()}
        self.caption = self.fig.text(0.03, 0.065, "", fontsize=self.look.pt("caption"),
                                     color=self.look.theme.text, va="center", ha="left", animated=True)
        self.canvas.draw()
        self.static = self.canvas.copy_from_bbox(self.fig.bbox)

    def _lifetimes(self) -> dict[str, set]:
        life: dict[str, set] = {}
        for i in range(len(self.les.stages)):
            for m in self.les.visible(i):
                life.setdefault(m.key, set()).add(i)
        return life

    # -- layout -----------------------------------------------------------------------------------------
    def _layout(self):
        les, fig = self.les, self.fig
        fw, fh = fig.get_size_inches()
        wide = fw / fh >= 1.5
        top, bottom = 0.83, 0.215
        if les.per_axis:
            map_box = (0.07, bottom, 0.28 if wide else 0.29, top - bottom)
            rows_x0 = map_box[0] + map_box[2] + 0.075
            self.table_x0 = 0.735 if wide else 0.70
        else:
            map_box = (0.07, bottom, 0.585 if wide else 0.535, top - bottom)
            self.table_x0 = map_box[0] + map_box[2] + 0.05
        self.table_x1 = 0.975
        self.table_top = top
        self._cols = None
        cols = self._table_columns()
        if les.per_axis:
            rows_w = cols[0] - rows_x0 - 0.03
        self.map_ax = fig.add_axes(map_box)
        self.row_axes = {}
        if les.per_axis:
            self._fit_rows(rows_x0, rows_w, bottom, top)
        self._fit_map()

    def _fit_map(self):
        """View limits around every map mark of the lesson, with room for labels, at the box's aspect."""
        ax, les = self.map_ax, self.les
        pts = [les.position, les.new_position]
        for m in les.marks("map"):
            pts.append(np.asarray(m.at))
            if m.kind in ("arrow", "ray"):
                pts.append(np.asarray(m.tip))
                if m.grow_from > 1:
                    pts.append(np.asarray(m.at) + m.grow_from * np.asarray(m.vec))
        pts = np.asarray(pts)
        lo, hi = pts.min(0), pts.max(0)
        span = max(float((hi - lo).max()), 1e-9)
        center = (lo + hi) / 2
        half = np.maximum((hi - lo) / 2, 0.15 * span) + 0.42 * span
        bbox = ax.get_position()
        fw, fh = self.fig.get_size_inches()
        box_aspect = (bbox.width * fw) / (bbox.height * fh)
        if half[0] / half[1] < box_aspect:
            half[0] = half[1] * box_aspect
        else:
            half[1] = half[0] / box_aspect
        self.xlim = (float(center[0] - half[0]), float(center[0] + half[0]))
        self.ylim = (float(center[1] - half[1]), float(center[1] + half[1]))
        ax.set_xlim(self.xlim)
        ax.set_ylim(self.ylim)

    def _fit_rows(self, x0: float, width: float, bottom: float, top: float):
        """One axes per axis row, at one scale (gradient units) so squares compare across axes.

        Each row is as tall as its largest square needs, and has its own origin, placed
        so that what it draws fits.
        """
        look, fig = self.look, self.fig
        fw, fh = fig.get_size_inches()
        w = width * fw * fig.dpi
        spans, sides, levels = {}, {}, 0
        for a in AXES:
            lo, hi, side = 0.0, 0.0, 1e-300
            for m in self.les.marks(a):
                if m.kind == "square":
                    s = m.side * max(1.0, m.grow_from)
                    ends = (m.at[0], m.at[0] + m.sign * s)
                    side = max(side, s)
                else:
                    ends = (m.at[0], m.at[0] + m.vec[0], m.at[0] + m.vec[0] * max(1.0, m.grow_from))
                    levels = max(levels, int(m.at[1]))
                lo, hi = min(lo, *ends), max(hi, *ends)
            spans[a], sides[a] = (lo, hi), side
        self.bar_gap = look.pt(17) * self.px
        pad = look.pt(36) * self.px              # room for a bar's label beyond its tip
        top_pad = look.pt(24) * self.px          # room for a small square's label above it
        bars = (levels + 0.7) * self.bar_gap
        gap = 0.045 * fh * fig.dpi
        h_total = (top - bottom) * fh * fig.dpi
        k = min(min((w - 2 * pad) / max(hi - lo, 1e-300) for lo, hi in spans.values()),
                (h_total - gap - 2 * (bars + top_pad)) / sum(sides.values()))
        self.row_k = k                           # pixels per gradient unit
        y1 = top
        for a in AXES:
            h = bars + top_pad + k * sides[a]
            frac = h / (fh * fig.dpi)
            ax = fig.add_axes((x0, y1 - frac, width, frac))
            ax.set_axis_off()
            lo, hi = spans[a]
            mid = (lo + hi) / 2
            ax.set_xlim(mid - w / 2 / k, mid + w / 2 / k)
            ax.set_ylim(-bars / k, (h - bars) / k)
            self.row_axes[a] = ax
            y1 -= frac + gap / (fh * fig.dpi)

    def level_y(self, level: float) -> float:
        return -level * self.bar_gap / self.row_k

    # -- static parts -----------------------------------------------------------------------------------------
    def _draw_static(self):
        from . import style as S
        from .background import compute_background, draw_background, draw_minima

        les, look, th, fig = self.les, self.look, self.look.theme, self.fig
        ax = self.map_ax
        bg = compute_background(les.surface, self.xlim, self.ylim, points=220)
        draw_background(ax, bg, th)
        draw_minima(ax, les.surface, bg, th, size=look.pt(22))
        ax.set_xlim(self.xlim)
        ax.set_ylim(self.ylim)
        S.apply_axes(ax, th, S.Fonts.for_figure(*fig.get_size_inches()))
        ax.tick_params(labelsize=look.pt("tick"), length=3, pad=2)
        ax.locator_params(nbins=5)
        trail = les.trail
        if len(trail) > 1:
            ax.plot(trail[:, 0], trail[:, 1], color=look.ink["result"], lw=look.pt(2.2), alpha=0.6,
                    marker="o", ms=look.pt(5), zorder=3, solid_capstyle="round")
        ax.set_title("the path so far, zoomed in around x", fontsize=look.pt("note"), color=th.muted,
                     loc="left", pad=4)
        title = f"{les.title} — {les.tagline}"
        width = 0.95 * fig.get_size_inches()[0] * 72
        size = look.pt("title")
        size *= min(1.0, width / max(_text_width(title, size) * 1.08, 1e-9))  # bold is ~8% wider
        fig.text(0.03, 0.975, title, fontsize=size, fontweight="bold", color=th.text, va="top")
        hp = ", ".join(f"{k}={_hp(v)}" for k, v in les.hyperparameters.items())
        fig.text(0.03, 0.905, f"{les.torch_class}({hp})  ·  update {les.update}  ·  {les.surface.spec}",
                 fontsize=look.pt("subtitle"), color=th.muted, va="top")
        from matplotlib.patches import Rectangle

        fig.add_artist(Rectangle((-0.01, -0.01), 1.02, 0.14, transform=fig.transFigure,
                                 facecolor=th.legend_face, edgecolor=th.legend_edge, lw=0.8, zorder=-1))
        for a, rax in self.row_axes.items():
            rax.axvline(0.0, color=th.muted, lw=look.pt(1.0), alpha=0.5, zorder=0)
            rax.axhline(0.0, color=th.muted, lw=look.pt(1.0), alpha=0.5, zorder=0)
            box = rax.get_position()
            fig.text(box.x0 - 0.012, box.y1, a, fontsize=look.pt("row"), fontweight="bold", color=th.text,
                     ha="right", va="top")
        if self.row_axes:
            box = self.row_axes[AXES[0]].get_position()
            fig.text(box.x0 - 0.035, self.table_top + 0.012, "per axis, to scale (gradient units)",
                     fontsize=look.pt("note"), color=th.muted, ha="left", va="bottom")
        cols = self._table_columns()
        fs = look.pt("table")
        for x, name in ((cols[1], "x"), (cols[2], "y")):
            fig.text(x, self.table_top, name, fontsize=fs, fontweight="bold", color=th.muted, ha="right",
                     va="top")

    def _table_columns(self) -> tuple[float, float, float]:
        """Left edge of the names, right edges of the x and y values (figure fractions)."""
        if getattr(self, "_cols", None) is None:
            rows = [m for m in self.les.marks("table")]
            size = self.look.pt("table")
            fw = self.fig.get_size_inches()[0] * 72
            name_w = max([_text_width(m.label, size) for m in rows] + [0]) / fw
            val_w = max([_text_width(_num(v), size) for m in rows for v in m.vec] + [0]) / fw
            gap = size * 1.2 / fw
            x0 = self.table_x0
            need = name_w + 2 * (gap + val_w)
            if need > self.table_x1 - x0:   # a narrow frame: the table takes what it needs
                x0 = max(self.table_x1 - need, 0.5)
            self._cols = (x0, x0 + name_w + gap + val_w, x0 + name_w + 2 * (gap + val_w))
        return self._cols

    def _table_y(self, line: float) -> float:
        line_h = 1.55 * self.look.pt("table") / 72 / self.fig.get_size_inches()[1]
        return self.table_top - (line + 1) * line_h

    # -- labels -------------------------------------------------------------------------------------------------
    def _place_labels(self) -> dict[str, tuple[float, float, float, float]]:
        """Where each map label goes, once for the whole lesson: ``key -> (x, y, dx_pt, dy_pt)``.

        Candidates beside the arrow (or around the point) are scored by how much of the
        other marks shown at the same time, and of their labels, they would cover.
        """
        les, look, ax = self.les, self.look, self.map_ax
        to_pt = lambda xy: ax.transData.transform(np.atleast_2d(xy)) / self.px  # noqa: E731
        frame = ax.get_window_extent()
        fx0, fy0, fx1, fy1 = frame.x0 / self.px, frame.y0 / self.px, frame.x1 / self.px, frame.y1 / self.px
        marks = les.marks("map")
        samples: dict[str, np.ndarray] = {}
        for m in marks:
            if m.kind == "point":
                c = to_pt(m.at)[0]
                r = look.pt(POINT) / 2
                ang = np.linspace(0, 2 * np.pi, 9)
                samples[m.key] = np.vstack([c, c + r * np.c_[np.cos(ang), np.sin(ang)]])
            else:
                a, b = to_pt(m.at)[0], to_pt(m.tip)[0]
                n = max(2, int(np.hypot(*(b - a)) / 3))
                samples[m.key] = a + np.linspace(0, 1, n)[:, None] * (b - a)
        trail = to_pt(les.trail) if len(les.trail) > 1 else np.zeros((0, 2))
        if len(trail) > 1:
            trail = np.vstack([trail[i] + np.linspace(0, 1, 12)[:, None] * (trail[i + 1] - trail[i])
                               for i in range(len(trail) - 1)])
        placed: dict[str, tuple] = {}
        boxes: dict[str, tuple] = {}
        size = look.pt("label")
        step = np.asarray(les.step, dtype=float)
        for m in marks:
            if not m.label:
                continue
            w, h = _text_box(m.label, size)
            cands = []
            if m.kind == "point":
                c = to_pt(m.at)[0]
                n = float(np.hypot(*step)) or 1.0
                ahead = step / n * (1 if m.key == "new x" else -1)
                base = np.arctan2(ahead[1], ahead[0])
                for rank, d in enumerate((0, 45, -45, 90, -90, 135, -135, 180)):
                    u = np.array([np.cos(base + np.radians(d)), np.sin(base + np.radians(d))])
                    dist = look.pt(POINT) / 2 + look.pt(5) + _edge(u, w, h)
                    cands.append((c + u * dist, rank))
            else:
                a, b = to_pt(m.at)[0], to_pt(m.tip)[0]
                d = b - a
                n = float(np.hypot(*d)) or 1.0
                normal = np.array([-d[1], d[0]]) / n
                fracs = (1.0, 0.75, 0.5) if m.kind == "ray" else (0.5, 0.62, 0.38, 0.75, 0.25)
                rank = 0
                for t in fracs:
                    for side in (1, -1):
                        u = normal * side
                        dist = look.pt(8) + _edge(u, w, h)
                        cands.append((a + t * d + u * dist, rank))
                        rank += 1
                if m.kind == "ray":
                    u = d / n
                    cands.append((b + u * (look.pt(6) + _edge(u, w, h)), -1))
            life = self._life.get(m.key, set())
            others = [samples[o.key] for o in marks if o.key in samples and self._life.get(o.key, set()) & life]
            obstacles = np.vstack(others) if others else np.zeros((0, 2))
            best = None
            for center, rank in cands:
                x0, x1 = center[0] - w / 2 - 5, center[0] + w / 2 + 5
                y0, y1 = center[1] - h / 2 - 5, center[1] + h / 2 + 5
                hits = np.count_nonzero((obstacles[:, 0] > x0) & (obstacles[:, 0] < x1)
                                        & (obstacles[:, 1] > y0) & (obstacles[:, 1] < y1))
                thits = np.count_nonzero((trail[:, 0] > x0) & (trail[:, 0] < x1)
                                         & (trail[:, 1] > y0) & (trail[:, 1] < y1)) if len(trail) else 0
                overlap = 0.0
                for k2, (bx0, by0, bx1, by1) in boxes.items():
                    if self._life.get(k2, set()) & life:
                        overlap += max(0, min(x1, bx1) - max(x0, bx0)) * max(0, min(y1, by1) - max(y0, by0))
                outside = (max(0, fx0 - x0) + max(0, x1 - fx1)) * h + (max(0, fy0 - y0) + max(0, y1 - fy1)) * w
                score = 40 * hits + 12 * thits + overlap + 3 * outside + 15 * rank
                if best is None or score < best[0]:
                    best = (score, center, (x0, y0, x1, y1))
            _, center, box = best
            boxes[m.key] = box
            anchor = to_pt(m.at)[0] if m.kind == "point" else None
            if anchor is None:
                anchor = to_pt(m.at)[0] + 0.5 * (to_pt(m.tip)[0] - to_pt(m.at)[0])
            data_anchor = ax.transData.inverted().transform(anchor * self.px)
            off = center - anchor
            placed[m.key] = (float(data_anchor[0]), float(data_anchor[1]), float(off[0]), float(off[1]))
        return placed

    # -- marks --------------------------------------------------------------------------------------------------
    def _make(self, m: Mark) -> list:
        """A mark's artists, drawn only by hand (``animated=True``), each with its full opacity."""
        from matplotlib.patches import FancyArrowPatch, Rectangle

        look, th = self.look, self.look.theme
        ink, fill = look.ink[m.role], look.fill[m.role]
        out = []
        if m.kind in ("arrow", "ray", "bar"):
            ax = self.map_ax if m.panel == "map" else self.row_axes[m.panel]
            lw = look.pt(ARROW_WIDTH if m.kind != "bar" else BAR_WIDTH)
            arrow = FancyArrowPatch((0, 0), (1, 1), arrowstyle="-|>" if m.kind != "ray" else "-",
                                    mutation_scale=look.pt(HEAD), lw=lw, color=ink,
                                    linestyle=(0, (3, 2)) if m.dashed else "solid", shrinkA=0, shrinkB=0,
                                    zorder=5, animated=True, joinstyle="miter", capstyle="butt")
            ax.add_patch(arrow)
            out.append(arrow)
            if m.label and m.kind == "bar":
                out.append(ax.annotate(m.label, (0, 0), xytext=(0, 0), textcoords="offset points",
                                       fontsize=look.pt("square"), color=ink, fontweight="bold", va="center",
                                       animated=True, annotation_clip=False))
            elif m.label:
                out.append(self._map_label(m, ink))
        elif m.kind == "point":
            face = th.figure if m.role == "position" else fill
            (pt,) = self.map_ax.plot([m.at[0]], [m.at[1]], "o", ms=look.pt(POINT), mfc=face, mec=th.text,
                                     mew=look.pt(2.4), zorder=7, animated=True)
            out += [pt, self._map_label(m, ink)]
        elif m.kind == "square":
            ax = self.row_axes[m.panel]
            alpha = 0.45 if m.role == "gradient" else 0.28
            rect = Rectangle((m.at[0], 0.0), m.sign * m.side, m.side, facecolor=(*_rgb(fill), alpha),
                             edgecolor=ink, lw=look.pt(2.2), animated=True)
            ax.add_patch(rect)
            out += [rect, ax.text(0, 0, m.label, fontsize=look.pt("square"), color=ink, fontweight="bold",
                                  animated=True)]
        elif m.kind == "row":
            cols = self._table_columns()
            y = self._table_y(m.at[1])
            kw = dict(fontsize=look.pt("table"), color=ink, va="top", animated=True)
            out += [self.fig.text(cols[0], y, m.label, ha="left", **kw),
                    self.fig.text(cols[1], y, _num(m.vec[0]), ha="right", **kw),
                    self.fig.text(cols[2], y, _num(m.vec[1]), ha="right", **kw)]
        return out

    def _map_label(self, m: Mark, ink):
        look, th = self.look, self.look.theme
        x, y, dx, dy = self.labels[m.key]
        return self.map_ax.annotate(
            m.label, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=look.pt("label"), color=ink,
            fontweight="bold", ha="center", va="center", zorder=8, animated=True, annotation_clip=False,
            bbox=dict(boxstyle="round,pad=0.2", fc=th.figure, ec="none", alpha=0.85))

    def _set(self, m: Mark, arts: list, f: float, alpha: float):
        """Draw state of a mark: grown to ``f`` (0..1), at opacity ``alpha``."""
        look = self.look
        g = _ease(f)
        k = m.grow_from + (1.0 - m.grow_from) * g
        text_alpha = alpha * g
        if m.kind in ("arrow", "ray", "bar"):
            arrow = arts[0]
            if m.kind == "bar":
                ax = self.row_axes[m.panel]
                y = self.level_y(m.at[1])
                a, b = (m.at[0], y), (m.at[0] + k * m.vec[0], y)
            else:
                ax = self.map_ax
                a, b = m.at, (m.at[0] + k * m.vec[0], m.at[1] + k * m.vec[1])
            arrow.set_positions(a, b)
            pa, pb = ax.transData.transform([a, b])
            length_pt = float(np.hypot(*(pb - pa))) / self.px
            arrow.set_mutation_scale(min(look.pt(HEAD), 0.8 * length_pt))  # short arrows keep a short head
            arrow.set_visible(length_pt > 0.5)                               # a zero vector is not drawn
            # an arrow ending on the new position stops at the marker's edge, so its head shows
            ends_on = m.panel == "map" and g >= 1 and np.allclose(
                b, self.les.new_position, rtol=0, atol=1e-9 * (1 + float(np.abs(self.les.new_position).max())))
            arrow.shrinkB = look.pt(POINT) / 2 + 1 if ends_on else 0.0
            arrow.set_alpha(alpha)
            self._halo(arrow, alpha)
            if m.kind == "bar" and len(arts) > 1:
                sgn = 1 if m.vec[0] >= 0 else -1
                t = arts[1]
                t.xy = (m.at[0] + m.vec[0], y)
                t.set_position((sgn * look.pt(7), 0))
                t.set_ha("left" if sgn > 0 else "right")
                t.set_alpha(text_alpha)
            elif len(arts) > 1:
                arts[1].set_alpha(text_alpha)
        elif m.kind == "point":
            arts[0].set_markersize(look.pt(POINT) * (0.3 + 0.7 * g))
            arts[0].set_alpha(alpha)
            arts[1].set_alpha(text_alpha)
        elif m.kind == "square":
            rect, t = arts
            s = m.side * k
            rect.set_xy((m.at[0], 0.0))
            rect.set_width(m.sign * s)
            rect.set_height(s)
            rect.set_alpha(None)
            base = 0.45 if m.role == "gradient" else 0.28
            rect.set_facecolor((*_rgb(self.look.fill[m.role]), base * alpha))
            rect.set_edgecolor((*_rgb(self.look.ink[m.role]), alpha))
            s_pt = m.side * self.row_k / self.px          # the label goes by the final size: no jumping
            w, h = _text_box(m.label, look.pt("square"))
            if s_pt > max(w, h) + 6:
                t.set_position((m.at[0] + m.sign * m.side / 2, m.side / 2))
                t.set_ha("center")
                t.set_va("center")
            else:
                # above the square; squares at the origin read towards it, added ones away from it
                at_origin = m.at[0] == 0
                edge = m.at[0] + m.sign * m.side if at_origin else m.at[0]
                right = (m.sign > 0) == at_origin
                t.set_position((edge, m.side + 3 * self.px / self.row_k))
                t.set_ha("right" if right else "left")
                t.set_va("bottom")
            t.set_alpha(text_alpha)
        else:
            for t in arts:
                t.set_alpha(text_alpha)
        for t in arts[1:]:
            patch = t.get_bbox_patch() if hasattr(t, "get_bbox_patch") else None
            if patch is not None:   # a label's background follows its text
                patch.set_alpha(0.85 * t.get_alpha())

    def _halo(self, arrow, alpha: float):
        import matplotlib.patheffects as pe

        lw = arrow.get_linewidth()
        arrow.set_path_effects([pe.Stroke(linewidth=lw + self.look.pt(3), foreground=self.look.theme.figure,
                                          alpha=0.75 * alpha), pe.Normal()])

    def _draw(self, arts: list):
        for a in arts:
            if a.axes is not None:
                a.axes.draw_artist(a)
            else:
                self.fig.draw_artist(a)

    # -- frames ----------------------------------------------------------------------------------------------------
    def frames(self, fps: float = FPS, pace: float = 1.0):
        """Yield frames at ``fps``: every sub-step grows in, then holds (the same frame repeated).

        A frame is a view of the canvas's RGBA buffer, valid until the next one is drawn.
        ``pace`` stretches the holds (2.0: twice as long to read each caption).
        """
        les, fig, canvas = self.les, self.fig, self.canvas
        width_pt = 0.94 * fig.get_size_inches()[0] * 72
        shown: dict[str, Mark] = {}
        n_grow = max(1, int(round(GROW * fps)))
        order = {"square": 0, "bar": 1, "ray": 2, "arrow": 3, "point": 4, "row": 5}
        for stage in les.stages:
            leaving = [shown.pop(k) for k in stage.hide if k in shown]
            staying = list(shown.values())
            arriving = sorted(stage.show, key=lambda m: order[m.kind])
            self.caption.set_text(_wrap(stage.caption, width_pt, self.look.pt("caption")))
            # the sub-step's background: the static board, the marks that stay, the caption
            canvas.restore_region(self.static)
            for m in sorted(staying, key=lambda m: order[m.kind]):
                self._set(m, self.artists[m.key], 1.0, 1.0)
                self._draw(self.artists[m.key])
            fig.draw_artist(self.caption)
            base = canvas.copy_from_bbox(fig.bbox)
            frame = None
            for j in range(1, n_grow + 1):
                f = j / n_grow
                canvas.restore_region(base)
                for m in leaving:
                    self._set(m, self.artists[m.key], 1.0, 1.0 - _ease(f))
                    self._draw(self.artists[m.key])
                for m in arriving:
                    self._set(m, self.artists[m.key], f, 1.0)
                    self._draw(self.artists[m.key])
                frame = np.asarray(canvas.buffer_rgba())  # the writer copies what changed
                yield frame
            hold = pace * min(max(len(stage.caption) / READING, HOLD[0]), HOLD[1])
            for _ in range(max(0, int(round(hold * fps)) - 1)):
                yield frame
            for m in arriving:
                shown[m.key] = m

    def stage_ends(self) -> list[np.ndarray]:
        """The board at the end of every sub-step (RGB copies)."""
        return [f[..., :3].copy() for f in self.frames(fps=1.0, pace=0.0)]


# ---- the clip ------------------------------------------------------------------------------------------------
@dataclass
class Clip:
    """A rendered lesson: the file written (``path``), or the GIF bytes kept in memory.

    In Jupyter it displays inline as a GIF (``_repr_mimebundle_``); ``_repr_png_``
    gives the last frame for exports that cannot show animations.
    """

    lesson: Lesson
    path: Path | None
    data: bytes | None
    frames: int
    seconds: float
    last_frame: np.ndarray = field(repr=False, default=None)

    def gif_bytes(self) -> bytes | None:
        if self.data is not None:
            return self.data
        if self.path is not None and self.path.suffix.lower() == ".gif":
            return self.path.read_bytes()
        return None

    def _repr_png_(self) -> bytes | None:
        if self.last_frame is None:
            return None
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(self.last_frame).save(buf, format="PNG", optimize=True)
        return buf.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        out = {"text/plain": repr(self)}
        gif = self.gif_bytes()
        if gif is not None:
            out["image/gif"] = base64.b64encode(gif).decode("ascii")
        png = self._repr_png_()
        if png is not None:
            out["image/png"] = base64.b64encode(png).decode("ascii")
        return out

    def __repr__(self) -> str:
        where = f" -> {self.path}" if self.path is not None else f", {len(self.data or b''):,} bytes in memory"
        return (f"<Clip {self.lesson.method}: {len(self.lesson.stages)} sub-steps, {self.frames} frames, "
                f"{self.seconds:.1f} s{where}>")


def explain(method: str, path=None, *, surface=None, update: int | None = None, start=None, theme="light",
            size=None, dpi=None, fps: float | None = None, pace: float = 1.0, hold: float = LAST_HOLD) -> Clip:
    """Render one update of ``method`` as a captioned clip; see the module docstring.

    Args:
        method: ``sgd``, ``momentum``, ``nesterov``, ``adagrad``, ``adadelta``,
            ``rmsprop`` or ``adam``, optionally with torch.optim keywords
            (``"momentum:momentum=0.8"``).
        path: the file to write (.gif, .webp, .png, .mp4, .html); ``None`` keeps a GIF in
            memory for a notebook.
        surface, update, start: what :func:`lesson` takes apart (defaults per method).
        theme: ``light`` or ``dark``. size: ``"1280x720"`` (default) or (w, h) pixels;
            dpi: pixels per inch (text scales with the frame, so dpi rarely matters).
        fps: frames per second (default 20). pace: stretches the time each sub-step
            is held (2.0 = twice as long). hold: extra seconds on the last frame.

    Returns a :class:`Clip` (``clip.path``, ``clip.lesson`` with every number drawn).
    """
    from .writers import AnimationWriter, check_animation_path, check_fps

    fps = check_fps(FPS if fps is None else fps)
    try:
        pace = float(pace)
        hold = float(hold)
    except (TypeError, ValueError):
        raise TrajvizError(f"bad pace {pace!r} or hold {hold!r}: numbers >= 0") from None
    if not (math.isfinite(pace) and math.isfinite(hold)) or not 0 <= pace <= MAX_PACE or not 0 <= hold <= 60:
        raise TrajvizError(f"bad pace {pace} or hold {hold}: pace from 0 to {MAX_PACE:g}, hold from 0 to 60 s")
    if path is not None:
        path = check_animation_path(path)
    les = lesson(method, surface=surface, update=update, start=start)
    board = _Board(les, theme=theme, size=size, dpi=dpi)
    # the palette: the end of every sub-step, so marks that come and go keep their colours
    stage_ends = board.stage_ends()
    samples = np.concatenate([f[::2, ::2] for f in stage_ends], axis=0)
    look = board.look
    exact = list(dict.fromkeys([*look.ink.values(), *look.fill.values(), look.theme.figure, look.theme.text]))
    tmp = None
    target = path
    if path is None:
        tmp = tempfile.TemporaryDirectory()
        target = Path(tmp.name) / f"{les.method}.gif"
    try:
        n = 0
        with AnimationWriter(target, fps=fps, hold=hold, palette_sample=samples, exact_colors=exact,
                             title=f"trajviz explain {les.method}") as writer:
            for frame in board.frames(fps=fps, pace=pace):
                writer.append(frame)
                n += 1
        data = Path(target).read_bytes() if path is None else None
    finally:
        if tmp is not None:
            tmp.cleanup()
    return Clip(lesson=les, path=path, data=data, frames=n, seconds=n / fps + hold, last_frame=stage_ends[-1])


__all__ = ["explain", "lesson", "supported", "Lesson", "Stage", "Mark", "Clip", "RECIPES"]
