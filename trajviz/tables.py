"""Plain-text tables for ``trajviz list`` (no torch needed)."""

from __future__ import annotations

from . import optimizers, surfaces


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _table(header: list[str], rows: list[list[str]], widths: list[int]) -> str:
    def cut(text: str, width: int) -> str:
        return text if len(text) <= width else text[: width - 3] + "..."

    cols = [min(max(len(r[i]) for r in rows + [header]), w) for i, w in enumerate(widths)]
    lines = ["  ".join(cut(h, c).ljust(c) for h, c in zip(header, cols)).rstrip(),
             "  ".join("-" * c for c in cols)]
    for r in rows:
        lines.append("  ".join(cut(v, c).ljust(c) for v, c in zip(r, cols)).rstrip())
    return "\n".join(lines)


def surface_table() -> str:
    rows = []
    for name in surfaces.names():
        s = surfaces.get(name)
        (x0, x1), (y0, y1) = s.domain
        params = surfaces.entry(name).defaults
        label = name + (":" + ",".join(f"{k}={v:g}" for k, v in params.items()) if params else "")
        if s.minima:
            where = "; ".join(f"({_fmt(x)}, {_fmt(y)})" for x, y in s.minima[:2])
            if len(s.minima) > 2:
                where += f" +{len(s.minima) - 2}"
            minimum = f"{_fmt(s.optimum)} at {where}" if s.optimum is not None else where
        else:
            minimum = "none"
        if s.note:
            minimum += f" ({s.note})"
        rows.append([label, s.formula, f"[{x0:g},{x1:g}]x[{y0:g},{y1:g}]", minimum])
    return _table(["surface", "formula", "domain", "minimum"], rows, [26, 60, 22, 70])


def optimizer_table() -> str:
    rows = []
    for name in optimizers.names():
        spec = optimizers.get_entry(name)
        draws = " + ".join(w for w, r in (("velocity", spec.velocity), ("step box", spec.step_size)) if r)
        cls = spec.cls if isinstance(spec.cls, str) else spec.cls.__name__
        extra = ",".join(f"{k}={v}" for k, v in spec.defaults.items())
        rows.append([name, spec.analogy, spec.rule, draws or "gradient",
                     cls.replace("torch.optim:", "") + (f"({extra})" if extra else "")])
    table = _table(["optimizer", "analogy", "update rule", "draws", "torch.optim"], rows, [10, 38, 80, 19, 36])
    return table + "\n\n'all' = " + ", ".join(optimizers.CLASSIC) + \
        ". Any torch.optim.Optimizer subclass: --opt package.module:ClassName[:k=v,...]"


def optimizer_rules() -> str:
    """Every optimizer's update rule written out (its registry entry's ``doc``)."""
    blocks = []
    for name in optimizers.names():
        spec = optimizers.get_entry(name)
        blocks.append(f"{name}\n{'-' * len(name)}\n{spec.doc.strip() or spec.rule}\n")
    return "\n".join(blocks)
