"""The loss of a network at many parameter points at once.

A parameter point is a flat vector theta (P,) in the order of
``model.parameters()``. :class:`Evaluator` runs the network at a chunk of K
points in one call, ``vmap(functional_call(model, theta_k, X))`` over the whole
data set, in evaluation mode (layers that keep running statistics use them,
dropout is off), on the model's device and in its dtype.

Chunks are sized to a memory budget from the bytes one point needs (measured
once: the outputs of every module on the whole data set). The CPU default
(12 MiB: 35 points of the ``mlp`` scenario) was the fastest of 4-64 MiB with
one thread on 2 shared cores, interleaved runs: smaller chunks pay vmap's
per-call overhead (~0.25 ms), larger ones stream activations through memory
and pay page faults on fresh allocations. With two intra-op threads on a busy
machine every chunk size was several times slower (each operation waits for
the second thread to be scheduled): there, one thread is the better choice
(``OMP_NUM_THREADS=1`` or ``torch.set_num_threads(1)``). On a GPU the budget is 1 GiB.

If one point alone needs more than the budget, the data rows are split too and
the chunk losses are combined as a weighted mean of row slices (checked once
against the whole data set: a loss that is not a mean over rows falls back to
whole-data evaluation). If the loss or the model cannot run under ``vmap``
(``.item()`` inside, data-dependent control flow), evaluation falls back to a
point-by-point loop with a warning.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import numpy as np

# Default memory budget per chunk, bytes (activations of all points in one call).
CPU_BUDGET = 12 * 2**20
GPU_BUDGET = 1 * 2**30
MAX_CHUNK = 8192


class FallbackWarning(UserWarning):
    """The batched evaluator could not run the model under vmap; a slower loop is used."""


@dataclass(frozen=True)
class Layout:
    """Where each parameter sits in the flat vector (the order of ``model.parameters()``)."""

    names: tuple
    shapes: tuple
    offsets: tuple
    numels: tuple

    @property
    def size(self) -> int:
        return int(sum(self.numels))

    @classmethod
    def of(cls, model) -> Layout:
        names, shapes, offsets, numels = [], [], [], []
        seen = set()
        off = 0
        for name, p in model.named_parameters():
            if id(p) in seen:  # tied weights appear once in parameters()
                continue
            seen.add(id(p))
            names.append(name)
            shapes.append(tuple(p.shape))
            offsets.append(off)
            numels.append(p.numel())
            off += p.numel()
        return cls(tuple(names), tuple(shapes), tuple(offsets), tuple(numels))

    def unflatten(self, flat) -> dict:
        """Views of a flat vector (..., P) as a {name: (..., *shape)} dict."""
        lead = flat.shape[:-1]
        return {n: flat[..., o:o + k].reshape(*lead, *s)
                for n, s, o, k in zip(self.names, self.shapes, self.offsets, self.numels)}


def flatten(model):
    """The model's parameters as one flat detached vector (P,), in ``model.parameters()`` order."""
    import torch

    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def load_flat(model, flat) -> None:
    """Copy a flat vector (P,) into the model's parameters, in place."""
    import torch

    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(flat.to(next(model.parameters())), model.parameters())


