"""CLI verb inspect-cells: find and show the hidden units that track quotes, line length and more.

stdout: the ranking and saturation tables and the heat maps (or JSON with --json); stderr: the
rest. Heat maps are coloured on a terminal; piped, each text line gets a line of marks instead.
"""

import json
import sys
from pathlib import Path
from typing import List, Optional


from charrnn.cli.app import app, handled, warn
from charrnn.cli.params import checkpoint_arg, choice, opt

MAX_TRACE_BYTES = 4 << 30  # activations held in memory (T x units float32)
MIN_RELIABLE_CHARS = 200  # fewer characters than this: a warning that the correlations mean little

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
    checkpoint: Optional[Path] = checkpoint_arg(),
    text: Optional[Path] = opt("text"),
    max_chars: int = opt("max_chars"),
    encoding_errors: choice("encoding_errors") = opt("encoding_errors", rich_help_panel="Input",
                                                     help="Invalid UTF-8 in --text: strict (error), "
                                                          "replace (U+FFFD) or ignore."),
    probe: Optional[List[str]] = opt("probe"),
    top: int = opt("top"),
    unit: Optional[List[str]] = opt("unit"),
    excerpt: int = opt("excerpt"),
    html: Optional[Path] = opt("html"),
    dump: Optional[Path] = opt("dump"),
    as_json: bool = opt("as_json", help="Print the ranking and saturation as JSON instead of tables."),
    ablation: bool = opt("ablation"),
    threads: str = opt("threads"),
):
    """Find the hidden units that track quotes, line position, brackets and more, and show them on the text."""
    from charrnn.nn.threads import blas_threads, parse_threads

    threads = parse_threads(threads)
    from charrnn.interpret import probes
    from charrnn.interpret.analysis import analyse, to_json
    from charrnn.interpret.files import write_dump
    from charrnn.outputs import check_output, check_outputs, checkpoint_inputs, write_output
    from charrnn.errors import CorpusError, UsageError
    from charrnn.interpret.page import cells_page
    import charrnn
    from charrnn.cli.progress import progress_bar
    from charrnn.cli.console import say_which
    from charrnn.interpret.text import known_text, read_known_text, training_text
    from charrnn.interpret.units import CELL_KINDS, parse_unit

    units = [parse_unit(u) for u in unit or []]  # syntax errors before any work
    names = probes.check_names(probe) if probe else None  # default: probes.default_names (needs the text)
    if dump is not None:
        check_output(dump, "--dump", "traces.npz")
    if html is not None:
        check_output(html, "--html", "cells.html")
    m = charrnn.load(checkpoint)
    m.require("inspect-cells")
    say_which(checkpoint, m)
    check_outputs({"--dump": dump, "--html": html}, [*checkpoint_inputs(m.path, m.meta), (text, "the --text read")])
    if m.task != "lm":  # a classifier or tagger (the verb check above let it through): lines, each alone
        from charrnn.cli.labelled import inspect_labelled

        return inspect_labelled(m, text, max_chars, names, top, unit or [], excerpt, html, dump, as_json,
                                encoding_errors)
    path, trained = m.path, m.trained
    cfg = trained.cfg
    units = [parse_unit(u, cfg.cell, cfg.layers, cfg.hidden) for u in unit or []]
    if text is not None:
        body = read_known_text(text, trained.vocab, max_chars, encoding_errors, warn)
        source = str(text)
    else:
        body = known_text(training_text(trained, max_chars), trained.vocab, warn)
        source = f"validation part of {trained.meta['corpus']['path']}"
    if not body:
        raise CorpusError(f"no text left to inspect in {source}",
                          hint="pass a text made of characters the model was trained on (--text FILE)")
    n_units = cfg.layers * cfg.hidden * len(CELL_KINDS[cfg.cell])
    steps = len(trained.vocab.split(body))  # (jamo: a syllable is 2-3 steps)
    if steps * n_units * 4 > MAX_TRACE_BYTES:
        raise UsageError(f"tracing {steps:,} steps x {n_units:,} activations needs "
                         f"{steps * n_units * 4 / 1e9:.1f} GB", hint="lower --max-chars")
    if len(body) < MIN_RELIABLE_CHARS:
        how = "raise --max-chars" if max_chars < MIN_RELIABLE_CHARS else "use a longer text with --text FILE"
        warn(f"only {len(body):,} characters to analyse: correlations over fewer than {MIN_RELIABLE_CHARS} "
              f"characters are unreliable ({how})")
    print(f"tracing {len(body):,} characters ({source}) through {path} "
          f"({cfg.layers} x {cfg.hidden} {cfg.cell})", file=sys.stderr)
    with progress_bar("tracing", "char") as bar, blas_threads(threads) as tuner:
        if tuner is None:
            progress = bar
        else:  # auto: the threads chosen chunk by chunk (a tick after each)
            tuner.tick()

            def progress(done: int, total: int) -> None:
                bar(done, total)
                tuner.tick()
        names = names or probes.default_names(body, trained.vocab.tokens)
        a = analyse(trained, body, names, top, progress=progress)
    extra = list(dict.fromkeys(a.traces.column(*u) for u in units))  # in the order given, once each
    ablated = None
    if ablation:
        from charrnn.interpret.ablation import ablation as measure_ablation

        with progress_bar("ablating", "char") as bar, blas_threads(threads):
            ablated = measure_ablation(trained, a, progress=bar)

    if dump is not None:
        write_dump(dump, a)
        print(f"wrote {dump}", file=sys.stderr)
    if html is not None:
        summary = (f"{path}: {cfg.layers}-layer {cfg.cell}, {cfg.hidden} units per layer; "
                   f"{len(body):,} characters of {source}.")
        page = cells_page(a, summary, title=str(path), chosen=extra, vocab=trained.vocab.chars,
                          trained=trained, ablation=ablated).encode("utf-8")
        write_output(html, lambda f: f.write(page), "--html")
        print(f"wrote {html}", file=sys.stderr)
        from charrnn.interpret.page_model import MAX_BYTES
        from charrnn.tasks.lm import n_params

        if 4 * n_params(cfg) > MAX_BYTES:
            warn(f"the page's live panel is off: the model's {n_params(cfg):,} parameters are more than the "
                 f"{MAX_BYTES >> 20} MB of float32 weights a page embeds")
    if as_json:
        out = to_json(a, str(path))
        if ablated is not None:
            out["ablation"] = [{k: v for k, v in row.items() if k != "label"} for row in ablated]
        print(json.dumps(out, indent=2))
        return
    _print_report(a, extra, excerpt, ablated)


