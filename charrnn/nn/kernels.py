"""Which implementation of the cells' time loop runs: the NumPy cells or the fused (numba) ones.

    select("auto")     -> "fused" when numba imports, else "numpy"; the registry then runs it
    select("numpy")    -> "numpy" (the reference: charrnn.nn.cells)
    select("fused")    -> "fused", or a UsageError saying how to get numba
    active()           -> the path in use now; describe() a line for `info` and the summary

The choice is one per process (charrnn.nn.cells.CELLS[...].forward/backward are swapped, and
Adam's update: charrnn.nn.optim.use_adam_kernel), made
by the command at its start (`--kernels`); the library's default is the NumPy path until
something selects. Both paths keep the same cache layout, so traces and inspect-* work on either.

numba is found, not imported, until the fused path is selected (its import costs ~0.5 s). Its
compile cache goes to $CHARRNN_CACHE_DIR/numba when CHARRNN_CACHE_DIR is set (and
NUMBA_CACHE_DIR is not), else numba's default (__pycache__ beside charrnn/nn/fused.py, or
~/.cache when that is not writable). Setting CHARRNN_NO_NUMBA=1 hides numba (the fallback, as
on a machine without it; the test suite runs that way too).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading

from charrnn.errors import UsageError
from charrnn.nn import cells, optim

CHOICES = ("auto", "numpy", "fused")
# `charrnn sample` under auto: fused only from this many characters. The fused one-stream step
# saves ~5 us a character (2x128 LSTM, 1.28x); importing numba and loading the kernels costs ~0.5-1 s.
SAMPLE_FUSED_MIN_CHARS = 100_000
# `charrnn evaluate` under auto: fused only for files from this size (batch 1, where the fused loop
# is ~2.7x faster, it saves ~30-90 us a character: the start-up pays back after ~10-30 k characters).
EVALUATE_FUSED_MIN_BYTES = 100_000
FUSED_CELLS = ("lstm", "gru", "rnn")

_reference = {name: (c.forward, c.backward) for name, c in cells.CELLS.items()}
_active = "numpy"


def numba_available() -> bool:
    """True when numba can be imported (and CHARRNN_NO_NUMBA is not set)."""
    if os.environ.get("CHARRNN_NO_NUMBA"):
        return False
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):
        return False


def numba_cache_dir(environ=os.environ) -> str | None:
    """Where numba should cache the kernels, if charrnn decides it: $CHARRNN_CACHE_DIR/numba when
    CHARRNN_CACHE_DIR is set and NUMBA_CACHE_DIR is not (None: numba's own default)."""
    cache = environ.get("CHARRNN_CACHE_DIR")
    return os.path.join(cache, "numba") if cache and not environ.get("NUMBA_CACHE_DIR") else None


def _fused_module():
    where = numba_cache_dir()
    if where and "numba" not in sys.modules:  # (numba reads it when it is imported)
        os.environ["NUMBA_CACHE_DIR"] = where
    from charrnn.nn import fused
    return fused


def select(kind: str = "auto") -> str:
    """Make the cells' registry run `kind` (auto, numpy, fused); return the path in use."""
    global _active
    if kind not in CHOICES:
        raise UsageError(f"invalid value for --kernels: {kind} (want one of {', '.join(CHOICES)})")
    want = kind
    if kind == "auto":
        kind = "fused" if numba_available() else "numpy"
    if kind == "fused":
        if not numba_available():
            why = "CHARRNN_NO_NUMBA is set" if os.environ.get("CHARRNN_NO_NUMBA") else "numba is not installed"
            raise UsageError(f"--kernels fused needs numba, but {why}",
                             hint="pip install numba (or use --kernels numpy / auto)")
        try:
            fused = _fused_module()
        except Exception as e:  # installed but broken (e.g. a NumPy it does not support)
            if want == "auto":
                return select("numpy")
            raise UsageError(f"--kernels fused needs numba, which failed to import: {e}",
                             hint="use --kernels numpy, or reinstall numba") from None
        for name in FUSED_CELLS:
            c = cells.CELLS[name]
            c.forward, c.backward = getattr(fused, f"{name}_forward"), getattr(fused, f"{name}_backward")
        optim.use_adam_kernel(fused.adam_update)
    else:
        for name, (f, b) in _reference.items():
            cells.CELLS[name].forward, cells.CELLS[name].backward = f, b
        optim.use_adam_kernel(None)
    _active = kind
    return kind


def warm_up(cell: str, dtype) -> None:
    """Compile (or load from the disk cache) the kernels `cell` runs in `dtype`, by one forward and
    backward pass on a 1 x 1 x 1 chunk, if the fused path is selected; nothing on the NumPy path.
    Training calls it before it measures the process's memory: compiling maps ~50 MB of LLVM."""
    if _active != "fused" or cell not in FUSED_CELLS:
        return
    import numpy as np
    c = cells.CELLS[cell]
    p = {"Wx": np.zeros((1, c.gates), dtype), "Wh": np.zeros((1, c.gates), dtype), "b": np.zeros(c.gates, dtype)}
    state = tuple(np.zeros((1, 1), dtype) for _ in range(c.n_state))
    hs, _, cache = c.forward(p, np.zeros((1, 1), np.int64), state)
    c.backward(np.zeros_like(hs), state, cache)
    optim.Adam().step({"w": np.zeros(1, dtype)}, {"w": np.zeros(1, dtype)}, 1e-3)  # its compiled update too


def prefetch(cell: str, dtype) -> None:
    """Start compiling (or loading) `cell`'s kernels in a background thread, if the fused path is
    selected: `charrnn train` calls it before it reads the corpus, so that a cold compile (no disk
    cache yet) overlaps the setup instead of following it. numba compiles under one lock, so the
    training's own warm_up waits for this one and then finds the kernels ready; an error here is
    left for that call to raise."""
    if _active != "fused" or cell not in FUSED_CELLS:
        return

    def run():
        try:
            warm_up(cell, dtype)
        except Exception:  # (the same call in the main thread raises it)
            pass
    threading.Thread(target=run, name="charrnn-compile", daemon=True).start()


def active() -> str:
    """The path the registry runs now: 'numpy' or 'fused'."""
    return _active


def describe(kind: str | None = None) -> str:
    """'fused (numba 0.68.1)' / 'numpy' (with why, when numba is missing)."""
    kind = kind or _active
    if kind == "fused":
        from importlib.metadata import PackageNotFoundError, version
        try:
            return f"fused (numba {version('numba')})"
        except PackageNotFoundError:
            return "fused (numba)"
    return "numpy" if numba_available() else "numpy (numba not available)"
