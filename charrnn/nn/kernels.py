"""Which implementation of the cells' time loop runs: the NumPy cells or the fused (numba) ones.

    select("auto")     -> "fused" when numba imports, else "numpy"; the registry then runs it
    select("numpy")    -> "numpy" (the reference: charrnn.nn.cells)
    select("fused")    -> "fused", or a UsageError saying how to get numba
    select("auto", defer=True) -> "numpy" for now, and numba loading in the background: the
                          training loop switches at a step fixed by the model's size (Handover)
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
import math
import os
import subprocess
import sys
import threading

import numpy as np

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

# `charrnn train` under auto: the NumPy cells run the first steps while numba is imported and the
# cell's kernels compiled into the disk cache by a child process (Handover), so a run's first step
# comes as soon as on the NumPy path (compiling takes ~2.5 s, and ~0.4 s more to load them). The
# switch comes at a step fixed by the model's size, never by the clock, so a run repeats and
# resumes bit for bit (parameters x characters a step; the 2x128 LSTM: step 8, 2x512: 1; between
# 1 and 500). Measured (benchmarks/bench_startup.py): with a full cache each NumPy step before the
# switch costs what the NumPy cells lose to the fused ones (1.3x at 1 thread, 2x at 2 threads), so
# the switch comes about when the child has found them in a full cache (~0.7 s after the start);
# with an empty one the loop waits there. Until then --threads auto keeps the BLAS at 1 thread
# (the child has the other core).
HANDOVER_WORK = 5e9
# What loading the fused path adds to the resident memory (numba, LLVM, the compiled kernels),
# for the training summary's estimate while it is still loading (measured: 2x128 LSTM, 84 -> 187 MB).
LOADING_BYTES = 100 << 20

_reference = {name: (c.forward, c.backward) for name, c in cells.CELLS.items()}
_active = "numpy"
_handover: Handover | None = None


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


def select(kind: str = "auto", defer: bool = False) -> str:
    """Make the cells' registry run `kind` (auto, numpy, fused); return the path in use.

    defer (training): under auto, with numba installed, the NumPy cells run now and the fused path
    is made ready beside them (a Handover: `pending()` returns it; the training loop finishes it)."""
    global _active, _handover
    if kind not in CHOICES:
        raise UsageError(f"invalid value for --kernels: {kind} (want one of {', '.join(CHOICES)})")
    if _handover is not None:  # a new choice replaces one still loading
        _handover.cancel()
    if defer and kind == "auto" and numba_available():
        select("numpy")
        _handover = Handover()
        return "numpy"
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
    if _active == "fused" and cell in FUSED_CELLS:
        _warm(_fused_module(), cell, dtype)


def _warm(fused, cell: str, dtype) -> None:
    """Run `fused`'s kernels for `cell` once (forward, backward, Adam's update) in `dtype`, on a
    1 x 1 x 1 chunk: numba compiles them, or loads them from its disk cache. Touches no registry."""
    c, f = cells.CELLS[cell], np.dtype(dtype).type
    p = {"Wx": np.zeros((1, c.gates), dtype), "Wh": np.zeros((1, c.gates), dtype), "b": np.zeros(c.gates, dtype)}
    state = tuple(np.zeros((1, 1), dtype) for _ in range(c.n_state))
    hs, _, cache = getattr(fused, f"{cell}_forward")(p, np.zeros((1, 1), np.int64), state)
    getattr(fused, f"{cell}_backward")(np.zeros_like(hs), state, cache)
    z = np.zeros(1, dtype)
    fused.adam_update(z, z, z.copy(), z.copy(), f(0.9), f(0.1), f(0.999), f(0.001), f(1), f(1e-8), f(0))


def handover_step(n_params: int, chars_per_step: int) -> int:
    """The step from which a deferred fused path runs (HANDOVER_WORK)."""
    return int(min(500, max(1, math.ceil(HANDOVER_WORK / max(1, n_params * chars_per_step)))))


class Handover:
    """The fused path made ready while the NumPy cells train the first steps.

    `want` starts a child process that compiles the cell's kernels into numba's disk cache (or
    finds them there) on another core; `finish` (the training loop, at step `at`) waits for it,
    then imports numba here and loads the kernels from the cache (~0.7 s), and switches the
    registry. A thread in this process would do the same work but hold the GIL for most of it:
    the NumPy steps beside it ran 3-4x slower. If the child fails, `finish` compiles here."""

    def __init__(self):
        self.at: int | None = None  # the step the loop switches at (set by `want`, shown in the summary)
        self._cell, self._dtype = None, None
        self.reached = True  # False: --max-steps ends the run first
        self._child: subprocess.Popen | None = None

    def want(self, cell: str, dtype, at: int, max_steps: int | None = None) -> None:
        """Have `cell`'s kernels in `dtype` ready for step `at` (no child when `max_steps` ends the run before)."""
        self.at, self._cell, self._dtype = at, cell, dtype
        self.reached = max_steps is None or max_steps > at
        if cell not in FUSED_CELLS or not self.reached:
            return
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # (charrnn's parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        # (the child's _fused_module points numba at the same cache as this process's)
        code = "import sys; from charrnn.nn.kernels import compile_into_cache; compile_into_cache(*sys.argv[1:])"
        try:  # its own session: a Ctrl-C meant for training does not reach it
            self._child = subprocess.Popen([sys.executable, "-c", code, cell, str(np.dtype(dtype))], env=env,
                                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError:  # (no child: `finish` compiles here)
            self._child = None

    def cancel(self) -> None:
        """Not needed any more (the run ended before step `at`, or `select` made another choice)."""
        global _handover
        if self._child is not None and self._child.poll() is None:
            self._child.kill()
            self._child.wait()
        if _handover is self:
            _handover = None

    def finish(self, stop=None) -> str | None:
        """Wait for the child, then run the fused kernels from now on; a message when they fail to
        load. `stop()` true while the child compiles (Ctrl-C): return at once, nothing switched."""
        global _handover
        _handover = None  # (so that `select` does not cancel it)
        try:
            select("fused")  # (numba's import, ~0.5 s, while the child may still be compiling)
            while self._child is not None and self._child.poll() is None:
                if stop is not None and stop():
                    select("numpy")
                    _handover = self  # still pending: the loop stops, and cancels it
                    return None
                try:
                    self._child.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    pass
            warm_up(self._cell, self._dtype)
        except Exception as e:  # (numba broken: the NumPy cells go on)
            select("numpy")
            return (f"the fused kernels failed to load ({type(e).__name__}: {e}); training goes on with "
                    "the NumPy cells (--kernels numpy hides this)")
        return None


def compile_into_cache(cell: str, dtype: str) -> None:
    """The Handover's child process: compile `cell`'s kernels (or find them) in numba's disk cache."""
    _warm(_fused_module(), cell, dtype)


def loading_bytes() -> int:
    """What the fused path still loading will add to the resident memory: LOADING_BYTES if the
    run reaches the handover."""
    h = _handover
    return LOADING_BYTES if h is not None and h.at is not None and h.reached else 0


def pending() -> Handover | None:
    """The fused path still loading for a training run (select(..., defer=True)), or None."""
    return _handover


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
    """'fused (numba 0.68.1)' / 'numpy' (with why, when numba is missing) / 'numpy until step 8
    while numba loads, then fused (...)' while a Handover is pending."""
    if kind is None and _handover is not None and _handover.at is not None:
        if not _handover.reached:
            return f"numpy (auto runs fused kernels from step {_handover.at:,}; this run ends before)"
        return f"numpy until step {_handover.at:,} while numba loads, then {describe('fused')}"
    kind = kind or _active
    if kind == "fused":
        from importlib.metadata import PackageNotFoundError, version
        try:
            return f"fused (numba {version('numba')})"
        except PackageNotFoundError:
            return "fused (numba)"
    return "numpy" if numba_available() else "numpy (numba not available)"
