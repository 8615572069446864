"""Plain-text tables for ``trajviz list`` (no torch needed)."""

from __future__ import annotations

from . import optimizers, surfaces


def _fmt(v: float) -> str:
    return f"{v:.4g}"


WIDE = 160  # columns from which the optimizer table shows the update rules too


def terminal_width() -> int:
    """Columns to fit: $COLUMNS, else the terminal's width, else 80."""
    import shutil

    return max(40, shutil.get_terminal_size((80, 24)).columns)


def _wrap_cell(text: str, width: int) -> list[str]:
    """Greedy lines of at most ``width``, broken after spaces, commas and colons (a word longer
    than the line is cut)."""
    import re

    lines, line = [], ""
    for chunk in (c for c in re.split(r"(?<=[\s,:;])", text) if c):
        if len((line + chunk).rstrip()) <= width:
            line += chunk
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = chunk.lstrip()
        while len(line.rstrip()) > width:
            lines.append(line[:width])
            line = line[width:]
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def _table(header: list[str], rows: list[list[str]], width: int | None = None) -> str:
    """Columns as wide as their text, narrowed to fit ``width`` (default: the terminal's); text that no
    longer fits wraps inside its column, so nothing is cut off."""
    width = terminal_width() if width is None else width
    gap = 2
    n = len(header)
    natural = [max(len(r[i]) for r in rows + [header]) for i in range(n)]

    def longest_piece(i):
        import re

        return max(len(p) for r in rows + [header] for p in re.split(r"(?<=[\s,:;])", r[i]) if p.strip())

    # each column keeps its header and its longest unbreakable piece (up to 16 characters);
    # what is left is shared in proportion to how much more each column would like
    floor = [min(natural[i], max(len(header[i]), min(16, longest_piece(i)))) for i in range(n)]
    room = width - gap * (n - 1)
    if sum(natural) <= room:
        cols = natural
    elif sum(floor) >= room:   # a very narrow terminal: below the floors, widest first (names stay whole)
        cols = list(floor)
        while sum(cols) > room and max(cols[1:]) > 4:
            widest = max(range(1, n), key=lambda i: cols[i])
            cols[widest] -= 1
    else:
        extra = [natural[i] - floor[i] for i in range(n)]
        share = (room - sum(floor)) / sum(extra)
        cols = [floor[i] + int(extra[i] * share) for i in range(n)]
        for i in sorted(range(n), key=lambda i: -(extra[i] * share % 1)):   # the rounding's leftovers
            if sum(cols) < room and cols[i] < natural[i]:
                cols[i] += 1

    def lines_of(cells: list[str]) -> list[str]:
        wrapped = [_wrap_cell(c, w) for c, w in zip(cells, cols)]
        return [(" " * gap).join((w[k] if k < len(w) else "").ljust(c) for w, c in zip(wrapped, cols)).rstrip()
                for k in range(max(len(w) for w in wrapped))]

    lines = lines_of(header) + [(" " * gap).join("-" * c for c in cols)]
    for r in rows:
        lines.extend(lines_of(r))
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
    return _table(["surface", "formula", "domain", "minimum"], rows)


def optimizer_table() -> str:
    rows = []
    for name in optimizers.names():
        spec = optimizers.get_entry(name)
        draws = " + ".join(w for w, r in (("velocity", spec.velocity), ("step box", spec.step_size)) if r)
        cls = spec.cls if isinstance(spec.cls, str) else spec.cls.__name__
        extra = ",".join(f"{k}={v}" for k, v in spec.defaults.items())
        rows.append([name, spec.analogy, spec.rule, draws or "gradient",
                     cls.replace("torch.optim:", "") + (f"({extra})" if extra else "")])
    header = ["optimizer", "analogy", "update rule", "draws", "torch.optim"]
    note = ("'all' = " + ", ".join(optimizers.CLASSIC) +
            ". Any torch.optim.Optimizer subclass: --opt package.module:ClassName[:k=v,...]")
    if terminal_width() < WIDE:   # the rules would wrap into tall cells: they have a listing of their own
        header.pop(2)
        rows = [r[:2] + r[3:] for r in rows]
        note += ". The update rules: trajviz list optimizers --rules"
    return _table(header, rows) + "\n\n" + _wrap(note)


def _wrap(text: str) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, terminal_width(), break_on_hyphens=False, break_long_words=False))


def optimizer_rules() -> str:
    """Every optimizer's update rule written out (its registry entry's ``doc``), lines wrapped to the
    terminal (an equation continues indented under its start)."""
    width = terminal_width()
    blocks = []
    for name in optimizers.names():
        spec = optimizers.get_entry(name)
        lines = []
        for line in (spec.doc.strip() or spec.rule).splitlines():
            indent = line[: len(line) - len(line.lstrip())]
            more = indent + "    " if indent else ""   # an equation's continuation: indented further
            first, *rest = _wrap_cell(line.strip(), width - len(more))
            lines.extend([indent + first] + [more + part for part in rest])
        blocks.append(f"{name}\n{'-' * len(name)}\n" + "\n".join(lines) + "\n")
    return "\n".join(blocks)
