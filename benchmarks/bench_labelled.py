"""Training speed of the classify and tag models against the language model at the same size, in
characters per second of training steps (forward, backward, clipping, Adam), measured in ONE
process, the configurations taking turns round after round (a busy, shared machine slows them
alike), at one BLAS thread; the median of the rounds is reported.

    python benchmarks/bench_labelled.py --corpus data/python-stdlib.txt --classify data/packages.tsv \
        --tag data/spacing.tsv [--hidden 128] [--rounds 7] [--seconds 3]

The language model: chunks of --seq-len 50 x --batch 50 of the corpus (charrnn train's defaults).
The classifier and the tagger: batches of --labelled-batch lines of similar length, as training
draws them (tasks/labelled_task.py).
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np

from charrnn.config import ModelConfig
from charrnn.data.corpus import load_corpus
from charrnn.data.labelled import Labels, bucket_batches, encode_examples, make_batch, read_labelled
from charrnn.data.vocab import Vocab
from charrnn.nn import heads
from charrnn.nn.bidirectional import param_shapes
from charrnn.nn.optim import Adam, clip_by_global_norm
from charrnn.nn.threads import blas_threads
from charrnn.nn.workspace import Workspace
from charrnn.tasks import lm


def lm_steps(corpus_path, cell, hidden, batch=50, seq_len=50):
    c = load_corpus(corpus_path)
    cfg = ModelConfig(cell=cell, vocab_size=c.vocab.size, hidden=hidden, layers=1)
    params, opt, ws = lm.init_params(cfg, np.random.default_rng(0)), Adam(), Workspace()
    ids = np.asarray(c.ids[: batch * seq_len * 200 + 1], dtype=np.int64)
    state = lm.init_state(cfg, batch)
    k = 0

    def step():
        nonlocal state, k
        n = batch * seq_len
        x = ids[k * n:(k + 1) * n].reshape(batch, seq_len)
        y = ids[k * n + 1:(k + 1) * n + 1].reshape(batch, seq_len)
        k = (k + 1) % 199
        loss, grads, state = lm.loss_and_grads(params, cfg, x, y, state, ws=ws)
        clip_by_global_norm(grads, 5.0)
        opt.step(params, grads, 2e-3)
        return n
    return step


def labelled_steps(path, kind, cell, hidden, batch, bidirectional, how):
    examples, _ = read_labelled(path, kind)
    vocab, labels = Vocab.from_text("".join(t for t, _ in examples)), Labels.from_examples(examples, kind)
    cfg = ModelConfig(cell=cell, vocab_size=vocab.size, hidden=hidden, layers=1)
    params = lm.init_params(cfg, np.random.default_rng(0), shapes=param_shapes(cfg, labels.size, bidirectional))
    data, opt, ws = encode_examples(vocab, labels, examples, kind), Adam(), Workspace()
    batches = bucket_batches(data.lengths, batch, np.random.default_rng(0))
    k = 0

    def step():
        nonlocal k
        b = make_batch(data, batches[k % len(batches)], cfg.dtype)
        k += 1
        loss, grads = heads.loss_and_grads(params, cfg, b, how, ws=ws)
        clip_by_global_norm(grads, 5.0)
        opt.step(params, grads, 2e-3)
        return b.n_chars
    return step


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--classify", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--cell", default="gru")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--labelled-batch", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=3.0, help="per configuration per round")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    H, cell = args.hidden, args.cell
    configs = {f"lm 1x{H} {cell}": lm_steps(args.corpus, cell, H)}
    for B in args.labelled_batch:
        configs[f"classify 1x{H} {cell} (mean), batch {B}"] = labelled_steps(args.classify, "classify", cell, H, B, False, "mean")
        configs[f"tag bidirectional 1x{H} {cell}, batch {B}"] = labelled_steps(args.tag, "tag", cell, H, B, True, "steps")
        configs[f"tag 1x{H} {cell} (one way), batch {B}"] = labelled_steps(args.tag, "tag", cell, H, B, False, "steps")
    speeds = {name: [] for name in configs}
    with blas_threads(1):
        for step in configs.values():  # warm-up: workspaces sized, caches filled
            for _ in range(3):
                step()
        for r in range(args.rounds):
            for name, step in configs.items():
                chars, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < args.seconds:
                    chars += step()
                speeds[name].append(chars / (time.perf_counter() - t0))
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{s[-1]:,.0f}" for s in speeds.values()), file=sys.stderr)
    base = statistics.median(speeds[next(iter(configs))])
    rows = {name: {"chars_per_s": statistics.median(s), "ratio_to_lm": statistics.median(s) / base,
                   "ratios_by_round": [a / b for a, b in zip(s, speeds[next(iter(configs))])]}
            for name, s in speeds.items()}
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'configuration':<44} {'chars/s':>9}  {'x LM':>5}  (median of {args.rounds} alternating rounds, 1 thread)")
        for name, r in rows.items():
            print(f"{name:<44} {r['chars_per_s']:9,.0f}  {r['ratio_to_lm']:5.2f}  per round: "
                  + " ".join(f"{x:.2f}" for x in r["ratios_by_round"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
