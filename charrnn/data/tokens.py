"""Tokenizations: what one model step reads. `chars` (one Unicode character per step) or `jamo`.

`jamo`: every precomposed Hangul syllable (U+AC00-U+D7A3, 11,172 of them) is read as its 2 or 3
conjoining jamo, the exact decomposition of the Unicode standard (section 3.12):

    s = syllable - 0xAC00                      (0 <= s < 19 * 21 * 28)
    L = 0x1100 + s // 588                      leading consonant (choseong), 19 of them
    V = 0x1161 + (s % 588) // 28               vowel (jungseong), 21
    T = 0x11A7 + s % 28   (none when s % 28 == 0)   trailing consonant (jongseong), 27

Nothing else changes: no general NFD (Latin accents stay as they are), and the compatibility
jamo (U+3131-U+318E: ㄱ, ㅋㅋ, ㅠㅠ, written alone) stay single characters of their own: they are
not syllable parts, so they are neither decomposed nor ever composed.

Text that is already decomposed (conjoining jamo in the input, e.g. NFD text from macOS file
names) would be merged into syllables by `recompose`, so the round trip would not be exact.
Rule: a conjoining jamo of the 67 modern ones (L, V or T above) that is in the input as such is
escaped: written ESCAPE + the jamo; ESCAPE itself (U+E000, private use) in the input is written
ESCAPE + U+E001. `recompose` reads ESCAPE + x as the literal x (U+E001: ESCAPE), so
recompose(decompose(text)) == text for every text, and an ESCAPE token always starts a pair (never
is the second of one), so "the token after an ESCAPE" is all a counter needs to know. (Archaic
conjoining jamo, U+1113-, are never composed and need no escape.)

Recomposing is done by `Recomposer`, which holds back at most one unfinished syllable (L or L V,
or an ESCAPE), so a sampler can stream its output. The syllable grammar that makes every sampled
syllable valid is `Grammar`. `char_weights` says which tokens begin an original character: the
unit in which losses of the two tokenizations compare (a syllable's loss is the sum of its jamo's).
"""

from __future__ import annotations

import numpy as np

TOKENIZATIONS = ("chars", "jamo")

SBASE, LBASE, VBASE, TBASE = 0xAC00, 0x1100, 0x1161, 0x11A7
LCOUNT, VCOUNT, TCOUNT = 19, 21, 28  # TCOUNT counts "no trailing consonant" as index 0
NCOUNT = VCOUNT * TCOUNT  # 588 syllables per leading consonant
SCOUNT = LCOUNT * NCOUNT  # 11,172
ESCAPE = "\ue000"
_ESC = 0xE000
_ESC_LITERAL = 0xE001  # ESCAPE + this token: the input's own U+E000

# Token kinds (small ints, for the vectorised code and the grammar)
OTHER, LEAD, VOWEL, TRAIL, ESC = 0, 1, 2, 3, 4


def is_syllable(cp) -> bool:
    return SBASE <= cp < SBASE + SCOUNT


def kind(cp: int) -> int:
    """LEAD, VOWEL, TRAIL for the 67 modern conjoining jamo, ESC for ESCAPE, else OTHER."""
    if LBASE <= cp < LBASE + LCOUNT:
        return LEAD
    if VBASE <= cp < VBASE + VCOUNT:
        return VOWEL
    if TBASE < cp < TBASE + TCOUNT:
        return TRAIL
    return ESC if cp == _ESC else OTHER


def kinds(points: np.ndarray) -> np.ndarray:
    """`kind` of every code point of an array, (N,) uint8."""
    p = np.asarray(points).astype(np.int64)
    k = np.zeros(p.shape, dtype=np.uint8)
    k[(p >= LBASE) & (p < LBASE + LCOUNT)] = LEAD
    k[(p >= VBASE) & (p < VBASE + VCOUNT)] = VOWEL
    k[(p > TBASE) & (p < TBASE + TCOUNT)] = TRAIL
    k[p == _ESC] = ESC
    return k


