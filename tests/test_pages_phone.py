"""The HTML pages (inspect-cells, inspect-memory, compare --html) fit a phone-wide window: wide tables
scroll inside their own box. (Belongs in test_pages.py, the browser tests of every page; kept apart
while that file is being edited elsewhere.)"""

from browser import open_page
from helpers import TEXT, invoke, make_checkpoint

from charrnn.use.compare_page import compare_page
from charrnn.use.compare import compare
from charrnn.interpret.analysis import analyse
from charrnn.interpret.page import cells_page
from charrnn.engine.trained import load_trained
from helpers import train_lm as train


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
    assert _fits(page)

    corpus = tmp_path / "code.txt"
    corpus.write_text(TEXT * 20, encoding="utf-8")
    small = {"batch": 4, "seq_len": 8, "eval_every": 3, "sample_len": 0, "max_steps": 3}
    train(corpus, tmp_path / "rnn", small, {"hidden": 8, "layers": 1, "cell": "rnn"})
    train(corpus, tmp_path / "gru", small, {"hidden": 8, "layers": 1, "cell": "gru"})
    path = tmp_path / "compare.html"
    path.write_text(compare_page(compare([tmp_path / "rnn", tmp_path / "gru"])), encoding="utf-8")
    open_page(page, path, wait_for="#c-step circle")
    assert _fits(page)
    assert page.errors == []
