"""Seq2seq model: float64 gradient checks through encoder, state hand-off and decoder (with masks),
padding invariance, the step-by-step decoder against the chunk decoder."""

import numpy as np
import pytest
from helpers import central_difference

from charrnn.tasks import seq2seq
from charrnn.config import ModelConfig
from charrnn.data.pairs import build_tokens, encode_pairs, make_batch


def check_grads(f, params, grads, names, n=8, seed=0):
    """Central differences of the scalar f() at n random elements of each named parameter."""
    rng = np.random.default_rng(seed)
    for name in names:
        x = params[name]
        for flat in rng.choice(x.size, size=min(n, x.size), replace=False):
            idx = np.unravel_index(flat, x.shape)
            want = central_difference(f, x, idx)
            assert grads[name][idx] == pytest.approx(want, rel=1e-5, abs=1e-8), (name, idx)

PAIRS = [("abc", "cba"), ("a", "aab"), ("bcab", "c"), ("ca", "acca")]


def setup(cell, layers=2, hidden=4, pairs=PAIRS, seed=0):
    tokens = build_tokens(pairs)
    cfg = ModelConfig(cell=cell, vocab_size=tokens.V, hidden=hidden, layers=layers, dtype="float64")
    params = seq2seq.init_params(cfg, np.random.default_rng(seed))
    for k, v in params.items():  # non-zero biases, so a padding step would show if it ever ran
        v += np.random.default_rng(seed + 1).normal(0, 0.3, v.shape)
    return tokens, cfg, params


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradients_through_encoder_handoff_and_decoder(cell):
    tokens, cfg, params = setup(cell)
    batch = make_batch(tokens, encode_pairs(tokens, PAIRS))  # lengths differ: padding and masks
    loss, grads, _ = seq2seq.loss_and_grads(params, cfg, batch)
    assert set(grads) == set(params)
    check_grads(lambda: seq2seq.loss_and_grads(params, cfg, batch)[0], params, grads,
                ("enc.l0.Wx", "enc.l1.Wh", "enc.l0.b", "enc.l1.Wx", "dec.l0.Wh", "dec.l1.Wx", "dec.l0.b", "Wy", "by"))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gradients_with_scheduled_sampling(cell):
    tokens, cfg, params = setup(cell)
    batch = make_batch(tokens, encode_pairs(tokens, PAIRS))
    rng = np.random.default_rng(3)
    use_truth, coins = rng.random(batch.mask.shape) < 0.5, rng.random(batch.mask.shape)
    f = lambda: seq2seq.loss_and_grads(params, cfg, batch, use_truth=use_truth, coins=coins)  # noqa: E731
    loss, grads, _ = f()
    check_grads(lambda: f()[0], params, grads, ("enc.l0.Wh", "enc.l1.b", "dec.l0.Wx", "dec.l1.Wh", "Wy"))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_by_step_decoder_with_all_truth_equals_chunk_decoder(cell):
    tokens, cfg, params = setup(cell)
    batch = make_batch(tokens, encode_pairs(tokens, PAIRS))
    loss, grads, _ = seq2seq.loss_and_grads(params, cfg, batch)
    truth = np.ones(batch.mask.shape, dtype=bool)
    loss2, grads2, _ = seq2seq.loss_and_grads(params, cfg, batch, use_truth=truth, coins=np.zeros(truth.shape))
    assert loss2 == pytest.approx(loss, rel=1e-12)
    for name in grads:
        np.testing.assert_allclose(grads2[name], grads[name], rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_padding_changes_no_loss_gradient_or_state(cell):
    tokens, cfg, params = setup(cell)
    enc = encode_pairs(tokens, PAIRS)
    pair = enc[1]  # the shortest source
    alone = make_batch(tokens, [pair])
    padded = make_batch(tokens, [pair], pad_to=(9, 9))  # the same pair, 8 more padding steps each side
    la, ga, sa = seq2seq.loss_and_grads(params, cfg, alone)
    lp, gp, sp = seq2seq.loss_and_grads(params, cfg, padded)
    assert lp == pytest.approx(la, rel=1e-13)
    for name in ga:
        np.testing.assert_allclose(gp[name], ga[name], rtol=1e-12, atol=1e-15, err_msg=name)
    # In a batch with longer pairs: its state is its own, and loss and gradients add up (sum of nats).
    full = make_batch(tokens, enc)
    lf, gf, sf = seq2seq.loss_and_grads(params, cfg, full, norm=1.0)
    parts = [seq2seq.loss_and_grads(params, cfg, make_batch(tokens, [p]), norm=1.0) for p in enc]
    assert lf == pytest.approx(sum(p[0] for p in parts), rel=1e-12)
    for name in gf:
        np.testing.assert_allclose(gf[name], sum(p[1][name] for p in parts), rtol=1e-10, atol=1e-13,
                                   err_msg=name)
    for k in range(cfg.layers):
        for j, a in enumerate(sf[k]):
            np.testing.assert_allclose(a[1], sa[k][j][0], rtol=1e-13, atol=0)
            for b, p in enumerate(parts):
                np.testing.assert_allclose(a[b], p[2][k][j][0], rtol=1e-13, atol=0)


def test_initial_loss_is_about_log_outputs():
    tokens, cfg, params = setup("lstm", hidden=16)
    params = seq2seq.init_params(cfg, np.random.default_rng(0))
    loss = seq2seq.loss_sum(params, cfg, make_batch(tokens, encode_pairs(tokens, PAIRS)))
    assert loss[0] / loss[1] == pytest.approx(np.log(tokens.n_out), rel=0.05)
