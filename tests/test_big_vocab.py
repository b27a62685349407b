"""Issue 17, item 5: large vocabularies. The layer-0 input weight gradient picks its method by the
vocabulary size V and gate width G; every method equals a plain scatter-add reference, and at
large V none builds the (V, T*B) one-hot matrix (25.6 G multiply-adds at V = 20,001, G = 512)."""

import os
import re
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from charrnn.tasks import lm as model
from charrnn.nn.cells import input_projection_backward
from charrnn.config import ModelConfig
from charrnn.nn.workspace import Workspace


def reference(x, da, V):
    want = np.zeros((V, da.shape[-1]))
    np.add.at(want, x.reshape(-1), da.reshape(-1, da.shape[-1]))
    return want


# one-hot product (V <= 256, G < 256), grouped sums (G >= 256), reduceat (V > 256, G < 256)
@pytest.mark.parametrize("V, G, used", [(65, 32, 40), (65, 256, 65), (577, 256, 300), (577, 32, 577),
                                        (20001, 8, 3000), (20001, 256, 20001)])
def test_every_method_equals_a_scatter_add(V, G, used):
    rng = np.random.default_rng(V + G)
    x = rng.integers(0, used, (30, 20))  # (T, B) ids; some rows of Wx unused
    x[0, 0] = V - 1  # the last row too
    da = rng.normal(size=(30, 20, G))
    grads = {}
    assert input_projection_backward({"Wx": np.zeros((V, G))}, x, da, grads) is None
    np.testing.assert_allclose(grads["Wx"], reference(x, da, V), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["b"], da.reshape(-1, G).sum(axis=0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("G", [8, 512])
def test_a_large_vocabulary_builds_no_one_hot_matrix(G):
    V, T, B = 20001, 20, 20
    rng = np.random.default_rng(0)
    x = rng.integers(0, V, (T, B))
    da = rng.normal(size=(T, B, G)).astype(np.float32)
    p, ws = {"Wx": np.zeros((V, G), np.float32)}, Workspace()
    input_projection_backward(p, x, da, {}, ws)  # (warm-up: the gradient array comes from the workspace)
    tracemalloc.start()
    try:
        grads = {}
        input_projection_backward(p, x, da, grads, ws)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one_hot = V * T * B * 4  # 32 MB
    assert peak < one_hot / 4, f"{peak / 1e6:.1f} MB"
    np.testing.assert_allclose(grads["Wx"], reference(x, da, V), rtol=1e-5, atol=1e-5)


def test_softmax_overwrite_gives_the_same_loss_and_gradient_and_keeps_the_input_otherwise():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(40, 300)) * 5
    targets = rng.integers(0, 300, 40)
    before = logits.copy()
    loss, d = model.softmax_xent(logits, targets)
    assert np.array_equal(logits, before)  # not overwritten unless asked
    loss2, d2 = model.softmax_xent(logits, targets, overwrite=True)
    assert d2 is logits and loss2 == loss and np.array_equal(d2, d)


def test_training_step_at_a_large_vocabulary_matches_float64_gradients():
    """The pooled logits and gradient arrays hold right values step after step."""
    cfg = ModelConfig(vocab_size=3000, hidden=8, layers=1, cell="lstm", dtype="float64")
    params = model.init_params(cfg, np.random.default_rng(2))
    rng = np.random.default_rng(3)
    for _ in range(3):
        x, y = rng.integers(0, 3000, (4, 6)), rng.integers(0, 3000, (4, 6))
        loss, grads, _ = model.loss_and_grads(params, cfg, x, y, model.init_state(cfg, 4))
        logits, _, cache = model.forward(params, cfg, x, model.init_state(cfg, 4))
        _, dlogits = model.softmax_xent(logits.copy(), y.T.reshape(-1))
        want = model.backward(params, cfg, dlogits, cache)[0]
        for k in grads:
            np.testing.assert_allclose(grads[k], want[k], rtol=1e-12, atol=1e-14)


# Runs `charrnn train` and, at its exit, copies /proc/self/status (VmHWM: the peak RSS of this very
# process image; a forked child's ru_maxrss would count the parent's pages too).
DRIVER = ("import atexit, sys; out = sys.argv[1]; sys.argv = ['charrnn'] + sys.argv[2:];"
          "atexit.register(lambda: open(out, 'w').write(open('/proc/self/status').read()));"
          "from charrnn.cli import main; main()")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_est_memory_is_within_a_quarter_of_the_measured_peak(tmp_path):
    """`charrnn train`'s summary line "est. memory" against the peak RSS of that process (the
    default 2 x 128 LSTM, 300 characters, a few steps and the validation pass)."""
    rng = np.random.default_rng(5)
    chars = np.array([chr(0x4E00 + i) for i in range(299)] + ["\n"])
    (tmp_path / "t.txt").write_text("".join(chars) + "".join(rng.choice(chars, 60_000)), encoding="utf-8")
    env = dict(os.environ, CHARRNN_CACHE_DIR=str(tmp_path / "cache"), COLUMNS="200")
    status = tmp_path / "status"
    r = subprocess.run([sys.executable, "-c", DRIVER, str(status), "train", str(tmp_path / "t.txt"), "--out",
                        str(tmp_path / "run"), "--max-steps", "2", "--eval-every", "1000", "--sample-len", "0"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    assert r.returncode == 0, r.stderr
    est = re.search(r"est\. memory\s+([\d.,]+) MB", r.stderr)
    assert est, r.stderr
    peak = int(re.search(r"VmHWM:\s+(\d+) kB", status.read_text()).group(1)) / 1024  # MB
    estimated = float(est.group(1).replace(",", ""))
    assert abs(estimated - peak) <= 0.25 * peak, (estimated, peak)
