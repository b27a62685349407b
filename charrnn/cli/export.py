"""`charrnn export CKPT OUT.pt`: hand a language model's weights to PyTorch (needs the torch extra)."""

import sys
from pathlib import Path
from typing import Optional

import typer

from charrnn.cli.app import app, handled
from charrnn.cli.params import checkpoint_arg


@app.command()
@handled
def export(
    checkpoint: Optional[Path] = checkpoint_arg(required=True),
    out: Path = typer.Argument(..., help="The PyTorch file to write (.pt): a state_dict plus the config; "
                                         "charrnn.torch_model.CharRNN.load reads it.", metavar="OUT.pt",
                               show_default=False),
):
    """Write a language model's weights as a PyTorch state_dict plus its config (needs charrnn[torch])."""
    from charrnn.use.export import export as write

    path = write(checkpoint, out)
    print(f"wrote {path} (load it with charrnn.torch_model.CharRNN.load)", file=sys.stderr)
