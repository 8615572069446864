"""Pacing: which recorded step each frame shows, and for how long.

Time goes where the lesson happens. The first :data:`EARLY` steps get a frame
each (AdaGrad's shoes start to hurt there, the heavy ball gathers speed); after
that each frame advances a little more than the one before (a geometric
progression starting at one step per frame), up to the step where every head has
settled (none moves more than :data:`SETTLE_PX` pixels for the rest of the run).
The last frame is the run's last step. The first frame is held :data:`OPEN_HOLD`
seconds so the viewer can find the start; the hold at the end is the animation's
``hold`` (3 s by default).

>>> frame_rows(501, 150, settle=501).tolist()[:5]
[0, 1, 2, 3, 4]
>>> len(frame_rows(501, 150, settle=501)) <= 150
True
"""

from __future__ import annotations

import math

import numpy as np

EARLY = 25          # steps shown one per frame at the start
SETTLE_PX = 1.0     # a head that moves less than this many pixels per step has settled
OPEN_HOLD = 0.5     # seconds on the first frame


def settle_row(traces, to_px, rows: int) -> int:
    """The first recorded row after which no head moves more than SETTLE_PX pixels.

    ``to_px(xy)`` maps data coordinates to pixels (the map's view). Diverged paths
    count as settled once they stop (their drawing stops there too).
    """
    last_moving = 0
    for trace in traces:
        ok = trace.ok()
        p = to_px(np.where(ok[..., None], trace.path, np.nan))            # (T, N, 2) pixels
        d = np.hypot(*(np.diff(p, axis=0).transpose(2, 0, 1)))            # (T-1, N)
        moving = np.flatnonzero(np.nan_to_num(d, nan=0.0).max(axis=1) > SETTLE_PX)
        if len(moving):
            last_moving = max(last_moving, int(moving[-1]) + 1)
    return min(max(last_moving + 1, 1), rows)


def frame_rows(n_rows: int, budget: int, settle: int | None = None, early: int = EARLY) -> np.ndarray:
    """The recorded rows the frames show (strictly increasing, at most ``budget``, ending at the last row).

    Rows 0 .. early-1 one per frame, then a geometric progression from one row per frame up
    to ``settle`` (the rows beyond it look the same), then the last row.
    """
    n_rows, budget = int(n_rows), max(int(budget), 1)
    last = n_rows - 1
    if budget == 1 or n_rows == 1:
        return np.array([last], dtype=np.int64)
    end = min(max(settle if settle is not None else n_rows, 1), n_rows) - 1   # last row worth a frame
    if end + 1 <= budget - (0 if end == last else 1):
        rows = list(range(end + 1))
    else:
        head = min(early, budget - 2, end)
        rows = list(range(head))
        free = budget - len(rows) - (0 if end == last else 1)
        span = end - head
        if free >= span + 1:
            rows += list(range(head, end + 1))
        else:
            q = _ratio(span, free - 1)
            steps = [head + (q ** j - 1) / (q - 1) if q != 1 else head + j for j in range(free)]
            rows += sorted(set(int(round(s)) for s in steps))
            rows[-1] = end
    if rows[-1] != last:
        rows.append(last)
    out = np.unique(np.asarray(rows, dtype=np.int64))
    if len(out) > budget:   # rounding merged none, so this is only the safety net
        out = np.unique(np.concatenate([out[: budget - 1], [last]]))
    return out


def _ratio(span: float, frames: int) -> float:
    """q with (q**frames - 1) / (q - 1) = span: steps that start at one per frame and grow geometrically."""
    if frames <= 0:
        return 1.0
    if span <= frames:
        return 1.0
    lo, hi = 1.0 + 1e-12, 2.0
    while (hi ** frames - 1) / (hi - 1) < span:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        if (mid ** frames - 1) / (mid - 1) < span:
            lo = mid
        else:
            hi = mid
    return hi


def durations(n_frames: int, fps: float, hold: float, open_hold: float = OPEN_HOLD) -> list[float]:
    """Seconds each frame stays up: 1/fps, the first ``open_hold`` longer, the last ``hold`` longer."""
    out = [1.0 / fps] * n_frames
    if n_frames > 1:
        out[0] = max(out[0], open_hold)
    out[-1] += hold
    return out


def hold_frames(seconds: float, fps: float) -> int:
    return max(0, int(math.ceil(seconds * fps - 1e-9)) - 1)
