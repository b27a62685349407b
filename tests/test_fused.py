"""The fused cells (charrnn/nn/fused.py, numba) against the NumPy reference cells, their float64
gradient checks, the --kernels choice and its fallback, and exact resume on each path.

Shapes are tiny: what costs here is numba compiling each kernel once per dtype (cached on disk,
so only the first run of the suite pays it). With CHARRNN_NO_NUMBA=1 (`make test-numpy`) the
kernel tests skip and the fallback tests run."""

import numpy as np
import pytest

from charrnn.errors import UsageError
from charrnn.nn import cells, kernels, optim
from helpers import TRAIN, assert_clean_error, invoke, numeric_grad, rel_error

needs_numba = pytest.mark.skipif(not kernels.numba_available(),
                                 reason="numba not available (CHARRNN_NO_NUMBA or not installed): fused path untested")
B, T, D, H = 3, 4, 6, 5  # all different, so a transposed shape cannot pass unnoticed
CELL_NAMES = ["lstm", "gru", "rnn"]


def fused():
    from charrnn.nn import fused as f
    return f


def layer(cell, rng, dtype):
    G = cells.CELLS[cell].gates * H
    p = {"Wx": rng.normal(0, 0.6, (D, G)), "Wh": rng.normal(0, 0.6, (H, G)), "b": rng.normal(0, 0.6, G)}
    state0 = tuple(rng.normal(0, 0.6, (B, H)) for _ in range(cells.CELLS[cell].n_state))
    return {k: v.astype(dtype) for k, v in p.items()}, tuple(s.astype(dtype) for s in state0)


@needs_numba
@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("one_hot", [True, False])
def test_fused_equals_reference(cell, dtype, one_hot):
    """Forward (outputs, final state, trace) and backward (dx, dstate0, grads) of both paths, on
    the same inputs and the same dL/d(outputs, final state): float64 to ~1e-12, float32 to its rounding."""
    rng = np.random.default_rng(3)
    p, state0 = layer(cell, rng, dtype)
    x = rng.integers(0, D, (T, B)) if one_hot else rng.normal(size=(T, B, D)).astype(dtype)
    dhs = rng.normal(size=(T, B, H)).astype(dtype)
    dstateT = tuple(rng.normal(size=(B, H)).astype(dtype) for _ in state0)
    ref = (getattr(cells, f"{cell}_forward"), getattr(cells, f"{cell}_backward"), getattr(cells, f"{cell}_trace"))
    new = (getattr(fused(), f"{cell}_forward"), getattr(fused(), f"{cell}_backward"), ref[2])
    tol = 1e-12 if dtype == np.float64 else 2e-5
    out = []
    for fwd, bwd, trace in (ref, new):
        hs, sT, cache = fwd(p, x, state0)
        tr = {k: v.copy() for k, v in trace(cache).items()}
        dx, ds0, grads = bwd(dhs, dstateT, cache)
        out.append((hs.copy(), sT, tr, dx, ds0, grads))
    (hs0, sT0, tr0, dx0, ds00, g0), (hs1, sT1, tr1, dx1, ds01, g1) = out
    assert hs1.dtype == dtype and g1["Wh"].dtype == dtype
    np.testing.assert_allclose(hs1, hs0, atol=tol, rtol=0)
    for a, b in zip(sT1, sT0):
        np.testing.assert_allclose(a, b, atol=tol, rtol=0)
    assert tr1.keys() == tr0.keys()
    for k in tr0:
        np.testing.assert_allclose(tr1[k], tr0[k], atol=tol, rtol=0, err_msg=k)
    scale = lambda a: tol * max(1.0, float(np.abs(a).max()))  # noqa: E731  gradients grow with T
    for a, b in zip(ds01, ds00):
        np.testing.assert_allclose(a, b, atol=scale(b), rtol=0)
    for k in g0:
        np.testing.assert_allclose(g1[k], g0[k], atol=scale(g0[k]), rtol=0, err_msg=k)
    if one_hot:
        assert dx0 is None and dx1 is None
    else:
        np.testing.assert_allclose(dx1, dx0, atol=scale(dx0), rtol=0)