# ------------------------------------------------------------------------------- decompose
def decompose_points(points: np.ndarray) -> np.ndarray:
    """Code points -> jamo-token code points (uint32), vectorised: each syllable becomes L V (T),
    each modern conjoining jamo and ESCAPE of the input ESCAPE + itself, the rest stays."""
    p = np.asarray(points).astype(np.int64)
    s = p - SBASE
    syl = (s >= 0) & (s < SCOUNT)
    raw = kinds(p) != OTHER  # input jamo and ESCAPE: escaped
    if not syl.any() and not raw.any():
        return np.asarray(points, dtype=np.uint32)
    trail = syl & (s % TCOUNT != 0)
    lengths = 1 + syl + trail + raw  # tokens per input character
    starts = np.cumsum(lengths) - lengths
    out = np.empty(int(lengths.sum()), dtype=np.uint32)
    out[starts] = np.where(syl, LBASE + s // NCOUNT, np.where(raw, _ESC, p))
    out[starts[syl] + 1] = VBASE + (s[syl] % NCOUNT) // TCOUNT
    out[starts[raw] + 1] = np.where(p[raw] == _ESC, _ESC_LITERAL, p[raw])
    out[starts[trail] + 2] = TBASE + s[trail] % TCOUNT
    return out


def decompose(text: str) -> str:
    """The jamo-token form of `text` (see the module docstring); `recompose` inverts it exactly."""
    if text.isascii():
        return text
    pts = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    return decompose_points(pts).astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


# ------------------------------------------------------------------------------- recompose
def compose(lead: str, vowel: str, trail: str = "") -> str:
    """The syllable of a leading consonant, a vowel and an optional trailing consonant."""
    t = ord(trail) - TBASE if trail else 0
    return chr(SBASE + ((ord(lead) - LBASE) * VCOUNT + ord(vowel) - VBASE) * TCOUNT + t)


class Recomposer:
    """Streaming inverse of `decompose`: `feed(token)` returns the characters now complete ('' while
    a syllable is unfinished), `flush()` the rest. It holds back at most one unfinished syllable
    (L, or L V: a T may follow) or one ESCAPE. A lone L or a V / T that follows no syllable (only
    an unconstrained sampler writes those) is passed through as the jamo it is."""

    def __init__(self):
        self.pending = ""  # "", ESCAPE, L or L V

    def feed(self, tok: str) -> str:
        p = self.pending
        if p == ESCAPE:  # the literal after an escape
            self.pending = ""
            return ESCAPE if ord(tok) == _ESC_LITERAL else tok
        k = kind(ord(tok))
        if len(p) == 2:  # L V: a syllable, with this T or without
            if k == TRAIL:
                self.pending = ""
                return compose(p[0], p[1], tok)
            self.pending = ""
            return compose(p[0], p[1]) + self.feed(tok)
        if p:  # L
            if k == VOWEL:
                self.pending = p + tok
                return ""
            self.pending = ""
            return p + self.feed(tok)  # a lone leading consonant, as it is
        if k in (LEAD, ESC):
            self.pending = tok
            return ""
        return tok

    def flush(self) -> str:
        p, self.pending = self.pending, ""
        return compose(p[0], p[1]) if len(p) == 2 else p


def recompose(tokens: str) -> str:
    """Jamo tokens -> text: recompose(decompose(text)) == text for every text."""
    if tokens.isascii():
        return tokens
    r = Recomposer()
    return "".join(r.feed(t) for t in tokens) + r.flush()


# --------------------------------------------------------------------------- original characters
def char_weights(points: np.ndarray) -> np.ndarray:
    """(N,) uint8 over jamo-token code points: 1 where a token begins an original character.

    A syllable's L counts 1, its V and T 0; an escaped character counts on its ESCAPE; every other
    token counts 1. The sum of the weights of the scored tokens is the number of original
    characters they make (the losses are never weighted: a syllable's loss is the sum of its jamo's).
    """
    k = kinds(points)
    w = ((k != VOWEL) & (k != TRAIL)).astype(np.uint8)
    w[1:][k[:-1] == ESC] = 0  # the literal of an escape pair: counted on its ESCAPE
    return w


def start_weights(chars) -> np.ndarray:
    """Per token of a vocabulary, (V,) uint8: 1 if it begins an original character when it does not
    follow an ESCAPE (with `char_weights`' rule, the count of a chunk is then
    sum(start[y] * (x != ESCAPE)) over its inputs x and targets y)."""
    k = kinds(np.array([ord(c) for c in chars], dtype=np.int64))
    return ((k != VOWEL) & (k != TRAIL)).astype(np.uint8)


def count_chars(text: str) -> tuple[int, int]:
    """(original characters, jamo tokens) of `text`."""
    return len(text), len(decompose(text))


def syllable_counts(text: str) -> tuple[int, int]:
    """(precomposed syllables, stray conjoining jamo) of a sampled text: how many syllables came out
    whole, and how many jamo did not make one (the share valid is the first over the sum)."""
    pts = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)
    syl = int(((pts >= SBASE) & (pts < SBASE + SCOUNT)).sum())
    stray = int(((pts >= 0x1100) & (pts < 0x1200)).sum())
    return syl, stray


