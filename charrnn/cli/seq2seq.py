"""`charrnn translate`, and the seq2seq side of `train --task seq2seq` (its progress output),
`evaluate` on a pairs file and `info` (bodies in the library: train_seq2seq.py, translate.py).
stdout carries the product (translations, figures); progress and logs go to stderr.
"""

import json
import sys
from pathlib import Path
from typing import Optional

from charrnn.cli.app import app, handled
from charrnn.cli.params import checkpoint_arg, opt


# --------------------------------------------------------------------------------- translate
@app.command()
@handled
def translate(
    checkpoint: Optional[Path] = checkpoint_arg(),
    text: Optional[Path] = opt("text", help="File of inputs, one per line (none: read stdin)."),
    beam: Optional[int] = opt("beam"),
    max_len: Optional[int] = opt("max_len"),
    temp: float = opt("translate_temp"),
    seed: Optional[int] = opt("sample_seed", help="Random seed for --temp (none: a fresh one).",
                              rich_help_panel="Decoding"),
    threads: str = opt("threads"),
):
    """Translate each input line with a model trained by `charrnn train PAIRS.tsv --task seq2seq`.

    Examples: echo "29 November 2026" | charrnn translate runs/dates/best.npz;
    charrnn translate runs/dates/best.npz --text inputs.txt --beam 5
    """
    from charrnn.cli.use import say_which
    from charrnn.data.corpus import read_text
    from charrnn.engine.trained import resolve_checkpoint
    from charrnn.use.translate import check_decoding, load_seq2seq

    check_decoding(beam, max_len, temp)
    m = load_seq2seq(resolve_checkpoint(checkpoint, hint="train a seq2seq model first, e.g. `make demo-seq2seq` or "
                                         "`charrnn train PAIRS.tsv --task seq2seq --out runs/dates`, "
                                         "then pass its checkpoint or folder"))
    say_which(checkpoint, m)
    with decoding_threads(threads):
        if sys.stdin.isatty() and text is None:  # interactive: answer each line as it is typed
            for line in sys.stdin:
                print(m.translate([line.rstrip("\r\n")], beam, max_len, temp, seed)[0], flush=True)
            return
        empty_file = text is not None and text.is_file() and text.stat().st_size == 0
        lines = ("" if empty_file else read_text(text) if text is not None else read_stdin()).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:  # an empty file as empty stdin: nothing to translate, nothing printed
            print(f"note: nothing to translate: {text or 'stdin'} is empty", file=sys.stderr)
            return
        for out in m.translate([ln.rstrip("\r") for ln in lines], beam, max_len, temp, seed):
            print(out)


def read_stdin() -> str:
    """All of stdin as UTF-8 (a leading byte-order mark dropped, as for files), whatever the locale."""
    from charrnn.errors import CorpusError

    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CorpusError(f"the input on stdin is not valid UTF-8: byte 0x{data[e.start]:02x} at offset {e.start:,}",
                          hint="convert it to UTF-8 (iconv -f OLD -t UTF-8)") from None


def decoding_threads(threads):
    """The BLAS threads for decoding; auto means 1, as for `sample`: the products are small (one
    row per input), and a timing-based choice could change the draws of a seed."""
    from charrnn.nn.threads import AUTO, blas_threads, parse_threads

    threads = parse_threads(threads)
    return blas_threads(1 if threads == AUTO else threads)


# ------------------------------------------------------------------------------ evaluate, info
def evaluate_seq2seq(m, file: Path, as_json: bool, encoding_errors: str = "strict", threads=None) -> None:
    """`charrnn evaluate` with a seq2seq model `m`: FILE is a pairs file."""
    from charrnn.data.pairs import read_pairs
    from charrnn.use.translate import evaluate_pairs

    pairs, _ = read_pairs(file, skip_bad_lines=None, encoding_errors=encoding_errors)  # every pair counts
    with decoding_threads(threads if threads is not None else "auto"):
        s = evaluate_pairs(m, pairs, path=file)
    if as_json:
        print(json.dumps({"checkpoint": str(m.path), "file": str(file), **s.to_dict()}))
        return
    for name, value in (("exact match", f"{s.exact_match:.2%}"), ("char error rate", f"{s.char_error_rate:.4f}"),
                        ("nats/char", f"{s.nats_per_char:.4f} (teacher-forced)"), ("pairs", f"{s.pairs:,}")):
        print(f"{name:<16} {value}")


def info_seq2seq(m, as_json: bool) -> None:
    """`charrnn info` with a seq2seq model `m`."""
    from rich.table import Table
    from rich.text import Text

    from charrnn.cli.console import console
    from charrnn.data.vocab import display

    d = m.info()
    if as_json:
        print(json.dumps(d))
        return

    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    table = Table(title=Text(f"charrnn checkpoint {d['checkpoint']}"), title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    tf = d["teacher_forcing"]
    rows = [("task", "seq2seq (encoder-decoder)"),
            ("model", f"{d['cell'].upper()} encoder and decoder, {d['layers']} layer(s) x {d['hidden']} hidden units"),
            ("parameters", f"{d['parameters']:,}"), ("dtype", d["dtype"]),
            ("vocabulary", f"{d['vocab_size']} characters + END, START, PAD (ids {d['tokens']['end']}, "
                           f"{d['tokens']['start']}, {d['tokens']['pad']})"),
            ("characters", " ".join(display(c) for c in d["vocab"])),
            ("teacher forcing", "-" if tf is None else f"{tf:g}" + (
                f", falling to 0 over {d['teacher_forcing_decay']:,} steps" if d["teacher_forcing_decay"] else "")),
            ("step", num(d["step"], ",")), ("epoch", num(d["epoch"], "")),
            ("val loss", num(d["val_loss"], ".4f") + " nats/char (teacher-forced)"),
            ("val exact match", num(d["val_exact_match"], ".2%") + " (greedy, free-running)"),
            ("best", f"{num(d['best_exact_match'], '.2%')} exact match, {num(d['best_val_loss'], '.4f')} nats/char"),
            ("corpus", f"{d['corpus'] or '-'}" + ("" if d["corpus_pairs"] is None else f" ({d['corpus_pairs']:,} pairs)")),
            ("created", d["created"] or "-")]
    for k, v in rows:
        table.add_row(k, Text(v))
    console(sys.stdout).print(table)
