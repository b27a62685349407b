"""Recurrent cells: vanilla RNN, LSTM and GRU, each a forward over a whole chunk, its backward
right under it, and a one-step function for sampling. One shared contract:

    forward(p, x, state0)        -> (hs, stateT, cache)
    backward(dhs, dstateT, cache) -> (dx, dstate0, grads)
    step(p, x, state)            -> (h, state)

Notation: T time steps, B parallel streams, D input size, H hidden units, G = gates * H.
Arrays are TIME-MAJOR: x (T, B, D) floats or (T, B) character ids (one-hot input: the input
projection is a row lookup Wx[ids] and dx is None), hs (T, B, H); each time step is one contiguous
(B, ·) block. p holds fused weights Wx (D, G), Wh (H, G), b (G,), gate blocks side by side;
state is (h,) for RNN and GRU, (h, c) for LSTM, each (B, H).

Speed (measured by benchmarks/bench.py; where the time goes: docs/BENCHMARKS.md):
* The input projection of the whole chunk and every weight gradient are single matrix products;
  the time loop does the recurrent product and the gate arithmetic in place (`out=`).
* One tanh covers all gates: sigmoid(a) = 0.5 tanh(a/2) + 0.5, the halving folded into copies of
  the weights (exact: a power of two). NumPy's fast tanh needs contiguous rows.
* Hidden states live in one (T+1, B, H) buffer [h0, h_0 .. h_{T-1}]: outputs and previous states
  are views of it. Big arrays come from a pool (`buffer`); the backward pass works step by step on
  data still in cache and multiplies by a contiguous copy of Wh^T (25 % faster than a view).
"""

from __future__ import annotations

import sys

import numpy as np

_POOL: dict[tuple, list] = {}
_FREE = next(sys.getrefcount(b) for b in [np.empty(0)])  # the pattern below, measured


def buffer(shape: tuple, dtype) -> np.ndarray:
    """np.empty(shape, dtype), recycled from an earlier call when nothing references it any more
    (fresh memory pays a page fault per 4 KiB page on first touch, on every chunk)."""
    bufs = _POOL.setdefault((tuple(shape), np.dtype(dtype).str), [])
    b = next((b for b in bufs if sys.getrefcount(b) == _FREE), None)  # held by `bufs` alone
    if b is None:
        b = np.empty(shape, dtype)
        if len(bufs) < 4:
            bufs.append(b)
    return b


# ---------------------------------------------------------------------------- shared pieces
def halve_sigmoid_columns(p: dict, n_sig: int) -> dict:
    """Copies of Wx, Wh, b with the first n_sig (sigmoid-gate) columns halved, so that one
    tanh of the fused pre-activations gives tanh(a/2) there: sigmoid(a) = 0.5 tanh(a/2) + 0.5."""
    q = {name: p[name].copy() for name in ("Wx", "Wh", "b")}
    for w in q.values():
        w[..., :n_sig] *= 0.5
    return q


def input_projection(p: dict, x: np.ndarray) -> np.ndarray:
    """x @ Wx + b for the whole chunk: (T, B, G). Integer x is one-hot: a row lookup."""
    Wx, b = p["Wx"], p["b"]
    if x.dtype.kind in "iu":  # (T, B) ids
        a = np.take(Wx, x, axis=0)  # (T, B, G), ours to overwrite (faster than take(out=))
    else:  # (T, B, D)
        T, B, D = x.shape
        a = buffer((T, B, Wx.shape[1]), Wx.dtype)
        np.matmul(x.reshape(T * B, D), Wx, out=a.reshape(T * B, -1))
    a += b
    return a


