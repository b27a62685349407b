"""Labelled files for classification and tagging: one `text<TAB>label` or `text<TAB>tags` per UTF-8 line.

    classify:  Dostoevsky<TAB>Russian        a label is any non-empty string without a tab
    tag:       thequick<TAB>00100001         exactly one tag character per character of the text

Two vocabularies. The text's characters are a `Vocab` (sorted by code point, ids 0 .. V-1, as
every model of charrnn). The labels (classify: strings; tag: single characters) are a second,
ordered vocabulary, `Labels` (sorted, ids 0 .. C-1), stored in the checkpoint as a list.

Batches (`make_batch`) are time-major and padded after each row's end:

    x (T, B) character ids, id 0 after a row's end (never read: see nn/bidirectional.py)
    lens (B,) each row's length
    classify: y (B,) label ids;  tag: y (T, B) tag ids (0 in padding), mask (T, B) 1.0 on real characters

`bucket_batches` groups lines of similar length so that padding stays small.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charrnn.data.corpus import read_text
from charrnn.data.pairs import parse_tab_lines, split_pairs
from charrnn.data.vocab import Vocab, describe
from charrnn.errors import CorpusError, UsageError

KINDS = ("classify", "tag")
FORMAT = {"classify": "text<TAB>label", "tag": "text<TAB>tags"}


# --------------------------------------------------------------------------------- reading
def _tags_fit(text: str, tags: str) -> str | None:
    if len(text) != len(tags):
        return f"has {len(text)} characters of text but {len(tags)} tags (want one tag character per text character)"
    return None


def parse_labelled(text: str, kind: str, path="<file>", skip_bad_lines: bool | None = False):
    """(examples [(text, label or tags)], skipped lines) from a labelled file's text.

    Blank lines are ignored. A line without exactly one tab, with an empty text or label, or (tag)
    whose tags are not one per character, is an error naming its line number (and for tags both
    lengths); with skip_bad_lines it is left out and counted (None: the caller offers no way to skip)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    examples, skipped = parse_tab_lines(text, path, skip_bad_lines, "line", FORMAT[kind],
                                        ("text", "label" if kind == "classify" else "tags"),
                                        check=_tags_fit if kind == "tag" else None)
    if not examples:
        raise CorpusError(f"{path} holds no {FORMAT[kind]} lines" + (f" ({skipped} bad line(s) skipped)" if skipped else ""),
                          hint=f"write one {FORMAT[kind]} per line")
    return examples, skipped


def read_labelled(path, kind: str, skip_bad_lines: bool | None = False, encoding_errors: str = "strict"):
    """(examples, skipped) from a labelled file (UTF-8; the same checks on the file as a corpus)."""
    return parse_labelled(read_text(path, encoding_errors), kind, Path(path), skip_bad_lines)


def split_examples(examples: list, val_frac: float) -> tuple[list, list]:
    """The last `val_frac` of the lines (at least one) is the validation split, as for pairs."""
    return split_pairs(examples, val_frac, what="line")


