"""The notebook widget: traits round-trip, kernel mode recomputes, the MIME bundle, and its
ES module running in Chromium against a stand-in for Jupyter's model, bridged to the Python
widget (as a kernel and a front end talk)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("anywidget", reason='the widget needs the explore extra: pip install "trajviz-optim[explore]"')

import trajviz  # noqa: E402
import trajviz.explore  # noqa: E402
import trajviz.optimizers as O  # noqa: E402
import trajviz.surfaces as S  # noqa: E402
from trajviz.errors import TrajvizError  # noqa: E402
from trajviz.explore.browser import needs_chromium  # noqa: E402
from trajviz.explore.widget import Explorer, esm_source  # noqa: E402


@pytest.fixture
def registered():
    """A notebook's own surface (not writable as a formula) and optimizer (not a built-in class)."""

    class HeavyBall(torch.optim.SGD):
        pass

    S.register("valley", lambda x, y: torch.where(x > 0, x**2, 2 * x**2) + 5 * y**2, domain=((-2, 2), (-2, 2)),
               start=(-1.5, 1.5), replace_existing=True)
    O.register("heavyball", HeavyBall, defaults={"momentum": 0.95}, analogy="a very heavy ball", replace_existing=True)
    yield
    del S._REGISTRY["valley"], O._REGISTRY["heavyball"]


def test_trajviz_explore_is_the_widget_function():
    w = trajviz.explore("beale", opt=["adam", "momentum"])
    assert isinstance(w, Explorer) and not w.kernel
    assert w.state == {"surface": "beale", "opt": ["adam", "momentum"], "start": [[1.0, 1.5]], "steps": 500,
                       "noise": 0.0, "seed": 0}


def test_traits_round_trip_through_the_wire_format():
    w = Explorer("regression", ["sgd", "adam:lr=0.05"], batch_size=16, seed=3)
    synced = w.get_state()
    for key in ("config", "state", "kernel", "request", "result", "height", "_esm", "_css"):
        assert key in synced, key
    wire = json.loads(json.dumps(synced, allow_nan=False))  # what travels is plain JSON
    assert wire["state"] == w.state and wire["state"]["batch_size"] == 16
    # a front end's update comes back in through set_state (ipywidgets' own entry point)
    front = {**w.state, "start": [[0.5, 0.5]], "seed": 9}
    w.set_state({"state": front, "result": {"paths": {"sgd": [[[0.5, 0.5], [0.6, 0.4]]]}}})
    assert w.state == front
    assert w.paths() == {"sgd": [[[0.5, 0.5], [0.6, 0.4]]]}
    other = Explorer("regression", ["sgd"])
    other.set_state(json.loads(json.dumps(w.get_state(), allow_nan=False)))
    assert other.state == w.state and other.config == w.config


def test_page_mode_setstate_checks_like_the_cli():
    w = Explorer("rosenbrock", ["adam"])
    assert w.setState({"start": [[0.0, 0.0]], "steps": 20})["start"] == [[0.0, 0.0]]
    before = dict(w.state)
    for bad in ({"steps": 0}, {"opt": ["nope"]}, {"surface": "x**"}, {"colour": 1}, {"batch_size": 3}):
        with pytest.raises(TrajvizError):
            w.setState(bad)
        assert w.state == before


def test_kernel_mode_recomputes_with_the_right_shapes(registered):
    w = trajviz.explore("valley", opt=["heavyball", "adam"], kernel=True, steps=40)
    assert w.state["opt"] == ["heavyball", "adam"]
    first = w.paths()
    assert {k: (len(v), len(v[0]), len(v[0][0])) for k, v in first.items()} == {"heavyball": (1, 41, 2),
                                                                                "adam": (1, 41, 2)}
    # a front end's request, as it arrives over the comm
    w.set_state({"request": {"seq": 7, "partial": {"start": [[1.0, 1.0], [-1.0, 0.5], [0.2, -1.0]], "steps": 25}}})
    assert w.result["seq"] == 7 and "error" not in w.result
    for trace in w.result["traces"]:
        assert np.array(trace["path"], dtype=float).shape == (26, 3, 2)
        assert np.array(trace["loss"], dtype=float).shape == (26, 3)
        assert len(trace["diverged_at"]) == 3
    assert w.state["start"] == [[1.0, 1.0], [-1.0, 0.5], [0.2, -1.0]]
    assert {k: (len(v), len(v[0])) for k, v in w.paths().items()} == {"heavyball": (3, 26), "adam": (3, 26)}
    # the kernel's paths are trajviz.run's
    want = trajviz.run("valley", ["heavyball", "adam"], steps=25, start=w.state["start"], dtype="float64")
    np.testing.assert_array_equal(np.array(w.paths()["adam"]), want["adam"].path.transpose(1, 0, 2))
    # the grid for the contours comes from the kernel (this surface is not a formula)
    assert np.array(w.result["grid"]["z"], dtype=float).shape == (160, 160)
    # a bad request is answered with the error, and nothing changes
    before = dict(w.state)
    w.set_state({"request": {"seq": 8, "partial": {"surface": "x**"}}})
    assert w.result["seq"] == 8 and "not a valid expression" in w.result["error"] and w.result["field"] == "surface"
    assert w.state == before
    # a new surface brings its own start and steps
    w.setState({"surface": "beale"})
    assert w.state["start"] == [[1.0, 1.5]] and w.state["steps"] == 500


