"""End to end in headless Chromium: the written file over file://, driven with real mouse and
keyboard events, checked through window.trajviz against trajviz.run.

Fails on any console error. Saves docs/gallery/explore.png, the README's screenshot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import trajviz
from trajviz.cli import cli
from trajviz.explore.browser import needs_chromium

pytestmark = needs_chromium()

GALLERY = Path(__file__).resolve().parent.parent / "docs" / "gallery" / "explore.png"
TOL = 1e-9


@pytest.fixture(scope="module")
def browser():
    from trajviz.explore.browser import chromium

    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The page as a user gets it: from the command line."""
    path = tmp_path_factory.mktemp("explore") / "explorer.html"
    result = CliRunner().invoke(cli, ["explore", "rosenbrock", "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert path.is_file() and "wrote" in result.output
    return path


@pytest.fixture
def messages():
    out: list[str] = []
    yield out
    assert not out, out  # no console message at all: no errors, no warnings, no CSP reports


def open_explorer(browser, path, messages, hash=""):
    from trajviz.explore.browser import open_page

    page = open_page(browser, path, hash=hash, messages=messages)
    page.on("dialog", lambda d: messages.append(f"dialog: {d.message}") or d.dismiss())
    return page


def engine_paths(state) -> dict:
    """trajviz.run's paths for a page state, as {label: [path per start]} (NaN rows dropped, as in its CSV)."""
    result = trajviz.run(state["surface"], state["opt"], steps=state["steps"], start=state["start"],
                         noise=state["noise"], seed=state["seed"], batch_size=state.get("batch_size"),
                         xlim=state.get("xlim"), ylim=state.get("ylim"), dtype="float64", device="cpu")
    out = {}
    for trace in result:
        valid = trace.valid()
        out[trace.label] = [trace.path[valid[:, i], i] for i in range(trace.n_starts)]
    return out


def _err(a, b) -> np.ndarray:
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-3)


def assert_paths_equal(page_paths: dict, state: dict):
    """The page's paths are the engine's: to 1e-9, or to what the path's own conditioning allows
    (10 times how far the engine's path moves when its start moves by one ulp: the tuned heavy ball
    looping on rosenbrock turns last-bit differences into 1e-9 within a few hundred steps;
    test_explore_parity proves 1e-9 method by method on well-conditioned paths)."""
    want = engine_paths(state)
    nudged = engine_paths({**state, "start": [[np.nextafter(x, np.inf), y] for x, y in state["start"]]})
    assert list(page_paths) == list(want)
    for label, per_start in want.items():
        got = page_paths[label]
        assert len(got) == len(per_start)
        for g, w, n in zip(got, per_start, nudged[label]):
            g = np.asarray(g, dtype=np.float64).reshape(-1, 2)
            assert g.shape == w.shape, label
            m = min(len(w), len(n))
            own = np.maximum.accumulate(np.max(_err(n[:m], w[:m]), axis=1)) if m else np.zeros(0)
            tol = np.maximum(TOL, 10 * np.concatenate([own, np.full(len(w) - m, own[-1] if m else 1.0)]))
            assert (np.max(_err(g, w), axis=1) <= tol).all(), label


STEPS = trajviz.surfaces.get("rosenbrock").steps   # the page starts on the CLI's default canvas


def state_of(page) -> dict:
    return page.evaluate("window.trajviz.state")


def test_page_starts_with_the_commands_setup_and_the_engines_paths(browser, written, messages):
    page = open_explorer(browser, written, messages)
    state = state_of(page)
    assert state == {"surface": "rosenbrock", "opt": ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop",
                                                      "adam"], "start": [[-1.5, 2.5]], "steps": STEPS, "noise": 0,
                     "seed": 0}
    assert_paths_equal(page.evaluate("window.trajviz.paths()"), state)
    page.close()


