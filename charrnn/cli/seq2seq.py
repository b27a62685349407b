"""`charrnn translate`: a seq2seq model's outputs for lines of input (the body: use/translate.py).
stdout carries the product (translations, figures); progress and logs go to stderr.
"""

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
    import charrnn
    from charrnn.cli.console import say_which
    from charrnn.data.corpus import read_text
    from charrnn.engine.trained import resolve_checkpoint
    from charrnn.use.translate import check_decoding, default_max_len

    check_decoding(beam, max_len, temp)
    m = charrnn.load(resolve_checkpoint(checkpoint, hint="train a seq2seq model first, e.g. `make demo-seq2seq` or "
                                        "`charrnn train PAIRS.tsv --task seq2seq --out runs/dates`, "
                                        "then pass its checkpoint or folder"))
    m.require("translate")  # a model of another task: its usage error, before reading any input
    say_which(checkpoint, m)
    with decoding_threads(threads):
        if sys.stdin.isatty() and text is None:  # interactive: answer each line as it is typed
            for line in sys.stdin:
                capped = []
                print(m.translate([line.rstrip("\r\n")], beam, max_len, temp, seed, capped)[0], flush=True)
                _say_capped(capped, 1, max_len or default_max_len(m.trained))
            return
        empty_file = text is not None and text.is_file() and text.stat().st_size == 0
        lines = ("" if empty_file else read_text(text) if text is not None else read_stdin()).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:  # an empty file as empty stdin: nothing to translate, nothing printed
            print(f"note: nothing to translate: {text or 'stdin'} is empty", file=sys.stderr)
            return
        capped = []
        for out in m.translate([ln.rstrip("\r") for ln in lines], beam, max_len, temp, seed, capped):
            print(out)
        _say_capped(capped, len(lines), max_len or default_max_len(m.trained))


def _say_capped(capped: list, total: int, cap: int) -> None:
    """One warning line for the outputs cut at the cap (positions from 0; lines are numbered from 1)."""
    if capped:
        where = ", ".join(str(i + 1) for i in capped[:5]) + (" ..." if len(capped) > 5 else "")
        print(f"warning: {len(capped)} of {total} translation(s) reached the cap of {cap:,} characters without "
              f"ending (input line {where}): raise --max-len to allow longer outputs", file=sys.stderr)


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


