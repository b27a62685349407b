"""Classify and tag models (nn/heads.py over nn/bidirectional.py): float64 gradient checks for both heads
and the bidirectional reader, masks and class weights included; padding invariance (a padded batch
gives the same loss and gradients as each line alone); the reversal within each row's length."""

import numpy as np
import pytest
from helpers import central_difference

from charrnn.config import ModelConfig
from charrnn.data.labelled import Labels, encode_examples, make_batch
from charrnn.data.vocab import Vocab
from charrnn.nn import heads
from charrnn.nn.bidirectional import param_shapes, reverse_index, reverse_within
from charrnn.tasks import lm

CLASSIFY = [("abca", "x"), ("b", "y"), ("cab", "x"), ("acbbc", "z")]  # lengths differ: padding everywhere
TAG = [("abca", "0101"), ("b", "1"), ("cab", "001"), ("acbbc", "10010")]


def setup(cell, examples, kind, bidirectional, layers=2, hidden=3, dropout=0.0, seed=0):
    vocab, labels = Vocab.from_text("".join(t for t, _ in examples)), Labels.from_examples(examples, kind)
    cfg = ModelConfig(cell=cell, vocab_size=vocab.size, hidden=hidden, layers=layers, dtype="float64", dropout=dropout)
    params = lm.init_params(cfg, np.random.default_rng(seed), shapes=param_shapes(cfg, labels.size, bidirectional))
    for v in params.values():  # non-zero biases, so that a padding step would show if it were ever read
        v += np.random.default_rng(seed + 1).normal(0, 0.3, v.shape)
    return cfg, params, encode_examples(vocab, labels, examples, kind)


def check_grads(f, params, grads, n=3, seed=0):
    """Central differences of f() at n random entries of every parameter."""
    rng = np.random.default_rng(seed)
    assert set(grads) == set(params)
    for name, x in params.items():
        for flat in rng.choice(x.size, size=min(n, x.size), replace=False):
            idx = np.unravel_index(flat, x.shape)
            assert grads[name][idx] == pytest.approx(central_difference(f, x, idx), rel=1e-5, abs=1e-8), (name, idx)


@pytest.mark.parametrize("cell,how,bidirectional", [
    ("lstm", "last", True), ("gru", "mean", True), ("rnn", "last", False), ("gru", "last", False),
    ("lstm", "steps", True), ("gru", "steps", True), ("rnn", "steps", True), ("lstm", "steps", False)])
def test_gradients(cell, how, bidirectional):
    examples, kind = (TAG, "tag") if how == "steps" else (CLASSIFY, "classify")
    cfg, params, data = setup(cell, examples, kind, bidirectional)
    batch = make_batch(data, range(len(data)))
    loss, grads = heads.loss_and_grads(params, cfg, batch, how)
    check_grads(lambda: heads.loss_and_grads(params, cfg, batch, how)[0], params, grads)


@pytest.mark.parametrize("how", ["last", "steps"])
def test_gradients_with_class_weights_and_dropout(how):
    examples, kind = (TAG, "tag") if how == "steps" else (CLASSIFY, "classify")
    cfg, params, data = setup("lstm", examples, kind, True, dropout=0.3)
    batch = make_batch(data, range(len(data)))
    weights = np.array([0.5, 2.0, 1.25])[:params["by"].shape[0]]
    f = lambda: heads.loss_and_grads(params, cfg, batch, how, weights, rng=np.random.default_rng(7))  # noqa: E731
    loss, grads = f()
    check_grads(lambda: f()[0], params, grads)


