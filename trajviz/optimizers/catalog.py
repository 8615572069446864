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

def _sgd_velocity(state, group, t):
    buf = state.get("momentum_buffer")
    return None if buf is None else -group["lr"] * buf


def _adagrad_step(state, group, t):
    acc = state.get("sum")
    if acc is None or t < 1:
        return None
    lr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
    return lr / (acc.sqrt() + group["eps"])


def _adadelta_step(state, group, t):
    sq, delta = state.get("square_avg"), state.get("acc_delta")
    if sq is None or t < 1:
        return None
    return group["lr"] * (delta + group["eps"]).sqrt() / (sq + group["eps"]).sqrt()


def _rmsprop_step(state, group, t):
    sq = state.get("square_avg")
    if sq is None or t < 1:
        return None
    if group.get("centered"):
        sq = sq - state["grad_avg"] ** 2
    return group["lr"] / (sq.sqrt() + group["eps"])


def _rmsprop_velocity(state, group, t):
    buf = state.get("momentum_buffer")
    return None if buf is None else -group["lr"] * buf


def _adam_step(state, group, t):
    v = state.get("max_exp_avg_sq") if group.get("amsgrad") else state.get("exp_avg_sq")
    if v is None or t < 1:
        return None
    beta2 = group["betas"][1]
    return group["lr"] / ((v / (1 - beta2**t)).sqrt() + group["eps"])


def _adam_velocity(state, group, t):
    m, step = state.get("exp_avg"), _adam_step(state, group, t)
    if m is None or step is None:
        return None
    return -step * m / (1 - group["betas"][0] ** t)


def _adamax_step(state, group, t):
    u = state.get("exp_inf")
    if u is None or t < 1:
        return None
    return group["lr"] / u  # torch folds eps into u: u = max(b2 u, |g| + eps)


def _adamax_velocity(state, group, t):
    m, step = state.get("exp_avg"), _adamax_step(state, group, t)
    if m is None or step is None:
        return None
    return -step * m / (1 - group["betas"][0] ** t)


# Colours: the classic seven take the Okabe-Ito colours (distinguishable with the common
# colour vision deficiencies); the Adam variants take Paul Tol's muted colours and a dashed
# line, since eight or more hues can no longer all be told apart by colour alone.
DASH = (0, (5, 2))

register(
    "sgd", "torch.optim:SGD", display="SGD", analogy="drunk walker", color="#D55E00", default_lr=0.01, lesson=_lessons.SGD,
)
register(
    "momentum", "torch.optim:SGD", defaults={"momentum": 0.9}, display="Momentum",
    analogy="downhill slope", velocity=_sgd_velocity, color="#0072B2", default_lr=0.005, lesson=_lessons.MOMENTUM,
)
register(
    "nesterov", "torch.optim:SGD", defaults={"momentum": 0.9, "nesterov": True}, display="Nesterov",
    analogy="downhill slope, looking ahead", velocity=_sgd_velocity, color="#56B4E9", default_lr=0.005, lesson=_lessons.NESTEROV,
)
register(
    "adagrad", "torch.optim:Adagrad", display="AdaGrad", analogy="bad shoes", step_size=_adagrad_step,
    color="#009E73", default_lr=0.3, lesson=_lessons.ADAGRAD,
)
register(
    "adadelta", "torch.optim:Adadelta", display="Adadelta", analogy="bad shoes, short memory",
    step_size=_adadelta_step, color="#F0E442", default_lr=10.0, lesson=_lessons.ADADELTA,
)
register(
    "rmsprop", "torch.optim:RMSprop", display="RMSProp", analogy="slope and shoes, short memory",
    step_size=_rmsprop_step, velocity=_rmsprop_velocity, color="#CC79A7", default_lr=0.01, lesson=_lessons.RMSPROP,
)
register(
    "adam", "torch.optim:Adam", display="Adam", analogy="downhill slope and bad shoes",
    step_size=_adam_step, velocity=_adam_velocity, color="#E69F00", default_lr=0.05, lesson=_lessons.ADAM,
)
register(
    "adamw", "torch.optim:AdamW", display="AdamW", analogy="Adam that sheds weight",
    step_size=_adam_step, velocity=_adam_velocity, color="#882255", linestyle=DASH, default_lr=0.05,
)
register(
    "adamax", "torch.optim:Adamax", display="Adamax", analogy="Adam whose shoes remember the worst sway",
    step_size=_adamax_step, velocity=_adamax_velocity, color="#999933", linestyle=DASH, default_lr=0.05,
)
register(
    "nadam", "torch.optim:NAdam", display="NAdam", analogy="Adam looking ahead",
    step_size=_adam_step, velocity=_adam_velocity, color="#44AA99", linestyle=DASH, default_lr=0.05,
)
register(
    "radam", "torch.optim:RAdam", display="RAdam", analogy="Adam that warms up its shoes",
    step_size=_adam_step, velocity=_adam_velocity, color="#AA4499", linestyle=DASH, default_lr=0.05,
)
