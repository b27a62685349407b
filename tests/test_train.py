"""The training loop: exact resume, state carried and reset, NaN stop, metrics, signals, refusals."""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from charrnn.tasks import lm as model
from charrnn.errors import CharRNNError, TrainingDiverged, UsageError, VocabError
from helpers import invoke, CORPUS_TEXT as TEXT, corpus, train_lm as train  # noqa: F401 (corpus: a fixture)
from charrnn.engine.trained import load_trained

SMALL = {"batch": 4, "seq_len": 8, "eval_every": 4, "sample_len": 0}
TINY_MODEL = {"hidden": 16, "layers": 2, "dropout": 0.2}


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_resume_is_bit_for_bit_equal_to_one_run(corpus, tmp_path, cell):
    opts = dict(TINY_MODEL, cell=cell)
    one = train(corpus, tmp_path / "one", dict(SMALL, max_steps=14), opts)
    train(corpus, tmp_path / "two", dict(SMALL, max_steps=7), opts)
    two = train(corpus, tmp_path / "two", {"max_steps": 14}, resume=tmp_path / "two" / "latest.npz")
    assert one.step == two.step == 14
    a, b = load_trained(one.latest), load_trained(two.latest)
    assert a.meta["epoch"] == b.meta["epoch"] and a.meta["chunk"] == b.meta["chunk"]
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name]), name
    for name in a.arrays:  # optimizer state and carried hidden state too
        assert np.array_equal(a.arrays[name], b.arrays[name]), name


def test_state_is_carried_between_chunks_and_reset_at_each_epoch(corpus, tmp_path, monkeypatch):
    seen = []
    real = model.loss_and_grads

    def spy(params, cfg, x, y, state, rng=None, **kw):
        seen.append(float(np.abs(state[0][0]).sum()))
        out = real(params, cfg, x, y, state, rng, **kw)
        seen_out.append(out[2])
        return out

    seen_out = []
    monkeypatch.setattr(model, "loss_and_grads", spy)
    # 2 streams of (len-1)//2 characters, 100-char chunks: a few chunks per epoch
    res = train(corpus, tmp_path / "o", {"batch": 2, "seq_len": 100, "epochs": 2, "eval_every": 1000,
                                         "sample_len": 0}, {"hidden": 8, "layers": 1})
    n_chunks = (int(len(TEXT) * 0.9) - 1) // 2 // 100
    assert res.step == 2 * n_chunks
    for k, total in enumerate(seen):
        if k % n_chunks == 0:
            assert total == 0.0  # first chunk of every epoch starts from zeros
        else:
            assert total > 0  # the others continue from the previous chunk's final state
            assert np.array_equal(np.abs(seen_out[k - 1][0][0]).sum(), total)


