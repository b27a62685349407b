"""Fixtures shared by the test modules; shared helper functions live in helpers.py and the plain
references in reference.py, imported by name: no test module imports another."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # helpers.py, reference.py, browser.py

from browser import browser, page  # noqa: E402,F401  (fixtures: a headless Chromium page, see browser.py)
from helpers import ERRORS_TEXT  # noqa: E402


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.txt").write_text(ERRORS_TEXT, encoding="utf-8")
    return tmp_path