# ----------------------------------------------------------------------------- vocabularies
class Labels:
    """The ordered vocabulary of labels (classify: strings) or tags (tag: single characters), sorted."""

    def __init__(self, names):
        names = sorted(set(names))
        if not names or not all(isinstance(s, str) and s and "\t" not in s and "\n" not in s for s in names):
            raise CorpusError("labels must be non-empty strings without tabs or newlines")
        self.names = tuple(names)
        self._index = {s: i for i, s in enumerate(self.names)}

    @classmethod
    def from_examples(cls, examples, kind: str) -> "Labels":
        return cls({y for _, y in examples} if kind == "classify" else {c for _, y in examples for c in y})

    @classmethod
    def from_list(cls, names) -> "Labels":
        """Inverse of `to_list` (the form stored in checkpoints); checks it is sorted and unique."""
        if not isinstance(names, list) or names != sorted(set(names)):
            raise CorpusError("the stored labels are not a sorted list of distinct strings")
        return cls(names)

    def to_list(self) -> list[str]:
        return list(self.names)

    @property
    def size(self) -> int:
        return len(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self._index[name]

    def __contains__(self, name) -> bool:
        return name in self._index

    def __eq__(self, other) -> bool:
        return isinstance(other, Labels) and self.names == other.names


def check_known(vocab: Vocab, labels: Labels, examples, kind: str, path) -> None:
    """Every character and every label (tag) of `examples` must be known to the model."""
    unknown = sorted({c for t, _ in examples for c in t} - set(vocab.chars))
    if unknown:
        raise UsageError(f"{path} has {len(unknown)} character(s) the model does not know: {describe(unknown)}",
                         hint="use text made of the characters the model was trained on")
    seen = {y for _, y in examples} if kind == "classify" else {c for _, y in examples for c in y}
    new = sorted(seen - set(labels.names))
    if new:
        what = "label" if kind == "classify" else "tag"
        shown = ", ".join(repr(s) for s in new[:10]) + (f" and {len(new) - 10} more" if len(new) > 10 else "")
        raise UsageError(f"{path} has {len(new)} {what}(s) the model was not trained on: {shown}",
                         hint=f"the model knows {len(labels)}: " + ", ".join(repr(s) for s in labels.names[:10])
                         + (" ..." if len(labels) > 10 else ""))


# ---------------------------------------------------------------------------------- batching
@dataclass
class Encoded:
    """Lines as ids: texts[i] (n_i,) int64, targets[i] a label id (classify) or (n_i,) tag ids (tag)."""
    texts: list
    targets: list

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(t) for t in self.texts], dtype=np.int64)


def encode_examples(vocab: Vocab, labels: Labels, examples, kind: str) -> Encoded:
    texts = [vocab.encode(t).astype(np.int64) for t, _ in examples]
    if kind == "classify":
        targets = [labels.index(y) for _, y in examples]
    else:
        targets = [np.array([labels.index(c) for c in y], dtype=np.int64) for _, y in examples]
    return Encoded(texts, targets)


@dataclass
class Batch:
    x: np.ndarray  # (T, B) int64 character ids, 0 after each row's end
    lens: np.ndarray  # (B,) int64
    y: np.ndarray  # classify (B,) label ids; tag (T, B) tag ids (0 in padding)
    mask: np.ndarray  # (T, B) float: 1.0 on real characters

    @property
    def n_chars(self) -> int:
        return int(self.lens.sum())


def make_batch(data: Encoded, rows, dtype="float64", pad_to: int | None = None) -> Batch:
    """The padded time-major batch of lines `rows` of `data`; pad_to pads further (tests: padding
    must change nothing)."""
    rows = list(rows)
    lens = np.array([len(data.texts[i]) for i in rows], dtype=np.int64)
    T, B = max(int(lens.max()), pad_to or 0), len(rows)
    x = np.zeros((T, B), dtype=np.int64)
    mask = (np.arange(T)[:, None] < lens[None, :]).astype(dtype)
    tagged = np.ndim(data.targets[rows[0]]) == 1  # tag: one id per character
    y = np.zeros((T, B), dtype=np.int64) if tagged else np.array([data.targets[i] for i in rows], dtype=np.int64)
    for b, i in enumerate(rows):
        x[:lens[b], b] = data.texts[i]
        if tagged:
            y[:lens[b], b] = data.targets[i]
    return Batch(x, lens, y, mask)


def bucket_batches(lengths: np.ndarray, batch: int, rng: np.random.Generator | None = None,
                   window: int = 50) -> list[np.ndarray]:
    """Line indices grouped into batches of up to `batch` lines of similar length.

    Without rng (evaluation): sorted by length, cut in order. With rng (one training epoch):
    a random permutation, sorted by length within windows of `window` batches, cut, and the
    batches shuffled, so each epoch differs while padding stays small."""
    lengths = np.asarray(lengths)
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
    else:
        perm = rng.permutation(n)
        span = batch * window
        order = np.concatenate([perm[i:i + span][np.argsort(lengths[perm[i:i + span]], kind="stable")]
                                for i in range(0, n, span)]) if n else perm
    batches = [order[i:i + batch] for i in range(0, n, batch)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches
