"""The model inside the inspect-cells page (page_model.py, page_engine.py) in a real browser:
the JavaScript forward pass equals the Python trace for RNN, LSTM and GRU, the predictions and
greedy samples equal Python's, and the panel colours, predicts, samples and holds a unit."""

import numpy as np
import pytest

from browser import open_page
from charrnn.engine.trained import load_trained
from charrnn.interpret.ablation import ablation
from charrnn.interpret.analysis import analyse
from charrnn.interpret.page import cells_page
from charrnn.interpret.page_model import embed
from charrnn.interpret.units import CELL_KINDS
from charrnn.nn.cells import CELLS
from charrnn.nn.intervene import parse_holds
from charrnn.tasks import lm
from charrnn.use.sample import generate
from helpers import TEXT, make_checkpoint

LIVE_TEXT = TEXT + "caf\u00e9 \U0001F600 = {'k': [1, 2]}\n"  # code points beyond ASCII and the BMP


def _model(tmp_path, cell, scale=3.0):
    """A tiny model with weights large enough that the units swing (saturation included)."""
    t = load_trained(make_checkpoint(tmp_path / f"{cell}.npz", cell=cell, text=LIVE_TEXT, hidden=5, layers=2, seed=3))
    for name in t.params:
        t.params[name] *= scale
    return t


def _page(tmp_path, t, text, with_ablation=False):
    a = analyse(t, text, ["in_string", "line_position"], top=2)
    path = tmp_path / f"{t.cfg.cell}.html"
    rows = ablation(t, a) if with_ablation else None
    path.write_text(cells_page(a, "live test", title="m", vocab=t.vocab.chars, trained=t, ablation=rows),
                    encoding="utf-8")
    return a, path


@pytest.mark.parametrize("cell,specs", [("rnn", ["L1:h:0=0.5"]), ("lstm", ["L0:c:2=0.7", "L1:h:1=0"]),
                                        ("gru", ["L0:h:4=-0.6", "L1:h:0=0"])])
def test_js_forward_matches_the_python_trace(page, tmp_path, cell, specs):
    t = _model(tmp_path, cell)
    text = LIVE_TEXT
    a, path = _page(tmp_path, t, text)
    open_page(page, path, wait_for="body[data-ready]")
    rows = np.array(page.evaluate("t => window.charrnn.forward(t)", text))
    assert rows.shape == a.traces.acts.shape == (len(text), 2 * 5 * len(CELL_KINDS[cell]))
    assert np.abs(rows - a.traces.acts).max() < 1e-4
    assert np.abs(a.traces.acts).max() > 0.5  # the units do swing: a real comparison
    # the next-character distribution after the text, against the Python logits
    z = a.logits[-1].astype(np.float64)
    p = np.exp(z - z.max())
    p /= p.sum()
    assert np.abs(np.array(page.evaluate("t => window.charrnn.predict(t)", text)) - p).max() < 1e-5
    # greedy sampling (temperature 0) is the argmax chain: the same characters as Python's sampler
    want = "".join(generate(t.params, t.cfg, t.vocab, 40, temperature=0.0, prime="def f"))
    assert page.evaluate("() => window.charrnn.sample('def f', 40, 0, 1)") == want
    # units held (--clamp, nn/intervene.py): the page's holds give the Python intervention's trace
    hold = parse_holds([], specs, t.cfg)
    caches = lm.forward(t.params, t.cfg, t.vocab.encode(text)[None, :], lm.init_state(t.cfg, 1), hold=hold)[2].stack.layers
    want = np.concatenate([caches[k]["trace"][kind][:, 0, :] if isinstance(caches[k], dict) else
                           CELLS[cell].trace(caches[k])[kind][:, 0, :] for k in range(2) for kind in CELL_KINDS[cell]],
                          axis=1)
    page.evaluate("s => window.charrnn.intervene(s.map(u => ({unit: u.split('=')[0], value: +u.split('=')[1]})))", specs)
    assert np.abs(np.array(page.evaluate("t => window.charrnn.forward(t)", text)) - want).max() < 1e-4
    assert page.errors == []


def test_live_panel_types_samples_and_holds(page, tmp_path):
    t = _model(tmp_path, "lstm")
    a, path = _page(tmp_path, t, LIVE_TEXT * 3, with_ablation=True)
    open_page(page, path, wait_for="body[data-ready]")
    assert page.locator("#ablation tbody tr").count() == 2 and page.is_visible("#ablation")  # a row per probe
    page.fill("#livein", "def g(y):\n    return 'q'")
    spans = page.locator("#liveout span")
    assert spans.count() == len("def g(y):\n    return 'q'")
    before = page.eval_on_selector_all("#liveout span", "s => s.map(e => e.style.background)")
    assert len(set(before)) > 2  # coloured by the chosen unit
    pred = page.text_content("#livepred")
    assert pred.startswith("next: ") and pred.count("%") == 3
    values = page.eval_on_selector_all("#liveunits tbody td.num:last-child", "c => c.map(e => e.textContent)")
    assert values and all(v for v in values)  # each ranked unit's value after the last character
    # samples: seeded (same seed, same text), and a different seed gives another text
    page.fill("#seed", "7")
    page.click("#sample")
    first = page.text_content("#samples .samp")
    page.click("#sample")
    assert page.text_content("#samples .samp") == first and len(first) == 300
    assert page.evaluate("() => window.charrnn.sample('def', 50, 1, 7)") != page.evaluate(
        "() => window.charrnn.sample('def', 50, 1, 8)")
    # hold the chosen unit: the colouring of a state unit is then the held value everywhere
    unit = page.input_value("#holdunit")
    layer, kind, index = unit.split(":")
    page.select_option("#holdmode", "hold")
    page.fill("#holdval", "0.8")
    page.dispatch_event("#holdval", "change")
    rows = np.array(page.evaluate("t => window.charrnn.forward(t)", "def f(x):"))
    col = page.evaluate(f"() => window.charrnn.column({layer}, '{kind}', {index})")
    assert np.allclose(rows[:, col], 0.8)
    assert "intact model" in page.text_content("#livepred")
    page.click("#sample")
    assert page.locator("#samples .samp").count() == 2  # held and intact, same seed
    page.select_option("#holdmode", "zero")
    assert np.allclose(np.array(page.evaluate("t => window.charrnn.forward(t)", "def f(x):"))[:, col], 0)
    page.select_option("#holdmode", "")
    assert page.evaluate("() => window.charrnn.holds().length") == 0
    page.screenshot(path=tmp_path / "live.png", full_page=True)
    assert page.errors == []


def test_a_model_over_the_limit_turns_the_panel_off(page, tmp_path):
    t = _model(tmp_path, "gru")
    model, weights = embed(t.cfg, t.params, t.vocab.chars, limit=100)
    assert weights == "" and "MAX_BYTES" in model["off"]
    import charrnn.interpret.page_model as pm

    old = pm.MAX_BYTES
    pm.MAX_BYTES = 100
    try:
        a = analyse(t, LIVE_TEXT * 3, ["in_string"], top=1)
        path = tmp_path / "off.html"
        path.write_text(cells_page(a, "x", vocab=t.vocab.chars, trained=t), encoding="utf-8")
    finally:
        pm.MAX_BYTES = old
    open_page(page, path, wait_for="body[data-ready]")
    assert "The live panel is off" in page.text_content("#liveoff") and not page.is_visible("#live")
    assert "parameters" in page.evaluate("() => window.charrnn.off")

