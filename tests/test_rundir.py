"""Where a run writes, and what happens to a run already there: --resume continues in the
checkpoint's own directory, --overwrite leaves no stale file of the old run, a directory holding
another run is never written into silently; stop rules typed on resume replace the saved ones."""

import json

from charrnn.engine.trained import load_trained
from helpers import TRAIN, assert_clean_error, invoke

OTHER = "The quick brown fox jumps over the lazy dog.\n" * 40


def train(*args):
    r = invoke("train", *args)
    assert r.exit_code == 0, r.stderr
    return r


def steps_of(path):
    return load_trained(path).meta["step"]


def test_resume_without_out_continues_in_the_checkpoints_directory(env):
    train(env / "ok.txt", *TRAIN)  # run A in checkpoints/
    (env / "other.txt").write_text(OTHER, encoding="utf-8")
    train(env / "other.txt", "--out", env / "b", *TRAIN)  # run B elsewhere
    a_before = (env / "checkpoints" / "latest.npz").read_bytes()
    train(env / "other.txt", "--resume", env / "b" / "latest.npz", "--max-steps", "4")
    assert steps_of(env / "b" / "latest.npz") == 4  # run B went on where it lives
    assert (env / "checkpoints" / "latest.npz").read_bytes() == a_before  # run A untouched
    lines = (env / "b" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 3, 4]  # B's log continues


def test_resume_into_a_directory_holding_another_run_is_refused(env):
    train(env / "ok.txt", *TRAIN)
    (env / "other.txt").write_text(OTHER, encoding="utf-8")
    train(env / "other.txt", "--out", env / "b", *TRAIN)
    before = (env / "checkpoints" / "best.npz").read_bytes()
    r = invoke("train", env / "other.txt", "--resume", env / "b" / "latest.npz", "--out", "checkpoints",
               "--max-steps", "4")
    assert_clean_error(r, 2, "already holds a training run", "--overwrite")
    assert (env / "checkpoints" / "best.npz").read_bytes() == before
    train(env / "other.txt", "--resume", env / "b" / "latest.npz", "--out", "fresh", "--max-steps", "4")
    assert steps_of(env / "fresh" / "latest.npz") == 4  # an empty directory is fine


def test_overwrite_leaves_no_stale_file_of_the_old_run(env):
    train(env / "ok.txt", "--out", "run", *TRAIN)
    (env / "other.txt").write_text(OTHER, encoding="utf-8")
    # The new run evaluates only at its end (step 2 of --eval-every 1000): one record, its own best.
    train(env / "other.txt", "--out", "run", "--overwrite", *TRAIN, "--hidden", "4", "--eval-every", "1000")
    assert load_trained(env / "run" / "best.npz").cfg.hidden == 4
    assert [json.loads(x)["step"] for x in (env / "run" / "metrics.jsonl").read_text().splitlines()] == [2]


def test_overwrite_removes_the_old_files_before_training(env, monkeypatch):
    from charrnn.engine import loop as train_mod

    train(env / "ok.txt", "--out", "run", *TRAIN)
    seen = {}

    def spy(*args, **kwargs):  # the first evaluation of the new run
        seen["files"] = sorted(p.name for p in (env / "run").iterdir() if not p.name.startswith("."))
        raise KeyboardInterrupt
    monkeypatch.setattr(train_mod, "_evaluate_and_save", spy)
    invoke("train", env / "ok.txt", "--out", "run", "--overwrite", *TRAIN)
    assert seen["files"] == []


def test_a_stop_rule_typed_on_resume_replaces_a_saved_patience(env):
    train(env / "ok.txt", "--out", "run", *TRAIN, "--patience", "1", "--lr", "5")
    r = train(env / "ok.txt", "--resume", env / "run" / "latest.npz", "--max-steps", "5")
    assert steps_of(env / "run" / "latest.npz") == 5, r.stderr
    assert load_trained(env / "run" / "latest.npz").meta["train"]["patience"] is None


def test_resuming_a_finished_run_says_what_to_do(env):
    train(env / "ok.txt", "--out", "run", *[x for x in TRAIN if x != "--quiet"])
    r = invoke("train", env / "ok.txt", "--resume", env / "run" / "latest.npz")
    assert r.exit_code == 0
    assert "already met its stop rule (max-steps)" in r.stderr and "--max-steps" in r.stderr


def test_the_optimizer_cannot_change_on_resume(env):
    train(env / "ok.txt", "--out", "run", *TRAIN)
    r = invoke("train", env / "ok.txt", "--resume", env / "run" / "latest.npz", "--optimizer", "sgd",
               "--max-steps", "4")
    assert_clean_error(r, 2, "--optimizer sgd", "does not match")


def test_markup_in_a_corpus_path_is_shown_as_typed(env):
    (env / "a[bold]b.txt").write_text(OTHER, encoding="utf-8")
    r = train("a[bold]b.txt", "--out", "run", *[x for x in TRAIN if x != "--quiet"])
    assert "a[bold]b.txt" in r.stderr


def test_absurd_epochs_are_refused(env):
    assert_clean_error(invoke("train", env / "ok.txt", *TRAIN, "--epochs", "1e308"), 2, "--epochs", "at most")
