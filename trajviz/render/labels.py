"""Direct labels: each method's name next to its head, pushed apart so none overlap.

Placement works in pixels on one frame at a time. Each label tries places around
its head on rings of growing radius (right first, then the other directions); a
place is taken if the label's box stays inside the map, overlaps no label already
placed and covers no head (every head is an obstacle, not only its own). Crowded
labels go first. A label that had to move away from its head gets a thin leader
line. The previous frame's place is preferred, so labels do not jitter.

>>> centers, far = place([(100, 100), (100, 100)], [(40, 16), (40, 16)], (0, 0, 400, 300))
>>> boxes_overlap(centers, [(40, 16), (40, 16)])
False
"""

from __future__ import annotations

import math

import numpy as np

HEAD_RADIUS = 8.0         # pixels kept free around every head
GAP = 4.0                 # pixels between a label and its head on the first ring
STAY = 90.0               # a label stays where it was while its box is this close to its head
SPARE = 14.0              # a label moved to a new place keeps this much more room from other heads
DIRECTIONS = (0, 30, -30, 60, -60, 90, -90, 120, -120, 150, -150, 180)   # degrees, right first
RINGS = (1.0, 1.8, 2.8, 4.0, 5.5, 7.5)


def _box(center, size):
    (cx, cy), (w, h) = center, size
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place(heads, sizes, bounds, prev=None, obstacles=()):
    """Centres (L, 2) for labels of ``sizes`` (w, h) anchored at ``heads`` (pixels, y up),
    inside ``bounds`` (x0, y0, x1, y1), and which of them sit away from their head (need a
    leader line). ``prev``: last frame's centres (or None); ``obstacles``: more points to keep free.
    """
    heads = np.asarray(heads, dtype=float).reshape(-1, 2)
    sizes = np.asarray(sizes, dtype=float).reshape(-1, 2)
    n = len(heads)
    pts = [heads[np.isfinite(heads).all(1)]]
    if len(obstacles):
        pts.append(np.asarray(obstacles, dtype=float).reshape(-1, 2))
    points = np.concatenate(pts) if pts else np.zeros((0, 2))
    points = points[np.isfinite(points).all(1)]
    reach = 3 * sizes[:, 0].max() if n else 0.0
    fin = np.isfinite(heads).all(1)
    d = np.hypot(*(heads[:, None, :] - heads[None, :, :]).transpose(2, 0, 1))
    crowd = np.where(fin[None, :] & fin[:, None], d < reach, False).sum(1)
    order = sorted(range(n), key=lambda i: (-crowd[i], i))
    centers = np.full((n, 2), np.nan)
    far = np.zeros(n, dtype=bool)
    placed = np.zeros((0, 4))
    bx0, by0, bx1, by1 = bounds
    ang = np.radians(np.asarray(DIRECTIONS, dtype=float))
    ux, uy = np.cos(ang), np.sin(ang)
    rings = np.asarray(RINGS)
    for i in order:
        if not fin[i]:
            continue
        (hx, hy), (w, ht) = heads[i], sizes[i]
        if prev is not None and np.isfinite(prev[i]).all():
            # labels that sit still read better (and cost nothing in the next frame): keep last
            # frame's place while its box stays near the head and free (checked alone first:
            # most labels in most frames stay)
            p = prev[i]
            gap = math.hypot(max(abs(p[0] - hx) - w / 2, 0.0), max(abs(p[1] - hy) - ht / 2, 0.0))
            if gap <= STAY and _free(p[:1], p[1:], w, ht, bounds, placed, points)[0]:
                centers[i] = p
                far[i] = gap > HEAD_RADIUS + GAP + 3
                placed = np.vstack([placed, [p[0] - w / 2, p[1] - ht / 2, p[0] + w / 2, p[1] + ht / 2]])
                continue
        with np.errstate(divide="ignore"):
            edge = np.minimum(np.where(np.abs(ux) > 1e-9, w / 2 / np.abs(ux), np.inf),
                              np.where(np.abs(uy) > 1e-9, ht / 2 / np.abs(uy), np.inf))
        dist = (HEAD_RADIUS + GAP) * rings[:, None] + edge[None, :]            # (rings, dirs)
        cx = (hx + ux[None, :] * dist).ravel()
        cy = (hy + uy[None, :] * dist).ravel()
        ring = np.repeat(np.arange(len(rings)), len(ang))
        ok = _free(cx, cy, w, ht, bounds, placed, points)
        if ok.any():
            # a new place with room to spare (heads creeping close would soon push it again)
            roomy = ok & (_clearance(cx, cy, w, ht, points) >= HEAD_RADIUS + SPARE)
            j = int(np.argmax(roomy)) if roomy.any() else int(np.argmax(ok))
            center, r = (cx[j], cy[j]), ring[j]
        else:
            # nowhere free: beside the head, inside the map (overlaps allowed)
            center = (min(max(hx + HEAD_RADIUS + GAP + w / 2, bx0 + w / 2), bx1 - w / 2),
                      min(max(hy, by0 + ht / 2), by1 - ht / 2))
            r = len(RINGS)
        centers[i] = center
        far[i] = r > 0
        placed = np.vstack([placed, [center[0] - w / 2, center[1] - ht / 2, center[0] + w / 2, center[1] + ht / 2]])
    return centers, far


