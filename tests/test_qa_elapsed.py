"""QA: the elapsed time logged with an evaluation includes that evaluation's validation."""

import json
import time

from charrnn.tasks import lm_validation as validation
from helpers import train_lm as train

TEXT = "def add(a, b):\n    return a + b  # sum\n\nprint('hi', \"there\")\n" * 40


def test_elapsed_includes_the_final_validation(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "code.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    original = validation.ValidationPlan.run

    def slow_run(self, *args, **kwargs):
        time.sleep(0.3)  # a validation pass that takes a visible time
        return original(self, *args, **kwargs)

    monkeypatch.setattr(validation.ValidationPlan, "run", slow_run)
    started = time.monotonic()
    train(corpus, tmp_path / "run", {"batch": 4, "seq_len": 8, "max_steps": 2, "sample_len": 0},
          {"hidden": 8, "layers": 1})
    wall = time.monotonic() - started
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    # "time: wall clock from the start to the last evaluation, validation included" (compare, info):
    # every validation so far, the last one too, is inside the last record's elapsed
    assert 0.3 * len(records) <= records[-1]["elapsed"] <= wall


def test_seq2seq_elapsed_includes_the_final_validation(tmp_path, monkeypatch):
    from charrnn.tasks.seq2seq_task import Seq2SeqTask
    from helpers import train_pairs

    pairs = tmp_path / "p.tsv"
    pairs.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ["ab", "abc", "dcb", "a", "bd"] * 20), encoding="utf-8")
    original = Seq2SeqTask.validate

    def slow_evaluate(self, run, whole, progress):
        time.sleep(0.3)
        return original(self, run, whole, progress)

    monkeypatch.setattr(Seq2SeqTask, "validate", slow_evaluate)
    started = time.monotonic()
    train_pairs(pairs, tmp_path / "run", {"max_steps": 2, "batch": 8}, {"cell": "gru", "hidden": 8,
                                                                                      "layers": 1})
    wall = time.monotonic() - started
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert 0.3 * len(records) <= records[-1]["elapsed"] <= wall
