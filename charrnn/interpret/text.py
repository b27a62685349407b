"""The text to inspect: a file read only as far as needed, or the validation part of the
corpus a model was trained on; characters outside the vocabulary are dropped with a warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from charrnn.errors import CheckpointError, CorpusError

def training_text(trained, max_chars: int) -> str:
    """The validation part of the corpus the model was trained on (its first max_chars characters).

    The corpus is found by the path recorded in the checkpoint and must still hash the same.
    """
    from charrnn.data.corpus import load_corpus, split

    info = trained.meta.get("corpus") or {}
    hint = "pass the text to inspect with --text FILE"
    if not info.get("path"):
        raise CheckpointError(f"{trained.path} does not record the corpus it was trained on", hint=hint)
    path = Path(info["path"])
    if not path.is_file():
        raise CorpusError(f"the training corpus {path} is gone (moved or deleted)", hint=hint)
    corpus = load_corpus(path, info.get("encoding_errors") or "strict", tokens=trained.vocab.tokens)
    if info.get("sha256") and corpus.sha256 != info["sha256"]:
        raise CorpusError(f"the training corpus {path} has changed since training (its sha256 differs)", hint=hint)
    _, val = split(corpus.ids, float(trained.meta.get("train", {}).get("val_frac", 0.1)))
    if len(val) == 0:  # no validation split: the end of the text
        val = corpus.ids[-max_chars:]
    val = np.asarray(val[:max_chars])
    w = corpus.vocab.char_weights(val)
    if w is not None and len(val):  # jamo: start at a character's first token (the split may cut a syllable)
        val = val[int(np.argmax(w)):]
    return corpus.vocab.decode(val)


def read_known_text(path, vocab, max_chars: int, encoding_errors: str = "strict", warn=None) -> str:
    """The first `max_chars` characters of the file at `path` that the model knows (the others are
    dropped, warn(message) says how many), reading only as much of the file as that takes
    (chunk by chunk: a huge file costs no more memory than a small one). The checks of
    `corpus.read_text` hold: missing, binary, invalid UTF-8 (with its byte offset), BOM dropped."""
    from charrnn.data.corpus import code_point_chunks
    from charrnn.data.vocab import unknown_message

    parts, n, dropped, unknown = [np.zeros(0, dtype=vocab.dtype)], 0, 0, set()
    chunks = code_point_chunks(path, encoding_errors)
    try:
        for points in chunks:
            k = vocab.known(points, limit=max_chars - n)  # the last chunk needed stops at max_chars
            parts.append(k.ids)
            n, dropped = n + len(k.ids), dropped + k.dropped
            unknown.update(k.unknown)
            if n >= max_chars:
                break
    finally:
        chunks.close()  # closes the file
    if dropped and warn is not None:
        warn(unknown_message(dropped, sorted(unknown), "dropped"))
    return vocab.decode(np.concatenate(parts))


def known_text(text: str, vocab, warn=None) -> str:
    """`text` without the characters the model does not know (warn(message) says how many)."""
    k = vocab.known(text)
    if not k.dropped:
        return text
    if warn is not None:
        warn(k.message("dropped"))
    return vocab.decode(k.ids)
