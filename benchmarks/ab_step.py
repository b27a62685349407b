"""One training step with two versions of charrnn/nn/cells.py in ONE process: a git revision's and this tree's.

    .venv/bin/python benchmarks/ab_step.py REV CELL HIDDEN [--rounds 30] [--steps 5] [--threads 1]
    .venv/bin/python benchmarks/ab_step.py main lstm 128

The step is bench_step.py's (V = 96, B = T = 50, 2 layers: model.loss_and_grads, global-norm clip
5, Adam), each version with its own parameters, optimizer and workspace; only the cell's forward
and backward differ (REV's from `git show REV:charrnn/nn/cells.py`, loaded as a module of its own).
It first checks that both give the same loss and gradients up to float32 rounding, then times
`rounds` rounds of `steps` steps of each, alternating which runs first, BLAS pinned to `threads`
threads (threadpoolctl), and prints the paired median of old/new over the rounds: on a busy
machine the pairing cancels most of the drift that separate runs of bench_step.py suffer.
"""

import argparse
import importlib.util
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from charrnn.nn import cells  # noqa: E402
from charrnn.tasks import lm as model
from charrnn.nn import optim
from charrnn.config import ModelConfig  # noqa: E402
from charrnn.nn.workspace import Workspace  # noqa: E402

V, B, T = 96, 50, 50


def cells_at(rev: str):
    """charrnn/nn/cells.py as of git revision `rev`, as a module of its own."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:charrnn/nn/cells.py"], check=True,
                         capture_output=True, text=True).stdout
    path = pathlib.Path(tempfile.mkdtemp()) / "cells_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("cells_old", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gradient_gap(a, b) -> float:
    """The largest difference between two (loss, grads, state) results' gradients, relative to
    each gradient's largest entry."""
    return max(np.abs(a[1][k] - b[1][k]).max() / np.abs(a[1][k]).max() for k in a[1])


def paired_rounds(steps, names: tuple[str, str], rounds: int, n: int):
    """Warm each version up (2 steps: workspaces sized, caches filled), then `rounds` rounds of
    `steps(version, n)` (seconds per step) of each, alternating which runs first. Returns the
    median seconds per step of each and the paired median of names[0] / names[1] with its
    quartiles: the pairing cancels most of the drift of a busy machine."""
    for v in names:
        steps(v, 2)
    times = {v: [] for v in names}
    for r in range(rounds):
        for v in (names if r % 2 == 0 else names[::-1]):
            times[v].append(steps(v, n))
    a, b = np.array(times[names[0]]), np.array(times[names[1]])
    q1, med, q3 = np.percentile(a / b, [25, 50, 75])
    return np.median(a), np.median(b), med, q1, q3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rev"), ap.add_argument("cell"), ap.add_argument("hidden", type=int)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    old = cells_at(a.rev)
    impl = {v: (getattr(m, f"{a.cell}_forward"), getattr(m, f"{a.cell}_backward"))
            for v, m in (("old", old), ("new", cells))}
    cell = model.CELLS[a.cell]  # the forward/backward that model.py calls are swapped in place
    cfg = ModelConfig(cell=a.cell, vocab_size=V, hidden=a.hidden, layers=2)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))
    runs = {v: {"params": model.init_params(cfg, np.random.default_rng(0)), "opt": optim.make_optimizer("adam"),
                "ws": Workspace(), "state": model.init_state(cfg, B)} for v in impl}

    def steps(v: str, n: int) -> float:
        cell.forward, cell.backward = impl[v]
        r = runs[v]
        t0 = time.perf_counter()
        for _ in range(n):
            _, grads, r["state"] = model.loss_and_grads(r["params"], cfg, x, y, r["state"], ws=r["ws"])
            optim.clip_by_global_norm(grads, 5.0)
            r["opt"].step(r["params"], grads, 2e-3)
        return (time.perf_counter() - t0) / n

    with threadpool_limits(a.threads):
        params, state = model.init_params(cfg, np.random.default_rng(0)), model.init_state(cfg, B)
        out = {}
        for v in impl:
            cell.forward, cell.backward = impl[v]
            out[v] = model.loss_and_grads(params, cfg, x, y, state, ws=Workspace())
        print(f"loss old {out['old'][0]:.7f} new {out['new'][0]:.7f}; "
              f"largest gradient difference {gradient_gap(out['old'], out['new']):.1e}")
        o, n, med, q1, q3 = paired_rounds(steps, ("old", "new"), a.rounds, a.steps)
    print(f"{a.cell} H={a.hidden}, {a.rounds} rounds x {a.steps} steps, {a.threads} thread(s): "
          f"ms/step old {o * 1e3:.2f}, new {n * 1e3:.2f}; "
          f"paired median old/new {med:.3f}x (quartiles {q1:.3f}-{q3:.3f})")
    cell.forward, cell.backward = impl["new"]


if __name__ == "__main__":
    main()
