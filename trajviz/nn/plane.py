"""Planes through parameter space, and honest projections onto them.

A plane is ``theta(a, b) = center + a * d1 + b * d2`` with flat vectors (P,) in
the order of ``model.parameters()``.

* **PCA** (:func:`pca_plane`, the default): the first two principal directions
  of every method's recorded parameter vectors together, taken about the
  common start (the rows of the matrix are ``theta_t - theta_0``; the start is
  the origin, not the mean, so every path starts at (0, 0) exactly on the
  plane). ``explained`` is the share of the total squared movement
  ``sum ||theta_t - theta_0||^2`` that each direction holds (sigma_i^2 / sum
  sigma^2). The sign of each direction is chosen so that the paths' end points
  have a positive coordinate sum. This is Li et al. (2018), Section 7, with
  one plane shared by all methods (each method's own plane would make them
  incomparable) and the start, which they share, as the origin.
* **random** (:func:`random_plane`): two seeded Gaussian directions,
  filter-normalised as in Li et al. (2018): for every parameter with two or
  more dimensions, each filter (slice along the first dimension: a row of a
  Linear weight, an output channel of a Conv weight) of the direction is
  rescaled to the norm of the same filter of the weights at the plane's
  center. Parameters with one dimension or none (biases, normalisation
  scales) get a zero direction by default (Li et al.'s ``--xignore biasbn``,
  used in their figures), or with ``bias="copy"`` the weights themselves
  (their other option). The two directions are not orthogonalised (they are
  nearly orthogonal in high dimension; Li et al. do not either), so plane
  coordinates are least-squares coordinates.

Projection (:meth:`Plane.project`): for every recorded vector, its plane
coordinates (a, b) (least squares; for the PCA plane this is the orthogonal
projection), its distance from the plane, and that distance divided by its
distance from the start: 0 means the point is drawn where it is; 1 means all
of its movement is off the plane and its position on the picture means little.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import TrajvizError

# Warn when the plane holds less than this share of the movement, or a path ends further off
# the plane than this fraction of its distance from the start (sqrt(1/2): more off than on).
MIN_CAPTURED = 0.5
MAX_END_RATIO = float(np.sqrt(0.5))
# Up to this many entries (recorded vectors x parameters) the PCA is an exact SVD.
EXACT_SVD = 50_000_000


@dataclass(frozen=True)
class Projection:
    """Vectors projected onto a plane: coords (..., 2), off-plane distance and its ratio (...)."""

    coords: np.ndarray
    off: np.ndarray
    distance: np.ndarray
    ratio: np.ndarray


@dataclass
class Plane:
    """A plane through parameter space, and the loss on it.

    Attributes:
        center: (P,) the point at (0, 0).
        directions: (2, P) d1 and d2.
        kind: ``"pca"`` or ``"random"``.
        explained: (2,) the share of the movement (sum of squared distances from the
            start over all recorded vectors) along each of the plane's two
            (orthonormalised) axes; for the PCA plane the variance fractions.
        origin: (P,) the common start, from which movement is measured.
        description: one line for subtitles (what the plane is, how much it holds).
    """

    center: np.ndarray
    directions: np.ndarray
    kind: str
    explained: np.ndarray
    origin: np.ndarray
    description: str = ""
    evaluator: Any = field(default=None, repr=False)
    center_name: str = "start"
    seed: int | None = None

    @property
    def n_params(self) -> int:
        return int(self.center.shape[0])

    @property
    def gram(self) -> np.ndarray:
        return self.directions @ self.directions.T

    def point(self, a, b) -> np.ndarray:
        """theta = center + a d1 + b d2 for scalars or arrays a, b: (..., P)."""
        a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        return self.center + a[..., None] * self.directions[0] + b[..., None] * self.directions[1]

    def project(self, thetas) -> Projection:
        """Plane coordinates, off-plane distance and its ratio to the distance from the start."""
        thetas = np.asarray(thetas, dtype=np.float64)
        rel = thetas - self.center
        coords = (rel @ self.directions.T) @ np.linalg.inv(self.gram).T  # least squares (exact if orthonormal)
        residual = rel - coords @ self.directions
        off = np.linalg.norm(residual, axis=-1)
        dist = np.linalg.norm(thetas - self.origin, axis=-1)
        scale = max(float(np.linalg.norm(self.origin)), 1.0)
        tiny = 1e-12 * scale
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(dist > tiny, off / np.where(dist > tiny, dist, 1.0),
                             np.where(off > tiny, np.inf, 0.0))
        ratio = np.where(np.isfinite(thetas).all(-1), ratio, np.nan)
        return Projection(coords=coords, off=off, distance=dist, ratio=ratio)

    def coords(self, thetas) -> np.ndarray:
        return self.project(thetas).coords

    def loss_at(self, a, b):
        """The full-data loss at theta = center + a d1 + b d2 (float for scalars, else an array)."""
        if self.evaluator is None:
            raise TrajvizError("this plane has no model to evaluate (it was loaded from a file)")
        out = self.evaluator.plane_losses(self.center, self.directions, a, b)
        return float(out) if out.ndim == 0 else out

    def grid(self, x, y) -> np.ndarray:
        """Loss on the grid x (columns) by y (rows): shape (len(y), len(x)), float64."""
        X, Y = np.meshgrid(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), indexing="xy")
        return self.evaluator.plane_losses(self.center, self.directions, X, Y)

    def captured(self, thetas) -> float:
        """Share of the squared movement from the start (over ``thetas``) along the plane's directions.

        For a plane through the start (PCA, or random centred on the start) this is
        ``1 - sum off^2 / sum dist^2``; for the PCA plane it is ``explained.sum()``.
        """
        return float(axis_shares(self.directions, thetas, self.origin).sum())


def _movement(vectors: np.ndarray, origin: np.ndarray) -> np.ndarray:
    rows = np.asarray(vectors, dtype=np.float64).reshape(-1, origin.shape[0])
    rows = rows[np.isfinite(rows).all(1)]
    return rows - origin


def axis_shares(directions: np.ndarray, vectors: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Share of the squared movement from ``origin`` along each orthonormalised axis of the plane."""
    delta = _movement(vectors, origin)
    total = float(np.sum(delta**2))
    if total == 0:
        return np.zeros(2)
    q, _ = np.linalg.qr(directions.T)  # (P, 2), orthonormal, spans d1 (first) then d2
    return np.sum((delta @ q) ** 2, axis=0) / total


