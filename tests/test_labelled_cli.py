"""classify and tag through the engine and the CLI: train, exact resume, Ctrl-C, one-line errors for bad
files and misplaced options, evaluate --json / --html, predict agreeing with evaluate, info."""

import json
import os
import signal
import time

import numpy as np
import pytest
from helpers import assert_clean_error, invoke

import charrnn
from charrnn.engine.checkpoint import load_checkpoint
from charrnn.engine.loop import Reporter

TINY = ["--hidden", "8", "--layers", "1", "--batch", "4", "--quiet", "--model", "gru"]


def classify_file(path, n=64):
    words = ["ab", "abc", "ba", "cab", "bca", "aab", "cc", "bac"]
    path.write_text("".join(f"{w}\tstarts-{w[0]}\n" for w in words * (n // len(words))), encoding="utf-8")
    return path


def tag_file(path, n=60):
    words = ["abab", "abc", "cab", "bcab", "aa", "cbca"]
    path.write_text("".join(f"{w}\t{''.join('1' if c == 'b' else '0' for c in w)}\n" for w in words * (n // 6)),
                    encoding="utf-8")
    return path


def test_classify_train_evaluate_predict_info(tmp_path):
    f = classify_file(tmp_path / "c.tsv")
    r = invoke("train", f, "--task", "classify", *TINY, "--max-steps", "40", "--eval-every", "20",
               "--lr", "0.03", "--out", tmp_path / "o")
    assert r.exit_code == 0, r.stderr
    assert "accuracy" in r.stderr and "best val" in r.stderr
    meta = load_checkpoint(tmp_path / "o" / "best.npz")[1]
    assert meta["task"] == "classify" and meta["labels"] == ["starts-a", "starts-b", "starts-c"]
    assert meta["labelled"] == {"bidirectional": False, "pool": "mean", "class_weights": "none"}
    r = invoke("evaluate", tmp_path / "o", f, "--json", "--html", tmp_path / "e.html")
    assert r.exit_code == 0, r.stderr
    rep = json.loads(r.stdout)
    assert {"accuracy", "macro_f1", "per_label", "confusion", "labels", "nats"} <= set(rep)
    assert np.array(rep["confusion"]).sum() == 64 and rep["accuracy"] > 0.5
    assert "confusion" in (tmp_path / "e.html").read_text()
    texts = [ln.split("\t") for ln in f.read_text().splitlines()]
    (tmp_path / "in.txt").write_text("\n".join(t for t, _ in texts) + "\n")
    r = invoke("predict", tmp_path / "o" / "best.npz", "--text", tmp_path / "in.txt")
    assert r.exit_code == 0, r.stderr
    out = [ln.split("\t") for ln in r.stdout.splitlines()]
    assert len(out) == 64 and all(len(o) == 2 and 0 < float(o[1]) <= 1 for o in out)
    assert np.mean([o[0] == y for o, (_, y) in zip(out, texts)]) == pytest.approx(rep["accuracy"])
    r = invoke("predict", tmp_path / "o" / "best.npz", "--text", tmp_path / "in.txt", "--top", "3", "--json")
    first = json.loads(r.stdout.splitlines()[0])
    assert len(first["top"]) == 3 and first["label"] == out[0][0]
    (tmp_path / "bad.txt").write_text("ab\nabz\n")
    assert_clean_error(invoke("predict", tmp_path / "o", "--text", tmp_path / "bad.txt"), 1, "line 2", "'z'")
    r = invoke("info", tmp_path / "o", "--json")
    assert json.loads(r.stdout)["labels"] == meta["labels"]
    (tmp_path / "unk.tsv").write_text("ab\tstarts-a\nabz\tstarts-a\n")
    r = invoke("evaluate", tmp_path / "o", tmp_path / "unk.tsv", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["n"] == 1 and "skipped 1 of 2 line(s)" in r.stderr
    assert_clean_error(invoke("evaluate", tmp_path / "o", tmp_path / "unk.tsv", "--strict"), 2, "'z'")
    r = invoke("inspect-cells", tmp_path / "o", "--json", "--max-chars", "300")
    d = json.loads(r.stdout)
    assert r.exit_code == 0 and d["top_units"] and len(d["separating_units"]) == 8  # (all 8 units of the model)
    text = invoke("evaluate", tmp_path / "o", f).stdout
    assert "macro-F1" in text and "confusion matrix" in text


def test_tag_bidirectional_show_and_exact_resume(tmp_path):
    f = tag_file(tmp_path / "t.tsv")
    base = ("train", f, "--task", "tag", "--bidirectional", *TINY, "--dropout", "0.1", "--eval-every", "3")
    assert invoke(*base, "--max-steps", "6", "--out", tmp_path / "a").exit_code == 0
    assert invoke(*base, "--max-steps", "3", "--out", tmp_path / "b").exit_code == 0
    r = invoke("train", f, "--max-steps", "6", "--quiet", "--resume", tmp_path / "b" / "latest.npz")
    assert r.exit_code == 0, r.stderr
    a, b = load_checkpoint(tmp_path / "a" / "latest.npz")[0], load_checkpoint(tmp_path / "b" / "latest.npz")[0]
    assert "param/bwd.l0.Wx" in a and all(np.array_equal(a[k], b[k]) for k in a)  # bit for bit
    (tmp_path / "in.txt").write_text("abab\ncab\n")
    r = invoke("predict", tmp_path / "a", "--text", tmp_path / "in.txt", "--show")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 2
    assert r.stdout.replace(" ", "").splitlines() == ["abab", "cab"]  # the text, spaces put back where tagged 1
    r = invoke("inspect-cells", tmp_path / "a", "--text", f, "--html", tmp_path / "c.html", "--excerpt", "0")
    assert r.exit_code == 0 and "Top units per probe" in r.stdout and (tmp_path / "c.html").stat().st_size > 1000
    rep = json.loads(invoke("evaluate", tmp_path / "a", f, "--json").stdout)
    assert "exact_match" in rep and rep["labels"] == ["0", "1"]


def test_ctrl_c_during_validation_stops_and_saves(tmp_path):
    f = classify_file(tmp_path / "c.tsv", n=400)
    sent = {}

    class Interrupt(Reporter):
        def validating(self, run, done, total):
            if "at" not in sent:
                sent["at"] = time.monotonic()
                os.kill(os.getpid(), signal.SIGINT)

    r = charrnn.train(f, tmp_path / "o", task="classify", max_steps=3, eval_every=2, batch=4, hidden=4, layers=1,
                      model="gru", reporter=Interrupt())
    assert r.stopped_by == "interrupt" and time.monotonic() - sent["at"] < 1.0
    assert (tmp_path / "o" / "latest.npz").exists()


@pytest.mark.parametrize("content,needles", [
    ("ab\tx\nabc\n", ["c.tsv, line 2", "0 tabs", "--skip-bad-lines"]),
    ("ab\tx\n\tx\n", ["line 2", "empty text"]),
])
def test_bad_classify_files_are_one_line_errors(tmp_path, content, needles):
    f = tmp_path / "c.tsv"
    f.write_text(content)
    assert_clean_error(invoke("train", f, "--task", "classify", *TINY, "--out", tmp_path / "o"), 1, *needles)


def test_tag_length_mismatch_names_the_line_and_both_lengths(tmp_path):
    f = tmp_path / "t.tsv"
    f.write_text("ab\t01\nabc\t01\n")
    assert_clean_error(invoke("train", f, "--task", "tag", *TINY, "--out", tmp_path / "o"), 1,
                       "line 2", "3 characters of text but 2 tags")
    f.write_text("ab\t01\nabc\t01\n" + "ba\t10\n" * 10)
    r = invoke("train", f, "--task", "tag", *TINY, "--max-steps", "1", "--skip-bad-lines", "--out", tmp_path / "o")
    assert r.exit_code == 0 and "skipped 1 bad line" in r.stderr


def test_misplaced_options_are_usage_errors(tmp_path):
    f = classify_file(tmp_path / "c.tsv")
    assert_clean_error(invoke("train", f, "--bidirectional", *TINY, "--out", tmp_path / "o"), 2,
                       "--bidirectional", "--task classify")
    assert_clean_error(invoke("train", f, "--task", "classify", "--seq-len", "9", *TINY, "--out", tmp_path / "o"), 2,
                       "--seq-len does not apply to --task classify")
    assert_clean_error(invoke("train", f, "--task", "tag", "--pool", "last", *TINY, "--out", tmp_path / "o"), 2,
                       "--pool does not apply to --task tag")
    assert_clean_error(invoke("train", f, "--task", "tag", *TINY, "--out", tmp_path / "o"), 1,
                       "line 1", "2 characters of text but 8 tags")  # a classify file read as tags
    one = tmp_path / "one.tsv"
    one.write_text("ab\tx\n" * 10)
    assert_clean_error(invoke("train", one, "--task", "classify", *TINY, "--out", tmp_path / "o"), 2, "only one label")
    lm = tmp_path / "lm.txt"
    lm.write_text("abc abc\n" * 50)
    assert invoke("train", lm, "--hidden", "4", "--layers", "1", "--max-steps", "1", "--quiet", "--sample-len", "0",
                  "--seq-len", "5", "--batch", "2", "--out", tmp_path / "lm").exit_code == 0
    assert_clean_error(invoke("predict", tmp_path / "lm"), 2, "language model", "charrnn sample")
    assert_clean_error(invoke("evaluate", tmp_path / "lm", lm, "--html", tmp_path / "x.html"), 2, "--html")


def test_predict_on_a_seq2seq_model_translates(tmp_path):
    f = tmp_path / "p.tsv"
    f.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ["ab", "abc", "ba", "cab"] * 5))
    assert invoke("train", f, "--task", "seq2seq", *TINY, "--max-steps", "2", "--out", tmp_path / "s").exit_code == 0
    (tmp_path / "in.txt").write_text("abc\nba\n")
    want = invoke("translate", tmp_path / "s", "--text", tmp_path / "in.txt")
    got = invoke("predict", tmp_path / "s", "--text", tmp_path / "in.txt")
    assert got.exit_code == 0 and got.stdout == want.stdout and len(got.stdout.splitlines()) == 2


def test_compare_draws_accuracy_beside_the_loss(tmp_path, page):
    from browser import open_page

    f = classify_file(tmp_path / "c.tsv")
    assert invoke("train", f, "--task", "classify", *TINY, "--max-steps", "4", "--eval-every", "2",
                  "--out", tmp_path / "o").exit_code == 0
    r = invoke("compare", tmp_path / "o", "--html", tmp_path / "c.html")
    assert r.exit_code == 0 and "best acc" in r.stdout and "Validation accuracy against step" in r.stdout
    open_page(page, tmp_path / "c.html")
    page.check("input[value=acc]")
    assert "accuracy" in page.locator("#c-step").text_content()
    page.check("input[value=f1]")
    assert "macro-F1" in page.locator("#c-step").text_content()
    assert page.errors == []
