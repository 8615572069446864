"""Framing the action: the part of the plane a picture shows.

By default the view fits the paths, the starts and the nearest known minimum
(when including it does not shrink the action to a corner), with a margin, and
widens to the map box's aspect so nothing is cut; ``xlim``/``ylim`` win. The
contours are computed for the view. A swarm of many starts shows the whole domain.
"""

from __future__ import annotations

import numpy as np

MARGIN = 0.10          # of the fitted box's larger side, on each side
MIN_SPAN = 0.04        # of the domain's span: the view is never smaller
MINIMUM_GROWTH = 6.0   # the nearest minimum is included if the box area grows at most this much
MAX_POINTS = 20_000


def action_points(result) -> np.ndarray:
    pts = [np.asarray(result.starts, dtype=float).reshape(-1, 2)]
    for trace in result:
        ok = trace.ok()
        p = trace.path[ok]
        if len(p) > MAX_POINTS:
            p = p[:: len(p) // MAX_POINTS + 1]
        pts.append(p)
    return np.concatenate(pts)


def fit_view(surface, result, aspect: float, xlim=None, ylim=None, whole: bool = False):
    """``(xlim, ylim)`` for a map box of ``aspect`` (width / height in data-equal units)."""
    (dx0, dx1), (dy0, dy1) = surface.domain
    if whole or result is None:
        lo, hi = np.array([dx0, dy0]), np.array([dx1, dy1])
    else:
        pts = action_points(result)
        dom_lo, dom_hi = np.array([dx0, dy0]), np.array([dx1, dy1])
        # paths that leave the domain (divergence) do not drag the view with them
        inside = ((pts >= dom_lo) & (pts <= dom_hi)).all(1)
        pts = pts[inside] if inside.any() else pts[:1]
        lo, hi = pts.min(0), pts.max(0)
        minima = np.asarray(surface.minima, dtype=float).reshape(-1, 2)
        if len(minima):
            ends = np.concatenate([t.path[t.ok().sum(0) - 1, np.arange(t.n_starts)] for t in result])
            ends = ends[np.isfinite(ends).all(1)] if len(ends) else pts[-1:]
            d = np.hypot(*(minima[:, None, :] - ends[None]).transpose(2, 0, 1)).min(1)
            m = minima[int(np.argmin(d))]
            lo2, hi2 = np.minimum(lo, m), np.maximum(hi, m)
            area = max(float(np.prod(np.maximum(hi - lo, 1e-12))), 1e-24)
            if np.prod(np.maximum(hi2 - lo2, 1e-12)) <= MINIMUM_GROWTH * max(area, (MIN_SPAN ** 2)
                                                                             * (dx1 - dx0) * (dy1 - dy0)):
                lo, hi = lo2, hi2
        span = np.maximum(hi - lo, MIN_SPAN * np.array([dx1 - dx0, dy1 - dy0]))
        mid = (lo + hi) / 2
        pad = MARGIN * span.max()
        lo, hi = mid - span / 2 - pad, mid + span / 2 + pad
    lo, hi = _to_aspect(lo, hi, aspect)
    if xlim is not None:
        lo[0], hi[0] = xlim
    if ylim is not None:
        lo[1], hi[1] = ylim
    if (xlim is None) != (ylim is None):   # one given: the other follows the aspect around its centre
        lo, hi = _to_aspect(lo, hi, aspect, keep=0 if xlim is not None else 1)
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def _to_aspect(lo, hi, aspect: float, keep: int | None = None):
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    w, h = hi - lo
    mid = (lo + hi) / 2
    if keep == 0 or (keep is None and w / max(h, 1e-300) >= aspect):
        h = w / aspect
    else:
        w = h * aspect
    return mid - np.array([w, h]) / 2, mid + np.array([w, h]) / 2
