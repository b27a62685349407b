"""The stacked model: gradient checks through every layer, initial loss, overfitting, determinism."""

import math

import numpy as np
import pytest

from charrnn.tasks import lm as model
from charrnn.config import ModelConfig
from charrnn.errors import UsageError
from charrnn.use.stepper import make_stepper
from helpers import numeric_grad, rel_error
from reference import model_step

B, T = 2, 3


def small(cell, layers, dropout=0.0, V=4, H=5):
    return ModelConfig(cell=cell, vocab_size=V, hidden=H, layers=layers, dropout=dropout, dtype="float64")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_model_gradients(cell, layers):
    cfg = small(cell, layers, dropout=0.3 if layers == 2 else 0.0)
    rng = np.random.default_rng(0)
    params = model.init_params(cfg, rng)
    for v in params.values():  # larger weights than the init, so every path matters
        v += rng.normal(0, 0.3, v.shape)
    state0 = [tuple(rng.normal(0, 0.5, s.shape) for s in layer) for layer in model.init_state(cfg, B)]
    x = rng.integers(0, cfg.vocab_size, (B, T))
    y = rng.integers(0, cfg.vocab_size, (B, T))

    def loss():  # the same dropout masks on every call
        logits, _, _ = model.forward(params, cfg, x, state0, rng=np.random.default_rng(7))
        return model.softmax_xent(logits, y.T.reshape(-1))[0]

    logits, _, cache = model.forward(params, cfg, x, state0, rng=np.random.default_rng(7))
    _, dlogits = model.softmax_xent(logits, y.T.reshape(-1))
    grads, dstate0 = model.backward(params, cfg, dlogits, cache)
    assert set(grads) == set(params)
    for name in params:
        assert rel_error(grads[name], numeric_grad(loss, params[name])) < 1e-5, name
    for k in range(layers):
        for j, s in enumerate(state0[k]):
            assert rel_error(dstate0[k][j], numeric_grad(loss, s)) < 1e-5, (k, j)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_loss_and_grads_matches_forward_backward(cell):
    cfg = small(cell, 2)
    rng = np.random.default_rng(1)
    params = model.init_params(cfg, rng)
    x = rng.integers(0, 4, (B, T))
    y = rng.integers(0, 4, (B, T))
    loss, grads, stateT = model.loss_and_grads(params, cfg, x, y, model.init_state(cfg, B))
    total, n, stateT2 = model.loss_sum(params, cfg, x, y, model.init_state(cfg, B))
    assert n == B * T
    assert loss == pytest.approx(total / n, rel=1e-12)
    for a, b in zip(stateT, stateT2):
        np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_initial_loss_is_about_log_vocab(cell):
    V = 65
    cfg = ModelConfig(cell=cell, vocab_size=V, hidden=32, layers=2)
    rng = np.random.default_rng(0)
    params = model.init_params(cfg, rng)
    x = rng.integers(0, V, (8, 20))
    y = rng.integers(0, V, (8, 20))
    loss, _, _ = model.loss_and_grads(params, cfg, x, y, model.init_state(cfg, 8))
    assert abs(loss - math.log(V)) < 0.05 * math.log(V)


