"""Fused cells: the time loop of charrnn.nn.cells with the gate arithmetic of each step compiled.

Same contract, same cache layout and same numbers (to float rounding) as the NumPy cells in
charrnn/nn/cells.py, which stay the reference and the fallback (charrnn.nn.kernels chooses):

    forward(p, x, state0, ws)  -> (hs, stateT, cache)      backward(dhs, dstateT, cache) -> ...

What differs is only the loop over time steps. A NumPy step is ~10 calls over (B, H) blocks
(each a pass over memory plus ~1-4 us of call overhead); here a step is the recurrent product,
still one BLAS call ((B, H) x (H, G)), and ONE compiled pass (numba) that reads the
product and the chunk's input projection and writes the gates, states and outputs (forward), or
the gradients of the pre-activations (backward), element by element while they are in registers.
The LSTM's loops are one compiled call each, the product included (charrnn.nn.gemm: NumPy's own
BLAS called from the compiled code, so that row blocks on two threads never wait for the GIL
inside a chunk); where that BLAS cannot be called so, and for the GRU and the RNN, the loop is
Python around `np.dot`.
Everything around the loop (input projection, weight products, traces) is the NumPy cells' own code.

Numbers: sigmoid(a) = 0.5 tanh(a/2) + 0.5 with the halving folded into the weights, as in
cells.py. float32 uses a rational tanh (Eigen's, within 5 ulp, 2.7e-7: it vectorises, the C library's
tanhf does not), float64 the C library's tanh. So float32 results differ from the NumPy cells
by float32 rounding, float64 ones by a few ulp.

Compilation: numba, at the first call of each kernel for each dtype, cached on disk (cache=True:
NUMBA_CACHE_DIR, which charrnn.nn.kernels sets from CHARRNN_CACHE_DIR). Importing this module
imports numba; charrnn.nn.kernels does so only when the fused path is chosen.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.extending import overload

from charrnn.nn import cells
from charrnn.nn.cells import _gate_major, _grad_state, _states, halve_sigmoid_columns, input_projection
from charrnn.nn.cells import input_projection_backward
from charrnn.nn.gemm import AVAILABLE as GEMM_IN_LOOP, gemm
from charrnn.nn.workspace import take

# No 'nnan'/'ninf': a NaN must stay a NaN (divergence shows in the loss). error_model numpy: no
# zero-division check, so that the loops vectorise.
_JIT = dict(cache=True, nogil=True, error_model="numpy",
            fastmath={"nsz", "arcp", "contract", "afn", "reassoc"})


# ------------------------------------------------------------------------------ tanh
def _tanh(x):  # the Python meaning; compiled code uses the overload below
    return math.tanh(x)


_CLAMP = 7.90531110763549805  # beyond it tanh rounds to +-1 in float32


@overload(_tanh)
def _tanh_impl(x):
    from numba.core import types
    if x == types.float32:
        f = np.float32
        c, p1, p2, p3, p4, p5, p6, p7 = (f(_CLAMP), f(-2.76076847742355e-16), f(2.00018790482477e-13),
                                          f(-8.60467152213735e-11), f(5.12229709037114e-08),
                                          f(1.48572235717979e-05), f(6.37261928875436e-04),
                                          f(4.89352455891786e-03))
        q1, q2, q3, q4 = f(1.19825839466702e-06), f(1.18534705686654e-04), f(2.26843463243900e-03), \
            f(4.89352518554385e-03)

        def tanh32(x):  # Eigen's ptanh_float: a degree 13 / degree 6 rational function on [-7.9, 7.9]
            if x > c:  # (a NaN passes both tests)
                x = c
            if x < -c:
                x = -c
            x2 = x * x
            p = ((((((p1 * x2 + p2) * x2 + p3) * x2 + p4) * x2 + p5) * x2 + p6) * x2 + p7) * x
            q = ((q1 * x2 + q2) * x2 + q3) * x2 + q4
            return p / q
        return tanh32
    return lambda x: math.tanh(x)


# ------------------------------------------------------------------------------ LSTM
# Gate blocks [i, f, o, g]; A (4, T, B, H) gate-major as in cells.py (the trace reads it).
@njit(**_JIT)
def _lstm_step(A, t, rec, Cs, tcs, Hs):
    """Step t: A[:, t] += rec (the recurrent product h_{t-1} Wh, (B, 4H), sigmoid columns halved),
    then the gates in place, c_t = f c_{t-1} + i g into Cs[t+1], tanh(c_t) into tcs[t],
    h_t = o tanh(c_t) into Hs[t+1]."""
    B, H = Hs.shape[1], Hs.shape[2]
    half = Hs.dtype.type(0.5)
    for b in range(B):
        for j in range(H):
            i = _tanh(A[0, t, b, j] + rec[b, j]) * half + half
            f = _tanh(A[1, t, b, j] + rec[b, H + j]) * half + half
            o = _tanh(A[2, t, b, j] + rec[b, 2 * H + j]) * half + half
            g = _tanh(A[3, t, b, j] + rec[b, 3 * H + j])
            c = f * Cs[t, b, j] + i * g
            tc = _tanh(c)
            A[0, t, b, j], A[1, t, b, j], A[2, t, b, j], A[3, t, b, j] = i, f, o, g
            Cs[t + 1, b, j] = c
            tcs[t, b, j] = tc
            Hs[t + 1, b, j] = o * tc


@njit(**_JIT)
def _lstm_step_back(A, t, Cs, tcs, dhr, dhs, dc, dA):
    """Step t of the backward pass: dh = dhr + dhs[t] (the total gradient reaching h_t),
    dc += dh o (1 - tanh(c_t)^2), dA[t] = dL/da in the row layout (B, 4H), then dc *= f_t (into
    c_{t-1}). dhr is read here and overwritten by the caller's product dA[t] Wh^T."""
    B, H = dc.shape
    one = dc.dtype.type(1)
    for b in range(B):  # (one view per gate row: with them, not with dA[t, b, kH + j], LLVM vectorises)
        ai, af, ao, ag, c0, tc_, dr, ds, dcb = A[0, t, b], A[1, t, b], A[2, t, b], A[3, t, b], Cs[t, b], \
            tcs[t, b], dhr[b], dhs[t, b], dc[b]
        di, df, do, dg = dA[t, b, :H], dA[t, b, H:2 * H], dA[t, b, 2 * H:3 * H], dA[t, b, 3 * H:]
        for j in range(H):
            i, f, o, g, tc = ai[j], af[j], ao[j], ag[j], tc_[j]
            dh = dr[j] + ds[j]
            d = dcb[j] + dh * o * (one - tc * tc)  # dc_t
            di[j] = d * g * i * (one - i)
            df[j] = d * c0[j] * f * (one - f)
            do[j] = dh * tc * o * (one - o)
            dg[j] = d * i * (one - g * g)
            dcb[j] = d * f