def test_drag_slider_and_formula_rerun_the_paths(browser, written, messages):
    page = open_explorer(browser, written, messages)
    before = page.evaluate("window.trajviz.paths()")

    # drag the start with real mouse events, in many small moves
    start = page.evaluate("window.trajvizLib.app.locate(-1.5, 2.5)")
    target = page.evaluate("window.trajvizLib.app.locate(-0.8, 1.8)")
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    page.mouse.move(target["x"], target["y"], steps=12)
    page.mouse.up()
    state = state_of(page)
    (x, y), = state["start"]
    assert abs(x + 0.8) < 0.02 and abs(y - 1.8) < 0.02 and (x, y) != (-1.5, 2.5)
    after_drag = page.evaluate("window.trajviz.paths()")
    assert after_drag["adam"][0][0] == [x, y]
    assert after_drag["adam"] != before["adam"]
    assert_paths_equal(after_drag, state)

    # move Adam's learning-rate slider with the mouse: click on the track, 80% along
    slider = page.get_by_label("adam lr", exact=True)
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2)
    state = state_of(page)
    adam = [o for o in state["opt"] if o.startswith("adam")]
    assert len(adam) == 1 and adam[0].startswith("adam:lr=") and adam[0] != "adam:lr=0.1"
    after_slider = page.evaluate("window.trajviz.paths()")
    assert list(after_slider)[-1] == adam[0]  # the label trajviz run writes in its CSV
    assert after_slider[adam[0]] != after_drag["adam"]
    assert_paths_equal(after_slider, state)

    # a bad formula: the error beside the box, nothing else changes
    box = page.get_by_label("formula", exact=True)
    box.click()
    page.keyboard.type("x**2 + * y")
    page.keyboard.press("Enter")
    error = page.locator(".tv-error")
    assert "not a valid expression" in error.text_content()
    assert state_of(page) == state

    # a good formula, typed
    box.fill("")
    page.keyboard.type("x**2 + 3*y**2 - x*y + 0.5*sin(3*x)")
    page.keyboard.press("Enter")
    page.wait_for_function("window.trajviz.state.surface.startsWith('x**2')")
    assert error.text_content() == ""
    state = state_of(page)
    assert state["surface"] == "x**2 + 3*y**2 - x*y + 0.5*sin(3*x)"
    assert state["start"] == [[-2.2, 2.2]] and state["steps"] == 300  # a new surface brings its own start
    assert_paths_equal(page.evaluate("window.trajviz.paths()"), state)

    # the address bar holds the setup: another window opened on it shows the same race
    page.wait_for_function("location.hash.includes('surface=x')")
    url = page.url
    other = browser.new_page(viewport={"width": 900, "height": 700})
    other.on("console", lambda m: messages.append(f"other console.{m.type}: {m.text}"))
    other.goto(url)
    other.wait_for_function("window.trajviz && window.trajviz.state !== null")
    assert state_of(other) == state
    assert other.evaluate("window.trajviz.paths()") == page.evaluate("window.trajviz.paths()")
    assert other.locator(".tv-notice").is_hidden()
    other.close()
    page.close()


def test_steps_noise_seed_and_batches_from_the_controls(browser, written, messages):
    page = open_explorer(browser, written, messages)
    page.get_by_label("surface", exact=True).select_option("regression")
    page.get_by_label("batch size").select_option("16")
    noise = page.get_by_label("noise", exact=True)
    noise.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    seed = page.get_by_label("seed", exact=True)
    seed.fill("42")
    seed.press("Enter")
    state = state_of(page)
    assert state["surface"] == "regression" and state["batch_size"] == 16 and state["seed"] == 42
    assert state["noise"] > 0
    paths = page.evaluate("window.trajviz.paths()")
    assert set(paths) == set(state["opt"])
    assert_paths_equal(paths, state)  # noise and minibatches: the engine's seeded streams
    again = page.evaluate("(s) => { window.trajviz.setState(s); return window.trajviz.paths(); }", state)
    assert again == paths
    page.close()


# (hash, text the notice must show literally, or None when the link is valid)
INJECTIONS = [
    ("opt=<img src=x onerror=window.__pwned=1>&opt=adam", "<img src=x onerror"),
    ("surface=<script>window.__pwned=1</script>", "<script>window.__pwned=1</script>"),
    ("surface=" + "x**2 %23<img src=x onerror=window.__pwned=1>".replace(" ", "%20").replace("+", "%2B"), None),
    ("opt=adam:lr=<svg/onload=window.__pwned=1>&start=<b>1</b>,2", "<svg/onload"),
    ("opt=sgd:lr=0.01,momentum=\"><script>window.__pwned=1</script>", "<script>"),
    ("seed=constructor&steps=__proto__&noise=1e999&surface=__proto__", "__proto__"),
    ("%E0%A4%A=1&opt=%3Cimg%20src=x%20onerror=alert(1)%3E", "<img src=x onerror=alert(1)>"),
]


@pytest.mark.parametrize("hash,shown", INJECTIONS)
def test_a_hostile_link_runs_nothing_and_the_page_still_works(browser, written, messages, hash, shown):
    page = open_explorer(browser, written, messages, hash="v=1&" + hash)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img, svg, iframe, object, embed").count() == 0
    assert page.locator("script").count() == 2  # the payload and the program
    notice = page.locator(".tv-notice")
    if shown is None:  # a valid formula with a comment: drawn, its text shown as text
        assert notice.is_hidden()
        assert "<img" in page.locator(".tv-title").text_content()
    else:
        assert notice.is_visible()
        assert shown in notice.text_content()
    # still works: a change re-runs everything
    state = page.evaluate("window.trajviz.setState({start: [[0.5, 0.5]]})")
    assert state["start"] == [[0.5, 0.5]]
    paths = page.evaluate("window.trajviz.paths()")
    assert paths and all(len(p[0]) > 1 for p in paths.values())
    assert page.evaluate("window.__pwned") is None
    page.close()


def test_the_page_cannot_reach_the_network(browser, written):
    page = browser.new_page()
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.goto(written.resolve().as_uri())
    page.wait_for_function("window.trajviz && window.trajviz.state !== null")
    csp = page.locator("meta[http-equiv='Content-Security-Policy']").get_attribute("content")
    assert "default-src 'none'" in csp and "connect-src" not in csp
    outcome = page.evaluate("""async () => {
      try { await fetch('https://example.com/x'); return 'fetched'; } catch (e) { return 'blocked'; } }""")
    assert outcome == "blocked"
    assert [u for u in seen if not u.startswith("file:")] == []
    page.close()


