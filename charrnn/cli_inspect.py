"""CLI verb inspect-cells: find and show the hidden units that track quotes, line length and more.

stdout: the ranking and saturation tables and the heat maps (or JSON with --json); stderr: the
rest. Heat maps are coloured on a terminal; piped, each text line gets a line of marks instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from charrnn.cli import EncodingErrors, Threads, app, handled

MAX_TRACE_BYTES = 4 << 30  # activations held in memory (T x units float32)
MIN_RELIABLE_CHARS = 200  # fewer characters than this: a warning that the correlations mean little

_PROBE_HELP = ("Probe to rank units against (repeatable): in_double_quotes, "
               "in_single_quotes, in_string, line_position, chars_to_eol, bracket_depth, indentation, "
               "in_comment, word_start, upper_case, or regex:PATTERN.")


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _at_least(value: int, option: str, low: int, hint: str) -> None:
    from charrnn.errors import UsageError

    if value < low:
        raise UsageError(f"invalid value for {option}: {value!r} (a whole number >= {low})", hint=hint)


def _excerpt(text: str, n: int) -> tuple[int, int]:
    """[start, stop) of the excerpt: n characters (all of them whenever the text has that many),
    from a line start after the state warmed up (about 200 characters in, when the text allows)."""
    last = len(text) - n  # the latest start that still shows n characters
    if last <= 0:
        return 0, len(text)
    want = min(200, last)
    nl = text.find("\n", want - 1, min(want + 200, last))  # the first line start at or after `want`
    if nl < 0 and want > 0:
        nl = text.rfind("\n", max(0, want - 200), want)  # else the last one before it
    start = nl + 1 if nl >= 0 else want
    return start, start + n


@app.command("inspect-cells")
@handled
def inspect_cells(
    checkpoint: Annotated[Optional[Path], typer.Argument(help="Checkpoint (default: checkpoints/best.npz, else latest.npz).", show_default=False)] = None,
    text: Annotated[Optional[Path], typer.Option("--text", help="Text to run the model on (none: the validation part of its training corpus).", show_default="none")] = None,
    max_chars: Annotated[int, typer.Option(help="Use at most this many characters of the text (only those are read).")] = 20000,
    probe: Annotated[Optional[List[str]], typer.Option("--probe", metavar="NAME", help=_PROBE_HELP, show_default="all built-in")] = None,
    top: Annotated[int, typer.Option(help="Units shown per probe.")] = 3,
    unit: Annotated[Optional[List[str]], typer.Option(metavar="LAYER:KIND:INDEX", help="Show this unit's heat map, as LAYER:KIND:INDEX (e.g. 1:c:37; KIND h, c, i, f, o, r or z; counting from 0). Repeatable.", show_default="none")] = None,
    excerpt: Annotated[int, typer.Option(help="Characters of text per heat map in the terminal (0: no heat maps).")] = 400,
    html: Annotated[Optional[Path], typer.Option("--html", help="Write a self-contained HTML page with the heat maps and a unit picker.", show_default="none")] = None,
    dump: Annotated[Optional[Path], typer.Option("--dump", help="Write the raw traces, text, unit index and probes to this .npz.", show_default="none")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ranking and saturation as JSON instead of tables.", show_default="off")] = False,
    encoding_errors: Annotated[EncodingErrors, typer.Option(help="Invalid UTF-8 in --text: strict (error), replace (U+FFFD) or ignore.")] = EncodingErrors.strict,
    threads: Threads = "auto",
):
    """Find the hidden units that track quotes, line position, brackets and more, and show them on the text."""
    from charrnn import probes
    from charrnn.cellreport import analyse, check_output, html_series, to_json, write_atomic, write_dump
    from charrnn.errors import CorpusError, UsageError
    from charrnn.render import html_page
    from charrnn.threads import blas_threads, parse_threads
    from charrnn.trained import load_trained, resolve_checkpoint
    from charrnn.traces import CELL_KINDS, known_text, parse_unit, read_known_text, training_text

    threads = parse_threads(threads)
    _at_least(max_chars, "--max-chars", 1, "the number of characters of the text to analyse, e.g. --max-chars 20000")
    _at_least(top, "--top", 1, "the number of units shown per probe, e.g. --top 3")
    _at_least(excerpt, "--excerpt", 0, "characters per heat map; 0 shows none")
    units = [parse_unit(u) for u in unit or []]  # syntax errors before any work
    names = probes.check_names(probe or probes.BUILTIN)
    if dump is not None:
        check_output(dump, "--dump", "traces.npz")
    if html is not None:
        check_output(html, "--html", "cells.html")
    path = resolve_checkpoint(checkpoint)
    trained = load_trained(path)
    cfg = trained.cfg
    units = [parse_unit(u, cfg.cell, cfg.layers, cfg.hidden) for u in unit or []]
    if text is not None:
        body = read_known_text(text, trained.vocab, max_chars, encoding_errors.value, _warn)
        source = str(text)
    else:
        body = known_text(training_text(trained, max_chars), trained.vocab, _warn)
        source = f"validation part of {trained.meta['corpus']['path']}"
    if not body:
        raise CorpusError(f"no text left to inspect in {source}",
                          hint="pass a text made of characters the model was trained on (--text FILE)")
    n_units = cfg.layers * cfg.hidden * len(CELL_KINDS[cfg.cell])
    if len(body) * n_units * 4 > MAX_TRACE_BYTES:
        raise UsageError(f"tracing {len(body):,} characters x {n_units:,} activations needs "
                         f"{len(body) * n_units * 4 / 1e9:.1f} GB", hint="lower --max-chars")
    if len(body) < MIN_RELIABLE_CHARS:
        how = "raise --max-chars" if max_chars < MIN_RELIABLE_CHARS else "use a longer text with --text FILE"
        _warn(f"only {len(body):,} characters to analyse: correlations over fewer than {MIN_RELIABLE_CHARS} "
              f"characters are unreliable ({how})")
    print(f"tracing {len(body):,} characters ({source}) through {path} "
          f"({cfg.layers} x {cfg.hidden} {cfg.cell})", file=sys.stderr)
    with blas_threads(threads) as tuner:  # auto: chosen chunk by chunk (a tick after each)
        if tuner is not None:
            tuner.tick()
        a = analyse(trained, body, names, top, progress=tuner.tick if tuner is not None else None)
    extra = list(dict.fromkeys(a.traces.column(*u) for u in units))  # in the order given, once each

    if dump is not None:
        write_dump(dump, a)
        print(f"wrote {dump}", file=sys.stderr)
    if html is not None:
        summary = (f"{path}: {cfg.layers}-layer {cfg.cell}, {cfg.hidden} units per layer; "
                   f"{len(body):,} characters of {source}. Hover a character for its value.")
        if a.constant:
            summary += " Constant in this text (not ranked): " + ", ".join(a.constant) + "."
        page = html_page(body, html_series(a, extra), a.top, summary, title=str(path)).encode("utf-8")
        write_atomic(html, lambda f: f.write(page), "--html")
        print(f"wrote {html}", file=sys.stderr)
    if as_json:
        print(json.dumps(to_json(a, str(path)), indent=2))
        return
    _print_report(a, extra, excerpt)


def _print_report(a, extra: list[int], excerpt: int) -> None:
    from rich.table import Table
    from rich.text import Text

    from charrnn.render import console, heat_plain, heat_text, scale_of

    out = console(sys.stdout)  # every user string (probe names, text) goes in as Text: no markup
    table = Table(title="Top units per probe", title_justify="left",
                  caption=f"Pearson r over {len(a.text):,} characters", caption_justify="left")
    for col, just in (("probe", "left"), ("unit", "left"), ("r", "right")):
        table.add_column(col, justify=just)
    last = max((row["rank"] for row in a.top), default=0)
    for row in a.top:
        r = row["r"]
        table.add_row(Text(row["probe"] if row["rank"] == 1 else ""), Text(row["label"]),
                      Text(f"{r:+.3f}", style="red" if r > 0 else "blue" if r < 0 else ""),
                      end_section=row["rank"] == last)
    for name in a.constant:
        table.add_row(Text(name), "-", "constant in this text", end_section=True)
    out.print(table)
    if a.saturation:
        sat = Table(title="Gate saturation: share of time < 0.1 / > 0.9", title_justify="left")
        for col in ("layer", "gate", "units", "< 0.1", "> 0.9", "mostly < 0.1", "mostly > 0.9"):
            sat.add_column(col, justify="left" if col == "gate" else "right")
        for s in a.saturation:
            sat.add_row(str(s["layer"]), s["gate"], str(s["units"]), f"{s['left']:.1%}", f"{s['right']:.1%}",
                        str(s["mostly_left"]), str(s["mostly_right"]))
        out.print(sat)
    if excerpt == 0:
        return
    start, stop = _excerpt(a.text, excerpt)
    shown = [(u, "chosen unit") for u in extra]  # `extra` has no repeats
    seen = set(extra)
    for row in a.top:
        if row["rank"] == 1 and row["unit"] not in seen:
            seen.add(row["unit"])
            shown.append((row["unit"], f"top unit for {row['probe']}, r = {row['r']:+.3f}"))
    colour = out.color_system is not None
    legend = ("background: red positive, blue negative" if colour else
              "marks under each character: # > 0.5, + > 0.15, - < -0.15, = < -0.5 of the scale")
    out.print(Text(f"\nHeat maps of characters {start:,}..{stop:,} ({legend}; "
                   "scaled by the unit's largest |activation| over the whole text)", style="bold"))
    for u, why in shown:
        values = a.traces.acts[:, u]
        scale = scale_of(values)
        out.print(Text(f"\n{a.traces.label(u)} ({why}; scale ±{scale:.3g})", style="bold"))
        if colour:
            out.print(heat_text(a.text[start:stop], values[start:stop], scale))
        else:
            print(heat_plain(a.text[start:stop], values[start:stop], scale), file=out.file, flush=True)
