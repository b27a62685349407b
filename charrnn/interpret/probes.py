"""Probes: per-character signals a hidden unit might track, one float per character.

Each value describes the situation AFTER reading that character (what a unit's activation at
that character can know): an opening quote is inside its string, a closing quote is not.

    in_double_quotes  1 inside a "..." (or \"\"\"...\"\"\") string, from the opening quote on
    in_single_quotes  1 inside a '...' (or '''...''') string
    in_string         1 inside any string
    line_position     characters since the start of the line (0 for its first character)
    chars_to_eol      characters left until the end of the line (0 at the line break)
    bracket_depth     nesting depth of ( [ { outside strings and comments
    indentation       leading spaces of the current line (a tab counts to the next multiple of 8)
    in_comment        1 from a # outside strings to the end of the line
    word_start        1 on the first character of a word (letters, digits, _)
    upper_case        1 on an upper-case letter
    regex:PATTERN     1 on every character inside a match of PATTERN (re.MULTILINE)

Korean probes (added to the default set when the text has Hangul; `korean_default`):

    word_position     characters since the last space or line break (0 on the space itself)
    in_latin          1 on a Latin letter in a line that has Hangul (code-switching: "Basic 대화 상자")
    sentence_end      1 on a . ? ! that ends a sentence (followed by a space, a line break or the end;
                      not a decimal point), and on the line break after a line that ends in 다, 요 or 오
    jamo_lead         under jamo tokens, 1 on a syllable's leading consonant (one value per step:
    jamo_vowel        `jamo_probes`; with chars tokens they are constant and not ranked)
    jamo_trail

Strings are found by a small tokenizer. For Python source (detected, or `mode="python"`) it
follows Python's rules: backslash escapes (\\" and \\' do not close a string, also in raw
strings), triple quotes span lines, other strings end at the line end, prefixes (f, r, b, u, ...)
are ordinary code, # starts a comment only outside strings. For other text (`mode="plain"`)
a " toggles double quotes, a ' between two letters is an apostrophe and any other ' toggles
single quotes. Line breaks are \\n, \\r\\n or a lone \\r; the \\r of \\r\\n belongs to the break.
"""

from __future__ import annotations

import re

import numpy as np

from charrnn.errors import UsageError

BUILTIN = ("in_double_quotes", "in_single_quotes", "in_string", "line_position", "chars_to_eol",
           "bracket_depth", "indentation", "in_comment", "word_start", "upper_case")
KOREAN = ("word_position", "in_latin", "sentence_end")  # per character, like BUILTIN
JAMO = ("jamo_lead", "jamo_vowel", "jamo_trail")  # per token (jamo tokens only)
KNOWN = BUILTIN + KOREAN + JAMO
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]+")
_SENTENCE = re.compile(r"(?<![0-9])[.?!](?=\s|$)|(?<=[다요오])[.]?(?=\n)")
_PYTHON_LINE = re.compile(r"^[ \t]*(def |class |import |from \S+ import |return\b|elif |except\b|self\.)",
                          re.MULTILINE)
_OPEN, _CLOSE = "([{", ")]}"
_BREAK = re.compile(r"\r\n|\n|\r")


