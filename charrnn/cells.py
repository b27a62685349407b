"""Recurrent cells: vanilla RNN, LSTM and GRU, each a forward over a whole chunk, its backward
right under it, and a one-step function for sampling. One shared contract:

    forward(p, x, state0)        -> (hs, stateT, cache)
    backward(dhs, dstateT, cache) -> (dx, dstate0, grads)
    step(p, x, state)            -> (h, state)

Notation: T time steps, B parallel streams, D input size, H hidden units, G = gates * H.

* Arrays are TIME-MAJOR inside the layers: x (T, B, D), hs (T, B, H). The recurrent loop slices one
  time step T times, and in time-major layout each slice is one contiguous (B, ·) block.
* x is either floats (T, B, D), or integer character ids (T, B) for a one-hot input, where the
  input projection x @ Wx is a row lookup Wx[ids] and dx is None.
* p holds the layer's fused weights: Wx (D, G), Wh (H, G), b (G,), gate blocks side by side.
* state is a tuple: (h,) for RNN and GRU, (h, c) for LSTM; each (B, H).
* The input projection of the whole chunk and every weight gradient are single matrix products;
  only the recurrent product and the gate arithmetic loop over time. Factors of the backward
  pass that do not depend on the incoming gradient are computed for the whole chunk at once.
"""

from __future__ import annotations

import numpy as np