@njit(**_JIT)
def _lstm_loop(A, Wh, rec, Cs, tcs, Hs):
    """The forward time loop as one call: per step rec = h_{t-1} Wh (the BLAS), then _lstm_step."""
    for t in range(A.shape[1]):
        gemm(Hs[t], Wh, rec)
        _lstm_step(A, t, rec, Cs, tcs, Hs)


@njit(**_JIT)
def _lstm_loop_back(A, Cs, tcs, dhr, dhs, dc, dA, WhT):
    """The backward time loop as one call: per step _lstm_step_back, then dhr = dA[t] Wh^T (the BLAS)."""
    for t in range(A.shape[1] - 1, -1, -1):
        _lstm_step_back(A, t, Cs, tcs, dhr, dhs, dc, dA)
        gemm(dA[t], WhT, dhr)


def lstm_forward(p, x, state0, ws=None):
    """cells.lstm_forward with each step one product and one compiled pass (same cache)."""
    H = p["Wh"].shape[0]
    Wh = p["Wh"].copy()
    Wh[:, :3 * H] *= 0.5  # (H, 4H) row layout, i f o halved: one product per step
    if x.dtype.kind in "iu":
        A = np.take(_gate_major(p["Wx"] + p["b"], H, 3 * H), x, axis=1)  # (4, T, B, H)
    else:
        T, B, D = x.shape
        A = take(ws, "A", (4, T, B, H), Wh.dtype)
        np.matmul(x.reshape(T * B, D), _gate_major(p["Wx"], H, 3 * H), out=A.reshape(4, T * B, H))
        b4 = np.tile(_gate_major(p["b"][None, :], H, 3 * H), (1, B, 1))
        A.reshape(4, T, B * H)[...] += b4.reshape(4, 1, B * H)
    T, B = A.shape[1:3]
    Hs = _states(T, state0[0], A.dtype, ws, "Hs")
    Cs = _states(T, state0[1], A.dtype, ws, "Cs")
    tcs = take(ws, "tcs", (T, B, H), A.dtype)
    rec = np.empty((B, 4 * H), dtype=A.dtype)
    if GEMM_IN_LOOP:  # the whole loop one compiled call (charrnn.nn.gemm)
        _lstm_loop(A, Wh, rec, Cs, tcs, Hs)
    else:
        dot, step = np.dot, _lstm_step
        for t in range(T):
            dot(Hs[t], Wh, out=rec)
            step(A, t, rec, Cs, tcs, Hs)
    return Hs[1:], (Hs[T].copy(), Cs[T].copy()), (p, x, A, Hs, Cs, tcs, ws)


