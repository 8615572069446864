"""trajviz: watch gradient optimizers move on 2D loss surfaces.

>>> import trajviz
>>> result = trajviz.run("rosenbrock", opt="all")        # doctest: +SKIP
>>> result.plot()                                        # doctest: +SKIP

The one-call functions (``run``, ``plot``, ``animate``, ``explain``, ``sweep``, ``train``) live in
:mod:`trajviz.api`. Heavy modules (torch, matplotlib) are imported only when first
used, so that ``trajviz --help`` starts fast.
"""

from __future__ import annotations

from ._version import __version__
from .errors import TrajvizError

_API = ("run", "plot", "animate", "explain", "sweep", "train")
_MODULES = ("surfaces", "optimizers", "render", "options", "api", "lessons", "sampling", "explore", "nn")
__all__ = ["__version__", *_API, "surfaces", "optimizers", "explore", "Result", "TrajvizError"]


def __getattr__(name):
    import importlib

    if name in _API:
        return getattr(importlib.import_module(".api", __name__), name)
    if name == "Result":
        return importlib.import_module(".result", __name__).Result
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'trajviz' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_MODULES))