@needs_numba
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_fused_gradients(cell):
    """Central differences in float64 on the fused forward agree with the fused backward (dense
    input: dx too), for a loss that also reads the final state."""
    rng = np.random.default_rng(4)
    p, state0 = layer(cell, rng, np.float64)
    x = rng.normal(size=(T, B, D))
    dhs, dstateT = rng.normal(size=(T, B, H)), tuple(rng.normal(size=(B, H)) for _ in state0)
    fwd, bwd = getattr(fused(), f"{cell}_forward"), getattr(fused(), f"{cell}_backward")

    def loss():
        hs, sT, _ = fwd(p, x, state0)
        return np.sum(hs * dhs) + sum(np.sum(s * d) for s, d in zip(sT, dstateT))

    dx, dstate0, grads = bwd(dhs, dstateT, fwd(p, x, state0)[2])
    for name in ("Wx", "Wh", "b"):
        assert rel_error(grads[name], numeric_grad(loss, p[name])) < 1e-5, name
    for k, s in enumerate(state0):
        assert rel_error(dstate0[k], numeric_grad(loss, s)) < 1e-5, f"state {k}"
    assert rel_error(dx, numeric_grad(loss, x)) < 1e-5


@needs_numba
def test_fused_nan_stays_nan():
    """A NaN in the weights reaches the outputs (the float32 tanh clamps, but lets NaN through)."""
    rng = np.random.default_rng(5)
    p, state0 = layer("lstm", rng, np.float32)
    p["Wh"][0, 0] = np.nan
    hs, _, _ = fused().lstm_forward(p, rng.integers(0, D, (T, B)), state0)
    assert np.isnan(hs).any()


@needs_numba
def test_select_swaps_the_registry_and_back():
    assert kernels.select("auto") == "fused" == kernels.active()
    assert cells.CELLS["lstm"].forward is fused().lstm_forward
    assert kernels.describe().startswith("fused (numba")
    assert optim._adam_kernel is fused().adam_update
    assert kernels.select("numpy") == "numpy"
    assert cells.CELLS["lstm"].forward is cells.lstm_forward and cells.CELLS["gru"].backward is cells.gru_backward
    assert optim._adam_kernel is None


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_adam_equals_the_numpy_passes_bit_for_bit(dtype, monkeypatch):
    """Adam's one compiled pass against its 13 NumPy passes: 30 steps of random gradients (with
    huge, tiny and zero entries) give the same parameters and moments, to the last bit."""
    rng = np.random.default_rng(3)
    shapes = {"Wx": (7, 20), "Wh": (5, 20), "b": (20,)}
    p0 = {k: rng.normal(0, 1, s).astype(dtype) for k, s in shapes.items()}
    grads = []
    for _ in range(30):
        g = {k: (rng.normal(0, 1, s) * 10.0 ** rng.integers(-6, 4, s)).astype(dtype) for k, s in shapes.items()}
        g["b"][:3] = 0
        grads.append(g)
    runs = []
    for kernel in (None, fused().adam_update):
        monkeypatch.setattr(optim, "_adam_kernel", kernel)
        opt, p = optim.Adam(), {k: v.copy() for k, v in p0.items()}
        for t, g in enumerate(grads):
            opt.step(p, {k: v.copy() for k, v in g.items()}, lr=2e-3 * (1 + t % 3))
        runs.append((p, opt.state_dict()))
    (p_ref, s_ref), (p_fused, s_fused) = runs
    for k in p_ref:
        assert p_fused[k].dtype == dtype and np.array_equal(p_fused[k], p_ref[k]), k
    assert s_ref.keys() == s_fused.keys()
    for k in s_ref:
        assert np.array_equal(s_fused[k], s_ref[k]), k


