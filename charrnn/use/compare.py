"""`charrnn compare`: training runs side by side, as data (the CLI and the HTML page render it).

A run is named by its output directory (its latest.npz, else best.npz, and its metrics.jsonl)
or by a checkpoint file (its metadata, and the metrics.jsonl beside it up to the checkpoint's
step). From each run:

    summary   cell, layers x hidden, parameters, steps, epochs, training time, chars/s,
              best and last validation loss (nats/char; bits/char = nats / ln 2); for a seq2seq
              run also the best and last exact match
    options   every model and training option, by its CLI name (--hidden, --lr, ...)
    curve     one point per evaluation: step, epochs, elapsed seconds, train and val loss (seq2seq:
              also exact match and character error rate)
    samples   the text sampled at each evaluation (when the run logged it)

Elapsed time is wall-clock time since the run started, summed over resumed invocations (each
invocation's clock starts again at 0; the time between its last record and its end is not seen).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from charrnn.engine.task import get_task
from charrnn.interpret.live import read_probes
from charrnn.errors import CheckpointError, UsageError
from charrnn.engine.trained import load_trained

LN2 = math.log(2)
# Option names as the user types them; fields not listed are shown as --field-name.
_OPTION_NAMES = {"cell": "--model", "time_limit": "--time"}
_NOT_OPTIONS = {"vocab_size"}  # set by the corpus, not by the user


@dataclass
class RunData:
    name: str  # short label: the directory name, or directory/file for a checkpoint
    checkpoint: str  # the checkpoint read
    cell: str
    layers: int
    hidden: int
    parameters: int
    steps: int
    epochs: float | None
    train_seconds: float | None  # wall-clock time of training, validation included
    chars_per_s: float | None  # median training throughput over the logged records
    best_val: float | None  # nats per original character (jamo runs: converted from their per-token loss)
    last_val: float | None
    options: dict  # "--hidden" -> 128, ...
    corpus: str | None
    curve: list = field(default_factory=list)  # [{step, epochs, elapsed, train_loss, val_loss, ...}]
    samples: list = field(default_factory=list)  # [{step, text}]
    task: str = "lm"
    best_exact: float | None = None  # seq2seq: exact match of best.npz
    last_exact: float | None = None
    probes: list = field(default_factory=list)  # [{step, elapsed, probes: [{probe, unit, r}]}] (train --live)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        for k in ("best_val", "last_val"):
            d[k.replace("val", "val_bpc")] = None if d[k] is None else d[k] / LN2
        return d


@dataclass
class Comparison:
    runs: list[RunData]
    differing: list[str]  # option names whose values differ between the runs
    notes: list[str] = field(default_factory=list)  # what the user should know (runs named twice, damaged logs)

    def to_dict(self) -> dict:
        return {"runs": [r.to_dict() for r in self.runs], "differing_options": self.differing, "notes": self.notes}


def _option_name(field_name: str) -> str:
    return _OPTION_NAMES.get(field_name, "--" + field_name.replace("_", "-"))


def _read_metrics(path: Path, up_to_step: int | None, damaged: list | None = None) -> list[dict]:
    """The records of metrics.jsonl, one per step (a later record of the same step, such as the
    whole-split figures at the end, completes the earlier one). A damaged line is skipped, and its
    line number appended to `damaged` (an unreadable file: line 0)."""
    damaged = [] if damaged is None else damaged
    by_step: dict[int, dict] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        damaged.append(0)
        return []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            rec = None
        if not isinstance(rec, dict) or not isinstance(rec.get("step"), int):
            damaged.append(number)
            continue
        if up_to_step is not None and rec["step"] > up_to_step:
            continue
        by_step.setdefault(rec["step"], {}).update(rec)
    return [by_step[k] for k in sorted(by_step)]


def _cumulative_elapsed(records: list[dict]) -> list[float | None]:
    """Elapsed seconds since the run began: a clock that goes back marks a resumed invocation."""
    out, offset, last = [], 0.0, None
    for rec in records:
        e = rec.get("elapsed")
        if not isinstance(e, (int, float)):
            out.append(None)
            continue
        if last is not None and e < last:
            offset += last
        last = e
        out.append(offset + e)
    return out


def _pick(path: Path) -> Path:
    """A run directory's checkpoint (latest.npz: the whole run, else best.npz), or the file itself."""
    if path.is_dir():
        for name in ("latest.npz", "best.npz"):
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"{path}/ holds no checkpoint (looked for latest.npz and best.npz)",
                              hint="name a run directory written by `charrnn train --out DIR`, or a .npz file")
    if not path.exists():
        raise UsageError(f"{path} does not exist", hint="name a run directory or a checkpoint file (.npz)")
    return path


