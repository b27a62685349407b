"""`charrnn evaluate` (loss on any text) and `charrnn info` (what a checkpoint holds)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import TEXT, make_checkpoint, invoke as cli

from charrnn.use import evaluate
from charrnn.tasks import lm as model
from charrnn.errors import CorpusError, UsageError, VocabError
from charrnn.use.info import info_dict
from charrnn.engine.trained import load_trained

EVAL_TEXT = TEXT * 20  # 3,200 characters: several chunks of 1,024


@pytest.fixture
def trained(tmp_path):
    return load_trained(make_checkpoint(tmp_path / "c.npz", dtype="float64", seed=2))


def independent_loss(t, text):
    """Mean nats/char by one forward pass over the whole text from a zero state."""
    ids = t.vocab.encode(text).astype(np.intp)
    total, n, _ = model.loss_sum(t.params, t.cfg, ids[None, :-1], ids[None, 1:], model.init_state(t.cfg, 1))
    return total / n, n


# ------------------------------------------------------------------------------ evaluate
def test_evaluate_equals_the_models_own_loss_with_carried_state(trained):
    r = evaluate.evaluate_text(trained, EVAL_TEXT)
    want, n = independent_loss(trained, EVAL_TEXT)
    assert r.chars == n == len(EVAL_TEXT) - 1 and r.skipped == 0 and r.unknown == []
    assert r.nats_per_char == pytest.approx(want, rel=1e-12)
    assert r.bits_per_char == pytest.approx(want / math.log(2))
    assert r.perplexity == pytest.approx(math.exp(want))
    # chunking carries the state: tiny chunks give the same sum
    ids = trained.vocab.encode(EVAL_TEXT)
    total, count = evaluate.score_ids(trained.params, trained.cfg, ids, chunk=7)
    assert count == n and total / count == pytest.approx(want, rel=1e-12)
    # ... while a fresh state at every chunk would not
    fresh = [evaluate.score_ids(trained.params, trained.cfg, ids[i:i + 8]) for i in range(0, n, 7)]
    assert sum(c for _, c in fresh) == n
    assert abs(sum(s for s, _ in fresh) / n - want) > 1e-5  # far beyond the 1e-12 agreement above


def test_evaluate_float32_checkpoint(tmp_path):
    t = load_trained(make_checkpoint(tmp_path / "c.npz", cell="gru"))
    r = evaluate.evaluate_text(t, EVAL_TEXT)
    assert r.nats_per_char == pytest.approx(independent_loss(t, EVAL_TEXT)[0], rel=1e-5)


def test_unknown_characters_are_dropped_and_reported(trained):
    dirty = EVAL_TEXT[:500] + "é€é" + EVAL_TEXT[500:] + "\x00"
    r = evaluate.evaluate_text(trained, dirty)
    clean = evaluate.evaluate_text(trained, EVAL_TEXT)
    assert r.skipped == 4 and r.unknown == ["\x00", "é", "€"]
    assert r.chars == clean.chars and r.nats_per_char == pytest.approx(clean.nats_per_char, rel=1e-12)
    d = r.to_dict()
    assert d["unknown"][0] == {"char": "\x00", "display": "U+0000", "code_point": "U+0000"}
    with pytest.raises(VocabError, match="3 character"):
        evaluate.evaluate_text(trained, dirty, strict=True)


def test_parallel_streams_are_close_to_one_stream(trained):
    one = evaluate.evaluate_text(trained, EVAL_TEXT)
    four = evaluate.evaluate_text(trained, EVAL_TEXT, streams=4)
    assert four.streams == 4 and four.chars == (len(EVAL_TEXT) - 1) // 4 * 4
    assert four.nats_per_char == pytest.approx(one.nats_per_char, rel=0.02)
    with pytest.raises(UsageError, match="--streams"):
        evaluate.evaluate_text(trained, EVAL_TEXT, streams=0)


def test_too_little_text(trained):
    for text in ("", "d", "éé", "dé"):
        with pytest.raises(CorpusError, match="nothing to score"):
            evaluate.evaluate_text(trained, text)
    assert evaluate.evaluate_text(trained, "de").chars == 1


def test_cli_evaluate_json_and_table(tmp_path, trained):
    f = tmp_path / "t.txt"
    f.write_text(EVAL_TEXT + "é", encoding="utf-8")
    r = cli("evaluate", trained.path, f, "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert {"nats_per_char", "bits_per_char", "perplexity", "chars", "skipped"} <= set(d)
    assert d["nats_per_char"] == pytest.approx(independent_loss(trained, EVAL_TEXT)[0], rel=1e-12)
    assert d["skipped"] == 1 and d["unknown"][0]["char"] == "é" and d["chars"] == len(EVAL_TEXT) - 1
    assert "warning: skipped 1 character" in r.stderr
    r = cli("evaluate", trained.path, f)
    assert r.exit_code == 0
    lines = dict(line.split(None, 1) for line in r.stdout.splitlines())
    assert float(lines["nats/char"]) == pytest.approx(d["nats_per_char"], abs=1e-4)
    assert {"bits/char", "perplexity", "chars", "skipped"} <= set(lines)
    r = cli("evaluate", trained.path, f, "--strict")
    assert r.exit_code == 1 and "é" in r.stderr and r.stdout == ""


def test_cli_evaluate_errors(tmp_path, trained):
    r = cli("evaluate", trained.path, tmp_path / "missing.txt")
    assert r.exit_code in (1, 2) and "missing.txt" in r.stderr and "Traceback" not in r.stderr
    f = tmp_path / "t.txt"
    f.write_text(EVAL_TEXT)
    r = cli("evaluate", trained.path, f, "--streams", "0")
    assert r.exit_code == 2 and "--streams" in r.stderr
    r = cli("evaluate", tmp_path / "nope.npz", f)
    assert r.exit_code == 2 and "nope.npz" in r.stderr  # a path that names no file: usage error


# ------------------------------------------------------------------------------ info
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_info_on_every_cell_type(tmp_path, cell):
    ck = make_checkpoint(tmp_path / f"{cell}.npz", cell=cell, hidden=6, layers=3, step=1234, epoch=2,
                         best_val_loss=1.5, val_loss=1.625, corpus={"path": "/data/corpus.txt", "n_chars": 160})
    t = load_trained(ck)
    d = info_dict(t)
    assert d["cell"] == cell and d["layers"] == 3 and d["hidden"] == 6
    assert d["parameters"] == model.n_params(t.cfg) == sum(p.size for p in t.params.values())
    assert d["vocab"] == list(t.vocab.chars) and "\n" in d["vocab"] and " " in d["vocab"]  # real characters
    assert d["vocab_size"] == t.vocab.size and "char_counts" not in d  # the checkpoint has none
    assert d["step"] == 1234 and d["epoch"] == 2 and d["best_val_loss"] == 1.5
    assert d["corpus"] == "/data/corpus.txt" and d["format_version"] == 1
    r = cli("info", ck, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == d
    r = cli("info", ck)
    assert r.exit_code == 0 and r.stderr == ""
    for cell_text in (cell.upper(), f"{d['parameters']:,}", "1,234", "1.5000", "/data/corpus.txt", "\\n", "␠"):
        assert cell_text in r.stdout, cell_text


def test_info_defaults_and_missing_fields(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("info")
    assert r.exit_code == 1 and "no checkpoint found" in r.stderr
    make_checkpoint(tmp_path / "checkpoints" / "latest.npz", text="[bold]x", cell="rnn")
    r = cli("info")
    assert r.exit_code == 0 and "RNN" in r.stdout and "[" in r.stdout  # vocabulary shown literally
    d = json.loads(cli("info", "--json").stdout)
    assert d["corpus"] is None and d["best_val_loss"] is None and d["checkpoint"].endswith("latest.npz")


def test_info_json_carries_real_characters_and_counts(tmp_path):
    text = "a\tb b\n\u00e9"
    vocab = sorted(set(text))
    counts = [text.count(c) for c in vocab]
    ck = make_checkpoint(tmp_path / "m.npz", text=text, hidden=4, layers=1, char_counts=counts)
    r = cli("info", ck, "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["vocab"] == vocab == ["\t", "\n", " ", "a", "b", "\u00e9"]  # not the display forms \\t, \u2420
    assert all(isinstance(c, str) and len(c) == 1 for c in d["vocab"])
    assert d["char_counts"] == counts == [1, 1, 1, 1, 2, 1]
    r = cli("info", ck)  # the table keeps the display forms
    assert r.exit_code == 0 and "\\t" in r.stdout and "\u2420" in r.stdout


# ------------------------------------------------------------------------------ info
def test_info_title_path_is_not_markup(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_checkpoint(tmp_path / "[bold]x.npz", text=TEXT, hidden=4, layers=1)
    r = cli("info", "[bold]x.npz")
    assert r.exit_code == 0 and "[bold]x.npz" in r.stdout, r.output
