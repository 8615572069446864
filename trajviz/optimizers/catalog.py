"""The built-in optimizers: torch.optim classes with their analogies and state readers.

The update rules below are torch.optim's (see each class's documentation);
trajviz re-implements none of them. Readers turn the optimizer state after
step t into what the renderer draws:

* velocity: the displacement per step that the accumulated momentum produces;
* step size: the per-axis effective learning rate ``lr / (sqrt(v) + eps)``.
"""

from __future__ import annotations

from ..lessons import recipes as _lessons

# The built-ins as data: trajviz.optimizers registers them when first asked (the catalog does
# not import the registry, so the two never import each other).
ENTRIES: list[tuple[tuple, dict]] = []


def register(name, cls, **kw):
    # every built-in's displacement is proportional to lr (decoupled weight decay too:
    # x * (1 - lr wd) moves x by -lr wd x), which lets tuning and sweeps batch rates
    kw.setdefault("lr_scale", True)
    kw.setdefault("doc", DOCS[name])
    ENTRIES.append(((name, cls), kw))



# The update rules written out (torch.optim's algorithms; each entry's ``doc``).
DOCS = {
    "sgd": """\
SGD, the drunk walker: each step follows the local (noisy) gradient, nothing else.

    x_{t+1} = x_t - lr * g_t      (g_t: the gradient at x_t, with noise or a minibatch)
""",
    "momentum": """\
Momentum (heavy ball), the downhill slope: a velocity accumulates past gradients.

    v_{t+1} = mu * v_t + g_t      (v_1 = g_0; torch.optim.SGD, dampening 0)
    x_{t+1} = x_t - lr * v_{t+1}
drawn velocity = -lr * v_{t+1} (the displacement the momentum carries)
""",
    "nesterov": """\
Nesterov momentum, the downhill slope that looks ahead.

    v_{t+1} = mu * v_t + g_t
    x_{t+1} = x_t - lr * (g_t + mu * v_{t+1})
""",
    "adagrad": """\
AdaGrad, the bad shoes: every sway hurts for good, so each axis gets its own shrinking step.

    G_{t+1} = G_t + g_t^2                        (per axis)
    x_{t+1} = x_t - lr * g_t / (sqrt(G_{t+1}) + eps)
drawn step size = lr / (sqrt(G) + eps), per axis: the box
""",
    "adadelta": """\
Adadelta, the bad shoes with a short memory, in the units of x.

    E[g^2]_{t+1} = rho * E[g^2]_t + (1 - rho) * g_t^2
    d_t = sqrt(E[dx^2]_t + eps) / sqrt(E[g^2]_{t+1} + eps) * g_t
    E[dx^2]_{t+1} = rho * E[dx^2]_t + (1 - rho) * d_t^2
    x_{t+1} = x_t - lr * d_t
""",
    "rmsprop": """\
RMSProp, slope and shoes with a short memory: AdaGrad whose pain fades.

    E[g^2]_{t+1} = alpha * E[g^2]_t + (1 - alpha) * g_t^2
    x_{t+1} = x_t - lr * g_t / (sqrt(E[g^2]_{t+1}) + eps)
""",
    "adam": """\
Adam, the downhill slope and the bad shoes: momentum on g, RMSProp on g^2, both bias-corrected.

    m_{t+1} = b1 * m_t + (1 - b1) * g_t           m^ = m_{t+1} / (1 - b1^(t+1))
    v_{t+1} = b2 * v_t + (1 - b2) * g_t^2         v^ = v_{t+1} / (1 - b2^(t+1))
    x_{t+1} = x_t - lr * m^ / (sqrt(v^) + eps)
""",
    "adamw": """\
AdamW: Adam with decoupled weight decay.

    x <- x * (1 - lr * wd);  then the Adam step
""",
    "adamax": """\
Adamax: Adam whose second moment is an infinity norm.

    m_{t+1} = b1 * m_t + (1 - b1) * g_t
    u_{t+1} = max(b2 * u_t, |g_t| + eps)
    x_{t+1} = x_t - lr / (1 - b1^(t+1)) * m_{t+1} / u_{t+1}
""",
    "nadam": """\
NAdam: Adam with a Nesterov look-ahead on the first moment (momentum decay schedule mu_t).

    x_{t+1} = x_t - lr * (mu_{t+1} m_{t+1} / (1 - prod mu) + (1 - mu_t) g_t / (1 - prod mu)) / (sqrt(v^) + eps)
""",
    "radam": """\
RAdam: Adam whose adaptive step is rectified: plain momentum SGD while the variance of v is
unreliable, then the Adam step scaled by the rectification term r_t.

    m, v, m^ as in Adam;  rho_inf = 2 / (1 - b2) - 1;  rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
    rho_t <= 5:  x_{t+1} = x_t - lr * m^
    rho_t > 5:   x_{t+1} = x_t - lr * r_t * m^ / (sqrt(v^) + eps),
                 r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
""",
}

