"""trajviz's seeded random streams: gradient noise and minibatch order, portable by design.

Every random number trajviz draws during a run is a pure function of
``(seed, stream, counter, index)``, computed with 32-bit integer hashing, so the
same numbers come out of numpy, of torch on any device, and of the JavaScript in
``trajviz explore``'s page, whatever the number of starts that share a batch. The
integer words and the minibatch order are bit-identical everywhere; Gaussian noise
goes through log, cos and sin, which numpy, torch and browsers may round
differently in the last bit (relative differences of ~1e-16). The spec, written once:

``mix32(x)`` is Chris Wellons' "lowbias32" on unsigned 32-bit words::

    x ^= x >> 16;  x = x * 0x7feb352d mod 2**32
    x ^= x >> 15;  x = x * 0x846ca68b mod 2**32
    x ^= x >> 16

``word(seed, stream, counter, index)`` folds the inputs in, one 32-bit word at a time::

    h = mix32(stream ^ 0x9E3779B9)
    h = mix32(h ^ (seed mod 2**32));  h = mix32(h ^ (seed >> 32))
    h = mix32(h ^ counter);           h = mix32(h ^ index)

``uniform = (word + 0.5) / 2**32``, in (0, 1), never 0 or 1.

* **Gradient noise** (stream 1): at gradient evaluation ``t`` (0-based: ``t`` is the
  step the gradient is taken at), start ``i`` gets the Box-Muller pair of
  ``u1 = uniform(seed, 1, t, 2i)`` and ``u2 = uniform(seed, 1, t, 2i + 1)``:
  ``r = sqrt(-2 log u1)``, ``noise = (r cos(2 pi u2), r sin(2 pi u2))`` (float64), times
  the noise scale. Every method (and every sweep cell) sees the same noise at the
  same start and step.
* **Minibatches** (stream 2): data are visited in epochs, each a permutation of the
  ``n`` rows: rows sorted by ``word(seed, 2, epoch, row)``, ties by row number.
  Gradient evaluation ``t`` takes batch ``k = t mod ceil(n / B)`` of epoch
  ``t div ceil(n / B)``: rows ``perm[k B : min((k + 1) B, n)]`` (the last batch of an
  epoch may be smaller, as with a DataLoader that keeps it). Every method sees the
  same batches in the same order.

>>> gaussian_noise(0, 0, 2).shape
(2, 2)
>>> sorted(epoch_permutation(3, 0, 5).tolist())
[0, 1, 2, 3, 4]
>>> batch_rows(3, 0, 5, 2).tolist() == epoch_permutation(3, 0, 5)[:2].tolist()
True
"""

from __future__ import annotations

import math

import numpy as np

NOISE = 1
BATCHES = 2
_GOLDEN = 0x9E3779B9
_MASK = 0xFFFFFFFF
_C1 = 0x7FEB352D
_C2 = 0x846CA68B


# ---- numpy (the reference) -------------------------------------------------------------------
def mix32(x) -> np.ndarray:
    """lowbias32 on uint32 arrays (wrapping arithmetic)."""
    x = np.asarray(x, dtype=np.uint64) & _MASK
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(_C1)) & _MASK
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(_C2)) & _MASK
    x ^= x >> np.uint64(16)
    return x


def word(seed: int, stream: int, counter, index) -> np.ndarray:
    """The hash word for each (counter, index) pair (broadcast), as uint64 holding 32 bits."""
    seed = int(seed)
    h = mix32(np.uint64((stream ^ _GOLDEN) & _MASK))
    h = mix32(h ^ np.uint64(seed & _MASK))
    h = mix32(h ^ np.uint64((seed >> 32) & _MASK))
    h = mix32(h ^ (np.asarray(counter, dtype=np.uint64) & _MASK))
    return mix32(h ^ (np.asarray(index, dtype=np.uint64) & _MASK))


def uniform(seed: int, stream: int, counter, index) -> np.ndarray:
    return (word(seed, stream, counter, index).astype(np.float64) + 0.5) / 2.0**32


