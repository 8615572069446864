"""Still pictures of optimizer paths on a surface's contour map.

A still picture is the last frame of the animation, drawn with real text (so SVG
and PDF stay vector): the map with every path (a dot at each iterate), each head
labelled with its method's name, and the loss curves labelled at their ends.

>>> import trajviz
>>> r = trajviz.run("rosenbrock", "all", steps=100)     # doctest: +SKIP
>>> fig = r.plot(theme="dark")                           # doctest: +SKIP
>>> save_figure(fig, "rosenbrock.png")                   # doctest: +SKIP

Figures are made with ``matplotlib.figure.Figure`` and the Agg canvas: nothing
here imports pyplot, shows a window, or changes ``matplotlib.rcParams``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, check_writable
from ..errors import TrajvizError
from . import layers as LY
from . import style as S
from .scene import build_scene

SAVE_FORMATS = (".png", ".svg", ".pdf")


def plot_surface(surface, options=None, ax=None, *, xlim=None, ylim=None):
    """Draw a surface alone: contours (or a 3D mesh), its minimizers, optionally -grad f arrows.

    ``options`` is a :class:`~trajviz.options.PlotOptions` (default: the defaults). Returns the figure.

    >>> import trajviz.surfaces as S
    >>> fig = S.get("beale").plot(theme="dark")            # doctest: +SKIP
    """
    from ..options import PlotOptions

    scene = build_scene(surface, None, ax, options or PlotOptions(), xlim=_lim(xlim, "xlim"), ylim=_lim(ylim, "ylim"))
    return scene.fig


def plot_result(result, options=None, ax=None, *, xlim=None, ylim=None):
    """Draw a Result's paths on the surface's contour map; returns the figure.

    ``options`` is a :class:`~trajviz.options.PlotOptions`: layout (overlay, grid, or auto:
    grid for a swarm of several methods), theme, loss_panel (default: on in a figure of its
    own), size (exact pixels), dpi, title, grad_field, view (2d or 3d), colorbar, legend
    (the labels at the heads), swarm. With ``ax`` the map is drawn on it. ``xlim``/``ylim``
    set the view (default: fitted to the paths, the start and the nearest minimum).

    Each path is drawn up to its last finite point; a path that diverged ends in an X where
    it left the map.
    """
    from ..options import PlotOptions

    options = options or PlotOptions()
    if not len(result):
        raise TrajvizError("nothing to draw: the result has no optimizer")
    scene = build_scene(result.surface, result, ax, options, xlim=_lim(xlim, "xlim"), ylim=_lim(ylim, "ylim"))
    rows = np.array([len(next(iter(result)).steps) - 1])
    for layer in still_layers(scene, rows, labels=options.legend):
        layer.update(0)
    scene.artists["still"] = True
    return scene.fig


def still_layers(scene, rows, labels: bool = True) -> list:
    """The layers of a still picture at ``rows`` (one row): paths, heads, labels, losses."""
    out = []
    if scene.swarm:
        out.append(LY.Swarm(scene, rows))
    elif scene.is3d:
        out.append(LY.Paths3D(scene, rows))
    else:
        out.append(LY.Paths(scene, rows, still=True))
        heads = LY.Heads(scene, rows)
        out.append(heads)
        if labels and scene.layout == "overlay":     # in the grid each panel's title names it
            out.append(LY.Labels(scene, heads, rows, still=True))
    if scene.loss_ax is not None:
        out.append(LY.Losses(scene, rows, still=True))
    return out


def _lim(lim, what):
    from ..checks import pair

    return None if lim is None else pair(lim, what, increasing=True)


def check_picture_path(path) -> Path:
    """The extension is a picture format and the file can be written: checked before any work."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SAVE_FORMATS:
        shown = f"'{ext}'" if ext else "no extension"
        raise TrajvizError(f"cannot save a picture as '{path.name}' ({shown}): use one of "
                           f"{', '.join(SAVE_FORMATS)}")
    return check_writable(path)


def save_figure(fig, path, dpi: float | None = None) -> Path:
    """Write ``fig`` to ``path`` as .png, .svg or .pdf (by extension), atomically.

    ``dpi`` defaults to the figure's own, so a figure made with ``size="1280x720"``
    gives exactly a 1280x720 PNG. Errors (unknown extension, missing folder,
    unwritable file) raise :class:`~trajviz.errors.TrajvizError` before anything is written.
    """
    path = check_picture_path(path)
    ext = path.suffix.lower()
    dpi = fig.dpi if dpi is None else S.check_dpi(dpi)
    with atomic_path(path) as tmp:
        _savefig(fig, tmp, ext[1:], dpi)
    return path


def _savefig(fig, target, fmt: str, dpi: float) -> None:
    from .figure import ensure_canvas

    ensure_canvas(fig)
    # explicit bbox and facecolor: a user's matplotlibrc (savefig.bbox: tight) must not change the size
    fig.savefig(target, format=fmt, dpi=dpi, facecolor=fig.get_facecolor(), bbox_inches=None,
                metadata=_metadata(fmt))


def _metadata(fmt: str) -> dict:
    from .._version import __version__

    software = f"trajviz {__version__}"
    if fmt == "png":
        return {"Software": software}
    if fmt == "pdf":
        return {"Creator": software}
    if fmt == "svg":
        return {"Creator": software, "Date": None}
    return {}


def result_png(result, dpi: float = 80) -> bytes:
    """The Result's default picture as PNG bytes (for Jupyter's ``_repr_png_``), 1024x576."""
    from ..options import PlotOptions

    fig = plot_result(result, PlotOptions(dpi=dpi))
    buf = io.BytesIO()
    _savefig(fig, buf, "png", fig.dpi)
    return buf.getvalue()


__all__ = ["plot_surface", "plot_result", "still_layers", "save_figure", "check_picture_path", "result_png",
           "SAVE_FORMATS"]