def load_run(spec, notes: list | None = None) -> RunData:
    """Everything `compare` shows about one run (see the module docstring); what the user should
    know about its files (a damaged metrics.jsonl) is appended to `notes`."""
    given = Path(spec)
    ckpt = _pick(given)
    trained = load_trained(ckpt, task=None)  # any task
    meta, cfg = trained.meta, trained.cfg
    step = int(meta.get("step") or 0)
    metrics = ckpt.parent / "metrics.jsonl"
    damaged: list[int] = []
    records = _read_metrics(metrics, step, damaged) if metrics.is_file() else []
    if damaged and notes is not None:
        where = "it could not be read" if damaged == [0] else (
            f"{len(damaged)} damaged line(s) skipped (line {', '.join(map(str, damaged[:5]))}"
            f"{', ...' if len(damaged) > 5 else ''})")
        notes.append(f"{metrics}: {where}; the curve may miss evaluations")
    if not records:  # no log beside it: the history the checkpoint carries (no samples)
        records = [r for r in meta.get("history", []) if isinstance(r, dict) and isinstance(r.get("step"), int)]
    elapsed = _cumulative_elapsed(records)
    curve, samples, nan = [], [], 0
    for rec, e in zip(records, elapsed):
        if not isinstance(rec.get("val_loss"), (int, float)) or isinstance(rec.get("val_loss"), bool):
            continue
        if not math.isfinite(rec["val_loss"]):  # a diverged evaluation: a note, not a point
            nan += 1
            continue
        # val_loss in nats per original character for every tokenization (a jamo run logs its
        # per-token loss as val_loss and the per-character one as val_char_loss: the unit compared)
        per_char = rec.get("val_char_loss")
        ratio = per_char / rec["val_loss"] if isinstance(per_char, (int, float)) and rec["val_loss"] else 1.0
        curve.append({"step": rec["step"], "epochs": rec.get("epochs", rec.get("epoch")), "elapsed": e,
                      "train_loss": None if rec.get("train_loss") is None else rec["train_loss"] * ratio,
                      "val_loss": rec["val_loss"] * ratio, "val_token_loss": rec["val_loss"],
                      "val_whole_loss": rec.get("val_whole_char_loss", rec.get("val_whole_loss")),
                      **{k: rec[k] for k in ("val_exact_match", "val_char_error_rate", "val_accuracy", "val_macro_f1")
                         if _number(rec.get(k))}})
        if isinstance(rec.get("sample"), str):
            samples.append({"step": rec["step"], "text": rec["sample"]})
    if nan and notes is not None:
        notes.append(f"{metrics if metrics.is_file() else ckpt}: {nan} evaluation(s) with "
                     "a NaN or infinite val_loss (the run diverged there) are left out of the curve and the "
                     "best and last figures")
    tcfg = trained.train_cfg
    options = {_option_name(k): v for k, v in cfg.to_dict().items() if k not in _NOT_OPTIONS}
    options.update({_option_name(k): v for k, v in tcfg.to_dict().items()})
    options.update({_option_name(k): v for k, v in (meta.get("labelled") or {}).items()})  # classify, tag
    corpus = meta.get("corpus") or {}
    options["corpus"] = corpus.get("path") if isinstance(corpus, dict) else None
    speeds = [r["chars_per_s"] for r in records if isinstance(r.get("chars_per_s"), (int, float))]
    vals = [p["val_loss"] for p in curve]
    best = meta.get("best_val_loss")
    best = min(vals) if vals else (float(best) if _number(best) else None)
    last = vals[-1] if vals else (float(meta["val_loss"]) if _number(meta.get("val_loss")) else None)
    epochs = curve[-1]["epochs"] if curve and step == curve[-1]["step"] else None
    if epochs is None and trained.task == "lm" and isinstance(corpus, dict) and corpus.get("n_chars"):
        train_chars = corpus["n_chars"] * (1 - tcfg.val_frac)
        n_chunks = max(1, int(train_chars - 1) // tcfg.batch // tcfg.seq_len)  # as corpus.Streams counts
        epochs = int(meta.get("epoch") or 0) + int(meta.get("chunk") or 0) / n_chunks
    known = [e for e in elapsed if e is not None]
    name = given.name if given.is_dir() else f"{given.parent.name}/{given.name}" if given.parent.name else given.name
    exact = [p["val_exact_match"] for p in curve if "val_exact_match" in p]
    held = meta.get("best_exact_match")
    best_exact = max(exact) if exact else (float(held) if _number(held) else None)
    return RunData(name=name, checkpoint=str(ckpt), cell=cfg.cell, layers=cfg.layers, hidden=cfg.hidden,
                   parameters=sum(int(v.size) for v in trained.params.values()), steps=step, epochs=epochs,
                   task=trained.task, best_exact=best_exact, last_exact=exact[-1] if exact else None,
                   train_seconds=known[-1] if known else None,
                   chars_per_s=statistics.median(speeds) if speeds else None, best_val=best, last_val=last,
                   options=options, corpus=corpus.get("path") if isinstance(corpus, dict) else None,
                   curve=curve, samples=samples, probes=[p for p in read_probes(ckpt.parent) if p["step"] <= step])


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def differing_options(runs: list[RunData]) -> list[str]:
    """Option names whose values are not the same in every run (in the runs' option order)."""
    if len(runs) < 2:
        return []
    names = list(dict.fromkeys(k for r in runs for k in r.options))
    return [k for k in names if len({json.dumps(r.options.get(k)) for r in runs}) > 1]


def compare(specs) -> Comparison:
    """Load every run (directories or checkpoint files) and find the options that differ."""
    if not specs:
        raise UsageError("nothing to compare", hint="name one or more run directories, e.g. "
                                                    "charrnn compare runs/rnn runs/lstm runs/gru")
    notes: list[str] = []
    runs, by_checkpoint = [], {}
    for spec in specs:
        key = str(_pick(Path(spec)).resolve())
        if key in by_checkpoint:  # the same checkpoint named twice: one row
            notes.append(f"{spec} is the same checkpoint as {by_checkpoint[key]}: shown once")
            continue
        by_checkpoint[key] = spec
        runs.append(load_run(spec, notes))
    seen: dict[str, int] = {}
    for r in runs:  # two runs named alike (a/run, b/run): tell them apart
        seen[r.name] = seen.get(r.name, 0) + 1
    for r in runs:
        if seen[r.name] > 1:
            r.name = str(Path(r.checkpoint).parent)
    return Comparison(runs, differing_options(runs), notes)


def clock(seconds: float) -> str:
    """90 -> '1:30', 4000 -> '1:06:40': wall-clock durations as the table and charts show them."""
    s = int(round(max(0.0, seconds)))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
