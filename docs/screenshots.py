"""Screenshots of the HTML pages for the README, taken in headless Chromium (`make screenshots`).

    python docs/screenshots.py --compare shots-out/compare.html --cells shots-out/cells.html --out docs

writes docs/compare.png (the table and both curves), docs/inspect-cells.png (the top of the page:
ranking, saturation and the gallery of the strongest units) and docs/inspect-cells-text.png (the
text coloured by the strongest unit, with the info line of one hovered character). Needs Debian's
chromium (/usr/bin/chromium, or CHARRNN_CHROMIUM) and the playwright package (the dev extra);
it never downloads a browser.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

CHROMIUM = os.environ.get("CHARRNN_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
WIDTH = 1280


def _open(browser, path: Path, height: int):
    page = browser.new_page(viewport={"width": WIDTH, "height": height}, device_scale_factor=1)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page, errors


def compare_shot(browser, html: Path, out: Path) -> None:
    page, errors = _open(browser, html, 900)
    page.wait_for_selector("#c-step circle")
    bottom = page.locator("#charts").bounding_box()
    page.set_viewport_size({"width": WIDTH, "height": int(bottom["y"] + bottom["height"] + 50)})
    box = page.locator("#c-step").bounding_box()  # the tooltip of the middle of the run
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
    page.screenshot(path=out / "compare.png")
    _check(errors, html)


def cells_shots(browser, html: Path, out: Path) -> None:
    page, errors = _open(browser, html, 900)
    page.wait_for_selector("body[data-ready]", timeout=60_000)
    bottom = page.locator("#gallery").bounding_box()
    page.set_viewport_size({"width": WIDTH, "height": int(bottom["y"] + min(bottom["height"], 620) + 30)})
    page.screenshot(path=out / "inspect-cells.png")
    page.set_viewport_size({"width": WIDTH, "height": 640})
    page.locator("#text").scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, document.getElementById('text').offsetTop + 200)")  # the toolbar stuck on top
    spans = page.locator("#text span")
    target = min(spans.count() - 1, 700)
    spans.nth(target).hover()
    page.screenshot(path=out / "inspect-cells-text.png")
    _check(errors, html)


def _check(errors: list, html: Path) -> None:
    if errors:
        sys.exit(f"error: {html} logged errors in the browser: {errors}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compare", type=Path, help="the page of `charrnn compare --html`")
    ap.add_argument("--cells", type=Path, help="the page of `charrnn inspect-cells --html`")
    ap.add_argument("--out", type=Path, default=Path("docs"))
    a = ap.parse_args()
    if not Path(CHROMIUM).is_file():
        sys.exit(f"error: Chromium not found at {CHROMIUM}\nhint: apt-get install chromium (never `playwright install`)")
    from playwright.sync_api import sync_playwright

    a.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        if a.compare:
            compare_shot(browser, a.compare, a.out)
        if a.cells:
            cells_shots(browser, a.cells, a.out)
        browser.close()
    for name in ("compare.png", "inspect-cells.png", "inspect-cells-text.png"):
        if (a.out / name).exists():
            print(f"wrote {a.out / name}", file=sys.stderr)


if __name__ == "__main__":
    main()
