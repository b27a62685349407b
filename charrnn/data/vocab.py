"""Vocabulary: the sorted set of characters of a text <-> integer ids.

Sorted by code point, so the same text always gives the same ids (unlike `list(set(data))`).
Ids are stored in the smallest unsigned dtype that holds them: uint8 up to 256 characters,
uint16 up to 65,536, uint32 beyond.

Encoding goes through UTF-32 code points and a lookup table indexed by code point, so a
whole chunk of text is encoded by two vectorised NumPy operations (no per-character Python).

A vocabulary has a tokenization (`charrnn.data.tokens`): `chars`, or `jamo`, where `chars` holds
the jamo tokens and every method that takes or gives *text* (encode, known, unknown, decode)
decomposes / recomposes it, so the callers work on text in both cases. Methods on *token* code
points (`encode_points`, `decode_tokens`, `chars`, `index`) see the tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charrnn.data import tokens as tok
from charrnn.errors import VocabError

_UNKNOWN = np.iinfo(np.uint32).max  # lookup-table value for "not in the vocabulary"
_NAMES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", " ": "␠", "\x0b": "\\v", "\x0c": "\\f"}


def code_points(text: str) -> np.ndarray:
    """(N,) uint32 code points of `text` (UTF-32 little endian, no byte-order mark)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def id_dtype(size: int) -> np.dtype:
    """The smallest unsigned dtype that holds ids 0 .. size-1."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if size <= np.iinfo(dt).max + 1:
            return np.dtype(dt)
    raise VocabError(f"a vocabulary of {size:,} characters is too large")


def display(ch: str) -> str:
    """Printable form of one character: '\\n' for newline, '␠' for space, U+XXXX for controls."""
    if ch in _NAMES:
        return _NAMES[ch]
    if not ch.isprintable():
        return f"U+{ord(ch):04X}"
    return ch


def describe(chars, limit: int = 10) -> str:
    """Characters for an error or warning, each quoted once with its code point:
    `'\\t' (U+0009), 'é' (U+00E9) and 3 more` (a quote character is shown in double quotes)."""
    chars = list(chars)

    def one(c: str) -> str:
        shown = display(c)
        if shown.startswith("U+") and len(c) == 1:  # a control character: its code point, once
            return shown
        q = '"' if shown == "'" else "'"
        return f"{q}{shown}{q} (U+{ord(c):04X})"

    more = f" and {len(chars) - limit} more" if len(chars) > limit else ""
    return ", ".join(one(c) for c in chars[:limit]) + more


@dataclass
class Known:
    """A text seen through a vocabulary (`Vocab.known`): what it knows, and what was left out."""

    ids: np.ndarray  # ids of the known characters, in order
    dropped: int  # characters left out
    unknown: list  # the distinct characters left out, sorted

    def message(self, verb: str = "skipped", what: str = "character(s)") -> str:
        """The one wording of every warning about unknown characters."""
        return unknown_message(self.dropped, self.unknown, verb, what)


def unknown_message(dropped: int, unknown, verb: str = "skipped", what: str = "character(s)") -> str:
    """`skipped 3 character(s) not in the model's vocabulary (2 distinct: 'é' (U+00E9), U+00A0)`."""
    unknown = list(unknown)
    return f"{verb} {dropped:,} {what} not in the model's vocabulary ({len(unknown)} distinct: {describe(unknown)})"


class Vocab:
    """Characters (tokens) sorted by code point; `index(ch)` is the id of `ch`; `tokens`: chars | jamo."""

    def __init__(self, chars, tokens: str = "chars"):
        if tokens not in tok.TOKENIZATIONS:
            raise VocabError(f"unknown tokenization {tokens!r}", hint="use chars or jamo")
        self.tokens = tokens
        chars = sorted(set(chars))
        if not chars:
            raise VocabError("the vocabulary is empty", hint="train on a text with at least one character")
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise VocabError("a vocabulary holds single characters only")
        self.chars = tuple(chars)
        self.size = len(self.chars)
        self.dtype = id_dtype(self.size)
        self._index = {c: i for i, c in enumerate(self.chars)}
        points = code_points("".join(self.chars))
        self._lut = np.full(int(points.max()) + 1, _UNKNOWN, dtype=np.uint32)  # code point -> id
        self._lut[points] = np.arange(self.size, dtype=np.uint32)
        self._chars = np.array(points, dtype="<u4")  # id -> code point
        self._bytes_table = self._bytes_known = None  # for _encode_bytes, built on first use
        self._start = tok.start_weights(self.chars) if tokens == "jamo" else None  # (V,) see chars_in
        self._esc = self._index.get(tok.ESCAPE, -1)

    # ----------------------------------------------------------------------------- building
    @classmethod
    def from_text(cls, text: str, tokens: str = "chars") -> "Vocab":
        return cls.from_code_points(code_points(tok.decompose(text) if tokens == "jamo" else text), tokens)

    @classmethod
    def from_code_points(cls, points: np.ndarray, tokens: str = "chars") -> "Vocab":
        """From an array of token code points (np.unique is much faster than set() on a long str)."""
        uniq = np.unique(points)
        return cls(uniq.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass"), tokens)

    @classmethod
    def from_list(cls, chars, tokens: str = "chars") -> "Vocab":
        """Inverse of `to_list` (the form stored in checkpoints); checks it is sorted and unique."""
        if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise VocabError("the stored vocabulary is not a list of single characters")
        if chars != sorted(set(chars)):
            raise VocabError("the stored vocabulary is not sorted and unique")
        return cls(chars, tokens)

    def to_list(self) -> list[str]:
        return list(self.chars)

    # ---------------------------------------------------------------------------- using
    def split(self, text: str) -> str:
        """`text` as tokens: itself, or decomposed (jamo)."""
        return tok.decompose(text) if self.tokens == "jamo" else text

    def split_points(self, points: np.ndarray) -> np.ndarray:
        """Code points of text -> token code points."""
        return tok.decompose_points(points) if self.tokens == "jamo" else points

    def encode(self, text: str) -> np.ndarray:
        """Ids of every token of `text`, dtype `self.dtype`; unknown characters raise VocabError."""
        return self.encode_points(code_points(self.split(text)))

    def encode_points(self, points: np.ndarray) -> np.ndarray:
        """Ids of an array of code points (uint8 arrays hold code points < 256, e.g. ASCII bytes)."""
        if points.dtype == np.uint8 and self.dtype == np.uint8:
            return self._encode_bytes(points)
        if points.size and int(points.max()) < len(self._lut):
            ids = self._lut[points]
        else:
            inside = points < len(self._lut)
            ids = np.full(points.shape, _UNKNOWN, dtype=np.uint32)
            ids[inside] = self._lut[points[inside]]
        if ids.size and ids.max() == _UNKNOWN:
            bad = np.unique(points[ids == _UNKNOWN])
            raise self._unknown_error([chr(int(p)) for p in bad])
        return ids.astype(self.dtype, copy=False)

    def _encode_bytes(self, points: np.ndarray) -> np.ndarray:
        """Code points < 256 to uint8 ids with bytes.translate (several times faster than indexing)."""
        if self._bytes_table is None:
            lut = np.full(256, _UNKNOWN, dtype=np.uint32)
            lut[: min(256, len(self._lut))] = self._lut[:256]
            known = lut != _UNKNOWN
            self._bytes_known = bytes(np.flatnonzero(known).astype(np.uint8))
            self._bytes_table = np.where(known, lut, 0).astype(np.uint8).tobytes()
        raw = points.tobytes()
        if raw.translate(None, self._bytes_known):  # what is left after deleting every known byte
            bad = sorted(set(raw.translate(None, self._bytes_known)))
            raise self._unknown_error([chr(b) for b in bad])
        return np.frombuffer(raw.translate(self._bytes_table), dtype=np.uint8).reshape(points.shape)

    def decode(self, ids) -> str:
        """The text of token ids (recomposed under jamo)."""
        text = self.decode_tokens(ids)
        return tok.recompose(text) if self.tokens == "jamo" else text

    def decode_tokens(self, ids) -> str:
        """The tokens of `ids`, one character per id (no recomposition)."""
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise VocabError(f"id {int(ids.max() if ids.max() >= self.size else ids.min())} is outside "
                             f"the vocabulary of {self.size} characters")
        return self._chars[ids.astype(np.intp)].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    def index(self, ch: str) -> int:
        try:
            return self._index[ch]
        except KeyError:
            raise self._unknown_error([ch]) from None

    def known(self, text, limit: int | None = None) -> Known:
        """`text` (a str or an array of code points) without the characters this vocabulary does not
        know: their ids, how many were dropped, the distinct dropped ones. With `limit`, the text
        stops right after its limit-th known character (what is dropped is counted up to there).
        Under jamo a character is known when all its tokens are (a syllable is kept or dropped whole),
        and `limit` counts tokens (the text stops at the end of the character holding the last)."""
        points = code_points(text) if isinstance(text, str) else np.asarray(text)
        if self.tokens == "jamo":
            return self._known_jamo(points, limit)
        ids = np.full(points.shape, _UNKNOWN, dtype=np.uint32)
        inside = points < len(self._lut)
        ids[inside] = self._lut[points[inside]]
        keep = ids != _UNKNOWN
        if limit is not None:
            pos = np.flatnonzero(keep)
            if len(pos) >= limit:  # stop right after the limit-th known character
                cut = int(pos[limit - 1]) + 1 if limit > 0 else 0
                points, ids, keep = points[:cut], ids[:cut], keep[:cut]
        if keep.all():
            return Known(ids.astype(self.dtype), 0, [])
        unknown = [chr(int(p)) for p in np.unique(points[~keep])]
        return Known(ids[keep].astype(self.dtype), int((~keep).sum()), unknown)

    def _known_jamo(self, raw: np.ndarray, limit: int | None) -> Known:
        points = tok.decompose_points(raw)
        char_of = np.cumsum(tok.char_weights(points), dtype=np.int64) - 1  # (N tokens,) index into raw
        ids = np.full(points.shape, _UNKNOWN, dtype=np.uint32)
        inside = points < len(self._lut)
        ids[inside] = self._lut[points[inside]]
        bad = np.zeros(len(raw), dtype=bool)
        bad[char_of[ids == _UNKNOWN]] = True  # characters with an unknown token
        keep = ~bad[char_of]
        if limit is not None:
            pos = np.flatnonzero(keep)
            if len(pos) >= limit:
                last = int(char_of[pos[limit - 1]]) if limit > 0 else -1
                cut = int(np.searchsorted(char_of, last, side="right"))
                ids, keep, bad = ids[:cut], keep[:cut], bad[: last + 1]
        if keep.all():
            return Known(ids.astype(self.dtype), 0, [])
        unknown = [chr(int(p)) for p in np.unique(np.asarray(raw)[: len(bad)][bad])]
        return Known(ids[keep].astype(self.dtype), int(bad.sum()), unknown)

    def unknown(self, text: str) -> list[str]:
        """Sorted distinct characters of `text` that are not in the vocabulary."""
        if self.tokens == "jamo":
            return self.known(text).unknown
        return sorted(set(text) - set(self._index))

    def _unknown_error(self, chars) -> VocabError:
        return VocabError(f"{len(chars)} character(s) not in the vocabulary: {describe(chars)}",
                          hint="use text made of the characters the model was trained on")

    def __contains__(self, ch) -> bool:
        return ch in self._index

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.chars == other.chars and self.tokens == other.tokens

    def __hash__(self) -> int:
        return hash((self.chars, self.tokens))

    def chars_in(self, x: np.ndarray, y: np.ndarray) -> int:
        """Original characters among targets y (B, T) whose inputs (the tokens before them) are x:
        y.size under chars; under jamo a vowel, a trailing consonant and the literal of an escape
        count 0 (a syllable counts once, on its leading consonant: tokens.char_weights)."""
        if self._start is None:
            return int(np.size(y))
        s = self._start[np.asarray(y, dtype=np.intp)]
        if self._esc >= 0:
            s = s * (np.asarray(x) != self._esc)
        return int(s.sum())

    def char_weights(self, ids) -> np.ndarray | None:
        """(N,) uint8: 1 where token ids[i] begins an original character (`tokens.char_weights`);
        None under chars (every token is a character)."""
        if self.tokens == "chars":
            return None
        return tok.char_weights(self._chars[np.asarray(ids, dtype=np.intp)])

    def __repr__(self) -> str:
        return f"Vocab({self.size} {self.tokens}: {''.join(display(c) for c in self.chars[:40])}...)"
