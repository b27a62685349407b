"""A training run's state as the engine sees it (every task's run extends `RunState`), and the
pieces of setting one up that every task shares: the resume checks and the restore of the
training progress."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charrnn.config import ModelConfig, TrainConfig
from charrnn.engine import schema
from charrnn.errors import CheckpointError, UsageError
from charrnn.nn.optim import Optimizer
from charrnn.options import OPTIONS, key_of_field

# Options that fix the data layout and the model: a resumed run must keep them.
LAYOUT_FIELDS = ("batch", "seq_len", "val_frac", "optimizer")  # (the optimizer: its saved state fits no other)
MODEL_FIELDS = ("cell", "hidden", "layers", "dropout", "dtype", "tokens")  # (not forget_bias: it only shapes new weights)


@dataclass(kw_only=True)
class RunState:
    """What the engine reads and writes on every run; a task's run adds its data and model state."""
    task: str
    cfg: ModelConfig
    tcfg: TrainConfig
    params: dict
    optimizer: Optimizer
    rng: np.random.Generator
    step: int = 0
    epoch: int = 0
    chunk: int = 0  # batch position within the epoch
    lr: float = 0.0
    val_loss: float | None = None
    best_val_loss: float | None = None
    bad_evals: int = 0
    saved_step: int | None = None
    history: list = field(default_factory=list)
    eval_every: int = 500  # steps between evaluations (validation.eval_period)
    base_bytes: int = 0  # resident memory once set up (data, parameters): what est. memory adds to


def open_line_file(task: str, path, read, count_key: str, train_opts: dict, model_opts: dict, task_opts: dict | None,
                   init_from, lm_only: dict, hint: str = "leave {flag} out"):
    """What a task on a file of one example per line (seq2seq, classify, tag) does first: refuse the
    options it has no use for (`lm_only`: option key -> flag), read the file with `read(path,
    skip_bad_lines)` -> (rows, skipped), and describe it for the checkpoint's "corpus".
    Returns (train_opts, task_opts, rows, corpus, warnings); task_opts without "task" and
    "skip_bad_lines", train_opts with init_from (so that it is refused like the others)."""
    task_opts = {k: v for k, v in (task_opts or {}).items() if k != "task"}
    skip_bad_lines = bool(task_opts.pop("skip_bad_lines", False))
    if init_from is not None:
        train_opts = {**train_opts, "init_from": init_from}
    for key, flag in lm_only.items():
        if key in train_opts or key in model_opts:
            raise UsageError(f"{flag} does not apply to --task {task}", hint=hint.format(flag=flag))
    rows, skipped = read(path, skip_bad_lines)
    warnings = [f"skipped {skipped:,} bad line(s) of {path}"] if skipped else []
    corpus = {"path": str(Path(path).resolve()), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
              count_key: len(rows), "skipped_lines": skipped}
    return train_opts, task_opts, rows, corpus, warnings


def check_same(explicit: dict, saved: dict, names, path) -> None:
    """A resumed run keeps the fields `names` of its checkpoint: an explicit different value is an error."""
    for key in names:
        if key in explicit and explicit[key] != saved.get(key):
            option = OPTIONS[key_of_field(key)].flag
            raise UsageError(f"{option} {explicit[key]} does not match {saved.get(key)} in the checkpoint {path}",
                             hint=f"drop {option} (it is read from the checkpoint) or start a new run with --out")


def restore_progress(run: RunState, saved, hint: str = "use --init-from to start a new run from its weights",
                     extra: tuple = ()) -> list[str]:
    """The training state of a saved run, for a resumed run to continue exactly where it stopped:
    optimizer moments, random generator, counters, best and last losses, history; `extra`
    (attribute, metadata key) pairs for a task's own (seq2seq: exact match). Returns warnings."""
    m = saved.meta
    warnings = schema.check_resume(saved.path, saved.arrays, m)
    try:
        run.optimizer.load_state_dict({k[4:]: v for k, v in saved.arrays.items() if k.startswith("opt/")})
        run.rng.bit_generator.state = m["rng"]
        run.step, run.epoch, run.chunk = int(m["step"]), int(m["epoch"]), int(m["chunk"])
        run.best_val_loss, run.val_loss = m.get("best_val_loss"), m.get("val_loss")
        run.bad_evals, run.history = int(m.get("bad_evals", 0)), list(m.get("history", []))
        for attr, key in extra:
            setattr(run, attr, m.get(key))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{saved.path} cannot be resumed: its training state is incomplete ({e})",
                              hint=hint) from None
    run.saved_step = run.step
    return warnings


def resident_bytes() -> int:
    """Bytes this process holds now (the interpreter, the corpus, the model). Linux: /proc;
    elsewhere the peak so far (resource), or 0 where neither can be read."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere
