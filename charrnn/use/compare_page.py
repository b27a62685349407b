"""The `compare --html` page: one self-contained file (inline CSS, SVG drawn by inline script, no
network), with the runs' table, interactive learning curves and the samples logged along the way.

Curves: validation loss against step and against wall-clock time; nats or bits per character;
the training loss (dashed) on request; a run is hidden by clicking its name in the legend.
Hovering a chart shows every visible run's nearest evaluation; clicking a point shows the sample
that run logged at that step.
"""

from __future__ import annotations

import html
import json
import math
import re

from charrnn.interpret.live_page import CHART_JS

_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>charrnn compare: __TITLE__</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.2em 1.5em;color:#222;max-width:1400px}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.1em;margin:1.2em 0 .4em}
table{border-collapse:collapse;display:block;max-width:100%;overflow-x:auto}td,th{padding:3px 10px;border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap}
th{background:#f6f6f6}td.l,th.l{text-align:left}.diff{background:#fff7e0}
.sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;vertical-align:-.1em;margin-right:.4em}
#charts{display:flex;flex-wrap:wrap;gap:1.5em}.chart{flex:1 1 560px;min-width:min(420px,100%)}
.chart svg{width:100%;height:auto;border:1px solid #ddd;background:#fff;cursor:crosshair}
.controls{margin:.6em 0}.controls label{margin-right:1.2em}
#legend span{cursor:pointer;margin-right:1.2em;user-select:none}#legend span.off{opacity:.35}
#tip{position:fixed;pointer-events:none;background:rgba(255,255,255,.96);border:1px solid #bbb;
 padding:4px 8px;font-size:12px;display:none;white-space:pre;font-family:ui-monospace,Menlo,Consolas,monospace}
