"""What a language-model checkpoint holds, for `charrnn info`: a flat dict (the --json form) and
the rows of its table (`info_rows`, printed by charrnn.cli.console.info_table).

The dict carries real data: `vocab` is the list of the characters themselves (a newline is "\\n"
in JSON, as JSON writes it), `char_counts` their counts in the training text (left out when the
checkpoint has none). Display forms (\\n, ␠, U+XXXX) are for the table only.
"""

from __future__ import annotations

from charrnn import __version__
from charrnn.data.vocab import display
from charrnn.engine.checkpoint import FORMAT_VERSION
from charrnn.tasks import lm as model


def _float(v):
    return None if v is None else float(v)


def info_dict(trained) -> dict:
    """Everything `charrnn info` shows about a `trained.Trained` model, JSON-serialisable."""
    cfg, meta, vocab = trained.cfg, trained.meta, trained.vocab
    corpus = meta.get("corpus") or {}
    counts = meta.get("char_counts")
    d = {
        "checkpoint": str(trained.path),
        "cell": cfg.cell,
        "layers": cfg.layers,
        "hidden": cfg.hidden,
        "vocab_size": vocab.size,
        "tokens": vocab.tokens,  # chars | jamo (charrnn.data.tokens); val losses are per token
        "dropout": cfg.dropout,
        "dtype": cfg.dtype,
        "parameters": model.n_params(cfg),
        "vocab": list(vocab.chars),
        "step": meta.get("step"),
        "epoch": meta.get("epoch"),
        "val_loss": _float(meta.get("val_loss")),
        "best_val_loss": _float(meta.get("best_val_loss")),
        "corpus": corpus.get("path") if isinstance(corpus, dict) else None,
        "corpus_chars": corpus.get("n_chars") if isinstance(corpus, dict) else None,
        "format_version": meta.get("format_version"),
        "charrnn_version": meta.get("charrnn_version"),
        "created": meta.get("created"),
        "kernels": meta.get("kernels"),  # the time loop that trained it last (charrnn.nn.kernels)
    }
    if isinstance(counts, list) and len(counts) == vocab.size:
        d["char_counts"] = [int(n) for n in counts]
    train = meta.get("train")
    d["train"] = train if isinstance(train, dict) else None  # the training options (TrainConfig)
    history = [r for r in meta.get("history") or [] if isinstance(r, dict) and isinstance(r.get("step"), int)]
    d["history"] = history  # one record per evaluation (step, epoch, losses, lr, speed, elapsed)
    from charrnn.use.compare import _cumulative_elapsed

    times = [t for t in _cumulative_elapsed(history) if t is not None]
    d["training_seconds"] = times[-1] if times else None
    return d


def info_rows(d: dict) -> list[tuple[str, str]]:
    """The table of `charrnn info` for a language model: (field, value) rows from `info_dict`."""
    return [
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
        ("kernels", _kernels(d.get("kernels"))),
        ("created", _dash(d["created"])),
        ("format version", f"{_dash(d['format_version'])} (this charrnn reads up to {FORMAT_VERSION})"),
        ("written by", f"charrnn {_dash(d['charrnn_version'])} (running {__version__})"),
    ]


def _kernels(trained_with) -> str:
    """Which time loop trained the model, and which `--kernels auto` runs here (charrnn.nn.kernels)."""
    from charrnn.nn.kernels import describe, numba_available
    here = describe("fused" if numba_available() else "numpy")
    return f"{trained_with or '-'} (trained with); auto here: {here}"


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


