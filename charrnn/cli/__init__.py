"""The `charrnn` command line: a thin Typer layer over the library.

    app.py            the Typer app, the error path (`handled`, `fail`, `warn`), `main`; imports no command
    params.py         Typer options and arguments built from the option table (charrnn.options)
    train.py          charrnn train
    use.py            charrnn sample, evaluate, info
    seq2seq.py        charrnn translate; the seq2seq side of train (progress), evaluate and info
    labelled.py       charrnn predict; the classify/tag side of evaluate and info (labelled_progress.py: train)
    inspect_cells.py  charrnn inspect-cells
    inspect_memory.py charrnn inspect-memory
    compare.py        charrnn compare (textplot.py: its plain-text charts)
    export.py         charrnn export (a PyTorch state_dict; needs the torch extra)
    progress.py       progress bars on stderr for long passes (evaluate, tracing)
    train_progress.py what `train` shows on stderr (summary, progress bar, evaluation lines)
    console.py        rich consoles and tables for stdout

Each command module registers itself on `app` when imported; the imports below fix the order
of the commands in `--help`. A new command: a new module here that does
`from charrnn.cli.app import app, handled`, decorates its function with `@app.command()` and
`@handled`, and is imported below.
"""

from charrnn.cli.app import app, main
from charrnn.cli import train, use, seq2seq, labelled, inspect_cells, inspect_memory, compare, export  # noqa: E402,F401  (registers the commands, in this order)

__all__ = ["app", "main"]
