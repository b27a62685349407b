"""Reading padded lines with the layer stack, left to right and (bidirectional) right to left.

    x (T, B) ids, row b real for t < lens[b], padding after
      -> forward stack (parameters l{k}.*)        hf (T, B, H): hf[t] has read x[0 .. t]
      -> backward stack (parameters bwd.l{k}.*)   reads each row reversed WITHIN ITS OWN LENGTH,
         xr[t, b] = x[lens[b] - 1 - t, b] for t < lens[b] (padding stays after the end),
                                                  hr (T, B, H): hr[t] has read x[lens-1-t .. lens-1]

Exact under padding, with one chunk forward per stack (no segments): in both stacks padding sits
after every real step, and a cell is causal, so padding cannot change a real step; the heads give
padding a gradient of exactly 0, and with no gradient from after the chunk nothing flows back
through it. A padded batch therefore gives each row what the row alone gives (tested).

The heads read it in one of three ways (`features`, `features_backward`):

    "last"  classify: each row's top output at its own last step, [hf[lens-1] ; hr[lens-1]]
            (the forward stack's final state, and the backward stack's, which ends at x[0])
    "mean"  classify: the mean over the row's real steps of [hf ; hr]
    "steps" tag: every step, aligned with x: [hf[t] ; hr[lens-1-t]]  (T, B, H or 2H)

Every recurrent computation is `stack_forward` / `stack_backward` (charrnn.nn.stack).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from charrnn.nn.cells import CELLS
from charrnn.nn.stack import StackCache, stack_backward, stack_forward, zero_state

BACKWARD_PREFIX = "bwd."  # the right-to-left stack's parameter names: bwd.l0.Wx, ...
POOLS = ("last", "mean")


def is_bidirectional(params: dict) -> bool:
    return f"{BACKWARD_PREFIX}l0.Wx" in params


def reverse_index(T: int, lens: np.ndarray) -> np.ndarray:
    """(T, B) row indices idx with idx[t, b] = lens[b] - 1 - t for t < lens[b], else t. It is its own
    inverse (reversing twice gives x back), so it also carries gradients back: d x = d xr[idx]."""
    t = np.arange(T)[:, None]
    return np.where(t < lens[None, :], lens[None, :] - 1 - t, t)


def reverse_within(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """a (T, B, ...) with each row's real part reversed: a[idx[t, b], b]."""
    return a[idx, np.arange(a.shape[1])[None, :]]


class ReadCache(NamedTuple):
    fwd: StackCache
    bwd: StackCache | None
    idx: np.ndarray | None  # (T, B) reverse_index (bidirectional only)
    hs: tuple  # (hf, hr): the top outputs, hr in reversed order


def read_forward(params: dict, cfg, x: np.ndarray, lens: np.ndarray, rng: np.random.Generator | None = None,
                 ws=None):
    """x (T, B) ids, lens (B,) -> ((hf, hr or None) top outputs (T, B, H), cache). rng: dropout (training)."""
    T, B = x.shape
    hf, _, cf = stack_forward(params, cfg, x, zero_state(cfg, B), "", rng, ws)
    if not is_bidirectional(params):
        return (hf, None), ReadCache(cf, None, None, (hf, None))
    idx = reverse_index(T, lens)
    hr, _, cr = stack_forward(params, cfg, reverse_within(x, idx), zero_state(cfg, B), BACKWARD_PREFIX, rng, ws)
    return (hf, hr), ReadCache(cf, cr, idx, (hf, hr))


def read_backward(cfg, dhs: tuple, cache: ReadCache, grads: dict) -> None:
    """dhs = (dL/dhf, dL/dhr or None), each (T, B, H) in its own stack's order; adds both stacks'
    gradients to `grads`."""
    stack_backward(cfg, dhs[0], None, cache.fwd, grads, "")
    if cache.bwd is not None:
        stack_backward(cfg, dhs[1], None, cache.bwd, grads, BACKWARD_PREFIX)


def features(hs: tuple, lens: np.ndarray, how: str, idx: np.ndarray | None = None) -> np.ndarray:
    """The heads' inputs: "last" / "mean" (B, D), "steps" (T, B, D), D = H or 2H (see the module doc)."""
    parts = [h for h in hs if h is not None]
    B = lens.shape[0]
    if how == "last":
        return np.concatenate([h[lens - 1, np.arange(B)] for h in parts], axis=1)
    if how == "mean":
        mask = (np.arange(parts[0].shape[0])[:, None] < lens[None, :]).astype(parts[0].dtype)  # (T, B)
        return np.concatenate([np.einsum("tbh,tb->bh", h, mask) / lens[:, None] for h in parts], axis=1)
    if how == "steps":
        return np.concatenate([parts[0]] + ([reverse_within(parts[1], idx)] if len(parts) > 1 else []), axis=2)
    raise ValueError(f"unknown feature kind {how!r}")


def features_backward(dfeat: np.ndarray, hs: tuple, lens: np.ndarray, how: str,
                      idx: np.ndarray | None = None) -> tuple:
    """dL/d(features) -> (dL/dhf, dL/dhr or None), zero on padding."""
    hf = hs[0]
    T, B, H = hf.shape
    n = 2 if hs[1] is not None else 1
    out = []
    for k in range(n):
        d = dfeat[..., k * H:(k + 1) * H]
        if how == "last":
            dh = np.zeros((T, B, H), dtype=hf.dtype)
            dh[lens - 1, np.arange(B)] = d
        elif how == "mean":
            mask = (np.arange(T)[:, None] < lens[None, :]).astype(hf.dtype)
            dh = mask[:, :, None] * (d / lens[:, None])[None, :, :]
        elif how == "steps":
            dh = np.ascontiguousarray(d) if k == 0 else reverse_within(d, idx)
        else:
            raise ValueError(f"unknown feature kind {how!r}")
        out.append(dh)
    return out[0], (out[1] if n == 2 else None)


def param_shapes(cfg, n_out: int, bidirectional: bool) -> dict[str, tuple]:
    """A reader and an output layer: l{k}.* (and bwd.l{k}.*) as the language model's layers (layer 0
    reads V one-hot characters), Wy (H or 2H, n_out), by (n_out,)."""
    G, H = CELLS[cfg.cell].gates * cfg.hidden, cfg.hidden
    shapes = {}
    for prefix in ("", BACKWARD_PREFIX) if bidirectional else ("",):
        for k in range(cfg.layers):
            shapes.update({f"{prefix}l{k}.Wx": (cfg.vocab_size if k == 0 else H, G),
                           f"{prefix}l{k}.Wh": (H, G), f"{prefix}l{k}.b": (G,)})
    D = 2 * H if bidirectional else H
    shapes.update({"Wy": (D, n_out), "by": (n_out,)})
    return shapes
