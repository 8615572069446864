"""The one exception type that user input errors raise.

The CLI turns a :class:`TrajvizError` into one line on stderr and exit code 2;
notebooks see an ordinary ``ValueError`` subclass with the same message.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TrajvizError(ValueError):
    """Bad input from the user: an unknown name, a bad value, a malformed spec."""


def unknown(kind: str, name: str, choices: Iterable[str]) -> TrajvizError:
    """An error for an unknown name that suggests the closest valid one."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return TrajvizError(
        f"unknown {kind} '{name}'{hint} (choose from: {', '.join(choices)})"
    )
