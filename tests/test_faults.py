"""Faults: SIGKILL at random moments while checkpointing every step never loses the newest
complete checkpoint; it always loads and resumes. (Ctrl-C / SIGTERM, NaN and the lock against a
second run are tested in test_train.py.)"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from charrnn.engine.trained import load_trained

from helpers import CORPUS_TEXT as TEXT
ARGS = ["--hidden", "8", "--layers", "1", "--batch", "2", "--seq-len", "8", "--eval-every", "1",
        "--sample-len", "0", "--quiet"]


def start(corpus, out, *extra):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "charrnn", "train", str(corpus), "--out", str(out), *ARGS, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_at_random_moments_never_loses_the_newest_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "code.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out, latest = tmp_path / "run", tmp_path / "run" / "latest.npz"
    rng = random.Random(8)  # fixed delays: reproducible, yet spread over start-up, training and saving
    began, last_step, kills, loads = time.monotonic(), 0, 0, 0
    for _ in range(6):
        resume = ["--resume", str(latest)] if latest.exists() else ["--overwrite"]
        proc = start(corpus, out, "--max-steps", "100000", *resume)
        t0 = time.monotonic()
        # wait for the first checkpoint of this process (or the start-up), then a random extra delay
        while time.monotonic() - t0 < 10 and proc.poll() is None and not (
                latest.exists() and latest.stat().st_mtime > began and time.monotonic() - t0 > 0.3):
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.6))
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        kills += 1
        if latest.exists():
            t = load_trained(latest)  # the newest complete checkpoint always loads ...
            assert t.meta["step"] >= last_step, "a checkpoint went back in time"
            last_step = t.meta["step"]
            loads += 1
            # best.npz is written before latest.npz: a kill between them leaves it one evaluation ahead
            assert not (out / "best.npz").exists() or load_trained(out / "best.npz").meta["step"] <= last_step + 1
        for p in out.glob("*.npz"):
            assert p.name in ("latest.npz", "best.npz")  # half-written files keep a temporary name
    assert kills == 6 and loads >= 4 and last_step > 0

    # ... and resumes: the run continues from the saved step to the end and exits normally.
    proc = start(corpus, out, "--resume", str(latest), "--max-steps", str(last_step + 3))
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and stdout == ""
    t = load_trained(latest)
    assert t.meta["step"] == last_step + 3
    from charrnn.engine.lock import RunLock
    free = RunLock(out)  # the lock was released: a new writer gets it at once
    free.acquire()
    free.release()
    records = []
    for line in (out / "metrics.jsonl").read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            pass  # a line cut short by a kill
    assert records and records[-1]["step"] == last_step + 3
    assert time.monotonic() - began < 30