def pca_plane(vectors, origin) -> Plane:
    """The PCA plane of all recorded vectors (M, P) about the common start ``origin`` (P,)."""
    origin = np.asarray(origin, dtype=np.float64)
    delta = _movement(vectors, origin)
    P = origin.shape[0]
    if P < 2:
        raise TrajvizError(f"a plane needs at least 2 parameters; this model has {P}")
    if len(delta) == 0 or not np.any(delta):
        raise TrajvizError("no method moved from the start: there is no plane of movement to draw")
    total = float(np.sum(delta**2))
    if delta.size <= EXACT_SVD:
        _, s, vt = np.linalg.svd(delta, full_matrices=False)
    else:
        # large (many steps x many parameters): the top directions by randomized SVD (Halko et al.),
        # which torch computes without forming a Gram matrix; explained stays exact in its denominator
        import torch

        _, st, vt_t = torch.svd_lowrank(torch.as_tensor(delta), q=8, niter=8)
        s, vt = st.numpy(), vt_t.T.numpy()
    dirs = np.zeros((2, P))
    k = min(2, vt.shape[0])
    dirs[:k] = vt[:k]
    explained = np.zeros(2)
    explained[:k] = s[:k] ** 2 / total
    if k < 2 or s[1] <= 1e-12 * s[0]:
        # all movement on one line: any second direction orthogonal to it holds nothing
        basis = np.linalg.qr(np.stack([dirs[0], np.eye(P)[int(np.argmin(np.abs(dirs[0])))]], 1))[0]
        dirs[1] = basis[:, 1]
        explained[1] = 0.0 if k < 2 else explained[1]
    # a deterministic sign: the end points' coordinates sum to a positive number on each axis
    ends = delta @ dirs.T
    for i in range(2):
        if ends[:, i].sum() < 0:
            dirs[i] = -dirs[i]
    return Plane(center=origin.copy(), directions=dirs, kind="pca", explained=explained, origin=origin.copy())


def filter_normalized_direction(weights, gen, bias: str = "zero"):
    """One random direction shaped like ``weights`` (a list of tensors), filter-normalised.

    Each filter ``d[i]`` (slice along dim 0) of a parameter with >= 2 dimensions gets the
    norm of ``w[i]``; parameters with <= 1 dimension are zero (``bias="zero"``) or copies
    of the weights (``bias="copy"``), as in Li et al.'s ``normalize_directions_for_weights``.
    """
    import torch

    if bias not in ("zero", "copy"):
        raise TrajvizError(f"unknown bias handling '{bias}' (use zero or copy)")
    out = []
    for w in weights:
        w = w.detach().to(torch.float64).cpu()
        d = torch.randn(w.shape, generator=gen, dtype=torch.float64)
        if w.dim() <= 1:
            d = torch.zeros_like(w) if bias == "zero" else w.clone()
        else:
            dn = d.reshape(d.shape[0], -1).norm(dim=1)
            wn = w.reshape(w.shape[0], -1).norm(dim=1)
            # exactly the filter's norm (Li et al. add 1e-10 to dn, which is off by ~1e-7 when a
            # one-element filter draws a small number); a zero draw stays zero
            scale = torch.where(dn > 0, wn / torch.where(dn > 0, dn, torch.ones_like(dn)), torch.zeros_like(dn))
            d = d * scale.reshape(-1, *([1] * (d.dim() - 1)))
        out.append(d.reshape(-1))
    return torch.cat(out).numpy()


def random_plane(center, shapes, vectors, origin, seed: int = 0, bias: str = "zero") -> Plane:
    """Two filter-normalised random directions (seeded) through ``center`` (P,)."""
    import torch

    from .scenarios import sub_seed

    center = np.asarray(center, dtype=np.float64)
    weights, off = [], 0
    for shape in shapes:
        n = int(np.prod(shape)) if len(shape) else 1
        weights.append(torch.as_tensor(center[off:off + n]).reshape(shape))
        off += n
    gen = torch.Generator().manual_seed(sub_seed(seed, 3))
    dirs = np.stack([filter_normalized_direction(weights, gen, bias) for _ in range(2)])
    if np.linalg.matrix_rank(dirs) < 2:
        raise TrajvizError("the random directions are degenerate (all filters of the center are zero?): "
                           "use --plane pca or another center")
    origin = np.asarray(origin, dtype=np.float64)
    return Plane(center=center.copy(), directions=dirs, kind="random",
                 explained=axis_shares(dirs, vectors, origin), origin=origin.copy(), seed=seed)


__all__ = ["Plane", "Projection", "pca_plane", "random_plane", "filter_normalized_direction", "axis_shares",
           "MIN_CAPTURED", "MAX_END_RATIO"]
