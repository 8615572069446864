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

from dataclasses import dataclass, replace

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


def _evaluate(setup, spec, rates):
    from .engine import run_job

    # the engine tracks on the device whether each path stayed inside the domain,
    # so only the start and the end are recorded
    trace = run_job(setup, spec, variants=[{"lr": float(r)} for r in rates], keys=("loss",),
                    record_steps=[0, setup.steps])
    return scores(setup, trace, len(rates)), trace


def _pick(rates: np.ndarray, s: np.ndarray) -> int:
    best = s.min()
    if not np.isfinite(best):
        return -1
    tied = np.flatnonzero(s <= best + 1e-9 * abs(best) + 1e-300)
    return int(tied[len(tied) // 2])  # rates are sorted: the middle of the tied run


def tune_lr(setup, spec, candidates: int = CANDIDATES, refine: int = REFINE,
            lr_range: tuple[float, float] = LR_RANGE) -> Tuned:
    """Search ``spec``'s learning rate on ``setup`` (a grid, then a refinement round)."""
    before = spec.hyperparameters().get("lr")
    grid = lr_grid(*lr_range, candidates)
    s1, _ = _evaluate(setup, spec, grid)
    i = _pick(grid, s1)
    rates, sc = grid, s1
    if i >= 0 and refine > 0:
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        fine = lr_grid(lo, hi, refine + 2)[1:-1]
        s2, _ = _evaluate(setup, spec, fine)
        rates = np.concatenate([grid, fine])
        sc = np.concatenate([s1, s2])
        order = np.argsort(rates, kind="stable")
        rates, sc = rates[order], sc[order]
    j = _pick(rates, sc)
    return Tuned(label=spec.label, lr=float(rates[j]) if j >= 0 else None, before=before,
                 score=float(sc[j]) if j >= 0 else float("inf"), candidates=rates, scores=sc)


def tune_specs(setup, specs):
    """Tune every spec that has a learning rate; return (specs with best rates, {label: Tuned})."""
    out, tuned = [], {}
    for spec in specs:
        if "lr" not in spec.valid_keys():
            out.append(spec)
            continue
        t = tune_lr(setup, spec)
        label = _without_lr(spec.label) if t.lr is not None else spec.label
        t.label = label
        tuned[label] = t
        out.append(replace(spec.with_kwargs(lr=t.lr), label=label) if t.lr is not None else spec)
    return out, tuned


def _without_lr(label: str) -> str:
    """``"sgd:lr=0.001,momentum=0.5"`` -> ``"sgd:momentum=0.5"``: a tuned run is not named by the rate it replaced."""
    head, sep, rest = label.partition(":")
    if not sep or "=" not in rest:
        return label
    kept = [item for item in rest.split(",") if item.split("=")[0].strip() != "lr"]
    return head + (":" + ",".join(kept) if kept else "")


def tuned_table(tuned: dict) -> str:
    """The chosen rates as a small text table."""
    lines = [f"{'optimizer':<16} {'lr before':>10} {'tuned lr':>10} {'final loss':>12}"]
    for label, t in tuned.items():
        before = f"{t.before:.3g}" if t.before is not None else "-"
        chosen = f"{t.lr:.3g}" if t.lr is not None else "none ok"
        lines.append(f"{label:<16} {before:>10} {chosen:>10} {t.score:>12.4g}")
    return "\n".join(lines)
