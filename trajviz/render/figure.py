"""The one figure factory, and the one way things show themselves in a notebook.

trajviz never imports pyplot (so it never changes global state): figures are
``matplotlib.figure.Figure`` objects on an Agg canvas, made here. A figure shows
itself in Jupyter as a PNG (``_repr_png_``); animations and clips show as a GIF
with a PNG of their last frame as the fallback (:class:`NotebookDisplay`).
"""

from __future__ import annotations

import base64
import io
import warnings

NOTEBOOK_WARN_BYTES = 4 * 2**20
_FIGURE = None


def figure_class():
    """A Figure subclass with ``_repr_png_`` (IPython's figure formatter may not be registered)."""
    global _FIGURE
    if _FIGURE is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        class TrajvizFigure(Figure):
            def _repr_png_(self):
                if not isinstance(self.canvas, FigureCanvasAgg):
                    FigureCanvasAgg(self)
                buf = io.BytesIO()
                self.savefig(buf, format="png", facecolor=self.get_facecolor())
                return buf.getvalue()

        _FIGURE = TrajvizFigure
    return _FIGURE


def warm_up() -> None:
    """Import and load what every picture needs (torch for the surface, matplotlib, the fonts), so
    a caller with time to spare (waiting for a run on another core) can do it early."""
    import torch  # noqa: F401 - the surfaces are evaluated with it

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figure_class()(figsize=(2, 1), dpi=50)
    FigureCanvasAgg(fig)
    fig.text(0.1, 0.5, "warm ÷ 0.01 ×10⁻³", fontweight="bold")
    fig.text(0.1, 0.2, "warm", fontsize=8)
    fig.canvas.draw()


def new_figure(size_in: tuple[float, float], dpi: float, facecolor: str, *, constrained: bool = False):
    """A figure of ``size_in`` inches at ``dpi`` on its own Agg canvas, in the theme's colour."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figure_class()(figsize=size_in, dpi=dpi, layout="constrained" if constrained else None)
    FigureCanvasAgg(fig)
    fig.set_facecolor(facecolor)
    return fig


def ensure_canvas(fig):
    """An Agg canvas for a figure made elsewhere (a user's pyplot figure keeps its own)."""
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if fig.canvas is None or type(fig.canvas) is FigureCanvasBase:
        FigureCanvasAgg(fig)
    return fig.canvas


class NotebookDisplay:
    """Shows an animation inline in Jupyter: a GIF, with a PNG of the last frame as fallback.

    Subclasses provide ``gif_bytes()`` (or None), ``last_frame()`` (an RGB array) and ``__repr__``.
    """

    _png: bytes | None = None

    def _repr_png_(self) -> bytes | None:
        if self._png is None:
            frame = self.last_frame()
            if frame is None:
                return None
            from PIL import Image

            buf = io.BytesIO()
            Image.fromarray(frame).save(buf, format="PNG", optimize=True)
            self._png = buf.getvalue()
        return self._png

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        out = {"text/plain": repr(self)}
        gif = self.gif_bytes()
        if gif is not None:
            if len(gif) > NOTEBOOK_WARN_BYTES:
                warnings.warn(f"this animation is a {len(gif) / 2**20:.1f} MB GIF inside the notebook; pass "
                              "frames= or a smaller size= to make it lighter, or save() it to a file",
                              stacklevel=2)
            out["image/gif"] = base64.b64encode(gif).decode("ascii")
        png = self._repr_png_()
        if png is not None:
            out["image/png"] = base64.b64encode(png).decode("ascii")
        return out
