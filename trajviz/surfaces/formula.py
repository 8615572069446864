"""A safe parser for user formulas such as ``"x**2 + 10*y**2"``.

The text is parsed with :func:`ast.parse` (which only builds a syntax tree,
never runs code) and every node is checked against a whitelist: numbers,
the variables ``x`` and ``y``, the constants ``pi`` and ``e``, ``+ - * / **``,
unary minus, parentheses and a fixed set of math functions. The tree is then
compiled into nested closures that call tensor methods, so nothing the user
wrote is ever passed to ``eval`` or ``exec``.

Why it cannot hang or exhaust memory: the text is capped in length and node
count, every operation is elementwise on the input tensor (so the work is
linear in the formula size times the batch), and constant powers are folded
in floating point, where ``9**9**9`` is ``inf`` rather than a huge integer.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

from ..errors import TrajvizError

MAX_LENGTH = 1000
MAX_NODES = 400

# name -> tensor method name. Methods, not torch functions, so this module
# (and ``trajviz list``) does not need to import torch.
FUNCTIONS = {
    "sin": "sin", "cos": "cos", "tan": "tan",
    "asin": "asin", "acos": "acos", "atan": "atan",
    "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1",
    "sqrt": "sqrt", "abs": "abs", "sigmoid": "sigmoid", "sign": "sign",
}
CONSTANTS = {"pi": math.pi, "e": math.e}

_ALLOWED = (
    "numbers, x, y, pi, e, + - * / ** (or ^), unary minus, parentheses and the functions "
    + ", ".join(sorted(set(FUNCTIONS)))
)

Fn = Callable[[object, object], object]


def _fold_pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except (ValueError, ZeroDivisionError):
        return math.nan


def _fold_div(a: float, b: float) -> float:
    if b == 0:
        return math.copysign(math.inf, a) if a else math.nan
    return a / b


_BINOPS = {
    ast.Add: (lambda a, b: a + b, lambda a, b: a + b),
    ast.Sub: (lambda a, b: a - b, lambda a, b: a - b),
    ast.Mult: (lambda a, b: a * b, lambda a, b: a * b),
    ast.Div: (_fold_div, lambda a, b: a / b),
    ast.Pow: (_fold_pow, lambda a, b: a ** b),
}


class _Compiler:
    def __init__(self, text: str):
        self.text = " ".join(text.split())  # error messages stay on one line
        self.uses: set[str] = set()

    def fail(self, what: str) -> TrajvizError:
        return TrajvizError(f"formula '{self.text}': {what} is not allowed; use {_ALLOWED}")

    def compile(self, node: ast.AST):
        """Return a float (a folded constant) or a closure f(x, y) -> tensor."""
        if isinstance(node, ast.Expression):
            return self.compile(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self.fail(f"the value {node.value!r}")
            try:
                return float(node.value)
            except OverflowError:  # an integer literal beyond float range
                return math.inf
        if isinstance(node, ast.Name):
            if node.id in ("x", "y"):
                self.uses.add(node.id)
                return (lambda x, y: x) if node.id == "x" else (lambda x, y: y)
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            raise self.fail(f"the name '{node.id}'")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.compile(node.operand)
            sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
            if isinstance(inner, float):
                return sign * inner
            return (lambda x, y: -inner(x, y)) if sign < 0 else inner
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            fold, apply = _BINOPS[type(node.op)]
            left, right = self.compile(node.left), self.compile(node.right)
            if isinstance(left, float) and isinstance(right, float):
                return fold(left, right)
            lf = left if callable(left) else (lambda x, y, c=left: c)
            rf = right if callable(right) else (lambda x, y, c=right: c)
            return lambda x, y: apply(lf(x, y), rf(x, y))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else ast.dump(node.func)[:30]
                raise self.fail(f"the function '{name}'")
            if len(node.args) != 1 or node.keywords:
                raise TrajvizError(f"formula '{self.text}': {node.func.id}() takes exactly one argument")
            method = FUNCTIONS[node.func.id]
            arg = self.compile(node.args[0])
            if isinstance(arg, float):
                # keep it a tensor op so that e.g. log(-1) gives nan, not a Python error
                return lambda x, y, c=arg: getattr(x.new_tensor(c), method)()
            return lambda x, y: getattr(arg(x, y), method)()
        label = type(node).__name__
        if isinstance(node, ast.BinOp):
            label = f"the operator {type(node.op).__name__}"
        elif isinstance(node, ast.UnaryOp):
            label = f"the operator {type(node.op).__name__}"
        return_error = self.fail(label if label.startswith("the ") else f"'{label}'")
        raise return_error


def compile_formula(text: str) -> Fn:
    """Compile ``text`` into ``f(x, y) -> tensor``; raise :class:`TrajvizError` if unsafe.

    >>> f = compile_formula("x**2 + 10*y**2")
    """
    if not isinstance(text, str) or not text.strip():
        raise TrajvizError("empty formula")
    if len(text) > MAX_LENGTH:
        raise TrajvizError(f"formula is too long ({len(text)} characters, at most {MAX_LENGTH})")
    source = text.replace("^", "**")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        shown = " ".join(text.split())
        reason = exc.msg if isinstance(exc, SyntaxError) else exc
        raise TrajvizError(f"formula '{shown}' is not a valid expression: {reason}") from None
    except (RecursionError, MemoryError):
        raise TrajvizError(f"formula '{text[:40]}...' is nested too deeply") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise TrajvizError(f"formula is too large ({count} parts, at most {MAX_NODES})")
    compiler = _Compiler(text)
    try:
        out = compiler.compile(tree)
    except RecursionError:
        raise TrajvizError(f"formula '{text[:40]}...' is nested too deeply") from None
    if isinstance(out, float):
        const = out
        return lambda x, y: x.new_full(x.shape, const) + 0 * y
    return out