#samples{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(360px,100%),1fr));gap:1em}
.card{border:1px solid #ddd;border-radius:4px;padding:.5em .8em}
.card pre{white-space:pre-wrap;font-size:12px;background:#fafafa;padding:.5em;margin:.4em 0;max-height:18em;overflow:auto}
.card input{width:100%}.muted{color:#777}
.units{display:flex;flex-wrap:wrap;gap:1.5em}.units .chart svg{cursor:default}
</style></head><body>
<h1>charrnn compare</h1>
<p class="muted">__SUMMARY__</p>
<table id="runs"><thead><tr>__HEAD__</tr></thead><tbody>__ROWS__</tbody></table>
<p class="muted">val loss in nats/char (bits/char in brackets); time: wall clock from the start to the last evaluation, validation included;
chars/s: median training speed. Highlighted columns: the options that differ between the runs.</p>
<h2>Learning curves</h2>
<div class="controls"><span id="legend"></span>
<label><input type="radio" name="unit" value="nats" checked> nats/char</label>
<label><input type="radio" name="unit" value="bits"> bits/char</label>__SEQ2SEQ__
<label><input type="checkbox" id="train"> training loss (dashed)</label>
<label><input type="checkbox" id="logx"> log step axis</label></div>
<div id="charts"><div class="chart"><b><span class="metric">validation loss</span> against step</b><svg id="c-step" viewBox="0 0 640 360"></svg></div>
<div class="chart"><b><span class="metric">validation loss</span> against wall-clock time</b><svg id="c-time" viewBox="0 0 640 360"></svg></div></div>
<p class="muted">Hover a chart for the nearest evaluation of every run; click a point to read the sample logged there.</p>
<div id="unitsbox" style="display:none"><h2>Units forming: each probe's best unit, |r| over the steps</h2>
<p class="muted">Recorded by <code>charrnn train --live</code> (probes.jsonl in the run directory): at every evaluation, the Pearson r of each probe with its best state unit on a fixed slice of validation text.</p>
<div id="units" class="units"></div></div>
<h2>Samples logged during training</h2>
<div id="samples"></div>
<div id="tip"></div>
<script id="data" type="application/json">__DATA__</script>
<script>__CHART__</script>
<script>
(function(){
"use strict";
var D=JSON.parse(document.getElementById('data').textContent), runs=D.runs;
var COL=['#1f77b4','#d62728','#2ca02c','#9467bd','#ff7f0e','#8c564b','#e377c2','#17becf'];
var LN2=Math.log(2), hidden={}, unit='nats', vkey='val_loss', showTrain=false, logx=false, tip=document.getElementById('tip');
var NS='http://www.w3.org/2000/svg', W=640, H=360, M={l:58,r:14,t:12,b:42};
function el(n,a,p){var e=document.createElementNS(NS,n);for(var k in a)e.setAttribute(k,a[k]);if(p)p.appendChild(e);return e;}
function clock(s){s=Math.round(s);var h=Math.floor(s/3600),m=Math.floor(s/60)%60,x=s%60;
 return (h?h+':'+(m<10?'0':''):'')+m+':'+(x<10?'0':'')+x;}
function conv(v){return v==null?null:(unit==='bits'?v/LN2:v);}
function val(p){var v=p[vkey];return v==null?null:(vkey==='val_loss'?conv(v):v);}
var METRIC={val_exact_match:'exact match',val_char_error_rate:'char error rate',val_accuracy:'accuracy',val_macro_f1:'macro-F1'},
 KEYS={exact:'val_exact_match',cer:'val_char_error_rate',acc:'val_accuracy',f1:'val_macro_f1'};
function ticks(a,b,n){var span=b-a||1,step=Math.pow(10,Math.floor(Math.log10(span/n))),e=span/n/step;
 step*=e>5?10:e>2?5:e>1?2:1;var out=[];for(var v=Math.ceil(a/step)*step;v<=b+1e-9*span;v+=step)out.push(v);return out;}
function draw(id,xkey){
 var svg=document.getElementById(id);while(svg.firstChild)svg.removeChild(svg.firstChild);
 var xs=[],ys=[];
 runs.forEach(function(r,i){if(hidden[i])return;r.curve.forEach(function(p){
  if(p[xkey]==null||val(p)==null)return;xs.push(p[xkey]);ys.push(val(p));
  if(showTrain&&vkey==='val_loss'&&p.train_loss!=null)ys.push(conv(p.train_loss));});});
 if(!xs.length){el('text',{x:W/2,y:H/2,'text-anchor':'middle',fill:'#777'},svg).textContent='no evaluations to draw';return;}
 var useLog=logx&&xkey==='step';
 var fx=function(v){return useLog?Math.log10(Math.max(v,1)):v;};
 var x0=Math.min.apply(null,xs.map(fx)),x1=Math.max.apply(null,xs.map(fx)),y0=Math.min.apply(null,ys),y1=Math.max.apply(null,ys);
 if(x1===x0)x1=x0+1;var pad=(y1-y0)*0.06||0.5;y0-=pad;y1+=pad;
 var X=function(v){return M.l+(fx(v)-x0)/(x1-x0)*(W-M.l-M.r);},Y=function(v){return M.t+(y1-v)/(y1-y0)*(H-M.t-M.b);};
 ticks(y0,y1,6).forEach(function(v){var y=Y(v);el('line',{x1:M.l,x2:W-M.r,y1:y,y2:y,stroke:'#eee'},svg);
  el('text',{x:M.l-6,y:y+4,'text-anchor':'end','font-size':11,fill:'#555'},svg).textContent=v.toFixed(2);});
 var xt=useLog?ticks(x0,x1,5).map(function(v){return Math.pow(10,v);}):ticks(x0,x1,6);
 xt.forEach(function(v){var x=X(v);el('line',{x1:x,x2:x,y1:M.t,y2:H-M.b,stroke:'#f2f2f2'},svg);
  el('text',{x:x,y:H-M.b+15,'text-anchor':'middle','font-size':11,fill:'#555'},svg).textContent=
   xkey==='elapsed'?clock(v):(v>=1000?(v/1000)+'k':String(Math.round(v*100)/100));});
 el('text',{x:(M.l+W-M.r)/2,y:H-6,'text-anchor':'middle','font-size':12,fill:'#333'},svg).textContent=
  xkey==='elapsed'?'wall-clock time (m:s)':'step'+(useLog?' (log scale)':'');
 el('text',{x:14,y:(M.t+H-M.b)/2,'text-anchor':'middle','font-size':12,fill:'#333',
  transform:'rotate(-90 14 '+(M.t+H-M.b)/2+')'},svg).textContent=vkey==='val_loss'?'loss ('+unit+'/char)':METRIC[vkey];
 el('rect',{x:M.l,y:M.t,width:W-M.l-M.r,height:H-M.t-M.b,fill:'none',stroke:'#ccc'},svg);
 var pts=[];
 runs.forEach(function(r,i){if(hidden[i])return;var c=COL[i%COL.length];
  var P=r.curve.filter(function(p){return p[xkey]!=null&&val(p)!=null;});
  function path(key,dash){var d='';P.forEach(function(p,k){if(p[key]==null)return;d+=(d?'L':'M')+X(p[xkey]).toFixed(1)+','+Y(key===vkey?val(p):conv(p[key])).toFixed(1);});
   if(d)el('path',{d:d,fill:'none',stroke:c,'stroke-width':dash?1.3:2,'stroke-dasharray':dash?'5 4':'',opacity:dash?0.7:1},svg);}
  if(showTrain&&vkey==='val_loss')path('train_loss',true);path(vkey,false);
  P.forEach(function(p){var cx=X(p[xkey]),cy=Y(val(p));
   var dot=el('circle',{cx:cx,cy:cy,r:3,fill:c,'class':'pt'},svg);pts.push({x:cx,y:cy,run:i,p:p,dot:dot});});});
 var guide=el('line',{y1:M.t,y2:H-M.b,stroke:'#999','stroke-dasharray':'3 3',visibility:'hidden'},svg);
 function svgX(ev){var b=svg.getBoundingClientRect();return (ev.clientX-b.left)/b.width*W;}
 function svgY(ev){var b=svg.getBoundingClientRect();return (ev.clientY-b.top)/b.height*H;}
 svg.onmousemove=function(ev){var x=svgX(ev),best={};pts.forEach(function(q){var d=Math.abs(q.x-x);
   if(!(q.run in best)||d<best[q.run].d)best[q.run]={d:d,q:q};});
  var lines=[],gx=null;Object.keys(best).forEach(function(k){var q=best[k].q,p=q.p;if(gx==null)gx=q.x;
   lines.push(runs[q.run].name+': step '+p.step+(p.elapsed!=null?', '+clock(p.elapsed):'')+', val '+val(p).toFixed(4)+
    (p.train_loss!=null?', train '+conv(p.train_loss).toFixed(4):''));});
  guide.setAttribute('x1',gx);guide.setAttribute('x2',gx);guide.setAttribute('visibility','visible');
  tip.textContent=lines.join('\n');tip.style.display='block';tip.style.left=(ev.clientX+14)+'px';tip.style.top=(ev.clientY+10)+'px';};
 svg.onmouseleave=function(){tip.style.display='none';guide.setAttribute('visibility','hidden');};
 svg.onclick=function(ev){var x=svgX(ev),y=svgY(ev),b=null,bd=1e9;pts.forEach(function(q){var d=Math.hypot(q.x-x,q.y-y);if(d<bd){bd=d;b=q;}});
  if(b)showSample(b.run,b.p.step,true);};
}
function redraw(){document.querySelectorAll('.metric').forEach(function(m){m.textContent=
 vkey==='val_loss'?'validation loss':vkey==='val_char_error_rate'?'character error rate':METRIC[vkey];});
 draw('c-step','step');draw('c-time','elapsed');}
var legend=document.getElementById('legend');
runs.forEach(function(r,i){var s=document.createElement('span');s.innerHTML='<i class="sw"></i>';
 s.firstChild.style.background=COL[i%COL.length];s.appendChild(document.createTextNode(r.name));s.title='click to hide or show';
 s.onclick=function(){hidden[i]=!hidden[i];s.className=hidden[i]?'off':'';redraw();};legend.appendChild(s);});
document.querySelectorAll('input[name=unit]').forEach(function(e){e.onchange=function(){
 if(KEYS[e.value]){vkey=KEYS[e.value];}
 else{vkey='val_loss';unit=e.value;}redraw();};});
document.getElementById('train').onchange=function(e){showTrain=e.target.checked;redraw();};
document.getElementById('logx').onchange=function(e){logx=e.target.checked;redraw();};
var box=document.getElementById('samples'),cards=[];
runs.forEach(function(r,i){var c=document.createElement('div');c.className='card';
 var h=document.createElement('div');h.innerHTML='<i class="sw"></i><b></b> <span class="muted"></span>';
 h.firstChild.style.background=COL[i%COL.length];h.children[1].textContent=r.name;c.appendChild(h);
 var pre=document.createElement('pre'),slider=document.createElement('input');slider.type='range';
 if(!r.samples.length){pre.textContent='(this run logged no samples: --sample-len 0, or a run older than this feature)';c.appendChild(pre);}
 else{slider.min=0;slider.max=r.samples.length-1;slider.value=r.samples.length-1;c.appendChild(slider);c.appendChild(pre);
  slider.oninput=function(){show(+slider.value);};}
 function show(k){var s=r.samples[k];slider.value=k;h.children[2].textContent='sample at step '+s.step+' ('+(k+1)+' of '+r.samples.length+')';pre.textContent=s.text;}
 if(r.samples.length)show(r.samples.length-1);box.appendChild(c);cards.push({show:show,el:c});});
function showSample(i,step,scroll){var r=runs[i],k=-1;r.samples.forEach(function(s,j){if(s.step<=step)k=j;});
 if(k<0)return;cards[i].show(k);if(scroll)cards[i].el.scrollIntoView({behavior:'smooth',block:'nearest'});}
redraw();
if(runs.some(function(r){return r.probes&&r.probes.length;})){document.getElementById('unitsbox').style.display='';
 runs.forEach(function(r){if(!r.probes||!r.probes.length)return;var d=document.createElement('div');d.className='chart';
  var b=document.createElement('b');b.textContent=r.name;d.appendChild(b);var lg=document.createElement('div');lg.style.fontSize='.85em';d.appendChild(lg);
  var svg=document.createElementNS('http://www.w3.org/2000/svg','svg');d.appendChild(svg);document.getElementById('units').appendChild(d);
  var s=probeSeries(r.probes);svgLegend(lg,s);svgChart(svg,s,{xlabel:'step',ylabel:'|r| of the best unit',ymin:0,ymax:1});});}
})();
</script></body></html>
"""

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _json_for_script(obj) -> str:
    """JSON that cannot end the <script> element early (and no NaN, which JSON lacks)."""
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return s.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def _loss(v) -> str:
    return "-" if v is None else f"{v:.4f} ({v / math.log(2):.3f})"


def compare_page(c) -> str:
    """The page for a `compare.Comparison` (see the module docstring)."""
    from charrnn.use.compare import clock

    e = html.escape
    s2s = any(r.best_exact is not None or r.last_exact is not None for r in c.runs)
    head = ["run", "cell", "size", "params", "steps", "epochs", "time", "chars/s", "best val", "last val"]
    head += ["best exact", "last exact"] if s2s else []
    cells = "".join(f'<th class="{"l" if h in ("run", "cell") else ""}">{e(h)}</th>' for h in head)
    shown = [k for k in c.differing if k not in ("--model", "--layers", "--hidden")]  # cell and size show them
    cells += "".join(f'<th class="diff">{e(k)}</th>' for k in shown)
    rows = []
    for i, r in enumerate(c.runs):
        sw = f'<i class="sw" style="background:{_COLOURS[i % len(_COLOURS)]}"></i>'
        vals = [f"{r.layers}x{r.hidden}", f"{r.parameters:,}", f"{r.steps:,}",
                "-" if r.epochs is None else f"{r.epochs:.2f}",
                "-" if r.train_seconds is None else clock(r.train_seconds),
                "-" if r.chars_per_s is None else f"{r.chars_per_s:,.0f}", _loss(r.best_val), _loss(r.last_val)]
        vals += [_pct(r.best_exact), _pct(r.last_exact)] if s2s else []
        opts = ["-" if r.options.get(k) is None else (f"{r.options[k]:g}" if isinstance(r.options[k], float)
                                                      else str(r.options[k])) for k in shown]
        rows.append(f'<tr><td class="l" title="{e(r.checkpoint, quote=True)}">{sw}{e(r.name)}</td>'
                    f'<td class="l">{e(r.cell)}</td>' + "".join(f"<td>{e(v)}</td>" for v in vals)
                    + "".join(f'<td class="diff">{e(v)}</td>' for v in opts) + "</tr>")
    names = ", ".join(r.name for r in c.runs)
    summary = (f"{len(c.runs)} run{'s' if len(c.runs) != 1 else ''}: {names}. "
               + ("Options that differ: " + ", ".join(c.differing) + "." if c.differing
                  else "Every option is the same in all runs." if len(c.runs) > 1 else ""))
    data = {"runs": [{"name": r.name, "curve": r.curve, "samples": r.samples, "probes": r.probes} for r in c.runs]}
    radios = ('<label><input type="radio" name="unit" value="exact"> exact match</label>'
              '<label><input type="radio" name="unit" value="cer"> char error rate</label>') if s2s else ""
    if any("val_accuracy" in p for r in c.runs for p in r.curve):  # classify, tag runs
        radios += ('<label><input type="radio" name="unit" value="acc"> accuracy</label>'
                   '<label><input type="radio" name="unit" value="f1"> macro-F1</label>')
    parts = {"__TITLE__": e(names), "__SUMMARY__": e(summary), "__HEAD__": cells, "__ROWS__": "".join(rows),
             "__DATA__": _json_for_script(_clean(data)), "__SEQ2SEQ__": radios, "__CHART__": CHART_JS}
    return re.sub(r"__(TITLE|SUMMARY|HEAD|ROWS|DATA|SEQ2SEQ|CHART)__", lambda m: parts[m[0]], _PAGE)


def _pct(v) -> str:
    return "-" if v is None else f"{v:.2%}"