def _clearance(cx, cy, w, h, points):
    """Each candidate box's distance to the nearest point."""
    if not len(points):
        return np.full(len(cx), np.inf)
    x0, x1, y0, y1 = cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2
    px, py = points[:, 0][None, :], points[:, 1][None, :]
    dx = np.maximum(np.maximum(x0[:, None] - px, 0.0), px - x1[:, None])
    dy = np.maximum(np.maximum(y0[:, None] - py, 0.0), py - y1[:, None])
    return np.sqrt(dx * dx + dy * dy).min(1)


def _free(cx, cy, w, h, bounds, placed, points):
    """Which candidate centres give a box inside ``bounds``, clear of the placed boxes and the points."""
    bx0, by0, bx1, by1 = bounds
    x0, x1, y0, y1 = cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2
    ok = (x0 >= bx0) & (y0 >= by0) & (x1 <= bx1) & (y1 <= by1)
    if len(placed):
        hit = ((x0[:, None] < placed[None, :, 2]) & (placed[None, :, 0] < x1[:, None])
               & (y0[:, None] < placed[None, :, 3]) & (placed[None, :, 1] < y1[:, None])).any(1)
        ok &= ~hit
    if len(points):
        px, py = points[:, 0][None, :], points[:, 1][None, :]
        dx = np.maximum(np.maximum(x0[:, None] - px, 0.0), px - x1[:, None])
        dy = np.maximum(np.maximum(y0[:, None] - py, 0.0), py - y1[:, None])
        ok &= ~((dx * dx + dy * dy) < HEAD_RADIUS ** 2).any(1)
    return ok


def boxes_overlap(centers, sizes) -> bool:
    boxes = [_box(c, s) for c, s in zip(np.asarray(centers), np.asarray(sizes)) if np.isfinite(c).all()]
    return any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def _spread_from(ys, heights, lo, hi, prev, stay):
    """Labels still within ``stay`` of where they belong keep last frame's place (in order of how
    close they are); the others go to the free place nearest to where they belong; nobody else
    moves. If no free place is left, everything is spread afresh."""
    n = len(ys)
    out = np.full(n, np.nan)
    taken: list[tuple[float, float]] = []

    def free(y, h):
        return lo + h / 2 - 1e-9 <= y <= hi - h / 2 + 1e-9 and all(abs(y - c) >= (h + hh) / 2 - 1e-9 for c, hh in taken)

    keep = [i for i in np.argsort(np.abs(prev - ys)) if np.isfinite(prev[i]) and abs(prev[i] - ys[i]) <= stay]
    for i in keep:
        if free(prev[i], heights[i]):
            out[i] = prev[i]
            taken.append((prev[i], heights[i]))
    for i in np.argsort(ys):
        if np.isfinite(out[i]):
            continue
        h = heights[i]
        best = None
        for d in np.arange(0, hi - lo + 1, 1.0):
            for y in (ys[i] - d, ys[i] + d):
                if free(y, h):
                    best = y
                    break
            if best is not None:
                break
        if best is None:
            return spread(ys, heights, lo, hi)
        out[i] = best
        taken.append((best, h))
    return out


def spread(ys, heights, lo: float, hi: float, prev=None, stay: float = 6.0) -> np.ndarray:
    """Vertical centres near ``ys`` for boxes of ``heights`` stacked in [lo, hi] without overlap
    (the labels at the ends of the loss curves). With ``prev`` (last frame's centres), labels
    whose place is within ``stay`` pixels of where they belong keep it, if that leaves no overlap."""
    if prev is not None:
        return _spread_from(np.asarray(ys, dtype=float), np.asarray(heights, dtype=float), lo, hi,
                            np.asarray(prev, dtype=float), stay)
    ys = np.asarray(ys, dtype=float)
    heights = np.asarray(heights, dtype=float)
    order = np.argsort(ys)
    out = np.empty_like(ys)
    pos = []
    for i in order:
        pos.append([min(max(ys[i], lo + heights[i] / 2), hi - heights[i] / 2), heights[i]])
    # push up to remove overlaps, then down from the top, then centre the clusters
    for _ in range(len(pos) * 2):
        moved = False
        for j in range(1, len(pos)):
            need = (pos[j - 1][1] + pos[j][1]) / 2
            if pos[j][0] - pos[j - 1][0] < need - 1e-9:
                shift = (need - (pos[j][0] - pos[j - 1][0])) / 2
                pos[j - 1][0] -= shift
                pos[j][0] += shift
                moved = True
        for j in range(len(pos)):
            pos[j][0] = min(max(pos[j][0], lo + pos[j][1] / 2), hi - pos[j][1] / 2)
        if not moved:
            break
    for j in range(1, len(pos)):   # a last pass bottom-up guarantees no overlap
        need = (pos[j - 1][1] + pos[j][1]) / 2
        pos[j][0] = max(pos[j][0], pos[j - 1][0] + need)
    for k, i in enumerate(order):
        out[i] = pos[k][0]
    return out