def test_without_numba_auto_falls_back_and_fused_is_a_clean_error(monkeypatch, env):
    monkeypatch.setenv("CHARRNN_NO_NUMBA", "1")
    assert not kernels.numba_available()
    assert kernels.select("auto") == "numpy" and cells.CELLS["lstm"].forward is cells.lstm_forward
    assert kernels.describe() == "numpy (numba not available)"
    with pytest.raises(UsageError, match="needs numba"):
        kernels.select("fused")
    r = invoke("train", "ok.txt", *TRAIN, "--kernels", "fused")
    assert_clean_error(r, 2, "--kernels fused needs numba", "--kernels numpy")
    r = invoke("train", "ok.txt", *TRAIN, "--out", "run")  # auto: trains on the NumPy cells
    assert r.exit_code == 0, r.stderr
    r = invoke("info", "run/latest.npz")
    assert "numpy (trained with)" in r.stdout


@needs_numba
def test_resume_exact_on_fused_and_close_on_the_other_path(tmp_path, monkeypatch):
    """Within the fused path a resumed run is bit-for-bit the uninterrupted one; resumed on the
    NumPy path it agrees to float32 rounding (not bitwise: the tanh differs in the last bits)."""
    from charrnn.engine.trained import load_trained
    from helpers import train_lm as train

    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "code.txt"
    corpus.write_text("def add(a, b):\n    return a + b  # sum\n" * 40, encoding="utf-8")
    small, opts = {"batch": 4, "seq_len": 8, "eval_every": 4, "sample_len": 0}, {"hidden": 8, "layers": 2}
    kernels.select("fused")
    one = train(corpus, tmp_path / "one", dict(small, max_steps=8), opts)
    train(corpus, tmp_path / "two", dict(small, max_steps=4), opts)
    two = train(corpus, tmp_path / "two", {"max_steps": 8}, resume=tmp_path / "two" / "latest.npz")
    train(corpus, tmp_path / "three", dict(small, max_steps=4), opts)
    kernels.select("numpy")
    three = train(corpus, tmp_path / "three", {"max_steps": 8}, resume=tmp_path / "three" / "latest.npz")
    a, b, c = (load_trained(r.latest) for r in (one, two, three))
    assert a.meta["kernels"] == "fused" and c.meta["kernels"] == "numpy"
    for name in a.arrays:
        assert np.array_equal(a.arrays[name], b.arrays[name]), name
        np.testing.assert_allclose(c.arrays[name], a.arrays[name], atol=1e-4, rtol=1e-3, err_msg=name)


@needs_numba
def test_cli_train_says_which_kernels_ran(env):
    r = invoke("train", "ok.txt", *TRAIN[:-1], "--out", "run", "--kernels", "fused")  # (not --quiet: the summary)
    assert r.exit_code == 0, r.stderr
    assert "fused (numba" in r.stderr
    r = invoke("info", "run/latest.npz")
    assert "fused (trained with)" in r.stdout
    r = invoke("info", "run/latest.npz", "--json")
    assert '"kernels": "fused"' in r.stdout


@needs_numba
@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fused_sampler_step_equals_numpy(cell, dtype):
    """The one-stream sampler (charrnn.use.stepper) with the fused gate arithmetic walks the same
    logits and states as with NumPy's, 3 layers (the first, middle and top wiring)."""
    from charrnn.config import ModelConfig
    from charrnn.tasks import lm as model
    from charrnn.use.stepper import make_stepper

    cfg = ModelConfig(cell=cell, vocab_size=7, hidden=H, layers=3, dtype=dtype)
    params = model.init_params(cfg, np.random.default_rng(6))
    steppers = []
    for kind in ("numpy", "fused"):
        kernels.select(kind)
        steppers.append(make_stepper(params, cfg))
    tol = 1e-12 if dtype == "float64" else 2e-5
    for ix in np.random.default_rng(7).integers(0, 7, 12):
        want, got = (s.step(int(ix)).copy() for s in steppers)
        np.testing.assert_allclose(got, want, atol=tol, rtol=0)
    for a, b in zip(steppers[1].state, steppers[0].state):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, atol=tol, rtol=0)


