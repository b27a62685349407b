"""Small checkpoints for tests, written in exactly the schema `charrnn train` writes (see trained_model.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from charrnn import __version__, model
from charrnn.checkpoint import save_checkpoint
from charrnn.config import ModelConfig, TrainConfig
from charrnn.vocab import Vocab

TEXT = "def f(x):\n    return 'a' + \"b\"  # note\n" * 4


def make_checkpoint(path: Path, cell: str = "lstm", text: str = TEXT, hidden: int = 8, layers: int = 2,
                    seed: int = 0, params: dict | None = None, corpus: dict | None = None,
                    dtype: str = "float32", **meta) -> Path:
    """Write an (untrained unless `params` is given) checkpoint for a model over the characters of `text`."""
    vocab = Vocab.from_text(text)
    cfg = ModelConfig(cell=cell, vocab_size=vocab.size, hidden=hidden, layers=layers, dtype=dtype)
    if params is None:
        params = model.init_params(cfg, np.random.default_rng(seed))
    arrays = {f"param/{k}": v for k, v in params.items()}
    info = {
        "model": cfg.to_dict(), "train": TrainConfig().to_dict(), "vocab": vocab.to_list(),
        "step": 0, "epoch": 0, "chunk": 0, "val_loss": None, "best_val_loss": None,
        "rng": np.random.default_rng(seed).bit_generator.state, "corpus": corpus, "history": [],
        "charrnn_version": __version__, "created": "2026-01-01T00:00:00Z",
    }
    info.update(meta)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, arrays, info)
    return path
