"""CLI verb inspect-memory: how many characters back a model looks, and how far back its gradient
reaches (charrnn.memory), for one checkpoint or several side by side.

stdout: the summary table, then the curves as numbers at k = 0, 1, 2, 4, ... with a sparkline
(plain characters: legible when piped), or one JSON object with --json; stderr: the rest.
"""


import json
import math
import re
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from charrnn.cli.app import app, handled, warn
from charrnn.cli.params import choice, opt

SPARKS = "▁▂▃▄▅▆▇█"
LOG_FLOOR = -8  # sparklines of gradient ratios span 1e-8 .. 1


@app.command("inspect-memory")
@handled
def inspect_memory(
    checkpoints: Optional[List[Path]] = typer.Argument(None, metavar="CHECKPOINT", show_default=False,
                                                       help="Checkpoints to compare side by side (files, or "
                                                            "directories: their best.npz, else latest.npz); "
                                                            "default: checkpoints/."),
    text: Optional[Path] = opt("text", help="Text to measure on (none: the validation part of the first "
                                            "checkpoint's training corpus)."),
    max_chars: int = opt("max_chars"),
    encoding_errors: choice("encoding_errors") = opt("encoding_errors", rich_help_panel="Input",
                                                     help="Invalid UTF-8 in --text: strict (error), "
                                                          "replace (U+FFFD) or ignore."),
    max_context: int = opt("max_context"),
    max_targets: int = opt("max_targets"),
    max_distance: int = opt("max_distance"),
    positions: int = opt("positions"),
    init: bool = opt("init"),
    at: Optional[int] = opt("at"),
    at_match: Optional[str] = opt("at_match"),
    html: Optional[Path] = opt("html", help="Write a self-contained HTML page with the curves and the saliency "
                                            "heat maps."),
    dump: Optional[Path] = opt("dump", help="Write the raw measurements to this .npz."),
    as_json: bool = opt("as_json"),
    quiet: bool = opt("quiet", help="No progress bar."),
    threads: str = opt("threads"),
):
    """Measure how much context each model uses and how far back its gradient reaches.

    Examples:

        charrnn inspect-memory

        charrnn inspect-memory rnn/best.npz lstm/best.npz gru/best.npz --init --html memory.html

        charrnn inspect-memory run/best.npz --at-match 'return ' --dump memory.npz --json
    """
    from charrnn.cli.progress import progress_bar
    from charrnn.data.corpus import read_text
    from charrnn.errors import UsageError
    from charrnn.outputs import check_output, check_outputs, checkpoint_inputs, write_output
    from charrnn.interpret.memory import measure, prepare
    from charrnn.interpret.memory_plan import work
    from charrnn.interpret.memory_html import memory_page
    from charrnn.interpret.text import training_text
    from charrnn.nn.threads import blas_threads, parse_threads
    from charrnn.engine.trained import load_trained, resolve_checkpoint

    threads = parse_threads(threads)

    if at is not None and at_match is not None:
        raise UsageError("--at and --at-match both name a saliency target", hint="give one of them")
    pattern = None
    if at_match is not None:
        try:
            pattern = re.compile(at_match, re.MULTILINE)
        except re.error as e:
            raise UsageError(f"invalid --at-match {at_match!r}: {e}",
                             hint="a Python regular expression, e.g. --at-match 'return '") from None
    if dump is not None:
        check_output(dump, "--dump", "memory.npz")
    if html is not None:
        check_output(html, "--html", "memory.html")
    paths = [resolve_checkpoint(p) for p in (checkpoints or [None])]
    models = [load_trained(p) for p in paths]
    check_outputs({"--dump": dump, "--html": html},
                  [*(i for p, t in zip(paths, models) for i in checkpoint_inputs(p, t.meta)), (text, "the --text read")])
    if text is not None:
        body, source = read_text(text, encoding_errors)[:max_chars], str(text)
    else:
        body = training_text(models[0], max_chars)
        source = f"validation part of {models[0].meta['corpus']['path']}"
    target = at
    if pattern is not None:
        m = pattern.search(body)
        if m is None:
            raise UsageError(f"--at-match {at_match!r} matches nothing in the text ({source})",
                             hint="try a pattern that occurs in the text, or --at N")
        target = max(m.start(), m.end() - 1)
        if target < 1:
            raise UsageError(f"--at-match {at_match!r} matches the first character: nothing comes before it",
                             hint="make the pattern match later in the text, or use --at N")
    if target is None and len(body) >= 2:
        target = len(body) // 2
    jobs = [prepare(trained, body, max_context, max_targets, max_distance, positions, target, warn)
            for trained in models]

    print(f"measuring {len(jobs)} model(s) on {len(body):,} characters ({source})", file=sys.stderr)
    results, total, done = [], sum(work(len(j.ids), j.plan, init, t.cfg.cell) for j, t in zip(jobs, models)), [0]
    with progress_bar("measuring", "step", quiet=quiet) as bar, blas_threads(threads) as tuner:
        if tuner is not None:  # auto: the threads chosen as the work goes (a tick after each piece)
            tuner.tick()

        def progress(n: int) -> None:
            done[0] += n
            bar(done[0], total)
            if tuner is not None:
                tuner.tick()
        for path, trained, job in zip(paths, models, jobs):
            seed = trained.train_cfg.seed if init else None
            m = measure(trained.params, trained.cfg, job.ids, job.plan, job.points, seed, progress=progress)
            m.extra.update(skipped=job.skipped, checkpoint=str(path))
            results.append(m)

    if dump is not None:
        arrays = _dump_arrays(results)
        write_output(dump, lambda f: np.savez(f, **arrays), "--dump")
        print(f"wrote {dump}", file=sys.stderr)
    if html is not None:
        summary = (f"{len(body):,} characters of {source}. Context usage: L(k) over {len(results[0].context_targets):,} "
                   f"targets; gradient reach: median over {len(results[0].positions)} targets.")
        page = memory_page(results, summary).encode("utf-8")
        write_output(html, lambda f: f.write(page), "--html")
        print(f"wrote {html}", file=sys.stderr)
    if as_json:
        print(json.dumps({"models": [to_json(m) for m in results]}, indent=1))
        return
    _print_report(results)


