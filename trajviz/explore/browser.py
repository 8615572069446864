"""Headless Chromium for the explorer's tests and benchmark (playwright driving Debian's chromium).

No browser is downloaded: playwright's Python package drives the system's Chromium through
``executable_path``. Network features that would phone home are switched off.

>>> with chromium() as browser:                       # doctest: +SKIP
...     page = open_page(browser, "explorer.html")
...     page.evaluate("window.trajviz.state")
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-extensions", "--no-first-run", "--mute-audio"]
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def find_chromium() -> str | None:
    """The system Chromium (``$TRAJVIZ_CHROMIUM``, then Debian's path, then ``chromium`` on PATH), or None."""
    for path in (os.environ.get("TRAJVIZ_CHROMIUM"), *CANDIDATES, shutil.which("chromium")):
        if path and Path(path).is_file() and os.access(path, os.X_OK):
            return path
    return None


def needs_chromium():
    """A pytest mark: skip without Chromium, with the reason, unless $TRAJVIZ_REQUIRE_BROWSER is set
    (CI sets it, so that a missing browser fails there instead of skipping)."""
    import pytest

    missing = find_chromium() is None and not os.environ.get("TRAJVIZ_REQUIRE_BROWSER")
    return pytest.mark.skipif(missing, reason="needs Chromium: apt-get install -y chromium (.ci/run installs it)")


@contextlib.contextmanager
def chromium():
    """A headless Chromium browser (playwright's sync API), closed on exit."""
    from playwright.sync_api import sync_playwright

    path = find_chromium()
    if path is None:
        raise RuntimeError("no Chromium found: apt-get install -y chromium (or set TRAJVIZ_CHROMIUM)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, path, *, width: int = 1280, height: int = 720, hash: str = "", messages: list | None = None):
    """Open a written page over file://, collecting console messages and page errors in ``messages``."""
    page = browser.new_page(viewport={"width": width, "height": height})
    if messages is not None:
        page.on("console", lambda m: messages.append(f"console.{m.type}: {m.text}"))
        page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    page.goto(Path(path).resolve().as_uri() + (("#" + hash.lstrip("#")) if hash else ""))
    page.wait_for_function("window.trajviz && window.trajviz.state !== null")
    return page


__all__ = ["find_chromium", "needs_chromium", "chromium", "open_page", "CHROMIUM_ARGS"]
