"""Checks of single values, shared by every option: one rule, one wording per kind of value.

Each returns the value in its canonical type or raises ``bad <what>: <value> (must be ...)``.

>>> whole(3.0, "steps")
3
>>> number("1e-3", "lr", low=0, open_low=True)
0.001
>>> pair("-1.5,2", "xlim", increasing=True)
(-1.5, 2.0)
"""

from __future__ import annotations

import math
import numbers

from .errors import TrajvizError, bad, unknown


def whole(value, what: str, low: int = 1, high: int | None = None) -> int:
    """A whole number in [low, high] (a float with an integral value is accepted)."""
    rule = f"a whole number >= {low:,}" if high is None else f"a whole number from {low:,} to {high:,}"
    if isinstance(value, bool):
        raise bad(what, value, rule)
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            raise bad(what, value, rule) from None
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        if not (math.isfinite(value) and float(value).is_integer()):
            raise bad(what, value, rule)
        value = int(value)
    if not isinstance(value, numbers.Integral):
        raise bad(what, value, rule)
    value = int(value)
    if value < low or (high is not None and value > high):
        raise bad(what, value, rule)
    return value


def number(value, what: str, low: float | None = None, high: float | None = None, *,
           open_low: bool = False, unit: str = "") -> float:
    """A finite number in [low, high] (or (low, high] with ``open_low``)."""
    if low is not None and high is not None and not open_low:
        rule = f"a number from {low:g} to {high:g}"
    else:
        parts = []
        if low is not None:
            parts.append(f"{'>' if open_low else '>='} {low:g}")
        if high is not None:
            parts.append(f"<= {high:g}")
        rule = "a finite number" + (" " + " and ".join(parts) if parts else "")
    rule += f" {unit}" if unit else ""
    if isinstance(value, bool):
        raise bad(what, value, rule)
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise bad(what, value, rule) from None
    if not math.isfinite(v) or (low is not None and (v <= low if open_low else v < low)) \
            or (high is not None and v > high):
        raise bad(what, value, rule)
    return v


def choice(value, what: str, choices) -> str:
    """One of ``choices`` (case-insensitive); unknown names suggest the closest."""
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise unknown(what, str(value), choices)
    return value.strip().lower()


# A range narrower than this (relative to its largest end) has fewer distinct float64 values
# across it than a contour grid or a picture needs.
MIN_RELATIVE_WIDTH = 1e-9


def pair(value, what: str, *, increasing: bool = False) -> tuple[float, float]:
    """Two finite numbers, from ``"A,B"`` or a sequence.

    ``increasing`` asks for a range: A < B, with a width B - A that is finite and that
    float64 resolves (more than 1e-9 of the larger of |A| and |B|).

    >>> pair("1e15,1.0000000000001e15", "xlim", increasing=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    trajviz.errors.TrajvizError: bad xlim: 1e15,1.0000000000001e15 (must be ... more than 1e-09 x max(|A|, |B|))
    """
    rule = "two finite numbers A,B" + (" with A < B, B - A finite and more than "
                                       f"{MIN_RELATIVE_WIDTH:g} x max(|A|, |B|)" if increasing else "")
    shown = value if isinstance(value, str) else ",".join(str(v) for v in value) \
        if isinstance(value, (tuple, list)) else value
    if isinstance(value, str):
        parts = value.split(",")
    else:
        try:
            parts = list(value)
        except TypeError:
            raise bad(what, shown, rule) from None
    if len(parts) != 2:
        raise bad(what, shown, rule)
    try:
        a, b = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise bad(what, shown, rule) from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise bad(what, shown, rule)
    if increasing:
        width = b - a
        if not (a < b and math.isfinite(width) and width > MIN_RELATIVE_WIDTH * max(abs(a), abs(b))):
            raise bad(what, shown, rule)
    return a, b


def flag(value, what: str) -> bool:
    if not isinstance(value, (bool, int)) or isinstance(value, int) and value not in (0, 1):
        raise bad(what, value, "true or false")
    return bool(value)


def text(value, what: str, max_length: int = 500) -> str:
    if not isinstance(value, str):
        raise bad(what, value, "text")
    if len(value) > max_length:
        raise TrajvizError(f"bad {what}: too long ({len(value)} characters, at most {max_length})")
    return value


__all__ = ["whole", "number", "choice", "pair", "flag", "text"]
