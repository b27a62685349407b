"""The text to inspect: a file read only as far as needed, or the validation part of the
corpus a model was trained on; characters outside the vocabulary are dropped with a warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from charrnn.errors import CheckpointError, CorpusError, UsageError

def training_text(trained, max_chars: int) -> str:
    """The validation part of the corpus the model was trained on (its first max_chars characters).

    The corpus is found by the path recorded in the checkpoint and must still hash the same.
    """
    from charrnn.corpus import load_corpus, split

    info = trained.meta.get("corpus") or {}
    hint = "pass the text to inspect with --text FILE"
    if not info.get("path"):
        raise CheckpointError(f"{trained.path} does not record the corpus it was trained on", hint=hint)
    path = Path(info["path"])
    if not path.is_file():
        raise CorpusError(f"the training corpus {path} is gone (moved or deleted)", hint=hint)
    corpus = load_corpus(path, info.get("encoding_errors") or "strict")
    if info.get("sha256") and corpus.sha256 != info["sha256"]:
        raise CorpusError(f"the training corpus {path} has changed since training (its sha256 differs)", hint=hint)
    _, val = split(corpus.ids, float(trained.meta.get("train", {}).get("val_frac", 0.1)))
    if len(val) == 0:  # no validation split: the end of the text
        val = corpus.ids[-max_chars:]
    return corpus.vocab.decode(np.asarray(val[:max_chars]))


def read_known_text(path, vocab, max_chars: int, encoding_errors: str = "strict", warn=None) -> str:
    """The first `max_chars` characters of the file at `path` that the model knows (the others are
    dropped, warn(message) says how many), reading only as much of the file as that takes
    (chunk by chunk: a huge file costs no more memory than a small one). The checks of
    `corpus.read_text` hold: missing, binary, invalid UTF-8 (with its byte offset), BOM dropped."""
    from charrnn.corpus import _decoded_chunks, _open
    from charrnn.vocab import code_points

    if encoding_errors not in ("strict", "replace", "ignore"):
        raise UsageError(f"--encoding-errors {encoding_errors!r} is not one of strict, replace, ignore")
    path, _ = _open(path)
    known = code_points("".join(vocab.chars))
    parts, n, dropped, unknown = [np.zeros(0, dtype="<u4")], 0, 0, set()
    chunks = _decoded_chunks(path, encoding_errors)
    try:
        for points, _raw in chunks:
            keep = np.isin(points, known)
            need = max_chars - n
            pos = np.flatnonzero(keep)
            if len(pos) >= need:  # the last chunk needed: stop right after the max_chars-th known character
                cut = int(pos[need - 1]) + 1 if need > 0 else 0
                points, keep = points[:cut], keep[:cut]
            parts.append(points[keep].astype("<u4"))
            n += len(parts[-1])
            if not keep.all():
                dropped += int((~keep).sum())
                unknown.update(int(c) for c in np.unique(points[~keep]))
            if n >= max_chars:
                break
    finally:
        chunks.close()  # closes the file
    if dropped and warn is not None:
        warn(_dropped_message(dropped, sorted(unknown)))
    return np.concatenate(parts).tobytes().decode("utf-32-le", "surrogatepass")


def _dropped_message(dropped: int, unknown) -> str:
    from charrnn.vocab import describe

    return (f"dropped {dropped:,} character(s) not in the model's vocabulary "
            f"({len(unknown)} distinct: {describe(chr(int(c)) for c in unknown)})")


def known_text(text: str, vocab, warn=None) -> str:
    """`text` without the characters the model does not know (warn(message) says how many)."""
    from charrnn.vocab import code_points

    points = code_points(text)
    keep = np.isin(points, code_points("".join(vocab.chars)))
    if keep.all():
        return text
    if warn is not None:
        warn(_dropped_message(int((~keep).sum()), np.unique(points[~keep])))
    return points[keep].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