def test_setstate_refuses_bad_input_and_keeps_the_state(browser, written, messages):
    page = open_explorer(browser, written, messages)
    before = state_of(page)
    for bad in ["{steps: -3}", "{opt: ['nope']}", "{surface: 'x**'}", "{start: [[1]]}", "{noise: -1}", "{colour: 1}",
                "{batch_size: 3}", "{opt: ['adam:betas=2/0.9']}"]:
        error = page.evaluate(f"() => {{ try {{ window.trajviz.setState({bad}); return ''; }} catch (e) {{ return e.message; }} }}")
        assert error, bad
        assert state_of(page) == before, bad
    page.close()


def test_screenshot_for_the_readme(browser, written, messages):
    page = open_explorer(browser, written, messages)
    scrub = page.get_by_label("step shown", exact=True)
    box = scrub.bounding_box()
    page.mouse.click(box["x"] + 0.45 * box["width"], box["y"] + box["height"] / 2)  # mid-race
    page.mouse.move(5, 5)
    GALLERY.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(GALLERY))
    assert GALLERY.stat().st_size > 50_000
    page.close()


def test_play_pause_step_scrub_and_starts(browser, written, messages):
    page = open_explorer(browser, written, messages)
    frame = page.locator(".tv-frame")
    assert frame.text_content() == f"step {STEPS} / {STEPS}"
    page.get_by_role("button", name="▶ Play").click()
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="❚❚ Pause").click()
    shown = int(frame.text_content().split()[1])
    assert 0 < shown < STEPS
    page.get_by_role("button", name="Step ›").click()
    assert frame.text_content() == f"step {shown + 1} / {STEPS}"
    page.keyboard.press("ArrowLeft")
    assert frame.text_content() == f"step {shown} / {STEPS}"
    scrub = page.get_by_label("step shown", exact=True)
    box = scrub.bounding_box()
    page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)
    assert frame.text_content().startswith("step 0 ")
    # double-click the map: a start there; double-click that start: gone again
    where = page.evaluate("window.trajvizLib.app.locate(1.0, -0.5)")
    page.mouse.dblclick(where["x"], where["y"])
    starts = state_of(page)["start"]
    assert len(starts) == 2 and abs(starts[1][0] - 1.0) < 0.02 and abs(starts[1][1] + 0.5) < 0.02
    assert all(len(p) == 2 for p in page.evaluate("window.trajviz.paths()").values())
    page.mouse.dblclick(where["x"], where["y"])
    assert len(state_of(page)["start"]) == 1
    page.close()


def test_copy_command_is_the_cli_line_for_the_drawn_race(browser, written, messages, tmp_path):
    import csv
    import io
    import shlex

    page = open_explorer(browser, written, messages)
    page.evaluate("window.trajviz.setState({opt: ['sgd', 'adam:lr=0.05,betas=0.9/0.99', 'momentum:momentum=0.8'],"
                  " start: [[-1.2, 2.0], [1.5, 2.5]], steps: 120})")
    command = page.get_by_label("equivalent command", exact=True).input_value()
    assert command.startswith("trajviz animate rosenbrock --opt sgd --opt adam:lr=0.05,betas=0.9/0.99 ")
    args = shlex.split(command)
    assert args[:2] == ["trajviz", "animate"]
    result = CliRunner().invoke(cli, ["run", *args[2:], "-o", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "p.csv").read_text())))
    drawn = page.evaluate("window.trajviz.paths()")
    for label, per_start in drawn.items():
        for i, path in enumerate(per_start):
            mine = [(float(r["x"]), float(r["y"])) for r in rows if r["optimizer"] == label and int(r["start"]) == i]
            assert len(mine) == len(path)
            np.testing.assert_allclose(np.array(path), np.array(mine), rtol=TOL, atol=1e-12)
    page.close()


def test_view_limits_and_divergence_follow_the_cli(browser, tmp_path, messages):
    path = tmp_path / "limits.html"
    result = CliRunner().invoke(cli, ["explore", "x**2 + 3*y**2", "--xlim", "-1,2", "--ylim", "-1,1", "--opt", "adam",
                                      "--opt", "sgd:lr=0.4", "-o", str(path)])
    assert result.exit_code == 0, result.output
    page = open_explorer(browser, path, messages)
    state = state_of(page)
    assert state["xlim"] == [-1, 2] and state["ylim"] == [-1, 1]
    assert state["start"] == [[pytest.approx(-0.55), pytest.approx(0.7)]]  # the view's corner, as the CLI puts it
    paths = page.evaluate("window.trajviz.paths()")
    assert 1 < len(paths["sgd:lr=0.4"][0]) < 50  # it leaves the box of 5 view widths: divergence
    assert_paths_equal(paths, state)
    assert "--xlim=-1,2 --ylim=-1,1" in page.get_by_label("equivalent command", exact=True).input_value()
    page.close()