def gaussian_noise(seed: int, step: int, n: int) -> np.ndarray:
    """(n, 2) standard normal noise for starts 0..n-1 at gradient evaluation ``step``."""
    i = np.arange(n, dtype=np.uint64)
    u1 = uniform(seed, NOISE, step, 2 * i)
    u2 = uniform(seed, NOISE, step, 2 * i + 1)
    r = np.sqrt(-2.0 * np.log(u1))
    theta = 2.0 * math.pi * u2
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which epoch ``epoch`` visits rows 0..n-1."""
    keys = word(seed, BATCHES, epoch, np.arange(n, dtype=np.uint64)).astype(np.int64)
    return np.argsort(keys, kind="stable")


def batches_per_epoch(n: int, batch_size: int) -> int:
    return -(-int(n) // int(batch_size))


def batch_rows(seed: int, step: int, n: int, batch_size: int) -> np.ndarray:
    """The data rows of the minibatch at gradient evaluation ``step``."""
    per = batches_per_epoch(n, batch_size)
    epoch, k = divmod(int(step), per)
    perm = epoch_permutation(seed, epoch, n)
    return perm[k * batch_size: min((k + 1) * batch_size, n)]


# ---- torch (the engine's, on the device, no host round trip) ----------------------------------------
def _mul32_torch(x, c: int):
    """x * c mod 2**32 for int64 tensors holding 32-bit words, with no int64 overflow."""
    lo, hi = c & 0xFFFF, c >> 16
    return (x * lo + (((x * hi) & 0xFFFF) << 16)) & _MASK


def mix32_torch(x):
    x = x ^ (x >> 16)
    x = _mul32_torch(x, _C1)
    x = x ^ (x >> 15)
    x = _mul32_torch(x, _C2)
    return x ^ (x >> 16)


def _prefix(seed: int, stream: int) -> int:
    h = int(mix32(np.uint64((stream ^ _GOLDEN) & _MASK)))
    h = int(mix32(np.uint64(h ^ (int(seed) & _MASK))))
    return int(mix32(np.uint64(h ^ ((int(seed) >> 32) & _MASK))))


class TorchStreams:
    """The two streams for one seed, on one device: noise per step and minibatch rows per step.

    The seed's part of the hash is folded once; each call costs a few integer ops per
    element on the device.
    """

    def __init__(self, seed: int, device, dtype):
        import torch

        self.seed = int(seed)
        self.device, self.dtype = device, dtype
        self._noise_prefix = _prefix(seed, NOISE)
        self._batch_prefix = _prefix(seed, BATCHES)
        self._index = {}
        self._perm_epoch = None
        self._perm = None
        self._torch = torch

    def _arange(self, n: int):
        if n not in self._index:
            self._index[n] = self._torch.arange(n, dtype=self._torch.int64, device=self.device)
        return self._index[n]

    def _words(self, prefix: int, counter: int, index):
        h = mix32(np.uint64(prefix ^ (int(counter) & _MASK)))
        return mix32_torch(index ^ int(h))

    def noise(self, step: int, n: int):
        """(n, 2) standard normal noise at gradient evaluation ``step`` (float64, then the run's dtype)."""
        torch = self._torch
        i = self._arange(2 * n)
        w = self._words(self._noise_prefix, step, i).to(torch.float64)
        u = (w + 0.5) / 2.0**32
        u1, u2 = u[0::2], u[1::2]
        r = torch.sqrt(-2.0 * torch.log(u1))
        theta = (2.0 * math.pi) * u2
        return torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1).to(self.dtype)

    def batch(self, step: int, n: int, batch_size: int):
        """The minibatch rows (int64 tensor) at gradient evaluation ``step``."""
        torch = self._torch
        per = batches_per_epoch(n, batch_size)
        epoch, k = divmod(int(step), per)
        if self._perm_epoch != epoch:
            keys = self._words(self._batch_prefix, epoch, self._arange(n))
            self._perm = torch.argsort(keys, stable=True)
            self._perm_epoch = epoch
        return self._perm[k * batch_size: min((k + 1) * batch_size, n)]


__all__ = ["mix32", "word", "uniform", "gaussian_noise", "epoch_permutation", "batches_per_epoch",
           "batch_rows", "TorchStreams", "NOISE", "BATCHES"]
