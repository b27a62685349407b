"""A trained model as the library sees it: what a checkpoint holds and how to find and read one.

A checkpoint is one `.npz` (see `checkpoint.py` for the file format) with these arrays:

    param/<name>     the model parameters (`model.param_shapes`: l{k}.Wx, l{k}.Wh, l{k}.b, Wy, by)
    opt/<key>        optimizer state (`optim.Optimizer.state_dict`)
    state/l{k}.h     hidden state carried into the next training chunk (B, H)
    state/l{k}.c     cell state of LSTM layers (B, H)

and a JSON metadata entry with: model (ModelConfig), train (TrainConfig), vocab (list of
characters), step, epoch, chunk (position within the epoch), val_loss (of these weights),
best_val_loss, rng (bit-generator state), corpus (path, sha256, n_chars, encoding_errors),
history (one record per evaluation), charrnn_version, created.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charrnn.nn.cells import CELLS
from charrnn.engine import schema
from charrnn.engine.checkpoint import load_checkpoint
from charrnn.config import ModelConfig, TrainConfig
from charrnn.errors import CharRNNError, CheckpointError, CheckpointKindError
from charrnn.data.vocab import Vocab

DEFAULT_DIR = Path("checkpoints")


@dataclass
class Trained:
    path: Path
    cfg: ModelConfig
    params: dict  # name -> array, exactly the shapes of the task's param_shapes(cfg)
    vocab: Vocab
    meta: dict  # the whole JSON metadata
    arrays: dict  # every array of the file (param/, opt/, state/)
    task: str = "lm"  # the task that trained it (metadata "task"; absent in older language models)

    @property
    def train_cfg(self) -> TrainConfig:
        return TrainConfig.from_dict(self.meta.get("train", {}))

    @property
    def tokens(self):
        """seq2seq: the vocabulary and the END, START, PAD ids after it (charrnn.data.pairs.Tokens)."""
        from charrnn.data.pairs import Tokens

        return Tokens(self.vocab)

    def carried_state(self) -> list[tuple] | None:
        """The hidden state saved for the next training chunk, per layer, or None."""
        state = CELLS[self.cfg.cell].state  # ("h",) or ("h", "c")
        names = [[f"state/l{k}.{name}" for name in state] for k in range(self.cfg.layers)]
        if not all(name in self.arrays for layer in names for name in layer):
            return None
        return [tuple(self.arrays[name] for name in layer) for layer in names]


KIND_HINTS = {"lm": "train one with: charrnn train CORPUS.txt",
              "seq2seq": "train one with: charrnn train PAIRS.tsv --task seq2seq"}


def load_trained(path: str | Path, task: str | None = "lm", weights: bool = True) -> Trained:
    """Read and validate a checkpoint of any task (task=None) or of the one named: metadata, the
    name, shape and dtype of every array (schema.py), config, vocabulary and every parameter.
    weights=False: the metadata only, every member's header checked but no array read (params {})."""
    from charrnn.engine.task import get_task
    from charrnn.tasks import TASKS

    path = Path(path)
    arrays, meta = load_checkpoint(path, check=schema.check if weights else schema.check_no_memory, weights=weights)
    kind = meta.get("task", "lm")
    if kind not in TASKS:
        raise CheckpointError(f"{path} holds a model of an unknown task {kind!r}",
                              hint="it was written by a newer charrnn, or the file is damaged")
    plugin = get_task(kind)
    if task is not None and kind != task:
        raise CheckpointKindError(f"{path} holds a {plugin.kind}, not a {get_task(task).kind}",
                                  hint=f"use charrnn {', '.join(plugin.verbs)} with it, or {KIND_HINTS.get(task, '')}")
    cfg, vocab = read_model_meta(path, meta)
    params = read_params(path, arrays, plugin.checkpoint_shapes(cfg, meta), cfg.dtype) if weights else {}
    return Trained(path, cfg, params, vocab, meta, arrays, kind)


def read_model_meta(path, meta: dict) -> tuple[ModelConfig, Vocab]:
    """The model config and vocabulary of a checkpoint's metadata, checked against each other
    (language model and seq2seq alike)."""
    try:
        cfg = ModelConfig.from_dict(meta["model"])
        vocab = Vocab.from_list(meta["vocab"], cfg.tokens)  # (no tokens stored: an older checkpoint, chars)
    except (KeyError, TypeError, ValueError, CharRNNError) as e:
        raise CheckpointError(f"{path} has incomplete or invalid metadata ({e})",
                              hint="the file is damaged or was not written by `charrnn train`") from None
    if vocab.size != cfg.vocab_size:
        raise CheckpointError(f"{path}: vocabulary has {vocab.size} characters but the model expects "
                              f"{cfg.vocab_size}", hint="the file is damaged")
    return cfg, vocab


def read_params(path, arrays: dict, shapes: dict, dtype) -> dict[str, np.ndarray]:
    """The `param/<name>` arrays of a checkpoint, each checked against its expected shape and for
    NaN / inf (language model and seq2seq alike)."""
    params = {}
    for name, shape in shapes.items():
        a = arrays.get(f"param/{name}")
        if a is None or a.shape != tuple(shape):
            got = "missing" if a is None else f"shape {a.shape}"
            raise CheckpointError(f"{path}: parameter {name} is {got}, expected shape {tuple(shape)}",
                                  hint="the file is damaged or was not written by `charrnn train`")
        if not np.all(np.isfinite(a)):
            raise CheckpointError(f"{path}: parameter {name} holds NaN or infinite values",
                                  hint="use an earlier checkpoint (best.npz) or retrain with a lower --lr")
        params[name] = a.astype(dtype, copy=False)
    return params


TRAIN_HINT = "train one first, e.g. `charrnn train data/python-stdlib.txt`, or pass the checkpoint path"


def default_checkpoint(directory: str | Path = DEFAULT_DIR, hint: str = TRAIN_HINT) -> Path:
    """best.npz, else latest.npz, in `directory`; a clear error (with `hint`) if neither exists."""
    directory = Path(directory)
    for name in ("best.npz", "latest.npz"):
        if (directory / name).is_file():
            return directory / name
    raise CheckpointError(f"no checkpoint found in {directory}/ (looked for best.npz and latest.npz)",
                          hint=hint)


def resolve_checkpoint(path: str | Path | None, hint: str = TRAIN_HINT) -> Path:
    """The checkpoint the user named, or the default one; a directory means its best/latest."""
    if path is None:
        return default_checkpoint(hint=hint)
    path = Path(path)
    return default_checkpoint(path, hint) if path.is_dir() else path
