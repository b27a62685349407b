"""charrnn vs PyTorch on this CPU: training and sampling throughput, peak memory.

    python benchmarks/bench.py --corpus data/python-stdlib.txt            # make bench
    ../torchvenv/bin/python benchmarks/bench.py --quick                   # a 2-minute look, with PyTorch
    python benchmarks/bench.py --val-race --corpus ../shared/data/tinyshakespeare.txt
    python benchmarks/bench.py --best-race --race-corpus ../shared/data/tinyshakespeare.txt
    python benchmarks/bench.py --threads-race      # 1 thread, N threads, auto; quiet and with a CPU hog

Every measurement runs in a fresh child process (benchmarks/workers.py) so that the peak RSS is
that configuration's own; charrnn and PyTorch alternate, `--rounds` times, and the table shows
the median of the rounds. PyTorch is used only if the interpreter running this script can
import it; charrnn never imports it. The table goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_STEPS = {128: 30, 256: 15, 512: 8}


def default_corpus() -> str | None:
    for path in (os.path.join(ROOT, "data", "python-stdlib.txt"),
                 os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt")):
        if os.path.exists(path):
            return os.path.normpath(path)
    return None  # workers fall back to a synthetic text


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=None, help="UTF-8 text (default: the bundled corpus, else tiny-shakespeare)")
    ap.add_argument("--cells", default="lstm,gru,rnn")
    ap.add_argument("--hidden", default="128,256,512")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--seq", type=int, default=50)
    ap.add_argument("--steps", type=int, default=0, help="timed optimizer steps (default: 30/15/8 for 128/256/512)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--sample-chars", type=int, default=500, help="characters per timed sampling block")
    ap.add_argument("--min-seconds", type=float, default=2.0,
                    help="each measurement repeats its block of steps / characters until this long")
    ap.add_argument("--rounds", type=int, default=3, help="alternating charrnn/PyTorch rounds; the median is shown")
    ap.add_argument("--quick", action="store_true", help="LSTM and GRU at 128 only, 1 round")
    ap.add_argument("--only", choices=("train", "sample"), default=None,
                    help="measure only training or only sampling (the other columns show '-')")
    ap.add_argument("--kernels", choices=("auto", "numpy", "fused"), default="auto",
                    help="charrnn's time loop, as `charrnn train --kernels` (auto: fused when numba imports)")
    ap.add_argument("--no-torch", action="store_true", help="charrnn alone even if PyTorch is importable")
    ap.add_argument("--torch-python", default=os.environ.get("CHARRNN_TORCH_PYTHON"),
                    help="interpreter for the PyTorch jobs (default: this one; env CHARRNN_TORCH_PYTHON)")
    ap.add_argument("--out", default=None, help="also write the table (markdown) to this file")
    ap.add_argument("--val-race", action="store_true",
                    help="instead: both train a 2x128 LSTM for --race-seconds on tiny-shakespeare, then compare val loss")
    ap.add_argument("--race-seconds", type=float, default=300.0)
    ap.add_argument("--race-corpus", default=None,
                    help="the race's text (default: tiny-shakespeare; e.g. data/python-stdlib.txt for the second race)")
    ap.add_argument("--race-without-earlier", action="store_true",
                    help="race charrnn's defaults and PyTorch only (not charrnn with the earlier defaults too)")
    ap.add_argument("--best-race", action="store_true",
                    help="instead: `charrnn train CORPUS --time S` as a user types it, scored by the best.npz it holds, "
                         "against ../shared/bench/torch_peer.py --seconds S --best-every 30 (its best val loss); "
                         "--rounds alternating rounds")
    ap.add_argument("--threads-race", action="store_true",
                    help="instead: charrnn training (LSTM, first --hidden) at 1 thread, all cores and --threads auto, "
                         "on the machine as it is and with a CPU hog on one core; --threads-seconds each, --rounds rounds")
    ap.add_argument("--threads-seconds", type=float, default=40.0)
    a = ap.parse_args(argv)
    if a.quick:
        a.cells, a.hidden, a.rounds = "lstm,gru", "128", 1
    a.cells = [c.strip() for c in a.cells.split(",") if c.strip()]
    a.hidden = [int(h) for h in a.hidden.split(",") if h.strip()]
    a.corpus = a.corpus or default_corpus()
    a.torch = None if a.no_torch else torch_python(a.torch_python)
    a.kernels_ran = None  # what the charrnn jobs report they ran (bench)
    return a


def torch_python(candidate: str | None) -> str | None:
    """An interpreter that can import torch, or None: the given one, else this one."""
    for py in ([candidate] if candidate else []) + [sys.executable]:
        if subprocess.run([py, "-c", "import torch"], capture_output=True, check=False).returncode == 0:
            return py
    return None


def child(job: dict, python: str | None = None) -> dict:
    """Run one job in a fresh interpreter (by default the one running us)."""
    cmd = [python or sys.executable, os.path.join(HERE, "workers.py"), json.dumps(job)]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"error: benchmark job failed: {job}\n{r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def machine(a) -> dict:
    import numpy as np
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = "unknown"
    try:
        blas_cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas_cfg.get('name')} {blas_cfg.get('version')}"
    except Exception:  # older numpy: no mode="dicts"
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "blas": blas}
    if a.torch:  # asked in a child: importing torch here would inflate every child's RSS
        info.update(child({"kind": "versions"}, a.torch))
    return info


def fmt_ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def num(x) -> str:
    return f"{x:,.0f}" if x is not None else "-"


def bench(a) -> list[dict]:
    impls = ["charrnn", "torch"] if a.torch else ["charrnn"]
    if not a.torch:
        print("PyTorch is absent (or --no-torch): charrnn figures alone.", file=sys.stderr)
    rows = []
    for cell in a.cells:
        for H in a.hidden:
            base = {"cell": cell, "hidden": H, "layers": a.layers, "batch": a.batch, "seq": a.seq, "lr": 2e-3,
                    "seed": 0, "corpus": a.corpus, "warmup": a.warmup,
                    "steps": a.steps or DEFAULT_STEPS.get(H, max(4, 30 * 128 * 128 // (H * H))),
                    "chars": a.sample_chars, "warmup_chars": 200, "min_seconds": a.min_seconds,
                    "kernels": a.kernels}
            got = {(i, k): [] for i in impls for k in ("train", "sample")}
            rss = {i: [] for i in impls}
            for r in range(a.rounds):
                for kind in ([a.only] if a.only else ["train", "sample"]):
                    for impl in (impls if r % 2 == 0 else impls[::-1]):  # alternate who goes first
                        res = child(dict(base, impl=impl, kind=kind), a.torch if impl == "torch" else None)
                        got[impl, kind].append(res["chars_per_s"])
                        a.kernels_ran = res.get("kernels", a.kernels_ran) if impl == "charrnn" else a.kernels_ran
                        if kind == "train" or a.only == "sample":  # (peak RSS: of training)
                            rss[impl].append(res["rss_mb"])
                        print(f"  {cell} {H} round {r + 1} {impl:7s} {kind:6s} {res['chars_per_s']:10.0f} chars/s "
                              f"rss {res['rss_mb']:.0f} MB", file=sys.stderr)
            row = {"cell": cell, "hidden": H}
            for impl in impls:
                row[f"{impl}_train"] = statistics.median(got[impl, "train"]) if got[impl, "train"] else None
                row[f"{impl}_sample"] = statistics.median(got[impl, "sample"]) if got[impl, "sample"] else None
                row[f"{impl}_rss"] = max(rss[impl])
            rows.append(row)
    return rows


def table(rows, use_torch: bool) -> str:
    if use_torch:
        head = ("| cell | H | train charrnn | train PyTorch | ratio | sample charrnn | sample PyTorch | ratio "
                "| peak RSS charrnn | peak RSS PyTorch | RSS ratio |")
        lines = [head, "|" + "---|" * 11]
        for r in rows:
            lines.append(
                f"| {r['cell']} | {r['hidden']} | {num(r['charrnn_train'])} | {num(r['torch_train'])} "
                f"| **{fmt_ratio(r['charrnn_train'], r['torch_train'])}** | {num(r['charrnn_sample'])} "
                f"| {num(r['torch_sample'])} | **{fmt_ratio(r['charrnn_sample'], r['torch_sample'])}** "
                f"| {r['charrnn_rss']:.0f} MB | {r['torch_rss']:.0f} MB | {fmt_ratio(r['charrnn_rss'], r['torch_rss'])} |")
    else:
        lines = ["| cell | H | train charrnn | sample charrnn | peak RSS charrnn |", "|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['cell']} | {r['hidden']} | {num(r['charrnn_train'])} | {num(r['charrnn_sample'])} "
                         f"| {r['charrnn_rss']:.0f} MB |")
    return "\n".join(lines)


def race(a) -> str:
    corpus = os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt")
    corpus = a.corpus if a.corpus and "shakespeare" in a.corpus else os.path.normpath(corpus)
    corpus = a.race_corpus or corpus
    job = {"kind": "race", "cell": "lstm", "hidden": 128, "layers": 2, "batch": a.batch, "seq": a.seq,
           "lr": 2e-3, "seed": 0, "corpus": corpus, "seconds": a.race_seconds, "kernels": a.kernels}
    lines = [f"Validation race: 2x128 LSTM, {a.race_seconds:.0f} s of training each on {os.path.basename(corpus)}, "
             "val loss (nats/char) on the last 10 %.", "",
             "| impl | steps | train loss | val loss | peak RSS |", "|---|---|---|---|---|"]
    from charrnn.options import default, default_lr
    # charrnn as `charrnn train` runs: its default initialisation (ModelConfig's), learning rate and decay
    defaults = {"threads": "auto", "lr": default_lr("lstm"), "lr_decay": default("lr_decay"),
                "lr_decay_every": default("lr_decay_every"), "lr_decay_unit": default("lr_decay_unit")}
    old = {"forget_bias": 1.0, "bias_init": "zero", "init_scale": 1.0, "lr": 2e-3, "lr_decay": 1.0}  # before 2026-11-29
    entrants = [("charrnn (defaults)", "charrnn", defaults)]
    if not a.race_without_earlier and any(defaults.get(k, default(k)) != v for k, v in old.items()):
        entrants.append(("charrnn, the earlier defaults (--forget-bias 1 --bias-init zero --lr 2e-3, no decay)",
                         "charrnn", dict(defaults, **old)))
    entrants += [("PyTorch", "torch", {})] if a.torch else []
    for name, impl, extra in entrants:
        print(f"  race: {name} training {a.race_seconds:.0f} s ...", file=sys.stderr)
        r = child(dict(job, impl=impl, **extra), a.torch if impl == "torch" else None)
        lines.append(f"| {name} | {r['steps']} | {r['train_loss']:.4f} | {r['val_loss']:.4f} | {r['rss_mb']:.0f} MB |")
    return "\n".join(lines)


def best_race(a) -> str:
    """Issue 26's race: what each user holds after the same wall-clock budget. charrnn is the
    `charrnn train` command with its defaults (its validation every 500 steps picks best.npz); the
    peer scores the validation split every 30 s of its budget and keeps the best. Both score the
    last 10 % of the text with 50 streams, state carried across chunks. Alternating, medians."""
    import tempfile
    corpus = a.race_corpus or a.corpus
    peer = os.path.normpath(os.path.join(ROOT, "..", "shared", "bench", "torch_peer.py"))
    if not a.torch or not os.path.exists(peer):
        raise SystemExit("error: --best-race needs PyTorch (--torch-python) and ../shared/bench/torch_peer.py")
    secs = a.race_seconds
    rows = {"charrnn": [], "PyTorch": []}
    for rnd in range(a.rounds):
        for side in (("charrnn", "PyTorch") if rnd % 2 == 0 else ("PyTorch", "charrnn")):
            print(f"  best race round {rnd + 1}: {side} training {secs:.0f} s ...", file=sys.stderr)
            if side == "charrnn":
                with tempfile.TemporaryDirectory() as out:
                    cmd = [sys.executable, "-m", "charrnn", "train", corpus, "--time", f"{secs:g}s", "--out", out, "--quiet"]
                    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
                    if r.returncode != 0:
                        raise SystemExit(f"error: {' '.join(cmd)} failed:\n{r.stderr.strip()[-2000:]}")
                    recs = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"), encoding="utf-8")]
                evals = [x for x in recs if x.get("val_loss") is not None]
                rows[side].append({"best": min(x["val_loss"] for x in evals), "last": evals[-1]["val_loss"],
                                   "steps": evals[-1]["step"], "evals": len(evals)})
            else:
                cmd = [a.torch, peer, corpus, "--seconds", f"{secs:g}", "--best-every", "30", "--batch", str(a.batch),
                       "--seq", str(a.seq)]
                r = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if r.returncode != 0:
                    raise SystemExit(f"error: {' '.join(cmd)} failed:\n{r.stderr.strip()[-2000:]}")
                j = json.loads(r.stdout.strip().splitlines()[-1])
                rows[side].append({"best": j["best_val_loss"], "last": j["val_loss"], "steps": j["steps"],
                                   "evals": int(secs // 30) + 1})
            print(f"    {side}: best val {rows[side][-1]['best']:.4f}", file=sys.stderr)
    lines = [f"Best-held race: {secs:.0f} s of training each on {os.path.basename(corpus)}, validation loss "
             f"(nats/char, the last 10 %) of the best weights each holds; {a.rounds} alternating round(s).", "",
             "| impl | command | best val loss per round | median | last weights, median | steps, median |",
             "|---|---|---|---|---|---|",
             ]
    how = {"charrnn": f"`charrnn train {os.path.basename(corpus)} --time {secs:g}s` (best.npz)",
           "PyTorch": f"`torch_peer.py --seconds {secs:g} --best-every 30 --batch {a.batch}` (best_val_loss)"}
    med = {}
    for side, rs in rows.items():
        med[side] = statistics.median(r["best"] for r in rs)
        per_round = " ".join(f"{r['best']:.4f}" for r in rs)
        lines.append(f"| {side} | {how[side]} | {per_round} "
                     f"| **{med[side]:.4f}** | {statistics.median(r['last'] for r in rs):.4f} "
                     f"| {statistics.median(r['steps'] for r in rs):,.0f} |")
    lines += ["", f"charrnn - PyTorch, medians: {med['charrnn'] - med['PyTorch']:+.4f} nats/char "
                  f"({'charrnn ahead' if med['charrnn'] < med['PyTorch'] else 'PyTorch ahead'})."]
    return "\n".join(lines)


class Hog:
    """A busy loop in a child process, pinned to the last core where the OS allows: one core's load."""

    def __enter__(self):
        self.p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            os.sched_setaffinity(self.p.pid, {max(os.sched_getaffinity(0))})
        except (AttributeError, OSError):
            pass
        return self

    def __exit__(self, *exc):
        self.p.kill()
        self.p.wait()