# ---------------------------------------------------------------------------- shared pieces
def sigmoid_(a: np.ndarray) -> np.ndarray:
    """In-place logistic sigmoid, as 0.5 * tanh(0.5 a) + 0.5 (never overflows)."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def input_projection(p: dict, x: np.ndarray) -> np.ndarray:
    """x @ Wx + b for the whole chunk: (T, B, G). Integer x is one-hot: a row lookup."""
    Wx, b = p["Wx"], p["b"]
    if x.dtype.kind in "iu":  # (T, B) ids
        a = Wx[x]  # (T, B, G), a fresh array we may overwrite
    else:  # (T, B, D)
        T, B, D = x.shape
        a = (x.reshape(T * B, D) @ Wx).reshape(T, B, -1)
    a += b
    return a


def input_projection_backward(p: dict, x: np.ndarray, da: np.ndarray, grads: dict):
    """Given da = dL/d(x Wx + b) (T, B, G): fill grads Wx, b and return dx (None for ids)."""
    T, B, G = da.shape
    da2 = da.reshape(T * B, G)
    grads["b"] = da2.sum(axis=0)
    if x.dtype.kind in "iu":
        # dWx[v] = sum of da over the positions holding character v: a one-hot product,
        # far faster than np.add.at for a few thousand rows.
        V = p["Wx"].shape[0]
        onehot = np.zeros((V, T * B), dtype=da.dtype)
        onehot[x.reshape(-1), np.arange(T * B)] = 1
        grads["Wx"] = onehot @ da2  # (V, G)
        return None
    D = x.shape[2]
    grads["Wx"] = x.reshape(T * B, D).T @ da2  # (D, G)
    return (da2 @ p["Wx"].T).reshape(T, B, D)


def _prev_hs(hs: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """[h0, h_0, ..., h_{T-2}]: the state each step started from, (T, B, H)."""
    prev = np.empty_like(hs)
    prev[0] = h0
    prev[1:] = hs[:-1]
    return prev


# ---------------------------------------------------------------------------------- RNN
def rnn_forward(p, x, state0):
    """h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h).   Wx (D, H), Wh (H, H), b (H,)."""
    (h,) = state0
    Wh = p["Wh"]
    a = input_projection(p, x)  # (T, B, H) pre-activations, becomes the outputs in place
    for t in range(a.shape[0]):
        a[t] += h @ Wh
        h = np.tanh(a[t], out=a[t])
    return a, (h.copy(),), (p, x, state0[0], a)


def rnn_backward(dhs, dstateT, cache):
    p, x, h0, hs = cache
    WhT = p["Wh"].T
    da = hs * hs  # (T, B, H): becomes dL/da; tanh' = 1 - h^2
    np.subtract(1, da, out=da)
    (dh,) = dstateT
    for t in range(hs.shape[0] - 1, -1, -1):
        dh = dh + dhs[t]  # total gradient reaching h_t
        da[t] *= dh  # backprop through tanh
        dh = da[t] @ WhT  # into h_{t-1}
    grads = {}
    T, B, H = hs.shape
    grads["Wh"] = _prev_hs(hs, h0).reshape(T * B, H).T @ da.reshape(T * B, H)
    dx = input_projection_backward(p, x, da, grads)
    return dx, (dh,), grads


def rnn_step(p, x, state):
    """One step for B streams; x is (B,) ids or (B, D) floats."""
    (h,) = state
    a = p["Wx"][x] if x.dtype.kind in "iu" else x @ p["Wx"]
    a += p["b"]
    a += h @ p["Wh"]
    h = np.tanh(a, out=a)
    return h, (h,)


# --------------------------------------------------------------------------------- LSTM
# Gate blocks in Wx, Wh, b (each H wide): [i, f, o, g]. The three sigmoid gates are contiguous.
def lstm_forward(p, x, state0):
    """Long short-term memory, gates fused into one (·, 4H) product.

        i, f, o = sigmoid(W_x* x_t + W_h* h_{t-1} + b_*)      input, forget, output gates
        g       = tanh(W_xg x_t + W_hg h_{t-1} + b_g)         candidate
        c_t     = f * c_{t-1} + i * g
        h_t     = o * tanh(c_t)
    Wx (D, 4H), Wh (H, 4H), b (4H,); state (h, c).
    """
    h, c = state0
    Wh = p["Wh"]
    H = Wh.shape[0]
    A = input_projection(p, x)  # (T, B, 4H): pre-activations, then activated gates in place
    T, B = A.shape[:2]
    hs = np.empty((T, B, H), dtype=A.dtype)
    cs = np.empty((T, B, H), dtype=A.dtype)
    tcs = np.empty((T, B, H), dtype=A.dtype)  # tanh(c_t)
    for t in range(T):
        a = A[t]  # (B, 4H)
        a += h @ Wh
        sigmoid_(a[:, :3 * H])
        np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])
        i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        c = np.multiply(f, c, out=cs[t])
        c += i * g
        np.tanh(c, out=tcs[t])
        h = np.multiply(o, tcs[t], out=hs[t])
    return hs, (h.copy(), c.copy()), (p, x, state0, A, cs, tcs, hs)


def lstm_backward(dhs, dstateT, cache):
    p, x, (h0, c0), A, cs, tcs, hs = cache
    T, B, H = hs.shape
    i, f, o, g = A[..., :H], A[..., H:2 * H], A[..., 2 * H:3 * H], A[..., 3 * H:]
    c_prev = _prev_hs(cs, c0)
    # Local derivatives for the whole chunk (they do not depend on the incoming gradient):
    # dL/dc_t gains dh_t * Kc; each gate pre-activation's gradient is dc_t (or dh_t) times K.
    Kc = o * (1 - tcs * tcs)  # dh -> dc
    K = np.empty_like(A)  # (T, B, 4H)
    K[..., :H] = g * i * (1 - i)  # dc -> d a_i
    K[..., H:2 * H] = c_prev * f * (1 - f)  # dc -> d a_f
    K[..., 2 * H:3 * H] = tcs * o * (1 - o)  # dh -> d a_o
    K[..., 3 * H:] = i * (1 - g * g)  # dc -> d a_g
    dA = K  # overwritten step by step with dL/da
    WhT = p["Wh"].T
    dh, dc = dstateT
    for t in range(T - 1, -1, -1):
        dh = dh + dhs[t]  # (B, H)
        dc = dc + dh * Kc[t]  # backprop through h_t = o * tanh(c_t)
        d = dA[t].reshape(B, 4, H)
        d[:, 0:2] *= dc[:, None, :]  # i, f
        d[:, 2] *= dh  # o
        d[:, 3] *= dc  # g
        dh = dA[t] @ WhT  # into h_{t-1}
        dc = dc * f[t]  # into c_{t-1}
    grads = {}
    grads["Wh"] = _prev_hs(hs, h0).reshape(T * B, H).T @ dA.reshape(T * B, 4 * H)
    dx = input_projection_backward(p, x, dA, grads)
    return dx, (dh, dc), grads


def lstm_step(p, x, state):
    h, c = state
    H = p["Wh"].shape[0]
    a = p["Wx"][x] if x.dtype.kind in "iu" else x @ p["Wx"]
    a += p["b"]
    a += h @ p["Wh"]
    sigmoid_(a[:, :3 * H])
    np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])
    c = a[:, H:2 * H] * c
    c += a[:, :H] * a[:, 3 * H:]
    h = a[:, 2 * H:3 * H] * np.tanh(c)
    return h, (h, c)


# ---------------------------------------------------------------------------------- GRU
# Gate blocks: [r, z, g]. Wh[:, :2H] feeds r and z from h_{t-1}; Wh[:, 2H:] feeds g from r * h_{t-1}.
def gru_forward(p, x, state0):
    """Gated recurrent unit, reset applied before the recurrent product (Cho et al. 2014).

        r, z = sigmoid(W_x* x_t + W_h* h_{t-1} + b_*)         reset, update gates
        g    = tanh(W_xg x_t + W_hg (r * h_{t-1}) + b_g)      candidate h~_t
        h_t  = (1 - z) * h_{t-1} + z * g
    Wx (D, 3H), Wh (H, 3H), b (3H,); state (h,).
    """
    (h,) = state0
    Wh = p["Wh"]
    H = Wh.shape[0]
    Wh_rz, Wh_g = Wh[:, :2 * H], Wh[:, 2 * H:]
    A = input_projection(p, x)  # (T, B, 3H)
    T, B = A.shape[:2]
    hs = np.empty((T, B, H), dtype=A.dtype)
    rhs = np.empty((T, B, H), dtype=A.dtype)  # r * h_{t-1}, the input of W_hg
    for t in range(T):
        a = A[t]
        rz = a[:, :2 * H]
        rz += h @ Wh_rz
        sigmoid_(rz)
        r, z, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
        rh = np.multiply(r, h, out=rhs[t])
        g += rh @ Wh_g
        np.tanh(g, out=g)
        hn = np.subtract(g, h, out=hs[t])  # h + z (g - h) = (1 - z) h + z g
        hn *= z
        hn += h
        h = hn
    return hs, (h.copy(),), (p, x, state0[0], A, rhs, hs)


def gru_backward(dhs, dstateT, cache):
    p, x, h0, A, rhs, hs = cache
    T, B, H = hs.shape
    r, z, g = A[..., :H], A[..., H:2 * H], A[..., 2 * H:]
    h_prev = _prev_hs(hs, h0)
    K = np.empty_like(A)  # local derivatives, then dL/da in place
    K[..., :H] = h_prev * r * (1 - r)  # d(r h) -> d a_r
    K[..., H:2 * H] = (g - h_prev) * z * (1 - z)  # dh -> d a_z
    K[..., 2 * H:] = z * (1 - g * g)  # dh -> d a_g
    one_minus_z = 1 - z
    dA = K
    Wh = p["Wh"]
    Wh_rzT, Wh_gT = Wh[:, :2 * H].T, Wh[:, 2 * H:].T
    (dh,) = dstateT
    for t in range(T - 1, -1, -1):
        dh = dh + dhs[t]
        da = dA[t]
        da[:, H:] *= np.concatenate((dh, dh), axis=1)  # z, g
        drh = da[:, 2 * H:] @ Wh_gT  # into r * h_{t-1}
        da[:, :H] *= drh  # r
        dh = dh * one_minus_z[t] + drh * r[t] + da[:, :2 * H] @ Wh_rzT
    grads = {}
    dA2 = dA.reshape(T * B, 3 * H)
    grads["Wh"] = np.concatenate(
        (h_prev.reshape(T * B, H).T @ dA2[:, :2 * H], rhs.reshape(T * B, H).T @ dA2[:, 2 * H:]), axis=1)
    dx = input_projection_backward(p, x, dA, grads)
    return dx, (dh,), grads


def gru_step(p, x, state):
    (h,) = state
    Wh = p["Wh"]
    H = Wh.shape[0]
    a = p["Wx"][x] if x.dtype.kind in "iu" else x @ p["Wx"]
    a += p["b"]
    rz = a[:, :2 * H]
    rz += h @ Wh[:, :2 * H]
    sigmoid_(rz)
    g = a[:, 2 * H:]
    g += (a[:, :H] * h) @ Wh[:, 2 * H:]
    np.tanh(g, out=g)
    h = h + a[:, H:2 * H] * (g - h)
    return h, (h,)


# ---------------------------------------------------------------------------------- traces
# What a forward pass computed, by name, each (T, B, H): read by `charrnn inspect-cells` from the
# cache of the very forward pass that trains, so there is no second implementation of the cells.
def rnn_trace(cache):
    return {"h": cache[3]}


def lstm_trace(cache):
    A, cs, hs = cache[3], cache[4], cache[6]
    H = hs.shape[2]
    return {"h": hs, "c": cs, "i": A[..., :H], "f": A[..., H:2 * H], "o": A[..., 2 * H:3 * H]}


def gru_trace(cache):
    A, hs = cache[3], cache[5]
    H = hs.shape[2]
    return {"h": hs, "r": A[..., :H], "z": A[..., H:2 * H]}


# --------------------------------------------------------------------------------- registry
class Cell:
    """One cell type: its gate count, state size, and its functions."""

    def __init__(self, name, gates, n_state, forward, backward, step, trace):
        self.name, self.gates, self.n_state = name, gates, n_state
        self.forward, self.backward, self.step, self.trace = forward, backward, step, trace


CELLS = {
    "rnn": Cell("rnn", 1, 1, rnn_forward, rnn_backward, rnn_step, rnn_trace),
    "lstm": Cell("lstm", 4, 2, lstm_forward, lstm_backward, lstm_step, lstm_trace),
    "gru": Cell("gru", 3, 1, gru_forward, gru_backward, gru_step, gru_trace),
}
# Names of the gate blocks, in the order they sit in Wx, Wh and b (documented in the README).
GATE_ORDER = {"rnn": ("h",), "lstm": ("i", "f", "o", "g"), "gru": ("r", "z", "g")}
