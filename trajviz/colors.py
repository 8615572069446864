"""Colour arithmetic on ``#RRGGBB`` strings, with no dependencies (the registries use it too).

>>> round(contrast("#000000", "#FFFFFF"), 1)
21.0
>>> contrast(readable("#F0E442", "#FFFFFF"), "#FFFFFF") >= 4.5
True
"""

from __future__ import annotations


def rgb(color: str) -> tuple[float, float, float]:
    """``"#RRGGBB"`` (or ``"#RGB"``) -> (r, g, b) in [0, 1]."""
    c = color.strip().lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    if len(c) not in (6, 8):
        raise ValueError(f"not a #RRGGBB colour: {color!r}")
    return tuple(int(c[i:i + 2], 16) / 255 for i in (0, 2, 4))


def hex_of(r: float, g: float, b: float) -> str:
    return "#{:02X}{:02X}{:02X}".format(*(round(min(max(v, 0.0), 1.0) * 255) for v in (r, g, b)))


def luminance(color: str) -> float:
    """WCAG relative luminance."""
    def lin(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def mix(color: str, amount: float) -> str:
    """Lighten (amount > 0, towards white) or darken (amount < 0, towards black)."""
    target = 1.0 if amount > 0 else 0.0
    a = abs(amount)
    return hex_of(*(c + (target - c) * a for c in rgb(color)))


def readable(color: str, background: str, target: float = 4.5) -> str:
    """``color`` darkened (on light) or lightened (on dark) until it has ``target`` contrast on ``background``."""
    towards = -1.0 if luminance(background) > 0.18 else 1.0
    for k in range(41):
        mixed = mix(color, towards * k / 40)
        if contrast(mixed, background) >= target:
            return mixed
    return mix(color, towards)
