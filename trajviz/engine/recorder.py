"""The recorder: the recorded steps of every row, gathered on the device, copied to the host per chunk.

Buffers hold ``chunk`` recorded steps of every row; a full chunk is copied to host
numpy arrays in one go, so nothing is read back per step and memory grows only
with the number of recorded steps.
"""

from __future__ import annotations

import numpy as np

CHUNK_BYTES = 32 * 2**20
SHAPES = {"path": 2, "loss": 0, "grad": 2, "velocity": 2, "step_size": 2}
ALL_KEYS = ("path", "loss", "grad", "velocity", "step_size")


def floats_per_row(keys) -> int:
    return sum(max(SHAPES[k], 1) for k in keys)


class Recorder:
    def __init__(self, keys, n_records: int, n_rows: int, dtype, device):
        import torch

        self.keys = tuple(keys)
        np_dt = np.float32 if dtype == torch.float32 else np.float64
        shape = {k: ((n_rows, 2) if SHAPES[k] else (n_rows,)) for k in self.keys}
        self.host = {k: np.full((n_records,) + shape[k], np.nan, np_dt) for k in self.keys}
        per_record = floats_per_row(self.keys) * n_rows * np.dtype(np_dt).itemsize
        self.chunk = max(1, min(n_records, 256, CHUNK_BYTES // max(per_record, 1)))
        self.buf = {k: torch.full((self.chunk,) + shape[k], float("nan"), dtype=dtype, device=device)
                    for k in self.keys}
        self.filled = 0
        self.written = 0
        self.n_records = n_records

    def take(self, key: str, value, rows: slice | None = None) -> None:
        if key in self.buf:
            if rows is None:
                self.buf[key][self.filled].copy_(value)
            else:
                self.buf[key][self.filled, rows].copy_(value)

    def next(self) -> bool:
        """Close the current record; True when a chunk went to the host."""
        self.filled += 1
        if self.filled == self.chunk:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        if self.filled:
            for k in self.keys:
                self.host[k][self.written:self.written + self.filled] = self.buf[k][:self.filled].cpu().numpy()
                if k in ("velocity", "step_size"):
                    self.buf[k][:self.filled].fill_(float("nan"))
            self.written += self.filled
            self.filled = 0
