"""CLI verbs that use a trained model: sample, evaluate, info (bodies in the library).

stdout carries only the product: the sampled text, the evaluation figures, the info table (or
their JSON); warnings and notes go to stderr.
"""

import json
import sys
from pathlib import Path
from typing import List, Optional

from charrnn.cli.app import app, handled, warn
from charrnn.cli.console import say_which
from charrnn.cli.params import checkpoint_arg, choice, file_arg, opt


@app.command()
@handled
def sample(
    checkpoint: Optional[Path] = checkpoint_arg(),
    temp: float = opt("temp"),
    length: int = opt("length"),
    prime: str = opt("prime"),
    seed: Optional[int] = opt("sample_seed"),
    top_k: Optional[int] = opt("top_k"),
    top_p: Optional[float] = opt("top_p"),
    num_samples: int = opt("num_samples"),
    skip_unknown: bool = opt("skip_unknown"),
    ablate: Optional[List[str]] = opt("ablate"),
    clamp: Optional[List[str]] = opt("clamp"),
    threads: str = opt("threads"),
    kernels: choice("kernels") = opt("kernels"),
):
    """Generate text from a trained model; the text streams to stdout as it is generated."""
    import numpy as np

    import charrnn
    from charrnn.use.sample import clean_prime, stream
    from charrnn.nn.threads import AUTO, blas_threads, parse_threads
    from charrnn.nn.kernels import SAMPLE_FUSED_MIN_CHARS, select as select_kernels

    threads = parse_threads(threads)
    # auto: 1 thread. At batch 1 every product is one row times a matrix, which threads barely
    # speed up on a quiet machine and slow down many times over on a busy one; and OpenBLAS can
    # round such a product differently at another thread count, so a timing-based choice could
    # change the text of a seed.
    threads = 1 if threads == AUTO else threads
    kind = getattr(kernels, "value", kernels)
    if kind == "auto" and length * num_samples < SAMPLE_FUSED_MIN_CHARS:
        kind = "numpy"  # numba's start-up (~0.5-1 s) would cost more than the fused step saves on this text
    select_kernels(kind)  # the one-stream step's gate arithmetic (charrnn.nn.kernels)
    m = charrnn.load(checkpoint)
    m.require("sample")  # a model of another task: its usage error, before anything is printed
    say_which(checkpoint, m)
    hold = _holds(ablate, clamp, m)
    prime = clean_prime(m.vocab, prime, skip_unknown, warn)  # once, before any output
    if top_k is not None and top_k >= m.vocab.size:
        warn(f"--top-k {top_k} keeps all {m.vocab.size} characters of the vocabulary")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)
        if temp > 0:  # greedy (--temp 0) draws no random numbers: the same text every time
            print(f"seed {seed} (pass --seed {seed} to repeat this text)", file=sys.stderr)
    rng = np.random.default_rng(seed)  # one generator for all the samples
    out = sys.stdout
    last = ""  # the last character written: samples are separated on a line of their own
    with blas_threads(threads):
        for k in range(num_samples):
            if num_samples > 1:
                out.write(("" if last in ("", "\n") else "\n") + f"--- sample {k + 1}/{num_samples} ---\n")
            out.write(prime)
            out.flush()
            last = prime[-1:] or "\n"
            text = m.generate(length, temp, prime, top_k=top_k, top_p=top_p, rng=rng, hold=hold)
            last = stream(text, out.write, out.flush) or last
    if last not in ("", "\n"):
        out.write("\n")  # the output ends with a line break, like any text file
    out.flush()


def _holds(ablate, clamp, m):
    """The --ablate / --clamp holds (None without them), said on stderr."""
    from charrnn.nn.intervene import parse_holds

    hold = parse_holds(ablate, clamp, m.cfg)
    if hold is not None:
        print("holding " + ", ".join(f"{h.label} at {h.value:g}" for h in hold) + " at every step", file=sys.stderr)
    return hold