# ----------------------------------------------------------------------------- JSON, dump
def _summary(m, checkpoint: str) -> dict:
    return {
        "checkpoint": checkpoint, "cell": m.cell, "layers": m.layers, "hidden": m.hidden,
        "full_loss": round(m.loss_full, 6), "contexts": [int(k) for k in m.contexts],
        "context_loss": [round(float(v), 6) for v in m.loss_at], "effective_context": m.effective_context,
        "distances": [int(k) for k in m.distances],
        "grad_h_median": [[float(f"{v:.6g}") for v in row] for row in m.grad_h_median],
        "gradient_horizon": [int(k) for k in m.gradient_horizon],
        "grad_c_median": None if m.grad_c_median is None else [[float(f"{v:.6g}") for v in row]
                                                               for row in m.grad_c_median],
        "c_horizon": None if m.c_horizon is None else [int(k) for k in m.c_horizon],
    }


def to_json(m) -> dict:
    """One entry of --json's "models": the keys of the README, `init` the same for the fresh model."""
    d = _summary(m, m.extra["checkpoint"])
    d["init"] = None if m.init is None else dict(_summary(m.init, m.extra["checkpoint"]), init=None)
    if m.init is not None:  # an LSTM's fresh twin at forget bias 1 (the cell-state highway); None for others
        d["init_highway"] = (None if m.init_highway is None else
                             dict(_summary(m.init_highway, m.extra["checkpoint"]), init=None))
    return d


def _dump_arrays(results) -> dict:
    arrays = {}
    for i, m in enumerate(results):
        p = f"m{i}/"
        arrays.update({p + "text": m.text.astype(np.uint32), p + "positions": m.positions.astype(np.int64),
                       p + "grad_h": m.grad_h.astype(np.float64), p + "contexts": m.contexts.astype(np.int64),
                       p + "context_targets": m.context_targets.astype(np.int64),
                       p + "context_loss": m.context_loss.astype(np.float64),
                       p + "full_loss": m.full_loss.astype(np.float64)})
        if m.grad_c is not None:
            arrays[p + "grad_c"] = m.grad_c.astype(np.float64)
    return arrays


