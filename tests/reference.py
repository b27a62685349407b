"""Plain references for the fused code, written for reading, not speed: a true sigmoid, one gate
at a time, one step at a time. The package's chunk forward (charrnn.nn.cells), the one-step sampler
(charrnn.use.stepper) and `sample.generate` are tested against these.

    ref_chunk[cell](p, x, state0) -> (hs (T, B, H), stateT)     x (T, B, D) floats or (T, B) ids
    ref_step[cell](p, x, state)   -> (h, state)                 x (B, D) floats or (B,) ids
    model_step(params, cfg, ids, state) -> (logits (B, V), state)   the stacked model, one step
"""

from __future__ import annotations

import numpy as np

from charrnn.tasks.lm import layer_params


def sig(a):
    return 1 / (1 + np.exp(-a))


def _blocks(p, names):
    H = p["Wh"].shape[0]
    return {n: (p["Wx"][:, k * H:(k + 1) * H], p["Wh"][:, k * H:(k + 1) * H], p["b"][k * H:(k + 1) * H])
            for k, n in enumerate(names)}


def _input(x, wx):
    return wx[x] if x.dtype.kind in "iu" else x @ wx  # ids: a row lookup (one-hot times Wx)


def rnn_step(p, x, state):
    (h,) = state
    h = np.tanh(_input(x, p["Wx"]) + h @ p["Wh"] + p["b"])
    return h, (h,)


def lstm_step(p, x, state):
    h, c = state
    W = _blocks(p, "ifog")
    pre = {n: _input(x, wx) + h @ wh + b for n, (wx, wh, b) in W.items()}
    i, f, o, g = sig(pre["i"]), sig(pre["f"]), sig(pre["o"]), np.tanh(pre["g"])
    c = f * c + i * g
    h = o * np.tanh(c)
    return h, (h, c)


def gru_step(p, x, state):
    (h,) = state
    W = _blocks(p, "rzg")
    r = sig(_input(x, W["r"][0]) + h @ W["r"][1] + W["r"][2])
    z = sig(_input(x, W["z"][0]) + h @ W["z"][1] + W["z"][2])
    g = np.tanh(_input(x, W["g"][0]) + (r * h) @ W["g"][1] + W["g"][2])
    h = (1 - z) * h + z * g
    return h, (h,)


ref_step = {"rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}


def _chunk(step):
    def run(p, x, state0):
        state, hs = state0, []
        for t in range(x.shape[0]):
            h, state = step(p, x[t], state)
            hs.append(h)
        return np.stack(hs), state
    return run


ref_chunk = {cell: _chunk(step) for cell, step in ref_step.items()}


def model_step(params, cfg, ids: np.ndarray, state: list):
    """One character for each of B streams through the stacked model: ids (B,) -> (logits (B, V), state)."""
    x, new_state = ids, []
    for k in range(cfg.layers):
        x, s = ref_step[cfg.cell](layer_params(params, k), x, state[k])
        new_state.append(s)
    return x @ params["Wy"] + params["by"], new_state
