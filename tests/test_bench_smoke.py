"""benchmarks/workers.py, the process `make bench` runs per measurement, on a tiny job of each
kind (charrnn only: torch is optional and not needed by the tests)."""

import importlib.util
from pathlib import Path

import pytest

from helpers import TEXT

WORKERS = Path(__file__).resolve().parent.parent / "benchmarks" / "workers.py"


@pytest.fixture(scope="module")
def workers():
    spec = importlib.util.spec_from_file_location("bench_workers", WORKERS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def job(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT * 20, encoding="utf-8")
    return {"impl": "charrnn", "cell": "lstm", "hidden": 8, "layers": 1, "batch": 4, "seq": 8, "lr": 2e-3,
            "seed": 0, "corpus": str(corpus), "steps": 2, "warmup": 1, "min_seconds": 0.0}


def test_train_race_and_sample_jobs(workers, job):
    out = workers.run({**job, "kind": "train"})
    assert out["chars_per_s"] > 0 and out["steps"] == 2 and out["rss_mb"] > 0 and out["vocab"] == len(set(TEXT))
    out = workers.run({**job, "kind": "race", "seconds": 0.05})
    assert out["steps"] >= 1 and 0 < out["val_loss"] < 10
    out = workers.run({**job, "kind": "sample", "chars": 20, "warmup_chars": 5})
    assert out["chars_per_s"] > 0


def test_jobs_run_the_kernels_asked_for(workers, job):
    from charrnn.nn import kernels
    out = workers.run({**job, "kind": "train", "kernels": "numpy"})
    assert out["kernels"] == "numpy"
    out = workers.run({**job, "kind": "train"})  # auto, as `charrnn train`
    assert out["kernels"] == ("fused" if kernels.numba_available() else "numpy")
