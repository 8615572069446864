"""The standalone page: one HTML file with everything inline and no network access.

The JavaScript lives in ``static/*.js`` (shared with the notebook widget) and is read
with :mod:`importlib.resources`; the page's payload (:func:`trajviz.explore.config.build_config`)
is embedded as JSON in a ``<script type="application/json">`` element, escaped so that no
text in it can close the element. A Content-Security-Policy forbids every request:
scripts and styles are inline, nothing is fetched.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from pathlib import Path

from ..atomic import atomic_path
from ..errors import TrajvizError

# order matters: each file uses the ones before it
SCRIPTS = ("formula.js", "streams.js", "optim.js", "engine.js", "state.js", "view.js", "app.js")
MAX_BYTES = 2 * 2**20


def static_text(name: str) -> str:
    return resources.files("trajviz.explore").joinpath("static", name).read_text(encoding="utf-8")


def library_source() -> str:
    """The shared JavaScript: ``TV.formula``, ``TV.streams``, ... ``TV.app`` (needs ``const TV = {}`` first)."""
    parts = []
    for name in SCRIPTS:
        text = static_text(name)
        if re.search(r"</script", text, re.IGNORECASE):
            raise AssertionError(f"{name} must not contain '</script'")
        parts.append(f"// ---- {name} ----\n{text}")
    return "\n".join(parts)


def json_for_script(value) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` appear literally."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def page_html(config: dict) -> str:
    """The whole page as text."""
    script = "(function () {\n\"use strict\";\nconst TV = {};\n" + library_source() + "\n" + static_text("boot.js") + "\n})();"
    title = f"trajviz explore: {config['state']['surface']}"
    page = static_text("page.html")
    for marker, text in (("@@TITLE@@", html.escape(title)), ("@@CSS@@", static_text("page.css")),
                         ("@@CONFIG@@", json_for_script(config)), ("@@SCRIPT@@", script)):
        page = page.replace(marker, text, 1)
    return page


def write_page(path, config: dict) -> Path:
    """Write the page to ``path`` atomically; returns the path."""
    text = page_html(config)
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise TrajvizError(f"the page would be {size / 2**20:.1f} MiB (at most {MAX_BYTES / 2**20:.0f} MiB)")
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return path
