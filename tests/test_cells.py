"""Cells: float64 central-difference gradient checks, and the fused code against a plain reference."""

import tracemalloc

import numpy as np
import pytest

from charrnn.nn.cells import CELLS, input_projection_backward
from charrnn.nn.workspace import Workspace
from helpers import numeric_grad, rel_error
from reference import ref_chunk, ref_step, sig

B, T, D, H = 2, 3, 4, 5  # all different, so a transposed shape cannot pass unnoticed


def make_layer(cell, rng, D=D, dtype=np.float64):
    G = CELLS[cell].gates * H
    return {"Wx": rng.normal(0, 0.5, (D, G)).astype(dtype), "Wh": rng.normal(0, 0.5, (H, G)).astype(dtype),
            "b": rng.normal(0, 0.5, G).astype(dtype)}


def make_state(cell, rng, dtype=np.float64):
    return tuple(rng.normal(0, 0.5, (B, H)).astype(dtype) for _ in range(CELLS[cell].n_state))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("one_hot", [False, True])
def test_layer_gradients(cell, one_hot):
    """dx, dWx, dWh, db and the gradient into every initial state, for a loss that also reads the final state."""
    rng = np.random.default_rng(0)
    p = make_layer(cell, rng)
    state0 = make_state(cell, rng)
    x = rng.integers(0, D, (T, B)) if one_hot else rng.normal(size=(T, B, D))
    dhs = rng.normal(size=(T, B, H))  # loss = sum(hs * dhs) + sum(stateT * dstateT)
    dstateT = tuple(rng.normal(size=(B, H)) for _ in state0)
    fwd, bwd = CELLS[cell].forward, CELLS[cell].backward

    def loss():
        hs, sT, _ = fwd(p, x, state0)
        return np.sum(hs * dhs) + sum(np.sum(s * d) for s, d in zip(sT, dstateT))

    _, _, cache = fwd(p, x, state0)
    dx, dstate0, grads = bwd(dhs, dstateT, cache)
    for name in ("Wx", "Wh", "b"):
        assert rel_error(grads[name], numeric_grad(loss, p[name])) < 1e-5, name
    for k, s in enumerate(state0):
        assert rel_error(dstate0[k], numeric_grad(loss, s)) < 1e-5, f"state {k}"
    if one_hot:
        assert dx is None
    else:
        assert rel_error(dx, numeric_grad(loss, x)) < 1e-5


