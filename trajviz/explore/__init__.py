"""trajviz explore: drag the start, move the sliders, every path re-runs.

Two front ends share one JavaScript implementation (``static/*.js``): a standalone HTML
page (:func:`write_explorer`, the ``trajviz explore`` command) and a notebook widget
(:func:`explore`, needs ``pip install "trajviz-optim[explore]"``).

>>> from trajviz.explore import write_explorer
>>> write_explorer("explorer.html", "rosenbrock", opt=["sgd", "adam:lr=0.05"])  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types

from .config import build_config
from .page import page_html, write_page


def write_explorer(path, surface: str = "rosenbrock", opt="all", **settings):
    """Write the explorer page for ``surface`` and ``opt`` (and start, steps, noise, seed,
    batch_size, xlim, ylim) to ``path``; returns the path."""
    return write_page(path, build_config(surface, opt, **settings))


def explore(surface: str = "rosenbrock", opt="all", *, kernel: bool = False, **settings):
    """A live notebook widget: the explorer in a cell (anywidget).

    With ``kernel=True`` every change re-runs ``trajviz.run`` in the kernel, so surfaces
    and optimizers registered in the notebook work too.

    >>> w = explore("beale", opt=["adam", "momentum"])          # doctest: +SKIP
    >>> w.setState({"start": [[1.0, 1.0]]}); w.paths()["adam"]  # doctest: +SKIP
    """
    from .widget import Explorer

    return Explorer(surface, opt, kernel=kernel, **settings)


class _CallableModule(types.ModuleType):
    """``trajviz.explore(...)`` works although ``trajviz.explore`` is this package."""

    def __call__(self, *args, **kwargs):
        return explore(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["explore", "write_explorer", "build_config", "page_html", "write_page"]
