"""The page of `charrnn inspect-memory --html`: one self-contained file (no external assets).

Two charts drawn as inline SVG (every model overlaid, a legend, the values of every curve at the
pointer shown on hover) and a saliency heat map per model:

    context usage   L(k) for k = 1, 2, 4, ... (log axis) against L(full) (dashed), nats/char
    gradient reach  median g_k / g_0 per layer (h solid, LSTM c dashed, --init dotted), log axis
    saliency        the characters before the target, shaded by ||dl_t / d x_{t-1-k}|| (log scale)
"""

from __future__ import annotations

import html
import json
import math
import re

import numpy as np

from charrnn.interpret.memory import lesson
from charrnn.interpret.render import shown

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
W, H, LEFT, RIGHT, TOP, BOTTOM = 760, 330, 64, 16, 14, 44  # chart size and margins, px
FLOOR = 1e-12  # the gradient chart's lowest value (ratios below are drawn on the floor)


def _json_for_script(obj) -> str:
    """JSON that cannot end the <script> element early."""
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return s.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _fmt(v: float) -> str:
    return f"{v:.3g}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:.2e}"


class _Axes:
    """Maps data to SVG pixels: x linear or log10, y linear or log10."""

    def __init__(self, x0, x1, y0, y1, xlog: bool, ylog: bool):
        self.xlog, self.ylog = xlog, ylog
        f = (lambda v: math.log10(v)) if xlog else float
        g = (lambda v: math.log10(max(v, FLOOR))) if ylog else float
        self.fx, self.fy = f, g
        self.x0, self.x1 = f(x0), f(x1) if f(x1) > f(x0) else f(x0) + 1
        self.y0, self.y1 = g(y0), g(y1) if g(y1) > g(y0) else g(y0) + 1

    def px(self, x) -> float:
        return LEFT + (self.fx(x) - self.x0) / (self.x1 - self.x0) * (W - LEFT - RIGHT)

    def py(self, y) -> float:
        return H - BOTTOM - (self.fy(y) - self.y0) / (self.y1 - self.y0) * (H - TOP - BOTTOM)


def _chart(cid: str, xs, series: list[dict], xlog: bool, ylog: bool, xlabel: str, ylabel: str,
           hline: float | None = None) -> tuple[str, dict]:
    """One SVG chart and its hover data. series: [{label, colour, dash, values (like xs)}]."""
    xs = [float(x) for x in xs]
    vals = [float(v) for s in series for v in s["values"] if np.isfinite(v) and (not ylog or v > 0)]
    if ylog:
        lo = max(FLOOR, min(vals, default=1e-8))
        y0, y1 = 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(max(vals, default=1.0)))
    else:
        lo, hi = min(vals, default=0.0), max(vals, default=1.0)
        pad = 0.05 * (hi - lo or 1.0)
        y0, y1 = lo - pad, hi + pad
    ax = _Axes(xs[0] if not xlog else max(xs[0], 1), xs[-1], y0, y1, xlog, ylog)
    parts = [f'<svg id="{cid}" class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
             f'role="img" aria-label="{html.escape(ylabel)}">',
             f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}" class="frame"/>']
    # y ticks: decades (log) or 5 even steps (linear)
    yt = ([10.0 ** e for e in range(int(math.log10(y0)), int(math.log10(y1)) + 1)] if ylog
          else _round_ticks(y0, y1, 6))
    step = max(1, len(yt) // 8)
    for v in yt[::step]:
        y = ax.py(v)
        label = f"1e{int(round(math.log10(v)))}" if ylog else f"{v:.4g}"
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{label}</text>')
    # x ticks: every power of two (log) or about 8 round steps (linear)
    if xlog:
        xt = [x for x in xs if x >= 1]
    else:
        xt = _round_ticks(xs[0], xs[-1], 8)
    for v in xt:
        x = ax.px(v)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{H - BOTTOM}" class="grid"/>'
                     f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" class="tick" text-anchor="middle">{v:g}</text>')
    parts.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 6}" class="axis" text-anchor="middle">'
                 f'{html.escape(xlabel)}</text><text x="14" y="{(TOP + H - BOTTOM) / 2}" class="axis" '
                 f'text-anchor="middle" transform="rotate(-90 14 {(TOP + H - BOTTOM) / 2})">{html.escape(ylabel)}</text>')
    if hline is not None and y0 <= hline <= y1:
        y = ax.py(hline)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="threshold"/>')
    pxs = [ax.px(x) if not xlog or x >= 1 else None for x in xs]
    for s in series:
        pts = [(px, ax.py(v)) for px, v in zip(pxs, s["values"]) if px is not None and np.isfinite(v)]
        d = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y) in enumerate(pts))
        dash = f' stroke-dasharray="{s["dash"]}"' if s.get("dash") else ""
        parts.append(f'<path d="{d}" fill="none" stroke="{s["colour"]}" stroke-width="1.8"{dash}>'
                     f'<title>{html.escape(s["label"])}</title></path>')
        if len(pts) <= 40:  # few points: mark them
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{s["colour"]}"/>' for x, y in pts]
    parts.append(f'<line class="guide" x1="0" x2="0" y1="{TOP}" y2="{H - BOTTOM}" visibility="hidden"/>'
                 f'<rect class="hover" x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}"/>'
                 '</svg>')
    legend = "".join(
        f'<span class="key"><svg width="30" height="10"><line x1="0" x2="30" y1="5" y2="5" stroke="{s["colour"]}" '
        f'stroke-width="2"{" stroke-dasharray=" + chr(34) + s["dash"] + chr(34) if s.get("dash") else ""}/></svg>'
        f'{html.escape(s["label"])}</span>' for s in series)
    data = {"x": [round(p, 2) if p is not None else None for p in pxs], "k": [int(x) for x in xs],
            "series": [{"label": s["label"], "colour": s["colour"],
                        "values": [float(f"{v:.6g}") if np.isfinite(v) else None for v in s["values"]]} for s in series]}
    return (f'<div class="legend">{legend}</div><div class="plot">{"".join(parts)}<div class="readout" '
            f'id="{cid}-readout">Hover over the chart for the values.</div></div>'), data