@pytest.mark.parametrize("cell,how", [("lstm", "last"), ("gru", "mean"), ("rnn", "steps"), ("lstm", "steps")])
def test_padded_batch_equals_each_line_alone(cell, how):
    """Loss and gradients of the padded batch (padded further than needed, too) = the sum over lines
    of each line alone, with the batch's denominator."""
    examples, kind = (TAG, "tag") if how == "steps" else (CLASSIFY, "classify")
    cfg, params, data = setup(cell, examples, kind, True)
    batch = make_batch(data, range(len(data)), pad_to=9)
    norm = float(batch.n_chars) if how == "steps" else float(len(data))
    loss, grads = heads.loss_and_grads(params, cfg, batch, how, norm=norm)
    total, summed = 0.0, {k: np.zeros_like(v) for k, v in params.items()}
    for i in range(len(data)):
        one_loss, one = heads.loss_and_grads(params, cfg, make_batch(data, [i]), how, norm=norm)
        total += one_loss
        for k in summed:
            summed[k] += one[k]
    assert loss == pytest.approx(total, rel=1e-12)
    for k in params:
        np.testing.assert_allclose(grads[k], summed[k], rtol=1e-9, atol=1e-13, err_msg=k)
    # and the predictions of each line do not depend on the others
    lp = heads.predict(params, cfg, batch.x, batch.lens, how)
    for i in range(len(data)):
        one = make_batch(data, [i])
        alone = heads.predict(params, cfg, one.x, one.lens, how)
        if how == "steps":
            np.testing.assert_allclose(lp[:one.lens[0], i], alone[:, 0], rtol=1e-12)
        else:
            np.testing.assert_allclose(lp[i], alone[0], rtol=1e-12)


def test_reverse_within_each_length():
    x = np.array([[1, 5, 7], [2, 6, 0], [3, 0, 0], [4, 0, 0]])  # (T=4, B=3), lens 4, 2, 1
    lens = np.array([4, 2, 1])
    idx = reverse_index(4, lens)
    xr = reverse_within(x, idx)
    assert xr[:, 0].tolist() == [4, 3, 2, 1] and xr[:, 1].tolist() == [6, 5, 0, 0] and xr[:, 2].tolist() == [7, 0, 0, 0]
    assert (reverse_within(xr, idx) == x).all()  # its own inverse


def test_bidirectional_reads_right_to_left():
    """The backward stack's part of the last-step features of 'ab' is its state after reading 'b' then 'a':
    the same as a forward-only model with the backward stack's weights reading 'ba'."""
    cfg, params, data = setup("gru", [("ab", "x"), ("ba", "y")], "classify", True)
    batch = make_batch(data, [0, 1])
    hs, rc = heads.read_forward(params, cfg, batch.x, batch.lens)
    feat = heads.features(hs, batch.lens, "last")
    back = {k[4:]: v for k, v in params.items() if k.startswith("bwd.")}
    hs2, _ = heads.read_forward(back, cfg, batch.x[::-1].copy(), batch.lens)  # both lines reversed in time
    np.testing.assert_allclose(feat[:, 3:], heads.features(hs2, batch.lens, "last"), rtol=1e-12)
    assert not np.allclose(feat[:, 3:], feat[::-1, 3:])


def test_balanced_weights():
    w = heads.balanced_weights([6, 2, 0, 4])
    assert w.tolist() == pytest.approx([12 / 18, 12 / 6, 0, 12 / 12])


@pytest.mark.parametrize("cell,how", [("lstm", "mean"), ("gru", "steps")])
def test_workspace_gives_the_plain_results(cell, how):
    """Training steps reuse one workspace across batches of different shapes: the same loss and gradients."""
    from charrnn.nn.workspace import Workspace

    examples, kind = (TAG, "tag") if how == "steps" else (CLASSIFY, "classify")
    cfg, params, data = setup(cell, examples, kind, True)
    ws = Workspace()
    for rows in ([0, 1, 2, 3], [1], [3, 0], [0, 1, 2, 3]):
        batch = make_batch(data, rows)
        loss, grads = heads.loss_and_grads(params, cfg, batch, how)
        loss_ws, grads_ws = heads.loss_and_grads(params, cfg, batch, how, ws=ws)
        assert loss_ws == loss
        for k in grads:
            np.testing.assert_array_equal(grads_ws[k], grads[k])
