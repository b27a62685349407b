"""Recurrent cells: vanilla RNN, LSTM and GRU, each a forward over a whole chunk, its backward
right under it, and a trace that names what the forward computed. One shared contract:

    forward(p, x, state0, ws)    -> (hs, stateT, cache)    (ws: charrnn.nn.workspace, or None)
    backward(dhs, dstateT, cache) -> (dx, dstate0, grads)
    backward(dhs, dstateT, cache, dstates) also fills dstates, one (T, B, H) array per state
        component (h; and c for an LSTM), with the TOTAL gradient reaching each intermediate
        state: dstates[0][t] = dL/dh_t over every path (`charrnn inspect-memory` reads it)
    trace(cache)                 -> {kind: (T, B, H)} what the forward computed, by name

(the one-step sampler is charrnn.use.stepper; plain references for the tests: tests/reference.py).

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
* The LSTM keeps its gates gate-major inside the chunk, (4, T, B, H): contiguous gate blocks.
* Hidden states live in one (T+1, B, H) buffer [h0, h_0 .. h_{T-1}]: outputs and previous states
  are views of it. Big arrays come from the caller's workspace (`charrnn.nn.workspace`: sized once,
  reused chunk after chunk, no page faults; without one they are fresh); the backward pass works
  step by step on data still in cache and multiplies by a contiguous copy of Wh^T (25 % faster
  than a view). The cache carries the workspace, so backward uses the forward's.
"""

from __future__ import annotations

import numpy as np

from charrnn.nn.workspace import take


# ---------------------------------------------------------------------------- shared pieces
def halve_sigmoid_columns(p: dict, n_sig: int) -> dict:
    """Copies of Wx, Wh, b with the first n_sig (sigmoid-gate) columns halved, so that one
    tanh of the fused pre-activations gives tanh(a/2) there: sigmoid(a) = 0.5 tanh(a/2) + 0.5."""
    q = {name: p[name].copy() for name in ("Wx", "Wh", "b")}
    for w in q.values():
        w[..., :n_sig] *= 0.5
    return q


def input_projection(p: dict, x: np.ndarray, ws=None) -> np.ndarray:
    """x @ Wx + b for the whole chunk: (T, B, G). Integer x is one-hot: a row lookup."""
    Wx, b = p["Wx"], p["b"]
    if x.dtype.kind in "iu":  # (T, B) ids
        a = np.take(Wx, x, axis=0)  # (T, B, G), ours to overwrite (faster than take(out=))
    else:  # (T, B, D)
        T, B, D = x.shape
        a = take(ws, "A", (T, B, Wx.shape[1]), Wx.dtype)
        np.matmul(x.reshape(T * B, D), Wx, out=a.reshape(T * B, -1))
    a += b
    return a


def input_projection_backward(p: dict, x: np.ndarray, da: np.ndarray, grads: dict, ws=None):
    """Given da = dL/d(x Wx + b) (T, B, G): fill grads Wx, b and return dx (None for ids).

    One-hot input: dWx[v] = sum of the rows of da where the input is v. Three ways, chosen by the
    vocabulary size V and the gate width G (measured, 1 thread, T*B = 2500):
    - V <= 256 and G < 256: a (V, TB) one-hot @ (TB, G) product (small enough to win);
    - G >= 256: rows grouped by id, one np.add.reduce per character present (a Python loop over
      at most min(V, TB) groups; 50x faster than the one-hot product at V = 20,001);
    - V > 256 and G < 256: the same groups summed by one np.add.reduceat (many short groups).
    The one-hot product costs V * TB * G multiply-adds: 25.6 G at V = 20,001 and G = 512, more
    than the output layer (the other two ways cost TB * G).
    """
    T, B, G = da.shape
    da2 = da.reshape(T * B, G)
    if x.dtype.kind in "iu":
        ids, V = x.reshape(-1), p["Wx"].shape[0]
        if V <= 256 and G < 256:
            onehot = np.zeros((V, T * B), dtype=da.dtype)
            onehot[ids, np.arange(T * B)] = 1
            grads["Wx"], grads["b"] = onehot @ da2, da2.sum(axis=0)
            return None
        order = np.argsort(ids, kind="stable")  # positions grouped by id
        cuts = np.flatnonzero(np.diff(ids[order])) + 1  # where the next group begins
        dWx = grads["Wx"] = take(ws, "dWx", (V, G), da.dtype)  # (zeroing costs less than fresh pages)
        dWx.fill(0)
        if G >= 256:
            for group in np.split(order, cuts):
                np.add.reduce(da2[group], axis=0, out=dWx[ids[group[0]]])
        else:
            starts = np.concatenate(([0], cuts))
            dWx[ids[order[starts]]] = np.add.reduceat(da2[order], starts, axis=0)
        grads["b"] = dWx.sum(axis=0)  # every position is in one row
        return None
    grads["b"] = da2.sum(axis=0)
    D = x.shape[2]
    grads["Wx"] = x.reshape(T * B, D).T @ da2  # (D, G)
    dx = take(ws, "dx", (T, B, D), da.dtype)
    np.matmul(da2, p["Wx"].T, out=dx.reshape(T * B, D))
    return dx


