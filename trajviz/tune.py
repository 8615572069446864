"""Fair comparisons: tune each optimizer's learning rate before drawing it.

A picture where Adam "wins" only because SGD got a poor rate teaches the wrong
lesson. For each method, every candidate rate runs from every start in one
batched job (rows = candidates x starts), for the run's own number of steps,
on the run's own noise and minibatches. A candidate's score is its final loss,
averaged over the starts; a path that diverges or ends outside the domain
(at any step) scores +inf. A log-spaced grid is followed by one refinement round around the
best; among candidates tied within rounding, the geometric middle is taken.
The search is deterministic for a given seed.

>>> import trajviz
>>> r = trajviz.run("x**2 + y**2", "sgd", steps=20, tune=True)   # doctest: +SKIP
>>> r["sgd"].tuned.lr                                            # doctest: +SKIP
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANDIDATES = 64
REFINE = 16
LR_RANGE = (1e-6, 100.0)


@dataclass
class Tuned:
    """How one method's rate was chosen."""

    label: str
    lr: float | None            # the chosen rate (None: no candidate converged)
    before: float | None        # the rate it had before tuning
    score: float                # mean final loss at the chosen rate
    candidates: np.ndarray      # every rate tried, sorted
    scores: np.ndarray          # their scores


def lr_grid(lo: float, hi: float, n: int) -> np.ndarray:
    return np.geomspace(lo, hi, n)


def scores(setup, trace, n_var: int) -> np.ndarray:
    """(V,) mean final loss per variant; inf where a path diverged or left the domain at any step."""
    n = len(setup.x0)
    loss = trace.loss[-1].reshape(n_var, n)
    inside = trace.stayed_inside.reshape(n_var, n)
    ok = (trace.diverged_at.reshape(n_var, n) < 0) & inside & np.isfinite(loss)
    out = np.where(ok, loss, np.inf).mean(axis=1)
    return np.where(np.isfinite(out), out, np.inf)


def _evaluate(setup, specs, grids) -> list[np.ndarray]:
    """Scores of every spec's candidate rates, all specs' candidates in one batched job.

    The engine tracks on the device whether each path stayed inside the domain, so only the
    start and the end are recorded.
    """
    from .engine import check_memory, simulate

    n = len(setup.x0)
    check_memory(setup, n * sum(len(g) for g in grids), ("loss",), 2, what="tuning")
    traces = simulate(setup, specs, variants=[[{"lr": float(r)} for r in g] for g in grids], keys=("loss",),
                      record_steps=[0, setup.steps])
    return [scores(setup, t, len(g)) for t, g in zip(traces, grids)]


def _pick(rates: np.ndarray, s: np.ndarray) -> int:
    best = s.min()
    if not np.isfinite(best):
        return -1
    tied = np.flatnonzero(s <= best + 1e-9 * abs(best) + 1e-300)
    return int(tied[len(tied) // 2])  # rates are sorted: the middle of the tied run


def tune_lrs(setup, specs, candidates: int = CANDIDATES, refine: int = REFINE,
             lr_range: tuple[float, float] = LR_RANGE) -> list[Tuned]:
    """Search each spec's learning rate on ``setup``: a grid, then a refinement round around the best."""
    grid = lr_grid(*lr_range, candidates)
    first = _evaluate(setup, specs, [grid] * len(specs))
    fine_grids, refine_idx = [], []
    for k, s1 in enumerate(first):
        i = _pick(grid, s1)
        if i >= 0 and refine > 0:
            lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
            fine_grids.append(lr_grid(lo, hi, refine + 2)[1:-1])
            refine_idx.append(k)
    second = _evaluate(setup, [specs[k] for k in refine_idx], fine_grids) if refine_idx else []
    extra = dict(zip(refine_idx, zip(fine_grids, second)))
    out = []
    for k, (spec, s1) in enumerate(zip(specs, first)):
        rates, sc = grid, s1
        if k in extra:
            fine, s2 = extra[k]
            rates = np.concatenate([grid, fine])
            sc = np.concatenate([s1, s2])
            order = np.argsort(rates, kind="stable")
            rates, sc = rates[order], sc[order]
        j = _pick(rates, sc)
        out.append(Tuned(label=spec.label, lr=float(rates[j]) if j >= 0 else None,
                         before=spec.hyperparameters().get("lr"),
                         score=float(sc[j]) if j >= 0 else float("inf"), candidates=rates, scores=sc))
    return out


def tune_lr(setup, spec, **kw) -> Tuned:
    """Search one spec's learning rate (see :func:`tune_lrs`)."""
    return tune_lrs(setup, [spec], **kw)[0]


def tune_specs(setup, specs):
    """Tune every spec that has a learning rate; return (specs with best rates, {label: Tuned}).

    A tuned run is named without the rate it replaced (``sgd:lr=0.001,momentum=0.5`` ->
    ``sgd:momentum=0.5``); its chosen rate is in its Tuned record.
    """
    tunable = [s for s in specs if "lr" in s.valid_keys()]
    results = dict(zip((id(s) for s in tunable), tune_lrs(setup, tunable))) if tunable else {}
    out, tuned = [], {}
    for spec in specs:
        t = results.get(id(spec))
        if t is None:
            out.append(spec)
            continue
        if t.lr is not None:
            if "lr" in spec.kwargs:
                spec = spec.without("lr")
            spec = spec.with_filled(lr=t.lr)
        t.label = spec.label
        tuned[spec.label] = t
        out.append(spec)
    return out, tuned


def tuned_table(tuned: dict) -> str:
    """The chosen rates as a small text table."""
    lines = [f"{'optimizer':<16} {'lr before':>10} {'tuned lr':>10} {'final loss':>12}"]
    for label, t in tuned.items():
        before = f"{t.before:.3g}" if t.before is not None else "-"
        chosen = f"{t.lr:.3g}" if t.lr is not None else "none ok"
        lines.append(f"{label:<16} {before:>10} {chosen:>10} {t.score:>12.4g}")
    return "\n".join(lines)
