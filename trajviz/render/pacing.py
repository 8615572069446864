"""Pacing: which recorded step each frame shows, and for how long.

Time goes where the lesson happens. Frame ``k`` shows step ``s(k) = s0 (exp(k / s0) - 1)``
(rounded): time runs in ``log(1 + s / s0)``, so the first frames show about one step
each (AdaGrad's shoes start to hurt there, the heavy ball gathers speed) and each later
frame advances a little more than the one before; ``s0`` is chosen so the last motion
frame lands on the step where every head has settled (stays within :data:`SETTLE_PX`
pixel of where it ends). A run shorter than the budget gets one frame per step, never
more. The last frame is the run's last step. The first frame is held
:data:`OPEN_HOLD` seconds so the viewer can find the start; the hold at the end is
the animation's ``hold`` (3 s by default).

>>> frame_rows(401, 150).tolist()[:6]
[0, 1, 2, 3, 4, 5]
>>> r = frame_rows(1001, 150); len(r), int(r[-1])
(150, 1000)
"""

from __future__ import annotations

import math

import numpy as np

SETTLE_PX = 1.0     # a head this close to where it ends has settled
OPEN_HOLD = 0.5     # seconds on the first frame


def settle_row(traces, to_px, rows: int) -> int:
    """The first recorded row after which every head stays within SETTLE_PX of its final place.

    ``to_px(xy)`` maps data coordinates to pixels (the map's view). (A head that creeps
    by less than a pixel per frame but keeps going has not settled.)
    """
    settled = 0
    for trace in traces:
        ok = trace.ok()
        for i in range(trace.n_starts):
            p = trace.path[:, i][ok[:, i]]
            if len(p) < 2:
                continue
            px = to_px(p)
            d = np.hypot(*(px - px[-1]).T)
            far = np.flatnonzero(d > SETTLE_PX)
            last = int(np.flatnonzero(ok[:, i])[far[-1]]) + 1 if len(far) else 0
            settled = max(settled, last)
    return min(max(settled + 1, 1), rows)


def frame_rows(n_rows: int, budget: int, settle: int | None = None) -> np.ndarray:
    """The recorded rows the frames show: strictly increasing, at most ``budget`` of them, the
    last one the run's last row; ``settle``: the rows beyond it look the same (one frame)."""
    n_rows, budget = int(n_rows), max(int(budget), 1)
    last = n_rows - 1
    if budget == 1 or n_rows == 1:
        return np.array([last], dtype=np.int64)
    end = min(max(settle if settle is not None else n_rows, 1), n_rows) - 1   # last row worth a frame
    motion = budget - (0 if end == last else 1)
    if end + 1 <= motion:
        rows = np.arange(end + 1)
    else:
        s0 = _s0(end, motion - 1)
        k = np.arange(motion)
        rows = np.round(s0 * np.expm1(k / s0)).astype(np.int64)
        rows = np.maximum(rows, k)                  # rounding never shows one step twice
        for j in range(1, len(rows)):
            rows[j] = max(rows[j], rows[j - 1] + 1)
        rows = np.minimum(rows, end)
        rows[-1] = end
        rows = np.unique(rows)
    if rows[-1] != last:
        rows = np.append(rows, last)
    return rows.astype(np.int64)


def _s0(steps: int, frames: int) -> float:
    """s0 with s0 * ln(1 + steps / s0) = frames (frames < steps)."""
    lo, hi = 1e-6, 1e12
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if mid * math.log1p(steps / mid) < frames:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def durations(n_frames: int, fps: float, hold: float, open_hold: float = OPEN_HOLD) -> list[float]:
    """Seconds each frame stays up: 1/fps, the first ``open_hold`` longer, the last ``hold`` longer."""
    out = [1.0 / fps] * n_frames
    if n_frames > 1:
        out[0] = max(out[0], open_hold)
    out[-1] += hold
    return out


def hold_frames(seconds: float, fps: float) -> int:
    return max(0, int(math.ceil(seconds * fps - 1e-9)) - 1)
