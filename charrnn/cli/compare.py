"""CLI verb compare: training runs side by side (table, learning curves, --html page, --json).

stdout: the table and the two charts (or the JSON); stderr: notes such as the file written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from charrnn.cli.app import app, handled, warn
from charrnn.cli.params import opt


SHOWN_ALREADY = ("--model", "--layers", "--hidden")  # the cell and size columns show them


def _dur(seconds) -> str:
    from charrnn.use.compare import clock

    return "-" if seconds is None else clock(seconds)


def _loss(v) -> str:
    return "-" if v is None else f"{v:.4f} ({v / 0.6931471805599453:.3f})"


def _value(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


@app.command()
@handled
def compare(
    runs: List[Path] = typer.Argument(..., metavar="RUN_OR_CHECKPOINT", show_default=False,
                                      help="Run directories (train --out) or checkpoint files."),
    html: Optional[Path] = opt("html", help="Also write one self-contained HTML page: interactive curves and "
                                            "the samples logged along the way."),
    as_json: bool = opt("as_json", help="Print one JSON object (every run's summary, options, curve and "
                                        "samples) instead of the table."),
    width: int = opt("width"),
):
    """Compare training runs: size, speed, best and last validation loss, the options that differ, learning curves.

    Example: charrnn compare runs/rnn runs/lstm runs/gru --html compare.html
    """
    from charrnn.use.compare import compare as load
    from charrnn.outputs import check_output, check_outputs, run_files, write_output

    if html is not None:
        check_output(html, "--html", "compare.html")
        check_outputs({"--html": html}, [*((r, "a run compared") for r in runs if not r.is_dir()),
                                         *(i for r in runs for i in run_files(r))])
    c = load(runs)
    for note in c.notes:
        warn(note)
    if html is not None:
        from charrnn.use.compare_page import compare_page

        page = compare_page(c).encode("utf-8")
        write_output(html, lambda f: f.write(page), "--html")
        print(f"wrote {html}", file=sys.stderr)
    if as_json:
        print(json.dumps(c.to_dict()))
        return
    _print(c, width)


def _print(c, width: int) -> None:
    from rich.table import Table
    from rich.text import Text

    from charrnn.cli.console import console
    from charrnn.cli.textplot import chart
    from charrnn.use.compare import clock

    out = console(sys.stdout)
    table = Table(title="Runs", title_justify="left", caption_justify="left",
                  caption=Text("val loss: nats/char (bits/char); time: wall clock from the start to the last "
                               "evaluation, validation included (m:s or h:m:s); chars/s: median training speed"))
    s2s = any(r.best_exact is not None or r.last_exact is not None for r in c.runs)
    cols = ["run", "cell", "size", "params", "steps", "epochs", "time", "chars/s", "best val", "last val"]
    cols += ["best exact", "last exact"] if s2s else []
    accuracy = any("val_accuracy" in p for r in c.runs for p in r.curve)  # classify, tag runs
    cols += ["best acc"] if accuracy else []
    shown = [k for k in c.differing if k not in SHOWN_ALREADY]
    cols += shown
    for name in cols:
        table.add_column(name, justify="left" if name in ("run", "cell", "corpus") else "right")
    for r in c.runs:
        row = [r.name, r.cell, f"{r.layers}x{r.hidden}", f"{r.parameters:,}", f"{r.steps:,}",
               "-" if r.epochs is None else f"{r.epochs:.2f}", _dur(r.train_seconds),
               "-" if r.chars_per_s is None else f"{r.chars_per_s:,.0f}", _loss(r.best_val), _loss(r.last_val)]
        row += [_pct(r.best_exact), _pct(r.last_exact)] if s2s else []
        row += [_pct(max((p["val_accuracy"] for p in r.curve if "val_accuracy" in p), default=None))] if accuracy else []
        row += [_value(r.options.get(k)) for k in shown]
        table.add_row(*(Text(v) for v in row))
    # as wide as the table needs: a pipe gets every column whole rather than cut at 80 characters
    from rich.measure import Measurement

    out.width = max(out.width, Measurement.get(out, out.options.update_width(10_000), table).maximum)
    out.print(table)
    if len(c.runs) > 1 and not c.differing:
        out.print(Text("every option is the same in all runs"))
    series = [(r.name, [p["step"] for p in r.curve], [p["val_loss"] for p in r.curve]) for r in c.runs]
    lines = ["", "Validation loss against step"]
    lines += chart(series, width=width, x_label="step", y_label="nats/char")
    timed = [(r.name, [p["elapsed"] for p in r.curve], [p["val_loss"] for p in r.curve]) for r in c.runs]
    lines += ["", "Validation loss against wall-clock time"]
    lines += chart(timed, width=width, x_label="time (m:s)", y_label="nats/char", x_format=clock)
    for key, title in (("val_exact_match", "Exact match against step (seq2seq, greedy)"),
                       ("val_char_error_rate", "Character error rate against step (seq2seq, greedy)"),
                       ("val_accuracy", "Validation accuracy against step (classify, tag)"),
                       ("val_macro_f1", "Validation macro-F1 against step (classify, tag)")):
        more = [(r.name, [p["step"] for p in r.curve if key in p], [p[key] for p in r.curve if key in p])
                for r in c.runs if any(key in p for p in r.curve)]
        if more:
            lines += ["", title] + chart(more, width=width, x_label="step", y_label=key[4:].replace("_", " "))
    print("\n".join(lines), file=out.file, flush=True)


def _pct(v) -> str:
    return "-" if v is None else f"{v:.2%}"
