"""trajviz: watch gradient optimizers move on 2D loss surfaces.

>>> import trajviz
>>> result = trajviz.run("rosenbrock", opt="all")        # doctest: +SKIP
>>> result.plot()                                        # doctest: +SKIP

Heavy modules (torch, matplotlib) are imported only when first used, so that
``trajviz --help`` starts fast.
"""

from __future__ import annotations

from ._version import __version__
from .errors import TrajvizError

__all__ = ["__version__", "run", "plot", "animate", "surfaces", "optimizers", "Result", "TrajvizError"]


def __getattr__(name):
    if name == "run":
        from .engine import run

        return run
    if name == "Result":
        from .result import Result

        return Result
    if name in ("surfaces", "optimizers", "render"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    if name == "plot":
        from .render.plot import plot

        return plot
    if name == "animate":
        from .render.animate import animate

        return animate
    raise AttributeError(f"module 'trajviz' has no attribute {name!r}")
