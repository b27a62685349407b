"""`charrnn export CKPT OUT.pt`: a language model's weights as a PyTorch state_dict plus its config.

The file holds {"config": {cell, vocab_size, hidden, layers}, "vocab": [characters], "state_dict":
{name: tensor}, "charrnn": {version, checkpoint, step, val_loss, tokens}}: what
charrnn.torch_model.CharRNN.load rebuilds the model from (the layout: charrnn.tasks.lm_torch).
Written atomically (a temporary file renamed), like every checkpoint.
"""

from __future__ import annotations

from pathlib import Path

from charrnn import __version__
from charrnn.engine.checkpoint import atomic_write
from charrnn.engine.trained import load_trained, resolve_checkpoint
from charrnn.errors import UsageError
from charrnn.tasks.lm_torch import require_torch, to_torch


def export(checkpoint, out) -> Path:
    """Write `out` (.pt) from the language-model checkpoint `checkpoint`; returns its path."""
    torch = require_torch("charrnn export")
    out = Path(out)
    if out.suffix != ".pt":
        raise UsageError(f"the output {out} should end in .pt (a PyTorch file)", hint="e.g. charrnn export best.npz model.pt")
    if not out.parent.is_dir():
        raise UsageError(f"the folder of {out} does not exist", hint=f"create it first: mkdir -p {out.parent}")
    checkpoint = resolve_checkpoint(checkpoint)
    trained = load_trained(checkpoint)  # (a seq2seq checkpoint: its clear error)
    cfg = trained.cfg
    data = {"config": {"cell": cfg.cell, "vocab_size": cfg.vocab_size, "hidden": cfg.hidden, "layers": cfg.layers},
            "vocab": trained.vocab.to_list(),
            "state_dict": {k: torch.from_numpy(v) for k, v in to_torch(trained.params, cfg).items()},
            "charrnn": {"version": __version__, "checkpoint": str(Path(checkpoint).resolve()),
                        "step": trained.meta.get("step"), "val_loss": trained.meta.get("val_loss"),
                        "tokens": cfg.tokens}}
    atomic_write(out, lambda f: torch.save(data, f))
    return out
