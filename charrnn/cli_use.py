"""CLI verbs that use a trained model: sample, evaluate, info (bodies in the library).

stdout carries only the product: the sampled text, the evaluation figures, the info table (or
their JSON); warnings and notes go to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from charrnn.cli import EncodingErrors, app, handled

_CKPT_HELP = "Checkpoint (default: checkpoints/best.npz, else checkpoints/latest.npz; a directory means its best/latest)."


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@app.command()
@handled
def sample(
    checkpoint: Annotated[Optional[Path], typer.Argument(help=_CKPT_HELP, show_default=False)] = None,
    temp: Annotated[float, typer.Option("--temp", "--temperature", help="Temperature: 0 is greedy (argmax), < 1 more conservative, > 1 more random (at most 100).")] = 1.0,
    length: Annotated[int, typer.Option(help="Characters to generate after the prime.")] = 1000,
    prime: Annotated[str, typer.Option(help="Text fed through the model first to warm its state, then echoed (none: start as if after a newline, else after the most frequent character).", show_default="none")] = "",
    seed: Annotated[Optional[int], typer.Option(help="Random seed: the same checkpoint, options and seed give the same text (none: a fresh one, shown on stderr).", show_default="none")] = None,
    top_k: Annotated[Optional[int], typer.Option(help="Draw only among the K most likely characters (none: all).", show_default="none")] = None,
    top_p: Annotated[Optional[float], typer.Option(help="Draw only among the most likely characters whose probabilities add up to P (nucleus sampling), 0 < P <= 1 (none: all).", show_default="none")] = None,
    num_samples: Annotated[int, typer.Option(help="Independent samples (each from the prime); each one starts with a line '--- sample K/N ---'.")] = 1,
    skip_unknown: Annotated[bool, typer.Option("--skip-unknown", help="Drop prime characters that are not in the vocabulary (with a warning) instead of failing.", show_default="off")] = False,
):
    """Generate text from a trained model; the text streams to stdout as it is generated."""
    import numpy as np

    from charrnn.sample import check_options, clean_prime, generate, stream
    from charrnn.trained import load_trained, resolve_checkpoint

    check_options(temp, top_k, top_p, length, num_samples, seed)
    trained = load_trained(resolve_checkpoint(checkpoint))
    prime = clean_prime(trained.vocab, prime, skip_unknown, _warn)
    if top_k is not None and top_k >= trained.vocab.size:
        _warn(f"--top-k {top_k} keeps all {trained.vocab.size} characters of the vocabulary")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)
        if temp > 0:  # greedy (--temp 0) draws no random numbers: the same text every time
            print(f"seed {seed} (pass --seed {seed} to repeat this text)", file=sys.stderr)
    rng = np.random.default_rng(seed)
    counts = trained.meta.get("char_counts")
    out = sys.stdout
    last = ""  # the last character written: samples are separated on a line of their own
    for k in range(num_samples):
        if num_samples > 1:
            out.write(("" if last in ("", "\n") else "\n") + f"--- sample {k + 1}/{num_samples} ---\n")
        out.write(prime)
        out.flush()
        last = prime[-1:] or "\n"
        text = generate(trained.params, trained.cfg, trained.vocab, length, temperature=temp,
                        top_k=top_k, top_p=top_p, prime=prime, rng=rng, counts=counts)
        last = stream(text, out.write, out.flush) or last
    if out.isatty() and last not in ("", "\n"):
        out.write("\n")  # a terminal prompt on a line of its own; pipes get the text exactly
    out.flush()


@app.command()
@handled
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint to evaluate.", show_default=False)],
    file: Annotated[Path, typer.Argument(help="UTF-8 text file to score.", show_default=False)],
    strict: Annotated[bool, typer.Option("--strict", help="Fail if the text has characters outside the vocabulary (off: skip and report them).", show_default="off")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the table.", show_default="off")] = False,
    streams: Annotated[int, typer.Option(help="Score the text as this many parallel parts: faster on long files, slightly less exact (1: the whole file as one stream).")] = 1,
    encoding_errors: Annotated[EncodingErrors, typer.Option(help="Invalid UTF-8: strict (error), replace (U+FFFD) or ignore.")] = EncodingErrors.strict,
):
    """Loss of a model on a text file: nats/char, bits/char and perplexity, state carried over the whole file."""
    from charrnn.corpus import read_text
    from charrnn.errors import UsageError
    from charrnn.evaluate import evaluate_text
    from charrnn.trained import load_trained, resolve_checkpoint
    from charrnn.vocab import describe

    if streams < 1:
        raise UsageError(f"--streams must be >= 1, got {streams}", hint="1 scores the file as one stream (exact)")
    from charrnn.cli_seq2seq import evaluate_seq2seq
    if evaluate_seq2seq(resolve_checkpoint(checkpoint), file, as_json, encoding_errors.value):  # a pairs file
        return
    trained = load_trained(resolve_checkpoint(checkpoint))
    text = read_text(file, encoding_errors.value)
    result = evaluate_text(trained, text, strict=strict, streams=streams)
    if result.skipped:
        _warn(f"skipped {result.skipped:,} character(s) not in the vocabulary: {describe(result.unknown)}")
    if as_json:
        print(json.dumps({"checkpoint": str(trained.path), "file": str(file), **result.to_dict()}))
        return
    skipped = f"{result.skipped:,}" + (f" ({len(result.unknown)} distinct)" if result.skipped else "")
    for name, value in (("nats/char", f"{result.nats_per_char:.4f}"), ("bits/char", f"{result.bits_per_char:.4f}"),
                        ("perplexity", f"{result.perplexity:.3f}"), ("chars", f"{result.chars:,}"),
                        ("skipped", skipped)):
        print(f"{name:<11} {value}")


@app.command()
@handled
def info(
    checkpoint: Annotated[Optional[Path], typer.Argument(help=_CKPT_HELP, show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the table.", show_default="off")] = False,
):
    """What a checkpoint holds: model, sizes, vocabulary, training progress, corpus, versions."""
    from charrnn.info import info_dict, render_table
    from charrnn.trained import load_trained, resolve_checkpoint

    from charrnn.cli_seq2seq import info_seq2seq
    if info_seq2seq(resolve_checkpoint(checkpoint), as_json):
        return
    d = info_dict(load_trained(resolve_checkpoint(checkpoint)))
    if as_json:
        print(json.dumps(d))
    else:
        render_table(d)
