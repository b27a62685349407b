"""Peak RSS of scoring many texts of different lengths in one process, against the longest alone.

    .venv/bin/python benchmarks/bench_workspace.py                      # 2x512 LSTM, 60 texts ~2,000 chars
    .venv/bin/python benchmarks/bench_workspace.py --hidden 128 --texts 20

Each case runs in a fresh child process (its peak RSS, VmHWM, is its own): `alone` scores the
longest text, `many` scores all of them one after the other with `charrnn.use.evaluate.score_ids`
(what `charrnn evaluate` runs per text). Issue 13 asks for many <= 1.5 x alone. The figures are
memory, not time: a busy machine does not change them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def work(job: dict) -> dict:
    sys.path.insert(0, ROOT)
    import numpy as np

    from charrnn.tasks import lm as model
    from charrnn.config import ModelConfig
    from charrnn.use.evaluate import score_ids
    cfg = ModelConfig(cell=job["cell"], vocab_size=96, hidden=job["hidden"], layers=job["layers"])
    params = model.init_params(cfg, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    lengths = rng.integers(job["min_len"], job["max_len"] + 1, job["texts"])
    lengths[0] = job["max_len"]
    texts = [rng.integers(0, 96, n) for n in lengths]
    for t in (texts[:1] if job["case"] == "alone" else texts):
        score_ids(params, cfg, t)
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024.0
    return {"case": job["case"], "rss_mb": hwm, "texts": 1 if job["case"] == "alone" else len(texts)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cell", default="lstm")
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--texts", type=int, default=60)
    ap.add_argument("--min-len", type=int, default=1500)
    ap.add_argument("--max-len", type=int, default=2500)
    ap.add_argument("--job", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.job:
        print(json.dumps(work(json.loads(a.job))))
        return 0
    job = {"cell": a.cell, "hidden": a.hidden, "layers": a.layers, "texts": a.texts, "min_len": a.min_len,
           "max_len": a.max_len}
    got = {}
    for case in ("alone", "many"):
        r = subprocess.run([sys.executable, __file__, "--job", json.dumps(dict(job, case=case))],
                           capture_output=True, text=True, check=True)
        got[case] = json.loads(r.stdout.strip().splitlines()[-1])["rss_mb"]
        print(f"  {case}: peak RSS {got[case]:.0f} MB", file=sys.stderr)
    print(f"| model | texts | longest alone | all {a.texts} | ratio |\n|---|---|---|---|---|\n"
          f"| {a.layers}x{a.hidden} {a.cell} | {a.texts} x {a.min_len}-{a.max_len} chars | {got['alone']:.0f} MB "
          f"| {got['many']:.0f} MB | {got['many'] / got['alone']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