def input_projection_backward(p: dict, x: np.ndarray, da: np.ndarray, grads: dict):
    """Given da = dL/d(x Wx + b) (T, B, G): fill grads Wx, b and return dx (None for ids)."""
    T, B, G = da.shape
    da2 = da.reshape(T * B, G)
    grads["b"] = da2.sum(axis=0)
    if x.dtype.kind in "iu":
        # dWx[v] = sum of da where the input is v: a one-hot product, far faster than np.add.at
        V = p["Wx"].shape[0]
        onehot = np.zeros((V, T * B), dtype=da.dtype)
        onehot[x.reshape(-1), np.arange(T * B)] = 1
        grads["Wx"] = onehot @ da2  # (V, G)
        return None
    D = x.shape[2]
    grads["Wx"] = x.reshape(T * B, D).T @ da2  # (D, G)
    dx = buffer((T, B, D), da.dtype)
    np.matmul(da2, p["Wx"].T, out=dx.reshape(T * B, D))
    return dx


def _states(T: int, h0: np.ndarray, dtype) -> np.ndarray:
    """(T+1, B, H) buffer holding h0 at [0]; step t reads [t] and writes [t+1]."""
    buf = buffer((T + 1,) + h0.shape, dtype)
    buf[0] = h0
    return buf


def _grad_state(dstate, like: np.ndarray) -> np.ndarray:  # fresh (B, H) copy of dL/d(final state)
    return np.full_like(like, 0) + dstate


# ---------------------------------------------------------------------------------- RNN
def rnn_forward(p, x, state0):
    """h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h).   Wx (D, H), Wh (H, H), b (H,)."""
    Wh = p["Wh"]
    A = input_projection(p, x)  # (T, B, H) pre-activations
    T = A.shape[0]
    Hs = _states(T, state0[0], A.dtype)
    for t in range(T):
        np.matmul(Hs[t], Wh, out=Hs[t + 1])
        np.add(A[t], Hs[t + 1], out=A[t])
        np.tanh(A[t], out=Hs[t + 1])
    return Hs[1:], (Hs[T].copy(),), (p, x, Hs)


def rnn_backward(dhs, dstateT, cache):
    p, x, Hs = cache
    hs, (T, B, H) = Hs[1:], Hs[1:].shape
    WhT = np.ascontiguousarray(p["Wh"].T)  # (G, H): a contiguous copy multiplies ~25% faster
    da = np.multiply(hs, hs)  # (T, B, H): becomes dL/da; tanh' = 1 - h^2
    np.subtract(1, da, out=da)
    dh = _grad_state(dstateT[0], hs[0])
    for t in range(T - 1, -1, -1):
        dh += dhs[t]  # total gradient reaching h_t
        da[t] *= dh  # backprop through tanh
        np.matmul(da[t], WhT, out=dh)  # into h_{t-1}
    grads = {"Wh": Hs[:-1].reshape(T * B, H).T @ da.reshape(T * B, H)}
    dx = input_projection_backward(p, x, da, grads)
    return dx, (dh,), grads


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
    H = p["Wh"].shape[0]
    q = halve_sigmoid_columns(p, 3 * H)
    Wh = q["Wh"]
    A = input_projection(q, x)  # (T, B, 4H): pre-activations (i, f, o halved), then activated gates
    T, B, G = A.shape
    Hs = _states(T, state0[0], A.dtype)  # [h0, h_0 .. h_{T-1}]
    Cs = _states(T, state0[1], A.dtype)  # [c0, c_0 .. c_{T-1}]
    tcs = buffer((T, B, H), A.dtype)  # tanh(c_t)
    rec, ig = np.empty((B, G), dtype=A.dtype), np.empty((B, H), dtype=A.dtype)  # h_{t-1} Wh, i * g
    for t in range(T):
        a = A[t]  # (B, 4H), contiguous
        np.matmul(Hs[t], Wh, out=rec)
        a += rec
        np.tanh(a, out=a)
        s = a[:, :3 * H]
        s *= 0.5
        s += 0.5  # i, f, o = sigmoid
        c = np.multiply(a[:, H:2 * H], Cs[t], out=Cs[t + 1])
        np.multiply(a[:, :H], a[:, 3 * H:], out=ig)
        c += ig
        np.tanh(c, out=tcs[t])
        np.multiply(a[:, 2 * H:3 * H], tcs[t], out=Hs[t + 1])
    return Hs[1:], (Hs[T].copy(), Cs[T].copy()), (p, x, A, Hs, Cs, tcs)


