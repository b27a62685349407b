"""Console presentation for stdout: a rich Console that ends quietly on a closed pipe, and the
`charrnn info` table. (What `train` shows on stderr is in train_progress.py.)"""

from __future__ import annotations

import os
import sys

from charrnn import __version__
from charrnn.engine.checkpoint import FORMAT_VERSION
from charrnn.data.vocab import display

_console_class = None


def console(file=None):
    """A rich Console for tables on stdout: no syntax highlighting, and a closed pipe
    (`charrnn inspect-cells | head`) raises BrokenPipeError, which the CLI ends quietly with exit 0,
    instead of rich's own exit 1. Rich reads a plain str as markup: pass user strings as Text."""
    global _console_class
    if _console_class is None:
        from rich.console import Console

        class _Console(Console):
            def on_broken_pipe(self) -> None:
                self.quiet = True
                try:  # as rich does: later writes (and the flush at exit) go to /dev/null
                    fd = self.file.fileno()
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, fd)
                    os.close(devnull)
                except (AttributeError, OSError, ValueError):  # not a real file (tests): nothing to redirect
                    pass
                raise BrokenPipeError("stdout was closed")

        _console_class = _Console
    return _console_class(file=file or sys.stdout, highlight=False)


def _loss(v) -> str:
    return "-" if v is None else f"{v:.4f} nats/char ({v / 0.6931471805599453:.3f} bits/char)"


def _dash(v) -> str:
    return "-" if v is None or v == "" else str(v)


def _options(t: dict) -> str:
    """The training options as the user would type them (the ones that shape a run)."""
    keys = (("optimizer", "--optimizer"), ("lr", "--lr"), ("batch", "--batch"), ("seq_len", "--seq-len"),
            ("clip", "--clip"), ("val_frac", "--val-frac"), ("eval_every", "--eval-every"), ("seed", "--seed"))
    parts = [f"{flag} {t[k]:g}" if isinstance(t.get(k), float) else f"{flag} {t.get(k)}" for k, flag in keys
             if t.get(k) is not None]
    for k, flag in (("lr_decay", "--lr-decay"), ("clip_value", "--clip-value")):
        if t.get(k) not in (None, 1.0, 0.0):
            parts.append(f"{flag} {t[k]:g}")
    return " ".join(parts) or "-"


def _stops(t: dict) -> str:
    parts = [f"{flag} {t[k]:g}{'s' if k == 'time_limit' else ''}" for k, flag in (
        ("max_steps", "--max-steps"), ("epochs", "--epochs"), ("time_limit", "--time"), ("patience", "--patience"))
        if isinstance(t.get(k), (int, float))]
    return " ".join(parts) or "-"


def _history(h: list) -> str:
    vals = [r for r in h if isinstance(r.get("val_loss"), (int, float))]
    if not vals:
        return "-"
    best = min(vals, key=lambda r: r["val_loss"])
    return (f"{len(vals)} evaluation(s): val {vals[0]['val_loss']:.4f} at step {vals[0]['step']:,} -> "
            f"{vals[-1]['val_loss']:.4f} at step {vals[-1]['step']:,} (best {best['val_loss']:.4f} at step "
            f"{best['step']:,})")


def _clock(seconds: float) -> str:
    from charrnn.use.compare import clock

    return clock(seconds)


def info_table(d: dict, file=None) -> None:
    """Print `info_dict` output as a two-column rich table (to stdout unless `file` is given)."""
    from rich.table import Table
    from rich.text import Text

    out = console(file or sys.stdout)
    table = Table(title=Text(f"charrnn checkpoint {d['checkpoint']}"), title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("model", f"{d['cell'].upper()}, {d['layers']} layer(s) x {d['hidden']} hidden units"),
        ("parameters", f"{d['parameters']:,}"),
        ("dtype", d["dtype"]),
        ("dropout", f"{d['dropout']:g}"),
        ("vocabulary", f"{d['vocab_size']} characters" if d.get("tokens", "chars") == "chars" else
         f"{d['vocab_size']} tokens ({d['tokens']}: Hangul syllables read as their jamo)"),
        ("characters", " ".join(display(c) for c in d["vocab"])),
        ("step", "-" if d["step"] is None else f"{d['step']:,}"),
        ("epoch", _dash(d["epoch"])),
        ("val loss", _loss(d["val_loss"])),
        ("best val loss", _loss(d["best_val_loss"])),
        ("training", _options(d.get("train") or {})),
        ("stop rules", _stops(d.get("train") or {})),
        ("training time", "-" if d.get("training_seconds") is None else _clock(d["training_seconds"])
         + " (h:m:s / m:s, with validation)"),
        ("history", _history(d.get("history") or [])),
        ("corpus", _dash(d["corpus"]) + ("" if d["corpus_chars"] is None else f" ({d['corpus_chars']:,} chars)")),
        ("created", _dash(d["created"])),
        ("format version", f"{_dash(d['format_version'])} (this charrnn reads up to {FORMAT_VERSION})"),
        ("written by", f"charrnn {_dash(d['charrnn_version'])} (running {__version__})"),
    ]
    for k, v in rows:
        table.add_row(k, Text(v))  # Text: no markup interpretation of vocabulary characters like '['
    out.print(table)