REFS = ref_chunk


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_forward_equals_reference(cell, dtype):
    rng = np.random.default_rng(1)
    p = make_layer(cell, rng, dtype=dtype)
    state0 = make_state(cell, rng, dtype=dtype)
    ids = rng.integers(0, D, (T, B))
    x = np.eye(D, dtype=dtype)[ids]  # one-hot floats for the reference
    want_hs, want_state = REFS[cell](p, x, state0)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for inp in (ids, x):  # row lookup and dense input give the same result
        hs, stateT, _ = CELLS[cell].forward(p, inp, state0)
        assert hs.dtype == dtype
        np.testing.assert_allclose(hs, want_hs, atol=tol)
        for got, want in zip(stateT, want_state):
            np.testing.assert_allclose(got, want, atol=tol)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_equals_chunk_forward(cell):
    """The plain one-step reference, fed ids, walks the same trajectory as the chunk forward."""
    rng = np.random.default_rng(2)
    p = make_layer(cell, rng)
    state = state0 = make_state(cell, rng)
    ids = rng.integers(0, D, (T, B))
    hs, stateT, _ = CELLS[cell].forward(p, ids, state0)
    for t in range(T):
        h, state = ref_step[cell](p, ids[t], state)
        np.testing.assert_allclose(h, hs[t], atol=1e-12)
    for got, want in zip(state, stateT):
        np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_forward_does_not_modify_inputs(cell):
    rng = np.random.default_rng(3)
    p = make_layer(cell, rng)
    state0 = make_state(cell, rng)
    x = rng.normal(size=(T, B, D))
    before = [a.copy() for a in (*p.values(), *state0, x)]
    _, _, cache = CELLS[cell].forward(p, x, state0)
    CELLS[cell].backward(rng.normal(size=(T, B, H)), tuple(np.zeros((B, H)) for _ in state0), cache)
    for a, b in zip((*p.values(), *state0, x), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_trace_reports_the_forward_pass(cell):
    """trace(cache) gives h (and the gates) of the forward pass, checked against the plain reference."""
    rng = np.random.default_rng(4)
    p = make_layer(cell, rng)
    state0 = make_state(cell, rng)
    x = rng.normal(size=(T, B, D))
    hs, stateT, cache = CELLS[cell].forward(p, x, state0)
    tr = CELLS[cell].trace(cache)
    np.testing.assert_allclose(tr["h"], REFS[cell](p, x, state0)[0], atol=1e-12)
    if cell == "lstm":
        np.testing.assert_allclose(tr["c"][-1], stateT[1], atol=1e-12)
        pre_f = x[0] @ p["Wx"][:, H:2 * H] + state0[0] @ p["Wh"][:, H:2 * H] + p["b"][H:2 * H]
        np.testing.assert_allclose(tr["f"][0], sig(pre_f), atol=1e-12)
        assert set(tr) == {"h", "c", "i", "f", "o"}
    if cell == "gru":
        pre_z = x[0] @ p["Wx"][:, H:2 * H] + state0[0] @ p["Wh"][:, H:2 * H] + p["b"][H:2 * H]
        np.testing.assert_allclose(tr["z"][0], sig(pre_z), atol=1e-12)
        assert set(tr) == {"h", "r", "z"}


@pytest.mark.parametrize("V, G", [(7, 256), (300, 256), (7, 20)])  # grouped row sums, one-hot products
def test_one_hot_input_weight_gradient(V, G):
    from charrnn.nn.cells import input_projection_backward
    rng = np.random.default_rng(3)
    x = rng.integers(0, min(V, 40), (T, B))
    da = rng.normal(size=(T, B, G))
    grads = {}
    assert input_projection_backward({"Wx": np.zeros((V, G))}, x, da, grads) is None
    want = np.zeros((V, G))
    np.add.at(want, x.reshape(-1), da.reshape(-1, G))
    np.testing.assert_allclose(grads["Wx"], want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["b"], da.reshape(-1, G).sum(axis=0), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ large vocabularies
# The layer-0 input weight gradient picks its method by the vocabulary size V and gate width G;
# every method equals a plain scatter-add reference, and at large V none builds the (V, T*B) one-hot
# matrix (25.6 G multiply-adds at V = 20,001, G = 512).
def scatter_add_reference(x, da, V):
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
    np.testing.assert_allclose(grads["Wx"], scatter_add_reference(x, da, V), rtol=1e-12, atol=1e-12)
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
    np.testing.assert_allclose(grads["Wx"], scatter_add_reference(x, da, V), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("one_hot", [False, True])
def test_lstm_gradients_over_several_backward_blocks(one_hot, monkeypatch):
    """lstm_backward works in blocks of steps: with blocks of 2 steps, T = 7 runs four of them (2, 2, 2, 1)."""
    from charrnn.nn import cells

    T7 = 7
    monkeypatch.setattr(cells, "_BLOCK_BYTES", 4 * B * H * 8 * 2)  # n = 2 steps per block at float64
    rng = np.random.default_rng(1)
    p = make_layer("lstm", rng)
    state0 = make_state("lstm", rng)
    x = rng.integers(0, D, (T7, B)) if one_hot else rng.normal(size=(T7, B, D))
    dhs = rng.normal(size=(T7, B, H))
    dstateT = tuple(rng.normal(size=(B, H)) for _ in state0)

    def loss():
        hs, sT, _ = cells.lstm_forward(p, x, state0)
        return np.sum(hs * dhs) + sum(np.sum(s * d) for s, d in zip(sT, dstateT))

    dx, dstate0, grads = cells.lstm_backward(dhs, dstateT, cells.lstm_forward(p, x, state0)[2])
    for name in ("Wx", "Wh", "b"):
        assert rel_error(grads[name], numeric_grad(loss, p[name])) < 1e-5, name
    for k, s in enumerate(state0):
        assert rel_error(dstate0[k], numeric_grad(loss, s)) < 1e-5, f"state {k}"
    if not one_hot:
        assert rel_error(dx, numeric_grad(loss, x)) < 1e-5
