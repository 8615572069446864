"""What ``trajviz explore`` does: check the setup, write the page, open it in the browser."""

from __future__ import annotations

import re
import tempfile
import webbrowser
from pathlib import Path

from ..atomic import check_writable
from ..errors import TrajvizError
from ..options import RunOptions
from .config import page_config
from .page import write_page


def default_path(surface: str) -> Path:
    """Where the page goes without ``-o``: a folder of trajviz pages in the temporary directory."""
    stem = re.sub(r"[^A-Za-z0-9_.=-]+", "_", surface.split(":")[0]).strip("_") or "explore"
    folder = Path(tempfile.gettempdir()) / "trajviz-explore"
    folder.mkdir(exist_ok=True)
    return folder / f"{stem[:60]}.html"


def explore_command(options: RunOptions, *, output=None, open_browser=None) -> tuple[Path, bool]:
    """Write the explorer page for checked run options; open it when no output was named.
    Returns (path, opened)."""
    if output is not None:
        output = Path(output)
        if output.suffix.lower() not in (".html", ".htm"):
            raise TrajvizError(f"cannot write the explorer to '{output.name}': use a .html file")
        check_writable(output)
    config = page_config(options)
    surface = options.surface if isinstance(options.surface, str) else "explore"
    path = write_page(output if output is not None else default_path(surface), config)
    opened = False
    if open_browser if open_browser is not None else output is None:
        opened = bool(webbrowser.open(path.resolve().as_uri()))
    return path, opened
