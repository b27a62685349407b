"""Model and training settings: frozen dataclasses, validated on creation.

A bad value raises `UsageError` naming the CLI option, so the CLI can reject it before any
work. The checkpoint stores both configs as JSON (`asdict`) and rebuilds them with `from_dict`.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields

from charrnn.errors import UsageError

CELLS = ("lstm", "gru", "rnn")
OPTIMIZERS = ("adam", "rmsprop", "adagrad", "sgd")
DTYPES = ("float32", "float64")
DECAY_UNITS = ("step", "epoch")
BIAS_INITS = ("zero", "uniform")

# Upper bounds that catch typos (hidden 1000000) before they eat the machine's memory.
MAX_HIDDEN = 8192
MAX_LAYERS = 16
MAX_BATCH = 8192
MAX_SEQ_LEN = 100_000
MAX_EPOCHS = 1_000_000


def _check(ok: bool, option: str, value, want: str) -> None:
    if not ok:
        raise UsageError(f"invalid value for {option}: {value!r} ({want})")


def _from_dict(cls, d: dict):
    if not isinstance(d, dict):
        raise TypeError(f"{cls.__name__} settings must be a mapping, not {type(d).__name__}")
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class ModelConfig:
    """What the network is: enough, with the weights, to run it."""

    cell: str = "lstm"  # lstm | gru | rnn
    vocab_size: int = 65  # V: characters in the vocabulary (input and output size)
    hidden: int = 128  # H: units per layer
    layers: int = 2  # stacked layers of the same cell
    dropout: float = 0.0  # inverted dropout between layers (and before the output), training only
    dtype: str = "float32"  # float32 (fast) or float64 (gradient checks)
    forget_bias: float = 1.0  # LSTM: initial bias of the forget gate (read at initialisation only)
    bias_init: str = "zero"  # zero | uniform (PyTorch's: U(-k, k) + U(-k, k), k = 1/sqrt(H)) (initialisation only)
    init_scale: float = 1.0  # weights ~ U(-s/sqrt(H), s/sqrt(H)) with s = init_scale (initialisation only)

    def __post_init__(self):
        _check(self.cell in CELLS, "--model", self.cell, "choose one of " + ", ".join(CELLS))
        _check(isinstance(self.vocab_size, int) and self.vocab_size >= 1, "vocab_size", self.vocab_size, ">= 1")
        _check(isinstance(self.hidden, int) and 1 <= self.hidden <= MAX_HIDDEN, "--hidden", self.hidden,
               f"a whole number from 1 to {MAX_HIDDEN}")
        _check(isinstance(self.layers, int) and 1 <= self.layers <= MAX_LAYERS, "--layers", self.layers,
               f"a whole number from 1 to {MAX_LAYERS}")
        _check(isinstance(self.dropout, (int, float)) and 0.0 <= self.dropout < 1.0, "--dropout", self.dropout,
               "a fraction in [0, 1)")
        _check(self.dtype in DTYPES, "--dtype", self.dtype, "choose float32 or float64")
        _check(isinstance(self.forget_bias, (int, float)) and -10.0 <= self.forget_bias <= 10.0, "--forget-bias",
               self.forget_bias, "a number from -10 to 10")
        _check(self.bias_init in BIAS_INITS, "--bias-init", self.bias_init, "choose zero or uniform")
        _check(isinstance(self.init_scale, (int, float)) and not isinstance(self.init_scale, bool)
               and 0 < self.init_scale <= 10, "--init-scale", self.init_scale, "a number > 0, at most 10")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return _from_dict(cls, d)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: data layout, optimizer, stopping rules, output."""

    seq_len: int = 50  # T: characters per chunk (truncated-BPTT length)
    batch: int = 50  # B: parallel streams
    optimizer: str = "adam"  # adam | rmsprop | adagrad | sgd
    lr: float = 2e-3  # learning rate
    momentum: float = 0.9  # SGD momentum
    lr_decay: float = 1.0  # multiply lr by this every lr_decay_every units (1.0 = constant)
    lr_decay_every: int = 0  # 0 = never
    lr_decay_unit: str = "epoch"  # step | epoch
    clip: float = 5.0  # clip gradients to this global L2 norm (0 = off)
    clip_value: float = 0.0  # also clip each gradient element to [-v, v] (0 = off)
    val_frac: float = 0.1  # last fraction of the text held out for validation
    eval_every: int = 500  # steps between validation passes (and checkpoints)
    max_steps: int | None = None  # total steps of the run, including those before a resume
    epochs: float | None = None  # stop after this many passes over the training split
    time_limit: float | None = None  # wall-clock seconds for this invocation
    patience: int | None = None  # stop after this many evaluations without improvement
    seed: int = 0
    sample_len: int = 200  # length of the sample shown in the log at each evaluation

    def __post_init__(self):
        def whole(v, lo, hi=None):
            return isinstance(v, int) and not isinstance(v, bool) and v >= lo and (hi is None or v <= hi)

        def real(v):
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        _check(whole(self.seq_len, 1, MAX_SEQ_LEN), "--seq-len", self.seq_len, f"a whole number from 1 to {MAX_SEQ_LEN}")
        _check(whole(self.batch, 1, MAX_BATCH), "--batch", self.batch, f"a whole number from 1 to {MAX_BATCH}")
        _check(self.optimizer in OPTIMIZERS, "--optimizer", self.optimizer, "choose one of " + ", ".join(OPTIMIZERS))
        _check(real(self.lr) and 0 < self.lr <= 10, "--lr", self.lr, "a positive number up to 10, typically 1e-4 to 1e-2")
        _check(real(self.momentum) and 0 <= self.momentum < 1, "--momentum", self.momentum, "a fraction in [0, 1)")
        _check(real(self.lr_decay) and 0 < self.lr_decay <= 1, "--lr-decay", self.lr_decay, "a factor in (0, 1]")
        _check(whole(self.lr_decay_every, 0), "--lr-decay-every", self.lr_decay_every, "a whole number >= 0")
        _check(self.lr_decay_unit in DECAY_UNITS, "--lr-decay-unit", self.lr_decay_unit, "choose step or epoch")
        _check(real(self.clip) and 0 <= self.clip <= 1e6, "--clip", self.clip, "a number >= 0 (0 turns clipping off)")
        _check(real(self.clip_value) and 0 <= self.clip_value <= 1e6, "--clip-value", self.clip_value,
               "a number >= 0 (0 turns it off)")
        _check(real(self.val_frac) and 0 < self.val_frac < 1, "--val-frac", self.val_frac, "a fraction in (0, 1)")
        _check(whole(self.eval_every, 1), "--eval-every", self.eval_every, "a whole number >= 1")
        _check(self.max_steps is None or whole(self.max_steps, 1), "--max-steps", self.max_steps, "a whole number >= 1")
        _check(self.epochs is None or (real(self.epochs) and 0 < self.epochs <= MAX_EPOCHS), "--epochs", self.epochs,
               f"a number > 0, at most {MAX_EPOCHS:,}")
        _check(self.time_limit is None or (real(self.time_limit) and self.time_limit > 0), "--time",
               self.time_limit, "a duration > 0 such as 90s, 10m or 2h")
        _check(self.patience is None or whole(self.patience, 1), "--patience", self.patience, "a whole number >= 1")
        _check(whole(self.seed, 0), "--seed", self.seed, "a whole number >= 0")
        _check(whole(self.sample_len, 0), "--sample-len", self.sample_len, "a whole number >= 0")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return _from_dict(cls, d)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|m|min|h|hr|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}


def parse_duration(text: str, option: str = "--time") -> float:
    """'90s' -> 90.0, '10m' -> 600.0, '2h' -> 7200.0, '45' -> 45.0 (seconds)."""
    m = _DURATION.match(str(text))
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"invalid value for {option}: {text!r} (a duration > 0 such as 90s, 10m, 2h or 1.5h)")
    return float(m.group(1)) * _UNIT_SECONDS[(m.group(2) or "s").lower()]
