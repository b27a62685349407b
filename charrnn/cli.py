"""The `charrnn` command: a thin Typer layer over the library.

Each command parses its options, calls one library function and renders the result. Library
errors (`CharRNNError`) become one line on stderr (`error: ...`, then `hint: ...`) with exit
code 2 for usage errors and 1 otherwise; `--debug` shows the traceback instead.
stdout carries only the product (sampled text, tables asked for); everything else goes to stderr.
"""

from __future__ import annotations

import functools
import sys
import traceback
from enum import Enum
from pathlib import Path

import typer
from typing import Annotated, Optional

from charrnn import __version__
from charrnn.errors import CharRNNError

app = typer.Typer(
    name="charrnn",
    help="Train character-level RNN / LSTM / GRU language models in NumPy, sample from them, "
    "and find the hidden units that track quotes, line length and more.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


def _version(value: bool):
    if value:
        typer.echo(f"charrnn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
):
    _state["debug"] = debug


def fail(message: str, hint: str | None = None, code: int = 1) -> None:
    """Print a one-line error (and hint) on stderr and exit."""
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    raise typer.Exit(code)


def handled(fn):
    """Turn library errors into one-line messages and exit codes (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except CharRNNError as e:
            if _state["debug"]:
                traceback.print_exc()
            fail(e.message, e.hint, e.exit_code)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130)
        except BrokenPipeError:
            # `charrnn sample | head`: the reader went away; that is not an error.
            sys.stderr.close()
            raise typer.Exit(0)
        except (MemoryError, OSError) as e:
            if _state["debug"]:
                traceback.print_exc()
            fail(f"{type(e).__name__}: {e}", "run with --debug for the traceback")

    return wrapper


# ---------------------------------------------------------------------------------- train
@app.command()
@handled
def train(
    corpus: Annotated[Path, typer.Argument(help="UTF-8 text file to train on.")],
):
    """Train a model on CORPUS (not built yet)."""
    fail("`charrnn train` is not built yet", code=1)


# --------------------------------------------------------------------------------- sample
@app.command()
@handled
def sample():
    """Generate text from a trained model (not built yet)."""
    fail("`charrnn sample` is not built yet", code=1)


# -------------------------------------------------------------------------- inspect-cells
@app.command("inspect-cells")
@handled
def inspect_cells():
    """Find and show the hidden units that track quotes, line length and more (not built yet)."""
    fail("`charrnn inspect-cells` is not built yet", code=1)


def main() -> None:
    app(prog_name="charrnn")
