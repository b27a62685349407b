"""What `charrnn train --live` costs at the default evaluation cadence.

    python benchmarks/bench_live.py [--time 60s] [--pairs 1] [--hidden 128] [--layers 2] [--threads 1]

Trains the default model (2 x 128 LSTM unless told) on data/python-stdlib.txt (`make corpus`) for
--time, with the default --eval-every (about every 5 % of the planned run), in pairs of runs
alternately without and with --live (the order flips from pair to pair), and reports:

    direct   the time spent in the live page's work (probes on 2,000 validation characters, the
             probes.jsonl line, the atomic page write), counted by the LiveReporter itself,
             as a share of the run's wall-clock time: the overhead, robust to other load
    steps    steps reached in the same --time with and without --live (a time-limited run does
             less training when the page costs time): noisy on a shared machine

Goal (issue 29): at most 5 % of training time. Because the evaluations are spaced at about 5 % of
the planned run, the share does not depend much on --time (20 updates in any run); it grows with
the model (the probes' trace is a forward pass over 2,000 characters). On a shared machine take
`uptime` before and after, and trust the direct share over the step counts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from charrnn.api import train
from charrnn.engine.loop import Reporter
from charrnn.interpret.live import LiveReporter

CORPUS = Path(__file__).resolve().parents[1] / "data" / "python-stdlib.txt"
EVERY = 500  # steps between evaluations of a run stopped by --time (engine/validation.py: eval_period)


class Quiet(Reporter):
    pass


def run(out: Path, live: bool, a) -> dict:
    reporter = LiveReporter(Quiet(), out / "live.html", out / "run") if live else Quiet()
    t0 = time.monotonic()
    r = train(CORPUS, out / "run", reporter=reporter, time=a.time, hidden=a.hidden, layers=a.layers,
              threads=a.threads, seed=1)
    wall = time.monotonic() - t0
    out_ = {"steps": r.step, "wall": wall}
    if live:
        out_.update(live_s=reporter.seconds, updates=reporter.updates, costs=reporter.costs)
    return out_


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time", default="60s")
    ap.add_argument("--pairs", type=int, default=1)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--threads", default="1")
    a = ap.parse_args()
    if not CORPUS.is_file():
        raise SystemExit(f"error: {CORPUS} is missing\nhint: make corpus")
    rows = []
    for k in range(a.pairs):
        for live in ((False, True) if k % 2 == 0 else (True, False)):
            with tempfile.TemporaryDirectory() as d:
                res = run(Path(d), live, a)
            res["live"] = live
            rows.append(res)
            extra = (f", live page {res['live_s']:.2f} s in {res['updates']} updates = "
                     f"{100 * res['live_s'] / res['wall']:.2f} % of the run") if live else ""
            print(f"pair {k + 1} {'with' if live else 'without'} --live: {res['steps']:,} steps in {res['wall']:.1f} s{extra}",
                  flush=True)
    on = [r for r in rows if r["live"]]
    off = [r for r in rows if not r["live"]]
    share = sum(r["live_s"] for r in on) / sum(r["wall"] for r in on)
    steps = sum(r["steps"] for r in on) / max(1, sum(r["steps"] for r in off))
    costs = sorted(c for r in on for c in r["costs"])
    per_step = sum(r["wall"] for r in off) / max(1, sum(r["steps"] for r in off))
    print(f"direct: the live page took {100 * share:.2f} % of the runs' time; "
          f"steps with / without --live: {steps:.3f}")
    if costs:
        update = costs[len(costs) // 2]
        print(f"one update (median of {len(costs)}): {update:.2f} s; a training step: {per_step * 1e3:.0f} ms; "
              f"at the default cadence of a --time run (an evaluation every {EVERY} steps) the page costs "
              f"{100 * update / (update + EVERY * per_step):.2f} % of training time")


if __name__ == "__main__":
    main()
