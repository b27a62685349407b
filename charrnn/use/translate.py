"""A trained seq2seq model as the library sees it: load the checkpoint, translate, evaluate on pairs.

A seq2seq checkpoint is the same kind of `.npz` as a language model's (see trained.py) with
`"task": "seq2seq"` in its metadata (a checkpoint without "task" is a language model):

    param/<name>   enc.l{k}.Wx / .Wh / .b, dec.l{k}.Wx / .Wh / .b, Wy, by  (`seq2seq.param_shapes`)
    opt/<key>      optimizer state

metadata: task, model (ModelConfig; vocab_size counts the characters, V), vocab (the V
characters), tokens ({"end": V, "start": V + 1, "pad": V + 2}), train (TrainConfig), seq2seq
(teacher_forcing, teacher_forcing_decay, max_source_len, max_target_len), step, epoch, chunk
(batch position within the epoch), val_loss, val_exact_match, best_val_loss, best_exact_match,
bad_evals, rng, corpus (path, sha256, pairs, skipped_lines), history, charrnn_version, created.
"""

from __future__ import annotations

import numpy as np

from charrnn.tasks import seq2seq
from charrnn.engine import schema
from charrnn.engine.checkpoint import load_checkpoint
from charrnn.errors import UsageError
from charrnn.options import MAX_OUTPUT, check
from charrnn.data.pairs import check_known, read_pairs
from charrnn.data.vocab import display
from charrnn.engine.trained import load_trained
from charrnn.tasks.seq2seq_eval import PairScores, decode_all, edit_distance, score_pairs  # noqa: F401 (re-exported)

TASK = "seq2seq"


def is_seq2seq(path) -> bool:
    """Whether the checkpoint at `path` holds a seq2seq model (reads the metadata only)."""
    return load_checkpoint(path, weights=False)[1].get("task") == TASK


def load_seq2seq(path):
    """A seq2seq checkpoint read and checked (charrnn.engine.trained.Trained with task "seq2seq")."""
    return load_trained(path, task=TASK)


def default_max_len(m) -> int:
    """Outputs are cut at twice the longest training target + 10 characters (--max-len overrides):
    max_target_len is checked to be 1..schema.MAX_TARGET_LEN when the checkpoint is loaded, and the
    cap is at most options.MAX_OUTPUT."""
    return min(2 * int((m.meta.get("seq2seq") or {}).get("max_target_len") or 50) + 10, MAX_OUTPUT)


def check_decoding(beam: int | None, max_len: int | None, temperature: float) -> None:
    check("beam", beam)
    check("max_len", max_len)
    check("translate_temp", temperature)
    if beam is not None and temperature > 0:
        raise UsageError("--beam and --temp cannot be used together",
                         hint="--beam searches for the most likely output; --temp draws random ones")


def translate(m, sources: list[str], beam: int | None = None, max_len: int | None = None,
              temperature: float = 0.0, rng: np.random.Generator | None = None,
              capped: list | None = None) -> list[str]:
    """Outputs for a list of source strings: greedy (default), beam search, or sampled (temperature > 0).
    capped: gets the positions of the outputs cut at the cap (max_len characters without END)."""
    check_decoding(beam, max_len, temperature)
    check_known(m.tokens, [(s, "") for s in sources], "the input", "inputs")
    rng = rng if rng is not None else np.random.default_rng()
    outputs = decode_all(m.params, m.cfg, m.tokens, [m.tokens.encode(s) for s in sources],
                         max_len or default_max_len(m), beam, temperature, rng, capped=capped)
    return [m.tokens.decode(ids + [m.tokens.end]) for ids in outputs]


def evaluate_pairs(m, pairs, beam: int | None = None, max_len: int | None = None,
                   path="the pairs file", progress=None) -> PairScores:
    check_decoding(beam, max_len, 0.0)
    if not pairs:
        raise UsageError(f"{path} holds no pairs to evaluate", hint="give at least one (source, target) pair")
    check_known(m.tokens, pairs, path)
    return score_pairs(m.params, m.cfg, m.tokens, pairs, max_len or default_max_len(m), beam, progress=progress)


def evaluate_pairs_file(m, path, encoding_errors: str = "strict", beam: int | None = None,
                        max_len: int | None = None, progress=None) -> PairScores:
    """`charrnn evaluate` with a seq2seq model: every pair of a pairs file counts; progress(done,
    total) (optional) is called as the pairs are decoded."""
    pairs, _ = read_pairs(path, skip_bad_lines=None, encoding_errors=encoding_errors)
    return evaluate_pairs(m, pairs, beam, max_len, path=path, progress=progress)


def info_dict(m) -> dict:
    """What `charrnn info` shows for a seq2seq checkpoint (JSON-serialisable)."""
    meta, cfg = m.meta, m.cfg
    corpus = meta.get("corpus") or {}
    return {"checkpoint": str(m.path), "task": TASK, "cell": cfg.cell, "layers": cfg.layers, "hidden": cfg.hidden,
            "vocab_size": m.tokens.V, "dtype": cfg.dtype, "parameters": seq2seq.n_params(cfg),
            "vocab": list(m.tokens.vocab.chars), "tokens": {"end": m.tokens.end, "start": m.tokens.start,
                                                             "pad": m.tokens.pad},
            "teacher_forcing": (meta.get("seq2seq") or {}).get("teacher_forcing"),
            "teacher_forcing_decay": (meta.get("seq2seq") or {}).get("teacher_forcing_decay"),
            "step": meta.get("step"), "epoch": meta.get("epoch"), "val_loss": meta.get("val_loss"),
            "val_exact_match": meta.get("val_exact_match"), "best_val_loss": meta.get("best_val_loss"),
            "best_exact_match": meta.get("best_exact_match"),
            "corpus": corpus.get("path"), "corpus_pairs": corpus.get("pairs"),
            "format_version": meta.get("format_version"), "charrnn_version": meta.get("charrnn_version"),
            "created": meta.get("created")}


def info_rows(d: dict) -> list[tuple[str, str]]:
    """The table of `charrnn info` for a seq2seq model: (field, value) rows from `info_dict`."""
    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    tf = d["teacher_forcing"]
    return [("task", "seq2seq (encoder-decoder)"),
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
