"""Parsing of ``name:key=value,key=value`` specs shared by surfaces and optimizers.

Values are numbers, ``true``/``false``, ``none``, tuples written with ``/``
(``betas=0.9/0.99``) and, where the caller allows them, words (LBFGS's
``line_search_fn=strong_wolfe``). Nothing is evaluated: this is a tokenizer, not ``eval``.

>>> parse_params("lr=0.1,betas=0/0.999")
{'lr': 0.1, 'betas': (0, 0.999)}
>>> parse_params("line_search_fn=strong_wolfe", words=True)
{'line_search_fn': 'strong_wolfe'}
"""

from __future__ import annotations

import math
import re

from .errors import TrajvizError

_NAME = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?$")
_WORD = re.compile(r"[A-Za-z_][\w-]*")
SYNTAX = "NAME[:key=value,...]"


def split_spec(text: str) -> tuple[str, str]:
    """Split ``"adam:lr=0.1"`` into ``("adam", "lr=0.1")``.

    An import path ``pkg.mod:Class:lr=0.1`` (or ``mymodule:Class``) keeps its first colon in the name.
    """
    text = text.strip()
    if not text:
        raise TrajvizError("empty name")
    head, sep, rest = text.partition(":")
    if sep:
        # pkg.module:Name or module:ClassName[:k=v,...]: a dotted module, or a CapWords class
        cls, sep2, rest2 = rest.partition(":")
        cls = cls.strip()
        if cls and "=" not in cls and ("." in head or cls[:1].isupper()):
            return f"{head}:{cls}", rest2
    return head, rest


def parse_value(key: str, raw: str, words: bool = False):
    """One value: a number, true/false, none, a tuple ``a/b``, or (``words``) a word such as strong_wolfe."""
    raw = raw.strip()
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if "/" in raw:
        return tuple(parse_value(key, part, words) for part in raw.split("/"))
    try:
        if re.fullmatch(r"[+-]?\d+", raw):
            return int(raw)
        value = float(raw)
    except ValueError:
        if words and _WORD.fullmatch(raw):
            return raw
        raise TrajvizError(f"bad value for '{key}': '{raw}' is not a number") from None
    if not math.isfinite(value):
        raise TrajvizError(f"bad value for '{key}': {raw} (must be finite)")
    return value


def parse_params(text: str, words: bool = False) -> dict:
    """``"lr=0.1,betas=0.9/0.99"`` -> ``{"lr": 0.1, "betas": (0.9, 0.99)}``; ``words`` lets a value be a word."""
    params: dict = {}
    if not text.strip():
        return params
    for item in text.split(","):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not key or not raw.strip():
            raise TrajvizError(f"malformed parameter '{item.strip()}': expected key=value")
        if not re.fullmatch(r"[A-Za-z_]\w*", key):
            raise TrajvizError(f"malformed parameter name '{key}'")
        params[key] = parse_value(key, raw, words)
    return params


def is_name(text: str) -> bool:
    """True if ``text`` looks like a registry name (with optional params), not a formula."""
    head, _ = split_spec(text) if text.strip() else ("", "")
    return bool(_NAME.match(head))


def parse_pair(text: str, what: str) -> tuple[float, float]:
    """``"-1.5,2"`` -> ``(-1.5, 2.0)``; anything else is a clear error."""
    parts = str(text).split(",")
    if len(parts) != 2:
        raise TrajvizError(f"malformed {what} '{text}': expected two numbers A,B")
    try:
        a, b = (float(p) for p in parts)
    except ValueError:
        raise TrajvizError(f"malformed {what} '{text}': expected two numbers A,B") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise TrajvizError(f"malformed {what} '{text}': numbers must be finite")
    return a, b
