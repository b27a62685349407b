"""The layer stack: `layers` cells of one kind, each reading the outputs of the one below.

    x (T, B) ids, or (T, B, D) floats -> layer 0 -> [dropout] -> layer 1 -> ... -> hs (T, B, H)

Every model of every task runs its recurrent layers through this one loop (the language model,
the seq2seq encoder and decoder, sampling, traces, inspect-memory). Parameter names of layer k
are `{prefix}l{k}.Wx`, `.Wh`, `.b` (prefix "" for the language model, "enc." / "dec." for
seq2seq). The state is a list with one tuple per layer: (h,) for RNN and GRU, (h, c) for LSTM,
each (B, H); it is an argument and a return value, never kept here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from charrnn.nn.cells import CELLS


class StackCache(NamedTuple):
    """What `stack_backward` needs: each layer's cell cache, and each layer's dropout mask (or None)."""
    layers: list
    masks: list


def layer_params(params: dict, k: int, prefix: str = "") -> dict:
    return {"Wx": params[f"{prefix}l{k}.Wx"], "Wh": params[f"{prefix}l{k}.Wh"], "b": params[f"{prefix}l{k}.b"]}


def zero_state(cfg, batch: int) -> list[tuple]:
    n = CELLS[cfg.cell].n_state
    return [tuple(np.zeros((batch, cfg.hidden), dtype=cfg.dtype) for _ in range(n)) for _ in range(cfg.layers)]


def stack_forward(params: dict, cfg, x: np.ndarray, state: list, prefix: str = "",
                  rng: np.random.Generator | None = None, ws=None, hold=None):
    """x (T, B) ids or (T, B, D) -> (hs (T, B, H) of the top layer, final state, StackCache).

    Dropout (inverted, rate cfg.dropout) on each layer's output when an `rng` is given
    (training). With a workspace `ws` (charrnn.nn.workspace) the big arrays are its buffers,
    valid until the next call with it. `hold` (charrnn.nn.intervene.Holds, optional): units held
    at a value after every step (--ablate, --clamp); a held layer's cache holds only its trace."""
    cell = CELLS[cfg.cell]
    caches, masks, stateT = [], [], []
    for k in range(cfg.layers):
        scope = None if ws is None else ws.scope(f"{prefix}l{k}.")
        layer_forward = cell.forward if hold is None else hold.layer_forward(cell, k)  # the one hook
        hs, sT, c = layer_forward(layer_params(params, k, prefix), x, state[k], scope)
        mask = None
        if rng is not None and cfg.dropout > 0:
            keep = 1.0 - cfg.dropout
            mask = ((rng.random(hs.shape) < keep) / keep).astype(hs.dtype)
            hs = hs * mask
        caches.append(c)
        masks.append(mask)
        stateT.append(sT)
        x = hs  # (T, B, H): the next layer's input
    return x, stateT, StackCache(caches, masks)


def stack_backward(cfg, dhs: np.ndarray, dstateT, cache: StackCache, grads: dict, prefix: str = "",
                   dstates: list | None = None):
    """dhs (T, B, H): dL/d(top outputs); dstateT: dL/d(final state), one tuple per layer, or None
    (truncated BPTT: nothing flows back from after the chunk). Adds each layer's gradients to
    `grads` under its parameter names (summing into any already there). `dstates`: per layer a
    tuple of (T, B, H) arrays the cells fill with dL/d(state_t) (inspect-memory).

    Returns (dL/dx of layer 0's input: (T, B, D) for float inputs, else unused; dL/d(initial
    state), one tuple per layer)."""
    cell = CELLS[cfg.cell]
    zero = (0.0,) * cell.n_state
    dx, dstate0 = dhs, [None] * cfg.layers
    for k in range(cfg.layers - 1, -1, -1):
        if cache.masks[k] is not None:
            dx = dx * cache.masks[k]
        dx, dstate0[k], g = cell.backward(dx, zero if dstateT is None else dstateT[k], cache.layers[k],
                                          None if dstates is None else dstates[k])
        for name, value in g.items():
            key = f"{prefix}l{k}.{name}"
            if key in grads:
                grads[key] += value
            else:
                grads[key] = value
    return dx, dstate0


def project(params: dict, hs: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The output layer: hs (N, H) -> logits (N, V) = hs W_y + b_y (into `out` when given)."""
    if out is None:
        return hs @ params["Wy"] + params["by"]
    np.matmul(hs, params["Wy"], out=out)
    out += params["by"]
    return out


def project_backward(params: dict, hs: np.ndarray, dlogits: np.ndarray, grads: dict) -> np.ndarray:
    """dlogits (N, V) -> dL/dhs (N, H); sets grads Wy and by."""
    grads["Wy"], grads["by"] = hs.T @ dlogits, dlogits.sum(axis=0)
    return dlogits @ params["Wy"].T