# Readers: (state, group, t, grad) -> tensor or None, read after step t; ``grad`` is the
# gradient that step used. Each is derived from its own torch.optim update (tests check every
# registered method against the real displacement):
#   velocity: the displacement per step the momentum carries (the whole step where the
#             step is all momentum: SGD with momentum, Adam, Adamax, RAdam);
#   step size: the per-axis rate the gradient is multiplied by (box x gradient is the step of
#             the adaptive methods without momentum: AdaGrad, RMSProp, Adadelta).
def _sgd_velocity(state, group, t, grad):
    buf = state.get("momentum_buffer")
    return None if buf is None else -group["lr"] * buf


def _adagrad_step(state, group, t, grad):
    acc = state.get("sum")
    if acc is None or t < 1:
        return None
    lr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
    return lr / (acc.sqrt() + group["eps"])


def _adadelta_step(state, group, t, grad):
    """lr sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps), with E[dx^2] as it was before the step (torch
    has already folded the step in: it is recovered exactly from the step's own equations)."""
    sq, acc = state.get("square_avg"), state.get("acc_delta")
    if sq is None or t < 1 or grad is None:
        return None
    rho, eps = group["rho"], group["eps"]
    r = grad * grad / (sq + eps)                     # g^2 / (E[g^2] + eps)
    before = (acc - (1 - rho) * eps * r) / (rho + (1 - rho) * r)
    return group["lr"] * (before.clamp_min(0) + eps).sqrt() / (sq + eps).sqrt()


def _rmsprop_step(state, group, t, grad):
    sq = state.get("square_avg")
    if sq is None or t < 1:
        return None
    if group.get("centered"):
        sq = sq - state["grad_avg"] ** 2
    return group["lr"] / (sq.sqrt() + group["eps"])


def _rmsprop_velocity(state, group, t, grad):
    buf = state.get("momentum_buffer")
    return None if buf is None else -group["lr"] * buf


def _adam_step(state, group, t, grad):
    v = state.get("max_exp_avg_sq") if group.get("amsgrad") else state.get("exp_avg_sq")
    if v is None or t < 1:
        return None
    beta2 = group["betas"][1]
    return group["lr"] / (v.sqrt() / (1 - beta2**t) ** 0.5 + group["eps"])


def _adam_velocity(state, group, t, grad):
    m, step = state.get("exp_avg"), _adam_step(state, group, t, grad)
    if m is None or step is None:
        return None
    return -step * m / (1 - group["betas"][0] ** t)


def _adamax_step(state, group, t, grad):
    u = state.get("exp_inf")
    if u is None or t < 1:
        return None
    return group["lr"] / u  # torch folds eps into u: u = max(b2 u, |g| + eps)


def _adamax_velocity(state, group, t, grad):
    m, step = state.get("exp_avg"), _adamax_step(state, group, t, grad)
    if m is None or step is None:
        return None
    return -step * m / (1 - group["betas"][0] ** t)


def _nadam_mu(group, t):
    b1, psi = group["betas"][0], group["momentum_decay"]
    return b1 * (1.0 - 0.5 * 0.96 ** (t * psi)), b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))


def _nadam_step(state, group, t, grad):
    v = state.get("exp_avg_sq")
    if v is None or t < 1:
        return None
    return group["lr"] / ((v / (1 - group["betas"][1] ** t)).sqrt() + group["eps"])


def _nadam_velocity(state, group, t, grad):
    """The momentum term of NAdam's step: -lr mu_{t+1} / (1 - prod mu * mu_{t+1}) * m / denom
    (the rest of its step is the look-ahead gradient term)."""
    m, box = state.get("exp_avg"), _nadam_step(state, group, t, grad)
    prod = state.get("mu_product")
    if m is None or box is None or prod is None:
        return None
    _, mu_next = _nadam_mu(group, t)
    return -box * (mu_next / (1.0 - float(prod) * mu_next)) * m


def _radam_rect(group, t):
    b2 = group["betas"][1]
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
    if rho_t <= 5:
        return None
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5