def _states(T: int, h0: np.ndarray, dtype, ws, name: str) -> np.ndarray:
    """(T+1, B, H) buffer holding h0 at [0]; step t reads [t] and writes [t+1]."""
    buf = take(ws, name, (T + 1,) + h0.shape, dtype)
    buf[0] = h0
    return buf


def _grad_state(dstate, like: np.ndarray) -> np.ndarray:  # fresh (B, H) copy of dL/d(final state)
    return np.full_like(like, 0) + dstate


# ---------------------------------------------------------------------------------- RNN
def rnn_forward(p, x, state0, ws=None):
    """h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h).   Wx (D, H), Wh (H, H), b (H,)."""
    Wh = p["Wh"]
    A = input_projection(p, x, ws)  # (T, B, H) pre-activations
    T = A.shape[0]
    Hs = _states(T, state0[0], A.dtype, ws, "Hs")
    for t in range(T):
        np.matmul(Hs[t], Wh, out=Hs[t + 1])
        np.add(A[t], Hs[t + 1], out=A[t])
        np.tanh(A[t], out=Hs[t + 1])
    return Hs[1:], (Hs[T].copy(),), (p, x, Hs, ws)


def rnn_backward(dhs, dstateT, cache, dstates=None):
    p, x, Hs, ws = cache
    hs, (T, B, H) = Hs[1:], Hs[1:].shape
    WhT = np.ascontiguousarray(p["Wh"].T)  # (G, H): a contiguous copy multiplies ~25% faster
    da = np.multiply(hs, hs, out=take(ws, "dA", hs.shape, hs.dtype))  # (T, B, H): becomes dL/da; tanh' = 1 - h^2
    np.subtract(1, da, out=da)
    dh = _grad_state(dstateT[0], hs[0])
    for t in range(T - 1, -1, -1):
        dh += dhs[t]  # total gradient reaching h_t
        if dstates is not None:
            dstates[0][t] = dh
        da[t] *= dh  # backprop through tanh
        np.matmul(da[t], WhT, out=dh)  # into h_{t-1}
    grads = {"Wh": Hs[:-1].reshape(T * B, H).T @ da.reshape(T * B, H)}
    dx = input_projection_backward(p, x, da, grads, ws)
    return dx, (dh,), grads


