"""Show activations on the text in a terminal: a heat map (rich), or marks under the text.

Colour: each character's background is the value after reading it, over a scale: white at 0,
red positive, blue negative (inspect-cells passes values centred on the unit's median and a
robust scale, see scale.py; the HTML page is page.py).
Without colour, each line of text gets a line of marks, one per terminal column the character
takes: two under a wide (CJK, Hangul, most emoji) character, none under a zero-width one
(combining marks, zero-width joiners in emoji sequences, which are shown as they are).
"""

from __future__ import annotations

import unicodedata

import numpy as np

from charrnn.data.vocab import display

_SHOWN = {"\n": "↵\n", "\r": "␍", "\t": "⇥   "}  # how line breaks and tabs appear in a heat map
_MARKS = ((-0.5, "="), (-0.15, "-"), (0.15, " "), (0.5, "+"))  # plain-text scale; above 0.5: '#'
# Zero-width format characters shown as they are (they join emoji sequences such as 👨‍👩‍👧); other
# format characters (bidi overrides, soft hyphen, BOM...) are shown by name, as U+XXXX.
_JOINERS = frozenset("\u200b\u200c\u200d\u2060")


def width(ch: str) -> int:
    """Terminal columns of one character: 2 for wide (East Asian W/F), 0 for combining and
    zero-width joining characters, else 1."""
    if ch in _JOINERS or unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def rgb(v: float, scale: float) -> tuple[int, int, int]:
    """White at 0, red (255, 100, 100) at +scale, blue (100, 100, 255) at -scale: black text stays readable."""
    t = max(-1.0, min(1.0, v / scale))
    fade = int(round(255 - 155 * abs(t)))
    return (255, fade, fade) if t >= 0 else (fade, fade, 255)


def shown(ch: str) -> str:
    """How a character appears in a heat map: itself, a symbol for line breaks and tabs, U+XXXX
    for controls and invisible format characters (joiners stay as they are)."""
    if ch in _SHOWN:
        return _SHOWN[ch]
    return ch if ch.isprintable() or ch in _JOINERS else display(ch)


# ------------------------------------------------------------------------------ terminal
def heat_text(text: str, values: np.ndarray, scale: float):
    """A rich Text of `text` with each character's background coloured by its value.

    Values are rounded to 32 levels per sign, so runs of similar characters share one style."""
    from rich.text import Text

    out = Text()
    run, run_style = [], None
    for ch, v in zip(text, values):
        q = round(max(-1.0, min(1.0, float(v) / scale)) * 32) / 32
        r, g, b = rgb(q, 1.0)
        style = f"#000000 on #{r:02x}{g:02x}{b:02x}"
        piece = shown(ch)
        if style != run_style and run:
            out.append("".join(run), style=run_style)
            run = []
        run_style = style
        if piece.endswith("\n"):  # the line break itself carries no colour (it would fill the line)
            run.append(piece[:-1])
            out.append("".join(run), style=run_style)
            out.append("\n")
            run = []
        else:
            run.append(piece)
    if run:
        out.append("".join(run), style=run_style)
    return out


def heat_plain(text: str, values: np.ndarray, scale: float) -> str:
    """Without colours: each line of text, then a line of marks under its characters:
    '=' strongly negative, '-' negative, ' ' near 0, '+' positive, '#' strongly positive.
    A mark is repeated over the columns its character takes (see `width`)."""
    lines, row, marks = [], [], []
    for ch, v in zip(text, values):
        t = float(v) / scale
        mark = next((m for bound, m in _MARKS if t < bound), "#")
        if ch == "\n":
            row.append("↵")
            marks.append(mark)
            lines += ["".join(row), "".join(marks).rstrip()]
            row, marks = [], []
            continue
        if ch == "\r" or ch == "\t":
            piece, w = ("␍" if ch == "\r" else " "), 1
        elif ch.isprintable() or ch in _JOINERS:
            piece, w = ch, width(ch)
        else:
            piece, w = "?", 1
        row.append(piece)
        marks.append(mark * w)
    if row:
        lines += ["".join(row), "".join(marks).rstrip()]
    return "\n".join(lines)
