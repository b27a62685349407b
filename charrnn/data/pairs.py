"""Pairs files for sequence-to-sequence training: one `source<TAB>target` pair per UTF-8 line.

Tokens. Source and target share one vocabulary (`Vocab`, characters sorted by code point, ids
0 .. V-1) plus three tokens that no text can produce, placed after the characters:

    END = V        the decoder's last output ("the answer is complete")
    START = V + 1  the decoder's first input
    PAD = V + 2    filler after the end of a shorter sequence in a batch (always masked)

so encoder and decoder read V + 3 one-hot inputs and the decoder predicts V + 1 outputs (the
characters and END; START and PAD are never a target).

Batches. `batch(pairs)` lays out B pairs time-major, padded to the longest one:

    src   (S, B) ids, PAD after each source's end        src_len (B,)
    dec_in (T, B) START y_1 .. y_n, then PAD             (T = longest target + 1)
    dec_out (T, B) y_1 .. y_n END, then PAD              mask (T, B) 1.0 where dec_out is real
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charrnn.data.corpus import read_text
from charrnn.errors import CorpusError, UsageError
from charrnn.data.vocab import Vocab, describe


@dataclass(frozen=True)
class Tokens:
    """The shared vocabulary and the three special ids after it."""

    vocab: Vocab

    @property
    def V(self) -> int:
        return self.vocab.size

    @property
    def end(self) -> int:
        return self.vocab.size

    @property
    def start(self) -> int:
        return self.vocab.size + 1

    @property
    def pad(self) -> int:
        return self.vocab.size + 2

    @property
    def n_in(self) -> int:  # one-hot inputs: characters, END, START, PAD
        return self.vocab.size + 3

    @property
    def n_out(self) -> int:  # outputs: characters and END
        return self.vocab.size + 1

    def encode(self, text: str) -> np.ndarray:
        return self.vocab.encode(text).astype(np.int64)

    def decode(self, ids) -> str:
        """Characters of an output sequence, up to (not including) the first END."""
        ids = [int(i) for i in ids]
        if self.end in ids:
            ids = ids[:ids.index(self.end)]
        return self.vocab.decode(np.array(ids, dtype=np.int64)) if ids else ""


# --------------------------------------------------------------------------------- reading
def parse_tab_lines(text: str, path, skip_bad_lines: bool | None, unit: str, layout: str, names: tuple[str, str],
                    check=None, keep_tab_blanks: bool = False) -> tuple[list[tuple[str, str]], int]:
    """(rows [(first, second)], skipped lines) from a file of one `first<TAB>second` per line (pairs,
    labelled lines). Lines of spaces are ignored (with keep_tab_blanks, only those without a tab).
    A line without exactly one tab, with an empty side (`names` says which), or that `check(first,
    second)` finds a problem in, is an error naming its line number; with skip_bad_lines it is
    left out and counted (None: the caller offers no way to skip)."""
    rows, skipped = [], 0
    for n, line in enumerate(text.split("\n"), start=1):
        line = line[:-1] if line.endswith("\r") else line
        if not line.strip() and not (keep_tab_blanks and "\t" in line):
            continue
        parts = line.split("\t")
        problem = None
        if len(parts) != 2:
            problem = f"has {len(parts) - 1} tabs (a {unit} is {layout}: exactly one tab)"
        elif not parts[0] or not parts[1]:
            problem = f"has an empty {names[0] if not parts[0] else names[1]}"
        elif check is not None:
            problem = check(parts[0], parts[1])
        if problem:
            if skip_bad_lines:
                skipped += 1
                continue
            shown = line if len(line) <= 40 else line[:37] + "..."
            raise CorpusError(f"{path}, line {n}: {problem}: {shown!r}",
                              hint="fix the line" + ("" if skip_bad_lines is None else
                                                     ", or pass --skip-bad-lines to leave such lines out"))
        rows.append((parts[0], parts[1]))
    return rows, skipped


def parse_pairs(text: str, path="<pairs>", skip_bad_lines: bool | None = False) -> tuple[list[tuple[str, str]], int]:
    """(pairs, skipped lines) from the text of a pairs file. Blank lines (empty, or spaces only:
    no tab) are ignored; any line with a tab is a pair, whitespace included (" \t " is space ->
    space). A line without exactly one tab, or with an empty source or target, is an error naming
    its line number (or, with skip_bad_lines, skipped and counted; None: the caller offers no way
    to skip)."""
    pairs, skipped = parse_tab_lines(text, path, skip_bad_lines, "pair", "source<TAB>target", ("source", "target"),
                                     keep_tab_blanks=True)
    if not pairs:
        raise CorpusError(f"{path} holds no pairs" + (f" ({skipped} bad line(s) skipped)" if skipped else ""),
                          hint="write one source<TAB>target pair per line")
    return pairs, skipped


def read_pairs(path, skip_bad_lines: bool | None = False, encoding_errors: str = "strict"):
    """(pairs, skipped) from a pairs file (UTF-8; the same checks on the file as a corpus)."""
    return parse_pairs(read_text(path, encoding_errors), Path(path), skip_bad_lines)


def build_tokens(pairs) -> Tokens:
    return Tokens(Vocab("".join(s + t for s, t in pairs)))


def check_known(tokens: Tokens, pairs, path, what: str = "pairs") -> None:
    """Every character of `pairs` must be in the model's vocabulary."""
    unknown = sorted({c for s, t in pairs for c in s + t} - set(tokens.vocab.chars))
    if unknown:
        raise UsageError(f"{path} has {len(unknown)} character(s) the model does not know: {describe(unknown)}",
                         hint=f"use {what} made of the characters the model was trained on")