@app.command()
@handled
def evaluate(
    checkpoint: Path = checkpoint_arg(required=True),
    file: Path = file_arg("UTF-8 text file to score (for a seq2seq model: a pairs file, source<TAB>target per "
                          "line; classify: text<TAB>label; tag: text<TAB>tags).", "FILE"),
    strict: bool = opt("strict"),
    as_json: bool = opt("as_json"),
    html: Optional[Path] = opt("html", help="classify, tag: also write a self-contained HTML page with the confusion "
                               "matrix as a heat map and the worst-classified lines."),
    streams: int = opt("streams"),
    encoding_errors: choice("encoding_errors") = opt("encoding_errors", rich_help_panel="Input"),
    ablate: Optional[List[str]] = opt("ablate"),
    clamp: Optional[List[str]] = opt("clamp"),
    threads: str = opt("threads"),
    kernels: choice("kernels") = opt("kernels"),
):
    """Loss of a model on a text file: nats/char, bits/char and perplexity, state carried over the whole file."""
    import charrnn
    from charrnn.cli.progress import progress_bar
    from charrnn.nn.threads import parse_threads
    from charrnn.nn.kernels import EVALUATE_FUSED_MIN_BYTES, select as select_kernels
    from charrnn.data.vocab import unknown_message

    threads = parse_threads(threads)
    kind = getattr(kernels, "value", kernels)
    try:
        if kind == "auto" and file.stat().st_size < EVALUATE_FUSED_MIN_BYTES:
            kind = "numpy"  # numba's start-up (~0.5-1 s) would cost more than the fused loop saves on this file
    except OSError:
        pass  # (the file's own error comes below)
    select_kernels(kind)  # the cells' time loop (charrnn.nn.kernels)
    m = charrnn.load(checkpoint)
    hold = None
    if ablate or clamp:
        if m.task != "lm":
            from charrnn.errors import UsageError

            raise UsageError(f"--ablate and --clamp apply to a language model, not to this {m.task} model",
                             hint="leave them out")
        hold = _holds(ablate, clamp, m)
    if html is not None:
        from charrnn.engine.task import get_task
        from charrnn.errors import UsageError
        from charrnn.interpret.files import check_output

        if not get_task(m.task).evaluate_page:
            raise UsageError(f"evaluate --html draws a classifier's or a tagger's scores; {m.path} holds another model",
                             hint="leave --html out (a language model's pages: inspect-cells --html, compare --html)")
        check_output(html, "--html", "evaluate.html")
    # Bounded memory on any file size: read (bytes), then score (characters); bars on stderr.
    with progress_bar("reading", "B") as read, progress_bar("scoring", "char") as score:
        result = m.evaluate_file(file, strict=strict, streams=streams, encoding_errors=encoding_errors,
                                 progress=lambda phase, done, total: (read if phase == "read" else score)(done, total),
                                 threads=threads, hold=hold)
    if getattr(result, "skipped", 0):
        warn(unknown_message(result.skipped, result.unknown, "skipped"))
    for note in getattr(result, "warnings", ()):  # (classify, tag: lines skipped)
        warn(note)
    if html is not None:
        from charrnn.interpret.files import write_atomic

        page = result.page(f"{m.path.name} on {Path(file).name}", f"{m.path} ({m.task}) on {file}").encode("utf-8")
        write_atomic(html, lambda f: f.write(page), "--html")
        print(f"wrote {html}", file=sys.stderr)
    if as_json:
        print(json.dumps({"checkpoint": str(m.path), "file": str(file), **result.to_dict()}))
        return
    width = max(len(name) for name, _ in result.rows()) + 1
    for name, value in result.rows():
        print(f"{name:<{width}} {value}")
    if hasattr(result, "details"):  # classify, tag: per-label table, confusion matrix
        print(result.details())


@app.command()
@handled
def info(
    checkpoint: Optional[Path] = checkpoint_arg(),
    as_json: bool = opt("as_json"),
):
    """What a checkpoint holds: model, sizes, vocabulary, training progress, corpus, versions."""
    from charrnn.api import Model
    from charrnn.cli.console import info_table, say_which
    from charrnn.engine.trained import load_trained, resolve_checkpoint

    path = resolve_checkpoint(checkpoint)  # the metadata only: no weight is read
    m = Model(load_trained(path, task=None, weights=False))
    say_which(checkpoint, m)
    d = m.info()
    if as_json:
        print(json.dumps(d))
    else:
        info_table(d, m.info_rows())