# ------------------------------------------------------------------------------ terminal
def sparkline(values, low: float = LOG_FLOOR, high: float = 0.0, width: int = 64) -> str:
    """log10 of positive values as block characters from `low` (▁) to `high` (█), at most `width`
    of them (evenly picked); a value at or below 10^low is '·' (the curve has left the chart)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) > width:
        v = v[np.round(np.linspace(0, len(v) - 1, width)).astype(int)]
    out = []
    for x in v:
        if not x > 10 ** low:
            out.append("·")
            continue
        t = (min(math.log10(x), high) - low) / (high - low)
        out.append(SPARKS[min(len(SPARKS) - 1, int(t * len(SPARKS)))])
    return "".join(out)


def _ticks(K: int) -> list[int]:
    return [0] + [1 << i for i in range(K.bit_length()) if (1 << i) <= K] + ([K] if K & (K - 1) else [])


def _name(m, index: int, many: bool) -> str:
    return f"m{index} {m.extra['checkpoint']}" if many else m.extra["checkpoint"]


def _print_report(results) -> None:
    from rich.table import Table
    from rich.text import Text

    from charrnn.cli.console import console

    out = console(sys.stdout)
    if not out.is_terminal:
        out.width = max(out.width, 132)  # piped: no columns squeezed into 80
    many = len(results) > 1
    init = results[0].init is not None
    summary = Table(title="Memory", title_justify="left", caption="L(full) in nats/char; effective context: smallest k "
                    "with L(k) - L(full) <= 0.01; horizon per layer (L0 / L1 / ...): largest k with median "
                    "g_k/g_0 >= 1e-3 for h (c: the LSTM cell state)", caption_justify="left")
    skipped = any(m.extra["skipped"] for m in results)
    lstm = any(m.grad_c is not None for m in results)
    highway = any(m.init_highway is not None for m in results)
    for col in ["checkpoint", "cell", "size", "L(full)", "eff. context", "horizon"] + (["c horizon"] if lstm else []) + (
            ["at init"] if init else []) + (["c at init"] if init and lstm else []) + (
            ["init, forget bias 1"] if highway else []) + (["skipped"] if skipped else []):
        summary.add_column(col, justify="left" if col in ("checkpoint", "cell") else "right")
    for i, m in enumerate(results):
        eff = m.effective_context
        row = [Text(_name(m, i, many)), m.cell, f"{m.layers}x{m.hidden}", f"{m.loss_full:.4f}",
               str(eff) if eff is not None else f"> {int(m.contexts[-1])}", _horizons(m)]
        if lstm:
            row.append(_horizons(m, "c"))
        if init:
            row.append(_horizons(m.init))
            if lstm:
                row.append(_horizons(m.init, "c"))
        if highway:
            row.append("-" if m.init_highway is None else
                       f"{_horizons(m.init_highway)}; c {_horizons(m.init_highway, 'c')}")
        if skipped:
            row.append(f"{m.extra['skipped']:,}")
        summary.add_row(*row)
    out.print(summary)
    from charrnn.interpret.memory import lesson

    said = lesson(results)
    if said:
        out.print(Text(said))

    # The curves as plain fixed-width text: no table to squeeze into 80 columns when piped.
    lines = ["", "Context usage: L(k) - L(full) in nats/char, k characters read from a zero state"]
    ks = sorted({int(k) for m in results for k in m.contexts})
    label_w = max(len(_name(m, i, many)) for i, m in enumerate(results)) + len(" (init fb1) L0 h") + 2
    lines.append("k".ljust(label_w) + "".join(f"{k:>8}" for k in ks))
    for i, m in enumerate(results):
        for model, tag in _twins(m):
            gap = dict(zip((int(k) for k in model.contexts), model.loss_at - model.loss_full))
            lines.append((_name(m, i, many) + tag).ljust(label_w)
                         + "".join(f"{gap[k]:>+8.3f}" if k in gap else " " * 8 for k in ks))
    K = max(int(m.distances[-1]) for m in results)
    ticks = _ticks(K)
    lines += ["", "Gradient reach: median g_k / g_0, the norm of dl_t/d(state) k characters back relative to k = 0",
              "k".ljust(label_w) + "".join(f"{k:>8}" for k in ticks)]
    sparks = [f"log10 of the same over k = 0..{K}: 1e{LOG_FLOOR} ▁ .. █ 1, · below 1e{LOG_FLOOR}"]
    for i, m in enumerate(results):
        for model, tag in _twins(m):
            curves = [(f"L{j} h", row) for j, row in enumerate(model.grad_h_median)]
            if model.grad_c is not None:
                curves += [(f"L{j} c", row) for j, row in enumerate(model.grad_c_median)]
            for label, row in curves:
                name = f"{_name(m, i, many)}{tag} {label}".ljust(label_w)
                lines.append(name + "".join(f"{row[k]:>8.1e}" if k < len(row) else " " * 8 for k in ticks))
                sparks.append(name + sparkline(row, width=64))
    lines += [""] + sparks
    print("\n".join(lines), file=out.file, flush=True)

    for i, m in enumerate(results):
        if m.saliency is not None:
            _print_saliency(out, m, _name(m, i, many))


def _twins(m) -> list:
    """(Memory, label tag): the model, its fresh twin (--init) and an LSTM's twin at forget bias 1."""
    return ([(m, "")] + ([(m.init, " (init)")] if m.init is not None else [])
            + ([(m.init_highway, " (init fb1)")] if m.init_highway is not None else []))


