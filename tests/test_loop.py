"""The engine's loop (engine/loop.py), whatever the task. best.npz and latest.npz agree, and
metrics.jsonl survives a kill: a run never records a best loss that no best.npz holds (best.npz is
written first; a resume takes the loss best.npz really holds, or writes a missing best.npz); a
resumed run's log equals its history. The elapsed time logged with an evaluation includes it."""

import json
import time

import pytest

from charrnn.engine import rundir as rundir_mod
from charrnn.errors import CheckpointError
from charrnn.engine.trained import load_trained
from charrnn.engine.loop import Reporter
from charrnn.tasks import lm_validation as validation
from helpers import corpus, invoke, train_lm as train, train_pairs  # noqa: F401 (corpus: a fixture)

OPTS = {"batch": 4, "seq_len": 8, "eval_every": 1, "sample_len": 0, "lr": 0.02}  # improves at every step
MODEL = {"hidden": 16, "layers": 1}


class Killed(BaseException):
    """Stands for kill -9 at that moment: nothing after it runs (bar the lock's release)."""


def fail_at(monkeypatch, name, nth, error):
    """The nth save of `name` (best.npz or latest.npz) raises `error`."""
    real, seen = rundir_mod.save_checkpoint, {"n": 0}

    def save(path, arrays, meta):
        if path.name == name:
            seen["n"] += 1
            if seen["n"] == nth:
                raise error
        return real(path, arrays, meta)
    monkeypatch.setattr(rundir_mod, "save_checkpoint", save)


def assert_consistent(out):
    latest = load_trained(out / "latest.npz").meta
    best = load_trained(out / "best.npz").meta
    assert latest["best_val_loss"] == best["val_loss"], (latest["step"], best["step"])


@pytest.mark.parametrize("error", [CheckpointError("could not write checkpoint: the disk is full"), Killed()])
def test_a_best_that_cannot_be_written_is_never_recorded(corpus, tmp_path, monkeypatch, error):
    out = tmp_path / "run"
    fail_at(monkeypatch, "best.npz", 3, error)
    with pytest.raises(type(error)):
        train(corpus, out, dict(OPTS, max_steps=6), MODEL)
    assert load_trained(out / "best.npz").meta["step"] == 2  # the third improvement was never written
    assert_consistent(out)
    monkeypatch.undo()
    train(corpus, out, {"max_steps": 6}, resume=out / "latest.npz")
    assert_consistent(out)


def test_a_kill_between_best_and_latest_is_repaired_on_resume(corpus, tmp_path, monkeypatch):
    out = tmp_path / "run"
    fail_at(monkeypatch, "latest.npz", 3, Killed())  # best.npz of step 3 written, latest.npz not
    with pytest.raises(Killed):
        train(corpus, out, dict(OPTS, max_steps=6), MODEL)
    monkeypatch.undo()
    assert load_trained(out / "best.npz").meta["step"] == 3 and load_trained(out / "latest.npz").meta["step"] == 2
    r = train(corpus, out, {"max_steps": 6}, resume=out / "latest.npz")
    assert_consistent(out)
    assert r.best_val_loss == load_trained(out / "best.npz").meta["val_loss"]


def test_a_missing_best_is_written_on_resume(corpus, tmp_path):
    out = tmp_path / "run"
    train(corpus, out, dict(OPTS, max_steps=3), MODEL)
    (out / "best.npz").unlink()
    seen = []

    class Spy(Reporter):
        def summary(self, run, warnings):
            seen.extend(warnings)
    r = train(corpus, out, {"max_steps": 3}, resume=out / "latest.npz", reporter=Spy())
    assert any("best.npz was missing" in w for w in seen), seen
    best = load_trained(out / "best.npz").meta
    assert best["step"] == 3 and r.best_val_loss == best["val_loss"]


@pytest.mark.parametrize("where", ["after the checkpoint", "before the checkpoint"])
def test_metrics_survive_a_kill_at_a_save(corpus, tmp_path, monkeypatch, where):
    out = tmp_path / "run"
    if where == "after the checkpoint":  # the checkpoint of step 3 is written, its record is not yet
        real = rundir_mod.RunDir.log_metrics

        def log(self, record):
            if record["step"] == 3:
                raise Killed
            return real(self, record)
        # (the record is appended before the checkpoint now: the kill lands before both)
        monkeypatch.setattr(rundir_mod.RunDir, "log_metrics", log)
    else:  # the record of step 3 is written, its checkpoint is not
        fail_at(monkeypatch, "latest.npz", 3, Killed())
    with pytest.raises(Killed):
        train(corpus, out, dict(OPTS, max_steps=5), MODEL)
    monkeypatch.undo()
    train(corpus, out, {"max_steps": 5}, resume=out / "latest.npz")
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]
    assert [r["step"] for r in load_trained(out / "latest.npz").meta["history"]] == steps


# ------------------------------------------------------------------------------ elapsed time
def test_elapsed_includes_the_final_validation(corpus, tmp_path, monkeypatch):
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


@pytest.mark.parametrize("damage", ["missing", "junk"])
def test_seq2seq_resume_rewrites_a_missing_or_unreadable_best_npz_with_a_warning(tmp_path, damage):
    from charrnn.use.translate import load_seq2seq

    f = tmp_path / "p.tsv"
    f.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ["ab", "ba", "abc", "cab", "bca"] * 8), encoding="utf-8")
    opts = {"batch": 4}, {"cell": "gru", "hidden": 4, "layers": 1}
    r = train_pairs(f, tmp_path / "o", {"max_steps": 3, **opts[0]}, opts[1])
    best = r.out_dir / "best.npz"
    best.unlink() if damage == "missing" else best.write_bytes(b"junk")
    out = invoke("train", f, "--resume", r.out_dir / "latest.npz", "--max-steps", "3")  # nothing left to train
    assert out.exit_code == 0, out.output
    assert "best.npz was missing or unreadable" in out.stderr  # was: no warning, best.npz left as it was
    assert load_seq2seq(best).meta["step"] == 3
