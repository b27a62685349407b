"""benchmarks/init_experiment.py on a tiny corpus with a handful of steps: the runs, the tables, the
restart that reuses finished runs, and the clean skip without a corpus. The runs are tiny: they
train on the NumPy cells (`--kernels numpy`), since numba's start-up would be most of their time."""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def experiment():
    spec = importlib.util.spec_from_file_location("init_experiment", os.path.join(ROOT, "benchmarks", "init_experiment.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_smoke_run_writes_tables_and_reuses_finished_runs(experiment, tmp_path, capsys):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("To be, or not to be, that is the question.\n" * 40)
    out = tmp_path / "exp"
    args = [str(corpus), "--out", str(out), "--seeds", "0", "--long-seeds", "0", "--long-steps", "4",
            "--bias-inits", "zero,uniform", "--init-scales", "1", "--forget-biases", "1", "--jobs", "2",
            "--threads", "1", "--train-args", "--hidden 8 --batch 4 --seq-len 16 --eval-every 2 --max-steps 2 --kernels numpy"]
    assert experiment.main(args) == 0
    res = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in res["default_run"]] and len(res["default_run"]) == 2
    assert {r["name"] for r in res["long"]} == {r["name"] for r in res["default_run"]}  # the two best
    assert all(r["steps"] == 2 for r in res["runs"] if r["phase"] == "default")
    assert all(r["steps"] == 4 for r in res["runs"] if r["phase"] == "long")
    md = (out / "results.md").read_text()
    assert "init_experiment.py" in md and "`charrnn train " in md and "| fb1-uniform-s1 | 1 | uniform | 1 |" in md
    assert "## Suggestion" in md
    before = {p: p.stat().st_mtime_ns for p in out.rglob("latest.npz")}
    capsys.readouterr()
    assert experiment.main(args) == 0  # again: every run is reused, none trained
    assert {p: p.stat().st_mtime_ns for p in out.rglob("latest.npz")} == before


def test_missing_corpus_is_skipped(experiment, tmp_path, capsys):
    assert experiment.main([str(tmp_path / "absent.txt"), "--out", str(tmp_path / "o")]) == 0
    assert "skipped" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_staged_design_varies_one_factor_around_the_best(experiment, tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("To be, or not to be, that is the question.\n" * 40)
    out = tmp_path / "exp"
    args = [str(corpus), "--out", str(out), "--design", "staged", "--seeds", "0", "--skip-long",
            "--forget-biases", "0,1", "--bias-inits", "zero", "--init-scales", "2,1", "--lrs", "4e-3",
            "--lr-decays", "0.5", "--jobs", "2", "--threads", "1",
            "--train-args", "--hidden 8 --batch 4 --seq-len 16 --eval-every 2 --max-steps 2 --kernels numpy"]
    assert experiment.main(args) == 0
    res = json.loads((out / "results.json").read_text())
    runs = {r["name"]: r for r in res["runs"]}
    assert len(runs) == 5  # fb0, fb1 at scale 1; then scale 2, lr 4e-3, decay 0.5, each around the best so far
    first = min(("fb0-zero-s1", "fb1-zero-s1"), key=lambda n: runs[n]["best_val_loss"])
    assert first.replace("s1", "s2") in runs  # the scale stage starts from the first stage's winner
    lr_run = next(r for n, r in runs.items() if "-lr0.004" in n)
    assert "--lr 0.004" in lr_run["command"]
    decay_run = next(r for n, r in runs.items() if "-d0.5" in n)
    assert "--lr-decay 0.5 --lr-decay-every 1" in decay_run["command"]
    assert "| 0.004 |" in (out / "results.md").read_text()


def test_lrs_need_the_staged_design(experiment, tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("abc\n" * 40)
    with pytest.raises(SystemExit):
        experiment.main([str(corpus), "--out", str(tmp_path / "o"), "--lrs", "1e-3"])


def test_tables_hold_every_finished_run_and_long_settings_pick_phase_two(experiment, tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("To be, or not to be, that is the question.\n" * 40)
    out = tmp_path / "exp"
    common = [str(corpus), "--out", str(out), "--seeds", "0,1", "--jobs", "2", "--threads", "1", "--long-steps", "3",
              "--long-seeds", "0", "--train-args", "--hidden 8 --batch 4 --seq-len 16 --eval-every 2 --max-steps 2 --kernels numpy"]
    assert experiment.main(common + ["--forget-biases", "0", "--bias-inits", "zero", "--init-scales", "1",
                                     "--skip-long"]) == 0
    assert experiment.main(common + ["--forget-biases", "1", "--bias-inits", "zero,uniform", "--init-scales", "1",
                                     "--long-settings", "fb1-uniform-s1,fb0-zero-s1"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert {r["name"] for r in res["default_run"]} == {"fb0-zero-s1", "fb1-zero-s1", "fb1-uniform-s1"}
    assert {r["name"] for r in res["long"]} == {"fb1-uniform-s1", "fb0-zero-s1"}  # as named, not the two best
    assert all(r["n"] == 2 for r in res["default_run"])
    with pytest.raises(SystemExit):
        experiment.main(common + ["--forget-biases", "1", "--bias-inits", "zero", "--init-scales", "1",
                                  "--long-settings", "fb9-zero-s1,fb0-zero-s1"])