def test_same_seed_same_model_and_lstm_forget_bias():
    cfg = ModelConfig(cell="lstm", vocab_size=10, hidden=8, layers=2)
    a = model.init_params(cfg, np.random.default_rng(42))
    b = model.init_params(cfg, np.random.default_rng(42))
    c = model.init_params(cfg, np.random.default_rng(43))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["l0.Wh"], c["l0.Wh"])
    assert a["l0.Wx"].dtype == np.float32
    np.testing.assert_array_equal(a["l0.b"], 0.0)  # the default --forget-bias 0 (docs/init-experiment): all zero
    assert model.n_params(cfg) == sum(v.size for v in a.values())
    d = model.init_params(ModelConfig(cell="lstm", vocab_size=10, hidden=8, layers=2, forget_bias=1.0),
                          np.random.default_rng(42))
    np.testing.assert_array_equal(d["l1.b"][8:16], 1.0)  # --forget-bias 1: the f block of [i, f, o, g]
    np.testing.assert_array_equal(d["l1.b"][:8], 0.0)
    np.testing.assert_array_equal(d["l0.Wh"], a["l0.Wh"])  # and the same weights


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_reference_step_matches_forward_logits(cell):
    cfg = small(cell, 2, V=6, H=7)
    rng = np.random.default_rng(3)
    params = model.init_params(cfg, rng)
    x = rng.integers(0, 6, (B, 5))
    logits, _, _ = model.forward(params, cfg, x, model.init_state(cfg, B))
    state = model.init_state(cfg, B)
    for t in range(5):
        lt, state = model_step(params, cfg, x[:, t], state)
        np.testing.assert_allclose(lt, logits[t * B:(t + 1) * B], atol=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_small_model_overfits_short_text(cell):
    """A tiny model memorises a short text through truncated BPTT with carried state (plain Adam here)."""
    text = "hello world, hello charrnn! "
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text])
    cfg = ModelConfig(cell=cell, vocab_size=len(chars), hidden=32, layers=1 if cell == "rnn" else 2,
                      dtype="float64")
    params = model.init_params(cfg, np.random.default_rng(0))
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    x, y = ids[None, :-1], ids[None, 1:]
    first = None
    for it in range(1, 301):
        loss, grads, _ = model.loss_and_grads(params, cfg, x, y, model.init_state(cfg, 1))
        first = loss if first is None else first
        for k in params:
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v2[k] = 0.999 * v2[k] + 0.001 * grads[k] ** 2
            params[k] -= 1e-2 * (m[k] / (1 - 0.9 ** it)) / (np.sqrt(v2[k] / (1 - 0.999 ** it)) + 1e-8)
    assert first > 2.0
    assert loss < 0.1


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 3])
def test_stepper_matches_the_reference_step(cell, layers):
    """The fast one-stream Stepper walks the same trajectory as the plain reference, from any state."""
    cfg = small(cell, layers, V=6, H=7)
    rng = np.random.default_rng(4)
    params = model.init_params(cfg, rng)
    for v in params.values():
        v += rng.normal(0, 0.3, v.shape)
    state = [tuple(rng.normal(0, 0.5, s.shape) for s in layer) for layer in model.init_state(cfg, 1)]
    st = make_stepper(params, cfg, state)
    for ix in rng.integers(0, 6, 12):
        want, state = model_step(params, cfg, np.array([ix]), state)
        np.testing.assert_allclose(st.step(int(ix)), want[0], atol=1e-12)
        for got_layer, want_layer in zip(st.state, state):
            for got, w in zip(got_layer, want_layer):
                np.testing.assert_allclose(got, w, atol=1e-12)


def test_stepper_float32_and_default_state():
    cfg = ModelConfig(cell="lstm", vocab_size=10, hidden=8, layers=2)
    params = model.init_params(cfg, np.random.default_rng(0))
    st = make_stepper(params, cfg)
    state = model.init_state(cfg, 1)
    for ix in (3, 1, 4, 1, 5):
        want, state = model_step(params, cfg, np.array([ix]), state)
        got = st.step(ix)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want[0], atol=1e-5)