def lstm_backward(dhs, dstateT, cache):
    p, x, A, Hs, Cs, tcs = cache
    (T, B, G), H = A.shape, A.shape[2] // 4
    WhT = np.ascontiguousarray(p["Wh"].T)  # (G, H): a contiguous copy multiplies ~25% faster
    dA = buffer(A.shape, A.dtype)  # (T, B, 4H)
    dhr, dc = _grad_state(dstateT[0], Hs[0]), _grad_state(dstateT[1], Hs[0])
    dh = np.empty_like(dhr)
    for t in range(T - 1, -1, -1):  # local derivatives on data still in cache, then the chain rule
        a, d, tc = A[t], dA[t], tcs[t]
        i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.add(dhr, dhs[t], out=dh)  # total gradient reaching h_t
        dc += dh * o * (1 - tc * tc)  # through h_t = o tanh(c_t): dc_t
        np.multiply(a, a, out=d)
        np.subtract(a[:, :3 * H], d[:, :3 * H], out=d[:, :3 * H])  # s (1 - s) for i, f, o
        dg = d[:, 3 * H:]
        np.subtract(1, dg, out=dg)  # 1 - g^2
        d[:, :H] *= g  # d a_i = dc g i (1 - i)
        d[:, H:2 * H] *= Cs[t]  # d a_f = dc c_{t-1} f (1 - f)
        d[:, 2 * H:3 * H] *= tc  # d a_o = dh tanh(c_t) o (1 - o)
        dg *= i  # d a_g = dc i (1 - g^2)
        d4 = d.reshape(B, 4, H)
        d4[:, 0:2] *= dc[:, None, :]
        d4[:, 2] *= dh
        dg *= dc
        np.matmul(d, WhT, out=dhr)  # into h_{t-1}
        dc *= f  # into c_{t-1}
    dA2 = dA.reshape(T * B, G)
    grads = {"Wh": Hs[:-1].reshape(T * B, H).T @ dA2}
    dx = input_projection_backward(p, x, dA, grads)
    return dx, (dhr, dc), grads


# ---------------------------------------------------------------------------------- GRU
# Gate blocks: [r, z, g]. Wh[:, :2H] feeds r and z from h_{t-1}; Wh[:, 2H:] feeds g from r * h_{t-1}.
def gru_forward(p, x, state0):
    """Gated recurrent unit, reset applied before the recurrent product (Cho et al. 2014).

        r, z = sigmoid(W_x* x_t + W_h* h_{t-1} + b_*)         reset, update gates
        g    = tanh(W_xg x_t + W_hg (r * h_{t-1}) + b_g)      candidate h~_t
        h_t  = (1 - z) * h_{t-1} + z * g
    Wx (D, 3H), Wh (H, 3H), b (3H,); state (h,).
    """
    H = p["Wh"].shape[0]
    q = halve_sigmoid_columns(p, 2 * H)
    Wh_rz, Wh_g = np.ascontiguousarray(q["Wh"][:, :2 * H]), np.ascontiguousarray(q["Wh"][:, 2 * H:])
    A = input_projection(q, x)  # (T, B, 3H): pre-activations (r, z halved); r, z activated in place
    T, B, _ = A.shape
    Hs = _states(T, state0[0], A.dtype)  # [h0, h_0 .. h_{T-1}]
    gs, rhs = buffer((T, B, H), A.dtype), buffer((T, B, H), A.dtype)  # g_t; r * h_{t-1}, the input of W_hg
    rz = np.empty((B, 2 * H), dtype=A.dtype)  # contiguous, for the fast tanh
    for t in range(T):
        a, h, g = A[t], Hs[t], gs[t]
        np.matmul(h, Wh_rz, out=rz)
        rz += a[:, :2 * H]
        np.tanh(rz, out=rz)
        rz *= 0.5
        np.add(rz, 0.5, out=a[:, :2 * H])  # r, z = sigmoid
        np.multiply(a[:, :H], h, out=rhs[t])
        np.matmul(rhs[t], Wh_g, out=g)
        g += a[:, 2 * H:]
        np.tanh(g, out=g)
        hn = np.subtract(g, h, out=Hs[t + 1])  # h + z (g - h) = (1 - z) h + z g
        hn *= a[:, H:2 * H]
        hn += h
    return Hs[1:], (Hs[T].copy(),), (p, x, A, Hs, gs, rhs)


