"""Screenshots of the HTML pages for the README, taken in headless Chromium (`make screenshots`).

    python docs/screenshots.py --compare runs/compare.html --cells runs/cells.html --out docs

writes docs/compare.png (the table and both curves), docs/inspect-cells.png (the top of the page:
ranking, saturation and the gallery of the strongest units) and docs/inspect-cells-text.png (the
text coloured by the strongest unit, with the info line of one hovered character),
docs/inspect-cells-live.png (the live panel: a typed text, the strongest unit zeroed, a sample) and
docs/inspect-memory.png (the whole inspect-memory page, with `--memory runs/memory.html`) and
docs/train-live.png (the page of `train --live`, with `--live live.html`). Needs Debian's
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


LIVE_TEXT = 'def area(self, width, height):\n    """Return the area."""\n    if width > 0:\n        return width * height\n'


def live_shot(browser, html: Path, out: Path, text: str = LIVE_TEXT) -> None:
    """The live panel of the cells page: a typed text coloured by the page's first unit, the
    ranked units' values, the top-3 guesses, the best unit of another probe zeroed, and a sample
    beside the intact one."""
    page, errors = _open(browser, html, 900)
    page.wait_for_selector("body[data-ready]", timeout=60_000)
    if page.evaluate("() => !!window.charrnn.off"):
        _check(errors + ["the live panel is off: " + page.evaluate("() => window.charrnn.off")], html)
    page.fill("#livein", text)
    other = page.evaluate("""() => {  // a strong unit of another probe than the page's first unit: zero it
      var D = JSON.parse(document.getElementById('data').textContent), first = D.units[D.first];
      var r = D.ranking.find(r => !r.weak && r.rank === 1 && D.units[r.unit].label !== first.label
                             && D.units[r.unit].index !== first.index) || D.ranking[0], u = D.units[r.unit];
      return u.layer + ':' + (u.kind === 'tanh(c)' ? 'c' : u.kind) + ':' + u.index; }""")
    page.select_option("#holdunit", other)
    page.select_option("#holdmode", "zero")
    page.fill("#slen", "240")
    page.click("#sample")
    head = page.locator("#livehead").bounding_box()
    box = page.locator("#live").bounding_box()
    page.set_viewport_size({"width": WIDTH, "height": int(box["y"] + box["height"] - head["y"] + 30)})
    page.evaluate("window.scrollTo(0, document.getElementById('livehead').offsetTop - 10)")
    page.screenshot(path=out / "inspect-cells-live.png")
    _check(errors, html)


def train_live_shot(browser, html: Path, out: Path) -> None:
    """The page of `train --live`: curves, |r| over the steps, samples and the first heat maps."""
    page, errors = _open(browser, html, 900)
    page.wait_for_selector("body[data-ready]")
    box = page.locator("#heat").bounding_box()
    page.set_viewport_size({"width": WIDTH, "height": int(box["y"] + min(box["height"], 200) + 10)})
    page.screenshot(path=out / "train-live.png")
    _check(errors, html)


def memory_shot(browser, html: Path, out: Path) -> None:
    page, errors = _open(browser, html, 900)
    page.wait_for_timeout(300)  # the charts are drawn by the page's script on load
    page.screenshot(path=out / "inspect-memory.png", full_page=True)
    _check(errors, html)


def _check(errors: list, html: Path) -> None:
    if errors:
        sys.exit(f"error: {html} logged errors in the browser: {errors}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compare", type=Path, help="the page of `charrnn compare --html`")
    ap.add_argument("--cells", type=Path, help="the page of `charrnn inspect-cells --html`")
    ap.add_argument("--memory", type=Path, help="the page of `charrnn inspect-memory --html`")
    ap.add_argument("--live", type=Path, help="the page of `charrnn train --live`")
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
            live_shot(browser, a.cells, a.out)
        if a.memory:
            memory_shot(browser, a.memory, a.out)
        if a.live:
            train_live_shot(browser, a.live, a.out)
        browser.close()
    for name in ("compare.png", "inspect-cells.png", "inspect-cells-text.png", "inspect-cells-live.png",
                 "inspect-memory.png", "train-live.png"):
        if (a.out / name).exists():
            print(f"wrote {a.out / name}", file=sys.stderr)


if __name__ == "__main__":
    main()
