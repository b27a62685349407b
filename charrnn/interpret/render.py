"""Show activations on the text: a terminal heat map (rich) and a self-contained HTML page.

Colour: each character's background is the unit's activation after reading it, scaled by the
unit's largest |activation| over the whole text: white at 0, red positive, blue negative.
Without colour, each line of text gets a line of marks, one per terminal column the character
takes: two under a wide (CJK, Hangul, most emoji) character, none under a zero-width one
(combining marks, zero-width joiners in emoji sequences, which are shown as they are).
"""

from __future__ import annotations

import html
import json
import re
import unicodedata

import numpy as np

from charrnn.vocab import display

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


def scale_of(values: np.ndarray) -> float:
    """The unit's largest |activation| (1.0 for a silent unit, so that 0 stays white)."""
    m = float(np.max(np.abs(values))) if len(values) else 0.0
    return m if m > 0 else 1.0


def rgb(v: float, scale: float) -> tuple[int, int, int]:
    """White at 0, red at +scale, blue at -scale."""
    t = max(-1.0, min(1.0, v / scale))
    fade = int(round(255 * (1 - abs(t))))
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


# ---------------------------------------------------------------------------------- HTML
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>charrnn inspect-cells: __TITLE__</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
#text{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;line-height:1.45;
 border:1px solid #ccc;padding:.8em;font-size:13px}
#text span{color:#000}
.nl{color:#999!important}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}
.pos{color:#b00}.neg{color:#00b}.legend span{padding:0 .6em}#info{margin-left:1em;color:#555}
</style></head><body>
<h1>charrnn inspect-cells</h1>
<p>__SUMMARY__</p>
<p><label>Unit: <select id="unit">__OPTIONS__</select></label><span id="info"></span>
<span class="legend"> <span style="background:#00f;color:#fff">negative</span><span>0</span><span style="background:#f00;color:#fff">positive</span></span></p>
<div id="text">__SPANS__</div>
<h2>Top units per probe</h2>
<table><tr><th>probe</th><th>unit</th><th>r</th></tr>__ROWS__</table>
<script id="data" type="application/json">__DATA__</script>
<script>
(function(){
var data=JSON.parse(document.getElementById('data').textContent);
var spans=document.getElementById('text').children, pick=document.getElementById('unit');
var info=document.getElementById('info');
function colour(v,s){var t=Math.max(-1,Math.min(1,v/s)),f=Math.round(255*(1-Math.abs(t)));
 return t>=0?'rgb(255,'+f+','+f+')':'rgb('+f+','+f+',255)';}
function show(){var u=data.series[pick.value],v=u.values;
 info.textContent=u.label+(u.note?' ('+u.note+')':'')+', max |value| '+u.scale.toPrecision(3);
 for(var i=0;i<spans.length;i++){spans[i].style.background=colour(v[i],u.scale);
  spans[i].title=u.label+' = '+v[i];}}
pick.addEventListener('change',show);show();
})();
</script></body></html>
"""


def _json_for_script(obj) -> str:
    """JSON that cannot end the <script> element early."""
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return s.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def html_page(text: str, series: list[dict], ranking: list[dict], summary: str, title: str = "") -> str:
    """One HTML page with no external assets.

    series: [{label, values (T,), note, group}] -- one picker entry each (grouped by `group`);
    ranking: [{probe, label, r}] rows of the table. Values are shown on hover.
    """
    spans = []
    for ch in text:
        if ch == "\n":
            spans.append('<span class="nl">↵\n</span>')
        else:
            spans.append(f"<span>{html.escape(shown(ch))}</span>")
    groups: dict[str, list[str]] = {}
    data = []
    for i, s in enumerate(series):
        values = np.asarray(s["values"], dtype=np.float64)
        data.append({"label": s["label"], "note": s.get("note", ""), "scale": scale_of(values),
                     "values": [round(float(v), 4) for v in values]})
        name = s["label"] + (" " + s["note"] if s.get("note") else "")
        opt = f'<option value="{i}">{html.escape(name)}</option>'
        groups.setdefault(s.get("group", ""), []).append(opt)
    options = "".join(f'<optgroup label="{html.escape(g, quote=True)}">{"".join(o)}</optgroup>' if g else "".join(o)
                      for g, o in groups.items())
    rows = "".join(f'<tr><td>{html.escape(r["probe"])}</td><td>{html.escape(r["label"])}</td>'
                   f'<td class="{"pos" if r["r"] >= 0 else "neg"}">{r["r"]:+.3f}</td></tr>' for r in ranking)
    parts = {"__TITLE__": html.escape(title), "__SUMMARY__": html.escape(summary), "__OPTIONS__": options,
             "__SPANS__": "".join(spans), "__ROWS__": rows, "__DATA__": _json_for_script({"series": data})}
    # One pass over the template only, so markers inside the text are never replaced.
    return re.sub(r"__(TITLE|SUMMARY|OPTIONS|SPANS|ROWS|DATA)__", lambda m: parts[m[0]], _PAGE)
