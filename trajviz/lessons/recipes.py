"""The lessons of ``trajviz explain``: one torch.optim update taken apart, as plain data.

A recipe (carried by the method's optimizer entry) says on which surface, from
which start and at which update a method's mechanism shows best, and builds the
captioned sub-steps. :func:`trajviz.lessons.lesson` steps the real torch.optim
optimizer, keeps its state before and after the explained update, and every
intermediate quantity drawn (``beta*v``, ``g/sqrt(G)``) is checked to add up to
torch's update, so the picture cannot drift from the library it explains.
Drawing is :mod:`trajviz.render.explain`'s job.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
class Recipe:
    """How a method's lesson is set up: its tagline, surface, update and start, the
    hyperparameters it can draw faithfully, and the builder of its sub-steps."""

    tagline: str
    surface: str
    update: int
    start: tuple[float, float] | None
    keys: tuple[str, ...]          # hyperparameters the lesson draws faithfully
    build: Callable[..., list]     # (ctx) -> the stages; fills ctx.numbers
    min_update: int = 1            # momentum methods have no velocity before their second update
    rates: dict = field(default_factory=dict)   # hyperparameters on the recipe's own canvas (a clear picture
                                                # of one update, not a race: small steps read best)


MAX_UPDATE = 10_000   # the lesson replays every update before the explained one
TILTED = "quadratic:kappa=10,angle=30"
ALIGNED = "quadratic:kappa=10,angle=0"
START = (-2.6, 1.2)
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
        method: registry name (``"momentum"``); title: display name; tagline: the analogy;
            color: the method's colour.
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
    color: str = "#000000"          # the method's colour (its entry's), for the result marks

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
def num(v: float, digits: int = 3) -> str:
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
class Context:
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
        """Check a drawn quantity against torch's result (a mismatch is a bug in trajviz).

        The tolerance respects the precision of the numbers compared: a step read as
        ``x_new - x`` carries an error of a few ulps of ``x``, which is large against a tiny
        step (lr = 1e-12), so the absolute tolerance includes 8 ulps of the positions.
        """
        value, expected = np.asarray(value, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        scale = float(np.abs(expected).max()) if expected.size else 0.0
        ulps = 8 * np.finfo(np.float64).eps * float(np.maximum(np.abs(self.x), np.abs(self.x_new)).max())
        if not np.allclose(value, expected, rtol=1e-9, atol=1e-12 * scale + ulps + 1e-300):
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


def run_torch(spec, surface, start, t: int):
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
    # torch creates most state on the first step: before it, the state is torch's initial
    # one, zeros (Adagrad's accumulator is made in the constructor, so it is already there)
    before = {k: (np.zeros_like(v) if isinstance(v, np.ndarray) else 0.0 * v if isinstance(v, float) else v)
              if k not in before else before[k] for k, v in after.items()}
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


def _sgd(ctx: Context):
    lr, g = ctx.lr, ctx.g
    lg = -lr * g
    ctx.check("-lr*g", lg, ctx.dx)
    ctx.numbers.update({"g": g, "-lr*g": lg})
    return [
        Stage(f"SGD, update {ctx.t}: it stands at x and feels the slope g there.",
              _intro_map(ctx) + (_row(0, "x", ctx.x, "position"), _row(1, "g", g, "gradient"))),
        Stage(f"1. It steps straight down the raw slope: −lr·g, with lr = {num(lr)}.",
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


def _momentum(ctx: Context):
    mu, lr, g = float(ctx.hp["momentum"]), ctx.lr, ctx.g
    v = -lr * ctx.before["momentum_buffer"]          # displacement per step, as the engine records it
    v_new = -lr * ctx.after["momentum_buffer"]
    bv, lg = mu * v, -lr * g
    ctx.check("beta*v - lr*g", bv + lg, v_new)
    ctx.check("new v", v_new, ctx.dx)
    ctx.numbers.update({"v": v, "beta*v": bv, "g": g, "-lr*g": lg, "new v": v_new})
    return [
        _velocity_intro(ctx, v, "Momentum"),
        Stage(f"1. The velocity decays: v ← β·v, with β = {num(mu)}.",
              (Mark("beta*v", "arrow", "map", "memory", "β·v", at=tuple(ctx.x), vec=tuple(bv), grow_from=1 / mu),
               _row(2, "β·v", bv, "memory")), hide=("v",)),
        Stage(f"2. The gradient is added tip to tail: v ← β·v − lr·g, with lr = {num(lr)}.",
              (Mark("-lr*g", "arrow", "map", "gradient", "−lr·g", at=tuple(ctx.x + bv), vec=tuple(lg)),
               _row(3, "g", g, "gradient"), _row(4, "−lr·g", lg, "gradient"))),
        Stage("3. The new velocity is the step: x ← x + v.",
              (Mark("new v", "arrow", "map", "result", "new v", at=tuple(ctx.x), vec=tuple(v_new)),
               _row(5, "new v", v_new, "result"))),
        Stage("4. New position. Inertia carries the ball on; the gradient only steers it.",
              (Mark("new x", "point", "map", "result", "new x", at=tuple(ctx.x_new)),
               _row(6, "new x", ctx.x_new, "result"))),
    ]


def _nesterov(ctx: Context):
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
        Stage(f"1. The velocity decays: v ← β·v, with β = {num(mu)}.",
              (Mark("beta*v", "arrow", "map", "memory", "β·v", at=tuple(ctx.x), vec=tuple(bv), grow_from=1 / mu),
               _row(2, "β·v", bv, "memory")), hide=("v",)),
        Stage(f"2. The gradient, measured ahead, is added tip to tail: new v = β·v − lr·g, with lr = {num(lr)}.",
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


def _adagrad(ctx: Context):
    lr, g, eps = ctx.lr, ctx.g, float(ctx.hp.get("eps", 1e-10))
    if ctx.hp.get("lr_decay", 0):
        raise TrajvizError("explain draws AdaGrad without lr_decay")
    G0, G1 = ctx.before["sum"], ctx.after["sum"]
    ctx.check("G + g^2", G0 + g**2, G1)
    ratio = g / (np.sqrt(G1) + eps)
    ctx.check("-lr*g/sqrt(G)", -lr * ratio, ctx.dx)
    ctx.numbers.update({"g": g, "G": G0, "g^2": g**2, "new G": G1, "sqrt(G)": np.sqrt(G1), "g/sqrt(G)": ratio})
    s0, sa, s1 = np.sqrt(G0), np.abs(g), np.sqrt(G1)
    sign = np.ones(2, dtype=int)   # squares grow to the right on both rows: no row is mirrored
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
        ctx, f"4. Step per axis: −lr·g/√G, with lr = {num(lr)}.",
        "5. New position: the steep axis is held back, the shallow one is not; the step turns "
        "away from the raw gradient.", 6)


def _fading(ctx: Context, *, decay: float, key: str, name: str, letter: str, area: str):
    """The first sub-steps of RMSProp and Adadelta: the squares fade, take in g², merge."""
    g = ctx.g
    E0, E1 = ctx.before[key], ctx.after[key]
    ctx.check(f"{letter}*E + (1-{letter})*g^2", decay * E0 + (1 - decay) * g**2, E1)
    s0, sd, sa, s1 = np.sqrt(E0), np.sqrt(decay * E0), np.sqrt(1 - decay) * np.abs(g), np.sqrt(E1)
    sign = np.ones(2, dtype=int)   # squares grow to the right on both rows: no row is mirrored
    ctx.numbers.update({"g": g, area: E0, f"{letter}*{area}": decay * E0,
                        f"(1-{letter})*g^2": (1 - decay) * g**2, f"new {area}": E1})
    stages = [
        Stage(f"{name}, update {ctx.t}: each axis keeps a square whose area {area} is a fading average of g².",
              _intro_map(ctx, (_direction_ray(ctx),)) + _squares("old", "memory", area, s0, sign=sign)
              + (_row(0, "g", g, "gradient"), _row(1, area, E0, "memory"))),
        Stage(f"1. The memory fades first: {area} ← {letter}·{area}, with {letter} = {num(decay)}.",
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


def _rmsprop(ctx: Context):
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
        ctx, f"5. Step per axis: −lr·g/√E, with lr = {num(lr)}.",
        "6. New position: both axes take steps of about the same size, whatever their slope.", 7)


def _adadelta(ctx: Context):
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
        ctx, f"6. Step per axis: −lr·Δ, with lr = {num(lr)}.",
        "7. New position. D then takes in Δ²: the steps set the scale of the next steps.", 9)


def _adam(ctx: Context):
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
    sign = np.ones(2, dtype=int)   # squares grow to the right on both rows: no row is mirrored
    sv0, sv1, sa = np.sqrt(v0), np.sqrt(v1), np.sqrt(1 - b2) * np.abs(g)
    stages = [
        Stage(f"Adam, update {t}: a slope memory m (like momentum) and a square v per axis (like RMSProp).",
              _intro_map(ctx, (_direction_ray(ctx),)) + _bars("m", "memory", "m", m0, level=2, dashed=True)
              + _squares("old", "memory", "v", sv0, sign=sign)
              + (_row(0, "g", g, "gradient"), _row(1, "m", m0, "memory"), _row(2, "v", v0, "memory"))),
        Stage(f"1. The slope memory decays: m ← β₁·m, with β₁ = {num(b1)}.",
              _bars("b1m", "memory", "β₁·m", b1 * m0, level=2, grow_from=1 / b1)
              + (_row(3, "β₁·m", b1 * m0, "memory"),), hide=("x:m", "y:m")),
        Stage("2. The gradient is added tip to tail: m ← β₁·m + (1−β₁)·g.",
              _bars("(1-b1)g", "gradient", "(1−β₁)·g", (1 - b1) * g, level=2, at=b1 * m0)
              + _bars("new m", "result", "m", m1, level=1)
              + (_row(4, "+ (1−β₁)·g", (1 - b1) * g, "gradient"), _row(5, "= m", m1, "result"))),
        Stage(f"3. The squares fade by β₂ = {num(b2)} and take in (1−β₂)·g², as in RMSProp: "
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
        ctx, f"6. Step per axis: −lr·m̂/(√v̂+ε), with lr = {num(lr)}.",
        "7. New position: early on m̂/√v̂ ≈ ±1, so each axis moves about lr, whatever its slope.", 10)



# ---- the recipes, one per classic method (each registry entry carries its own) --------------------------
SGD = Recipe("the drunk walker", TILTED, 3, START, ("lr",), _sgd, rates={"lr": 0.16})
MOMENTUM = Recipe("the downhill slope", TILTED, 7, (-2.6, -0.6), ("lr", "momentum"), _momentum, min_update=2,
                  rates={"lr": 0.02})
NESTEROV = Recipe("the downhill slope, looking ahead", TILTED, 14, START, ("lr", "momentum"), _nesterov,
                  min_update=2, rates={"lr": 0.02})
ADAGRAD = Recipe("bad shoes", ALIGNED, 4, START, ("lr", "eps", "initial_accumulator_value"), _adagrad,
                 rates={"lr": 0.5})
ADADELTA = Recipe("shoes with a short memory, in its own units", ALIGNED, 4, ALIGNED_START, ("lr", "rho", "eps"),
                  _adadelta, rates={"lr": 5.0})
RMSPROP = Recipe("shoes whose pain fades", ALIGNED, 4, START, ("lr", "alpha", "eps"), _rmsprop, rates={"lr": 0.02})
ADAM = Recipe("slope and shoes", ALIGNED, 6, ALIGNED_START, ("lr", "betas", "eps"), _adam, rates={"lr": 0.05})


__all__ = ["Recipe", "Lesson", "Stage", "Mark", "run_torch", "Context", "AXES", "num", "MAX_UPDATE",
           "SGD", "MOMENTUM", "NESTEROV", "ADAGRAD", "ADADELTA", "RMSPROP", "ADAM"]