class Evaluator:
    """The full-data loss of ``model`` at many flat parameter vectors, in chunks.

    >>> import torch
    >>> model = torch.nn.Linear(1, 1, dtype=torch.float64)
    >>> X = torch.linspace(-1, 1, 5, dtype=torch.float64)[:, None]
    >>> ev = Evaluator(model, torch.nn.functional.mse_loss, X, 2 * X)
    >>> ev.losses(torch.tensor([[2.0, 0.0], [0.0, 0.0]], dtype=torch.float64)).tolist()
    [0.0, 2.0]
    """

    def __init__(self, model, loss_fn, X, Y, *, budget: int | None = None, chunk: int | None = None):
        import torch

        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.loss_fn = loss_fn
        self.X, self.Y = X, Y
        self.layout = Layout.of(self.model)
        # functional_call re-ties shared weights by default; without ties, skipping that check is cheaper
        self._tied = len(list(self.model.named_parameters(remove_duplicate=False))) != len(self.layout.names)
        first = next(self.model.parameters())
        self.device, self.dtype = first.device, first.dtype
        self.n_rows = len(X)
        if budget is None:
            budget = GPU_BUDGET if self.device.type in ("cuda", "mps") else CPU_BUDGET
        self.budget = int(budget)
        self.point_bytes = self._bytes_per_point()
        self._rows = self.n_rows  # rows per call; fewer only when one point exceeds the budget
        if chunk is None:
            chunk = max(1, min(MAX_CHUNK, self.budget // max(1, self.point_bytes)))
            if self.point_bytes > self.budget and self.n_rows > 1:
                self._rows = max(1, int(self.n_rows * self.budget / self.point_bytes))
        self.chunk = int(chunk)
        self.batched = True
        self._fn = None
        self._torch = torch

    # ---- setup -------------------------------------------------------------------------------
    def _bytes_per_point(self) -> int:
        """Bytes of every module's output on the whole data set, plus the parameters (one point)."""
        import torch

        total = [0]

        def hook(module, inputs, output):
            for t in (output if isinstance(output, (tuple, list)) else (output,)):
                if isinstance(t, torch.Tensor):
                    total[0] += t.numel() * t.element_size()

        handles = [m.register_forward_hook(hook) for m in self.model.modules()]
        try:
            with torch.no_grad():
                out = self.model(self.X)
                self.loss_fn(out, self.Y)
        finally:
            for h in handles:
                h.remove()
        # the loss's own temporaries: about two tensors the size of the output
        total[0] += 2 * out.numel() * out.element_size()
        return int(total[0] + self.layout.size * self.dtype.itemsize)

    def _single(self, flat, X, Y):
        from torch.func import functional_call

        return self.loss_fn(functional_call(self.model, self.layout.unflatten(flat), (X,), tie_weights=self._tied), Y)

    def _vmapped(self):
        if self._fn is None:
            from torch.func import vmap

            self._fn = vmap(self._single, in_dims=(0, None, None))
        return self._fn

    # ---- evaluation ---------------------------------------------------------------------------
    def _eval_chunk(self, thetas):
        """(k, P) tensor on the device -> (k,) losses (tensor)."""
        torch = self._torch
        if self.batched:
            try:
                return self._rows_split(self._vmapped(), thetas)
            except Exception as exc:  # noqa: BLE001 - any vmap failure: fall back, say why once
                self.batched = False
                warnings.warn(f"the model or loss cannot run under torch.func.vmap ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}); evaluating point by point",
                              FallbackWarning, stacklevel=3)
        out = torch.empty(len(thetas), dtype=self.dtype, device=self.device)
        flat_model = self.model
        for i, theta in enumerate(thetas):
            load_flat(flat_model, theta)
            out[i] = self.loss_fn(flat_model(self.X), self.Y)
        return out

    def _rows_split(self, fn, thetas):
        if self._rows >= self.n_rows:
            return fn(thetas, self.X, self.Y)
        total = 0
        for lo in range(0, self.n_rows, self._rows):
            hi = min(lo + self._rows, self.n_rows)
            total = total + fn(thetas, self.X[lo:hi], self.Y[lo:hi]) * ((hi - lo) / self.n_rows)
        return total

    def _check_row_split(self, theta) -> None:
        """Row slices are combined as a weighted mean: check once that the loss is one."""
        if self._rows >= self.n_rows or getattr(self, "_row_checked", False):
            return
        self._row_checked = True
        torch = self._torch
        split = self._rows_split(self._vmapped(), theta[None])[0]
        full = self._single(theta, self.X, self.Y)
        if not torch.allclose(split, full, rtol=1e-5, atol=1e-8):
            self._rows = self.n_rows  # not a mean over rows: evaluate the whole data set per call

    def losses(self, thetas) -> np.ndarray:
        """Full-data loss at each flat vector of ``thetas`` (K, P): (K,) float64 numpy."""
        torch = self._torch
        thetas = torch.as_tensor(thetas)
        if thetas.ndim == 1:
            thetas = thetas[None]
        thetas = thetas.to(device=self.device, dtype=self.dtype)
        out = np.empty(len(thetas), dtype=np.float64)
        with torch.inference_mode():
            if len(thetas) and self.batched:
                self._check_row_split(thetas[0])
            for lo in range(0, len(thetas), self.chunk):
                hi = min(lo + self.chunk, len(thetas))
                out[lo:hi] = self._eval_chunk(thetas[lo:hi]).double().cpu().numpy()
        return out

    def plane_losses(self, center, directions, a, b) -> np.ndarray:
        """Loss at ``center + a * d1 + b * d2`` for arrays a, b (broadcast): float64, shape of a + b.

        Points are built chunk by chunk on the device: a 101 x 101 grid of a large
        network never holds all its parameter vectors at once.
        """
        torch = self._torch
        a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        shape = a.shape
        a_flat, b_flat = a.reshape(-1), b.reshape(-1)
        c = torch.as_tensor(np.asarray(center, dtype=np.float64), device=self.device).to(self.dtype)
        d = torch.as_tensor(np.asarray(directions, dtype=np.float64), device=self.device).to(self.dtype)
        out = np.full(a_flat.shape, np.nan)
        finite = np.isfinite(a_flat) & np.isfinite(b_flat)
        idx = np.flatnonzero(finite)
        with torch.inference_mode():
            if len(idx) and self.batched:
                self._check_row_split(c)
            for lo in range(0, len(idx), self.chunk):
                sel = idx[lo:lo + self.chunk]
                ab = torch.as_tensor(np.stack([a_flat[sel], b_flat[sel]], 1), device=self.device).to(self.dtype)
                thetas = torch.addmm(c, ab, d)
                out[sel] = self._eval_chunk(thetas).double().cpu().numpy()
        return out.reshape(shape)


__all__ = ["Evaluator", "Layout", "flatten", "load_flat", "FallbackWarning", "CPU_BUDGET", "GPU_BUDGET"]
