"""The page of `charrnn train --live` (data: interpret/live.py): one self-contained file, inline
CSS and script, SVG charts, no network.

Top to bottom: the run's state (step, losses, when the page was written; "reloads every 5 s"
while training runs); the learning curves (training and validation loss against step, from the
records of metrics.jsonl); each probe's best |r| over the steps (on the fixed slice of validation
text); the latest samples; for each probe, the heat map of its current best unit on the part of
the slice where the probe varies most. The page keeps its scroll position across reloads
(sessionStorage). `CHART_JS` (a small line chart) is shared with compare's page.
"""

from __future__ import annotations

import html
import json
import re

# A line chart in an <svg>: svgChart(svg, series [{name, color, dash, pts [[x, y], ...]}], opts
# {xlabel, ylabel, ymin, ymax}); axes with about 5 ticks each, a legend line under the title.
CHART_JS = r"""
function svgChart(svg,series,o){var W=640,Hh=300,L=56,R=14,T=12,B=40,NS='http://www.w3.org/2000/svg';
 while(svg.firstChild)svg.removeChild(svg.firstChild);svg.setAttribute('viewBox','0 0 '+W+' '+Hh);
 function el(n,a,txt){var e=document.createElementNS(NS,n);for(var k in a)e.setAttribute(k,a[k]);if(txt!==undefined)e.textContent=txt;svg.appendChild(e);return e;}
 var xs=[],ys=[];series.forEach(function(s){s.pts.forEach(function(p){if(p[1]!==null&&isFinite(p[1])){xs.push(p[0]);ys.push(p[1]);}});});
 if(!xs.length){el('text',{x:W/2,y:Hh/2,'text-anchor':'middle',fill:'#888','font-size':13},o.empty||'no data yet');return;}
 var x0=Math.min.apply(null,xs),x1=Math.max.apply(null,xs),y0=o.ymin!==undefined?o.ymin:Math.min.apply(null,ys),y1=o.ymax!==undefined?o.ymax:Math.max.apply(null,ys);
 if(x1===x0){x0-=1;x1+=1;}if(y1===y0){y0-=0.5;y1+=0.5;}
 function lab(v){v=+v.toPrecision(6);return Math.abs(v)>=1e4?+(v/1e3).toPrecision(4)+'k':String(v);}
 function nice(a,b){var s=Math.pow(10,Math.floor(Math.log10((b-a)/5))),m=(b-a)/5/s,st=(m<1.5?1:m<3.5?2:m<7.5?5:10)*s,out=[];
  for(var v=Math.ceil(a/st)*st;v<=b+1e-9*st;v+=st)out.push(v);return out;}
 function X(v){return L+(v-x0)/(x1-x0)*(W-L-R);}function Y(v){return T+(1-(v-y0)/(y1-y0))*(Hh-T-B);}
 nice(y0,y1).forEach(function(v){el('line',{x1:L,x2:W-R,y1:Y(v),y2:Y(v),stroke:'#eee'});
  el('text',{x:L-6,y:Y(v)+4,'text-anchor':'end','font-size':11,fill:'#555'},lab(v));});
 nice(x0,x1).forEach(function(v){el('text',{x:X(v),y:Hh-B+16,'text-anchor':'middle','font-size':11,fill:'#555'},lab(v));});
 el('line',{x1:L,x2:W-R,y1:Hh-B,y2:Hh-B,stroke:'#999'});el('line',{x1:L,x2:L,y1:T,y2:Hh-B,stroke:'#999'});
 el('text',{x:(L+W-R)/2,y:Hh-6,'text-anchor':'middle','font-size':12,fill:'#333'},o.xlabel||'');
 el('text',{x:14,y:(T+Hh-B)/2,'text-anchor':'middle','font-size':12,fill:'#333',transform:'rotate(-90 14 '+(T+Hh-B)/2+')'},o.ylabel||'');
 series.forEach(function(s){var d='',pen=false;s.pts.forEach(function(p){if(p[1]===null||!isFinite(p[1])){pen=false;return;}
   d+=(pen?'L':'M')+X(p[0]).toFixed(1)+' '+Y(p[1]).toFixed(1);pen=true;});
  var a={d:d,fill:'none',stroke:s.color,'stroke-width':s.width||1.8};if(s.dash)a['stroke-dasharray']='5 4';el('path',a);
  if(s.pts.length<=60)s.pts.forEach(function(p){if(p[1]!==null&&isFinite(p[1]))el('circle',{cx:X(p[0]),cy:Y(p[1]),r:2.2,fill:s.color});});});}
var SERIES_COLOURS=['#1f77b4','#d62728','#2ca02c','#9467bd','#ff7f0e','#8c564b','#e377c2','#17becf','#7f7f7f','#bcbd22'];
function svgLegend(box,series){box.textContent='';series.forEach(function(s){var sp=document.createElement('span'),sw=document.createElement('span');sp.style.whiteSpace='nowrap';
 sw.className='sw';sw.style.background=s.color;sp.appendChild(sw);sp.appendChild(document.createTextNode(s.name));sp.style.marginRight='1em';box.appendChild(sp);});}
function probeSeries(records){var names=[],by={};records.forEach(function(rec){rec.probes.forEach(function(p){
  if(!(p.probe in by)){by[p.probe]=[];names.push(p.probe);}});});
 names.sort();  // one colour per probe name, the same in every chart (compare: run beside run)
 return names.map(function(n,k){return {name:n,color:SERIES_COLOURS[k%SERIES_COLOURS.length],pts:records.map(function(rec){
  var p=rec.probes.find(function(q){return q.probe===n;});return [rec.step,p?Math.abs(p.r):null];})};});}
"""