def _round_ticks(lo: float, hi: float, most: int) -> list[float]:
    """Multiples of 1, 2 or 5 times a power of ten in [lo, hi], at most `most` of them."""
    span = (hi - lo) or 1.0
    unit = 10 ** math.floor(math.log10(span / most))
    unit *= next(m for m in (1, 2, 5, 10) if span / (unit * m) <= most)
    return [float(v) for v in np.arange(math.ceil(lo / unit) * unit, hi + unit * 1e-9, unit)]


def _models(results) -> list[tuple[str, str, object, str]]:
    """(label, colour, Memory, tag) for every model and, with --init, its fresh twin."""
    many = len(results) > 1
    out = []
    for i, m in enumerate(results):
        name = (f"m{i} " if many else "") + f"{m.cell} {m.layers}x{m.hidden}"
        colour = COLOURS[i % len(COLOURS)]
        out.append((name, colour, m, ""))
        if m.init is not None:
            out.append((name + " init", _tint(colour), m.init, "init"))
        if m.init_highway is not None:
            out.append((name + " init, forget bias 1", _tint(_tint(colour)), m.init_highway, "init"))
    return out


def _heat(m, name: str, decades: float = 4.0) -> str:
    t, values = m.saliency["target"], np.asarray(m.saliency["values"], dtype=np.float64)
    n = len(values)
    top = values.max() if values.max() > 0 else 1.0
    spans = []
    for k in range(n - 1, -1, -1):  # oldest first: x_{t-1-k}
        ch = chr(int(m.text[t - 1 - k]))
        level = max(0.0, 1 + math.log10(values[k] / top) / decades) if values[k] > 0 else 0.0
        style = f"background:rgba(214,39,40,{level:.3f})"
        body = "↵\n" if ch == "\n" else html.escape(shown(ch))
        spans.append(f'<span style="{style}" data-v="{values[k]:.3e}" data-k="{k}"{" class=nl" if ch == chr(10) else ""}>'
                     f'{body}</span>')
    target = chr(int(m.text[t]))
    spans.append(f'<span class="target" title="the target x_t = {html.escape(repr(target), quote=True)}">{"↵" if target == chr(10) else html.escape(shown(target))}</span>')
    return (f'<h3>{html.escape(name)}: target character {t:,}</h3>'
            f'<div class="heat">{"".join(spans)}</div>')


