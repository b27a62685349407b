"""Row blocks: one training chunk's streams split over the cores, each block on its own thread.

    blocks = RowBlocks()      # n = 1: the chunk runs as one block, with the BLAS's own threads
    blocks.set(2)             # (nn.threads does it: --threads 2, or auto's "all cores", where `pays`)
    loss, grads, state = blocks.loss_and_grads(lm.loss_and_grads, params, cfg, x, y, state, rng, ws)
    nats, count, state = blocks.loss_sum(lm.loss_sum, params, cfg, x, y, state, ws)   # validation

Why: at the size users train (2 x 128), a time step's recurrent product (B, H) x (H, 4H) is too
small for OpenBLAS's threads: 57 us at 1 thread and at 2 (B = 50, 2 cores), and it is ~70 % of
a training step. The rows of a chunk are independent all the way through (each is its own
stream with its own state), so N threads can each run the whole forward and backward of B/N
streams with the BLAS at 1 thread; only the gradients meet, and they add:

    mean over B rows = sum_k (B_k / B) * (mean over the B_k rows of block k)

The threads wait for each other only for the GIL between kernels (the BLAS calls and the fused
kernels release it). Measured on 2 cores, whole training step (forward, backward, clip, Adam),
fused kernels, B = T = 50, 2 layers, split against the BLAS's 2 threads (docs/BENCHMARKS.md):

    hidden          128     256     512
    LSTM          1.24x   1.08x   0.90x
    GRU           1.23x   1.20x   0.93x
    RNN           1.08x   1.09x   1.12x

At 512 a block's product (25 rows) loses more to the smaller shape than the threads gain, so
`pays` splits only layers whose recurrent weights Wh (H x G) have at most MAX_WEIGHTS elements
(LSTM and GRU up to H = 256, RNN up to 512), and blocks of at least MIN_ROWS streams.

Numbers: a block is the same computation on fewer rows, but its products can round differently
from the whole batch's and the block means add in another order, so a split step agrees with an
unsplit one to float rounding (tested). A run repeats bit for bit at the same thread count: the
blocks depend only on N and B. Dropout: block k draws its masks from its own generator, seeded
by one draw of N seeds from the run's RNG per step, so a split run is reproducible too.
"""

from __future__ import annotations

import numpy as np

from charrnn.nn.cells import CELLS
from charrnn.nn.threads import available_cores
from charrnn.nn.workspace import Workspace

MAX_WEIGHTS = 300_000  # elements of a layer's Wh (H x G) up to which splitting pays (see the table)
MIN_ROWS = 8  # streams per block at least: smaller blocks are mostly call overhead


def pays(cell_gates: int, hidden: int, batch: int, cores: int = 2) -> bool:
    """Whether splitting a chunk of `batch` streams over `cores` blocks beats the BLAS's threads
    for a layer of `hidden` units and `cell_gates` gate blocks (LSTM 4, GRU 3, RNN 1)."""
    return cores > 1 and hidden * hidden * cell_gates <= MAX_WEIGHTS and batch >= 2 * MIN_ROWS


def for_training(cfg, batch: int) -> "RowBlocks | None":
    """The RowBlocks a training run of model `cfg` at `batch` streams uses, where splitting pays on
    this process's cores; None where the BLAS keeps them."""
    return RowBlocks() if pays(CELLS[cfg.cell].gates, cfg.hidden, batch, available_cores()) else None


