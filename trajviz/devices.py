"""Choosing the torch device and dtype (``auto`` = cuda, then mps, else cpu)."""

from __future__ import annotations

import re

from .errors import TrajvizError


def resolve_device(device="auto"):
    """Return a ``torch.device``; an unknown or unavailable device is a TrajvizError."""
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    text = str(device or "auto").strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    m = re.fullmatch(r"(cpu|cuda|mps)(?::(\d+))?", text)
    if not m:
        raise TrajvizError(f"unknown device '{device}' (use auto, cpu, cuda, cuda:N or mps)")
    kind, index = m.group(1), m.group(2)
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise TrajvizError(f"device '{device}' is not available: torch sees no CUDA GPU here")
        if index is not None and int(index) >= torch.cuda.device_count():
            raise TrajvizError(
                f"device '{device}' is not available: torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise TrajvizError(f"device '{device}' is not available: no Apple MPS backend here")
    return torch.device(text)


def resolve_dtype(dtype, device):
    """float64 by default where the device has it (mps has only float32)."""
    import torch

    if dtype is None:
        return torch.float32 if device.type == "mps" else torch.float64
    if isinstance(dtype, torch.dtype):
        name = str(dtype).removeprefix("torch.")
    else:
        name = str(dtype).strip().lower()
    table = {"float32": torch.float32, "float": torch.float32, "float64": torch.float64, "double": torch.float64}
    if name not in table:
        raise TrajvizError(f"unknown dtype '{dtype}' (use float32 or float64)")
    if device.type == "mps" and table[name] == torch.float64:
        raise TrajvizError("mps has no float64: use --dtype float32")
    return table[name]