def lstm_backward(dhs, dstateT, cache, dstates=None):
    if dstates is not None:  # (inspect-memory: the per-step totals) the reference reads the same cache
        return cells.lstm_backward(dhs, dstateT, cache, dstates)
    p, x, A, Hs, Cs, tcs, ws = cache
    (_, T, B, H), G = A.shape, 4 * A.shape[3]
    WhT = np.ascontiguousarray(p["Wh"].T)  # (G, H)
    dA = take(ws, "dA", (T, B, G), A.dtype)
    dhr, dc = _grad_state(dstateT[0], Hs[0]), _grad_state(dstateT[1], Hs[0])
    dhs = np.ascontiguousarray(dhs)
    if GEMM_IN_LOOP:
        _lstm_loop_back(A, Cs, tcs, dhr, dhs, dc, dA, WhT)
    else:
        dot, step = np.dot, _lstm_step_back
        for t in range(T - 1, -1, -1):
            step(A, t, Cs, tcs, dhr, dhs, dc, dA)
            dot(dA[t], WhT, out=dhr)
    grads = {"Wh": Hs[:-1].reshape(T * B, H).T @ dA.reshape(T * B, G)}
    dx = input_projection_backward(p, x, dA, grads, ws)
    return dx, (dhr, dc), grads


# ------------------------------------------------------------------------------- GRU
# Gate blocks [r, z, g]; A (T, B, 3H) as in cells.py: r, z activated in place, the g block keeps
# x Wx_g + b_g; gs[t] = g_t, rhs[t] = r_t * h_{t-1}. Each step is two products, as in NumPy (the
# candidate's product needs r), and two compiled passes around them.
@njit(**_JIT)
def _gru_step_rz(A, t, rz, Hs, rhs):
    """r, z = sigmoid(A[t, :, :2H] + rz) into A[t]; r * h_{t-1} into rhs[t]."""
    B, H = Hs.shape[1], Hs.shape[2]
    half = Hs.dtype.type(0.5)
    for b in range(B):
        a, q, h, rh = A[t, b], rz[b], Hs[t, b], rhs[t, b]
        ar, az, qr, qz = a[:H], a[H:2 * H], q[:H], q[H:]
        for j in range(H):
            r = _tanh(ar[j] + qr[j]) * half + half
            ar[j] = r
            az[j] = _tanh(az[j] + qz[j]) * half + half
            rh[j] = r * h[j]


@njit(**_JIT)
def _gru_step_h(A, t, gs, Hs):
    """g = tanh(gs[t] + A[t, :, 2H:]) into gs[t] (gs[t] holds (r h) Wh_g); h_t = h + z (g - h)."""
    B, H = Hs.shape[1], Hs.shape[2]
    for b in range(B):
        a, g_, h, hn = A[t, b], gs[t, b], Hs[t, b], Hs[t + 1, b]
        az, ag = a[H:2 * H], a[2 * H:]
        for j in range(H):
            g = _tanh(g_[j] + ag[j])
            g_[j] = g
            hn[j] = h[j] + az[j] * (g - h[j])


@njit(**_JIT)
def _gru_back_zg(A, t, gs, Hs, dhr, dd, dhs, dh, dA, dg):
    """dh = dhr + dd + dhs[t] (dd: the part of dL/dh_t that step t+1 left besides its product);
    dA[t] z and g blocks, and dg (the g block, contiguous for the product into r * h)."""
    B, H = dh.shape
    one = dh.dtype.type(1)
    for b in range(B):
        a, d, g_, h, r1, r2, r3, dhb, dgb = A[t, b], dA[t, b], gs[t, b], Hs[t, b], dhr[b], dd[b], dhs[t, b], \
            dh[b], dg[b]
        az, dz, dgt = a[H:2 * H], d[H:2 * H], d[2 * H:]
        for j in range(H):
            x = r1[j] + r2[j] + r3[j]
            dhb[j] = x
            z, g = az[j], g_[j]
            dz[j] = x * (g - h[j]) * z * (one - z)
            v = x * z * (one - g * g)
            dgt[j] = v
            dgb[j] = v