def looks_like_python(text: str) -> bool:
    """True when enough lines start like Python statements (def, class, import, return, ...)."""
    lines = text.count("\n") + 1
    return len(_PYTHON_LINE.findall(text)) >= max(2, lines // 50)


def check_names(names) -> list[str]:
    """The probe names, validated (unknown names and bad regular expressions raise UsageError)."""
    out = []
    for name in names:
        if name.startswith("regex:"):
            _compile(name[6:])
        elif name not in KNOWN:
            raise UsageError(f"unknown probe {name!r}",
                             hint="choose from " + ", ".join(KNOWN) + ", or regex:PATTERN")
        if name not in out:
            out.append(name)
    return out


def _compile(pattern: str) -> re.Pattern:
    if not pattern:
        raise UsageError("empty regex: probe", hint="give a pattern, e.g. --probe 'regex:[0-9]+'")
    try:
        return re.compile(pattern, re.MULTILINE)
    except re.error as e:
        raise UsageError(f"invalid regular expression in probe 'regex:{pattern}': {e}",
                         hint="a Python regular expression, e.g. --probe 'regex:[0-9]+'") from None


def has_hangul(text: str, share: float = 0.05) -> bool:
    """True when at least `share` of the text's characters are Hangul syllables."""
    n = sum(1 for c in text if "\uac00" <= c <= "\ud7a3")
    return n >= max(1, share * len(text))


def default_names(text: str, tokens: str = "chars") -> tuple[str, ...]:
    """The probes inspect-cells ranks when none are named: BUILTIN, plus KOREAN for a text with
    Hangul, plus JAMO under jamo tokens."""
    korean = has_hangul(text)
    return BUILTIN + (KOREAN if korean else ()) + (JAMO if tokens == "jamo" else ())


def jamo_probes(token_text: str) -> dict[str, np.ndarray]:
    """Per token of a jamo-token text: 1 on the leading consonants, vowels, trailing consonants of
    syllables (an escaped jamo, which is no syllable's part, is 0 in all three)."""
    from charrnn.data import tokens as tok

    k = tok.kinds(np.array([ord(c) for c in token_text], dtype=np.int64))
    after_esc = np.concatenate(([False], k[:-1] == tok.ESC))
    out = {}
    for name, kind in (("jamo_lead", tok.LEAD), ("jamo_vowel", tok.VOWEL), ("jamo_trail", tok.TRAIL)):
        out[name] = ((k == kind) & ~after_esc).astype(np.float64)
    return out


def _korean(text: str) -> dict[str, np.ndarray]:
    T = len(text)
    word = np.zeros(T)
    n = 0
    for t, ch in enumerate(text):
        n = 0 if ch.isspace() else n + 1
        word[t] = n
    latin = np.zeros(T)
    start = 0
    for line in text.splitlines(keepends=True):
        if any("\uac00" <= c <= "\ud7a3" for c in line):
            for m in _LATIN.finditer(line):
                latin[start + m.start(): start + m.end()] = 1.0
        start += len(line)
    end = np.zeros(T)
    for m in _SENTENCE.finditer(text):
        end[m.start(): max(m.end(), m.start() + 1)] = 1.0
    return {"word_position": word, "in_latin": latin, "sentence_end": end}


def compute(text: str, names=BUILTIN, mode: str = "auto") -> dict[str, np.ndarray]:
    """{name: (T,) float64 signal} for the probe names (built-in or regex:PATTERN), one value per
    character (the JAMO probes, one per token, come from `jamo_probes`)."""
    names = check_names(names)
    kor = _korean(text) if any(n in KOREAN for n in names) else {}
    if mode == "auto":
        mode = "python" if looks_like_python(text) else "plain"
    lex = _lex_python_best(text) if mode == "python" else _lex_plain(text)
    lines = _lines(text)
    out = {}
    for name in names:
        if name.startswith("regex:"):
            out[name] = regex_probe(text, name[6:])
        elif name in lex:
            out[name] = lex[name]
        elif name in lines:
            out[name] = lines[name]
        elif name == "word_start":
            word = np.array([c.isalnum() or c == "_" for c in text], dtype=bool)
            prev = np.concatenate(([False], word[:-1]))
            out[name] = (word & ~prev).astype(np.float64)
        elif name == "upper_case":
            out[name] = np.array([c.isupper() for c in text], dtype=np.float64)
        elif name in kor:
            out[name] = kor[name]
        elif name in JAMO:  # no jamo steps in a text read character by character
            out[name] = np.zeros(len(text))
    return out


def regex_probe(text: str, pattern: str) -> np.ndarray:
    sig = np.zeros(len(text))
    for m in _compile(pattern).finditer(text):
        sig[m.start(): m.end()] = 1.0
    return sig


# ---------------------------------------------------------------------------------- lines
def _lines(text: str) -> dict[str, np.ndarray]:
    """line_position, chars_to_eol, indentation; a break is \\n, \\r\\n or a lone \\r."""
    T = len(text)
    pos, to_eol, indent = np.zeros(T), np.zeros(T), np.zeros(T)
    start = 0
    while start < T:
        m = _BREAK.search(text, start)
        eol = m.start() if m else T  # first character of the break
        end = m.end() if m else T  # first character of the next line
        n = eol - start
        pos[start:eol] = np.arange(n)
        pos[eol:end] = n
        to_eol[start:eol] = np.arange(n, 0, -1)
        width = 0
        for ch in text[start:eol]:
            if ch == " ":
                width += 1
            elif ch == "\t":
                width += 8 - width % 8
            else:
                break
        indent[start:end] = width
        start = end
    return {"line_position": pos, "chars_to_eol": to_eol, "indentation": indent}


# -------------------------------------------------------------------------------- strings
def _lex_python_best(text: str) -> dict[str, np.ndarray]:
    """A text cut out of a longer file may start inside a docstring. Lex it from each possible
    start (code, inside a triple-quoted string of either quote) and keep the reading under which
    the most lines that look like statements (def, class, import, return, ...) are code."""
    starts = [m.end() - 1 for m in _PYTHON_LINE.finditer(text)]
    best, best_score = None, None
    for quote in (None, '"', "'"):
        lex = _lex_python(text, quote)
        inside = lex["in_string"][starts]
        score = len(starts) - 2 * int(inside.sum())
        if best_score is None or score > best_score:
            best, best_score = lex, score
    return best


def _lex_python(text: str, start_in: str | None = None) -> dict[str, np.ndarray]:
    """Strings, comments and bracket depth of Python source, state after each character.

    start_in: None to start in code, or '"' / "'" to start inside a triple-quoted string.
    """
    T = len(text)
    dq, sq, com, depth = np.zeros(T), np.zeros(T), np.zeros(T), np.zeros(T)
    quote, triple, d = start_in, start_in is not None, 0  # quote: delimiter of the open string
    in_comment = False
    t = 0
    while t < T:
        ch = text[t]
        if in_comment:
            if ch in "\r\n":
                in_comment = False
            else:
                com[t] = 1
        elif quote is None:
            if ch == "#":
                in_comment = True
                com[t] = 1
            elif ch in "\"'":
                quote, triple = ch, text.startswith(ch * 3, t)
                n = 3 if triple else 1
                (dq if ch == '"' else sq)[t: t + n] = 1
                depth[t: t + n] = d
                t += n
                continue
            elif ch in _OPEN:
                d += 1
            elif ch in _CLOSE:
                d = max(0, d - 1)
        else:
            sig = dq if quote == '"' else sq
            if ch == "\\" and t + 1 < T:  # an escape: the next character never closes the string
                n = 3 if text.startswith("\r\n", t + 1) else 2
                sig[t: t + n] = 1
                depth[t: t + n] = d
                t += n
                continue
            if ch == quote and (not triple or text.startswith(quote * 3, t)):
                n = 3 if triple else 1
                depth[t: t + n] = d
                quote = None
                t += n
                continue
            if ch in "\r\n" and not triple:  # unterminated single-line string: ends at the line end
                quote = None
            else:
                sig[t] = 1
        depth[t] = d
        t += 1
    return {"in_double_quotes": dq, "in_single_quotes": sq, "in_string": np.maximum(dq, sq),
            "in_comment": com, "bracket_depth": depth}


def _lex_plain(text: str) -> dict[str, np.ndarray]:
    """Plain text: quotes toggle (an apostrophe inside a word does not); # comments outside quotes."""
    T = len(text)
    dq, sq, com, depth = np.zeros(T), np.zeros(T), np.zeros(T), np.zeros(T)
    in_dq = in_sq = in_comment = False
    d = 0
    for t, ch in enumerate(text):
        if in_comment and ch in "\r\n":
            in_comment = False
        elif ch == '"' and not in_comment:
            in_dq = not in_dq
        elif ch == "'" and not in_comment:
            apostrophe = 0 < t < T - 1 and text[t - 1].isalpha() and text[t + 1].isalpha()
            if not apostrophe:
                in_sq = not in_sq
        elif ch == "#" and not (in_dq or in_sq):
            in_comment = True
        elif ch in _OPEN and not in_comment:
            d += 1
        elif ch in _CLOSE and not in_comment:
            d = max(0, d - 1)
        dq[t], sq[t], com[t], depth[t] = in_dq, in_sq, in_comment, d
    return {"in_double_quotes": dq, "in_single_quotes": sq, "in_string": np.maximum(dq, sq),
            "in_comment": com, "bracket_depth": depth}