def _radam_step(state, group, t, grad):
    """lr r_t sqrt(1 - b2^t) / (sqrt(v) + eps) once the variance is trusted (rho_t > 5); before
    that RAdam takes plain momentum steps: the rate is lr on both axes."""
    v = state.get("exp_avg_sq")
    if v is None or t < 1:
        return None
    rect = _radam_rect(group, t)
    if rect is None:
        return v * 0 + group["lr"]
    return group["lr"] * rect * (1 - group["betas"][1] ** t) ** 0.5 / (v.sqrt() + group["eps"])


def _radam_velocity(state, group, t, grad):
    m, box = state.get("exp_avg"), _radam_step(state, group, t, grad)
    if m is None or box is None:
        return None
    return -box * m / (1 - group["betas"][0] ** t)


# Colours (light slides, dark slides): each at least 3:1 against every fill of its theme's
# contour background, and the classic seven pairwise CIEDE2000 >= 12 under normal vision and
# deuteranopia, protanopia and tritanopia simulations (tests/test_style.py measures both).
# A second cue besides colour: the head's shape by family (circle: plain; triangles: momentum;
# squares: adaptive steps; diamonds: the Adam family, the four variants also dashed).
DASH = (0, (5, 2))

register(
    "sgd", "torch.optim:SGD", display="SGD", analogy="drunk walker", color="#975020", dark_color="#E78F50",
    marker="o", default_lr=0.01, lesson=_lessons.SGD, velocity=_sgd_velocity, velocity_is_step=True,
)
register(
    "momentum", "torch.optim:SGD", defaults={"momentum": 0.9}, display="Momentum", analogy="downhill slope",
    velocity=_sgd_velocity, color="#0858AF", dark_color="#0087E7", marker="^", default_lr=0.005,
    lesson=_lessons.MOMENTUM, velocity_is_step=True,
)
register(
    "nesterov", "torch.optim:SGD", defaults={"momentum": 0.9, "nesterov": True}, display="Nesterov",
    analogy="downhill slope, looking ahead", velocity=_sgd_velocity, color="#0080E7", dark_color="#30B7F7",
    marker="v", default_lr=0.005, lesson=_lessons.NESTEROV,
)
register(
    "adagrad", "torch.optim:Adagrad", display="AdaGrad", analogy="bad shoes", step_size=_adagrad_step,
    color="#188760", dark_color="#97C797", marker="s", default_lr=0.3, lesson=_lessons.ADAGRAD,
)
register(
    "adadelta", "torch.optim:Adadelta", display="Adadelta", analogy="bad shoes, short memory",
    step_size=_adadelta_step, color="#A47600", dark_color="#F7C728", marker="p", default_lr=10.0,
    lesson=_lessons.ADADELTA,
)
register(
    "rmsprop", "torch.optim:RMSprop", display="RMSProp", analogy="shoes whose pain fades",
    step_size=_rmsprop_step, velocity=_rmsprop_velocity, color="#783070", dark_color="#B7689F", marker="P",
    default_lr=0.01, lesson=_lessons.RMSPROP,
)
register(
    "adam", "torch.optim:Adam", display="Adam", analogy="downhill slope and bad shoes",
    step_size=_adam_step, velocity=_adam_velocity, color="#EF2868", dark_color="#DF5060", marker="D",
    default_lr=0.05, lesson=_lessons.ADAM, velocity_is_step=True,
)
register(
    "adamw", "torch.optim:AdamW", display="AdamW", analogy="Adam that sheds weight",
    step_size=_adam_step, velocity=_adam_velocity, color="#872050", dark_color="#E74080", marker="D",
    linestyle=DASH, default_lr=0.05, velocity_is_step=True,
)
register(
    "adamax", "torch.optim:Adamax", display="Adamax", analogy="Adam whose shoes remember the worst sway",
    step_size=_adamax_step, velocity=_adamax_velocity, color="#788718", dark_color="#979730", marker="D",
    linestyle=DASH, default_lr=0.05, velocity_is_step=True,
)
register(
    "nadam", "torch.optim:NAdam", display="NAdam", analogy="Adam looking ahead",
    step_size=_nadam_step, velocity=_nadam_velocity, color="#088F87", dark_color="#48A797", marker="D",
    linestyle=DASH, default_lr=0.05,
)
register(
    "radam", "torch.optim:RAdam", display="RAdam", analogy="Adam that warms up its shoes",
    step_size=_radam_step, velocity=_radam_velocity, color="#A74897", dark_color="#D740C7", marker="D",
    linestyle=DASH, default_lr=0.05, velocity_is_step=True,
)
