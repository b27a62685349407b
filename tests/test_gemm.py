"""charrnn/nn/gemm.py: NumPy's BLAS called from compiled code gives np.dot's numbers bit for bit,
and the fused LSTM loops that use it equal the Python loops around np.dot."""

import numpy as np
import pytest

from charrnn.nn import kernels

pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="numba not available: nothing compiled to test")


def compiled_product():
    from numba import njit

    from charrnn.nn.gemm import gemm

    @njit
    def rows_of(X, t, W, out):  # a row block of a 3-D array, as the time loops pass Hs[t]
        gemm(X[t], W, out)
    return rows_of


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M, K, N", [(50, 128, 512), (3, 5, 7), (1, 1, 1), (25, 512, 128)])
def test_gemm_equals_numpy_dot_bit_for_bit(dtype, M, K, N):
    from charrnn.nn.gemm import AVAILABLE
    if not AVAILABLE:
        pytest.skip("NumPy's BLAS has no ILP64 CBLAS here: the loops stay in Python")
    rng = np.random.default_rng(0)
    X, W = rng.normal(size=(4, M, K)).astype(dtype), rng.normal(size=(K, N)).astype(dtype)
    out = np.full((M, N), np.nan, dtype)
    compiled_product()(X, 2, W, out)
    assert np.array_equal(out, np.dot(X[2], W))


def test_gemm_refuses_mismatched_shapes_and_fills_zeros_for_empty_sums():
    from charrnn.nn.gemm import AVAILABLE
    if not AVAILABLE:
        pytest.skip("NumPy's BLAS has no ILP64 CBLAS here")
    f = compiled_product()
    with pytest.raises(ValueError, match="shapes"):
        f(np.ones((1, 2, 3)), 0, np.ones((4, 5)), np.empty((2, 5)))
    out = np.full((2, 5), np.nan)
    f(np.ones((1, 2, 0)), 0, np.ones((0, 5)), out)
    assert np.array_equal(out, np.zeros((2, 5)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_loops_in_one_call_equal_the_python_loops(dtype, monkeypatch):
    from charrnn.nn import fused
    if not fused.GEMM_IN_LOOP:
        pytest.skip("NumPy's BLAS has no ILP64 CBLAS here")
    rng = np.random.default_rng(1)
    T, B, D, H = 6, 5, 7, 4
    p = {"Wx": rng.normal(0, .5, (D, 4 * H)), "Wh": rng.normal(0, .5, (H, 4 * H)), "b": rng.normal(0, .5, 4 * H)}
    p = {k: v.astype(dtype) for k, v in p.items()}
    x = rng.normal(size=(T, B, D)).astype(dtype)
    s0 = tuple(rng.normal(size=(B, H)).astype(dtype) for _ in range(2))
    dhs = rng.normal(size=(T, B, H)).astype(dtype)
    dT = tuple(rng.normal(size=(B, H)).astype(dtype) for _ in range(2))
    runs = []
    for in_loop in (True, False):
        monkeypatch.setattr(fused, "GEMM_IN_LOOP", in_loop)
        hs, sT, cache = fused.lstm_forward(p, x, s0)
        dx, ds0, grads = fused.lstm_backward(dhs, dT, cache)
        runs.append((hs.copy(), sT, dx, ds0, grads))
    (h1, s1, dx1, d1, g1), (h2, s2, dx2, d2, g2) = runs
    assert np.array_equal(h1, h2) and np.array_equal(dx1, dx2)
    assert all(np.array_equal(a, b) for a, b in zip(s1 + d1, s2 + d2))
    assert all(np.array_equal(g1[k], g2[k]) for k in g1)