def threads_race(a) -> str:
    """Training chars/s at 1 thread, all cores, and auto; quiet and with a hog; alternating, medians."""
    n = os.cpu_count() or 1
    settings = [1, n, "auto"] if n > 1 else [1, "auto"]
    cell = a.cells[0] if a.cells else "lstm"
    job = {"impl": "charrnn", "kind": "train", "cell": cell, "hidden": a.hidden[0], "layers": a.layers,
           "batch": a.batch, "seq": a.seq, "lr": 2e-3, "seed": 0, "corpus": a.corpus, "warmup": a.warmup,
           "steps": 5, "min_seconds": a.threads_seconds, "kernels": a.kernels}
    rows = []
    for load in ("quiet", "hog"):
        got, notes = {s: [] for s in settings}, {}
        loadavg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        for r in range(a.rounds):
            order = settings if r % 2 == 0 else settings[::-1]
            for setting in order:
                if load == "hog":
                    with Hog():
                        res = child(dict(job, threads=setting))
                else:
                    res = child(dict(job, threads=setting))
                got[setting].append(res["chars_per_s"])
                if setting == "auto":
                    notes.setdefault("auto", []).append("/".join(map(str, res.get("auto_decisions", []))))
                print(f"  threads {load} round {r + 1} {str(setting):5s} {res['chars_per_s']:10.0f} chars/s"
                      + (f"  ({res.get('auto')})" if setting == "auto" else ""), file=sys.stderr)
        med = {s: statistics.median(v) for s, v in got.items()}
        best = max(med[s] for s in settings if s != "auto")
        rows.append(f"| {load} (load {loadavg:.1f}) | " + " | ".join(f"{med[s]:,.0f}" for s in settings)
                    + f" | **{med['auto'] / best:.2f}x** | {'; '.join(notes.get('auto', []))} |")
    head = ("| machine | " + " | ".join(f"{s} thread{'s' if s not in (1, 'auto') else ''}" if s != "auto"
                                         else "auto" for s in settings)
            + " | auto / best fixed | auto's choices (per probe, per round) |")
    return (f"Threads race: {a.layers}x{a.hidden[0]} {cell} training, batch {a.batch}, seq {a.seq}, chars/s, "
            f"median of {a.rounds} alternating round(s) of {a.threads_seconds:g} s each; `hog` = one busy "
            f"process pinned to one core. auto runs as `charrnn train --threads auto` does (its probes "
            f"inside the timed window).\n\n" + "\n".join([head, "|" + "---|" * (len(settings) + 3)] + rows))


