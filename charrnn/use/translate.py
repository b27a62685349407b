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

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charrnn.tasks import seq2seq
from charrnn.engine.checkpoint import load_checkpoint
from charrnn.config import ModelConfig
from charrnn.errors import UsageError
from charrnn.options import check
from charrnn.data.pairs import Tokens, check_known
from charrnn.tasks.seq2seq_eval import PairScores, decode_all, edit_distance, score_pairs  # noqa: F401 (re-exported)
from charrnn.engine.trained import read_model_meta, read_params
from charrnn.data.vocab import Vocab

TASK = "seq2seq"


def is_seq2seq(path) -> bool:
    """Whether the checkpoint at `path` holds a seq2seq model (reads the metadata only)."""
    return load_checkpoint(path)[1].get("task") == TASK


@dataclass
class Seq2SeqModel:
    """A trained seq2seq model (what `charrnn.load` returns for a seq2seq checkpoint).

        m = charrnn.load("runs/dates/best.npz")
        m.translate(["29 November 2026"])          # -> ["2026-11-29"]; beam=5, temperature=0.5, seed=1
        m.evaluate([("29 Nov 2026", "2026-11-29")]) # -> PairScores: exact_match, char_error_rate, ...
        m.info()                                    # -> the dict of `charrnn info --json`
    """

    path: Path
    cfg: ModelConfig
    params: dict
    tokens: Tokens
    meta: dict
    arrays: dict
    task = TASK

    @property
    def vocab(self) -> Vocab:
        return self.tokens.vocab

    @property
    def default_max_len(self) -> int:
        return 2 * int((self.meta.get("seq2seq") or {}).get("max_target_len") or 50) + 10

    def translate(self, sources: list[str], beam: int | None = None, max_len: int | None = None,
                  temperature: float = 0.0, seed: int | None = None) -> list[str] | str:
        """Outputs for a list of sources; for one string, its output."""
        if isinstance(sources, str):
            return self.translate([sources], beam, max_len, temperature, seed)[0]
        return translate(self, sources, beam, max_len, temperature, np.random.default_rng(seed))

    def evaluate(self, pairs: list[tuple[str, str]], beam: int | None = None, max_len: int | None = None):
        return evaluate_pairs(self, pairs, beam, max_len)

    def info(self) -> dict:
        return info_dict(self)

    # What only a language model does (sample, inspect-cells, inspect-memory): a clear error instead.
    def _lm_only(self, *args, **kwargs):
        raise UsageError(f"{self.path} holds a seq2seq model; sample, inspect-cells and inspect-memory work on "
                         "language models", hint="use charrnn translate, evaluate or info with it")

    generate = sample = trace = memory = _lm_only

    @property
    def trained(self):
        self._lm_only()


def load_seq2seq(path) -> Seq2SeqModel:
    path = Path(path)
    arrays, meta = load_checkpoint(path)
    if meta.get("task") != TASK:
        raise UsageError(f"{path} holds a language model, not a sequence-to-sequence model",
                         hint="train one with: charrnn train PAIRS.tsv --task seq2seq")
    cfg, vocab = read_model_meta(path, meta)
    tokens = Tokens(vocab)
    params = read_params(path, arrays, seq2seq.param_shapes(cfg), cfg.dtype)
    return Seq2SeqModel(path, cfg, params, tokens, meta, arrays)


def check_decoding(beam: int | None, max_len: int | None, temperature: float) -> None:
    check("beam", beam)
    check("max_len", max_len)
    check("translate_temp", temperature)
    if beam is not None and temperature > 0:
        raise UsageError("--beam and --temp cannot be used together",
                         hint="--beam searches for the most likely output; --temp draws random ones")


def translate(m: Seq2SeqModel, sources: list[str], beam: int | None = None, max_len: int | None = None,
              temperature: float = 0.0, rng: np.random.Generator | None = None) -> list[str]:
    """Outputs for a list of source strings: greedy (default), beam search, or sampled (temperature > 0)."""
    check_decoding(beam, max_len, temperature)
    check_known(m.tokens, [(s, "") for s in sources], "the input", "inputs")
    rng = rng if rng is not None else np.random.default_rng()
    outputs = decode_all(m.params, m.cfg, m.tokens, [m.tokens.encode(s) for s in sources],
                         max_len or m.default_max_len, beam, temperature, rng)
    return [m.tokens.decode(ids + [m.tokens.end]) for ids in outputs]


def evaluate_pairs(m: Seq2SeqModel, pairs, beam: int | None = None, max_len: int | None = None,
                   path="the pairs file") -> PairScores:
    check_decoding(beam, max_len, 0.0)
    if not pairs:
        raise UsageError(f"{path} holds no pairs to evaluate", hint="give at least one (source, target) pair")
    check_known(m.tokens, pairs, path)
    return score_pairs(m.params, m.cfg, m.tokens, pairs, max_len or m.default_max_len, beam)


def info_dict(m: Seq2SeqModel) -> dict:
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
