"""The built-in optimizers: torch.optim classes with their analogies and state readers.

The update rules below are torch.optim's (see each class's documentation);
trajviz re-implements none of them. Readers turn the optimizer state after
step t into what the renderer draws:

* velocity: the displacement per step that the accumulated momentum produces;
* step size: the per-axis effective learning rate ``lr / (sqrt(v) + eps)``.
"""

from __future__ import annotations

from . import register as _register


def register(name, cls, **kw):
    # every built-in's displacement is proportional to lr (decoupled weight decay too:
    # x * (1 - lr wd) moves x by -lr wd x), which lets tuning and sweeps batch rates
    kw.setdefault("lr_scale", True)
    return _register(name, cls, **kw)



# The update rules written out (torch.optim's algorithms; each entry's ``doc``).
DOCS = {
    "sgd": """\
SGD, the drunk walker: each step follows the local (noisy) gradient, nothing else.

    g_t = grad f(x_t)            (+ noise, or a minibatch gradient)
    x_{t+1} = x_t - lr * g_t
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
    drawn step size = lr / (sqrt(G) + eps)       (per axis: the box)
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

    x <- x * (1 - lr * wd), then the Adam step
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


register(
    "sgd", "torch.optim:SGD", doc=DOCS["sgd"], display="SGD", analogy="drunk walker",
    rule="x <- x - lr * g",
)
register(
    "momentum", "torch.optim:SGD", doc=DOCS["momentum"], defaults={"momentum": 0.9}, display="Momentum",
    analogy="downhill slope", rule="v <- mu v + g;  x <- x - lr * v", velocity=_sgd_velocity,
)
register(
    "nesterov", "torch.optim:SGD", doc=DOCS["nesterov"], defaults={"momentum": 0.9, "nesterov": True}, display="Nesterov",
    analogy="downhill slope, looking ahead", rule="v <- mu v + g;  x <- x - lr * (g + mu v)",
    velocity=_sgd_velocity,
)
register(
    "adagrad", "torch.optim:Adagrad", doc=DOCS["adagrad"], display="AdaGrad", analogy="bad shoes",
    rule="G <- G + g^2;  x <- x - lr * g / (sqrt(G) + eps)", step_size=_adagrad_step,
)
register(
    "adadelta", "torch.optim:Adadelta", doc=DOCS["adadelta"], display="Adadelta", analogy="bad shoes, short memory",
    rule="E[g^2] <- rho E[g^2] + (1-rho) g^2;  d = sqrt(E[dx^2]+eps)/sqrt(E[g^2]+eps) g;  x <- x - lr d",
    step_size=_adadelta_step,
)
register(
    "rmsprop", "torch.optim:RMSprop", doc=DOCS["rmsprop"], display="RMSProp", analogy="slope and shoes, short memory",
    rule="E[g^2] <- a E[g^2] + (1-a) g^2;  x <- x - lr * g / (sqrt(E[g^2]) + eps)",
    step_size=_rmsprop_step, velocity=_rmsprop_velocity,
)
register(
    "adam", "torch.optim:Adam", doc=DOCS["adam"], display="Adam", analogy="downhill slope and bad shoes",
    rule="m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  x <- x - lr * m^ / (sqrt(v^) + eps)",
    step_size=_adam_step, velocity=_adam_velocity,
)
register(
    "adamw", "torch.optim:AdamW", doc=DOCS["adamw"], display="AdamW", analogy="Adam that sheds weight",
    rule="x <- x - lr * wd * x;  then the Adam step", step_size=_adam_step, velocity=_adam_velocity,
)
register(
    "adamax", "torch.optim:Adamax", doc=DOCS["adamax"], display="Adamax", analogy="Adam whose shoes remember the worst sway",
    rule="m <- b1 m + (1-b1) g;  u <- max(b2 u, |g| + eps);  x <- x - lr/(1-b1^t) * m / u",
    step_size=_adamax_step, velocity=_adamax_velocity,
)
register(
    "nadam", "torch.optim:NAdam", doc=DOCS["nadam"], display="NAdam", analogy="Adam looking ahead",
    rule="Adam with a Nesterov look-ahead on m", step_size=_adam_step, velocity=_adam_velocity,
)
register(
    "radam", "torch.optim:RAdam", doc=DOCS["radam"], display="RAdam", analogy="Adam that warms up its shoes",
    rule="Adam whose adaptive step is rectified (SGD with momentum while v is unreliable)",
    step_size=_adam_step, velocity=_adam_velocity,
)
