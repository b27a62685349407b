"""One training step alone, for A/B runs of two source trees (no worker, no data pipeline).

    .venv/bin/python benchmarks/bench_step.py CELL HIDDEN [--profile]

Times model.loss_and_grads + global-norm clip 5 + Adam on a random (50, 50) batch of ids
(V = 96, 2 layers) for 3 s after 5 warm-up steps and prints chars/s; with --profile, the 14
functions with the most own time over 60 steps. It uses only names that the tree of 2026-11-23
also has (a workspace when the tree has one), so the same file runs in an old checkout:
`cd old && .venv/bin/python ../main/benchmarks/bench_step.py gru 128`. Alternate the two trees
and compare medians; BLAS threads are NumPy's default (set OPENBLAS_NUM_THREADS before starting
to pin them).
"""

import sys
import time

import numpy as np

from charrnn.tasks import lm as model
from charrnn.nn import optim
from charrnn.config import ModelConfig

V, B, T = 96, 50, 50


def main() -> None:
    cell, H, profile = sys.argv[1], int(sys.argv[2]), "--profile" in sys.argv
    cfg = ModelConfig(cell=cell, vocab_size=V, hidden=H, layers=2)
    params = model.init_params(cfg, np.random.default_rng(0))
    opt = optim.make_optimizer("adam")
    kw = {}
    try:
        from charrnn.nn.workspace import Workspace  # this round's trees; older ones had a global pool
        kw["ws"] = Workspace()
    except ImportError:
        pass
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))

    def step(state):
        _, grads, state = model.loss_and_grads(params, cfg, x, y, state, **kw)
        optim.clip_by_global_norm(grads, 5.0)
        opt.step(params, grads, 2e-3)
        return state

    state = model.init_state(cfg, B)
    for _ in range(5):
        state = step(state)
    if profile:
        import cProfile
        import pstats
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(60):
            state = step(state)
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(14)
        return
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 3:
        state = step(state)
        n += 1
    print(f"{cell} {H}: {n * B * T / (time.perf_counter() - t0):,.0f} chars/s")


if __name__ == "__main__":
    main()