def gru_backward(dhs, dstateT, cache):
    p, x, A, Hs, gs, rhs = cache
    (T, B, G), H = A.shape, A.shape[2] // 3
    Wh_rzT, Wh_gT = np.ascontiguousarray(p["Wh"][:, :2 * H].T), np.ascontiguousarray(p["Wh"][:, 2 * H:].T)
    dA = buffer(A.shape, A.dtype)  # (T, B, 3H) dL/da
    dhr = _grad_state(dstateT[0], Hs[0])  # gradient reaching h_t from step t+1 (or the next chunk)
    dh, drh, tmp = np.empty_like(dhr), np.empty_like(dhr), np.empty_like(dhr)
    for t in range(T - 1, -1, -1):
        a, d, g, h = A[t], dA[t], gs[t], Hs[t]  # h = h_{t-1}
        r, z = a[:, :H], a[:, H:2 * H]
        np.add(dhr, dhs[t], out=dh)
        rz, drz = a[:, :2 * H], d[:, :2 * H]
        np.multiply(rz, rz, out=drz)
        np.subtract(rz, drz, out=drz)  # s (1 - s) for r, z
        np.subtract(g, h, out=tmp)
        d[:, H:2 * H] *= tmp  # dh -> d a_z: (g - h) z (1 - z)
        dg = d[:, 2 * H:]
        np.multiply(g, g, out=dg)
        np.subtract(1, dg, out=dg)
        dg *= z  # dh -> d a_g: z (1 - g^2)
        d.reshape(B, 3, H)[:, 1:] *= dh[:, None, :]  # z, g
        np.matmul(dg, Wh_gT, out=drh)  # into r * h_{t-1}
        d[:, :H] *= h
        d[:, :H] *= drh  # r
        np.matmul(drz, Wh_rzT, out=dhr)  # into h_{t-1}: through r and z,
        dhr += drh * r + dh - dh * z  # through r * h_{t-1}, and directly: (1 - z) dh
    dA2 = dA.reshape(T * B, 3 * H)
    grads = {"Wh": np.concatenate((Hs[:-1].reshape(T * B, H).T @ dA2[:, :2 * H],
                                   rhs.reshape(T * B, H).T @ dA2[:, 2 * H:]), axis=1)}
    dx = input_projection_backward(p, x, dA, grads)
    return dx, (dhr,), grads


# ---------------------------------------------------------------------------------- traces
# What a forward pass computed, by name, each (T, B, H): read by `charrnn inspect-cells` from the
# cache of the very forward pass that trains, so there is no second implementation of the cells.
def rnn_trace(cache):
    return {"h": cache[2][1:]}


def lstm_trace(cache):
    A, Hs, Cs = cache[2], cache[3], cache[4]
    H = Hs.shape[2]
    return {"h": Hs[1:], "c": Cs[1:], "i": A[..., :H], "f": A[..., H:2 * H], "o": A[..., 2 * H:3 * H]}


def gru_trace(cache):
    A, Hs = cache[2], cache[3]
    H = Hs.shape[2]
    return {"h": Hs[1:], "r": A[..., :H], "z": A[..., H:2 * H]}


# ------------------------------------------------------------------------------- steps
# One step for B streams (model.step); x is (B,) ids or (B, D) floats; batch-1 sampling has a
# leaner path, model.Stepper. sigmoid(a) = 0.5 tanh(a/2) + 0.5 as in the chunk forward.
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