def memory_page(results, summary: str) -> str:
    """The whole page for the `charrnn.memory.Memory` results (one per checkpoint)."""
    models = _models(results)
    rows = []
    highway = any(m.init_highway is not None for m in results)
    for i, m in enumerate(results):
        eff = m.effective_context
        cells = [m.extra.get("checkpoint", ""), m.cell, f"{m.layers} x {m.hidden}", f"{m.loss_full:.4f}",
                 str(eff) if eff is not None else f"> {int(m.contexts[-1])}",
                 _horizons(m), _horizons(m.init) if m.init is not None else "-"]
        if highway:
            cells.append(_horizons(m.init_highway) if m.init_highway is not None else "-")
        cells.append(f"{m.extra.get('skipped', 0):,}")
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    table = ("<table><tr><th>checkpoint</th><th>cell</th><th>layers x hidden</th><th>L(full)</th>"
             "<th>effective context</th><th>gradient horizon</th><th>at init</th>"
             + ("<th>at init, forget bias 1</th>" if highway else "") + "<th>skipped chars</th></tr>"
             + "".join(rows) + "</table>")
    said = lesson(results)
    if said:
        table += f'<p class="lesson"><b>{html.escape(said)}</b></p>'

    ks = sorted({int(k) for _, _, m, _ in models for k in m.contexts})
    ctx_series = []
    for name, colour, m, tag in models:
        by_k = dict(zip((int(k) for k in m.contexts), m.loss_at))
        ctx_series.append({"label": f"{name} L(k)", "colour": colour, "dash": "2 3" if tag else "",
                           "values": [by_k.get(k, float("nan")) for k in ks]})
        ctx_series.append({"label": f"{name} L(full)", "colour": colour, "dash": "8 4",
                           "values": [m.loss_full] * len(ks)})
    ctx_svg, ctx_data = _chart("context", ks, ctx_series, xlog=True, ylog=False,
                               xlabel="k: characters read before the target (log scale)",
                               ylabel="loss, nats/char")

    K = max(int(m.distances[-1]) for _, _, m, _ in models)
    reach_series = []
    for name, colour, m, tag in models:
        curves = [(f"L{j} h", row, "") for j, row in enumerate(m.grad_h_median)]
        if m.grad_c is not None:
            curves += [(f"L{j} c", row, "6 3") for j, row in enumerate(m.grad_c_median)]
        for j, (label, row, dash) in enumerate(curves):
            values = list(row) + [float("nan")] * (K + 1 - len(row))
            reach_series.append({"label": f"{name} {label}", "colour": _shade(colour, j % max(1, m.layers), m.layers),
                                 "dash": "1 3" if tag else dash, "values": values})
    reach_svg, reach_data = _chart("reach", range(K + 1), reach_series, xlog=False, ylog=True,
                                   xlabel="k: distance back from the target, characters",
                                   ylabel="median g_k / g_0 (log scale)", hline=1e-3)

    heats = "".join(_heat(m, name) for name, _, m, tag in models if not tag and m.saliency is not None)
    parts = {"__SUMMARY__": html.escape(summary), "__TABLE__": table, "__CONTEXT__": ctx_svg,
             "__REACH__": reach_svg, "__HEAT__": heats or "<p>No saliency target.</p>",
             "__DATA__": _json_for_script({"context": ctx_data, "reach": reach_data})}
    # One pass over the template only, so markers inside the text are never replaced.
    return re.sub(r"__(SUMMARY|TABLE|CONTEXT|REACH|HEAT|DATA)__", lambda m: parts[m[0]], _PAGE)


def _horizons(m) -> str:
    """'L0 12, L1 7' for h (and '; c: L0 40, L1 9' for an LSTM)."""
    K = int(m.distances[-1])

    def one(hs):
        return ", ".join(f"L{j} {'>=' if h >= K else ''}{h}" for j, h in enumerate(hs))
    return one(m.gradient_horizon) + (f"; c: {one(m.c_horizon)}" if m.c_horizon is not None else "")