@njit(**_JIT)
def _gru_back_r(A, t, Hs, drh, dh, dA, dd):
    """dA[t] r block = r (1 - r) h_{t-1} drh; dd = drh r + dh (1 - z): the gradient into h_{t-1}
    through r * h_{t-1} and directly (the product through r and z is added by the caller's next step)."""
    B, H = dh.shape
    one = dh.dtype.type(1)
    for b in range(B):
        a, d, h, q, x, e = A[t, b], dA[t, b], Hs[t, b], drh[b], dh[b], dd[b]
        ar, az, dr = a[:H], a[H:2 * H], d[:H]
        for j in range(H):
            r = ar[j]
            dr[j] = r * (one - r) * h[j] * q[j]
            e[j] = q[j] * r + x[j] * (one - az[j])


def gru_forward(p, x, state0, ws=None):
    """cells.gru_forward with each step two products and two compiled passes (same cache)."""
    H = p["Wh"].shape[0]
    q = halve_sigmoid_columns(p, 2 * H)
    Wh_rz, Wh_g = np.ascontiguousarray(q["Wh"][:, :2 * H]), np.ascontiguousarray(q["Wh"][:, 2 * H:])
    A = input_projection(q, x, ws)  # (T, B, 3H)
    T, B, _ = A.shape
    Hs = _states(T, state0[0], A.dtype, ws, "Hs")
    gs, rhs = take(ws, "gs", (T, B, H), A.dtype), take(ws, "rhs", (T, B, H), A.dtype)
    rz = np.empty((B, 2 * H), dtype=A.dtype)
    dot, step_rz, step_h = np.dot, _gru_step_rz, _gru_step_h
    for t in range(T):
        dot(Hs[t], Wh_rz, out=rz)
        step_rz(A, t, rz, Hs, rhs)
        dot(rhs[t], Wh_g, out=gs[t])
        step_h(A, t, gs, Hs)
    return Hs[1:], (Hs[T].copy(),), (p, x, A, Hs, gs, rhs, ws)


def gru_backward(dhs, dstateT, cache, dstates=None):
    if dstates is not None:
        return cells.gru_backward(dhs, dstateT, cache, dstates)
    p, x, A, Hs, gs, rhs, ws = cache
    (T, B, G), H = A.shape, A.shape[2] // 3
    Wh_rzT, Wh_gT = np.ascontiguousarray(p["Wh"][:, :2 * H].T), np.ascontiguousarray(p["Wh"][:, 2 * H:].T)
    dA = take(ws, "dA", A.shape, A.dtype)
    dhr = _grad_state(dstateT[0], Hs[0])
    dd, dh, dg, drh = np.zeros_like(dhr), np.empty_like(dhr), np.empty_like(dhr), np.empty_like(dhr)
    dhs = np.ascontiguousarray(dhs)
    dot, back_zg, back_r = np.dot, _gru_back_zg, _gru_back_r
    for t in range(T - 1, -1, -1):
        back_zg(A, t, gs, Hs, dhr, dd, dhs, dh, dA, dg)
        dot(dg, Wh_gT, out=drh)  # into r * h_{t-1}
        back_r(A, t, Hs, drh, dh, dA, dd)
        dot(dA[t, :, :2 * H], Wh_rzT, out=dhr)  # into h_{t-1} through r and z
    dhr += dd
    dA2 = dA.reshape(T * B, 3 * H)
    grads = {"Wh": np.concatenate((Hs[:-1].reshape(T * B, H).T @ dA2[:, :2 * H],
                                   rhs.reshape(T * B, H).T @ dA2[:, 2 * H:]), axis=1)}
    dx = input_projection_backward(p, x, dA, grads, ws)
    return dx, (dhr,), grads


# ------------------------------------------------------------------------------- RNN
@njit(**_JIT)
def _rnn_step(A, t, Hs):
    """h_t = tanh(A[t] + Hs[t+1]) into Hs[t+1] (which holds h_{t-1} Wh)."""
    B, H = Hs.shape[1], Hs.shape[2]
    for b in range(B):
        a, h = A[t, b], Hs[t + 1, b]
        for j in range(H):
            h[j] = _tanh(a[j] + h[j])


@njit(**_JIT)
def _rnn_step_back(Hs, t, dh, dhs, da):
    """da[t] = (1 - h_t^2) (dh + dhs[t]): the gradient of step t's pre-activation."""
    B, H = dh.shape
    one = dh.dtype.type(1)
    for b in range(B):
        h, x, y, d = Hs[t + 1, b], dh[b], dhs[t, b], da[t, b]
        for j in range(H):
            d[j] = (one - h[j] * h[j]) * (x[j] + y[j])