def _horizons(m, state: str = "h") -> str:
    """'12 / 7': the horizon of each layer ('>=256' where the curve never fell below 1e-3)."""
    hs = m.gradient_horizon if state == "h" else m.c_horizon
    if hs is None:
        return ""
    K = int(m.distances[-1])
    return " / ".join(f"{'>=' if h >= K else ''}{h}" for h in hs)


def _print_saliency(out, m, name: str, shown: int = 160) -> None:
    from rich.text import Text

    from charrnn.interpret.render import heat_plain, heat_text

    t, values = m.saliency["target"], m.saliency["values"]  # values[k]: x_{t-1-k}
    n = min(shown, len(values))
    chars = "".join(map(chr, m.text[t - n:t]))
    heat = saliency_scale(values[:n][::-1])
    chars, heat = _composed(chars, heat)
    out.print(Text(f"\nSaliency for {name}: ||dl/d x_(t-1-k)|| before character {t:,} "
                   f"({chr(m.text[t])!r}), log scale over 4 decades below the largest", style="bold"))
    if out.color_system is not None:
        out.print(heat_text(chars, heat, 1.0))
    else:
        print(heat_plain(chars, heat, 1.0), file=out.file, flush=True)


def _composed(tokens: str, heat: np.ndarray) -> tuple[str, np.ndarray]:
    """Jamo steps shown as the composed text, each character with the largest heat of its steps
    (a terminal draws a syllable's jamo as one glyph); any other text as it is."""
    from charrnn.data import tokens as tok

    w = tok.char_weights(np.array([ord(c) for c in tokens], dtype=np.int64))
    if len(tokens) == 0 or w.all():
        return tokens, heat
    w[0] = 1  # a window may start inside a syllable: its jamo then stand alone
    starts = np.flatnonzero(w)
    parts = [tokens[a:b] for a, b in zip(starts, list(starts[1:]) + [len(tokens)])]
    return "".join(tok.recompose(p) if len(tok.recompose(p)) == 1 else p[0] for p in parts), \
        np.maximum.reduceat(np.asarray(heat), starts)


def saliency_scale(values, decades: float = 4.0) -> np.ndarray:
    """Values -> 0..1: 1 at the largest, 0 at `decades` orders of magnitude below it (or less)."""
    v = np.asarray(values, dtype=np.float64)
    top = v.max() if len(v) and v.max() > 0 else 1.0
    with np.errstate(divide="ignore"):
        return np.clip(1 + np.log10(np.maximum(v, 0) / top) / decades, 0, 1)
