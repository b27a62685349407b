"""Large vocabularies (issue 17): synthetic corpora and the time of one training step.

    python benchmarks/big_vocab.py corpus DIR      # DIR/v577.txt, DIR/v20001.txt (~1.2 MB, Zipf-like)
    python benchmarks/big_vocab.py step FILE [N]   # median CPU and wall time of N steps (default 6)

A step is what `charrnn train` does per chunk with the defaults (2 x 128 LSTM, batch 50, seq 50,
Adam): loss_and_grads, global-norm clip 5, Adam. The first step (which pages memory in) is left
out of the medians. To compare two versions, point PYTHONPATH at the other checkout and alternate:

    for i in 1 2 3; do
      PYTHONPATH=/tmp/before OPENBLAS_NUM_THREADS=1 python benchmarks/big_vocab.py step DIR/v20001.txt
      OPENBLAS_NUM_THREADS=1 python benchmarks/big_vocab.py step DIR/v20001.txt
    done
"""

import random
import sys
import time
from pathlib import Path


def corpus(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(0)
    sets = {
        577: sorted({chr(c) for c in range(0x20, 0x7F)} | {chr(0x4E00 + i) for i in range(481)}) + ["\n"],
        20001: [chr(0x4E00 + i) for i in range(20000)] + ["\n"],
    }
    for size, chars in sets.items():
        weights = [1.0 / (i + 1) for i in range(len(chars))]  # Zipf: a few characters are most of the text
        text = "".join(chars) + "".join(rnd.choices(chars, weights=weights, k=400_000))  # each one at least once
        assert len(set(text)) == size
        (directory / f"v{size}.txt").write_text(text, encoding="utf-8")
        print(f"{directory / f'v{size}.txt'}: {len(text):,} characters, {size:,} distinct")


def step(path: str, n: int) -> None:
    import numpy as np

    import charrnn
    from charrnn.tasks import lm as model
    from charrnn.nn.optim import clip_by_global_norm
    from charrnn.tasks.lm_task import LMTask

    run, _ = LMTask().prepare(path, {"batch": 50, "seq_len": 50}, {})
    cpu, wall = [], []
    for k in range(n + 1):
        x, y = run.streams.chunk(k)
        c, w = time.process_time(), time.perf_counter()
        ws = {"ws": run.workspace} if hasattr(run, "workspace") else {}  # (as the training loop does)
        loss, grads, run.state = model.loss_and_grads(run.params, run.cfg, x, y, run.state, **ws)
        clip_by_global_norm(grads, 5.0)
        run.optimizer.step(run.params, grads, 2e-3)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    c, w = np.median(cpu[1:]), np.median(wall[1:])
    chars = run.tcfg.batch * run.tcfg.seq_len
    print(f"{Path(charrnn.__file__).parent.parent.name}: V={run.cfg.vocab_size} CPU {c * 1e3:.0f} ms/step "
          f"({chars / c:,.0f} chars/s), wall {w * 1e3:.0f} ms/step ({chars / w:,.0f} chars/s)")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "corpus":
        corpus(Path(sys.argv[2]))
    elif len(sys.argv) >= 3 and sys.argv[1] == "step":
        step(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 6)
    else:
        sys.exit(__doc__)
