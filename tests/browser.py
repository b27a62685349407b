"""A real browser for the HTML pages: Debian's Chromium driven by Playwright's Python client.

Use in a test module:

    from browser import open_page  # the `page` fixture comes from conftest.py

    def test_my_page(page, tmp_path):
        open_page(page, tmp_path / "my.html")      # fails on any console error or page error
        page.click("#something")
        page.screenshot(path=tmp_path / "my.png")

The browser is never downloaded: Chromium must be installed (`apt-get install chromium`, as
.ci/run does); without it (or without the playwright package) these tests are skipped and the
skip line says why. One browser per test session; one fresh page (1280 x 900) per test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHARRNN_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install playwright; make install adds it)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page whose console errors and uncaught exceptions are collected in `page.errors`."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    p = context.new_page()
    p.errors = []
    p.on("console", lambda m: p.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    p.on("pageerror", lambda e: p.errors.append(f"page error: {e}"))
    # Nothing may come from the network: every request but the page's own file is an error.
    p.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
         else p.errors.append(f"network request: {r.url}"))
    yield p
    context.close()


def open_page(page, path, wait_for: str | None = None) -> None:
    """Load a local HTML file, wait until it has settled, and fail on any error so far."""
    page.goto(Path(path).resolve().as_uri(), wait_until="load")
    if wait_for:
        page.wait_for_selector(wait_for)
    page.wait_for_timeout(50)
    assert page.errors == [], page.errors
