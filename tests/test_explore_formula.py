"""The page's formula parser accepts exactly what trajviz's CLI accepts, and computes the same.

Acceptance is compared on a corpus of tricky inputs and on thousands of random strings; values
against the CLI's compiled formula (torch), gradients (derived symbolically in the page)
against torch autograd; and every built-in surface, as the page evaluates it, against torch.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

import trajviz.surfaces as S
from trajviz.errors import TrajvizError
from trajviz.explore import write_explorer
from trajviz.explore.browser import needs_chromium
from trajviz.explore.expression import expression
from trajviz.surfaces.formula import MAX_NODES, compile_formula

pytestmark = [needs_chromium(), pytest.mark.filterwarnings("ignore::SyntaxWarning")]

POINTS = [(0.7, -1.3), (2.0, 0.5), (-0.3, 0.25), (1.5, 1.5)]

CHECK_JS = """(texts) => texts.map((t) => window.trajvizLib.formula.check(t))"""
EVAL_JS = """([texts, points]) => texts.map((t) => {
  const f = window.trajvizLib.formula.compile(t);
  const out = new Float64Array(3);
  const enc = (v) => (Number.isNaN(v) ? "nan" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : v);
  return points.map(([x, y]) => Array.from(f.valueGrad(x, y, out), enc));
})"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from trajviz.explore.browser import chromium, open_page

    path = tmp_path_factory.mktemp("explore") / "formula.html"
    write_explorer(path, "rosenbrock", opt=["adam"])
    messages: list[str] = []
    with chromium() as browser:
        yield open_page(browser, path, messages=messages)
    assert not messages, messages


def python_accepts(text: str) -> bool:
    try:
        compile_formula(text)
        return True
    except TrajvizError:
        return False


def js_accepts(page, texts):
    return [msg == "" for msg in page.evaluate(CHECK_JS, texts)]


def decode(v):
    return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(v, v) if isinstance(v, str) else v


def torch_value_grad(text, points):
    f = compile_formula(text)
    xy = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    value = f(xy[:, 0], xy[:, 1]).expand(len(points))
    grad = None
    if value.requires_grad:  # not for a constant such as "sin(2)"
        (grad,) = torch.autograd.grad(value.sum(), xy, allow_unused=True)
    grad = torch.zeros_like(xy) if grad is None else grad
    return value.detach().numpy(), grad.numpy()


def js_value_grad(page, texts, points):
    out = page.evaluate(EVAL_JS, [texts, points])
    return [np.array([[decode(v) for v in row] for row in per], dtype=np.float64) for per in out]


def same_value(got, want, rtol):
    if math.isnan(want):
        return math.isnan(got)
    if math.isinf(want):
        return got == want
    return abs(got - want) <= rtol * max(abs(want), 1e-300)


CORPUS = [
    # accepted by the CLI
    "x**2 + 10*y**2", "x^2 + y^2", "-x + (y - 1) * 2", "sin(x) * cos(y) + exp(-abs(x))", "pi * e", "2", "x",
    "(sin)(x)", "sin(x,)", "sin((x))", "--x", "-+-x", "+x", "x ** -y", "2**-x**2", "1_000.000_1e1_0 * x", "0x1F + y",
    "0o17*x", "0b101 - y", "00 + x", "09.5 * x", "1. + .5 * x", "1E+5 * y", "x # a comment", "(x #c\n+ y)",
    "x+\\\ny", "x\f+y", "\fx", "  x  ", "x\r\n", "x\n#c", "x\n\n", "ｘ + 1", "𝑥 * 𝑦", "sigmoid(x) + sign(y)",
    "arcsin(x/3) + arccos(y/3) + arctan(x)", "log1p(x*x) + expm1(y)", "sinh(x) - cosh(y) + tanh(x*y)",
    "sqrt(x*x + y*y)", "1e400 * x", "x / 0", "0 ** -1 + x", "(-8) ** (1/3) + x", "2 ** 1e5 + x", "-(x**2) - 3*y**2",
    "x ^ 0.5", "x ** 3 + y ** -2 + x ** -1 + y ** -0.5", "1 ** x + (-1) ** y", "exp(log(x))", "e ** x", "x ** y",
    "(" * 200 + "x" + ")" * 200,
    # rejected by the CLI
    "", "   ", "x\n+y", "x\v+y", "x\x00", "sin(x)(y)", "sin(x,,)", "sin(,)", "sin()", "sin(x, y)", "sin(x=1)",
    "sin(y=1, x)", "sin(*x)", "1if x else 2", "x\\ y", "1.5.3", "1__0", "0_1", "1e5j", "1j", "x****2", "x***2",
    "x//2", "x % 2", "x @ y", "~x", "()", "(x,)", "x[0]", "x.y", "x.real", "\u00a0x + x\u00a0+ y", "\ufeffx", "1e+",
    "0b", "0b2", "0o8", "0xg", "z + 1", "X + 1", "xy", "2x", "x y", "True + x", "None", "x; y", "x = 1", "lambda: 1",
    "'abc'", "x < y", "x if y else 1", "__import__('os').system('true')", "open('f')", "exec('1')", "sin", "pi(x)",
    "foo(x)", "x(2)", "2(x)", "(" * 201 + "x" + ")" * 201, "((x)", "(x))", "x^^2", "x^*2", "²", "x²", "\x85x+\x85y",
    "</script><script>alert(1)</script>", "x ** 2 #</script><b>", "sin(x)\n+1",
]