@needs_numba
def test_cli_evaluate_and_sample_on_either_path(env):
    """`evaluate --kernels fused|numpy` give the same loss to float32 rounding; `sample --kernels
    fused` writes the text (its numbers: test_fused_sampler_step_equals_numpy)."""
    import json

    r = invoke("train", "ok.txt", *TRAIN, "--out", "run", "--kernels", "numpy")
    assert r.exit_code == 0, r.stderr
    got = {}
    for kind in ("numpy", "fused"):
        r = invoke("evaluate", "run/latest.npz", "ok.txt", "--json", "--kernels", kind)
        assert r.exit_code == 0, r.stderr
        got[kind] = json.loads(r.stdout)["nats_per_char"]
    assert abs(got["fused"] - got["numpy"]) < 1e-5, got
    r = invoke("sample", "run/latest.npz", "--kernels", "fused", "--length", "30", "--seed", "1")
    assert r.exit_code == 0 and len(r.stdout) >= 30, r.stderr


@needs_numba
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_seq2seq_on_the_fused_cells(cell):
    """The encoder-decoder (padding masks, the state hand-off, scheduled sampling's one-step
    decoder) gives the NumPy path's loss and gradients on the fused cells, float64."""
    from charrnn.config import ModelConfig
    from charrnn.data.pairs import build_tokens, encode_pairs, make_batch
    from charrnn.tasks import seq2seq

    pairs = [("abc", "cba"), ("a", "aab"), ("bcab", "c")]
    tokens = build_tokens(pairs)
    cfg = ModelConfig(cell=cell, vocab_size=tokens.V, hidden=4, layers=2, dtype="float64")
    params = seq2seq.init_params(cfg, np.random.default_rng(8))
    batch = make_batch(tokens, encode_pairs(tokens, pairs))
    rng = np.random.default_rng(9)
    use_truth, coins = rng.random(batch.mask.shape) < 0.5, rng.random(batch.mask.shape)
    out = []
    for kind in ("numpy", "fused"):
        kernels.select(kind)
        out.append(seq2seq.loss_and_grads(params, cfg, batch, use_truth=use_truth, coins=coins)[:2])
    (l0, g0), (l1, g1) = out
    assert abs(l1 - l0) < 1e-12
    for k in g0:
        np.testing.assert_allclose(g1[k], g0[k], atol=1e-12, rtol=0, err_msg=k)


def test_numba_cache_dir_follows_charrnn_cache_dir():
    assert kernels.numba_cache_dir({"CHARRNN_CACHE_DIR": "/c"}) == "/c/numba"
    assert kernels.numba_cache_dir({"CHARRNN_CACHE_DIR": "/c", "NUMBA_CACHE_DIR": "/n"}) is None  # numba's own wins
    assert kernels.numba_cache_dir({}) is None  # numba's default (__pycache__, or ~/.cache when not writable)


@needs_numba
def test_fused_float32_tanh_within_5_ulp():
    """The rational float32 tanh, read through the fused RNN (Wh = 0, b = 0, one-hot input: h =
    tanh(Wx[x])): within 5 ulp of the exact tanh over [-10, 10], and exact signs, 0 and +-1."""
    vals = np.concatenate([np.linspace(-10, 10, 99_990), [0.0, 1e-30, -1e-30, 1e-8, 20, -20, 9.0, -9.0, 7.9, -7.9]])
    Wx = vals.astype(np.float32).reshape(1000, 100)  # 1000 "characters", H = 100
    p = {"Wx": Wx, "Wh": np.zeros((100, 100), np.float32), "b": np.zeros(100, np.float32)}
    hs, _, _ = fused().rnn_forward(p, np.arange(1000)[None, :], (np.zeros((1000, 100), np.float32),))
    got, want = hs[0].astype(np.float64), np.tanh(Wx.astype(np.float64))
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(got - want) / ulp) <= 5
    assert np.all(np.sign(got) == np.sign(want)) and got[Wx == 0].tolist() == [0.0] and np.all(np.abs(got) <= 1)


