"""CLI verbs that use a trained model: sample, evaluate, info (bodies in the library).

stdout carries only the product: the sampled text, the evaluation figures, the info table (or
their JSON); warnings and notes go to stderr.
"""

import json
import sys
from pathlib import Path
from typing import Optional


from charrnn.cli.app import app, handled
from charrnn.cli.params import checkpoint_arg, choice, file_arg, opt



def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


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
):
    """Generate text from a trained model; the text streams to stdout as it is generated."""
    import numpy as np

    from charrnn.sample import clean_prime, generate, stream
    from charrnn.trained_model import load_trained, resolve_checkpoint

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
    checkpoint: Path = checkpoint_arg(required=True),
    file: Path = file_arg("UTF-8 text file to score.", "FILE"),
    strict: bool = opt("strict"),
    as_json: bool = opt("as_json"),
    streams: int = opt("streams"),
    encoding_errors: choice("encoding_errors") = opt("encoding_errors", rich_help_panel="Input"),
):
    """Loss of a model on a text file: nats/char, bits/char and perplexity, state carried over the whole file."""
    from charrnn.corpus import read_text
    from charrnn.evaluate import evaluate_text
    from charrnn.trained_model import load_trained, resolve_checkpoint
    from charrnn.vocab import unknown_message

    trained = load_trained(resolve_checkpoint(checkpoint))
    text = read_text(file, encoding_errors)
    result = evaluate_text(trained, text, strict=strict, streams=streams)
    if result.skipped:
        _warn(unknown_message(result.skipped, result.unknown, "skipped"))
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
    checkpoint: Optional[Path] = checkpoint_arg(),
    as_json: bool = opt("as_json"),
):
    """What a checkpoint holds: model, sizes, vocabulary, training progress, corpus, versions."""
    from charrnn.cli.console import info_table
    from charrnn.info import info_dict
    from charrnn.trained_model import load_trained, resolve_checkpoint

    d = info_dict(load_trained(resolve_checkpoint(checkpoint)))
    if as_json:
        print(json.dumps(d))
    else:
        info_table(d)
