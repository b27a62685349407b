"""`charrnn train --live FILE.html`: watch the units form while the model learns.

A `LiveReporter` wraps the training's reporter (engine.loop.Reporter): every call goes on to the
wrapped one, and after each evaluation it also

1. measures, on a fixed slice of the validation text (its first LIVE_CHARS characters, the same
   at every evaluation), each probe's best unit and its |r| (`analysis.analyse`, the code of
   inspect-cells, on the parameters of this step), with that unit's activations for the heat map;
2. appends the probes' record to PROBES_FILE in the run directory (one JSON line per evaluation:
   step, elapsed, [{probe, unit, r}]), which `charrnn compare --html` reads back;
3. rewrites the page atomically (write a temporary file, then rename: a browser reloading it
   never sees half a page) with the learning curves (`run.history`, the records of
   metrics.jsonl), the latest samples, each probe's best |r| over the steps and the heat map of
   its current best unit. While training runs the page reloads itself every RELOAD seconds (a
   meta refresh: works from file://); the last write, when training ends, stops the reloading.

The training loop itself is not touched: the one hook is `Reporter.evaluated`. The time this
costs is counted (`seconds`) and said at the end; benchmarks/bench_live.py measures it against
training time at the default evaluation cadence.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from charrnn.engine.loop import Reporter
from charrnn.interpret.files import write_atomic

LIVE_CHARS = 2000  # characters of the validation text the probes are measured on
PROBES_FILE = "probes.jsonl"
SAMPLES = 3  # latest samples shown
RELOAD = 5  # seconds between reloads of the page while training runs


def read_probes(run_dir) -> list[dict]:
    """The probe records of a run directory (PROBES_FILE), one per step (the last one written wins,
    as after a resume), in step order; [] when there are none. Damaged lines are skipped."""
    path = Path(run_dir) / PROBES_FILE
    if not path.is_file():
        return []
    by_step = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
            by_step[int(rec["step"])] = rec
        except (ValueError, KeyError, TypeError):
            continue
    return [by_step[s] for s in sorted(by_step)]


def snapshot(params, cfg, vocab, text: str, names=None) -> tuple[list[dict], dict]:
    """(probe rows [{probe, unit, r}] strongest first, heat {probe: {unit, r, values, centre, spread,
    start, stop}}) of the model `params` on `text`: each probe's best state unit."""
    from charrnn.interpret import probes as probes_mod
    from charrnn.interpret.analysis import analyse
    from charrnn.interpret.page import EXCERPT, _gallery_window
    from charrnn.interpret.scale import robust_scale

    names = list(names or probes_mod.BUILTIN)
    a = analyse(SimpleNamespace(params=params, cfg=cfg, vocab=vocab), text, names, top=1)
    rows, heat = [], {}
    for row in a.top:
        r = round(float(row["r"]), 4)
        rows.append({"probe": row["probe"], "unit": row["label"], "r": r})
        v = a.values(row["unit"]).astype(np.float64)
        centre, spread = robust_scale(v)
        start, stop = _gallery_window(a.signals[row["probe"]], EXCERPT, text)
        heat[row["probe"]] = {"unit": row["label"], "r": r, "centre": centre, "spread": spread, "start": start,
                              "stop": stop, "values": [round(float(x), 3) for x in v[start:stop]]}
    return rows, heat


class LiveReporter(Reporter):
    """Passes every call on to `inner`; after each evaluation, measures the probes and rewrites
    the page `path` (see the module docstring). `run_dir`: where PROBES_FILE goes."""

    def __init__(self, inner: Reporter, path, run_dir, chars: int = LIVE_CHARS, names=None):
        self.inner, self.path, self.run_dir = inner, Path(path), Path(run_dir)
        self.chars, self.names = chars, names
        self.text = None
        self.probes, self.heat, self.samples = [], {}, []
        self.seconds, self.updates, self.started = 0.0, 0, time.monotonic()
        self.costs = []  # seconds of each evaluation's update (probes, probes.jsonl, page)
        self.run = None

    # ---- passed on
    def summary(self, run, warnings):
        self.inner.summary(run, warnings)

    def step(self, run, record):
        self.inner.step(run, record)

    def validating(self, run, done, total):
        self.inner.validating(run, done, total)

    def message(self, text):
        self.inner.message(text)

    # ---- the page
    def start(self, run):
        self.inner.start(run)
        t0 = time.perf_counter()
        self.run = run
        # a resumed run's curves up to its checkpoint (none for a fresh run): the file keeps only those
        self.probes = [p for p in read_probes(self.run_dir) if p["step"] <= run.step]
        write_atomic(self.run_dir / PROBES_FILE, lambda f: f.write("".join(json.dumps(p) + "\n" for p in self.probes)
                                                                 .encode("utf-8")), "--live")
        n = min(self.chars, len(run.validation.streams.ids))
        ids = run.remap(np.asarray(run.validation.streams.ids[:n], dtype=np.intp))
        self.text = run.vocab.decode(ids)
        self._write(run, done=False)
        self.seconds += time.perf_counter() - t0

    def evaluated(self, run, record, log_text):
        self.inner.evaluated(run, record, log_text)
        t0 = time.perf_counter()
        rows, self.heat = snapshot(run.params, run.cfg, run.vocab, self.text, self.names)
        rec = {"step": run.step, "elapsed": record.get("elapsed"), "probes": rows}
        self.probes = [p for p in self.probes if p["step"] != run.step] + [rec]
        with open(self.run_dir / PROBES_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
        if isinstance(log_text, str):
            self.samples = (self.samples + [{"step": run.step, "text": log_text}])[-SAMPLES:]
        self._write(run, done=False)
        self.updates += 1
        self.costs.append(time.perf_counter() - t0)
        self.seconds += self.costs[-1]

    def close(self):
        if self.run is not None:
            t0 = time.perf_counter()
            self._write(self.run, done=True)  # the final page: no more reloading
            self.seconds += time.perf_counter() - t0
            total = time.monotonic() - self.started
            self.inner.message(f"live page {self.path}: {self.updates} update(s), {self.seconds:.1f} s "
                               f"({100 * self.seconds / max(total, 1e-9):.1f} % of the run)")
        self.inner.close()

    def _write(self, run, done: bool) -> None:
        from charrnn.interpret.live_page import live_page

        data = {"done": done, "reload": RELOAD, "run_dir": str(self.run_dir), "step": run.step,
                "model": {"cell": run.cfg.cell, "layers": run.cfg.layers, "hidden": run.cfg.hidden},
                "history": [_clean(r) for r in run.history], "probes": self.probes, "heat": self.heat,
                "text": self.text, "samples": self.samples, "chars": len(self.text or ""),
                "updated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
        page = live_page(data).encode("utf-8")
        write_atomic(self.path, lambda f: f.write(page), "--live")


def _clean(record: dict) -> dict:
    """A metrics record with non-finite numbers as None (JSON has no NaN)."""
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in record.items()}