def test_checkpoint_metadata_and_metrics_log(corpus, tmp_path):
    res = train(corpus, tmp_path / "o", dict(SMALL, max_steps=8), TINY_MODEL)
    t = load_trained(tmp_path / "o" / "best.npz")
    assert t.meta["step"] == 8 and t.meta["val_loss"] == pytest.approx(t.meta["best_val_loss"])
    assert t.meta["corpus"]["sha256"] == hashlib.sha256(TEXT.encode()).hexdigest()
    assert "opt/t" in t.arrays or any(k.startswith("opt/") for k in t.arrays)
    assert t.carried_state()[0][0].shape == (4, 16)
    lines = [json.loads(x) for x in (tmp_path / "o" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [4, 8]
    for r in lines:
        assert {"step", "epoch", "train_loss", "val_loss", "lr", "grad_norm", "chars_per_s", "elapsed"} <= set(r)
    assert len(res.history) == 2


def test_loss_falls_on_real_text(corpus, tmp_path):
    res = train(corpus, tmp_path / "o", {"batch": 8, "seq_len": 32, "eval_every": 20, "max_steps": 80, "lr": 1e-2,
                                         "sample_len": 0}, {"hidden": 64, "layers": 1})
    losses = [r["val_loss"] for r in res.history]
    assert losses[-1] < losses[0] - 0.5
    assert losses[-1] < 2.0


def test_nan_stops_and_keeps_last_good_checkpoint(corpus, tmp_path, monkeypatch):
    out = tmp_path / "o"
    train(corpus, out, dict(SMALL, max_steps=4), TINY_MODEL)
    before = (out / "latest.npz").read_bytes()
    real = model.loss_and_grads

    def poisoned(params, cfg, x, y, state, rng=None, **kw):
        loss, grads, s = real(params, cfg, x, y, state, rng, **kw)
        return float("nan"), grads, s

    monkeypatch.setattr(model, "loss_and_grads", poisoned)
    with pytest.raises(TrainingDiverged) as e:
        train(corpus, out, {"max_steps": 8}, resume=out / "latest.npz")
    assert "--lr" in e.value.hint and "step 4" in e.value.message
    assert (out / "latest.npz").read_bytes() == before


def test_existing_run_is_not_overwritten_and_lock_refuses_second_run(corpus, tmp_path):
    out = tmp_path / "o"
    train(corpus, out, dict(SMALL, max_steps=4), TINY_MODEL)
    with pytest.raises(UsageError, match="already holds a training run"):
        train(corpus, out, dict(SMALL, max_steps=4), TINY_MODEL)
    from charrnn.engine.lock import RunLock
    live = RunLock(out)  # a live run holds the lock
    live.acquire()
    with pytest.raises(UsageError, match=f"another `charrnn train` \\(process {os.getpid()}\\)"):
        train(corpus, out, {"max_steps": 8}, resume=out / "latest.npz")
    live.release()
    (out / ".lock").write_text("999999999 " + os.uname().nodename)  # stale, as older versions left it
    assert train(corpus, out, {"max_steps": 8}, resume=out / "latest.npz").step == 8


def test_resume_with_other_model_and_init_from_with_other_vocab(corpus, tmp_path):
    out = tmp_path / "o"
    train(corpus, out, dict(SMALL, max_steps=4), TINY_MODEL)
    with pytest.raises(UsageError, match="--hidden"):
        train(corpus, out, {"max_steps": 8}, {"hidden": 32}, resume=out / "latest.npz")
    with pytest.raises(UsageError, match="--batch"):
        train(corpus, out, {"max_steps": 8, "batch": 8}, resume=out / "latest.npz")
    other = tmp_path / "korean.txt"
    other.write_text("안녕하세요 세계 " * 200, encoding="utf-8")
    with pytest.raises(VocabError, match="does not know"):
        train(other, tmp_path / "ft", dict(SMALL, max_steps=4), init_from=out / "latest.npz")
    subset = tmp_path / "subset.txt"  # characters the model knows: fine-tuning works, ids remapped
    subset.write_text("print('hi')\n" * 100, encoding="utf-8")
    res = train(subset, tmp_path / "ft2", dict(SMALL, max_steps=4), init_from=out / "latest.npz")
    assert load_trained(res.latest).vocab == load_trained(out / "latest.npz").vocab


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_checkpoint_and_prints_resume_command(corpus, tmp_path, sig, code):
    out = tmp_path / "o"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "charrnn", "train", str(corpus), "--out", str(out), "--hidden", "16",
           "--batch", "4", "--seq-len", "8", "--eval-every", "5", "--sample-len", "0", "--time", "60s"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    deadline = time.monotonic() + 60
    while not (out / "latest.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "resume with: charrnn train" in stderr and f"--resume {out / 'latest.npz'}" in stderr
    assert "Traceback" not in stderr and stdout == ""
    t = load_trained(out / "latest.npz")
    assert t.meta["step"] >= 5


def test_cli_rejects_bad_options_before_any_work(corpus, tmp_path):
    for args, name in [(["--hidden", "0"], "--hidden"), (["--dropout", "1"], "--dropout"),
                       (["--val-frac", "0"], "--val-frac"), (["--time", "soon"], "--time"),
                       (["--lr", "-1"], "--lr")]:
        r = invoke("train", str(corpus), "--out", str(tmp_path / "x"), *args)
        assert r.exit_code == 2, (args, r.output)
        assert name in r.output
        assert not (tmp_path / "x").exists()


def test_a_new_language_model_takes_its_cells_measured_learning_rate(corpus, tmp_path):
    """--lr by cell when not given (options.CELL_LR: the LSTM 4e-3, GRU and RNN 2e-3); a given --lr wins;
    a resumed run keeps its own; --init-from takes the saved model's cell."""
    small = {"max_steps": 1, "batch": 2, "seq_len": 8}
    lrs = {}
    for cell in ("lstm", "gru", "rnn"):
        r = train(corpus, tmp_path / cell, small, {"cell": cell, "hidden": 4, "layers": 1})
        lrs[cell] = load_trained(r.latest).train_cfg.lr
    assert lrs == {"lstm": 4e-3, "gru": 2e-3, "rnn": 2e-3}
    r = train(corpus, tmp_path / "given", dict(small, lr=1e-3), {"hidden": 4, "layers": 1})
    assert load_trained(r.latest).train_cfg.lr == 1e-3
    r = train(corpus, tmp_path / "given", {"max_steps": 2}, {}, resume=r.latest)
    assert load_trained(r.latest).train_cfg.lr == 1e-3  # resumed: its own
    r = train(corpus, tmp_path / "ft", small, {}, init_from=tmp_path / "gru" / "latest.npz")
    assert load_trained(r.latest).train_cfg.lr == 2e-3  # the saved model is a GRU


# Runs `charrnn train` and, at its exit, copies /proc/self/status (VmHWM: the peak RSS of this very
# process image; a forked child's ru_maxrss would count the parent's pages too).
DRIVER = ("import atexit, sys; out = sys.argv[1]; sys.argv = ['charrnn'] + sys.argv[2:];"
          "atexit.register(lambda: open(out, 'w').write(open('/proc/self/status').read()));"
          "from charrnn.cli import main; main()")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
@pytest.mark.parametrize("steps", [2, 20])
def test_est_memory_is_within_a_quarter_of_the_measured_peak(tmp_path, steps):
    """`charrnn train`'s summary line "est. memory" against the peak RSS of that process (the
    default 2 x 128 LSTM, 300 characters, a few steps and the validation pass). Under --kernels
    auto the fused kernels load at step 6 (charrnn.nn.kernels.handover_step): 20 steps include
    their memory, 2 do not."""
    rng = np.random.default_rng(5)
    chars = np.array([chr(0x4E00 + i) for i in range(299)] + ["\n"])
    (tmp_path / "t.txt").write_text("".join(chars) + "".join(rng.choice(chars, 60_000)), encoding="utf-8")
    env = dict(os.environ, CHARRNN_CACHE_DIR=str(tmp_path / "cache"), COLUMNS="200")
    status = tmp_path / "status"
    r = subprocess.run([sys.executable, "-c", DRIVER, str(status), "train", str(tmp_path / "t.txt"), "--out",
                        str(tmp_path / "run"), "--max-steps", str(steps), "--eval-every", "1000", "--sample-len", "0"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    assert r.returncode == 0, r.stderr
    est = re.search(r"est\. memory\s+([\d.,]+) MB", r.stderr)
    assert est, r.stderr
    peak = int(re.search(r"VmHWM:\s+(\d+) kB", status.read_text()).group(1)) / 1024  # MB
    estimated = float(est.group(1).replace(",", ""))
    assert abs(estimated - peak) <= 0.25 * peak, (estimated, peak)
