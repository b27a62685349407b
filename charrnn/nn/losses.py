"""Softmax cross-entropy, the one loss of every task, in one place.

    p = softmax(z)   loss_n = -log p[target_n] = log sum_j exp(z_j - m) - (z_target - m),  m = max_j z_j
    dloss_n/dz = p - onehot(target_n)

`softmax_xent` averages over rows (or, with a mask, sums the unmasked rows and divides by
`norm`) and returns dL/dlogits; `nll` gives the per-row losses without gradients (evaluation).
"""

from __future__ import annotations

import numpy as np


def softmax_xent(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None,
                 norm: float | None = None, overwrite: bool = False):
    """logits (N, V), targets (N,) -> (loss in nats, dL/dlogits (N, V)).

    Without a mask: the mean over the N rows. With a mask (N,) of weights (0 for padding):
    sum(mask * loss_n) / norm (norm defaults to N); masked rows get a gradient of exactly 0.
    overwrite: dL/dlogits is computed in the logits array itself (no (N, V) temporaries: at
    V = 20,001 each is 200 MB, written once per step)."""
    N = logits.shape[0]
    rows = np.arange(N)
    tgt = targets if mask is None else np.where(mask > 0, targets, 0)
    z = logits if overwrite else logits.copy()
    z -= z.max(axis=1, keepdims=True)
    picked = z[rows, tgt].astype(np.float64)  # (N,) z of the right characters, before exp
    e = np.exp(z, out=z)
    s = e.sum(axis=1, keepdims=True)
    per_row = np.log(s[:, 0], dtype=np.float64) - picked
    e /= s  # probabilities
    e[rows, tgt] -= 1
    if mask is None:
        e /= N
        return float(np.mean(per_row)), e
    norm = N if norm is None else norm
    e *= (mask / norm)[:, None].astype(e.dtype)
    return float(np.sum(per_row * mask)) / norm, e


def nll(logits: np.ndarray, targets: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """-log softmax(logits)[target] per row, float64 (N,); no gradient (evaluation)."""
    z = logits if overwrite else logits.copy()
    z -= z.max(axis=1, keepdims=True)
    picked = z[np.arange(len(targets)), targets]
    return np.log(np.exp(z, out=z).sum(axis=1), dtype=np.float64) - picked


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
