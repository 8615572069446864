"""The source distribution a newcomer downloads (issue 11, items 14 and 21): it builds without
warnings, holds what the tests need and the pictures the long description shows, and its tests
run from the unpacked archive."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _setuptools_at_least(major: int) -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= major


pytestmark = pytest.mark.skipif(not (ROOT / "pyproject.toml").is_file() or not _setuptools_at_least(77),
                                reason="needs the project's source tree and setuptools >= 77 (the build's own)")


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    """The sdist as ``python -m build --sdist`` makes it (the same PEP 517 hook, without isolation)."""
    out = tmp_path_factory.mktemp("sdist")
    code = "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (archive,) = out.glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        pkg_info = tar.extractfile(next(n for n in names if n.count("/") == 1 and n.endswith("PKG-INFO"))).read()
    prefix = names[0].split("/")[0] + "/"
    files = {n[len(prefix):] for n in names if n.startswith(prefix)}
    return dict(archive=archive, files=files, log=done.stdout + done.stderr, pkg_info=pkg_info.decode())


def test_build_does_not_warn(sdist):
    """``project.license`` as a TOML table was deprecated (setuptools warned on every build)."""
    log = sdist["log"]
    assert "project.license" not in log and "SetuptoolsDeprecationWarning" not in log, log[-2000:]
    assert not re.search(r"^warning:", log, re.M), [ln for ln in log.splitlines() if ln.startswith("warning")]
    assert "License-Expression: MIT" in sdist["pkg_info"] and "License-File: LICENSE" in sdist["pkg_info"]


def test_sdist_holds_what_the_tests_need(sdist):
    """It lacked tests/conftest.py (so the CUDA test ran without a GPU) and examples/ (the notebook test)."""
    files = sdist["files"]
    wanted = {"tests/conftest.py", "examples/quickstart.ipynb", "README.md", "LICENSE", "pyproject.toml"}
    wanted |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").glob("*.py")}
    assert wanted <= files, sorted(wanted - files)


def test_sdist_holds_every_picture_the_long_description_shows(sdist):
    """The README (the long description) linked 15 gallery images the sdist did not ship."""
    readme = (ROOT / "README.md").read_text()
    links = set(re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", readme)) | set(re.findall(r'<img[^>]+src="([^"]+)"', readme))
    local = {link.split("#")[0] for link in links if not re.match(r"[a-z]+://", link)}
    assert local, "the README shows no pictures?"
    assert local <= sdist["files"], sorted(local - sdist["files"])


def test_test_extra_installs_the_mp4_encoder():
    """The mp4 test was always skipped: no extra installed imageio-ffmpeg for the tests."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(req.startswith("imageio-ffmpeg") for req in extras["test"])


@pytest.mark.slow
def test_tests_run_from_the_unpacked_sdist(sdist, tmp_path):
    """From the unpacked archive (the package on the path, as ``pip install .`` would put it): the
    conftest skips the CUDA test without a GPU, the notebook is found, the README is read."""
    with tarfile.open(sdist["archive"]) as tar:
        tar.extractall(tmp_path, filter="data")
    (root,) = tmp_path.iterdir()
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                           "tests/test_engine.py", "tests/test_notebook.py", "tests/test_cli.py::test_list_tables",
                           "tests/test_packaging.py::test_sdist_holds_what_the_tests_need"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:]
    import torch

    if not torch.cuda.is_available():
        assert "needs a CUDA GPU" in done.stdout