def rnn_forward(p, x, state0, ws=None):
    """cells.rnn_forward with each step one product and one compiled pass (same cache)."""
    Wh = p["Wh"]
    A = input_projection(p, x, ws)
    T = A.shape[0]
    Hs = _states(T, state0[0], A.dtype, ws, "Hs")
    dot, step = np.dot, _rnn_step
    for t in range(T):
        dot(Hs[t], Wh, out=Hs[t + 1])
        step(A, t, Hs)
    return Hs[1:], (Hs[T].copy(),), (p, x, Hs, ws)


def rnn_backward(dhs, dstateT, cache, dstates=None):
    if dstates is not None:
        return cells.rnn_backward(dhs, dstateT, cache, dstates)
    p, x, Hs, ws = cache
    hs, (T, B, H) = Hs[1:], Hs[1:].shape
    WhT = np.ascontiguousarray(p["Wh"].T)
    da = take(ws, "dA", hs.shape, hs.dtype)
    dh = _grad_state(dstateT[0], hs[0])
    dhs = np.ascontiguousarray(dhs)
    dot, step = np.dot, _rnn_step_back
    for t in range(T - 1, -1, -1):
        step(Hs, t, dh, dhs, da)
        dot(da[t], WhT, out=dh)
    grads = {"Wh": Hs[:-1].reshape(T * B, H).T @ da.reshape(T * B, H)}
    dx = input_projection_backward(p, x, da, grads, ws)
    return dx, (dh,), grads


# ---------------------------------------------------------------- one stream, one step (sampling)
# The gate arithmetic of charrnn.use.stepper's closures (batch 1), one compiled call instead of
# 8-10 NumPy calls of ~0.5-1 us each on (1, H) rows. Same formulas as there.
@njit(**_JIT)
def lstm_point(a, c, h):
    """a (1, 4H): h_{t-1} Wh + x Wx + b, sigmoid columns halved; c (1, H) -> c_t in place; h_t into h."""
    H = c.shape[1]
    half = c.dtype.type(0.5)
    for j in range(H):
        i = _tanh(a[0, j]) * half + half
        f = _tanh(a[0, H + j]) * half + half
        o = _tanh(a[0, 2 * H + j]) * half + half
        x = f * c[0, j] + i * _tanh(a[0, 3 * H + j])
        c[0, j] = x
        h[0, j] = o * _tanh(x)


@njit(**_JIT)
def gru_point_rz(a, h, t):
    """tr, tz = tanh of the halved r, z pre-activations, in place in a[:, :2H]; t = tr * h."""
    H = h.shape[1]
    for j in range(H):
        tr = _tanh(a[0, j])
        a[0, j] = tr
        a[0, H + j] = _tanh(a[0, H + j])
        t[0, j] = tr * h[0, j]


@njit(**_JIT)
def gru_point_h(a, g, h):
    """g = tanh(g + a_g); h += (1 + tz) (g - h) / 2, i.e. h + z (g - h)."""
    H = h.shape[1]
    half, one = h.dtype.type(0.5), h.dtype.type(1)
    for j in range(H):
        x = _tanh(g[0, j] + a[0, 2 * H + j])
        g[0, j] = x
        h[0, j] = h[0, j] + (one + a[0, H + j]) * (x - h[0, j]) * half


# ----------------------------------------------------------------------------- Adam (one pass)
# charrnn.nn.optim.Adam's update is 13 NumPy passes over p, g, m, v and a temporary: at 2x512
# (3.4 M parameters, 68 MB of arrays, more than the caches) about 13 ms of a 290 ms step. This is
# the same arithmetic, in the same order and dtype, in one pass. No fastmath: without it LLVM
# keeps every rounding (no fused multiply-adds, true division and sqrt), so the result is the
# NumPy passes' bit for bit, and a run may switch paths on resume without a difference.
@njit(cache=True, nogil=True, error_model="numpy")
def adam_update(p, g, m, v, b1, c1, b2, c2, root, eps, step):
    """p, g, m, v flat (N,) of one dtype; the scalars in that dtype: b1, c1 = 1 - b1, b2,
    c2 = 1 - b2, root = sqrt(1 - b2^t), step = lr / (1 - b1^t). In place:
    m = b1 m + c1 g;  v = b2 v + c2 g^2;  p -= (m / (sqrt(v) / root + eps)) * step."""
    for k in range(p.shape[0]):
        gk = g[k]
        mk = m[k] * b1 + gk * c1
        vk = v[k] * b2 + (gk * gk) * c2
        m[k] = mk
        v[k] = vk
        p[k] = p[k] - (mk / (math.sqrt(vk) / root + eps)) * step
