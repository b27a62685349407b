"""One time step of each cell for B streams (`model.step`; the `step` of the contract in
`charrnn.cells`); x is (B,) ids or (B, D) floats. Batch-1 sampling has a leaner path,
`model.Stepper`. sigmoid(a) = 0.5 tanh(a/2) + 0.5 as in the chunk forward."""

from __future__ import annotations

import numpy as np


def rnn_step(p, x, state):
    a = (p["Wx"][x] if x.dtype.kind in "iu" else x @ p["Wx"]) + p["b"] + state[0] @ p["Wh"]
    h = np.tanh(a, out=a)
    return h, (h,)


def lstm_step(p, x, state):
    h, c = state
    H = p["Wh"].shape[0]
    a = (p["Wx"][x] if x.dtype.kind in "iu" else x @ p["Wx"]) + p["b"] + h @ p["Wh"]
    a[:, :3 * H] *= 0.5
    np.tanh(a, out=a)
    i, f, o = (0.5 * a[:, k * H:(k + 1) * H] + 0.5 for k in range(3))
    c = f * c + i * a[:, 3 * H:]
    h = o * np.tanh(c)
    return h, (h, c)


def gru_step(p, x, state):
    (h,) = state
    Wh, H = p["Wh"], p["Wh"].shape[0]
    a = (p["Wx"][x] if x.dtype.kind in "iu" else x @ p["Wx"]) + p["b"]
    r, z = np.split(0.5 * np.tanh(0.5 * (a[:, :2 * H] + h @ Wh[:, :2 * H])) + 0.5, 2, axis=1)
    g = np.tanh(a[:, 2 * H:] + (r * h) @ Wh[:, 2 * H:])
    h = h + z * (g - h)
    return h, (h,)
