"""The look shared by still pictures and animations: colours, themes, sizes, captions.

Everything here is plain data and small functions; nothing touches pyplot or
``matplotlib.rcParams``. Themes are applied to one figure or axes at a time.

>>> parse_size("1280x720")
(1280, 720)
>>> figsize((1280, 720), dpi=100)
(12.8, 7.2)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import unknown

# ---- colours of the traces --------------------------------------------------------------------
# A method's colour, line style and head marker are facts of its optimizer entry (each
# Trace carries its entry); here only repeats of one method in a picture get other shades.
_SHADES = ((0.0, "solid"), (-0.35, (0, (5, 2))), (0.4, (0, (1, 1.5))), (-0.6, (0, (6, 2, 1, 2))),
           (0.65, (0, (3, 3))))


def _mix(color: str, amount: float) -> str:
    from ..colors import mix as _m

    return _m(color, amount)


@dataclass(frozen=True)
class TraceStyle:
    """How one trace is drawn: its colour and line style."""

    color: str
    linestyle: object = "solid"


def trace_styles(traces: Iterable, theme=None) -> dict[str, TraceStyle]:
    """A style per trace label: the method's colour for the theme; repeats of a method get other
    shades and dashes.

    ``traces`` are Result traces (each carries its method's colours and line style).
    """
    dark = theme is not None and get_theme(theme).dark
    seen: dict[str, int] = {}
    out: dict[str, TraceStyle] = {}
    for trace in traces:
        name = trace.name
        k = seen.get(name, 0)
        seen[name] = k + 1
        shade, dash = _SHADES[k % len(_SHADES)]
        if k == 0:
            dash = trace.linestyle
        base = trace.spec.color_for(dark)
        out[trace.label] = TraceStyle(_mix(base, -shade if dark else shade) if shade else base, dash)
    return out


# ---- themes ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Theme:
    """Colours of one theme, applied per figure/axes (never through rcParams).

    ``surface_colors`` run from the lowest loss to the highest.
    """

    name: str
    figure: str
    axes: str
    text: str
    muted: str
    spine: str
    surface_colors: tuple[str, ...]
    contour_line: str
    contour_alpha: float
    path_halo: str | None
    marker_edge: str
    start_face: str
    star_face: str
    star_edge: str
    arrow: str
    arrow_alpha: float
    legend_face: str
    legend_edge: str
    grid: str
    memory: str          # explain: what the optimizer carried in (its memory)
    gradient: str        # explain: the new slope
    metric_cmap: str     # sweep heat-maps: a matplotlib colormap name (best = bright)
    failed: str          # sweep cells that diverged or never reached the tolerance
    label_face: str = "#FFFFFF"   # the box behind a method's label on the map
    dark: bool = False            # methods use their colours for dark backgrounds

    def cmap(self):
        from matplotlib.colors import LinearSegmentedColormap

        return LinearSegmentedColormap.from_list(f"trajviz_{self.name}", list(self.surface_colors), N=256)


THEMES: dict[str, Theme] = {
    "light": Theme(
        name="light", figure="#FFFFFF", axes="#FFFFFF", text="#1A1A1A", muted="#555555",
        spine="#888888",
        surface_colors=("#F6FAFD", "#EFF4F9", "#E7EFF5", "#DFE9F0", "#D7E2EB"),
        contour_line="#1A2533", contour_alpha=0.22, path_halo="#1A1A1A", marker_edge="#1A1A1A",
        start_face="#FFFFFF", star_face="#FFFFFF", star_edge="#1A1A1A", arrow="#1A2533",
        arrow_alpha=0.35, legend_face="#FFFFFF", legend_edge="#BBBBBB", grid="#DDDDDD",
        memory="#872020", gradient="#484850", metric_cmap="viridis_r", failed="#B8B8B8",
    ),
    "dark": Theme(
        name="dark", figure="#14171C", axes="#14171C", text="#E8E8E8", muted="#A8A8A8",
        spine="#5A6270",
        surface_colors=("#0C1215", "#181D22", "#20282D", "#273138", "#2F3A42"),
        contour_line="#D0D8E0", contour_alpha=0.18, path_halo="#FFFFFF", marker_edge="#F0F0F0",
        start_face="#14171C", star_face="#FFFFFF", star_edge="#000000", arrow="#D0D8E0",
        arrow_alpha=0.35, legend_face="#1E232A", legend_edge="#444B55", grid="#2C323B",
        memory="#00F7F7", gradient="#AFA7AF", metric_cmap="magma_r", failed="#3A3F47",
        label_face="#1A1F26", dark=True,
    ),
}


def get_theme(theme: str | Theme) -> Theme:
    """A Theme by name (``light``, ``dark``), or the Theme given."""
    if isinstance(theme, Theme):
        return theme
    if not isinstance(theme, str) or theme.lower() not in THEMES:
        raise unknown("theme", str(theme), THEMES)
    return THEMES[theme.lower()]


def apply_figure(fig, theme: Theme) -> None:
    fig.set_facecolor(theme.figure)


def apply_axes(ax, theme: Theme, fonts: Fonts) -> None:
    """Colour one 2D (or 3D) axes for the theme, with the given font sizes."""
    ax.set_facecolor(theme.axes)
    for spine in ax.spines.values():
        spine.set_color(theme.spine)
    ax.tick_params(colors=theme.spine, labelcolor=theme.text, labelsize=fonts.tick)
    for axis_label in (ax.xaxis.label, ax.yaxis.label):
        axis_label.set_color(theme.text)
        axis_label.set_fontsize(fonts.label)
    ax.title.set_color(theme.text)
    ax.title.set_fontsize(fonts.title)
    if hasattr(ax, "zaxis"):  # 3D
        ax.zaxis.label.set_color(theme.text)
        ax.zaxis.label.set_fontsize(fonts.label)
        for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
            axis.set_pane_color(theme.axes)
            axis.line.set_color(theme.spine)
            axis._axinfo["grid"]["color"] = theme.grid  # no public setter in mplot3d
        ax.tick_params(axis="z", colors=theme.spine, labelcolor=theme.text, labelsize=fonts.tick)


def style_legend(legend, theme: Theme) -> None:
    frame = legend.get_frame()
    frame.set_facecolor(theme.legend_face)
    frame.set_edgecolor(theme.legend_edge)
    frame.set_alpha(0.9)
    for text in legend.get_texts():
        text.set_color(theme.text)
    if legend.get_title() is not None:
        legend.get_title().set_color(theme.text)


# ---- sizes and fonts -----------------------------------------------------------------------
DEFAULT_SIZE = (1280, 720)
DEFAULT_DPI = 100.0
_SIZE = re.compile(r"^\s*(\d+)\s*[xX×*,]\s*(\d+)\s*$")


def parse_size(size) -> tuple[int, int]:
    """``"1280x720"`` (or ``(1280, 720)``) -> ``(1280, 720)`` pixels; ``None`` -> the default size."""
    from ..options import _size

    return DEFAULT_SIZE if size is None else _size(size, "size")


def check_dpi(dpi) -> float:
    from ..options import _dpi

    return _dpi(dpi, "dpi")


def figsize(size=None, dpi=None) -> tuple[float, float]:
    """Figure size in inches.

    With ``size`` the picture is exactly that many pixels and ``dpi`` sets how large
    text and lines are within it; without ``size`` the figure is 12.8 x 7.2 inches,
    so ``dpi`` alone sets the pixel count (dpi 100: 1280x720, dpi 200: 2560x1440).
    """
    dpi = DEFAULT_DPI if dpi is None else check_dpi(dpi)
    if size is None:
        return DEFAULT_SIZE[0] / DEFAULT_DPI, DEFAULT_SIZE[1] / DEFAULT_DPI
    w, h = parse_size(size)
    return w / dpi, h / dpi


@dataclass(frozen=True)
class Fonts:
    """Sizes in points for a projector: at 1280x720 no text is under 14 pt (about 19 px);
    everything scales with the frame (``scale`` is 1 at 1280x720)."""

    scale: float
    title: float
    subtitle: float
    tick: float
    label: float
    small: float
    line: float      # path line width
    dot: float       # the dot at every iterate (marker size)
    head: float      # a head's marker size

    @property
    def legend(self) -> float:
        return self.label

    @classmethod
    def for_figure(cls, width_in: float, height_in: float) -> Fonts:
        s = min(max(min(width_in / 12.8, height_in / 7.2), 0.4), 3.0)
        return cls(scale=s, title=20 * s, subtitle=15 * s, tick=14 * s, label=14 * s, small=14 * s,
                   line=1.5 * s, dot=3.0 * s, head=11.5 * s)


# ---- colour arithmetic (see trajviz.colors) -------------------------------------------------------
from ..colors import contrast, luminance, mix, readable  # noqa: E402, F401  (for the renderer)


@functools.lru_cache(maxsize=1)
def _measurer():
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(8, 8, 72)   # at 72 dpi a pixel is a point


@functools.lru_cache(maxsize=4096)
def text_width(text: str, size_pt: float, bold: bool = False) -> float:
    """Width in points of ``text`` in the default font (measured by Agg, not guessed)."""
    from matplotlib.font_manager import FontProperties

    w, _, _ = _measurer().get_text_width_height_descent(
        text, FontProperties(size=size_pt, weight="bold" if bold else "normal"), ismath=False)
    return float(w)


# ---- tick labels ------------------------------------------------------------------------------
_POWERS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def power_of_ten(value: float, pos=None) -> str:
    """A tick label on a log axis: ``1000`` -> ``"10³"``, ``1e-4`` -> ``"10⁻⁴"``, others as ``%g``."""
    import math

    if not value > 0 or not math.isfinite(value):
        return ""
    exponent = math.log10(value)
    n = round(exponent)
    if abs(exponent - n) > 1e-9:
        return f"{value:g}"
    return "10" + str(n).translate(_POWERS)


# ---- captions -----------------------------------------------------------------------------
def method_name(trace) -> str:
    """``"Adam"``, or ``"Adam (lr=0.1)"`` when the user gave hyperparameters."""
    return trace.full_title


def divergence_note(trace) -> str:
    """``"diverged at step 37"``, ``"3 of 100 diverged"``, or ``""``."""
    diverged = trace.diverged_at[trace.diverged_at >= 0]
    if len(diverged) == 0:
        return ""
    if trace.n_starts == 1:
        return f"diverged at step {int(diverged[0])}"
    return f"{len(diverged):,} of {trace.n_starts:,} diverged"


def legend_label(trace, divergence: bool = True) -> str:
    """``"SGD - drunk walker"``, with ``" (diverged at step 37)"`` if it diverged."""
    text = method_name(trace)
    if trace.analogy:
        text += f" - {trace.analogy}"
    notes = [n for n in (run_note(trace), divergence_note(trace) if divergence else "") if n]
    return f"{text} ({'; '.join(notes)})" if notes else text


def run_note(trace) -> str:
    """``"lr 0.0123"`` when --tune chose the rate, else ``""`` (the schedule is in the run summary)."""
    tuned = getattr(trace, "tuned", None)
    if tuned is not None and tuned.lr is not None:
        return f"lr {tuned.lr:.3g}"
    return ""


__all__ = ["TraceStyle", "trace_styles", "Theme", "THEMES",
           "get_theme", "apply_figure", "apply_axes", "style_legend", "DEFAULT_SIZE", "DEFAULT_DPI",
           "parse_size", "check_dpi", "figsize", "Fonts", "method_name", "divergence_note", "legend_label",
           "run_note"]
