"""Sampling: feed the model its own output one character at a time.

Each step (as in nanoGPT's generate): run the one-step function, scale the logits by
1/temperature, keep the top-k / top-p (nucleus) candidates, softmax, draw one character with
the injected `np.random.Generator`, feed it back. Temperature 0 is greedy argmax.
"""

from __future__ import annotations

import numpy as np

from charrnn import model


def distribution(logits: np.ndarray, temperature: float, top_k: int | None = None,
                 top_p: float | None = None) -> np.ndarray:
    """Probabilities (V,) float64 after temperature, top-k and top-p; temperature 0 -> one-hot argmax."""
    z = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        p = np.zeros_like(z)
        p[int(np.argmax(z))] = 1.0
        return p
    z = z / temperature
    if top_k is not None and top_k < z.size:
        kth = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= kth, z, -np.inf)
    z = z - z.max()
    p = np.exp(z)
    p /= p.sum()
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p)) + 1]  # smallest set with mass >= top_p
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return p


def draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """Index drawn from probabilities `p` with one uniform number (inverse CDF)."""
    cum = np.cumsum(p)
    return int(min(np.searchsorted(cum, rng.random() * cum[-1], side="right"), p.size - 1))


def start_char(vocab, counts=None) -> str:
    """Where an unprimed sample starts: a newline if the vocabulary has one, else the most frequent character."""
    if "\n" in vocab:
        return "\n"
    if counts is not None and len(counts) == vocab.size:
        return vocab.chars[int(np.argmax(counts))]
    return vocab.chars[0]


def generate(params, cfg, vocab, length: int, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, prime: str = "", rng: np.random.Generator | None = None):
    """Yield `length` sampled characters after warming the state on `prime` (not yielded)."""
    rng = rng if rng is not None else np.random.default_rng()
    prime = prime or start_char(vocab)
    state = model.init_state(cfg, 1)
    ids = vocab.encode(prime).astype(np.intp)
    for i in ids[:-1]:
        _, state = model.step(params, cfg, np.array([i]), state)
    cur = int(ids[-1])
    for _ in range(length):
        logits, state = model.step(params, cfg, np.array([cur]), state)
        cur = draw(distribution(logits[0], temperature, top_k, top_p), rng)
        yield vocab.chars[cur]
