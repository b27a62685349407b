"""Metrics (use/metrics.py) against hand-counted values; a small classify and a small tag task learned
with the heads and Adam; predict and evaluate agree; the evaluate --html page in a browser."""

import json

import numpy as np
import pytest
from browser import open_page

from charrnn.config import ModelConfig
from charrnn.data.labelled import Labels, bucket_batches, encode_examples, make_batch
from charrnn.data.vocab import Vocab
from charrnn.nn import heads
from charrnn.nn.bidirectional import param_shapes
from charrnn.nn.optim import Adam
from charrnn.tasks import lm
from charrnn.use import labelled, metrics
from charrnn.use.labelled_page import labelled_page


def test_metrics_by_hand():
    #              true: a a a b b c      predicted: a a b b a b
    conf = metrics.confusion_matrix([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 0, 1], 3)
    assert conf.tolist() == [[2, 1, 0], [1, 1, 0], [0, 1, 0]]
    assert metrics.accuracy(conf) == pytest.approx(3 / 6)
    rows = metrics.per_label(conf, "abc")
    assert rows[0]["precision"] == pytest.approx(2 / 3) and rows[0]["recall"] == pytest.approx(2 / 3)
    assert rows[1]["precision"] == pytest.approx(1 / 3) and rows[1]["recall"] == pytest.approx(1 / 2)
    assert rows[1]["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert rows[2] == {"label": "c", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0}
    assert metrics.macro_f1(conf) == pytest.approx((2 / 3 + 0.4 + 0) / 3)
    big = metrics.biggest_confusions(conf, "abc", 2)
    assert [(b["true"], b["predicted"], b["count"]) for b in big] == [("a", "b", 1), ("b", "a", 1)]
    assert big[1]["share"] == pytest.approx(0.5)
    # a label never true nor predicted does not count in macro-F1
    assert metrics.macro_f1(np.array([[3, 0], [0, 0]])) == 1.0
    text = metrics.format_report(metrics.report(conf, list("abc"), 0.7, n=6), "classify")
    assert "accuracy   0.5000" in text and "a -> b: 1 (33.3% of a)" in text and "confusion matrix" in text


def train(examples, kind, how, bidirectional, steps, hidden=16, seed=0, lr=0.02):
    vocab, labels = Vocab.from_text("".join(t for t, _ in examples)), Labels.from_examples(examples, kind)
    cfg = ModelConfig(cell="gru", vocab_size=vocab.size, hidden=hidden, layers=1, dtype="float64")
    params = lm.init_params(cfg, np.random.default_rng(seed), shapes=param_shapes(cfg, labels.size, bidirectional))
    data, opt, rng = encode_examples(vocab, labels, examples, kind), Adam(), np.random.default_rng(seed)
    for _ in range(steps):
        for rows in bucket_batches(data.lengths, 16, rng):
            loss, grads = heads.loss_and_grads(params, cfg, make_batch(data, rows), how)
            opt.step(params, grads, lr)
    return params, cfg, vocab, labels


def words(n, seed):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("abcde"), size=rng.integers(2, 8))) for _ in range(n)]


def test_classify_learns_and_predict_agrees_with_evaluate():
    """Label = the line's first character: the final state must carry it across the whole line (a
    bag of characters cannot tell 'ab' from 'ba'); unidirectional, last-state head."""
    examples = [(w, "first-" + w[0]) for w in words(80, 0)]
    params, cfg, vocab, labels = train(examples, "classify", "last", False, steps=25)
    test = [(w, "first-" + w[0]) for w in words(40, 1)]
    rep = labelled.evaluate(params, cfg, "last", vocab, labels, test)
    assert rep["accuracy"] >= 0.9 and rep["n"] == 40, rep["accuracy"]
    predicted = labelled.predict(params, cfg, "last", vocab, labels, [t for t, _ in test], top=2)
    hits = sum(p[0][0] == y for p, (_, y) in zip(predicted, test))
    assert hits / len(test) == pytest.approx(rep["accuracy"])
    assert np.trace(np.array(rep["confusion"])) == hits
    assert all(len(p) == 2 and p[0][1] >= p[1][1] for p in predicted)
    assert labelled.predict(params, cfg, "last", vocab, labels, ["", "ab"])[0] == []
    json.dumps(rep)  # the --json object is plain JSON


