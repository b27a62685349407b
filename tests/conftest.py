"""Fixtures shared by the test modules; shared helper functions live in helpers.py and the plain
references in reference.py, imported by name: no test module imports another."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # helpers.py, reference.py, browser.py

from browser import browser, page  # noqa: E402,F401  (fixtures: a headless Chromium page, see browser.py)
from helpers import ERRORS_TEXT  # noqa: E402

# numba's compile cache for the suite and the commands it starts: one folder, so a run after the
# first loads the kernels instead of compiling them (tests point CHARRNN_CACHE_DIR, from which
# charrnn.nn.kernels would derive it, at temporary folders).
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).parent.parent / ".pytest_cache" / "numba"))


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.txt").write_text(ERRORS_TEXT, encoding="utf-8")
    return tmp_path


@pytest.fixture(autouse=True)
def _kernels_restored():
    """A command run in-process selects its kernels (charrnn.nn.kernels, one choice per process):
    each test starts on the library's default, the NumPy cells, whatever the test before it ran."""
    from charrnn.nn import kernels
    yield
    if kernels.active() != "numpy":
        kernels.select("numpy")
