"""The exception types that user input errors raise, and their one wording.

The CLI turns a :class:`TrajvizError` into one line on stderr and exit code 2
(:class:`OutputError`: exit code 1); notebooks see an ordinary ``ValueError``
subclass with the same message. Every bad value is said the same way::

    bad <what>: <value> (must be <rule>)

>>> str(bad("fps", 0, "a number from 0.1 to 50"))
'bad fps: 0 (must be a number from 0.1 to 50)'
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TrajvizError(ValueError):
    """Bad input from the user: an unknown name, a bad value, a malformed spec."""


class OutputError(TrajvizError):
    """The output path cannot be written (missing folder, no permission, not writable)."""


def show(value) -> str:
    """A value as the user wrote it (quoted only where its edges would not show)."""
    if isinstance(value, str):
        return value if value and value == value.strip() and "\n" not in value else repr(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def bad(what: str, value, rule: str) -> TrajvizError:
    """The error for a bad value, in the one wording every check uses."""
    return TrajvizError(f"bad {what}: {show(value)} (must be {rule})")


def unknown(kind: str, name: str, choices: Iterable[str]) -> TrajvizError:
    """An error for an unknown name that suggests the closest valid one."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close and close[0] != name else ""
    return TrajvizError(
        f"unknown {kind} '{name}'{hint} (choose from: {', '.join(choices)})"
    )
