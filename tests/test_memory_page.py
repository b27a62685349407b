"""The inspect-memory page in a real browser (headless Chromium, see browser.py): no console
errors, no network; hovering a chart shows every curve's value at the pointer (the numbers of
--json), hovering a character of the saliency heat map its value."""

import json
import re

from browser import open_page
from helpers import TEXT, invoke, make_checkpoint


def test_memory_page_in_a_browser(page, tmp_path):
    ck = make_checkpoint(tmp_path / "m.npz", cell="lstm", text=TEXT, hidden=6, layers=2)
    text = tmp_path / "t.txt"
    text.write_text(TEXT * 4, encoding="utf-8")
    path = tmp_path / "memory.html"
    r = invoke("inspect-memory", ck, "--text", text, "--html", path, "--json", "--init", "--at", 100,
               "--max-context", 16, "--max-targets", 20, "--max-distance", 12, "--positions", 5)
    assert r.exit_code == 0, r.output
    want = json.loads(r.stdout)["models"][0]
    open_page(page, path)
    assert page.locator("svg.chart").count() == 2 and page.locator(".legend .key").count() >= 4

    hover = page.locator("#reach .hover")
    hover.scroll_into_view_if_needed()
    box = hover.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    out = page.text_content("#reach-readout")
    k = int(re.match(r"k = (\d+)\n", out)[1])
    assert 0 < k < 12 and page.get_attribute("#reach .guide", "visibility") == "visible"
    for layer in (0, 1):  # the value shown is the value of --json, for the trained and the fresh model
        shown = float(re.search(rf"^lstm 2x6 L{layer} h: (\S+)$", out, re.M)[1])
        assert abs(shown - want["grad_h_median"][layer][k]) <= 1e-3 * abs(shown)
        shown = float(re.search(rf"^lstm 2x6 init L{layer} h: (\S+)$", out, re.M)[1])
        assert abs(shown - want["init"]["grad_h_median"][layer][k]) <= 1e-3 * abs(shown)
    assert re.search(r"^lstm 2x6 L1 c: \S+$", out, re.M)

    hover = page.locator("#context .hover")
    hover.scroll_into_view_if_needed()
    box = hover.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)  # the last k
    out = page.text_content("#context-readout")
    assert out.startswith("k = 16\n")
    assert abs(float(re.search(r"^lstm 2x6 L\(k\): (\S+)$", out, re.M)[1]) - want["context_loss"][-1]) < 1e-3

    cells = page.locator(".heat span[data-v]")
    assert cells.count() == 13  # the window: max-distance + 1 characters before the target
    cells.last.hover()
    assert page.text_content("#heat-readout").startswith("k = 0 characters back: ||dl/dx|| = ")
    page.screenshot(path=tmp_path / "memory.png", full_page=True)
    assert page.errors == []