def split_pairs(pairs: list, val_frac: float, what: str = "pair") -> tuple[list, list]:
    """The last `val_frac` of the pairs (or of any list of lines: `what` names them) is the
    validation split, at least one."""
    n_val = max(1, int(round(len(pairs) * val_frac)))
    if n_val >= len(pairs):
        raise UsageError(f"{len(pairs)} {what}(s) are too few to hold out {val_frac:g} for validation",
                         hint=f"add {what}s or lower --val-frac")
    return pairs[:-n_val], pairs[-n_val:]


# --------------------------------------------------------------------------------- batching
@dataclass
class Batch:
    src: np.ndarray  # (S, B) int64, PAD-filled
    src_len: np.ndarray  # (B,)
    dec_in: np.ndarray  # (T, B)
    dec_out: np.ndarray  # (T, B)
    mask: np.ndarray  # (T, B) float 1 where dec_out is a real target

    @property
    def n_targets(self) -> int:
        return int(self.mask.sum())


def encode_pairs(tokens: Tokens, pairs) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(tokens.encode(s), tokens.encode(t)) for s, t in pairs]


def make_batch(tokens: Tokens, encoded, dtype="float64", pad_to: tuple[int, int] | None = None) -> Batch:
    """Time-major padded arrays for a list of encoded (source ids, target ids). pad_to = (S, T)
    pads further (tests: padding must change nothing)."""
    B = len(encoded)
    S = max(len(s) for s, _ in encoded)
    T = max(len(t) for _, t in encoded) + 1
    if pad_to is not None:
        S, T = max(S, pad_to[0]), max(T, pad_to[1])
    src = np.full((S, B), tokens.pad, dtype=np.int64)
    dec_in = np.full((T, B), tokens.pad, dtype=np.int64)
    dec_out = np.full((T, B), tokens.pad, dtype=np.int64)
    mask = np.zeros((T, B), dtype=dtype)
    lens = np.zeros(B, dtype=np.int64)
    for b, (s, t) in enumerate(encoded):
        src[:len(s), b], lens[b] = s, len(s)
        dec_in[0, b] = tokens.start
        dec_in[1:len(t) + 1, b] = t
        dec_out[:len(t), b] = t
        dec_out[len(t), b] = tokens.end
        mask[:len(t) + 1, b] = 1
    return Batch(src, lens, dec_in, dec_out, mask)


def source_batch(tokens: Tokens, sources: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(src (S, B), src_len (B,)) for decoding."""
    S = max(1, max(len(s) for s in sources))
    src = np.full((S, len(sources)), tokens.pad, dtype=np.int64)
    for b, s in enumerate(sources):
        src[:len(s), b] = s
    return src, np.array([len(s) for s in sources], dtype=np.int64)
