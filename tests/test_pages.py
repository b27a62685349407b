"""The HTML pages in a real browser (headless Chromium, see browser.py): no console errors, no
network, picking a unit recolours the text, hovering updates the info line, the charts answer
the mouse, and every page fits a phone-wide window. Screenshots go to each test's tmp dir."""

import json
import re

from browser import open_page
from charrnn.interpret.page import cells_page
from charrnn.interpret.analysis import analyse
from charrnn.use.compare import compare
from charrnn.use.compare_page import compare_page
from helpers import train_lm as train
from charrnn.engine.trained import load_trained
from helpers import TEXT, invoke, make_checkpoint


def _backgrounds(page, n=200):
    return page.eval_on_selector_all("#text span", f"s => s.slice(0, {n}).map(e => e.style.background)")


def test_cells_page_in_a_browser(page, tmp_path):
    text = TEXT * 6
    t = load_trained(make_checkpoint(tmp_path / "m.npz", text=text, hidden=6, layers=2))
    a = analyse(t, text, ["in_string", "line_position", "bracket_depth"], top=2)
    path = tmp_path / "cells.html"
    path.write_text(cells_page(a, "a test page", title="m.npz", vocab=t.vocab.chars), encoding="utf-8")
    open_page(page, path, wait_for="body[data-ready]")
    assert page.locator("#text span").count() == len(text)
    assert page.locator("#ranking tbody tr").count() == 3 and page.locator(".card").count() >= 1
    first = page.input_value("#unit")
    before = _backgrounds(page)
    assert len(set(before)) > 3  # the text is coloured, not one solid colour
    options = page.eval_on_selector_all("#unit option", "o => o.map(e => e.value)")
    assert len(set(options)) == 2 * 6 * 3  # every h, c and tanh(c) unit can be picked
    other = next(v for v in options if v != first)
    page.select_option("#unit", other)
    assert _backgrounds(page) != before
    page.click("#next")
    assert page.input_value("#unit") != other
    page.locator("#text span").nth(17).hover()
    info = page.text_content("#info")
    assert info.startswith("char 17 ") and " = " in info and "next:" in info
    page.locator("#text span").nth(40).hover()
    assert page.text_content("#info").startswith("char 40 ")
    page.check("#stripon")  # the hovered line with the model's top-3 guesses under each character
    page.locator("#text span").nth(41).hover()
    assert page.locator("#strip div").count() == 4 and page.locator("#strip div.txt span").count() >= 1
    page.check("#byprobe")  # the probe itself as the heat map
    assert "probe" in page.text_content("#scale")
    page.locator("#ranking a.u").first.click()
    assert page.input_value("#unit") == str(page.evaluate(
        "JSON.parse(document.getElementById('data').textContent).ranking[0].unit"))
    page.screenshot(path=tmp_path / "cells.png")
    assert page.errors == []


def test_compare_page_in_a_browser(page, tmp_path):
    corpus = tmp_path / "code.txt"
    corpus.write_text(TEXT * 20, encoding="utf-8")
    small = {"batch": 4, "seq_len": 8, "eval_every": 3, "sample_len": 30, "max_steps": 9}
    train(corpus, tmp_path / "rnn", small, {"hidden": 8, "layers": 1, "cell": "rnn"})
    train(corpus, tmp_path / "gru", small, {"hidden": 8, "layers": 1, "cell": "gru"})
    path = tmp_path / "compare.html"
    path.write_text(compare_page(compare([tmp_path / "rnn", tmp_path / "gru"])), encoding="utf-8")
    open_page(page, path, wait_for="#c-step circle")
    assert page.locator("#runs tbody tr").count() == 2
    assert page.locator("#c-step circle").count() == 6 and page.locator("#c-time circle").count() == 6
    sample = page.text_content("#samples .card pre")
    box = page.locator("#c-step").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.12, box["y"] + box["height"] / 2)
    tip = page.text_content("#tip")
    assert page.is_visible("#tip") and "rnn: step 3" in tip and "gru: step 3" in tip
    dot = page.locator("#c-step circle").first.bounding_box()
    page.mouse.click(dot["x"] + dot["width"] / 2, dot["y"] + dot["height"] / 2)
    assert "step 3 (1 of 3)" in page.text_content("#samples .card")
    assert page.text_content("#samples .card pre") != sample or sample.startswith("(")
    page.click("#legend span >> nth=1")  # hide the second run
    assert page.locator("#c-step circle").count() == 3
    page.check("input[value=bits]")
    assert "bits/char" in page.text_content("#c-step")
    page.screenshot(path=tmp_path / "compare.png", full_page=True)
    assert _fits(page)  # on a phone-wide window the wide tables scroll inside their own box
    assert page.errors == []


