"""train --backend torch against --backend numpy on this CPU: one engine step (the task's step,
clipping, Adam, advance), both backends in one process, alternated round by round.

    .venv/bin/python benchmarks/bench_backend.py CORPUS [--sizes 2x128 2x512] [--cells lstm gru]
        [--rounds 3] [--seconds 4] [--threads 1]

Each round runs every (size, cell, backend) for --seconds after 2 warm-up steps, at batch 50,
seq 50; prints one JSON line per measurement and a median table. The torch step copies the
parameters in and the gradients out each step (charrnn.tasks.lm_torch): that cost is included.
Threads: torch.set_num_threads and NumPy's BLAS (threadpoolctl) both at --threads.
"""

import argparse
import json
import statistics
import time

import torch
from threadpoolctl import threadpool_limits

from charrnn.nn.optim import clip_by_global_norm
from charrnn.tasks.lm_task import LMTask
from charrnn.tasks.lm_torch import TorchLMTask


def rate(task, run, seconds: float) -> float:
    def step():
        s = task.train_step(run)
        clip_by_global_norm(s.grads, 5.0)
        run.optimizer.step(run.params, s.grads, 1e-3)
        task.advance(run, s)
        return s.chars

    step(), step()
    chars, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        chars += step()
    return chars / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--sizes", nargs="+", default=["2x128", "2x512"])
    ap.add_argument("--cells", nargs="+", default=["lstm"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    runs = {}
    for size in a.sizes:
        layers, hidden = map(int, size.split("x"))
        for cell in a.cells:
            for backend, task in (("numpy", LMTask()), ("torch", TorchLMTask("cpu"))):
                run, _ = task.prepare(a.corpus, {"batch": 50, "seq_len": 50},
                                      {"cell": cell, "hidden": hidden, "layers": layers})
                runs[(size, cell, backend)] = (task, run)
    got = {k: [] for k in runs}
    with threadpool_limits(a.threads):
        for r in range(a.rounds):
            for key, (task, run) in runs.items():
                got[key].append(rate(task, run, a.seconds))
                print(json.dumps({"round": r, "size": key[0], "cell": key[1], "backend": key[2],
                                  "chars_per_s": round(got[key][-1])}), flush=True)
    print(f"{'size':6} {'cell':5} {'numpy':>8} {'torch':>8} {'torch/numpy':>12}  (median chars/s, {a.threads} thread(s))")
    for size in a.sizes:
        for cell in a.cells:
            n, t = (statistics.median(got[(size, cell, b)]) for b in ("numpy", "torch"))
            print(f"{size:6} {cell:5} {n:8.0f} {t:8.0f} {t / n:12.2f}")


if __name__ == "__main__":
    main()
