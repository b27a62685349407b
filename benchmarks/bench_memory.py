"""inspect-memory speed: the default gradient reach and context usage of a 2x128 model.

    python benchmarks/bench_memory.py [--cell lstm] [--chars 20000] [--skip-context]

A freshly initialised model (the speed does not depend on the weights) over the last --chars
characters of data/python-stdlib.txt (`make corpus`). Times, on the cores NumPy is given:

    carried pass    reading the text as one stream (shared by both measurements)
    gradient reach  64 targets x 257 steps forward + backward (the targets are parallel streams)
    context usage   2,000 targets, k = 1, 2, 4, ... 1024 (sum of k = 2,047 steps of 2,000 streams)

Goals (issue 14, 2 cores, 2x128 LSTM): gradient reach (with the carried pass) <= 10 s, context
usage <= 60 s. Run it on a quiet machine: `uptime` before and after.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from charrnn.tasks import lm as model
from charrnn.interpret import memory
from charrnn.config import ModelConfig
from charrnn.data.vocab import Vocab

CORPUS = Path(__file__).resolve().parents[1] / "data" / "python-stdlib.txt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"])
    ap.add_argument("--chars", type=int, default=20000)
    ap.add_argument("--skip-context", action="store_true")
    a = ap.parse_args()
    text = CORPUS.read_text(encoding="utf-8")[-a.chars:]
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text).astype(np.intp)
    cfg = ModelConfig(cell=a.cell, vocab_size=vocab.size, hidden=128, layers=2)
    params = model.init_params(cfg, np.random.default_rng(0))
    plan = memory.make_plan(len(ids), 1024, 2000, 256, 64)
    K = plan.max_distance
    positions = memory.evenly_spaced(K + 1, len(ids) - 1, plan.positions)
    starts = [int(t) - K - 1 for t in positions]
    t0, c0 = time.perf_counter(), time.process_time()
    _, saved = memory.carried_pass(params, cfg, ids, set(starts))
    t1 = time.perf_counter()
    memory.backward_reach(params, cfg, ids, positions, K + 1, [saved[s] for s in starts])
    t2, c2 = time.perf_counter(), time.process_time()
    print(f"{a.cell} 2x128, {len(ids):,} characters: carried pass {t1 - t0:.2f} s, window forward + backward "
          f"{t2 - t1:.2f} s; gradient reach {t2 - t0:.2f} s wall, {c2 - c0:.2f} s CPU (goal 10 s)", flush=True)
    if not a.skip_context:
        targets = memory.evenly_spaced(plan.max_context, len(ids) - 1, plan.max_targets)
        t3, c3 = time.perf_counter(), time.process_time()
        memory.context_losses(params, cfg, ids, targets, memory.contexts_upto(plan.max_context))
        print(f"context usage ({len(targets):,} targets, k up to {plan.max_context}): "
              f"{time.perf_counter() - t3:.1f} s wall, {time.process_time() - c3:.1f} s CPU (goal 60 s)")


if __name__ == "__main__":
    main()
