"""What a checkpoint holds, for `charrnn info`: a flat dict (the --json form; the table is
`charrnn.cli.console.info_table`).

The dict carries real data: `vocab` is the list of the characters themselves (a newline is "\\n"
in JSON, as JSON writes it), `char_counts` their counts in the training text (left out when the
checkpoint has none). Display forms (\\n, ␠, U+XXXX) are for the table only.
"""

from __future__ import annotations

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
