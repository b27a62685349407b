"""The HTML pages in a real browser (headless Chromium, see browser.py): no console errors, no
network, picking a unit recolours the text, hovering updates the info line, the charts answer
the mouse. Screenshots go to each test's tmp dir."""

from browser import open_page
from charrnn.interpret.page import cells_page
from charrnn.interpret.analysis import analyse
from charrnn.use.compare import compare
from charrnn.use.compare_page import compare_page
from helpers import train_lm as train
from charrnn.engine.trained import load_trained
from helpers import TEXT, make_checkpoint


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
    assert page.errors == []