# ---------------------------------------------------------------- auto in training: the handover
def test_handover_step_is_fixed_by_the_model_size():
    """The step from which `charrnn train --kernels auto` runs the fused kernels depends on the
    model and the batch only (never on the clock): the default 2x128 LSTM on ~95 characters
    (258,527 parameters, 50 x 50 characters a step) switches at step 8, a 2x512 at step 1."""
    assert kernels.handover_step(258_527, 2500) == 8
    assert kernels.handover_step(3_400_000, 2500) == 1 and kernels.handover_step(1_000_000, 2500) == 2
    assert kernels.handover_step(10**9, 2500) == 1 and kernels.handover_step(10, 16) == 500
    assert kernels.handover_step(258_527, 2500) == kernels.handover_step(258_527, 2500)


def _auto_handover_at(monkeypatch, at: int):
    """--kernels auto as `charrnn train` selects it, with the handover at step `at`."""
    from charrnn.tasks.lm_task import LMTask
    monkeypatch.setattr(LMTask, "kernel_handover", lambda self, run: at)
    kernels.select("auto", defer=True)
    return kernels.pending()


@needs_numba
def test_auto_runs_numpy_until_the_handover_then_fused_and_resumes_exactly(tmp_path, monkeypatch):
    """Under auto a run's steps before the handover step are the NumPy cells' and the rest the
    fused kernels': 6 steps switching at step 3 are bit for bit 3 steps on --kernels numpy
    resumed for 3 on --kernels fused; resumed across the switch, the run is the same again."""
    from charrnn.engine.trained import load_trained
    from helpers import train_lm as train

    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "code.txt"
    corpus.write_text("def add(a, b):\n    return a + b  # sum\n" * 40, encoding="utf-8")
    small, opts = {"batch": 4, "seq_len": 8, "eval_every": 100, "sample_len": 0}, {"hidden": 8, "layers": 2}
    h = _auto_handover_at(monkeypatch, 3)
    assert h is not None and kernels.active() == "numpy"
    one = train(corpus, tmp_path / "one", dict(small, max_steps=6), opts)
    assert kernels.pending() is None and kernels.active() == "fused" and h._child.poll() == 0
    kernels.select("numpy")
    train(corpus, tmp_path / "two", dict(small, max_steps=3), opts)
    kernels.select("fused")
    two = train(corpus, tmp_path / "two", {"max_steps": 6}, resume=tmp_path / "two" / "latest.npz")
    _auto_handover_at(monkeypatch, 3)
    train(corpus, tmp_path / "three", dict(small, max_steps=2), opts)
    _auto_handover_at(monkeypatch, 3)
    three = train(corpus, tmp_path / "three", {"max_steps": 6}, resume=tmp_path / "three" / "latest.npz")
    kernels.select("numpy")
    numpy_only = train(corpus, tmp_path / "four", dict(small, max_steps=6), opts)
    a, b, c, d = (load_trained(r.latest) for r in (one, two, three, numpy_only))
    assert a.meta["kernels"] == b.meta["kernels"] == c.meta["kernels"] == "fused"
    for name in a.arrays:
        assert np.array_equal(a.arrays[name], b.arrays[name]), name
        assert np.array_equal(a.arrays[name], c.arrays[name]), name
    assert any(not np.array_equal(a.arrays[k], d.arrays[k]) for k in a.arrays)  # (the switch did happen)