# --------------------------------------------------------------------------------- LSTM
# Gate blocks in Wx, Wh, b (each H wide): [i, f, o, g]. The three sigmoid gates are contiguous.
# Inside the chunk the gates are GATE-MAJOR: A (4, T, B, H), so every gate of a step is one
# contiguous (B, H) block (NumPy is 2-6x slower per element on the strided (B, H) column slices
# of a (B, 4H) row), and the forward's recurrent product is 4 products (B, H) @ (H, H) (one
# batched matmul; with OpenBLAS 15-20 % faster than one (B, H) @ (H, 4H) on 1 thread, on 2 as fast
# at H = 128 and faster from 256). Weights are reordered once per chunk: W4[k] = W[:, kH:(k+1)H].
def _gate_major(w: np.ndarray, H: int, n_sig: int) -> np.ndarray:
    """(D, 4H) -> contiguous (4, D, H) with the first n_sig // H blocks halved (exact)."""
    w4 = w.reshape(-1, 4, H).transpose(1, 0, 2).copy()  # a copy even where D = 1 makes it a view
    w4[:n_sig // H] *= 0.5
    return w4


def lstm_forward(p, x, state0, ws=None):
    """Long short-term memory, gates fused into one (·, 4H) product.

        i, f, o = sigmoid(W_x* x_t + W_h* h_{t-1} + b_*)      input, forget, output gates
        g       = tanh(W_xg x_t + W_hg h_{t-1} + b_g)         candidate
        c_t     = f * c_{t-1} + i * g
        h_t     = o * tanh(c_t)
    Wx (D, 4H), Wh (H, 4H), b (4H,); state (h, c).
    """
    H = p["Wh"].shape[0]
    Wh4 = _gate_major(p["Wh"], H, 3 * H)  # (4, H, H), i f o halved: one tanh gives all gates
    if x.dtype.kind in "iu":  # one-hot: A[k, t, b] = (Wx + b)[x[t, b], kH:(k+1)H], a row lookup
        A = np.take(_gate_major(p["Wx"] + p["b"], H, 3 * H), x, axis=1)  # (4, T, B, H)
    else:
        T, B, D = x.shape
        A = take(ws, "A", (4, T, B, H), Wh4.dtype)
        np.matmul(x.reshape(T * B, D), _gate_major(p["Wx"], H, 3 * H), out=A.reshape(4, T * B, H))
        b4 = np.tile(_gate_major(p["b"][None, :], H, 3 * H), (1, B, 1))  # (4, B, H): bias of each gate
        A3 = A.reshape(4, T, B * H)
        A3 += b4.reshape(4, 1, B * H)  # B*H-long runs: faster than broadcasting (4, 1, 1, H)
    T, B = A.shape[1:3]
    Hs = _states(T, state0[0], A.dtype, ws, "Hs")  # [h0, h_0 .. h_{T-1}]
    Cs = _states(T, state0[1], A.dtype, ws, "Cs")  # [c0, c_0 .. c_{T-1}]
    tcs = take(ws, "tcs", (T, B, H), A.dtype)  # tanh(c_t)
    rec, ig = np.empty((4, B, H), dtype=A.dtype), np.empty((B, H), dtype=A.dtype)  # h_{t-1} Wh, i * g
    for t in range(T):
        a = A[:, t]  # (4, B, H): pre-activations, then the activated gates i, f, o, g
        np.matmul(Hs[t], Wh4, out=rec)
        a += rec
        np.tanh(a, out=a)
        s = a[:3]
        s *= 0.5
        s += 0.5  # i, f, o = sigmoid
        c = np.multiply(a[1], Cs[t], out=Cs[t + 1])
        np.multiply(a[0], a[3], out=ig)
        c += ig
        np.tanh(c, out=tcs[t])
        np.multiply(a[2], tcs[t], out=Hs[t + 1])
    return Hs[1:], (Hs[T].copy(), Cs[T].copy()), (p, x, A, Hs, Cs, tcs, ws)


def lstm_backward(dhs, dstateT, cache, dstates=None):
    p, x, A, Hs, Cs, tcs, ws = cache
    (_, T, B, H), G = A.shape, A.shape[0] * A.shape[3]
    WhT = np.ascontiguousarray(p["Wh"].T)  # (G, H): a contiguous copy multiplies ~25% faster
    n = min(T, max(1, _BLOCK_BYTES // (4 * Hs[0].nbytes)))  # steps per block of local derivatives
    K = take(ws, "K", (4, n, B, H), A.dtype)  # local derivatives of the block, gate-major (below)
    P = take(ws, "P", (n, B, H), A.dtype)  # o (1 - tanh(c_t)^2) = dc_t / dh_t
    dA = take(ws, "dA", (T, B, G), A.dtype)  # dL/da in the row layout of the weights: one product per step
    dhr, dc = _grad_state(dstateT[0], Hs[0]), _grad_state(dstateT[1], Hs[0])
    dh, tmp = np.empty_like(dhr), np.empty_like(dhr)
    for t1 in range(T, 0, -n):
        t0 = max(0, t1 - n)
        _lstm_local(A[:, t0:t1], Cs[t0:t1], tcs[t0:t1], K[:, :t1 - t0], P[:t1 - t0])
        for t in range(t1 - 1, t0 - 1, -1):  # the chain rule, step by step
            k, d = K[:, t - t0], dA[t].reshape(B, 4, H).transpose(1, 0, 2)  # (4, B, H), d a view of dA[t]
            np.add(dhr, dhs[t], out=dh)  # total gradient reaching h_t
            np.multiply(dh, P[t - t0], out=tmp)
            dc += tmp  # dc_t = dc_{t+1} f_{t+1} + dh_t o (1 - tanh(c_t)^2)
            if dstates is not None:
                dstates[0][t], dstates[1][t] = dh, dc
            np.multiply(k[:2], dc, out=d[:2])  # d a_i, d a_f
            np.multiply(k[3], dc, out=d[3])  # d a_g
            np.multiply(k[2], dh, out=d[2])  # d a_o
            np.matmul(dA[t], WhT, out=dhr)  # into h_{t-1}
            dc *= A[1, t]  # into c_{t-1}: times f_t
    grads = {"Wh": Hs[:-1].reshape(T * B, H).T @ dA.reshape(T * B, G)}
    dx = input_projection_backward(p, x, dA, grads, ws)
    return dx, (dhr, dc), grads


_BLOCK_BYTES = 1 << 19  # local derivatives of a block of steps in one go: fewer calls, still in cache


def _lstm_local(a, c, tc, d, P):
    """The gradient-free factors of a block of steps, a, d (4, n, B, H), c = c_{t-1}, tc, P (n, B, H):
    d = [g i (1-i), c_{t-1} f (1-f), tanh(c_t) o (1-o), i (1-g^2)] (to be multiplied by dc_t,
    dc_t, dh_t, dc_t), P = o (1 - tanh(c_t)^2)."""
    np.multiply(a, a, out=d)  # s^2, g^2
    np.subtract(a[:3], d[:3], out=d[:3])  # s (1 - s) for i, f, o
    np.subtract(1, d[3], out=d[3])  # 1 - g^2
    d[::3] *= a[::-3]  # blocks 0 and 3 by blocks 3 and 0: i by g, g by i
    d[1] *= c
    d[2] *= tc
    np.multiply(tc, tc, out=P)
    np.subtract(1, P, out=P)
    P *= a[2]


# ---------------------------------------------------------------------------------- GRU
# Gate blocks: [r, z, g]. Wh[:, :2H] feeds r and z from h_{t-1}; Wh[:, 2H:] feeds g from r * h_{t-1}.
def gru_forward(p, x, state0, ws=None):
    """Gated recurrent unit, reset applied before the recurrent product (Cho et al. 2014).

        r, z = sigmoid(W_x* x_t + W_h* h_{t-1} + b_*)         reset, update gates
        g    = tanh(W_xg x_t + W_hg (r * h_{t-1}) + b_g)      candidate h~_t
        h_t  = (1 - z) * h_{t-1} + z * g
    Wx (D, 3H), Wh (H, 3H), b (3H,); state (h,).
    """
    H = p["Wh"].shape[0]
    q = halve_sigmoid_columns(p, 2 * H)
    Wh_rz, Wh_g = np.ascontiguousarray(q["Wh"][:, :2 * H]), np.ascontiguousarray(q["Wh"][:, 2 * H:])
    A = input_projection(q, x, ws)  # (T, B, 3H): pre-activations (r, z halved); r, z activated in place
    T, B, _ = A.shape
    Hs = _states(T, state0[0], A.dtype, ws, "Hs")  # [h0, h_0 .. h_{T-1}]
    gs, rhs = take(ws, "gs", (T, B, H), A.dtype), take(ws, "rhs", (T, B, H), A.dtype)  # g_t; r * h_{t-1}, the input of W_hg
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
    return Hs[1:], (Hs[T].copy(),), (p, x, A, Hs, gs, rhs, ws)


def gru_backward(dhs, dstateT, cache, dstates=None):
    p, x, A, Hs, gs, rhs, ws = cache
    (T, B, G), H = A.shape, A.shape[2] // 3
    Wh_rzT, Wh_gT = np.ascontiguousarray(p["Wh"][:, :2 * H].T), np.ascontiguousarray(p["Wh"][:, 2 * H:].T)
    dA = take(ws, "dA", A.shape, A.dtype)  # (T, B, 3H) dL/da
    dhr = _grad_state(dstateT[0], Hs[0])  # gradient reaching h_t from step t+1 (or the next chunk)
    dh, drh, tmp = np.empty_like(dhr), np.empty_like(dhr), np.empty_like(dhr)
    for t in range(T - 1, -1, -1):
        a, d, g, h = A[t], dA[t], gs[t], Hs[t]  # h = h_{t-1}
        r, z = a[:, :H], a[:, H:2 * H]
        np.add(dhr, dhs[t], out=dh)  # total gradient reaching h_t
        if dstates is not None:
            dstates[0][t] = dh
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
    dx = input_projection_backward(p, x, dA, grads, ws)
    return dx, (dhr,), grads


# ---------------------------------------------------------------------------------- traces
# What a forward pass computed, by name, each (T, B, H): read by `charrnn inspect-cells` from the
# cache of the very forward pass that trains, so there is no second implementation of the cells.
def rnn_trace(cache):
    return {"h": cache[2][1:]}


def lstm_trace(cache):
    A, Hs, Cs = cache[2], cache[3], cache[4]  # A (4, T, B, H) gate-major
    return {"h": Hs[1:], "c": Cs[1:], "i": A[0], "f": A[1], "o": A[2]}


def gru_trace(cache):
    A, Hs = cache[2], cache[3]
    H = Hs.shape[2]
    return {"h": Hs[1:], "r": A[..., :H], "z": A[..., H:2 * H]}


# --------------------------------------------------------------------------------- registry
class Cell:
    """Everything about one cell type; nothing else in the package restates it.

    gate_order  names of the gate blocks, in the order they sit side by side in Wx, Wh and b
                (G = gates * H columns); every block but the last is a sigmoid gate
    state       names of the state arrays, each (B, H): ("h",) or ("h", "c")
    kinds       what `trace` reports per unit, in this order (`charrnn inspect-cells`)
    forward, backward, trace   the functions of the contract in the module docstring
    """

    def __init__(self, name, gate_order, state, kinds, forward, backward, trace):
        self.name, self.gate_order, self.state, self.kinds = name, gate_order, state, kinds
        self.forward, self.backward, self.trace = forward, backward, trace

    @property
    def gates(self) -> int:
        return len(self.gate_order)

    @property
    def n_state(self) -> int:
        return len(self.state)

    def floats_per_step(self, H: int) -> int:
        """Floats a training chunk holds per stream and time step of one layer: the gates and
        their gradients (2G), h, c, tanh(c) and a gradient (4H)."""
        return 2 * self.gates * H + 4 * H


CELLS = {
    "lstm": Cell("lstm", ("i", "f", "o", "g"), ("h", "c"), ("h", "c", "i", "f", "o"),
                 lstm_forward, lstm_backward, lstm_trace),
    "gru": Cell("gru", ("r", "z", "g"), ("h",), ("h", "r", "z"), gru_forward, gru_backward, gru_trace),
    "rnn": Cell("rnn", ("h",), ("h",), ("h",), rnn_forward, rnn_backward, rnn_trace),
}
