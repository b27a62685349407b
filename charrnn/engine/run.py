"""A training run's state as the engine sees it (every task's run extends `RunState`), and the
pieces of setting one up that every task shares: the resume checks and the restore of the
training progress."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

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
