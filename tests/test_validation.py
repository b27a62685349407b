"""Validation sized to the run: how often (eval_period), on what (a fixed part between steps, the
whole split at the end, in one pass), progress and Ctrl-C inside a pass, --time keeping room for
the final pass, and what the metrics log holds."""

import json
import math
import os
import signal

import numpy as np
import pytest

from charrnn.tasks import lm as model
from charrnn.config import TrainConfig
from charrnn.data.corpus import Streams
from charrnn.use.evaluate import stream_loss
from charrnn.engine.loop import Reporter
from helpers import invoke, CORPUS_TEXT as TEXT, corpus, train_lm as train  # noqa: F401 (corpus: a fixture)
from charrnn.engine.trained import load_trained
from charrnn.engine.validation import eval_period
from charrnn.tasks.lm_validation import ValidationPlan


def test_eval_period_is_sized_to_the_run():
    assert eval_period(TrainConfig(eval_every=7, epochs=10), 9) == 7  # given: kept
    assert eval_period(TrainConfig(epochs=15), 9) == 7  # 5 % of 135 steps, within one epoch of 9
    assert eval_period(TrainConfig(epochs=100), 9) == 9  # at least once per epoch
    assert eval_period(TrainConfig(max_steps=100_000), 5000) == 500  # big: the usual 500
    assert eval_period(TrainConfig(max_steps=2000), 5000) == 100  # 5 % of the planned steps
    assert eval_period(TrainConfig(time_limit=60), 5000) == 500  # time only: no planned length
    assert eval_period(TrainConfig(max_steps=3), 5000) == 1


def test_the_part_is_scored_on_the_way_through_the_whole_split():
    rng = np.random.default_rng(0)
    from charrnn.config import ModelConfig

    cfg = ModelConfig(cell="gru", vocab_size=7, hidden=5, layers=1, dtype="float64")
    params = model.init_params(cfg, rng)
    ids = rng.integers(0, 7, size=1003)
    streams = Streams(ids, 4, 10)  # 250 characters per stream: 25 chunks
    plan = ValidationPlan.for_split(streams, part_chars=120)  # 3 chunks of 4 x 10
    assert plan.part_chunks == 3 and plan.bounded
    assert plan.chars(whole=False) == 120 and plan.chars(whole=True) == 4 * 250
    total, count = stream_loss(params, cfg, streams)
    seen = []
    part, whole = plan.run(params, cfg, whole=True, progress=lambda d, t: seen.append((d, t)))
    assert whole == pytest.approx(total / count, rel=1e-12)
    first = Streams(ids, 4, 10)
    state, s, c = model.init_state(cfg, 4), 0.0, 0
    for k in range(3):
        x, y = first.chunk(k)
        a, b, state = model.loss_sum(params, cfg, x, y, state)
        s, c = s + a, c + b
    assert part == pytest.approx(s / c, rel=1e-12)
    assert seen[-1] == (1000, 1000) and len(seen) == 25
    part_only, none = plan.run(params, cfg, whole=False)
    assert part_only == pytest.approx(part, rel=1e-12) and none is None
    assert plan.sec_per_char > 0 and plan.final_seconds() > 0
    small = ValidationPlan.for_split(streams, part_chars=10_000)
    assert not small.bounded and small.run(params, cfg, whole=True)[1] is None


def test_a_small_corpus_is_evaluated_every_epoch_with_samples_and_no_nulls(corpus, tmp_path):
    res = train(corpus, tmp_path / "o", {"batch": 4, "seq_len": 8, "epochs": 2, "sample_len": 12},
                {"hidden": 8, "layers": 1})
    n_chunks = (len(TEXT) - round(len(TEXT) * 0.1) - 1) // 4 // 8
    lines = [json.loads(x) for x in (tmp_path / "o" / "metrics.jsonl").read_text().splitlines()]
    every = eval_period(TrainConfig(epochs=2), n_chunks)
    assert every <= n_chunks and [r["step"] for r in lines] == list(range(every, res.step + 1, every)) + (
        [res.step] if res.step % every else [])
    for r in lines:
        assert all(v is not None for v in r.values()), r  # the final record too
        assert len(r["sample"]) == 12 and r["val_chars"] > 0
    assert lines[-1]["epochs"] == pytest.approx(2.0)
    assert all("sample" not in h for h in load_trained(res.latest).meta["history"])  # the log keeps them


def test_a_bounded_split_is_scored_whole_at_the_end(corpus, tmp_path, monkeypatch):
    from charrnn.tasks import lm_validation as validation

    monkeypatch.setattr(validation, "PART_CHARS", 40)
    train(corpus, tmp_path / "o", {"batch": 4, "seq_len": 8, "eval_every": 5, "max_steps": 10, "sample_len": 0},
          {"hidden": 8, "layers": 1})
    lines = [json.loads(x) for x in (tmp_path / "o" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [5, 10]  # the last step's pass gives the part and the whole split
    assert "val_whole_loss" not in lines[0] and lines[1]["val_whole_chars"] > lines[1]["val_chars"] == 64
    assert math.isfinite(lines[1]["val_whole_loss"]) and lines[1]["val_whole_loss"] != lines[1]["val_loss"]


def test_a_run_stopped_right_after_an_evaluation_still_scores_the_whole_split(corpus, tmp_path, monkeypatch):
    from charrnn.engine import loop as training
    from charrnn.tasks import lm_validation as validation

    monkeypatch.setattr(validation, "PART_CHARS", 40)
    monkeypatch.setattr(training, "_last_step", lambda run, task: False)  # as when --time or --patience ends it
    train(corpus, tmp_path / "o", {"batch": 4, "seq_len": 8, "eval_every": 5, "max_steps": 10, "sample_len": 0},
          {"hidden": 8, "layers": 1})
    lines = [json.loads(x) for x in (tmp_path / "o" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [5, 10, 10]  # step 10's part, then a record adding the whole split
    assert "val_whole_loss" not in lines[1] and lines[2]["val_whole_chars"] > lines[2]["val_chars"] == 64
    assert lines[2]["val_loss"] == lines[1]["val_loss"] and math.isfinite(lines[2]["val_whole_loss"])


class _InterruptWhileValidating(Reporter):
    def __init__(self):
        self.calls = []

    def validating(self, run, done, total):
        self.calls.append((run.step, done, total))
        if run.step == 8 and len([c for c in self.calls if c[0] == 8]) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the pass at step 8


def test_ctrl_c_during_validation_stops_the_pass_and_saves(corpus, tmp_path):
    rep = _InterruptWhileValidating()
    res = train(corpus, tmp_path / "o", {"batch": 4, "seq_len": 8, "eval_every": 4, "max_steps": 100,
                                         "sample_len": 0}, {"hidden": 8, "layers": 1}, reporter=rep)
    assert res.stopped_by == "interrupt" and res.step == 8
    at8 = [c for c in rep.calls if c[0] == 8]
    assert len(at8) == 1 and at8[0][1] < at8[0][2]  # the pass stopped after its first chunk
    assert load_trained(res.latest).meta["step"] == 8  # and the run was saved
    steps = [json.loads(x)["step"] for x in (tmp_path / "o" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [4]


def test_time_budget_keeps_room_for_the_final_validation(corpus, tmp_path, monkeypatch):
    from charrnn.tasks import lm_validation as validation

    monkeypatch.setattr(validation.ValidationPlan, "final_seconds", lambda self: 3600.0)
    res = train(corpus, tmp_path / "o", {"batch": 4, "seq_len": 8, "time_limit": 1, "sample_len": 0},
                {"hidden": 8, "layers": 1})
    # an hour of validation cannot fit: at most half the budget is kept, so the run stops after ~0.5 s
    assert res.stopped_by == "time"
    lines = [json.loads(x) for x in (tmp_path / "o" / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["elapsed"] < 1


def test_evaluate_reports_progress_to_the_end(tmp_path):
    from charrnn.use.evaluate import evaluate_text
    from helpers import TEXT as SHORT, make_checkpoint

    t = load_trained(make_checkpoint(tmp_path / "m.npz", text=SHORT))
    seen = []
    res = evaluate_text(t, SHORT * 3, streams=2, progress=lambda d, n: seen.append((d, n)))
    assert seen and seen[-1][0] == seen[-1][1] == res.chars
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_the_summary_says_how_validation_is_sized(corpus, tmp_path):
    r = invoke("train", str(corpus), "--out", str(tmp_path / "o"), "--batch", "4", "--seq-len", "8",
               "--hidden", "8", "--layers", "1", "--epochs", "1", "--time", "1m",
               "--sample-len", "0")
    assert r.exit_code == 0, r.output
    err = " ".join(r.stderr.split())
    assert "(sized to the run) and at the end, on the whole split" in err
    assert "1:00 (h:m:s / m:s) including the final validation" in err
    assert "epoch 1.00" in err  # fractional epochs, the same in every line