def main(argv=None) -> int:
    a = parse_args(argv)
    m = machine(a)
    started = time.strftime("%Y-%m-%d %H:%M")
    desc = (f"{started}; {m['cpu']}, {m['cores']} cores; Python {m['python']}, NumPy {m['numpy']} ({m['blas']})"
            + (f", PyTorch {m['torch']} ({m['torch_threads']} threads)" if "torch" in m else ", PyTorch absent"))
    print(f"machine: {desc}", file=sys.stderr)
    if a.best_race:
        text = best_race(a)
    elif a.val_race:
        text = race(a)
    elif a.threads_race:
        text = threads_race(a)
    else:
        print(f"corpus: {a.corpus or 'synthetic'}; {a.layers} layers, batch {a.batch}, seq {a.seq}; "
              f"chars/s, median of {a.rounds} alternating round(s)", file=sys.stderr)
        rows = bench(a)
        text = table(rows, use_torch=bool(a.torch))
        text += f"\n\ncharrnn kernels: {a.kernels_ran or a.kernels} (--kernels {a.kernels})"
    print(text)
    if a.out:
        write_out(a.out, "best-race" if a.best_race else "race" if a.val_race else "threads" if a.threads_race else "bench", f"Command: `{' '.join([os.path.relpath(sys.executable), 'benchmarks/bench.py'] + sys.argv[1:])}`\n\n"
                         f"Machine: {desc}\n\n{text}\n")
    return 0


def write_out(path: str, tag: str, block: str) -> None:
    """Write `block` to path, or between the <!-- TAG:begin/end --> markers if the file has them."""
    begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    if begin in old and end in old:
        new = old[:old.index(begin) + len(begin)] + "\n" + block + old[old.index(end):]
    else:
        new = f"{begin}\n{block}{end}\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
