"""The page builder, without a browser: surfaces written as formulas, the payload, the file
(self-contained, offline, escaped, atomic, under 2 MB) and the ``trajviz explore`` command."""

from __future__ import annotations

import json
import re

import pytest
import torch
from click.testing import CliRunner

import trajviz.surfaces as S
from trajviz.cli import cli
from trajviz.errors import TrajvizError
from trajviz.explore import build_config, page_html, write_explorer
from trajviz.explore.expression import compare_on_grid, expression, verified_expression
from trajviz.explore.page import MAX_BYTES


@pytest.mark.parametrize("name", S.names())
def test_every_builtin_surface_is_a_formula_equal_to_its_torch_definition(name):
    surface = S.get(name)
    text = expression(surface)
    assert text is not None, f"{name} cannot be written as a formula"
    assert compare_on_grid(surface, text, points=101) <= 1e-12
    assert verified_expression(surface) == text


@pytest.mark.parametrize("spec", ["quadratic:kappa=25,angle=30", "rosenbrock:a=2,b=10", "quadratic:angle=-45"])
def test_surface_parameters_are_written_at_full_precision(spec):
    surface = S.get(spec)
    assert compare_on_grid(surface, expression(surface), points=101) == 0.0




def test_untraceable_surfaces_are_refused():
    import trajviz.surfaces as surfaces

    surfaces.register("piecewise", lambda x, y: torch.where(x > 0, x, y), domain=((-1, 1), (-1, 1)),
                      replace_existing=True)
    surfaces.register("indexed", lambda x, y: (x * y)[..., None][..., 0], domain=((-1, 1), (-1, 1)),
                      replace_existing=True)
    try:
        assert expression(S.get("piecewise")) is None
        assert expression(S.get("indexed")) is None
    finally:
        del surfaces._REGISTRY["piecewise"], surfaces._REGISTRY["indexed"]