@needs_numba
def test_a_run_that_ends_before_the_handover_stops_the_compiling_child(tmp_path, monkeypatch):
    from helpers import train_lm as train

    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "code.txt"
    corpus.write_text("def add(a, b):\n    return a + b  # sum\n" * 40, encoding="utf-8")
    h = _auto_handover_at(monkeypatch, 50)
    r = train(corpus, tmp_path / "run", {"batch": 4, "seq_len": 8, "max_steps": 2, "sample_len": 0}, {"hidden": 8})
    assert r.step == 2 and kernels.active() == "numpy" and kernels.pending() is None
    assert h._child is None and not h.reached  # (--max-steps 2 never reaches step 50: nothing compiled)
    h = _auto_handover_at(monkeypatch, 50)
    r = train(corpus, tmp_path / "run", {"max_steps": 4}, resume=tmp_path / "run" / "latest.npz")
    assert r.step == 4 and kernels.active() == "numpy" and kernels.pending() is None
    assert h._child is None
    h = _auto_handover_at(monkeypatch, 50)
    r = train(corpus, tmp_path / "run2", {"batch": 4, "seq_len": 8, "epochs": 1, "sample_len": 0}, {"hidden": 8})
    assert kernels.active() == "numpy" and kernels.pending() is None and r.step < 50
    assert h._child is not None and h._child.poll() is not None  # ended (killed, or done compiling)


@needs_numba
def test_auto_training_says_when_it_switches_and_warns_if_the_kernels_fail(env, monkeypatch):
    _auto_handover_at(monkeypatch, 1)
    kernels.select("numpy")  # (the CLI selects for itself; the handover step stays patched)
    r = invoke("train", "ok.txt", *TRAIN[:-1], "--out", "run")  # (not --quiet: the summary)
    assert r.exit_code == 0, r.stderr
    assert "numpy until step 1 while numba loads, then fused (numba" in r.stderr
    _auto_handover_at(monkeypatch, 5)
    kernels.select("numpy")
    r = invoke("train", "ok.txt", *TRAIN[:-1], "--out", "run0")  # 2 steps
    assert "numpy (auto runs fused kernels from step 5; this run ends before)" in " ".join(r.stderr.split())
    assert '"kernels": "fused"' in invoke("info", "run/latest.npz", "--json").stdout

    def broken(cell, dtype):
        raise RuntimeError("no LLVM today")
    monkeypatch.setattr(kernels, "warm_up", broken)
    _auto_handover_at(monkeypatch, 1)
    kernels.select("numpy")
    r = invoke("train", "ok.txt", *TRAIN, "--out", "run2")
    assert r.exit_code == 0, r.stderr
    assert "warning: the fused kernels failed to load (RuntimeError: no LLVM today); training goes on " \
           "with the NumPy cells" in r.stderr
    assert kernels.active() == "numpy"
    assert '"kernels": "numpy"' in invoke("info", "run2/latest.npz", "--json").stdout


@needs_numba
def test_ctrl_c_while_the_handover_waits_for_the_child_stops_at_once():
    """The loop's Ctrl-C flag (`stop`) ends the wait for a child still compiling within ~0.05 s,
    with nothing switched; the loop then stops before the step and cancels (kills) the child."""
    import subprocess
    import sys
    import time

    h = kernels.Handover()
    h.at, h._cell, h._dtype = 1, "lstm", np.float32
    h._child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    kernels._handover = h
    t0 = time.perf_counter()
    assert h.finish(stop=lambda: time.perf_counter() - t0 > 0.2) is None
    assert time.perf_counter() - t0 < 1.5 and h._child.poll() is None  # (numba's import included)
    assert kernels.active() == "numpy" and kernels.pending() is h
    h.cancel()
    assert h._child.poll() is not None and kernels.pending() is None
    h._child = subprocess.Popen([sys.executable, "-c", "pass"])  # a child that ends: the switch happens
    assert h.finish(stop=lambda: False) is None and kernels.active() == "fused"
