"""Model and training settings: frozen dataclasses, validated on creation.

Defaults and ranges are those of the option table (`charrnn.options`): each field is checked
there on creation, and a bad value raises `UsageError` naming the CLI option. The checkpoint
stores both configs as JSON (`asdict`) and rebuilds them with `from_dict`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from charrnn.errors import UsageError
from charrnn.options import OPTIONS, check, default, key_of_field


def _check_fields(cfg) -> None:
    """Each field against its option in the table (`options.check`): one message style."""
    for f in fields(cfg):
        key = key_of_field(f.name)
        if key in OPTIONS:
            check(key, getattr(cfg, f.name))


def _from_dict(cls, d: dict):
    if not isinstance(d, dict):
        raise TypeError(f"{cls.__name__} settings must be a mapping, not {type(d).__name__}")
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class ModelConfig:
    """What the network is: enough, with the weights, to run it."""

    cell: str = default("model")  # lstm | gru | rnn
    vocab_size: int = 65  # V: characters in the vocabulary (input and output size)
    hidden: int = default("hidden")  # H: units per layer
    layers: int = default("layers")  # stacked layers of the same cell
    dropout: float = default("dropout")  # inverted dropout between layers (and before the output), training only
    dtype: str = default("dtype")  # float32 (fast) or float64 (gradient checks)
    forget_bias: float = default("forget_bias")  # LSTM: initial bias of the forget gate (read at initialisation only)
    bias_init: str = default("bias_init")  # zero | uniform (PyTorch's U(-k, k) + U(-k, k), k = 1/sqrt(H)) (init only)
    init_scale: float = default("init_scale")  # weights ~ U(-s/sqrt(H), s/sqrt(H)), s = init_scale (init only)
    tokens: str = default("tokens")  # chars | jamo: what one step reads (charrnn.data.tokens); old checkpoints: chars

    def __post_init__(self):
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) or self.vocab_size < 1:
            raise UsageError(f"invalid value for vocab_size: {self.vocab_size!r} (want a whole number >= 1)")
        _check_fields(self)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return _from_dict(cls, d)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: data layout, optimizer, stopping rules, output."""

    seq_len: int = default("seq_len")  # T: characters per chunk (truncated-BPTT length)
    batch: int = default("batch")  # B: parallel streams
    optimizer: str = default("optimizer")  # adam | rmsprop | adagrad | sgd
    lr: float = default("lr")  # learning rate
    momentum: float = default("momentum")  # SGD momentum
    lr_decay: float = default("lr_decay")  # multiply lr by this every lr_decay_every units (1.0 = constant)
    lr_decay_every: int = default("lr_decay_every")  # 0 = never
    lr_decay_unit: str = default("lr_decay_unit")  # step | epoch
    clip: float = default("clip")  # clip gradients to this global L2 norm (0 = off)
    clip_value: float = default("clip_value")  # also clip each gradient element to [-v, v] (0 = off)
    val_frac: float = default("val_frac")  # last fraction of the text held out for validation
    eval_every: int | None = default("eval_every")  # steps between validation passes (None: sized to the run)
    max_steps: int | None = default("max_steps")  # total steps of the run, including those before a resume
    epochs: float | None = default("epochs")  # stop after this many passes over the training split
    time_limit: float | None = default("time")  # wall-clock seconds for this invocation
    patience: int | None = default("patience")  # stop after this many evaluations without improvement
    seed: int = default("seed")
    sample_len: int = default("sample_len")  # length of the sample shown in the log at each evaluation

    def __post_init__(self):
        _check_fields(self)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return _from_dict(cls, d)


# The option keys (charrnn.options) of each config's fields: what `charrnn train` passes on.
MODEL_KEYS = tuple(key_of_field(f.name) for f in fields(ModelConfig) if f.name != "vocab_size")
TRAIN_KEYS = tuple(key_of_field(f.name) for f in fields(TrainConfig))