def embedded_config(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="trajviz-config">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_the_page_is_one_self_contained_offline_file(tmp_path):
    path = write_explorer(tmp_path / "e.html", "rosenbrock")
    html = path.read_text()
    assert len(html.encode()) < MAX_BYTES
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "default-src 'none'" in csp and "connect-src" not in csp
    assert not re.search(r"<(script|img|link|iframe)[^>]*\b(src|href)=", html, re.I)  # nothing loaded
    assert html.count("<script") == 2 and html.count("</script>") == 2
    config = embedded_config(html)
    keys = {s["key"] for s in config["surfaces"]}
    assert set(S.names()) <= keys  # every built-in surface, with the regression data for minibatches
    assert len(config["data"]["regression"]["f"]) == 1000


def test_the_payload_cannot_close_its_script_element(tmp_path):
    text = "x**2 + y**2 #</script><script>alert(1)</script> & <!--"
    path = write_explorer(tmp_path / "e.html", text, opt=["adam"])
    html = path.read_text()
    assert html.count("</script>") == 2 and "<!--" not in html.split("<body>")[1]
    assert embedded_config(html)["state"]["surface"] == text


def test_state_is_in_the_clis_terms():
    config = build_config("quadratic:kappa=25,angle=30", ["sgd", "Adam:lr=0.05", "all"], start=[(1, 1), (-2, 0.5)],
                          steps=120, noise=0.3, seed=4)
    assert config["state"] == {"surface": "quadratic:kappa=25,angle=30",
                               "opt": ["sgd", "Adam:lr=0.05", "sgd", "momentum", "nesterov", "adagrad", "adadelta",
                                       "rmsprop", "adam"],
                               "start": [[1.0, 1.0], [-2.0, 0.5]], "steps": 120, "noise": 0.3, "seed": 4}
    assert config["surfaces"][0]["key"] == "quadratic:kappa=25,angle=30"
    assert build_config("regression", "sgd", batch_size=16)["state"]["batch_size"] == 16
    assert build_config("regression", "sgd")["state"]["batch_size"] is None


@pytest.mark.parametrize("kwargs,message", [
    (dict(surface="x**"), "not a valid expression"),
    (dict(surface="nope"), "unknown surface"),
    (dict(opt=["nope"]), "unknown optimizer"),
    (dict(steps=0), "bad steps"),
    (dict(steps=10**6), "at most 5,000 steps"),
    (dict(batch_size=16), "batch size needs"),
    (dict(seed=2**60), "seeds up to 2\\*\\*53 - 1"),
    (dict(opt=["adam:fused=true"]), "none of the selected optimizers"),
])
def test_bad_setups_fail_before_anything_is_written(kwargs, message):
    surface = kwargs.pop("surface", "rosenbrock")
    with pytest.raises(TrajvizError, match=message):
        build_config(surface, kwargs.pop("opt", "all"), **kwargs)


def test_a_users_optimizer_class_is_left_out_with_a_note(tmp_path, monkeypatch):
    (tmp_path / "explore_shaky_opt.py").write_text("import torch\n\nclass Shaky(torch.optim.SGD):\n    pass\n")
    monkeypatch.chdir(tmp_path)
    config = build_config("rosenbrock", ["explore_shaky_opt:Shaky", "adam"])
    assert config["state"]["opt"] == ["adam"]
    assert any("'explore_shaky_opt:Shaky' is not in the page" in n and "kernel mode" in n for n in config["notes"])
    assert "explore_shaky_opt:Shaky" not in json.dumps(config["optimizers"])


def test_the_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "e.html"
    target.write_text("old")
    import trajviz.explore.page as page

    def broken(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(page, "page_html", broken)
    with pytest.raises(KeyboardInterrupt):
        page.write_page(target, build_config("beale", ["adam"]))
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["e.html"]


def test_command_writes_and_opens_the_page(tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    runner = CliRunner()
    r = runner.invoke(cli, ["explore", "beale", "--opt", "adam", "--opt", "momentum", "--steps", "80"])
    assert r.exit_code == 0, r.output
    page = tmp_path / "trajviz-explore" / "beale.html"
    assert opened == [page.resolve().as_uri()]
    assert f"wrote {page}" in r.output and "opened it in your browser" in r.output
    assert embedded_config(page.read_text())["state"]["steps"] == 80
    r = runner.invoke(cli, ["explore", "--opt", "sgd", "-o", str(tmp_path / "mine.html")])
    assert r.exit_code == 0 and len(opened) == 1  # -o writes without opening
    assert embedded_config((tmp_path / "mine.html").read_text())["state"]["surface"] == "rosenbrock"


@pytest.mark.parametrize("args,message", [
    (["rosenbrock", "-o", "x.png"], "use a .html file"),
    (["x**2 +"], "not a valid expression"),
    (["rosenbrock", "--opt", "nope"], "unknown optimizer"),
])
def test_command_errors_are_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("webbrowser.open", lambda url: pytest.fail("must not open"))
    r = CliRunner().invoke(cli, ["explore", *args])
    assert r.exit_code == 2
    assert r.output.startswith("Error: ") and message in r.output and r.output.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_help_has_an_example():
    r = CliRunner().invoke(cli, ["explore", "--help"])
    assert r.exit_code == 0 and "Example" in r.output and "trajviz explore" in r.output


def test_page_text_has_no_eval_or_html_injection_points():
    html = page_html(build_config("beale", ["adam"]))
    script = html.split("<script>")[1]
    code = "\n".join(line.split("//")[0] for line in script.splitlines())
    assert not re.search(r"\beval\s*\(|new\s+Function\b|innerHTML|outerHTML|insertAdjacentHTML|document\.write", code)


def test_the_page_shades_repeats_of_a_method_as_the_renderer_does():
    """view.js keeps its own copy of render/style.py's shade table (the page has no Python): the
    shade amounts, in order, must stay the same."""
    import re
    from pathlib import Path

    from trajviz.render.style import _SHADES

    js = (Path(__file__).resolve().parent.parent / "trajviz" / "explore" / "static" / "view.js").read_text()
    table = re.search(r"const SHADES = \[(.*?)\];", js).group(1)
    amounts = [float(a) for a in re.findall(r"\[(-?[\d.]+), (?:null|\[)", table)]
    assert amounts == [a for a, _ in _SHADES]
