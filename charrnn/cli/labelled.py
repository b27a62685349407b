"""`charrnn predict` (classify, tag and seq2seq models), and the classify/tag side of `evaluate`
and `info` (bodies in the library: use/labelled_model.py, use/labelled.py, use/metrics.py).
stdout carries the product (one output line per input line, the figures); notes go to stderr.
"""

import json
import sys
from pathlib import Path
from typing import Optional

from charrnn.cli.app import app, handled
from charrnn.cli.params import checkpoint_arg, opt


def _input_lines(text: Optional[Path]) -> list[str]:
    from charrnn.cli.seq2seq import read_stdin
    from charrnn.data.corpus import read_text

    empty_file = text is not None and text.is_file() and text.stat().st_size == 0
    lines = ("" if empty_file else read_text(text) if text is not None else read_stdin()).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln.rstrip("\r") for ln in lines]


@app.command()
@handled
def predict(
    checkpoint: Optional[Path] = checkpoint_arg(),
    text: Optional[Path] = opt("text", help="File of inputs, one per line (none: read stdin)."),
    top: int = opt("top_labels"),
    show: bool = opt("show"),
    as_json: bool = opt("as_json", help="One JSON object per input line instead of plain text."),
    threads: str = opt("threads"),
):
    """Each input line through a classify, tag or seq2seq model: one output line per input line.

    classify: label<TAB>probability (--top K: K of them, tab-separated); tag: the tag string (--show:
    the text rendered with its tags); seq2seq: the translation (as `charrnn translate`).
    Example: echo "self.assertEqual(a, b)" | charrnn predict runs/packages/best.npz --top 3
    """
    import charrnn
    from charrnn.cli.console import say_which
    from charrnn.cli.seq2seq import decoding_threads
    from charrnn.engine.task import get_task
    from charrnn.engine.trained import resolve_checkpoint

    m = charrnn.load(resolve_checkpoint(checkpoint, hint="train a model first, e.g. `make demo-classify`, "
                                        "then pass its checkpoint or folder"))
    m.require("predict")
    takes = get_task(m.task).predict_options
    options = {k: v for k, v in (("top", top), ("show", show), ("as_json", as_json)) if k in takes}
    for flag, given in (("--top", top != 1), ("--show", show)):
        if given and flag[2:] not in takes:
            from charrnn.errors import UsageError

            raise UsageError(f"{flag} does not apply to {m.path} (a {get_task(m.task).kind})", hint=f"leave {flag} out")
    say_which(checkpoint, m)
    lines = _input_lines(text)
    if not lines:
        print(f"note: nothing to predict: {text or 'stdin'} is empty", file=sys.stderr)
        return
    if "source" in takes:  # where an unknown character is: "stdin, line 2"
        options["source"] = str(text) if text is not None else "stdin"
    with decoding_threads(threads):
        outputs = m.predict(lines, **options)
    for line, out in zip(lines, outputs):
        if as_json and "as_json" not in takes:  # (seq2seq: its translation as an object)
            out = json.dumps({"text": line, "output": out}, ensure_ascii=False)
        print(out)


def inspect_labelled(m, text: Optional[Path], max_chars: int, names: list, top: int, unit_specs: list, excerpt: int,
                     html: Optional[Path], dump: Optional[Path], as_json: bool, encoding_errors: str = "strict") -> None:
    """`charrnn inspect-cells` with a classify or tag model: the probes' units over lines each read alone
    by the left-to-right stack (interpret/separation.line_traces), and for a classify model the units
    whose final values best separate the labels; on the lines of --text (a labelled file) or the
    validation lines of its training file."""
    from charrnn.cli.inspect_cells import _print_report
    from charrnn.cli.progress import progress_bar
    from charrnn.data.labelled import check_known, read_labelled, split_examples
    from charrnn.errors import UsageError
    from charrnn.interpret.analysis import analyse_traces, to_json
    from charrnn.interpret.files import write_atomic, write_dump
    from charrnn.interpret.page import cells_page
    from charrnn.interpret.separation import line_traces, separating_units
    from charrnn.interpret.units import parse_unit
    from charrnn.use.labelled import labels_of, settings
    from charrnn.use.metrics import shown_label

    cfg, labels, bidirectional = m.cfg, labels_of(m.trained), bool(settings(m.trained).get("bidirectional"))
    units = [parse_unit(u, cfg.cell, cfg.layers, cfg.hidden) for u in unit_specs]
    if text is None:
        path = (m.meta.get("corpus") or {}).get("path")
        if not path or not Path(path).is_file():
            raise UsageError(f"the training file of {m.path} ({path or 'unknown'}) is not there",
                             hint="pass a labelled file with --text FILE")
        lines, _ = read_labelled(path, m.task, skip_bad_lines=True, encoding_errors=encoding_errors)
        lines = split_examples(lines, m.meta.get("train", {}).get("val_frac", 0.1))[1]
        source = f"validation lines of {path}"
    else:
        lines, _ = read_labelled(text, m.task, skip_bad_lines=None, encoding_errors=encoding_errors)
        source = str(text)
    kept, chars = [], 0
    for t, y in lines:
        if chars + len(t) > max_chars and kept:
            break
        kept.append((t, y))
        chars += len(t)
    check_known(m.vocab, labels, kept, m.task, source)
    print(f"tracing {len(kept):,} lines ({chars:,} characters, {source}) through {m.path}, each line alone"
          + (" (the left-to-right stack)" if bidirectional else ""), file=sys.stderr)
    with progress_bar("tracing", "char") as bar:
        traces, body = line_traces(m.params, cfg, m.vocab, [t for t, _ in kept], progress=bar)
    from charrnn.interpret.probes import default_names

    a = analyse_traces(traces, body, names if names is not None else default_names(body), top)
    extra = list(dict.fromkeys(a.traces.column(*u) for u in units))
    separating = separating_units(m.params, cfg, m.vocab, labels, kept, top=max(top, 10)) if m.task == "classify" else []
    if dump is not None:
        write_dump(dump, a)
        print(f"wrote {dump}", file=sys.stderr)
    if html is not None:
        summary = (f"{m.path} ({m.task}): {cfg.layers}-layer {cfg.cell}, {cfg.hidden} units per layer"
                   f"{', its left-to-right stack' if bidirectional else ''}; {len(kept):,} lines of {source}, "
                   "each read alone.")
        page = cells_page(a, summary, title=str(m.path), chosen=extra, vocab=m.vocab.chars).encode("utf-8")
        write_atomic(html, lambda f: f.write(page), "--html")
        print(f"wrote {html}", file=sys.stderr)
    if as_json:
        print(json.dumps({**to_json(a, str(m.path)), "lines": len(kept), "separating_units": separating},
                         ensure_ascii=False, indent=2))
        return
    if separating:
        print("units whose final value best separates the labels (eta^2: the share of the unit's variance "
              "across lines that the labels explain)")
        print(f"{'unit':<14} {'eta^2':>6}  highest mean                lowest mean")
        for r in separating:
            hi, lo = r["highest"], r["lowest"]
            print(f"{r['unit']:<14} {r['eta2']:6.3f}  {shown_label(hi)[:16]:<16} {r['means'][hi]:+.3f}    "
                  f"{shown_label(lo)[:16]:<16} {r['means'][lo]:+.3f}")
        print()
    _print_report(a, extra, excerpt)
