"""Training throughput of seq2seq (`train --task seq2seq`) against the language model at the same size.

Both run the product's own code for one optimizer step (forward, loss, backward, global-norm clip
5, Adam): the language model `model.loss_and_grads` on chunks of --seq-len characters of B
streams, seq2seq `Seq2SeqTask.train_step` (plus the optimizer step) on bucketed batches of B pairs. Characters per second
count every character a network reads: B * T for the language model, the source characters and
the target characters plus END for seq2seq. Each figure is the median of --rounds blocks of
--steps steps after 3 warm-up steps, alternating LM and seq2seq.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_seq2seq.py data/dates.tsv --cell gru --hidden 128
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from charrnn.tasks import lm as model
from charrnn.config import ModelConfig
from charrnn.nn.optim import clip_by_global_norm, make_optimizer
from charrnn.tasks.seq2seq_task import Seq2SeqTask


def lm_block(cfg, params, opt, ids, batch, seq_len, steps):
    state = model.init_state(cfg, batch)
    t = time.perf_counter()
    for k in range(steps):
        x = ids[k % 4, :, :seq_len]
        y = ids[k % 4, :, 1:seq_len + 1]
        loss, grads, state = model.loss_and_grads(params, cfg, x, y, state)
        clip_by_global_norm(grads, 5.0)
        opt.step(params, grads, 2e-3)
    return steps * batch * seq_len / (time.perf_counter() - t)


def s2s_block(run, steps):
    t, chars, task = time.perf_counter(), 0, Seq2SeqTask()
    for _ in range(steps):
        step = task.train_step(run)
        run.optimizer.step(run.params, step.grads, run.lr)
        task.advance(run, step)
        chars += step.chars
    return chars / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pairs")
    ap.add_argument("--cell", default="gru")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=50)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    run, _ = Seq2SeqTask().prepare(a.pairs, {"batch": a.batch}, {"cell": a.cell, "hidden": a.hidden, "layers": a.layers}, {})
    cfg = ModelConfig(cell=a.cell, vocab_size=run.tokens.V, hidden=a.hidden, layers=a.layers)
    params = model.init_params(cfg, np.random.default_rng(0))
    opt = make_optimizer("adam")
    ids = np.random.default_rng(0).integers(0, cfg.vocab_size, (4, a.batch, a.seq_len + 1)).astype(np.uint8)
    lm_block(cfg, params, opt, ids, a.batch, a.seq_len, 3)
    s2s_block(run, 3)
    lm, s2s = [], []
    for _ in range(a.rounds):
        lm.append(lm_block(cfg, params, opt, ids, a.batch, a.seq_len, a.steps))
        s2s.append(s2s_block(run, a.steps))
    lm_m, s2s_m = statistics.median(lm), statistics.median(s2s)
    print(f"| {a.cell} | {a.layers} x {a.hidden} | {a.batch} | {lm_m:,.0f} | {s2s_m:,.0f} | {s2s_m / lm_m:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
