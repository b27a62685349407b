"""How soon `charrnn train` makes its first steps, on each kernel path, with numba's cache empty and full.

    .venv/bin/python benchmarks/bench_startup.py                      # 3 rounds, 100 steps, --threads 1
    .venv/bin/python benchmarks/bench_startup.py --rounds 5 --steps 200 --threads 2

Each case is a fresh `charrnn train` process on the first 200 KB of the bundled corpus (the
default 2x128 LSTM) whose reporter notes the time of each step from the moment the process was
started: the first step, the step after the handover (under --kernels auto the NumPy cells run
until then while a child compiles the fused kernels: charrnn.nn.kernels.Handover) and the last.
The cases alternate within each round: `numpy` (--kernels numpy), `auto cold` (the default, an
emptied cache), `auto warm`, `fused cold`, `fused warm`. Medians over the rounds; run it alone
on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The child: `charrnn train` in this interpreter, its reporter timing the steps (T0 = the parent's
# clock just before it started the process); prints {step: seconds} as JSON on the last line of stderr.
DRIVER = """
import json, os, sys, time
T0 = float(os.environ["BENCH_T0"])
import charrnn.cli.train_progress as tp
marks, step = {}, tp.ConsoleReporter.step
def timed(self, run, record):
    marks.setdefault(run.step, time.time() - T0)
    return step(self, run, record)
tp.ConsoleReporter.step = timed
from charrnn.cli import main
try:
    main()
finally:
    print(json.dumps(marks), file=sys.stderr)
"""

CASES = [("numpy", "numpy", False), ("auto cold", "auto", True), ("auto warm", "auto", False),
         ("fused cold", "fused", True), ("fused warm", "fused", False)]


def run_case(corpus: str, kernels: str, steps: int, threads: str, cache: str, out: str) -> dict[int, float]:
    env = dict(os.environ, CHARRNN_CACHE_DIR=cache, BENCH_T0=repr(time.time()))
    env.pop("NUMBA_CACHE_DIR", None)
    r = subprocess.run([sys.executable, "-c", DRIVER, "train", corpus, "--max-steps", str(steps), "--eval-every",
                        str(10 * steps), "--sample-len", "0", "--quiet", "--threads", threads, "--kernels", kernels,
                        "--out", out, "--overwrite"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"charrnn train failed:\n{r.stderr}")
    return {int(k): v for k, v in json.loads(r.stderr.strip().splitlines()[-1]).items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", default="1")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "data", "python-stdlib.txt"))
    a = ap.parse_args()
    sys.path.insert(0, ROOT)
    from charrnn.nn.kernels import handover_step
    from charrnn.tasks import lm
    from charrnn.config import ModelConfig

    work = tempfile.mkdtemp(prefix="charrnn-startup-")
    try:
        small = os.path.join(work, "small.txt")
        with open(a.corpus, encoding="utf-8") as f:
            text = f.read(200_000)
        with open(small, "w", encoding="utf-8") as f:
            f.write(text)
        at = handover_step(lm.n_params(ModelConfig(vocab_size=len(set(text)))), 50 * 50)
        if a.steps <= at + 1:
            ap.error(f"--steps must be more than {at + 1} (the handover is at step {at})")
        marks: dict[str, list[dict]] = {name: [] for name, _, _ in CASES}
        for r in range(a.rounds):
            for name, kernels, cold in CASES:
                cache = os.path.join(work, "cache")
                if cold:
                    shutil.rmtree(cache, ignore_errors=True)
                m = run_case(small, kernels, a.steps, a.threads, cache, os.path.join(work, "run"))
                marks[name].append(m)
                print(f"round {r + 1} {name:10s} first step {m[1]:.3f} s, step {at + 1} {m[at + 1]:.3f} s, "
                      f"step {a.steps} {m[a.steps]:.3f} s", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {name: {s: statistics.median(m[s] for m in ms) for s in (1, at + 1, a.steps)} for name, ms in marks.items()}
    base = med["numpy"][1]
    print(f"`charrnn train` on 200 KB, default 2x128 LSTM, --threads {a.threads}: seconds from the command "
          f"(medians of {a.rounds} alternating rounds; the handover under auto is at step {at})\n")
    print(f"| case | first step | vs numpy | step {at + 1} | step {a.steps} |\n|---|---|---|---|---|")
    for name, m in med.items():
        print(f"| {name} | {m[1]:.2f} | {m[1] / base:.2f}x | {m[at + 1]:.2f} | {m[a.steps]:.2f} |")


if __name__ == "__main__":
    main()