def test_init_defaults_and_options_shape_the_draws():
    """Default: U(-1/sqrt(H), 1/sqrt(H)) weights drawn in parameter order and zero biases (forget
    bias 0 since docs/init-experiment; with --forget-bias 1, the same numbers as before --bias-init /
    --init-scale existed); the options change only that."""
    cfg = ModelConfig(cell="lstm", vocab_size=5, hidden=16, layers=2, forget_bias=1.0)
    got = model.init_params(cfg, np.random.default_rng(3))
    rng, k = np.random.default_rng(3), 0.25
    for name, shape in model.param_shapes(cfg).items():
        if name.endswith(".b") or name == "by":
            want = np.zeros(shape, np.float32)
            if name.endswith(".b"):
                want[16:32] = 1.0
        else:
            want = rng.uniform(-k, k, size=shape).astype(np.float32)
        np.testing.assert_array_equal(got[name], want)
    wide = model.init_params(ModelConfig(cell="gru", vocab_size=5, hidden=16, init_scale=2.0), np.random.default_rng(0))
    assert 0.4 < np.abs(wide["l0.Wh"]).max() <= 0.5
    uni = model.init_params(ModelConfig(cell="lstm", vocab_size=5, hidden=16, bias_init="uniform", forget_bias=0.0),
                            np.random.default_rng(0))
    b = uni["l1.b"]
    assert np.abs(b).max() <= 0.5 and b.std() > 0.05 and np.abs(uni["by"]).max() <= 0.25
    fb1 = model.init_params(ModelConfig(cell="lstm", vocab_size=5, hidden=16, bias_init="uniform", forget_bias=1.0),
                            np.random.default_rng(0))
    np.testing.assert_allclose(fb1["l1.b"][16:32] - b[16:32], 1.0, rtol=1e-6)  # forget bias added to the draw
    with pytest.raises(UsageError, match="--bias-init"):
        ModelConfig(bias_init="normal")
    with pytest.raises(UsageError, match="--init-scale"):
        ModelConfig(init_scale=0)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_stepper_matches_the_chunk_forward(cell, layers):
    """The sampler's Stepper gives the logits and final state of the model's chunk forward (training code)."""
    cfg = small(cell, layers, V=6, H=7)
    rng = np.random.default_rng(5)
    params = model.init_params(cfg, rng)
    for v in params.values():
        v += rng.normal(0, 0.3, v.shape)
    state = [tuple(rng.normal(0, 0.5, s.shape) for s in layer) for layer in model.init_state(cfg, 1)]
    ids = rng.integers(0, 6, (1, 9))
    logits, stateT, _ = model.forward(params, cfg, ids, state)  # (T*1, V) time-major
    st = make_stepper(params, cfg, state)
    for t, ix in enumerate(ids[0]):
        np.testing.assert_allclose(st.step(int(ix)), logits[t], atol=1e-12)
    for got_layer, want_layer in zip(st.state, stateT):
        for got, want in zip(got_layer, want_layer):
            np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_float32_stepper_agrees_with_the_float64_forward_to_rounding(cell):
    """The fused float32 sampler (the GRU's split (r * h) Wh_g = (tr * h) Wh_g/2 + h Wh_g/2 included)
    stays within float32 rounding of the float64 chunk forward over a long run of characters."""
    cfg64 = ModelConfig(cell=cell, vocab_size=30, hidden=64, layers=2, dtype="float64")
    cfg32 = ModelConfig(cell=cell, vocab_size=30, hidden=64, layers=2)
    params = model.init_params(cfg64, np.random.default_rng(6))
    ids = np.random.default_rng(7).integers(0, 30, (1, 200))
    want, _, _ = model.forward(params, cfg64, ids, model.init_state(cfg64, 1))
    st = make_stepper({k: v.astype(np.float32) for k, v in params.items()}, cfg32)
    got = np.stack([st.step(int(ix)).copy() for ix in ids[0]])
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())


def test_an_id_beyond_the_vocabulary_is_a_clear_error_from_any_source():
    from charrnn.tasks import lm as model
    from charrnn.config import ModelConfig
    from charrnn.errors import VocabError

    cfg = ModelConfig(vocab_size=5, hidden=4, layers=1, cell="lstm", dtype="float64")
    params = model.init_params(cfg, np.random.default_rng(0))
    x = np.array([[1, 2, 7]])
    with pytest.raises(VocabError, match="character id 7 is outside the model's vocabulary of 5"):
        model.loss_and_grads(params, cfg, x, x % 5, model.init_state(cfg, 1))


# ------------------------------------------------------------------ large vocabularies
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
