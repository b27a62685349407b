"""The `charrnn` command: a thin Typer layer over the library.

Each command parses its options, calls one library function and renders the result. Library
errors (`CharRNNError`) become one line on stderr (`error: ...`, then `hint: ...`) with exit
code 2 for usage errors and 1 otherwise; `--debug` shows the traceback instead.
stdout carries only the product (sampled text, tables asked for); everything else goes to stderr.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
import traceback
from enum import Enum

import typer
from typer import rich_utils
from typing import Annotated

from charrnn import __version__
from charrnn.errors import CharRNNError
from charrnn.options import check_all

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


def _one_line_usage_error(e) -> None:
    """Typer/Click's own option errors (bad choice, not a number...) as one `error:` line, exit 2."""
    if type(e).__name__ == "NoArgsIsHelpError":
        return
    print(f"error: {e.format_message()}", file=sys.stderr)
    ctx = getattr(e, "ctx", None)
    if ctx is not None:
        print(f"hint: see `{ctx.command_path} --help`", file=sys.stderr)


rich_utils.rich_format_error = _one_line_usage_error


def _version(value: bool):
    if value:
        typer.echo(f"charrnn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.", show_default="off")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.", show_default="off")] = False,
):
    _state["debug"] = debug


def one_line(text: str) -> str:
    """`text` with every control character, line separator and lone surrogate escaped (NUL as
    \\x00, ESC as \\x1b, a newline as \\n): a message stays one line, and a path or value from
    a file cannot drive the terminal."""
    return "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in _UNSAFE else c
                   for c in str(text))


_UNSAFE = ("Cc", "Cs", "Zl", "Zp")


def warn(message: str) -> None:
    """A warning on stderr (the library reports its warnings through a callback: this one)."""
    print(f"warning: {one_line(message)}", file=sys.stderr)


def fail(message: str, hint: str | None = None, code: int = 1, note: str | None = None) -> None:
    """Print a one-line error (and hint, and a note such as a clean-up that failed after it) on stderr and exit."""
    print(f"error: {one_line(message)}", file=sys.stderr)
    if hint:
        print(f"hint: {one_line(hint)}", file=sys.stderr)
    if note:
        print(f"note: {one_line(note)}", file=sys.stderr)
    raise typer.Exit(code)


def _first_error(e: BaseException):
    """The CharRNNError that `e` was raised while handling, if any: the first error wins."""
    seen = e.__context__
    while seen is not None and not isinstance(seen, CharRNNError):
        seen = seen.__context__
    return seen


def handled(fn):
    """Check the options' ranges (`options.check_all`; choices arrive as plain strings), then turn
    library errors into one-line messages and exit codes (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            kwargs = {k: v.value if isinstance(v, Enum) else v for k, v in kwargs.items()}
            check_all(kwargs)  # every option of the table in its range, before any work
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except CharRNNError as e:
            if _state["debug"]:
                traceback.print_exc()
            fail(e.message, e.hint, e.exit_code, (getattr(e, "__notes__", None) or [None])[0])
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130)
        except BrokenPipeError:
            # `charrnn sample | head`: the reader went away; that is not an error.
            sys.stderr.close()
            raise typer.Exit(0)
        except MemoryError as e:
            if _state["debug"]:
                traceback.print_exc()
            fail(f"out of memory: {e}", "use a smaller model or batch (--hidden, --layers, --batch, --seq-len)")
        except OSError as e:
            if _state["debug"]:
                traceback.print_exc()
            if (first := _first_error(e)) is not None:  # a clean-up failed after a real error
                fail(first.message, first.hint, first.exit_code, f"also: {type(e).__name__}: {e}")
            fail(f"{type(e).__name__}: {e}", "run with --debug for the traceback")
        except Exception as e:  # a bug in charrnn: still one line, the traceback on request
            if _state["debug"]:
                traceback.print_exc()
            if (first := _first_error(e)) is not None:
                fail(first.message, first.hint, first.exit_code, f"also: {type(e).__name__}: {e}")
            fail(f"internal error: {type(e).__name__}: {e}",
                 "this is a bug in charrnn; run with --debug for the traceback and report it")

    return wrapper


def main() -> None:
    app(prog_name="charrnn")