def cuts(rows: int, n: int) -> list[slice]:
    """`rows` split into `n` contiguous blocks as equal as can be (the first ones smaller)."""
    edges = [rows * k // n for k in range(n + 1)]
    return [slice(a, b) for a, b in zip(edges, edges[1:])]


def _joined(states: list) -> list:
    """The blocks' final states (each a list of per-layer tuples of (B_k, H)) as one of (B, H)."""
    return [tuple(np.concatenate(parts) for parts in zip(*layers)) for layers in zip(*states)]


class RowBlocks:
    """How many blocks a training chunk runs as (n, set by the thread setting), their workspaces
    and the threads that run them (block 0 runs in the caller's thread)."""

    def __init__(self):
        self.n = 1
        self.timed = False  # --threads auto chooses n (nn.threads.blas_threads sets it; for `describe`)
        self._pool, self._workers = None, 0
        self._workspaces: list[Workspace] = []

    def set(self, n: int) -> None:
        self.n = max(1, int(n))

    def close(self) -> None:
        """Let the threads go and the workspaces with them (a RowBlocks left alone also ends fine)."""
        self._end_pool()
        self._workspaces = []

    def _end_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool, self._workers = None, 0

    def _run(self, jobs: list) -> list:
        """Run the zero-argument callables `jobs` at once, the first in this thread; their results."""
        if len(jobs) == 1:
            return [jobs[0]()]
        if self._workers < len(jobs) - 1:
            from concurrent.futures import ThreadPoolExecutor
            self._end_pool()
            self._workers = len(jobs) - 1
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="charrnn-rows")
        futures = [self._pool.submit(job) for job in jobs[1:]]
        try:
            first = jobs[0]()
        finally:  # (also on an error or Ctrl-C here: no block may still run when the step returns)
            rest = [f.result() for f in futures]
        return [first] + rest

    def _blocks(self, fn, params, cfg, x: np.ndarray, y: np.ndarray, state: list, rng=False, ws=None):
        """fn on each row block of the chunk; (the blocks, their results), or (None, fn's result on
        the whole chunk) when it runs as one block. `rng`: False when fn takes none, else the
        run's generator (or None), which seeds one generator per block."""
        B = x.shape[0]
        n = min(self.n, B // MIN_ROWS)
        first = () if rng is False else (rng,)
        if n <= 1:
            return None, fn(params, cfg, x, y, state, *first, ws=ws)
        blocks = cuts(B, n)
        while len(self._workspaces) < n - 1:
            self._workspaces.append(Workspace())
        spaces = [ws] + self._workspaces[:n - 1]  # (block 0 shares the caller's: one set of buffers at n = 1 and 2)
        extra = [first] * n if rng is None or rng is False else \
            [(np.random.default_rng(s),) for s in rng.integers(0, 2**63, n)]

        def job(k, s):
            sub = [tuple(a[s] for a in layer) for layer in state]
            return lambda: fn(params, cfg, x[s], y[s], sub, *extra[k], ws=spaces[k])

        return blocks, self._run([job(k, s) for k, s in enumerate(blocks)])

    def loss_and_grads(self, fn, params, cfg, x: np.ndarray, y: np.ndarray, state: list,
                       rng: np.random.Generator | None = None, ws: Workspace | None = None):
        """fn(params, cfg, x, y, state, rng, ws=...) -> (mean loss, grads, final state) on the
        (B, T) chunk x, y, as n blocks of streams when n > 1 (see the module); else fn itself."""
        blocks, out = self._blocks(fn, params, cfg, x, y, state, rng, ws)
        if blocks is None:
            return out
        B = x.shape[0]
        weights = [(s.stop - s.start) / B for s in blocks]
        loss = sum(w * o[0] for w, o in zip(weights, out))
        grads = out[0][1]
        for name, g in grads.items():  # (each block's arrays are its own: summed in place)
            g *= weights[0]
            for w, o in zip(weights[1:], out[1:]):
                g += w * o[1][name]
        return loss, grads, _joined([o[2] for o in out])

    def loss_sum(self, fn, params, cfg, x: np.ndarray, y: np.ndarray, state: list, ws: Workspace | None = None):
        """fn(params, cfg, x, y, state, ws=...) -> (sum of nats, count, final state) on the chunk,
        as n blocks when n > 1 (validation: the sums and counts add)."""
        blocks, out = self._blocks(fn, params, cfg, x, y, state, False, ws)
        if blocks is None:
            return out
        return sum(o[0] for o in out), sum(o[1] for o in out), _joined([o[2] for o in out])

    def describe(self) -> str:
        """For the training summary, after the kernels ('' at one block)."""
        if self.timed:
            return "streams split over the cores when timing says so (row blocks)"
        return f"streams split over {self.n} threads (row blocks)" if self.n > 1 else ""