def test_page_mode_leaves_out_what_the_page_cannot_run(registered):
    w = Explorer("rosenbrock", ["heavyball", "adam"])
    assert w.state["opt"] == ["adam"]
    assert any("heavyball" in note for note in w.config["notes"])
    assert "valley" not in [s["key"] for s in w.config["surfaces"]]
    assert any("valley" in note for note in w.config["notes"])


def test_mime_bundle():
    w = Explorer("beale", ["adam"])
    bundle = w._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    view = data["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == w.model_id and view["version_major"] == 2
    assert "Explorer" in data["text/plain"]


def test_the_module_is_the_shared_library_plus_the_widget_entry():
    src = esm_source()
    assert src.startswith("const TV = {};")
    assert "export default { render }" in src
    for part in ("TV.formula =", "TV.optim =", "TV.streams =", "TV.engine =", "TV.app ="):
        assert part in src
    import re

    code = "\n".join(line.split("//")[0] for line in src.splitlines())  # without the comments
    assert not re.search(r"\beval\s*\(|new\s+Function\b|innerHTML|outerHTML|insertAdjacentHTML|document\.write", code)


# ---- the front end, in Chromium, bridged to the Python widget ---------------------------------
MODEL_JS = """async ([src, initial]) => {
  const data = JSON.parse(JSON.stringify(initial)), handlers = {}, changed = new Set();
  const model = {
    get: (k) => data[k],
    set: (k, v) => { data[k] = v; changed.add(k); },
    save_changes: () => {
      const out = {};
      for (const k of changed) out[k] = data[k];
      changed.clear();
      window.toKernel(JSON.stringify(out));
    },
    on: (e, cb) => { (handlers[e] = handlers[e] || []).push(cb); },
    off: () => {},
    receive: (patch) => {
      for (const [k, v] of Object.entries(patch)) {
        data[k] = v;
        (handlers["change:" + k] || []).forEach((cb) => cb());
      }
    },
  };
  window.model = model;
  const style = document.createElement("style");
  style.textContent = initial._css;
  document.head.append(style);
  const el = document.createElement("div");
  el.style.width = "1100px";
  document.body.append(el);
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  const mod = await import(url);
  mod.default.render({ model, el });
  return true;
}"""


class Bridge:
    """Carries trait changes between the widget object and the page, as a comm would."""

    def __init__(self, page, widget):
        self.page, self.widget, self.inbox = page, widget, []
        self.log = []  # every message the front end sent
        page.expose_function("toKernel", lambda text: (self.inbox.append(json.loads(text)),
                                                        self.log.append(json.loads(text))))
        self.outbox = []
        for name in ("state", "result"):
            widget.observe(lambda change: self.outbox.append({change["name"]: change["new"]}), names=[name])

    def pump(self, rounds=40):
        """Deliver messages both ways until nothing has moved for a quarter of a second."""
        idle = 0
        for _ in range(rounds):
            self.page.wait_for_timeout(50)
            if not self.inbox and not self.outbox:
                idle += 1
                if idle >= 5:
                    return
                continue
            idle = 0
            while self.inbox:
                self.widget.set_state(self.inbox.pop(0))
            while self.outbox:
                self.page.evaluate("(patch) => window.model.receive(patch)", self.outbox.pop(0))


@needs_chromium()
@pytest.mark.parametrize("kernel", [False, True])
def test_the_front_end_runs_in_a_browser(kernel, registered):
    from trajviz.explore.browser import chromium

    surface, opt = ("valley", ["heavyball", "adam"]) if kernel else ("beale", ["adam", "momentum"])
    w = Explorer(surface, opt, kernel=kernel, steps=60, height=600)
    messages: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 700})
        page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
        page.goto("about:blank")
        bridge = Bridge(page, w)
        page.evaluate(MODEL_JS, [esm_source(), {k: v for k, v in w.get_state().items()}])
        bridge.pump()
        assert page.locator(".tv-card").count() == 2
        # a change made in the front end (a new start, as a drag's end sends it)
        page.get_by_role("button", name="+ start").click()
        bridge.pump()
        assert len(w.state["start"]) == 2
        before_drag = [list(p) for p in w.state["start"]]
        paths = w.paths()
        assert set(paths) == set(w.state["opt"]) and all(len(p) == 2 for p in paths.values())
        if not kernel:  # what the page drew equals the engine (noise-free)
            want = trajviz.run(surface, opt, steps=60, start=w.state["start"], dtype="float64")
            np.testing.assert_allclose(np.array(paths["adam"]), want["adam"].path.transpose(1, 0, 2), rtol=1e-9)
        # a real drag of the first start: in kernel mode the kernel re-runs once, on release
        requests = len([1 for m in bridge.log if "request" in m])
        begin = page.evaluate("document.querySelector('.tv-widget').trajviz.locate(...window.model.get('state').start[0])")
        page.mouse.move(begin["x"], begin["y"])
        page.mouse.down()
        page.mouse.move(begin["x"] + 60, begin["y"] + 40, steps=8)
        page.mouse.up()
        bridge.pump()
        moved = w.state["start"][0]
        assert moved != before_drag[0]
        assert len([1 for m in bridge.log if "request" in m]) == requests + (1 if kernel else 0)
        assert [p[0][0] for p in w.paths().values()] == [moved] * len(w.paths())
        # a change made in Python reaches the drawing
        w.setState({"steps": 30})
        bridge.pump()
        assert page.locator(".tv-frame").text_content() == "step 30 / 30"
        page.close()
    assert not messages, messages
