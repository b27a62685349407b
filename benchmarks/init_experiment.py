"""Which LSTM initialisation should `charrnn train` use? Issue 13's defaults experiment.

    python benchmarks/init_experiment.py ../shared/data/tinyshakespeare.txt --out docs/init-experiment

Phase 1 trains the default run (`charrnn train CORPUS`: 2x128 LSTM, 10 epochs, everything else
default) once per setting and seed, each setting one combination of

    --forget-bias 0 | 1          the LSTM forget-gate bias at the start
    --bias-init zero | uniform   zero biases, or PyTorch's small uniform ones
    --init-scale 0.5 | 1 | 2     weights ~ U(-s/sqrt(H), s/sqrt(H)); 1 is PyTorch's (and charrnn's)

With `--design staged` (what docs/init-experiment ran) phase 1 goes one factor at a time instead
of the full product: first forget bias x biases at scale 1 (4 settings), then the weight scales
around the best of those, then (with --lrs / --lr-decays) the learning rate and its per-epoch decay
around the best so far; each stage keeps the best setting seen. 4 + 2 + 2 + 1 settings x 3 seeds
instead of 12 x 3 (it misses interactions that the first stage does not cover).

    --lrs 1e-3,4e-3              learning rates besides the default 2e-3 (staged only)
    --lr-decays 0.9              lr x this after every epoch, besides 1 (none) (staged only)

With `--design batch` (issue 26) the factor is the batch size, from today's defaults (fb0-zero-s1,
lr 4e-3 at batch 50), each run judged by what a user holds after a fixed wall-clock budget:

    --batches 50,100,200         the batch sizes (each new size is its own setting)
    --budget 120                 every run is `charrnn train --time 120s` (not a step count)

Each batch B > 50 first tries two learning rates with the first seed only: the same 4e-3, and
4e-3 x sqrt(B / 50) (the square-root rule for Adam); the better of the two then runs the other
seeds. The loss is the run's best validation loss (what best.npz holds when it stops).

Phase 2 trains the two best settings (lowest mean best validation loss over the seeds) for
--long-steps steps (20,000) with --long-seeds (2) seeds. Every run is the `charrnn` command itself,
in its own process and output directory (the table shows the exact command), so the experiment
measures the product. A run already finished in --out (its result.json) is not run again: the
experiment can be stopped and started again.

Writes OUT/results.md (tables, the command lines, a suggestion for the default) and
OUT/results.json (every run). Progress goes to stderr. A missing corpus is skipped with a note
(exit 0), so that scripts running every benchmark go on.

Time on a quiet 2-core machine (2x128 LSTM at about 50,000 chars/s, as in docs/BENCHMARKS.md):
one default run is 10 epochs of tiny-shakespeare's 1.0 M training characters, 4,015 steps, about
3.5 minutes; phase 1 is 12 settings x 3 seeds = 36 runs, about 2.1 hours; phase 2 is 4 runs of
20,000 steps (50 M characters), about 17 minutes each, 1.1 hours; in all about 3.3 hours
(`--jobs 2 --threads 1` runs two at once, one thread each: about 1.6x the throughput).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LR = 2e-3  # charrnn's --lr default when the experiment began (a setting without "-lr" in its name)
FORGET_BIASES = (0.0, 1.0)
BIAS_INITS = ("zero", "uniform")
INIT_SCALES = (0.5, 1.0, 2.0)
DEFAULT_BATCH = 50
# --design batch starts from the defaults that the staged experiment chose (docs/init-experiment)
BATCH_BASE = {"forget_bias": 0.0, "bias_init": "zero", "init_scale": 1.0, "lr": 4e-3, "lr_decay": 1.0}


def settings(a) -> list[dict]:
    return [{"forget_bias": f, "bias_init": b, "init_scale": s, "lr": DEFAULT_LR, "lr_decay": 1.0}
            for f, b, s in itertools.product(a.forget_biases, a.bias_inits, a.init_scales)]


def name(setting: dict) -> str:
    """fb1-zero-s1, with -lr4e-3 / -d0.9 only where lr / decay are not the defaults."""
    n = f"fb{setting['forget_bias']:g}-{setting['bias_init']}-s{setting['init_scale']:g}"
    if setting.get("lr", DEFAULT_LR) != DEFAULT_LR:
        n += f"-lr{setting['lr']:g}"
    if setting.get("lr_decay", 1.0) != 1.0:
        n += f"-d{setting['lr_decay']:g}"
    if setting.get("batch", DEFAULT_BATCH) != DEFAULT_BATCH:
        n += f"-b{setting['batch']}"
    return n


def schedule_args(setting: dict) -> list[str]:
    """The learning-rate options of a setting, always given (so that a change of charrnn's defaults
    does not change what a setting means)."""
    decay = setting.get("lr_decay", 1.0)
    return ["--lr", f"{setting.get('lr', DEFAULT_LR):g}", "--lr-decay", f"{decay:g}",
            "--lr-decay-every", "1" if decay != 1.0 else "0", "--lr-decay-unit", "epoch"]


def command(a, corpus: str, out: str, setting: dict, seed: int, extra: list[str]) -> list[str]:
    """The `charrnn train` command line of one run (the default run but for the options named)."""
    return [a.python, "-m", "charrnn", "train", corpus, "--out", out, "--overwrite", "--quiet",
            "--seed", str(seed), "--forget-bias", f"{setting['forget_bias']:g}", "--bias-init", setting["bias_init"],
            "--init-scale", f"{setting['init_scale']:g}", *schedule_args(setting),
            "--batch", str(setting.get("batch", DEFAULT_BATCH)), *(["--time", f"{a.budget:g}s"] if a.budget else []),
            "--threads", a.threads, *shlex.split(a.train_args), *extra]


def run_one(a, corpus: str, phase: str, setting: dict, seed: int, extra: list[str]) -> dict:
    out = os.path.join(a.out, "runs", phase, f"{name(setting)}-seed{seed}")
    done = os.path.join(out, "result.json")
    if os.path.exists(done):
        with open(done, encoding="utf-8") as f:
            return json.load(f)
    cmd = command(a, corpus, out, setting, seed, extra)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if r.returncode != 0:
        raise SystemExit(f"error: run failed ({' '.join(cmd)}):\n{r.stderr.strip()[-2000:]}")
    records = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"), encoding="utf-8")]
    evals = [rec for rec in records if rec.get("val_loss") is not None]
    result = {"phase": phase, "setting": setting, "name": name(setting), "seed": seed,
              "best_val_loss": min(rec["val_loss"] for rec in evals), "final_val_loss": evals[-1]["val_loss"],
              "steps": evals[-1]["step"], "seconds": round(time.perf_counter() - t0, 1),
              "curve": [[rec["step"], rec["val_loss"]] for rec in evals],
              "command": shlex.join(["charrnn"] + cmd[3:])}  # as a user types it
    with open(done, "w", encoding="utf-8") as f:
        json.dump(result, f)
    print(f"  {phase} {result['name']} seed {seed}: best val {result['best_val_loss']:.4f} after "
          f"{result['steps']} steps ({result['seconds']:.0f} s)", file=sys.stderr)
    return result


def rescore(a, corpus: str, results: list[dict]) -> None:
    """--rescore: each run's best.npz scored by `charrnn evaluate` on the validation text (the
    corpus's last 10 %) as ONE stream, into result["rescored"]. A run's own validation reads the
    split as `--batch` streams, each starting from a zero state, so its loss grows with the batch
    (200 streams of 555 characters pay 200 warm-ups): this puts every batch size on one footing."""
    text = open(corpus, encoding="utf-8").read()
    val = os.path.join(a.out, "runs", "val.txt")  # (runs/ is not committed)
    with open(val, "w", encoding="utf-8") as f:
        f.write(text[len(text) - int(round(len(text) * 0.1)):])
    for r in results:
        out = os.path.join(a.out, "runs", r["phase"], f"{r['name']}-seed{r['seed']}")
        if r.get("rescored") is not None or not os.path.exists(os.path.join(out, "best.npz")):
            continue
        cmd = [a.python, "-m", "charrnn", "evaluate", os.path.join(out, "best.npz"), val, "--json", "--threads", a.threads]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        if p.returncode != 0:
            raise SystemExit(f"error: rescoring failed ({' '.join(cmd)}):\n{p.stderr.strip()[-2000:]}")
        r["rescored"] = json.loads(p.stdout)["nats_per_char"]
        with open(os.path.join(out, "result.json"), "w", encoding="utf-8") as f:
            json.dump(r, f)
        print(f"  rescored {r['name']} seed {r['seed']}: {r['rescored']:.4f} (own validation {r['best_val_loss']:.4f})",
              file=sys.stderr)


def run_all(a, corpus, phase, jobs: list[tuple[dict, int]], extra) -> list[dict]:
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:  # each run is its own process
        return list(pool.map(lambda job: run_one(a, corpus, phase, job[0], job[1], extra), jobs))


def staged(a, corpus, seeds) -> list[dict]:
    """Phase 1 one factor at a time: forget bias x biases at the first scale, then each further
    factor varied around the best setting so far (cached runs are reused)."""
    def best_of(results):
        return summarise(results)[0]["setting"]

    scale0 = 1.0 if 1.0 in a.init_scales else a.init_scales[0]  # PyTorch's (and charrnn's) scale first
    base = {"init_scale": scale0, "lr": DEFAULT_LR, "lr_decay": 1.0}
    first = [dict(base, forget_bias=f, bias_init=b) for f, b in itertools.product(a.forget_biases, a.bias_inits)]
    results = run_all(a, corpus, "default", [(s, seed) for s in first for seed in seeds], [])
    for key, values in (("init_scale", [x for x in a.init_scales if x != scale0]), ("lr", a.lrs), ("lr_decay", a.lr_decays)):
        if not values:
            continue
        best = best_of(results)
        print(f"stage {key}: around {name(best)}", file=sys.stderr)
        more = [dict(best, **{key: v}) for v in values]
        results += run_all(a, corpus, "default", [(s, seed) for s in more for seed in seeds], [])
    return results


def batch_design(a, corpus, seeds) -> list[dict]:
    """Issue 26: the batch sizes, each at its better learning rate of two (first seed), then all seeds."""
    results = []
    for b in a.batches:
        lrs = [BATCH_BASE["lr"]] + ([round(BATCH_BASE["lr"] * math.sqrt(b / DEFAULT_BATCH), 6)] if b != DEFAULT_BATCH else [])
        probe = run_all(a, corpus, "default", [(dict(BATCH_BASE, batch=b, lr=lr), seeds[0]) for lr in lrs], [])
        chosen = min(probe, key=lambda r: r["best_val_loss"])["setting"]
        print(f"batch {b}: lr {chosen['lr']:g} (of {', '.join(f'{x:g}' for x in lrs)})", file=sys.stderr)
        results += probe + run_all(a, corpus, "default", [(chosen, seed) for seed in seeds[1:]], [])
    return results


def merge_finished(results: list[dict], runs_dir: str) -> list[dict]:
    """These results and every other finished run of the phase in the output directory (earlier
    invocations with other factors): the tables show all that the directory holds."""
    seen = {(r["name"], r["seed"]) for r in results}
    more = []
    if os.path.isdir(runs_dir):
        for d in sorted(os.listdir(runs_dir)):
            done = os.path.join(runs_dir, d, "result.json")
            if os.path.exists(done):
                with open(done, encoding="utf-8") as f:
                    r = json.load(f)
                if (r["name"], r["seed"]) not in seen:
                    more.append(r)
    return results + more


def summarise(results: list[dict]) -> list[dict]:
    """Per setting: mean and standard deviation of the best val loss over seeds, best first."""
    by = {}
    for r in results:
        by.setdefault(r["name"], []).append(r)
    rows = []
    for n, rs in by.items():
        own = [r["best_val_loss"] for r in rs]
        rescored = all(r.get("rescored") is not None for r in rs)
        losses = [r["rescored"] for r in rs] if rescored else own
        rows.append({"name": n, "setting": rs[0]["setting"], "mean": statistics.fmean(losses), "rescored": rescored,
                     "own_mean": statistics.fmean(own),
                     "std": statistics.stdev(losses) if len(losses) > 1 else 0.0, "n": len(losses),
                     "losses": losses, "steps": rs[0]["steps"]})
    return sorted(rows, key=lambda row: row["mean"])


def table(rows: list[dict]) -> str:
    lines = ["| setting | forget bias | biases | init scale | lr | lr decay / epoch | batch | seeds | best val loss, mean | std | per seed | own validation, mean | steps |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["setting"]
        lines.append(f"| {r['name']} | {s['forget_bias']:g} | {s['bias_init']} | {s['init_scale']:g} "
                     f"| {s.get('lr', DEFAULT_LR):g} | {s.get('lr_decay', 1.0):g} | {s.get('batch', DEFAULT_BATCH)} | {r['n']} "
                     f"| {r['mean']:.4f}{'' if r['rescored'] else ' (own)'} | {r['std']:.4f} "
                     f"| {', '.join(f'{x:.4f}' for x in r['losses'])} | {r['own_mean']:.4f} | {r['steps']:,} |")
    return "\n".join(lines)


def batch_suggestion(rows: list[dict]) -> str:
    """--design batch: the default batch stays unless another wins by more than the seed noise
    (twice the larger standard deviation of the two), over 3 seeds or more."""
    full = [r for r in rows if r["n"] >= 3]
    base = next((r for r in full if r["setting"].get("batch", DEFAULT_BATCH) == DEFAULT_BATCH), None)
    if base is None or not full:
        return "No batch-50 setting with 3 seeds: no suggestion."
    best = full[0]
    if best is base:
        return f"Keep batch {DEFAULT_BATCH} ({base['name']}): it has the lowest mean ({base['mean']:.4f})."
    noise = 2 * max(best["std"], base["std"], 1e-9)
    gain = base["mean"] - best["mean"]
    if gain > noise:
        return f"{best['name']} wins clearly: {best['mean']:.4f} against {base['mean']:.4f} (by {gain:.4f} > {noise:.4f}, twice the seed noise)."
    return (f"Keep batch {DEFAULT_BATCH}: {best['name']} leads by {gain:.4f} nats/char, within the seed noise "
            f"({noise:.4f}, twice the larger standard deviation).")


def suggestion(short: list[dict], long: list[dict]) -> str:
    """The issue's rule: the winner at the default length, unless it loses at the long horizon
    by more than the seed noise (here: more than twice the larger of the two standard deviations)."""
    if not long:
        return f"Phase 1 winner: {short[0]['name']} (phase 2 not run)."
    ranked = [r for r in short if any(x["name"] == r["name"] for x in long)]  # phase 2's, best at the default length first
    a, b = ranked[0]["name"], ranked[1]["name"]
    la = next(r for r in long if r["name"] == a)
    lb = next(r for r in long if r["name"] == b)
    noise = 2 * max(la["std"], lb["std"], 1e-9)
    if la["mean"] - lb["mean"] > noise:
        return (f"{a} wins at the default length but loses at the long horizon by {la['mean'] - lb['mean']:.4f} "
                f"nats/char (> {noise:.4f}, twice the seed noise): choose {b}.")
    return (f"Choose {a}: it wins at the default length ({ranked[0]['mean']:.4f} vs {ranked[1]['mean']:.4f}) and at "
            f"the long horizon it is within the seed noise or better ({la['mean']:.4f} vs {lb['mean']:.4f}, "
            f"noise {noise:.4f}).")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", help="the text (issue 13: tiny-shakespeare)")
    ap.add_argument("--out", default="init-experiment", help="directory for the runs and results.md / results.json")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--long-seeds", default="0,1")
    ap.add_argument("--long-steps", type=int, default=20000)
    ap.add_argument("--forget-biases", default=",".join(f"{x:g}" for x in FORGET_BIASES))
    ap.add_argument("--bias-inits", default=",".join(BIAS_INITS))
    ap.add_argument("--init-scales", default=",".join(f"{x:g}" for x in INIT_SCALES))
    ap.add_argument("--design", choices=("full", "staged", "batch"), default="full",
                    help="full product of the factors, one factor at a time, or the batch sizes (see above)")
    ap.add_argument("--batches", default="50,100,200", help="batch: the batch sizes")
    ap.add_argument("--rescore", action="store_true",
                    help="score every best.npz with `charrnn evaluate` on the validation text as one stream (see rescore)")
    ap.add_argument("--budget", type=float, default=0, help="seconds of `charrnn train --time` per run (0: the default run's 10 epochs)")
    ap.add_argument("--lrs", default="", help="staged: learning rates to try besides 2e-3, e.g. 1e-3,4e-3")
    ap.add_argument("--lr-decays", default="", help="staged: per-epoch lr decays to try besides 1, e.g. 0.9")
    ap.add_argument("--long-settings", default="",
                    help="phase 2's settings by name (e.g. fb0-zero-s1,fb0-zero-s2-lr0.004); default: the two best")
    ap.add_argument("--train-args", default="", help="more `charrnn train` options for every run (e.g. --lr 3e-3)")
    ap.add_argument("--jobs", type=int, default=1, help="runs at once (each its own process)")
    ap.add_argument("--threads", default="auto", help="--threads of every run (with --jobs 2: 1)")
    ap.add_argument("--skip-long", action="store_true", help="phase 1 only")
    ap.add_argument("--python", default=sys.executable, help="the interpreter that runs charrnn")
    a = ap.parse_args(argv)
    if not os.path.exists(a.corpus):
        print(f"skipped: the corpus {a.corpus} is not there (pass its path as the first argument)", file=sys.stderr)
        return 0
    a.forget_biases = [float(x) for x in a.forget_biases.split(",")]
    a.bias_inits = a.bias_inits.split(",")
    a.init_scales = [float(x) for x in a.init_scales.split(",")]
    a.long_settings = [x for x in a.long_settings.split(",") if x]
    a.lrs = [float(x) for x in a.lrs.split(",") if x]
    a.lr_decays = [float(x) for x in a.lr_decays.split(",") if x]
    if a.design == "full" and (a.lrs or a.lr_decays):
        ap.error("--lrs and --lr-decays need --design staged")
    seeds = [int(x) for x in a.seeds.split(",")]
    corpus = os.path.abspath(a.corpus)
    a.out = os.path.abspath(a.out)
    os.makedirs(a.out, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M")
    a.batches = [int(x) for x in a.batches.split(",")]
    if a.design == "staged":
        short = staged(a, corpus, seeds)
    elif a.design == "batch":
        short = batch_design(a, corpus, seeds)
    else:
        short = run_all(a, corpus, "default", [(s, seed) for s in settings(a) for seed in seeds], [])
    short = merge_finished(short, os.path.join(a.out, "runs", "default"))
    if a.rescore:
        rescore(a, corpus, short)
    short_rows = summarise(short)
    long, long_rows = [], []
    if not a.skip_long and len(short_rows) >= 2:
        best2 = [r["setting"] for r in short_rows[:2]]
        if a.long_settings:  # named explicitly (see --long-settings)
            by_name = {r["name"]: r["setting"] for r in short_rows}
            unknown = [n for n in a.long_settings if n not in by_name]
            if unknown:
                ap.error(f"--long-settings: no default-length runs of {', '.join(unknown)} in {a.out}")
            best2 = [by_name[n] for n in a.long_settings]
        long = run_all(a, corpus, "long", [(s, int(seed)) for s in best2 for seed in a.long_seeds.split(",")],
                       ["--max-steps", str(a.long_steps)])
        long_rows = summarise(long)
    me = shlex.join(["python", os.path.relpath(__file__, ROOT)] + (argv if argv is not None else sys.argv[1:]))
    example = short[0]["command"] if short else ""
    for path in (a.out, corpus):  # as typed from the repository root
        example = example.replace(path, os.path.relpath(path, ROOT))
    md = "\n".join([
        f"# LSTM {'batch-size' if a.design == 'batch' else 'initialisation'} experiment ({started})", "",
        f"Command: `{me}`", "",
        f"Each run is `charrnn train` with the default settings but for the options named, e.g. `{example}`;",
        "the loss is the best validation loss (nats/char) over the run's evaluations (what best.npz holds)"
        + (": best.npz scored again by `charrnn evaluate` on the validation text as one stream (see `rescore`; "
           "the run's own figure, with --batch streams, is the column 'own validation')." if a.rescore else "."), "",
        f"## {f'{a.budget:g} s of training' if a.budget else 'The default run'} ({len(seeds)} seed(s) per setting"
        f"{'; the second learning rate of each batch: the first seed only' if a.design == 'batch' else ''}), best first", "",
        table(short_rows), "",
        *([f"## The two best over {a.long_steps:,} steps", "", table(long_rows), ""] if long_rows else []),
        "## Suggestion", "", batch_suggestion(short_rows) if a.design == "batch" else suggestion(short_rows, long_rows), ""])
    with open(os.path.join(a.out, "results.md"), "w", encoding="utf-8") as f:
        f.write(md)
    with open(os.path.join(a.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"command": me, "started": started, "default_run": short_rows, "long": long_rows,
                   "runs": short + long}, f, indent=1)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
