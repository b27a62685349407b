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
from typer import rich_utils
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
        except MemoryError as e:
            if _state["debug"]:
                traceback.print_exc()
            fail(f"out of memory: {e}", "use a smaller model or batch (--hidden, --layers, --batch, --seq-len)")
        except OSError as e:
            if _state["debug"]:
                traceback.print_exc()
            fail(f"{type(e).__name__}: {e}", "run with --debug for the traceback")
        except Exception as e:  # a bug in charrnn: still one line, the traceback on request
            if _state["debug"]:
                traceback.print_exc()
            fail(f"internal error: {type(e).__name__}: {e}",
                 "this is a bug in charrnn; run with --debug for the traceback and report it")

    return wrapper


# ---------------------------------------------------------------------------------- train
class DType(str, Enum):
    float32 = "float32"
    float64 = "float64"


class CellName(str, Enum):
    lstm = "lstm"
    gru = "gru"
    rnn = "rnn"


class OptimizerName(str, Enum):
    adam = "adam"
    rmsprop = "rmsprop"
    adagrad = "adagrad"
    sgd = "sgd"


class DecayUnit(str, Enum):
    step = "step"
    epoch = "epoch"


class Task(str, Enum):
    lm = "lm"
    seq2seq = "seq2seq"


class EncodingErrors(str, Enum):
    strict = "strict"
    replace = "replace"
    ignore = "ignore"


# CLI option name -> (config, field). Only options the user typed are passed on, so that a resumed
# run keeps its own settings for the rest.
_MODEL_FIELDS = {"model": "cell", "hidden": "hidden", "layers": "layers", "dropout": "dropout", "dtype": "dtype",
                 "forget_bias": "forget_bias"}
_TRAIN_FIELDS = {"seq_len": "seq_len", "batch": "batch", "optimizer": "optimizer", "lr": "lr",
                 "momentum": "momentum", "lr_decay": "lr_decay", "lr_decay_every": "lr_decay_every",
                 "lr_decay_unit": "lr_decay_unit", "clip": "clip", "clip_value": "clip_value",
                 "val_frac": "val_frac", "eval_every": "eval_every", "max_steps": "max_steps", "epochs": "epochs",
                 "time": "time_limit", "patience": "patience", "seed": "seed", "sample_len": "sample_len"}
DEFAULT_EPOCHS = 10.0


def _resume_command(out_latest: Path) -> str:
    """The command line that continues this run: the same one, with --resume instead of a fresh start."""
    import shlex

    args, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if a in ("--resume", "--init-from"):
            skip = True
            continue
        if a.startswith(("--resume=", "--init-from=")) or a == "--overwrite":
            continue
        args.append(a)
    return shlex.join(["charrnn", *args, "--resume", str(out_latest)])