def test_bidirectional_tagger_learns_what_needs_the_right_context():
    """Tag = the NEXT character is a vowel: only a reader of the right context can know it."""
    def tags(w):
        return "".join("1" if i + 1 < len(w) and w[i + 1] in "ae" else "0" for i in range(len(w)))
    examples = [(w, tags(w)) for w in words(80, 2)]
    test = [(w, tags(w)) for w in words(40, 3)]
    params, cfg, vocab, labels = train(examples, "tag", "steps", True, steps=25)
    rep = labelled.evaluate(params, cfg, "steps", vocab, labels, test)
    assert rep["accuracy"] >= 0.97 and rep["exact_match"] >= 0.8, (rep["accuracy"], rep["exact_match"])
    predicted = labelled.predict(params, cfg, "steps", vocab, labels, [t for t, _ in test])
    chars = sum(len(t) for t, _ in test)
    right = sum(a == b for p, (_, y) in zip(predicted, test) for a, b in zip(p, y))
    assert right / chars == pytest.approx(rep["accuracy"])
    assert labelled.show_tags("abcd", "0100", labels) == "ab cd"
    params, cfg, *_ = train(examples, "tag", "steps", False, steps=25)  # left to right only: it cannot know
    assert labelled.evaluate(params, cfg, "steps", vocab, labels, test)["accuracy"] < 0.8


def test_page_in_a_browser(page, tmp_path):
    conf = metrics.confusion_matrix([0, 0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 0, 1, 2], 3)
    rep = metrics.report(conf, ["ant", "bee", "cat <b>"], 0.81, n=7)
    rep["worst"] = [{"text": "x<y", "true": "ant", "predicted": "bee", "p_true": 0.2, "p_predicted": 0.7},
                    {"text": "zz", "true": "bee", "predicted": "ant", "p_true": 0.3, "p_predicted": 0.6}]
    path = tmp_path / "eval.html"
    path.write_text(labelled_page(rep, "classify", "m.npz", "test.tsv: 7 lines"), encoding="utf-8")
    open_page(page, path, wait_for="body[data-ready]")
    assert page.locator("#matrix td.c").count() == 9
    assert "0.5714" in page.text_content("#figures")  # accuracy 4/7
    assert page.locator("#worst tr").count() == 3 and "x<y" in page.text_content("#worst")
    page.locator("#matrix td.c[data-i='0'][data-j='1']").hover()
    assert "true ant, predicted bee: 1 (33.3% of 3)" in page.text_content("#tip")
    page.click("#matrix td.c[data-i='0'][data-j='1']")
    assert page.locator("#worst tr").count() == 2  # only the ant -> bee line
    page.screenshot(path=tmp_path / "eval.png")
    page.click("#matrix td.c[data-i='0'][data-j='1']")
    assert page.locator("#worst tr").count() == 3


def test_separating_units():
    from charrnn.interpret.separation import eta_squared, final_states, separating_units
    from charrnn.nn.bidirectional import features

    v = np.array([[1.0, 0.0], [1.0, 1.0], [3.0, 0.0], [3.0, 1.0]])
    assert eta_squared(v, np.array([0, 0, 1, 1]), 2).tolist() == pytest.approx([1.0, 0.0])
    examples = [(w, "first-" + w[0]) for w in words(40, 0)]
    params, cfg, vocab, labels = train(examples, "classify", "last", True, steps=10)
    values, names = final_states(params, cfg, [vocab.encode(t).astype(np.int64) for t, _ in examples[:6]])
    assert len(names) == values.shape[1] == 2 * 16 and names[16] == "bwd L0 h 0"
    data = encode_examples(vocab, labels, examples[:6], "classify")
    b = make_batch(data, range(6))
    hs, _ = heads.read_forward(params, cfg, b.x, b.lens)
    np.testing.assert_allclose(values, features(hs, b.lens, "last"), rtol=1e-10)  # the final states, exactly
    rows = separating_units(params, cfg, vocab, labels, examples, top=3)
    assert len(rows) == 3 and rows[0]["eta2"] >= rows[1]["eta2"] and set(rows[0]["means"]) <= set(labels.names)