_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">__REFRESH__
<title>charrnn train (live): __TITLE__</title>
<style>
body{font-family:system-ui,sans-serif;margin:1em 1.5em;color:#222;max-width:1400px}
h1{font-size:1.35em;margin:.2em 0}h2{font-size:1.05em;margin:1.1em 0 .4em}.muted{color:#777}
#charts{display:flex;flex-wrap:wrap;gap:1.5em}.chart{flex:1 1 520px;min-width:min(400px,100%)}
.chart svg{width:100%;height:auto;border:1px solid #ddd;background:#fff}.leg{font-size:.85em;margin:.2em 0}
.sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;vertical-align:-.1em;margin-right:.3em}
#samples pre{white-space:pre-wrap;font-size:12px;background:#fafafa;border:1px solid #eee;padding:.5em;margin:.3em 0;max-height:12em;overflow:auto}
#heat{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(380px,100%),1fr));gap:.8em}
.card{border:1px solid #ddd;border-radius:4px;padding:.4em .6em}.card .head{font-size:.9em;margin-bottom:.3em}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;font-size:12px;line-height:1.4;word-break:break-all}
.card .mono{max-height:12.7em;overflow:hidden}span.nl{color:#999}
</style></head><body>
<h1>charrnn train, live</h1>
<p id="status"></p>
<div id="charts">
<div class="chart"><b>Learning curves</b><div class="leg" id="leg1"></div><svg id="curves"></svg></div>
<div class="chart"><b>Each probe's best unit: |r| over the steps</b><div class="leg" id="leg2"></div><svg id="rcurves"></svg></div>
</div>
<p class="muted" id="rnote"></p>
<h2>Latest samples</h2><div id="samples"></div>
<h2>The current best unit of each probe</h2>
<p class="muted">On the part of the validation slice where the probe varies most; white at the unit's median, red above, blue below (full colour at &plusmn;2 robust SD).</p>
<div id="heat"></div>
<script id="data" type="application/json">__DATA__</script>
<script>__CHART__</script>
<script>
(function(){
"use strict";
var D=JSON.parse(document.getElementById('data').textContent),$=function(id){return document.getElementById(id);};
try{var y=sessionStorage.getItem('charrnn-live-scroll');if(y!==null)window.scrollTo(0,+y);
 window.addEventListener('scroll',function(){sessionStorage.setItem('charrnn-live-scroll',String(window.scrollY));});}catch(e){}
var h=D.history,last=h.length?h[h.length-1]:null;
function f4(v){return v===null||v===undefined?'-':v.toFixed(4);}
$('status').textContent=D.model.layers+' x '+D.model.hidden+' '+D.model.cell+' in '+D.run_dir+' \u00b7 step '+D.step.toLocaleString()+
 (last?' \u00b7 val '+f4(last.val_loss)+' nats/char (best '+f4(last.best_val_loss)+')':' \u00b7 no evaluation yet')+
 ' \u00b7 written '+D.updated+' \u00b7 '+(D.done?'training has ended':'training: this page reloads every '+D.reload+' s');
var s1=[{name:'training loss',color:'#1f77b4',dash:true,pts:h.map(function(r){return [r.step,r.train_loss];})},
 {name:'validation loss',color:'#d62728',pts:h.filter(function(r){return r.val_loss!==undefined;}).map(function(r){return [r.step,r.val_loss];})}];
svgLegend($('leg1'),s1);svgChart($('curves'),s1,{xlabel:'step',ylabel:'nats/char',empty:'no evaluation yet'});
var s2=probeSeries(D.probes);svgLegend($('leg2'),s2);svgChart($('rcurves'),s2,{xlabel:'step',ylabel:'|r| of the best unit',ymin:0,ymax:1,empty:'no evaluation yet'});
$('rnote').textContent='|r|: Pearson correlation of each probe with its best state unit (h, c or tanh(c), the unit may change from step to step) on the first '+
 D.chars.toLocaleString()+' characters of the validation text, measured at every evaluation.';
if(!D.samples.length)$('samples').textContent='none yet';
D.samples.slice().reverse().forEach(function(s){var t=document.createElement('div');t.className='muted';t.textContent='step '+s.step.toLocaleString();
 var p=document.createElement('pre');p.textContent=s.text;$('samples').appendChild(t);$('samples').appendChild(p);});
function colour(t){t=Math.max(-1,Math.min(1,t));var c=Math.round(255-155*Math.abs(t));return t>=0?'rgb(255,'+c+','+c+')':'rgb('+c+','+c+',255)';}
function shown(ch){return ch==='\n'?'\u21b5\n':ch==='\t'?'\u21e5   ':ch;}
var text=Array.from(D.text||'');
(D.probes.length?D.probes[D.probes.length-1].probes:[]).forEach(function(p){var m=D.heat[p.probe];if(!m)return;
 var card=document.createElement('div');card.className='card';var head=document.createElement('div');head.className='head';
 head.innerHTML='<b></b> \u00b7 best unit <b></b> \u00b7 r <span></span>';head.children[0].textContent=p.probe;head.children[1].textContent=m.unit;
 head.children[2].textContent=(m.r>=0?'+':'')+m.r.toFixed(3);card.appendChild(head);var box=document.createElement('div');box.className='mono';
 var d=2*m.spread||1;for(var k=m.start;k<m.stop;k++){var s=document.createElement('span');s.textContent=shown(text[k]);if(text[k]==='\n')s.className='nl';
  s.style.background=colour((m.values[k-m.start]-m.centre)/d);box.appendChild(s);}
 card.appendChild(box);$('heat').appendChild(card);});
if(!Object.keys(D.heat).length)$('heat').textContent='none yet';
document.body.setAttribute('data-ready','1');
})();
</script></body></html>
"""


def live_page(data: dict) -> str:
    """The page for the data of `live.LiveReporter._write`."""
    refresh = "" if data["done"] else f'\n<meta http-equiv="refresh" content="{int(data["reload"])}">'
    parts = {"__REFRESH__": refresh, "__TITLE__": html.escape(data["run_dir"]), "__DATA__": _json_for_script(data),
             "__CHART__": CHART_JS}
    return re.sub(r"__(REFRESH|TITLE|CHART|DATA)__", lambda m: parts[m[0]], _PAGE)  # one pass: nothing inserted is re-read


def _json_for_script(obj) -> str:
    """JSON that cannot end the <script> element early."""
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return s.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
