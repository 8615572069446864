"""``trajviz explain``'s lessons: :func:`lesson` takes one torch.optim update of a method apart.

The recipe comes from the method's optimizer entry (``entry.lesson``); the data
types and builders live in :mod:`trajviz.lessons.recipes`; drawing is
:mod:`trajviz.render.explain`'s.

>>> les = lesson("momentum")
>>> les.update, les.stages[1].caption[:22]
(7, '1. The velocity decays')
"""

from __future__ import annotations

import math

from ..errors import TrajvizError
from .recipes import AXES, Context, Lesson, Mark, Recipe, Stage, run_torch


def supported() -> list[str]:
    """The methods :func:`lesson` can take apart: the registry entries with a recipe."""
    from .. import optimizers as O

    return [n for n in O.names() if O.get_entry(n).lesson is not None]


def lesson(method: str, *, surface=None, update: int | None = None, start=None) -> Lesson:
    """Take one torch.optim update of ``method`` apart; see :class:`~trajviz.lessons.recipes.Lesson`.

    Args:
        method: a method name with a recipe, optionally with torch.optim keywords
            (``"momentum:momentum=0.8"``, ``"adam:lr=0.1"``).
        surface: a surface name, formula or Surface (default: the recipe's).
        update: which update to explain, 1-based (default: the recipe's).
        start: the start point (default: the recipe's on its own surface, else the surface's).
    """
    from .. import optimizers as O
    from .. import surfaces as S
    from ..options import MAX_UPDATE
    from ..specs import split_spec

    if not isinstance(method, str) or not method.strip():
        raise TrajvizError(f"bad method: {method!r} (must be a method name such as momentum)")
    name = split_spec(method)[0].strip().lower()
    methods = supported()
    if name == "all":
        raise TrajvizError(f"explain takes apart one method at a time: give one of {', '.join(methods)}")
    entry = O.get_entry(name)  # unknown names: the registry's error with a suggestion
    recipe: Recipe | None = entry.lesson
    if recipe is None:
        raise TrajvizError(f"explain has no lesson for '{name}' (choose from: {', '.join(methods)})")
    surf = S.get(surface if surface is not None else recipe.surface)
    spec = O.resolve(method, surface=surf)[0]
    if surface is None:   # on the recipe's own canvas, its own rates (unless the user gave them)
        spec = spec.with_filled(**{k: v for k, v in recipe.rates.items() if k not in spec.kwargs})
    extra = sorted(k for k in spec.kwargs if k not in recipe.keys)
    if extra:
        raise TrajvizError(f"explain draws the textbook {spec.title} update; it cannot show '{extra[0]}' "
                           f"(keys it can show: {', '.join(recipe.keys)})")
    t = recipe.update if update is None else update
    if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= MAX_UPDATE:
        raise TrajvizError(f"bad update: {update!r} (must be a whole number from 1 to {MAX_UPDATE:,})")
    if t < recipe.min_update:
        raise TrajvizError(f"bad update: {t} (must be >= {recipe.min_update}: {spec.title} has no velocity "
                           "before its first update)")
    if start is None:
        start = recipe.start if recipe.start is not None and surface is None else surf.start
    try:
        start = tuple(float(c) for c in start)
        if len(start) != 2 or not all(math.isfinite(c) for c in start):
            raise ValueError
    except (TypeError, ValueError):
        raise TrajvizError(f"bad start: {start!r} (must be two finite numbers X,Y)") from None
    hp = spec.hyperparameters()
    for key in ("momentum", "betas"):   # a decay of 0 leaves nothing to draw (and no momentum buffer)
        value = hp.get(key)
        if value is not None and min(value if isinstance(value, tuple) else (value,)) <= 0:
            raise TrajvizError(f"bad {key}: {value} (must be > 0: explain draws the memory it keeps)")
    trail, x, g, x_new, before, after, defaults = run_torch(spec, surf, start, t)
    ctx = Context(name=name, hp={**defaults, **hp}, t=t, x=x, g=g, x_new=x_new, before=before, after=after)
    stages = recipe.build(ctx)
    return Lesson(method=name, title=spec.title, tagline=recipe.tagline, surface=surf, hyperparameters=hp,
                  torch_class=f"torch.optim.{spec.torch_class.__name__}", update=t, trail=trail[:-1],
                  position=x, grad=g, new_position=x_new, state_before=before, state_after=after,
                  numbers=dict(ctx.numbers), stages=tuple(stages), color=spec.color,
                  per_axis=any(m.panel in AXES for s in stages for m in s.show))


__all__ = ["lesson", "supported", "Lesson", "Stage", "Mark", "Recipe"]
