"""Shell completion (issue 11, item 15): surface names, optimizer names and explain's methods complete,
and completing never imports torch (a TAB press must be instant)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import trajviz.lessons
import trajviz.optimizers as O
import trajviz.surfaces as S

# the registries as a fresh process sees them (other tests register surfaces and optimizers of their own)
SURFACES, OPTIMIZERS = tuple(S.names()), tuple(O.names())

# completes the way bash does, then says which heavy modules the completion imported
PROBE = r"""
import atexit, json, sys
atexit.register(lambda: sys.stderr.write(json.dumps({m: m in sys.modules for m in ("torch", "matplotlib")})))
from trajviz.cli import main
main()
"""


def complete(words: str, shell: str = "bash") -> tuple[list[str], dict]:
    """What ``trajviz`` offers for the last word of ``words`` (a real process, click's protocol)."""
    parts = words.split(" ")
    env = {**os.environ, "_TRAJVIZ_COMPLETE": f"{shell}_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(parts) - 1)}
    if shell == "zsh":
        env["COMP_CWORD"] = str(len(parts) - 1)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    heavy = json.loads(done.stderr.strip().splitlines()[-1])
    if shell == "bash":
        values = [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]
    else:   # zsh: type, value, help, one per line
        lines = done.stdout.splitlines()
        values = [lines[i + 1] for i in range(0, len(lines), 3)]
    return values, heavy


@pytest.mark.parametrize("words,expected", [
    ("trajviz run ros", ["rosenbrock"]),
    ("trajviz animate qu", ["quadratic"]),
    ("trajviz plot s", [n for n in SURFACES if n.startswith("s")]),
    ("trajviz run --opt ad", [n for n in OPTIMIZERS if n.startswith("ad")]),
    ("trajviz animate --opt a", ["all"] + [n for n in OPTIMIZERS if n.startswith("a")]),
    ("trajviz sweep --opt a", [n for n in OPTIMIZERS if n.startswith("a")]),
    ("trajviz explain ", trajviz.lessons.supported()),
    ("trajviz explain r", ["rmsprop"]),
    ("trajviz explain adam --surface be", ["beale"]),
    ("trajviz run --opt adam:", []),
])
def test_names_complete_without_importing_torch(words, expected):
    values, heavy = complete(words)
    assert values == expected
    assert heavy == {"torch": False, "matplotlib": False}


def test_every_registered_name_completes():
    values, _ = complete("trajviz run ")
    assert values == list(SURFACES)
    values, _ = complete("trajviz run --opt ")
    assert values == ["all", *OPTIMIZERS]


def test_zsh_completes_too():
    values, heavy = complete("trajviz explain ada", shell="zsh")
    assert values == ["adagrad", "adadelta", "adam"] and not heavy["torch"]


def test_completion_api_in_process():
    """The same through click's ShellComplete API (what the shell scripts call)."""
    from click.shell_completion import ShellComplete

    from trajviz.cli import cli

    comp = ShellComplete(cli, {}, "trajviz", "_TRAJVIZ_COMPLETE")
    assert [c.value for c in comp.get_completions(["run"], "him")] == ["himmelblau"]
    assert [c.value for c in comp.get_completions(["explain"], "mom")] == ["momentum"]
    assert "nadam" in [c.value for c in comp.get_completions(["plot", "--opt"], "n")]
