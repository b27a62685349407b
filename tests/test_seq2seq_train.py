"""Seq2seq end to end: pairs files and their errors, decoding (beam 1 = greedy), a reverse task
learnt to >= 99 % exact match, bit-exact resume, Ctrl-C, the CLI verbs, the README's NumPy snippet."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest
from helpers import make_checkpoint, invoke as cli

from charrnn.tasks import seq2seq
from charrnn.config import ModelConfig
from charrnn.use.decode import beam_search, free_run
from charrnn.errors import CorpusError
from charrnn.data.pairs import build_tokens, parse_pairs, source_batch
from charrnn.engine.loop import Reporter
from helpers import train_pairs
from charrnn.use.translate import load_seq2seq, translate

README = Path(__file__).parent.parent / "README.md"


def reverse_pairs(n=1500, longest=5, seed=0):
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(list("abcd"), rng.integers(1, longest + 1))) for _ in range(n)]
    return [(w, w[::-1]) for w in words]


def write_pairs(path: Path, pairs) -> Path:
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reverse_run(tmp_path_factory):
    """A GRU that learns to reverse words of 1-4 letters (under a second; >= 99 % for seeds 0-4)."""
    d = tmp_path_factory.mktemp("rev")
    f = write_pairs(d / "rev.tsv", reverse_pairs(1000, 4))
    r = train_pairs(f, d / "out", {"max_steps": 300, "eval_every": 150, "batch": 32, "lr": 0.015, "lr_decay": 0.5,
                                   "lr_decay_every": 100, "lr_decay_unit": "step"},
                    {"cell": "gru", "hidden": 32, "layers": 1})
    return f, r


# ------------------------------------------------------------------------------------ data
def test_bad_pairs_lines_are_errors_with_line_numbers():
    text = "ab\tba\n\ncd\n"
    with pytest.raises(CorpusError, match=r"line 3: has 0 tabs") as e:
        parse_pairs(text, "p.tsv")
    assert "--skip-bad-lines" in e.value.hint
    with pytest.raises(CorpusError, match=r"line 2: has 2 tabs"):
        parse_pairs("a\tb\nx\ty\tz\n", "p.tsv")
    with pytest.raises(CorpusError, match=r"line 1: has an empty target"):
        parse_pairs("a\t\n", "p.tsv")
    pairs, skipped = parse_pairs("ab\tba\r\ncd\nx\ty\tz\nef\tfe", "p.tsv", skip_bad_lines=True)
    assert pairs == [("ab", "ba"), ("ef", "fe")] and skipped == 2


def test_tokens_are_outside_every_text():
    tokens = build_tokens([("abc", "xyz")])
    assert tokens.V == 6 and {tokens.end, tokens.start, tokens.pad} == {6, 7, 8}
    assert tokens.n_in == 9 and tokens.n_out == 7
    assert tokens.decode([0, 1, tokens.end, 2]) == "ab"


# ---------------------------------------------------------------------------------- decoding
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_beam_of_one_is_greedy(cell):
    pairs = [("abcd", "dcba"), ("ba", "ab")]
    tokens = build_tokens(pairs)
    cfg = ModelConfig(cell=cell, vocab_size=tokens.V, hidden=8, layers=2, dtype="float64")
    params = seq2seq.init_params(cfg, np.random.default_rng(1))
    sources = [tokens.encode(s) for s in ("abcd", "b", "dddcab", "")]
    src, lens = source_batch(tokens, sources)
    greedy = free_run(params, cfg, tokens, src, lens, max_len=12)
    for s, g in zip(sources, greedy):
        assert beam_search(params, cfg, tokens, s, beam=1, max_len=12) == g


def test_reverse_task_learns_to_99_percent_exact_match(reverse_run):
    f, r = reverse_run
    assert r.best_exact >= 0.99, r.history
    m = load_seq2seq(r.out_dir / "best.npz")
    assert translate(m, ["abcd", "dab"]) == ["dcba", "bad"]
    assert translate(m, ["abcd", "dab"], beam=3) == ["dcba", "bad"]
    rng = np.random.default_rng(0)
    assert len(translate(m, ["abc"] * 3, temperature=0.5, rng=rng)) == 3


# ----------------------------------------------------------------------------------- training
def test_resume_is_bit_exact_with_scheduled_sampling(tmp_path):
    f = write_pairs(tmp_path / "p.tsv", reverse_pairs(200))
    opts = {"eval_every": 7, "batch": 16, "seed": 3}
    model = {"cell": "lstm", "hidden": 8, "layers": 2}
    s2s = {"teacher_forcing": 0.9, "teacher_forcing_decay": 30}
    whole = train_pairs(f, tmp_path / "a", {**opts, "max_steps": 20}, model, s2s)
    part = train_pairs(f, tmp_path / "b", {**opts, "max_steps": 11}, model, s2s)
    assert part.step == 11
    rest = train_pairs(f, tmp_path / "b", {"max_steps": 20}, {}, {}, resume=tmp_path / "b" / "latest.npz")
    assert rest.step == whole.step == 20
    a, b = load_seq2seq(whole.latest), load_seq2seq(rest.latest)
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name]), name
    assert a.meta["rng"] == b.meta["rng"]


def test_ctrl_c_saves_and_stops(tmp_path):
    f = write_pairs(tmp_path / "p.tsv", reverse_pairs(100))

    class Interrupt(Reporter):
        def step(self, run, record):
            if record["step"] == 3:
                os.kill(os.getpid(), signal.SIGINT)

    r = train_pairs(f, tmp_path / "o", {"max_steps": 50, "batch": 8}, {"hidden": 4, "layers": 1},
                    reporter=Interrupt())
    assert r.stopped_by == "interrupt" and r.step == 3
    assert load_seq2seq(r.latest).meta["step"] == 3


# ------------------------------------------------------------------------------------- CLI
def test_cli_train_translate_evaluate_info(reverse_run, tmp_path):
    f, r = reverse_run
    ck = r.out_dir / "best.npz"
    out = cli("translate", ck, input="abcd\ndab\n")
    assert out.exit_code == 0 and out.stdout == "dcba\nbad\n", out.output
    inputs = tmp_path / "in.txt"
    inputs.write_text("abc\n", encoding="utf-8")
    out = cli("translate", ck, "--text", inputs, "--beam", "2", "--threads", "1")
    assert out.exit_code == 0 and out.stdout == "cba\n"
    drawn = [cli("translate", ck, "--temp", "3", "--seed", "7", input="abcd\nabc\n").stdout for _ in range(2)]
    assert drawn[0] == drawn[1] and drawn[0].count("\n") == 2  # the same seed, the same draws
    out = cli("translate", ck, "--beam", "2", "--temp", "0.5", input="ab\n")
    assert out.exit_code == 2 and "cannot be used together" in out.stderr
    held = write_pairs(tmp_path / "held.tsv", [("abc", "cba"), ("dd", "dd"), ("ab", "ab")])
    out = cli("evaluate", ck, held, "--json", "--threads", "auto")
    d = json.loads(out.stdout)
    assert d["pairs"] == 3 and d["exact_match"] == pytest.approx(2 / 3)
    assert d["char_error_rate"] == pytest.approx(2 / 7) and d["nats_per_char"] > 0
    out = cli("info", ck, "--json")
    assert json.loads(out.stdout)["task"] == "seq2seq"
    assert "seq2seq" in cli("info", ck).stdout
    for command in ("sample", "inspect-cells"):
        out = cli(command, ck, "--seed" if command == "sample" else "--top", "1")
        assert out.exit_code == 2 and "holds a seq2seq model" in out.stderr and "internal" not in out.stderr


def test_cli_train_seq2seq_and_errors(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("ab\tba\nno tab here\ncd\tdc\n", encoding="utf-8")
    out = cli("train", bad, "--task", "seq2seq", "--out", tmp_path / "o")
    assert out.exit_code == 1 and out.stderr.startswith("error: ") and "line 2" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 2 and "hint: " in out.stderr
    good = write_pairs(tmp_path / "good.tsv", reverse_pairs(60))
    bad.write_text(good.read_text() + "one\ttwo\tthree\n", encoding="utf-8")
    out = cli("train", bad, "--task", "seq2seq", "--skip-bad-lines", "--max-steps", "3", "--hidden", "4",
              "--layers", "1", "--batch", "8", "--out", tmp_path / "o", "--quiet")
    assert out.exit_code == 0, out.output
    assert "skipped 1 bad line(s)" in out.stderr
    out = cli("train", good, "--teacher-forcing", "0.5", "--out", tmp_path / "x")
    assert out.exit_code == 2 and "--task seq2seq" in out.stderr
    out = cli("train", good, "--task", "seq2seq", "--teacher-forcing", "1.5", "--out", tmp_path / "x")
    assert out.exit_code == 2 and "--teacher-forcing" in out.stderr
    out = cli("train", good, "--task", "seq2seq", "--seq-len", "20", "--out", tmp_path / "x")
    assert out.exit_code == 2 and "--seq-len does not apply" in out.stderr
    out = cli("train", good, "--resume", tmp_path / "o" / "latest.npz", "--max-steps", "4", "--quiet")
    assert out.exit_code == 0, out.output  # a seq2seq checkpoint resumes as seq2seq without --task
    assert load_seq2seq(tmp_path / "o" / "latest.npz").meta["step"] == 4


def test_python_api_trains_loads_and_translates(tmp_path):
    import charrnn
    from charrnn.errors import UsageError

    f = write_pairs(tmp_path / "p.tsv", reverse_pairs(40))
    r = charrnn.train(f, tmp_path / "o", task="seq2seq", model="gru", hidden=4, layers=1, batch=8, max_steps=2,
                      teacher_forcing=0.5)
    m = charrnn.load(tmp_path / "o")
    assert r.step == 2 and m.info()["task"] == "seq2seq" and m.info()["teacher_forcing"] == 0.5
    assert len(m.translate(["ab", "c"], max_len=3)) == 2 and m.evaluate([("ab", "ba")]).pairs == 1
    with pytest.raises(UsageError, match="need.*--task seq2seq"):
        charrnn.train(f, tmp_path / "x", teacher_forcing=0.5)
    with pytest.raises(UsageError, match="--seq-len does not apply"):
        charrnn.train(f, tmp_path / "x", task="seq2seq", seq_len=10)


def test_language_model_checkpoints_still_work(tmp_path):
    ck = make_checkpoint(tmp_path / "lm.npz", hidden=6, layers=1)
    out = cli("info", ck, "--json")
    assert out.exit_code == 0 and "task" not in json.loads(out.stdout)
    out = cli("sample", ck, "--length", "5", "--seed", "1")
    assert out.exit_code == 0 and len(out.stdout) >= 5  # (a trailing newline or not: the sampler's business)
    out = cli("translate", ck, input="abc\n")
    assert out.exit_code == 2 and "language model" in out.stderr


def test_readme_numpy_snippet_decodes_like_translate(tmp_path, monkeypatch):
    """The README's NumPy-only greedy decoder gives what `translate` gives."""
    block = README.read_text(encoding="utf-8").split("<!-- seq2seq-snippet -->")[1]
    code = re.search(r"```python\n(.*?)```", block, re.S).group(1)
    pairs = [("29 November 2026", "2026-11-29"), ("1 Jan 1999", "1999-01-01")]
    f = write_pairs(tmp_path / "d.tsv", pairs * 10)
    r = train_pairs(f, tmp_path / "demo-seq2seq", {"max_steps": 30, "batch": 4, "lr": 0.02},
                    {"cell": "gru", "hidden": 8, "layers": 2})
    monkeypatch.chdir(tmp_path)
    printed = []
    exec(compile(code, "README snippet", "exec"), {"print": printed.append})
    assert printed == translate(load_seq2seq(r.out_dir / "best.npz"), ["29 November 2026"], max_len=100)


