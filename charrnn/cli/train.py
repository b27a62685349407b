"""`charrnn train`: the options of a run, handed to `charrnn.train.train`."""

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from charrnn.cli.app import app, handled
from charrnn.cli.params import choice, file_arg, opt

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
    corpus: Path = file_arg("UTF-8 text file to train on.", "CORPUS"),
    model: choice("model") = opt("model"),
    hidden: int = opt("hidden"),
    layers: int = opt("layers"),
    dropout: float = opt("dropout"),
    forget_bias: float = opt("forget_bias"),
    bias_init: choice("bias_init") = opt("bias_init"),
    init_scale: float = opt("init_scale"),
    dtype: choice("dtype") = opt("dtype"),
    seq_len: int = opt("seq_len"),
    batch: int = opt("batch"),
    val_frac: float = opt("val_frac"),
    tokens: choice("tokens") = opt("tokens"),
    encoding_errors: choice("encoding_errors") = opt("encoding_errors"),
    optimizer: choice("optimizer") = opt("optimizer"),
    lr: float = opt("lr"),
    momentum: float = opt("momentum"),
    lr_decay: float = opt("lr_decay"),
    lr_decay_every: int = opt("lr_decay_every"),
    lr_decay_unit: choice("lr_decay_unit") = opt("lr_decay_unit"),
    clip: float = opt("clip"),
    clip_value: float = opt("clip_value"),
    seed: int = opt("seed"),
    max_steps: Optional[int] = opt("max_steps"),
    epochs: Optional[float] = opt("epochs"),
    time: Optional[str] = opt("time"),
    patience: Optional[int] = opt("patience"),
    out: Path = opt("out"),
    resume: Optional[Path] = opt("resume"),
    init_from: Optional[Path] = opt("init_from"),
    overwrite: bool = opt("overwrite"),
    eval_every: int = opt("eval_every"),
    sample_len: int = opt("sample_len"),
    quiet: bool = opt("quiet"),
    task: choice("task") = opt("task"),
    teacher_forcing: float = opt("teacher_forcing"),
    teacher_forcing_decay: int = opt("teacher_forcing_decay"),
    skip_bad_lines: bool = opt("skip_bad_lines"),
    live: Optional[Path] = opt("live"),
    bidirectional: bool = opt("bidirectional"),
    pool: choice("pool") = opt("pool"),
    class_weights: choice("class_weights") = opt("class_weights"),
    threads: str = opt("threads"),
    kernels: choice("kernels") = opt("kernels"),
    backend: choice("backend") = opt("backend"),
    device: str = opt("device"),
):
    """Train a model on CORPUS; checkpoints go to --out (default checkpoints/)."""
    import charrnn
    from charrnn.cli.train_progress import ConsoleReporter
    from charrnn.api import run_task
    from charrnn.config import MODEL_KEYS, TRAIN_KEYS
    from charrnn.tasks.labelled_task import TASK_KEYS as LABELLED_KEYS
    from charrnn.tasks.seq2seq_task import TASK_KEYS as SEQ2SEQ_KEYS
    from charrnn.nn.threads import parse_threads
    from charrnn.nn.kernels import prefetch, select

    threads = parse_threads(threads)
    # the cells' time loop for this process (charrnn.nn.kernels; auto: numba loads while the first steps run)
    select(getattr(kernels, "value", kernels), defer=True)
    if resume is None or getattr(ctx.get_parameter_source("model"), "name", "") == "COMMANDLINE":
        prefetch(getattr(model, "value", model), getattr(dtype, "value", dtype))  # compiles while the corpus loads

    # Only the options the user typed are passed on, so that a resumed run keeps its own settings.
    typed = {k: v for k, v in ctx.params.items() if k in MODEL_KEYS + TRAIN_KEYS + SEQ2SEQ_KEYS + LABELLED_KEYS
             and getattr(ctx.get_parameter_source(k), "name", "") == "COMMANDLINE"}
    typed = {k: getattr(v, "value", v) for k, v in typed.items()}  # choices arrive as Enum members
    if resume is not None and getattr(ctx.get_parameter_source("out"), "name", "") != "COMMANDLINE":
        out = resume.parent  # continue the run where it lives
    from charrnn.outputs import RUN_FILES, check_outputs

    check_outputs([*(("--out", out / name) for name in RUN_FILES), ("--live", live)],
                  [(corpus, "the corpus"), (init_from, "the --init-from checkpoint")])
    kind = run_task(typed.get("task"), resume)
    if kind == "seq2seq":
        from charrnn.cli.train_progress import Seq2SeqReporter
        reporter = Seq2SeqReporter(quiet=quiet)
    elif kind in ("classify", "tag"):
        from charrnn.cli.labelled_progress import LabelledReporter
        reporter = LabelledReporter(quiet=quiet)
    else:
        reporter = ConsoleReporter(quiet=quiet)
    backend = getattr(backend, "value", backend)
    if backend == "torch" and int(os.environ.get("RANK", "0")) > 0:  # under torchrun: rank 0 reports
        from charrnn.engine.loop import Reporter

        reporter = Reporter()
    if live is not None:
        from charrnn.errors import UsageError
        from charrnn.interpret.files import check_output
        from charrnn.interpret.live import LiveReporter

        if kind != "lm":
            raise UsageError(f"--live shows a language model's units; it does not apply to --task {kind}",
                             hint="leave --live out")
        reporter = LiveReporter(reporter, check_output(live, "--live", "live.html"), out)
    result = charrnn.train(corpus, out, resume=resume, init_from=init_from, encoding_errors=encoding_errors,
                           overwrite=overwrite, reporter=reporter, threads=threads, backend=backend, device=device,
                           **typed)
    if backend == "torch" and int(os.environ.get("RANK", "0")) > 0:
        return  # rank 0 tells the group's result
    per_token = any("val_char_loss" in r for r in result.history or [])  # jamo: the loss is per token
    best = f"{result.best_val_loss:.4f} {'nats/token' if per_token else 'nats/char'}" \
        if result.best_val_loss is not None else "-"
    if getattr(result, "best_exact", None) is not None:  # seq2seq
        best = f"{result.best_exact:.2%} exact match, {best}"
    if result.task in ("classify", "tag"):
        from charrnn.cli.labelled_progress import labelled_best
        best = labelled_best(result)
    where = f"checkpoints in {result.out_dir}/" if result.latest.exists() else "no checkpoint was written"
    print(f"done: {result.step:,} steps ({result.stopped_by}), best val {best}; {where}", file=sys.stderr)
    if result.stopped_by in ("interrupt", "terminate"):
        if result.latest.exists():
            print(f"resume with: {_resume_command(result.latest)}", file=sys.stderr)
        raise typer.Exit(130 if result.stopped_by == "interrupt" else 143)


