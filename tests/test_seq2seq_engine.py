"""Seq2seq through the one engine: what it gained from the language model's loop (Ctrl-C at any
point, --time with room for the final evaluation, metrics.jsonl repaired on resume), scoring in
bounded memory, and the exact banded edit distance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from charrnn.engine.loop import Reporter
from charrnn.tasks import seq2seq_task
from charrnn.tasks.seq2seq_eval import BATCH_TOKENS, edit_distance, length_batches
from helpers import invoke, train_pairs


def plain_edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@settings(max_examples=150, deadline=None)
@given(st.text("abc", max_size=40), st.text("abc", max_size=40))
def test_edit_distance_equals_the_plain_dynamic_programme(a, b):
    assert edit_distance(a, b) == plain_edit_distance(a, b)


def test_edit_distance_of_long_strings_is_exact_and_fast():
    rng = np.random.default_rng(0)
    a = "".join(rng.choice(list("abcd"), 800))
    b = a[:200] + "x" * 7 + a[210:500] + a[600:] + "🙂"  # a few edits far apart, a non-BMP character
    assert edit_distance(a, b) == plain_edit_distance(a, b)
    assert edit_distance(a[::-1], b) == plain_edit_distance(a[::-1], b)  # a distance near the length: full band
    big = "".join(rng.choice(list("abcd"), 30_000))
    t0 = time.perf_counter()
    assert edit_distance(big, big[:10_000] + "xyz" + big[10_000:]) == 3  # (pure Python: minutes)
    assert edit_distance("ab" * 3000, "ba" * 3000) == 2
    assert time.perf_counter() - t0 < 3


def test_edit_distance_calls_its_check_so_a_long_pass_can_be_stopped():
    calls = []
    edit_distance("ab" * 2000, "ba" * 2000, check=lambda: calls.append(1))
    assert len(calls) >= 10


def test_length_batches_bound_the_padded_size():
    lengths = [5] * 300 + [30_000] + [40] * 50
    batches = length_batches(lengths)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= BATCH_TOKENS
    assert [b for b in batches if 300 in b] == [[300]]  # the long one alone


def _pairs(path, n_train=40, long_val=0, val_len=600):
    lines = [f"{w}\t{w[::-1]}" for w in ["ab", "abc", "ba", "cab", "bca"] * (n_train // 5)]
    lines += [("ab" * (val_len // 2)) + "\t" + ("ba" * (val_len // 2))] * long_val
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ctrl_c_during_a_seq2seq_validation_stops_within_a_second(tmp_path):
    """The validation pairs are long: an untrained decoder runs to 2 x 1000 + 10 characters each (and the edit distance of
    such a pair took about a second in pure Python);
    the SIGINT arrives once the validation has started (the reporter's first progress call)."""
    f = _pairs(tmp_path / "p.tsv", long_val=12, val_len=1000)
    sent = {}

    class Interrupt(Reporter):
        def validating(self, run, done, total):
            if "at" not in sent:
                sent["at"] = time.monotonic()
                os.kill(os.getpid(), signal.SIGINT)

    r = train_pairs(f, tmp_path / "o", {"max_steps": 1, "batch": 4, "val_frac": 0.25},
                    {"cell": "gru", "hidden": 8, "layers": 1}, reporter=Interrupt())
    assert "at" in sent and r.stopped_by == "interrupt"
    assert time.monotonic() - sent["at"] < 1.0
    assert (tmp_path / "o" / "latest.npz").exists()  # the state reached is saved


def test_seq2seq_time_budget_includes_the_final_evaluation(tmp_path, monkeypatch):
    f = _pairs(tmp_path / "p.tsv", n_train=60)
    original = seq2seq_task.score_pairs

    def slow(params, cfg, tokens, pairs, *a, **k):  # 0.05 s per pair: 20 validation pairs take 1 s
        time.sleep(0.05 * len(pairs))
        return original(params, cfg, tokens, pairs, *a, **k)

    monkeypatch.setattr(seq2seq_task, "score_pairs", slow)
    started = time.monotonic()
    r = train_pairs(f, tmp_path / "o", {"time_limit": 2.5, "batch": 4, "val_frac": 0.34, "eval_every": 10_000},
                    {"cell": "gru", "hidden": 4, "layers": 1})
    wall = time.monotonic() - started
    assert r.stopped_by == "time" and wall < 2.5 + 0.6, wall  # was: the final evaluation came on top


def test_seq2seq_resume_repairs_metrics_jsonl(tmp_path):
    f = _pairs(tmp_path / "p.tsv")
    opts = {"batch": 4, "eval_every": 2}, {"cell": "gru", "hidden": 4, "layers": 1}
    train_pairs(f, tmp_path / "o", {"max_steps": 4, **opts[0]}, opts[1])
    log = tmp_path / "o" / "metrics.jsonl"
    records = log.read_text().splitlines()
    log.write_text("\n".join(records + [json.dumps({"step": 6, "val_loss": 1.0}), '{"step": 8, "val'][:]) + "\n")
    train_pairs(f, tmp_path / "o", {"max_steps": 6}, {}, {}, resume=tmp_path / "o" / "latest.npz")
    steps = [json.loads(x)["step"] for x in log.read_text().splitlines()]
    assert steps == [2, 4, 6]  # the stale step 6 of a lost run and the torn line are gone


def test_scoring_during_training_takes_any_target_length_without_naming_translate_options(tmp_path):
    """Training on a pairs file with a 100,000-character target scores with a decoding limit of
    200,010: that is no error of an option `train` does not have (was: invalid value for --max-len)."""
    import charrnn
    from charrnn.tasks.seq2seq_eval import score_pairs

    f = _pairs(tmp_path / "p.tsv")
    r = train_pairs(f, tmp_path / "o", {"max_steps": 1, "batch": 4}, {"cell": "gru", "hidden": 4, "layers": 1})
    m = charrnn.load(r.latest)
    params = dict(m.params, by=m.params["by"].copy())
    params["by"][m.tokens.end] += 100.0  # the model answers END at once: a quick decode
    s = score_pairs(params, m.cfg, m.tokens, [("ab", "ba")], seq2seq_task.decode_limit(100_000))
    assert s.pairs == 1 and s.exact_match == 0.0


DRIVER = """
import sys, charrnn
m = charrnn.load(sys.argv[1])
s = m.evaluate([tuple(line.split("\\t")) for line in open(sys.argv[2], encoding="utf-8").read().splitlines()])
peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]  # kB, this process
print(int(peak) * 1024, s.pairs)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc (VmHWM)")
def test_evaluating_a_very_long_target_keeps_memory_bounded(tmp_path):
    """One 30,000-character target among 255 short pairs: a batch padded to it would be
    (30,001 x 256 x 8) floats per array (~0.5 GB each); scored in length batches it is small."""
    f = _pairs(tmp_path / "p.tsv", n_train=40)
    r = train_pairs(f, tmp_path / "o", {"max_steps": 2, "batch": 4}, {"cell": "gru", "hidden": 8, "layers": 1})
    test = tmp_path / "t.tsv"
    test.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ["ab", "abc", "ba"] * 85) + "ab\t" + "ba" * 15_000 + "\n",
                    encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", DRIVER, str(r.out_dir / "latest.npz"), str(test)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    peak, pairs = out.stdout.split()
    assert int(pairs) == 256 and int(peak) < 400 * 2**20, int(peak) / 2**20

