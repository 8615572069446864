"""The heat-map of a hyperparameter sweep (``trajviz sweep``).

Cells that diverged (or never reached the tolerance) are drawn in a flat
neutral colour and named in the legend; the method's default cell and the
best cell are marked.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import style as S
from .figure import new_figure


def _edges(values: np.ndarray, log: bool) -> np.ndarray:
    v = np.log10(values) if log else values.astype(float)
    if len(v) == 1:
        mids = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        inner = (v[1:] + v[:-1]) / 2
        mids = np.concatenate([[v[0] - (inner[0] - v[0])], inner, [v[-1] + (v[-1] - inner[-1])]])
    return 10**mids if log else mids


def plot_sweep(result, ax=None, *, theme="light", size=None, dpi=None, title=None):
    """Draw the sweep on ``ax`` (or a new figure); returns the figure."""
    th = S.get_theme(theme)
    if ax is None:
        w, h = S.figsize(size or (1000, 720), dpi)
        fig = new_figure((w, h), S.DEFAULT_DPI if dpi is None else S.check_dpi(dpi), th.figure, constrained=True)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    fonts = S.Fonts.for_figure(*fig.get_size_inches())
    S.apply_axes(ax, th, fonts)
    values = np.asarray(result.values, dtype=float)
    finite = values[np.isfinite(values)]
    metric_label = ("mean final loss" if result.metric == "loss"
                    else f"steps to reach f - f* <= {result.tol:g}")
    if result.metric == "loss" and result.surface.optimum is not None:
        shown = values - result.surface.optimum
        metric_label = "mean final loss - f*"
    else:
        shown = values
    positive = shown[np.isfinite(shown) & (shown > 0)]
    use_log = result.metric == "loss" and len(positive) > 0
    if use_log:
        floor = max(positive.min(), positive.max() * 1e-16)
        shown = np.where(np.isfinite(shown), np.maximum(shown, floor), np.nan)
        norm = LogNorm(vmin=floor, vmax=max(positive.max(), floor * 10))
    else:
        lo = finite.min() if len(finite) else 0.0
        hi = finite.max() if len(finite) else 1.0
        norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1)
    cmap = _metric_cmap(th)
    failed_color = th.failed
    ax0 = result.axes[0]
    handles = []
    if len(result.axes) == 2:
        ax1 = result.axes[1]
        xe, ye = _edges(ax1.values, ax1.log), _edges(ax0.values, ax0.log)
        ax.set_facecolor(failed_color)
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(shown), cmap=cmap, norm=norm, shading="flat")
        if ax1.log:
            ax.set_xscale("log")
        if ax0.log:
            ax.set_yscale("log")
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
        ax.set_xlabel(ax1.key)
        ax.set_ylabel(ax0.key)
        cb = fig.colorbar(mesh, ax=ax, pad=0.02)
        cb.set_label(metric_label, color=th.text, fontsize=fonts.label)
        cb.ax.tick_params(colors=th.spine, labelcolor=th.text, labelsize=fonts.tick)
        cb.outline.set_edgecolor(th.spine)

        def point(index):
            return ax1.values[index[1]], ax0.values[index[0]]
    else:
        x = ax0.values
        ax.plot(x, shown, color=result.spec.color, lw=2)
        if ax0.log:
            ax.set_xscale("log")
        if use_log:
            ax.set_yscale("log")
        ax.set_xlabel(ax0.key)
        ax.set_ylabel(metric_label)
        bad = ~np.isfinite(shown)
        for xb in x[bad]:
            ax.axvspan(xb / 1.02 if ax0.log else xb, xb * 1.02 if ax0.log else xb, color=failed_color, lw=0)

        def point(index):
            return x[index[0]], shown[index[0]]

    if result.default is not None:
        px, py = point(result.default)
        ax.plot([px], [py], "o", ms=11, mfc="none", mec=th.text, mew=2, zorder=5)
        handles.append(Line2D([], [], ls="", marker="o", ms=10, mfc="none", mec=th.text, mew=2,
                              label="default"))
    if result.best is not None:
        px, py = point(result.best)
        ax.plot([px], [py], "*", ms=18, mfc=th.star_face, mec=th.star_edge, mew=1.2, zorder=6)
        best_value = values[result.best]
        params = ", ".join(f"{a.key}={a.values[i]:.3g}" for a, i in zip(result.axes, result.best))
        handles.append(Line2D([], [], ls="", marker="*", ms=14, mfc=th.star_face, mec=th.star_edge,
                              label=f"best: {params} ({best_value:.3g})"))
    if not np.isfinite(values).all():
        what = "diverged" if result.metric == "loss" else "not reached"
        handles.append(Patch(color=failed_color, label=what))
    leg = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.12), ncol=3, frameon=False,
                    fontsize=fonts.legend)
    for t in leg.get_texts():
        t.set_color(th.text)
    steps = result.settings.get("steps")
    ax.set_title(title or f"{result.optimizer} on {result.surface.spec}: {metric_label}, {steps} steps",
                 color=th.text, fontsize=fonts.title)
    return fig


def _metric_cmap(theme):
    from matplotlib import colormaps

    # low (good) values bright in a perceptually uniform map (the theme names it)
    return colormaps[theme.metric_cmap]
