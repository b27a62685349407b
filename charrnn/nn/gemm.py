"""The BLAS's matrix product, callable from numba-compiled code: c = a @ b in one call.

    from charrnn.nn.gemm import AVAILABLE, gemm     # gemm(a, b, c) inside an @njit function

Why: a fused time loop (charrnn/nn/fused.py) is, per step, the recurrent product and one compiled
pass. With the product as `np.dot` from Python the loop returns to the interpreter twice a step,
and when two threads run row blocks of a chunk (charrnn/nn/rows.py) each return waits for the
GIL: at the default 2x128 LSTM that was ~15 % of the loop. Called from the compiled code, the
whole loop of a chunk is one call that holds no GIL.

How: NumPy's own BLAS (the library threadpoolctl finds loaded) is made visible to LLVM
(llvmlite's load_library_permanently), and its ILP64 CBLAS entry points (64-bit sizes, the
`64_` suffix of NumPy's wheels: scipy_cblas_sgemm64_ / cblas_sgemm64_) are registered under
fixed names, so that numba's disk cache stays valid from one run to the next. The same library,
the same thread setting (threadpoolctl) and the same numbers as `np.dot` (tested bit for bit).
A BLAS without those names (an LP64 build, Accelerate, MKL) leaves AVAILABLE False, and the
loops stay in Python around `np.dot`: never a guess about integer sizes.

Only C-contiguous 2-D float32 / float64 arrays: the callers' arrays (workspace buffers and their
row slices) are.
"""

from __future__ import annotations

import ctypes

from numba import types
from numba.extending import overload

_NAMES = {"s": ("scipy_cblas_sgemm64_", "cblas_sgemm64_"), "d": ("scipy_cblas_dgemm64_", "cblas_dgemm64_")}
_ROW_MAJOR, _NO_TRANS = 101, 111  # CBLAS enum values


def _bind() -> bool:
    """Register charrnn_sgemm / charrnn_dgemm with LLVM; False when NumPy's BLAS has no ILP64 CBLAS."""
    try:
        import llvmlite.binding as llvm
        from threadpoolctl import threadpool_info

        import numpy  # noqa: F401  (its BLAS is found only once loaded)
        paths = [i["filepath"] for i in threadpool_info() if i.get("user_api") == "blas"]
        for path in paths:
            lib = ctypes.CDLL(path)
            found = {k: next((n for n in names if hasattr(lib, n)), None) for k, names in _NAMES.items()}
            if all(found.values()):
                llvm.load_library_permanently(path)
                for k, name in found.items():
                    llvm.add_symbol(f"charrnn_{k}gemm", ctypes.cast(getattr(lib, name), ctypes.c_void_p).value)
                return True
    except Exception:  # (no BLAS found, an unexpected threadpoolctl or llvmlite: the Python loops)
        pass
    return False


AVAILABLE = _bind()

_i32, _i64, _ptr = types.int32, types.int64, types.intp  # (pointers passed as addresses)
_sgemm = types.ExternalFunction("charrnn_sgemm", types.void(
    _i32, _i32, _i32, _i64, _i64, _i64, types.float32, _ptr, _i64, _ptr, _i64, types.float32, _ptr, _i64))
_dgemm = types.ExternalFunction("charrnn_dgemm", types.void(
    _i32, _i32, _i32, _i64, _i64, _i64, types.float64, _ptr, _i64, _ptr, _i64, types.float64, _ptr, _i64))


def gemm(a, b, c):
    """c = a @ b: a (M, K), b (K, N), c (M, N), C-contiguous, one dtype (compiled code only)."""
    raise NotImplementedError("charrnn.nn.gemm.gemm runs inside numba-compiled code only")


@overload(gemm)
def _gemm_impl(a, b, c):
    from numba.core.errors import TypingError
    if not all(isinstance(x, types.Array) and x.ndim == 2 and x.layout == "C" for x in (a, b, c)):
        raise TypingError("gemm: C-contiguous 2-D arrays only")
    if not a.dtype == b.dtype == c.dtype or a.dtype not in (types.float32, types.float64):
        raise TypingError("gemm: float32 or float64, one dtype")
    call = _sgemm if a.dtype == types.float32 else _dgemm

    def impl(a, b, c):
        M, K = a.shape
        N = b.shape[1]
        if b.shape[0] != K or c.shape[0] != M or c.shape[1] != N:
            raise ValueError("gemm: shapes do not match")
        if M == 0 or N == 0:
            return
        if K == 0:
            c[:] = 0
            return
        call(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, M, N, K, 1.0, a.ctypes.data, K, b.ctypes.data, N, 0.0,
             c.ctypes.data, N)
    return impl
