"""The layers of the package (docs/ARCHITECTURE.md): who may import whom, and no cycles.

Every import is counted, lazy ones inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import trajviz
import trajviz.optimizers as O

ROOT = Path(trajviz.__file__).resolve().parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


MODULES = _modules()


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str) -> set[str]:
    """The package modules ``module`` imports (``from a import b`` counts a.b when b is a module)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("trajviz"):
                    out.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            if not target.startswith("trajviz"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in MODULES else target)
    return {m for m in out if m in MODULES and m != module}


GRAPH = {m: imports_of(m) for m in MODULES}


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_the_lazy_imports():
    # the api imports the engine inside its functions: the walk must see that edge
    assert "trajviz.engine" in GRAPH["trajviz.api"]
    assert "trajviz.render.plot" in GRAPH["trajviz.result"]


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_a_cycle_would_be_found():
    fake = {**GRAPH, "trajviz.engine": GRAPH["trajviz.engine"] | {"trajviz.api"}}
    assert any("trajviz.api" in c and "trajviz.engine" in c for c in _cycles(fake))


def _under(prefix: str) -> list[str]:
    return [m for m in MODULES if m == prefix or m.startswith(prefix + ".")]


@pytest.mark.parametrize("module", _under("trajviz.render"))
def test_render_never_imports_the_engine_or_a_registry(module):
    forbidden = ("trajviz.engine", "trajviz.surfaces", "trajviz.optimizers", "trajviz.tune", "trajviz.sweeps",
                 "trajviz.api", "trajviz.cli")
    bad = [m for m in GRAPH[module] if any(m == f or m.startswith(f + ".") for f in forbidden)]
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", _under("trajviz.engine"))
def test_the_engine_knows_nothing_of_tuning_or_pictures(module):
    forbidden = ("trajviz.tune", "trajviz.sweeps", "trajviz.render", "trajviz.api", "trajviz.cli", "trajviz.lessons")
    bad = [m for m in GRAPH[module] if any(m == f or m.startswith(f + ".") for f in forbidden)]
    assert not bad, f"{module} imports {bad}"


def test_only_the_api_and_the_cli_compose_engine_and_render():
    composers = {m for m in MODULES if any(x.startswith("trajviz.engine") for x in GRAPH[m])
                 and any(x.startswith("trajviz.render") for x in GRAPH[m])}
    assert composers <= {"trajviz.api", "trajviz.cli"}, composers


NAMES = {n.lower() for n in O.names()} | {"sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam"}


@pytest.mark.parametrize("module", _under("trajviz.render") + _under("trajviz.engine"))
def test_no_drawing_or_engine_code_names_an_optimizer(module):
    tree = ast.parse(MODULES[module].read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    strings = {node.value.lower() for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs}
    words = {w.lower().strip(".,:;()'\"") for s in strings for w in s.split()}
    named = {node.id.lower() for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not NAMES & (strings | named), NAMES & (strings | named)
    # nor inside a sentence (a caption such as "SGD's step" would name one)
    assert not {n for n in NAMES if any(w == n or w.startswith(n + "'") for w in words)}


def test_no_type_checks_by_class_name():
    for module, path in MODULES.items():
        text = path.read_text()
        assert "type(exc).__name__ ==" not in text and ".__name__ == \"" not in text, module
        assert '"ConstrainedLayoutEngine"' not in text and '"FigureCanvasBase"' not in text, module
