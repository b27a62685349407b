"""The classify and tag models: a reader (nn/bidirectional.py) and a softmax over C labels or tags.

    classify ("last" or "mean"):  features (B, D) -> z = features W_y + b_y (B, C) -> softmax -> label
    tag ("steps"):                features (T, B, D) -> rows t*B + b (T*B, D) -> z (T*B, C) -> tag per character

D = H, or 2H for a bidirectional reader. The loss is `losses.softmax_xent` (the one cross-entropy):

    classify: mean over the B lines, or with class weights w: sum_b w[y_b] loss_b / sum_b w[y_b]
    tag:      mean over the real characters (padding has weight 0), or with tag weights
              sum w[y] loss / sum w[y] over the real characters

`norm` overrides the denominator (tests: a padded batch against each line alone).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from charrnn.nn.bidirectional import features, features_backward, read_backward, read_forward  # noqa: F401 (re-exported)
from charrnn.nn.losses import log_softmax, nll, softmax_xent
from charrnn.nn.stack import project, project_backward

HOWS = ("last", "mean", "steps")


class HeadCache(NamedTuple):
    read: object  # bidirectional.ReadCache
    flat: np.ndarray  # (N, D) the output layer's input rows
    lens: np.ndarray
    how: str


def forward(params, cfg, x: np.ndarray, lens: np.ndarray, how: str, rng=None, ws=None):
    """x (T, B) ids, lens (B,) -> logits (B, C) for "last"/"mean", (T*B, C) rows t*B + b for "steps"; cache."""
    hs, rc = read_forward(params, cfg, x, lens, rng, ws)
    feat = features(hs, lens, how, rc.idx)
    flat = feat.reshape(-1, feat.shape[-1])
    return project(params, flat), HeadCache(rc, flat, lens, how)


def backward(params, cfg, dlogits: np.ndarray, cache: HeadCache) -> dict:
    grads: dict = {}
    dflat = project_backward(params, cache.flat, dlogits, grads)
    hf = cache.read.hs[0]
    dfeat = dflat.reshape(hf.shape[:2] + (-1,)) if cache.how == "steps" else dflat
    read_backward(cfg, features_backward(dfeat, cache.read.hs, cache.lens, cache.how, cache.read.idx), cache.read, grads)
    return grads


def targets(batch, how: str, weights: np.ndarray | None = None):
    """(target ids (N,), per-row weights (N,) or None) matching the logits' rows."""
    if how == "steps":
        y = batch.y.reshape(-1)
        mask = batch.mask.reshape(-1)
        return y, mask if weights is None else mask * weights[y].astype(mask.dtype)
    return batch.y, None if weights is None else weights[batch.y]


def loss_and_grads(params, cfg, batch, how: str, weights: np.ndarray | None = None, norm: float | None = None,
                   rng=None, ws=None):
    """One batch (`labelled.Batch`) -> (loss in nats, grads). weights (C,): class weights or None."""
    logits, cache = forward(params, cfg, batch.x, batch.lens, how, rng, ws)
    y, w = targets(batch, how, weights)
    if w is None and norm is not None:  # softmax_xent takes a denominator with a mask only
        w = np.ones(len(y), dtype=logits.dtype)
    if w is not None and norm is None:
        norm = float(w.sum())
    loss, dlogits = softmax_xent(logits, y, w, norm, overwrite=True)
    return loss, backward(params, cfg, dlogits, cache)


def predict(params, cfg, x: np.ndarray, lens: np.ndarray, how: str) -> np.ndarray:
    """Log-probabilities: (B, C), or (T, B, C) for "steps" (rows past a line's end are padding)."""
    logits, _ = forward(params, cfg, x, lens, how)
    lp = log_softmax(logits.astype(np.float64))
    return lp.reshape(x.shape + (-1,)) if how == "steps" else lp


def loss_sum(params, cfg, batch, how: str) -> tuple[float, int]:
    """Evaluation: (summed nats over the lines ("last"/"mean") or real characters ("steps"), their number)."""
    logits, _ = forward(params, cfg, batch.x, batch.lens, how)
    y, w = targets(batch, how)
    per = nll(logits, y, overwrite=True)
    if w is None:
        return float(per.sum()), len(y)
    return float(np.sum(per * w)), int(w.sum())


def balanced_weights(counts: np.ndarray) -> np.ndarray:
    """--class-weights balanced: w_c = N / (C n_c) (a class seen twice as often weighs half);
    classes never seen get weight 0."""
    counts = np.asarray(counts, dtype=np.float64)
    seen = counts > 0
    w = np.zeros_like(counts)
    w[seen] = counts.sum() / (seen.sum() * counts[seen])
    return w
