"""One training step on the NumPy cells and on the fused ones (`--kernels numpy|fused`), alternating in ONE process.

    .venv/bin/python benchmarks/ab_kernels.py CELL HIDDEN [--rounds 20] [--steps 5] [--threads 1] [--batch 50]
    .venv/bin/python benchmarks/ab_kernels.py lstm 128

The step is bench_step.py's (V = 96, T = 50, 2 layers: model.loss_and_grads, global-norm clip 5,
Adam), each path with its own parameters, optimizer and workspace; charrnn.nn.kernels.select
switches the cells' registry between rounds. It first checks that both give the same loss and
gradients up to float32 rounding and compiles the fused kernels (the compile is not timed), then
times `rounds` rounds of `steps` steps of each, alternating which runs first, BLAS pinned to
`threads` threads (threadpoolctl), and prints the paired median of numpy/fused: on a busy machine
the pairing cancels most of the drift that separate runs suffer. --eval times `loss_sum`
(evaluation: forward only) instead of a training step, --adam Adam's update alone.
"""

import argparse
import pathlib
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ab_step import gradient_gap, paired_rounds  # noqa: E402 (the same paired A/B as ab_step.py)
from charrnn.config import ModelConfig  # noqa: E402
from charrnn.nn import kernels, optim  # noqa: E402
from charrnn.nn.workspace import Workspace  # noqa: E402
from charrnn.tasks import lm as model  # noqa: E402

V, T = 96, 50


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cell"), ap.add_argument("hidden", type=int)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--eval", action="store_true", help="time evaluation (loss_sum) instead of training")
    ap.add_argument("--adam", action="store_true",
                    help="time Adam's update alone (the 13 NumPy passes against the one compiled pass), on this model's parameters")
    a = ap.parse_args()
    B = a.batch
    cfg = ModelConfig(cell=a.cell, vocab_size=V, hidden=a.hidden, layers=2)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))
    paths = ("numpy", "fused")
    runs = {v: {"params": model.init_params(cfg, np.random.default_rng(0)), "opt": optim.make_optimizer("adam"),
                "ws": Workspace(), "state": model.init_state(cfg, B)} for v in paths}

    def steps(v: str, n: int) -> float:
        kernels.select(v)
        r = runs[v]
        t0 = time.perf_counter()
        for _ in range(n):
            if a.adam:
                r["opt"].step(r["params"], fixed_grads, 2e-3)
                continue
            if a.eval:
                _, _, r["state"] = model.loss_sum(r["params"], cfg, x, y, r["state"], ws=r["ws"])
                continue
            _, grads, r["state"] = model.loss_and_grads(r["params"], cfg, x, y, r["state"], ws=r["ws"])
            optim.clip_by_global_norm(grads, 5.0)
            r["opt"].step(r["params"], grads, 2e-3)
        return (time.perf_counter() - t0) / n

    fixed_grads = {k: rng.normal(0, 1e-2, v.shape).astype(v.dtype) for k, v in runs["numpy"]["params"].items()}
    with threadpool_limits(a.threads):
        params, state = model.init_params(cfg, np.random.default_rng(0)), model.init_state(cfg, B)
        out = {}
        for v in paths:
            kernels.select(v)
            t0 = time.perf_counter()
            out[v] = model.loss_and_grads(params, cfg, x, y, state, ws=Workspace())
            if v == "fused":
                print(f"first fused step (compile or cache load included): {time.perf_counter() - t0:.2f} s")
        print(f"loss numpy {out['numpy'][0]:.7f} fused {out['fused'][0]:.7f}; "
              f"largest gradient difference {gradient_gap(out['numpy'], out['fused']):.1e}")
        o, n, med, q1, q3 = paired_rounds(steps, paths, a.rounds, a.steps)
    what = "Adam update" if a.adam else "evaluation chunk" if a.eval else "step"
    print(f"{a.cell} H={a.hidden} B={B}, {a.rounds} rounds x {a.steps} steps, {a.threads} thread(s): "
          f"ms/{what} numpy {o * 1e3:.2f}, fused {n * 1e3:.2f}; "
          f"paired median numpy/fused {med:.3f}x (quartiles {q1:.3f}-{q3:.3f})")


if __name__ == "__main__":
    main()