def _tint(colour: str) -> str:
    """The colour halfway to white (the freshly initialised twin of a model)."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#%02x%02x%02x" % ((r + 255) // 2, (g + 255) // 2, (b + 255) // 2)


def _shade(colour: str, j: int, n: int) -> str:
    """Layer j of n: the model's colour, lower layers darker."""
    if n <= 1:
        return colour
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    f = 0.55 + 0.45 * j / (n - 1)
    return "#%02x%02x%02x" % (int(r * f), int(g * f), int(b * f))


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>charrnn inspect-memory</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1180px}
.plot{display:flex;flex-wrap:wrap;align-items:flex-start;gap:1em}p{overflow-wrap:anywhere}
table{border-collapse:collapse;margin:.5em 0 1em;display:block;max-width:100%;overflow-x:auto}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}
.chart{display:block;font-size:11px;max-width:100%;height:auto}.frame{fill:#fff;stroke:#999}.grid{stroke:#eee}.tick{fill:#555}
.axis{fill:#333;font-size:12px}.threshold{stroke:#888;stroke-dasharray:4 3}.guide{stroke:#444;stroke-width:1}
.hover{fill:transparent;cursor:crosshair}.legend{margin:.3em 0}.key{margin-right:1.2em;white-space:nowrap}
.key svg{vertical-align:middle;margin-right:.3em}
.readout{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;white-space:pre;color:#333;
 width:22em;max-height:330px;overflow:auto}
.heat{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;line-height:1.45;font-size:13px;
 border:1px solid #ccc;padding:.8em}
.heat .nl{color:#999}.target{outline:2px solid #000;font-weight:bold}
#heat-readout{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;min-height:1.4em}
</style></head><body>
<h1>charrnn inspect-memory</h1>
<p>__SUMMARY__</p>
__TABLE__
<h2>Context usage</h2>
<p>L(k): the loss on the same targets when the model reads only the k characters before each one,
from a zero state; dashed: L(full), with the state carried from the start of the text.</p>
__CONTEXT__
<h2>Gradient reach</h2>
<p>Median over targets of g_k / g_0, the norm of the gradient of the target's loss with respect to
each layer's state k characters back, relative to k = 0. Solid: hidden state h (darker: lower
layer); dashed: LSTM cell state c; dotted: the freshly initialised model (--init). Grey dashes:
1e-3, the gradient horizon's threshold. Ratios below 1e-12 are drawn on the bottom edge.</p>
__REACH__
<h2>Saliency of earlier characters</h2>
<p>Each character before the target (outlined) shaded by ||dl/dx|| (the gradient of the target's
loss with respect to that character's one-hot input), on a log scale from the largest down four
decades. Hover a character for its value.</p>
<div id="heat-readout"></div>
__HEAT__
<script id="data" type="application/json">__DATA__</script>
<script>
(function(){
var data=JSON.parse(document.getElementById('data').textContent);
function fmt(v){if(v===null)return '-';if(v===0)return '0';var a=Math.abs(v);return (a!==0&&(a<1e-3||a>=1e4))?v.toExponential(2):v.toPrecision(4);}
Object.keys(data).forEach(function(id){
 var svg=document.getElementById(id),d=data[id],out=document.getElementById(id+'-readout');
 var guide=svg.querySelector('.guide'),hover=svg.querySelector('.hover');
 function at(ev){var p=svg.createSVGPoint();p.x=ev.clientX;p.y=ev.clientY;
  var x=p.matrixTransform(svg.getScreenCTM().inverse()).x,best=-1,dist=1e9;
  for(var i=0;i<d.x.length;i++){if(d.x[i]===null)continue;var e=Math.abs(d.x[i]-x);if(e<dist){dist=e;best=i;}}
  return best;}
 hover.addEventListener('mousemove',function(ev){var i=at(ev);if(i<0)return;
  guide.setAttribute('x1',d.x[i]);guide.setAttribute('x2',d.x[i]);guide.setAttribute('visibility','visible');
  out.textContent='k = '+d.k[i]+'\\n'+d.series.map(function(s){return s.label+': '+fmt(s.values[i]);}).join('\\n');});
 hover.addEventListener('mouseleave',function(){guide.setAttribute('visibility','hidden');});
});
var ro=document.getElementById('heat-readout');
Array.prototype.forEach.call(document.querySelectorAll('.heat span[data-v]'),function(s){
 s.title='k = '+s.dataset.k+': ||dl/dx|| = '+s.dataset.v;
 s.addEventListener('mouseenter',function(){ro.textContent='k = '+s.dataset.k+' characters back: ||dl/dx|| = '+s.dataset.v;});});
})();
</script></body></html>
"""