def test_cells_page_gives_each_code_point_its_own_activation(page, tmp_path):
    """Issue 27, item 6: emoji (outside the BMP), CJK and combining marks: one span per code point,
    the text shown whole, and each character's hover line names it with its own activation."""
    line = "x = '😀 漢字 e\u0301 🎉'  # 𝔘 ok\n"
    text = line * 12
    t = load_trained(make_checkpoint(tmp_path / "m.npz", text=text, hidden=4, layers=1))
    a = analyse(t, text, ["in_string"], top=1)
    path = tmp_path / "cells.html"
    path.write_text(cells_page(a, "emoji", title="m.npz", vocab=t.vocab.chars), encoding="utf-8")
    open_page(page, path, wait_for="body[data-ready]")
    shown = page.eval_on_selector_all("#text span", "s => s.map(e => e.textContent)")
    assert len(shown) == len(text)  # code points, not UTF-16 units (which are more)
    assert "".join(s.replace("\u21b5\n", "\n") for s in shown) == text
    chosen = page.input_value("#unit")
    label = page.evaluate(f"JSON.parse(document.getElementById('data').textContent).units[{chosen}].label")
    u = next(u for u in range(a.n_units) if a.label(u) == label)
    values = a.values(u)
    tolerance = (values.max() - values.min()) / 255 + 2e-3  # 8-bit page values, 3 decimals shown
    last = len(text) - 2
    for k in [k for k, c in enumerate(text) if ord(c) > 127][:24] + [last]:
        page.locator("#text span").nth(k).dispatch_event("mousemove")  # (a combining mark has no width)
        info = page.text_content("#info")
        m = re.match(r"char ([\d,]+) (\".*?\") \(line \d+, col \d+\)  ·  (.+?) = ≈?(-?[\d.]+) ", info)
        assert m, info
        assert int(m[1].replace(",", "")) == k and json.loads(m[2]) == text[k] and m[3] == label
        assert abs(float(m[4]) - values[k]) <= tolerance, (k, text[k], m[4], values[k])
    page.screenshot(path=tmp_path / "emoji.png")
    assert page.errors == []


def test_compare_page_with_a_nan_validation_loss(page, tmp_path):
    """Issue 27, item 9: a NaN val_loss in metrics.jsonl is a note, not a point, and no script error."""
    corpus = tmp_path / "code.txt"
    corpus.write_text(TEXT * 20, encoding="utf-8")
    train(corpus, tmp_path / "rnn", {"batch": 4, "seq_len": 8, "eval_every": 3, "sample_len": 30, "max_steps": 6},
          {"hidden": 8, "layers": 1, "cell": "rnn"})
    metrics = tmp_path / "rnn" / "metrics.jsonl"
    records = [json.loads(x) for x in metrics.read_text().splitlines()]
    records[0]["val_loss"] = float("nan")
    metrics.write_text("".join(json.dumps(r) + "\n" for r in records))
    c = compare([tmp_path / "rnn"])
    r = c.runs[0]
    assert r.best_val == r.last_val == records[-1]["val_loss"] and len(r.curve) == len(records) - 1
    assert any("NaN" in n for n in c.notes)
    path = tmp_path / "compare.html"
    path.write_text(compare_page(c), encoding="utf-8")
    open_page(page, path, wait_for="#c-step circle")
    box = page.locator("#c-step").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.screenshot(path=tmp_path / "compare-nan.png", full_page=True)
    assert page.errors == []


def _fits(page, width=360):
    page.set_viewport_size({"width": width, "height": 800})
    return page.evaluate("document.documentElement.scrollWidth") <= width


def test_pages_do_not_scroll_sideways_on_a_phone(page, tmp_path):
    ck = make_checkpoint(tmp_path / "m.npz", cell="lstm", text=TEXT * 6, hidden=6, layers=2)

    t = load_trained(ck)
    a = analyse(t, TEXT * 6, ["in_string", "line_position", "bracket_depth"], top=2)
    cells = tmp_path / "cells.html"
    cells.write_text(cells_page(a, "a test page", title="m.npz", vocab=t.vocab.chars), encoding="utf-8")
    open_page(page, cells, wait_for="body[data-ready]")
    assert _fits(page)

    text = tmp_path / "t.txt"
    text.write_text(TEXT * 4, encoding="utf-8")
    memory = tmp_path / "memory.html"
    r = invoke("inspect-memory", ck, "--text", text, "--html", memory, "--max-context", 8, "--max-targets", 10,
               "--max-distance", 8, "--positions", 3)
    assert r.exit_code == 0, r.output
    open_page(page, memory)
    assert _fits(page)  # (the compare page: test_compare_page_in_a_browser)
    assert page.errors == []