@app.command()
@handled
def train(
    ctx: typer.Context,
    corpus: Annotated[Path, typer.Argument(help="UTF-8 text file to train on.", show_default=False)],
    model: Annotated[CellName, typer.Option(help="Recurrent cell.")] = CellName.lstm,
    hidden: Annotated[int, typer.Option(help="Hidden units per layer.")] = 128,
    layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = 2,
    dropout: Annotated[float, typer.Option(help="Dropout on every layer's output while training, in [0, 1).")] = 0.0,
    forget_bias: Annotated[float, typer.Option(help="LSTM: initial forget-gate bias (1 keeps memory early on).")] = 1.0,
    seq_len: Annotated[int, typer.Option(help="Characters per chunk: the truncated-BPTT length.")] = 50,
    batch: Annotated[int, typer.Option(help="Parallel streams per batch.")] = 50,
    optimizer: Annotated[OptimizerName, typer.Option(help="Optimizer.")] = OptimizerName.adam,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 2e-3,
    momentum: Annotated[float, typer.Option(help="Momentum (sgd only).")] = 0.9,
    lr_decay: Annotated[float, typer.Option(help="Multiply the learning rate by this every --lr-decay-every units.")] = 1.0,
    lr_decay_every: Annotated[int, typer.Option(help="Decay period (0: never decay).")] = 0,
    lr_decay_unit: Annotated[DecayUnit, typer.Option(help="Unit of --lr-decay-every.")] = DecayUnit.epoch,
    clip: Annotated[float, typer.Option(help="Clip gradients to this global L2 norm (0: off).")] = 5.0,
    clip_value: Annotated[float, typer.Option(help="Also clip each gradient element to [-v, v] (0: off).")] = 0.0,
    val_frac: Annotated[float, typer.Option(help="Fraction of the text (its end) held out for validation.")] = 0.1,
    eval_every: Annotated[int, typer.Option(help="Steps between validation passes and checkpoints.")] = 500,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop after this many steps in all (counting steps before a resume).", show_default="none")] = None,
    epochs: Annotated[Optional[float], typer.Option(help=f"Stop after this many passes over the training text ({DEFAULT_EPOCHS:g} when no other stop rule is given).", show_default="none")] = None,
    time: Annotated[Optional[str], typer.Option("--time", help="Stop after this much wall-clock time, e.g. 90s, 10m, 2h.", show_default="none")] = None,
    patience: Annotated[Optional[int], typer.Option(help="Stop after this many evaluations without a better val loss.", show_default="none")] = None,
    out: Annotated[Path, typer.Option(help="Output directory for latest.npz, best.npz and metrics.jsonl (with --resume: the checkpoint's own).")] = Path("checkpoints"),
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run saved in this checkpoint exactly where it stopped.", show_default="none")] = None,
    init_from: Annotated[Optional[Path], typer.Option(help="Start from this checkpoint's weights (fine-tuning on new text).", show_default="none")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a previous run in --out (by default it is refused).")] = False,
    seed: Annotated[int, typer.Option(help="Random seed (initialisation, dropout).")] = 0,
    dtype: Annotated[DType, typer.Option(help="Floating-point type: float32 (fast) or float64.")] = DType.float32,
    encoding_errors: Annotated[EncodingErrors, typer.Option(help="Invalid UTF-8: strict (error), replace (U+FFFD) or ignore.")] = EncodingErrors.strict,
    sample_len: Annotated[int, typer.Option(help="Characters of sample shown at each evaluation (0: none).")] = 200,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings, errors and the final line.", show_default="off")] = False,
    task: Annotated[Task, typer.Option(help="lm: a language model of CORPUS; seq2seq: an encoder-decoder on a pairs file (source<TAB>target per line).")] = Task.lm,
    teacher_forcing: Annotated[float, typer.Option(help="seq2seq: probability of feeding the decoder the true previous character (below 1: scheduled sampling).")] = 1.0,
    teacher_forcing_decay: Annotated[int, typer.Option(help="seq2seq: steps over which --teacher-forcing falls linearly to 0 (0: constant).")] = 0,
    skip_bad_lines: Annotated[bool, typer.Option("--skip-bad-lines", help="seq2seq: leave out lines that are not one source<TAB>target pair (and count them) instead of failing.", show_default="off")] = False,
):
    """Train a model on CORPUS; checkpoints go to --out (default checkpoints/)."""
    from charrnn.config import ModelConfig, TrainConfig, parse_duration
    from charrnn.errors import UsageError
    from charrnn.report import ConsoleReporter
    from charrnn.translate import is_seq2seq as _is_seq2seq
    from charrnn.train import train as run_training

    values = dict(ctx.params)
    values["time"] = parse_duration(time) if time is not None else None
    for k, v in values.items():
        if isinstance(v, Enum):
            values[k] = v.value
    typed = {k for k in values if getattr(ctx.get_parameter_source(k), "name", "") == "COMMANDLINE"}
    model_all = {f: values[k] for k, f in _MODEL_FIELDS.items()}
    train_all = {f: values[k] for k, f in _TRAIN_FIELDS.items()}
    ModelConfig(**model_all)  # every value is checked before any work; errors name the option
    TrainConfig(**train_all)
    model_opts = {f: values[k] for k, f in _MODEL_FIELDS.items() if k in typed}
    train_opts = {f: values[k] for k, f in _TRAIN_FIELDS.items() if k in typed}
    stop_rules = {"max_steps": "max_steps", "epochs": "epochs", "time": "time_limit", "patience": "patience"}
    if any(k in typed for k in stop_rules):  # new stop rules replace all the saved ones
        train_opts.update({f: values[k] for k, f in stop_rules.items()})
    elif resume is None:
        train_opts["epochs"] = DEFAULT_EPOCHS
    if resume is not None and "out" not in typed:
        out = resume.parent  # continue the run where it lives
    s2s_opts = {k: values[k] for k in ("teacher_forcing", "teacher_forcing_decay") if k in typed}
    if task is Task.seq2seq or (resume is not None and resume.is_file() and _is_seq2seq(resume)):
        from charrnn.cli_seq2seq import train_seq2seq
        return train_seq2seq(corpus, out, train_opts, model_opts, s2s_opts, typed, resume, init_from, overwrite,
                             skip_bad_lines, encoding_errors.value, quiet)
    if s2s_opts or skip_bad_lines:
        raise UsageError("--teacher-forcing, --teacher-forcing-decay and --skip-bad-lines need --task seq2seq",
                         hint="add --task seq2seq to train on a pairs file")
    reporter = ConsoleReporter(quiet=quiet)
    result = run_training(corpus, out, train_opts, model_opts, resume=resume, init_from=init_from,
                          encoding_errors=encoding_errors.value, overwrite=overwrite, reporter=reporter)
    best = f"{result.best_val_loss:.4f} nats/char" if result.best_val_loss is not None else "-"
    where = f"checkpoints in {result.out_dir}/" if result.latest.exists() else "no checkpoint was written"
    print(f"done: {result.step:,} steps ({result.stopped_by}), best val {best}; {where}", file=sys.stderr)
    if result.stopped_by in ("interrupt", "terminate"):
        if result.latest.exists():
            print(f"resume with: {_resume_command(result.latest)}", file=sys.stderr)
        raise typer.Exit(130 if result.stopped_by == "interrupt" else 143)


# The other verbs live in their own modules and register themselves on `app`.
from charrnn import cli_use, cli_inspect, cli_seq2seq  # noqa: E402,F401


def main() -> None:
    app(prog_name="charrnn")