def test_translate_empty_input_and_missing_checkpoint(reverse_run, tmp_path, monkeypatch):
    """An empty --text file is empty stdin: a note, nothing printed, exit 0. Without a checkpoint,
    the hint names seq2seq training, not language-model training."""
    ck = reverse_run[1].out_dir / "best.npz"
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    for args, kw in (((ck, "--text", empty), {}), ((ck,), {"input": ""})):
        out = cli("translate", *args, **kw)
        assert out.exit_code == 0 and out.stdout == "" and "nothing to translate" in out.stderr, out.output
    monkeypatch.chdir(tmp_path)
    out = cli("translate", input="abc\n")
    assert out.exit_code == 1 and "--task seq2seq" in out.stderr and "python-stdlib" not in out.stderr, out.output
    out = cli("translate", tmp_path, input="abc\n")  # a folder without checkpoints
    assert out.exit_code == 1 and "--task seq2seq" in out.stderr


def test_whitespace_pairs_are_pairs_and_two_tabs_are_an_error():
    """Issue 27, item 8: a line with a tab is a pair even when it is all whitespace."""
    assert parse_pairs("ab\tba\n \t \n\n   \n", "p.tsv") == ([("ab", "ba"), (" ", " ")], 0)
    with pytest.raises(CorpusError, match=r"line 2: has 2 tabs"):
        parse_pairs("ab\tba\n  \t\t\n", "p.tsv")
    with pytest.raises(CorpusError, match=r"line 1: has an empty source"):
        parse_pairs("\t \n", "p.tsv")
    pairs, skipped = parse_pairs("ab\tba\n  \t\t\n\t\n \t \n", "p.tsv", skip_bad_lines=True)
    assert pairs == [("ab", "ba"), (" ", " ")] and skipped == 2
