"""The explorer page's paths are torch.optim's: its JavaScript, run in Chromium, against torch.

Every built-in method runs with its defaults and with non-default hyperparameters on several
surfaces and starts, in float64 for 300 steps, with gradient noise and minibatches, and its
path must equal to 1e-9 (relative) both a plain torch.optim loop that draws noise and
minibatches from trajviz.sampling (the spec the page implements) and ``trajviz.run`` itself
(path, loss, gradient, divergence, and the drawn marks).

A comparison at 1e-9 only means something where the path is well-conditioned: on a chaotic
path (Adadelta at lr=10 across Rosenbrock's valley) a one-ulp change of the start moves
torch's own path by 1e-3. Each case therefore first checks that torch's path moves by less
than 1e-11 when its start moves by one ulp.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import trajviz
import trajviz.optimizers as O
import trajviz.surfaces as S
from trajviz import sampling
from trajviz.explore import write_explorer
from trajviz.explore.browser import needs_chromium
from trajviz.explore.config import optimizer_entries

pytestmark = needs_chromium()

STEPS = 300
TOL = 1e-9
CONDITION = 1e-11

RUN_JS = """(a) => {
  const L = window.trajvizLib;
  const config = JSON.parse(document.getElementById("trajviz-config").textContent);
  const catalog = new L.state.Catalog(config);
  const raw = {surface: a.surface, opt: [a.spec], start: a.start, steps: a.steps, noise: a.noise, seed: a.seed};
  if (a.batch !== null) raw.batch_size = a.batch;
  const r = L.state.resolve(raw, catalog);
  const s = r.surface;
  const tr = L.engine.run({fn: s.fn, data: s.data ? config.data[s.data] : null, domain: s.domain,
    starts: r.state.start, steps: r.state.steps, noise: r.state.noise, seed: r.state.seed,
    batchSize: r.state.batch_size || null, methods: r.methods})[0];
  const out = (x) => (x ? Array.from(x, (v) => (Number.isNaN(v) ? null : v)) : null);
  return {label: tr.label, path: out(tr.path), loss: out(tr.loss), grad: out(tr.grad),
          velocity: out(tr.velocity), box: out(tr.box), diverged: Array.from(tr.divergedAt)};
}"""

A = [[-1.5, 2.5], [0.5, -0.5]]
Q = "quadratic:kappa=10,angle=30"
MAXIMIZE = "-(x**2) - 3*y**2 + 0.5*x*y"

# (surface, spec, starts, noise, seed, batch size)
CASES = [
    # every built-in with its defaults (curated learning rates)
    ("rosenbrock", "sgd", A, 0.0, 0, None),
    ("rosenbrock", "momentum:lr=0.0005", A, 0.0, 0, None),   # the tuned default rate loops chaotically
    ("rosenbrock", "nesterov", A, 0.0, 0, None),
    ("rosenbrock", "adagrad", A, 0.0, 0, None),
    ("beale", "adadelta", [[1.0, 1.5]], 0.0, 0, None),
    ("six_hump_camel", "adadelta:lr=10", [[1.0, 0.9]], 0.0, 0, None),
    ("rosenbrock", "rmsprop:lr=0.01", A, 0.0, 0, None),
    ("rosenbrock", "adam", A, 0.0, 0, None),
    ("rosenbrock", "adamw", A, 0.0, 0, None),
    ("rosenbrock", "adamax", A, 0.0, 0, None),
    ("himmelblau", "nadam", [[0.0, -0.5]], 0.0, 0, None),
    ("beale", "nadam", [[1.0, 1.5]], 0.0, 0, None),
    ("rosenbrock", "radam", A, 0.0, 0, None),
    # non-default hyperparameters: every option the page's rules implement
    ("rosenbrock", "sgd:momentum=0.8,dampening=0.3,weight_decay=0.1", A, 0.0, 0, None),
    ("himmelblau", "sgd:momentum=0.7,nesterov=true,weight_decay=0.01,lr=0.002", [[0.0, -0.5], [-1.0, 1.0]], 0.0, 0, None),
    (MAXIMIZE, "sgd:maximize=true,lr=0.05", [[-2.2, 2.2], [1.0, -1.5]], 0.0, 0, None),
    (MAXIMIZE, "adam:maximize=true,lr=0.05,amsgrad=true", [[-2.2, 2.2]], 0.0, 0, None),
    ("rosenbrock", "adagrad:lr_decay=0.01,initial_accumulator_value=0.5,weight_decay=0.05", A, 0.0, 0, None),
    (Q, "adadelta:rho=0.95,eps=1e-5,weight_decay=0.1,lr=0.5", [[-2.6, 1.2]], 0.0, 0, None),
    ("rosenbrock", "rmsprop:centered=true,momentum=0.5", A, 0.0, 0, None),
    (Q, "rmsprop:alpha=0.9,weight_decay=0.2,maximize=false,eps=1e-6,lr=0.005", [[-2.6, 1.2]], 0.0, 0, None),
    ("rosenbrock", "adam:amsgrad=true,weight_decay=0.1", A, 0.0, 0, None),
    ("booth", "adam:betas=0.8/0.99,eps=1e-6,decoupled_weight_decay=true,weight_decay=0.05,lr=0.1",
     [[-8.0, -7.0]], 0.0, 0, None),
    (Q, "adamw:weight_decay=0.3,amsgrad=true,lr=0.03", [[-2.6, 1.2], [2.0, -1.5]], 0.0, 0, None),
    (Q, "adamax:betas=0.85/0.98,weight_decay=0.05,lr=0.05", [[-2.6, 1.2]], 0.0, 0, None),
    (Q, "nadam:momentum_decay=0.01,weight_decay=0.05,lr=0.05", [[-2.6, 1.2]], 0.0, 0, None),
    (Q, "nadam:decoupled_weight_decay=true,weight_decay=0.1,lr=0.05", [[-2.6, 1.2]], 0.0, 0, None),
    ("rosenbrock", "radam:decoupled_weight_decay=true,weight_decay=0.1,betas=0.8/0.99", A, 0.0, 0, None),
    (Q, "radam:weight_decay=0.05,eps=1e-6", [[-2.6, 1.2]], 0.0, 0, None),
    # the drunk walker: gradient noise (seeded stream 1)
    ("beale", "sgd", [[1.0, 1.5], [2.0, 1.0]], 0.5, 7, None),
    ("beale", "adam", [[1.0, 1.5]], 0.5, 7, None),
    (Q, "momentum", [[-2.6, 1.2], [1.0, 1.0], [0.0, -1.0]], 1.0, 123, None),
    (Q, "rmsprop", [[-2.6, 1.2]], 2.0, 2**40 + 5, None),
    # minibatches of regression's data (seeded stream 2, epoch permutations)
    ("regression", "sgd", [[-0.5, 1.2]], 0.0, 3, 16),
    ("regression", "adam", [[-0.5, 1.2], [2.0, -1.0]], 0.0, 3, 7),
    ("regression", "momentum", [[-0.5, 1.2]], 0.3, 11, 100),
    ("regression", "adagrad", [[-0.5, 1.2]], 0.0, 5, 1000),  # >= the data: the full objective
]


def case_id(case):
    surface, spec, starts, noise, seed, batch = case
    extra = (f" noise={noise}" if noise else "") + (f" batch={batch}" if batch else "")
    return f"{surface} {spec} x{len(starts)}{extra}"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from trajviz.explore.browser import chromium, open_page

    path = tmp_path_factory.mktemp("explore") / "parity.html"
    write_explorer(path, Q)  # every built-in at its defaults, and Q
    messages: list[str] = []
    with chromium() as browser:
        pg = open_page(browser, path, messages=messages)
        yield pg
    assert not [m for m in messages if "error" in m.lower()], messages


def run_page(page, case):
    surface, spec, starts, noise, seed, batch = case
    out = page.evaluate(RUN_JS, dict(surface=surface, spec=spec, start=starts, steps=STEPS, noise=noise, seed=seed,
                                     batch=batch))
    n = len(starts)

    def arr(key, width):
        v = out[key]
        if v is None:
            return None
        a = np.array([np.nan if x is None else x for x in v], dtype=np.float64)
        return a.reshape((STEPS + 1, n, width) if width > 1 else (STEPS + 1, n))

    return {"label": out["label"], "path": arr("path", 2), "loss": arr("loss", 1), "grad": arr("grad", 2),
            "velocity": arr("velocity", 2), "box": arr("box", 2), "diverged": np.array(out["diverged"])}


def reference(case, starts=None):
    """A plain torch.optim loop applying the sampling spec (the engine's, once issue 9 lands)."""
    surface, spec, given, noise, seed, batch = case
    surf = S.get(surface)
    opt_spec = O.resolve([spec], surface=surf)[0]
    x = torch.tensor(starts if starts is not None else given, dtype=torch.float64, requires_grad=True)
    opt = opt_spec.make([x])
    n = x.shape[0]
    path, grads = [], []
    for t in range(STEPS + 1):
        opt.zero_grad()
        if batch and batch < len(surf.data):
            rows = torch.as_tensor(sampling.batch_rows(seed, t, len(surf.data), batch))
            value = surf.minibatch(x, rows)
        else:
            value = surf(x)
        value.sum().backward()
        if noise:
            x.grad += noise * torch.as_tensor(sampling.gaussian_noise(seed, t, n))
        path.append(x.detach().numpy().copy())
        grads.append(x.grad.numpy().copy())
        if t == STEPS:
            break
        opt.step()
    return np.array(path), np.array(grads)


def rel_error(got, want, floor=1e-3):
    """max |got - want| / max(|want|, floor), NaNs required in the same places."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(want)), "NaN in different places"
    ok = ~np.isnan(want)
    if not ok.any():
        return 0.0
    return float(np.max(np.abs(got[ok] - want[ok]) / np.maximum(np.abs(want[ok]), floor)))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_page_paths_equal_torch_optim(page, case):
    want, _ = reference(case)
    assert np.isfinite(want).all(), "a parity case must not diverge"
    moved, _ = reference(case, np.nextafter(np.array(case[2], dtype=np.float64), np.inf))
    assert rel_error(moved, want) < CONDITION, "ill-conditioned case: torch's own path is chaotic here"
    got = run_page(page, case)
    assert (got["diverged"] == -1).all()
    assert rel_error(got["path"], want) <= TOL


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_page_equals_trajviz_run(page, case):
    surface, spec, starts, noise, seed, batch = case
    result = trajviz.run(surface, [spec], steps=STEPS, start=starts, noise=noise, seed=seed, batch_size=batch,
                         dtype="float64", device="cpu")
    trace = next(iter(result))
    got = run_page(page, case)
    assert got["label"] == trace.label
    assert rel_error(got["path"], trace.path) <= TOL
    assert rel_error(got["loss"], trace.loss, floor=1e-6) <= TOL
    assert rel_error(got["grad"], trace.grad, floor=1e-6) <= 1e-8
    assert (got["diverged"] == trace.diverged_at).all()
    # the drawn marks, where the engine's readers follow the real update (see issue 11, items 7-8)
    name = O.get(spec).name
    if name not in ("radam", "nadam", "adadelta"):
        for key, theirs in (("velocity", trace.velocity), ("box", trace.step_size)):
            if theirs is not None:  # (the engine reads no velocity for "sgd:momentum=...")
                # relative to each series' own scale: a velocity that has decayed to 1e-17 carries
                # rounding differences of 1e-20, which are no disagreement
                scale = float(np.nanmax(np.abs(theirs[1:]))) if np.isfinite(theirs[1:]).any() else 1.0
                assert rel_error(got[key][1:], theirs[1:], floor=max(1e-12, 1e-9 * scale)) <= 1e-8, key


@pytest.mark.parametrize("spec", ["sgd:lr=0.01", "nesterov:lr=0.003", "adam:lr=50"])
def test_divergence_is_found_at_the_engines_step(page, spec):
    case = ("rosenbrock", spec, A, 0.0, 0, None)
    got = run_page(page, case)
    trace = next(iter(trajviz.run("rosenbrock", [spec], steps=STEPS, start=A, dtype="float64", device="cpu")))
    assert (got["diverged"] == trace.diverged_at).all()
    assert (trace.diverged_at >= 0).any(), "the case is meant to diverge"
    assert rel_error(got["path"], trace.path) <= TOL  # NaN from the divergence on, in both


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_drawn_marks_follow_the_real_update(page, case):
    """Where the whole step is momentum, the arrow is the displacement; an adaptive step without
    momentum is the box times the gradient it scaled (issue 11's rule, for the page's own marks)."""
    surface, spec, starts, noise, seed, batch = case
    got = run_page(page, case)
    entry = O.resolve([spec], surface=S.get(surface))[0]
    hp = entry.hyperparameters()
    step = got["path"][1:] - got["path"][:-1]
    cls = entry.torch_class.__name__
    decay = hp.get("weight_decay", 0.01 if cls == "AdamW" else 0)
    sign = -1.0 if hp.get("maximize") else 1.0
    g = sign * got["grad"][:-1]
    if decay and not (cls == "AdamW" or hp.get("decoupled_weight_decay")):
        g = g + decay * got["path"][:-1]
    vel, box = got["velocity"], got["box"]
    if cls in ("Adam", "AdamW", "Adamax", "RAdam") and not decay:
        np.testing.assert_allclose(vel[1:], step, rtol=1e-9, atol=1e-15)
    if cls == "SGD" and hp.get("momentum") and not hp.get("nesterov"):
        np.testing.assert_allclose(vel[1:], step, rtol=1e-9, atol=1e-15)
    if cls in ("Adagrad", "Adadelta") or (cls == "RMSprop" and not hp.get("momentum")):
        np.testing.assert_allclose(-box[1:] * g, step, rtol=1e-9, atol=1e-15)
    if cls == "SGD" and not hp.get("momentum"):
        assert vel is None and box is None


def test_every_method_the_page_runs_is_covered():
    covered = {O.get(spec).name for _, spec, *_ in CASES}
    page_methods = {e["name"] for e in optimizer_entries()}
    assert page_methods <= covered, sorted(page_methods - covered)
    options = {k for _, spec, *_ in CASES for k in O.get(spec).kwargs}
    for key in ("momentum", "dampening", "nesterov", "weight_decay", "maximize", "lr_decay", "initial_accumulator_value",
                "rho", "eps", "alpha", "centered", "betas", "amsgrad", "decoupled_weight_decay", "momentum_decay"):
        assert key in options, key