def test_page_accepts_exactly_what_the_cli_accepts(page):
    want = [python_accepts(t) for t in CORPUS]
    got = js_accepts(page, CORPUS)
    bad = [(t, w) for t, w, g in zip(CORPUS, want, got) if w != g]
    assert not bad, bad
    assert sum(want) > 40 and len(want) - sum(want) > 50  # the corpus has both kinds


def test_error_messages_match_the_cli(page):
    texts = ["z + 1", "x % 2", "foo(x)", "sin(x, y)", "", "x" * 1001, "1j + x", "x ** ~y"]
    got = page.evaluate(CHECK_JS, texts)
    for text, message in zip(texts, got):
        with pytest.raises(TrajvizError) as err:
            compile_formula(text)
        assert message == str(err.value), text


def test_node_and_length_caps_are_the_clis(page):
    texts = []
    for k in range(90, 101):
        for m in range(0, 4):
            texts.append("x" + "+x" * k + "+1" * m)
    texts += ["x" + " " * 998 + "1", "x" + " " * 997 + "+1", "-" * 198 + "x", "-" * 199 + "x"]
    want = [python_accepts(t) for t in texts]
    assert js_accepts(page, texts) == want
    import ast

    counts = {sum(1 for _ in ast.walk(ast.parse(t, mode="eval"))) for t in texts[:44]}
    assert {MAX_NODES, MAX_NODES + 1} <= counts  # the boundary itself is in the set


def random_formula(rng: random.Random, depth: int = 0) -> str:
    """A random expression of the whitelisted language (most are valid)."""
    r = rng.random()
    if depth > 3 or r < 0.3:
        return rng.choice(["x", "y", "pi", "e", "2", "0.5", "3", "1e-3", "10", "x", "y"])
    if r < 0.55:
        op = rng.choice(["+", "-", "*", "/", "**", "^"])
        a, b = random_formula(rng, depth + 1), random_formula(rng, depth + 1)
        if op in ("**", "^"):
            b = rng.choice(["2", "3", "0.5", "-1", "-2", "1.5", b])
        return f"({a} {op} {b})" if rng.random() < 0.7 else f"{a}{op}{b}"
    if r < 0.65:
        return "-" + random_formula(rng, depth + 1)
    fn = rng.choice(["sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "sign", "atan", "arcsin",
                     "acos", "sinh", "cosh", "log1p", "expm1", "asin", "arctan", "arccos"])
    return f"{fn}({random_formula(rng, depth + 1)})"


def mutate(rng: random.Random, text: str) -> str:
    """A random edit: most of these are no longer valid, some still are."""
    pieces = ["x", "y", "(", ")", "*", "**", "+", "-", "/", ",", " ", ".", "_", "1", "e", "j", "#", "\n", "%", "^",
              "sin", "=", "0x", "[", "'"]
    i = rng.randrange(len(text) + 1)
    kind = rng.random()
    if kind < 0.4 and text:
        return text[:i] + text[i + 1:]
    if kind < 0.8:
        return text[:i] + rng.choice(pieces) + text[i:]
    return text[:i] + rng.choice(pieces) + text[i + 1:]


def test_random_formulas_are_accepted_alike_and_evaluate_alike(page):
    rng = random.Random(12)
    texts = [random_formula(rng) for _ in range(600)]
    texts += [mutate(rng, rng.choice(texts)) for _ in range(1400)]
    want = [python_accepts(t) for t in texts]
    got = js_accepts(page, texts)
    bad = [t for t, w, g in zip(texts, want, got) if w != g]
    assert not bad, bad[:10]
    accepted = [t for t, ok in zip(texts, want) if ok]
    assert len(accepted) > 600 and len(texts) - len(accepted) > 400
    js = js_value_grad(page, accepted, POINTS)
    value_bad, grad_bad = [], []
    for text, out in zip(accepted, js):
        values, grads = torch_value_grad(text, POINTS)
        for k in range(len(POINTS)):
            if not same_value(out[k, 0], values[k], 1e-12):
                value_bad.append((text, POINTS[k], out[k, 0], values[k]))
            for axis in (0, 1):
                want_g, got_g = grads[k, axis], out[k, 1 + axis]
                # where autograd is finite the symbolic gradient must agree
                if math.isfinite(want_g) and not (math.isfinite(got_g)
                                                  and abs(got_g - want_g) <= 1e-9 * max(abs(want_g), 1.0)):
                    grad_bad.append((text, POINTS[k], axis, got_g, want_g))
    assert not value_bad, value_bad[:5]
    assert not grad_bad, grad_bad[:5]


def test_builtin_surfaces_in_the_page_equal_torch_with_their_gradients(page):
    names = S.names()
    texts = [expression(S.get(n)) for n in names]
    rng = np.random.default_rng(0)
    for name, text in zip(names, texts):
        (x0, x1), (y0, y1) = S.get(name).domain
        pts = np.stack([rng.uniform(x0, x1, 25), rng.uniform(y0, y1, 25)], 1)
        out = js_value_grad(page, [text], pts.tolist())[0]
        xy = torch.tensor(pts, dtype=torch.float64, requires_grad=True)
        value = S.get(name)(xy)
        (grad,) = torch.autograd.grad(value.sum(), xy)
        np.testing.assert_allclose(out[:, 0], value.detach().numpy(), rtol=1e-12, err_msg=name)
        scale = np.maximum(np.abs(grad.numpy()), 1e-6)
        assert np.max(np.abs(out[:, 1:] - grad.numpy()) / scale) <= 1e-9, name