# ---------------------------------------------------------------------------------- grammar
class Grammar:
    """The syllable grammar over a jamo vocabulary, as masks of allowed next tokens.

    After a leading consonant only a vowel; a trailing consonant only right after a vowel; a vowel
    nowhere else; ESCAPE never (escaped input jamo are text to read, not to write). So every
    leading consonant is followed by a vowel (never left dangling), and every syllable sampled is a
    valid precomposed one. A leading consonant is allowed only if the vocabulary has a vowel.

    States are the kind of the last token read (OTHER at a boundary: the start, or the end of a
    prime, whose last syllable is the user's and complete). `allowed[state]` is (V,) bool.
    """

    def __init__(self, chars):
        k = kinds(np.array([ord(c) for c in chars], dtype=np.int64))
        self.kind = k.tolist()  # per token id
        has_vowel = bool((k == VOWEL).any())
        free = (k == OTHER) | ((k == LEAD) & has_vowel)  # what may start a character
        self.allowed = {
            OTHER: free,
            LEAD: k == VOWEL,
            VOWEL: free | (k == TRAIL),
            TRAIL: free,
            ESC: free,
        }
        # additive masks for logits: 0 where allowed, -inf elsewhere
        self.add = {s: np.where(a, 0.0, -np.inf) for s, a in self.allowed.items()}

    def after(self, state: int, ix: int, escaped: bool = False) -> int:
        """The state after reading token `ix` in `state` (an escaped literal is OTHER)."""
        if escaped:
            return OTHER
        k = self.kind[ix]
        if k == VOWEL:
            return VOWEL if state == LEAD else OTHER
        if k == TRAIL:
            return TRAIL if state == VOWEL else OTHER
        return k

    def state_after_prime(self, ids) -> int:
        """The state at the end of a prime: a boundary (the user's last character is complete),
        except right after an unfinished leading consonant, which only a vowel may follow."""
        state, escaped = OTHER, False
        for ix in ids:
            state, escaped = (OTHER, False) if escaped else (self.after(state, ix), self.kind[ix] == ESC)
        return LEAD if state == LEAD else OTHER


def valid_sequence(tokens: str) -> bool:
    """True when every jamo of `tokens` is part of a valid syllable L V (T) (ESCAPE-free text)."""
    prev = OTHER
    for t in tokens:
        k = kind(ord(t))
        if k == ESC:
            return False
        if (k == VOWEL and prev != LEAD) or (k == TRAIL and prev != VOWEL) or (prev == LEAD and k != VOWEL):
            return False
        prev = k if k != VOWEL or prev == LEAD else OTHER
    return prev != LEAD