def _print_report(a, extra: list[int], excerpt: int, ablated=None) -> None:
    from rich.table import Table
    from rich.text import Text

    from charrnn.cli.console import console
    from charrnn.interpret.analysis import WEAK_R
    from charrnn.interpret.render import heat_plain, heat_text
    from charrnn.interpret.scale import FULL, describe, robust_scale

    out = console(sys.stdout)  # every user string (probe names, text) goes in as Text: no markup
    table = Table(title="Top units per probe", title_justify="left", caption_justify="left",
                  caption=Text(f"Pearson r over {len(a.text):,} characters, strongest probe first; weak: best "
                               f"|r| < {WEAK_R}; tanh(c) is what an LSTM's output gate reads"))
    for col, just in (("probe", "left"), ("unit", "left"), ("r", "right")):
        table.add_column(col, justify=just)
    last = max((row["rank"] for row in a.top), default=0)
    for row in a.top:
        r, weak = row["r"], a.weak(row["probe"])
        name = (row["probe"] + (" (weak)" if weak else "")) if row["rank"] == 1 else ""
        table.add_row(Text(name, style="dim" if weak else ""), Text(row["label"], style="dim" if weak else ""),
                      Text(f"{r:+.3f}", style="dim" if weak else "red" if r > 0 else "blue" if r < 0 else ""),
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
    if ablated:
        out.print(_ablation_table(ablated))
    if excerpt == 0:
        return
    text = a.text if a.chars is None else a.chars  # jamo: each syllable shown with the state after it
    start, stop = _excerpt(text, excerpt)
    shown = [(u, "chosen unit") for u in extra]  # `extra` has no repeats
    seen = set(extra)
    for row in a.top:
        if row["rank"] == 1 and row["unit"] not in seen and not a.weak(row["probe"]):
            seen.add(row["unit"])
            shown.append((row["unit"], f"top unit for {row['probe']}, r = {row['r']:+.3f}"))
    colour = out.color_system is not None
    legend = ("background: white at the unit's median, red above, blue below" if colour else
              "marks under each character, against the unit's median: # above by more than half the scale, "
              "+ by more than 0.15 of it, - below by 0.15, = below by half")
    out.print(Text(f"\nHeat maps of characters {start:,}..{stop:,} ({legend}; the scale is {FULL:g} robust "
                   "standard deviations of the unit over the whole text; weak probes are not shown"
                   + ("; jamo tokens: each syllable shows the state after its last jamo" if a.chars else "") + ")",
                   style="bold"))
    for u, why in shown:
        values = a.values(u)
        centre, spread = robust_scale(values)
        out.print(Text(f"\n{a.label(u)} ({why}; {describe(centre, spread)})", style="bold"))
        part = a.per_char(values)[start:stop] - centre
        if colour:
            out.print(heat_text(text[start:stop], part, FULL * spread))
        else:
            print(heat_plain(text[start:stop], part, FULL * spread), file=out.file, flush=True)


def _ablation_table(rows):
    from rich.table import Table
    from rich.text import Text

    def nats(v):
        return "-" if v is None else f"{v:+.3f}"

    table = Table(title="Ablation: loss change when the unit is zeroed at every step (nats/char, zeroed - intact)",
                  title_justify="left", caption_justify="left",
                  caption=Text("active: the characters where the probe is above its smallest value; random: a unit "
                               "of the same layer and kind, the bystander baseline"))
    for col in ("probe", "unit", "all", "active", "random unit", "all ", "active "):
        table.add_column(col, justify="left" if col in ("probe", "unit", "random unit") else "right")
    for r in rows:
        table.add_row(Text(r["probe"]), Text(r["unit"]), nats(r["delta_all"]), nats(r["delta_active"]),
                      Text(r["random_unit"]), nats(r["random_delta_all"]), nats(r["random_delta_active"]))
    return table
