"""The `evaluate --html` page of a classify or tag model: one self-contained file (inline CSS and
script, no network) with the figures, the confusion matrix as a heat map (colour = share of the
true label's items, the count in each cell; hover for both, click a cell to list its lines), the
per-label precision/recall/F1 table and the worst-classified lines (tag lines with the wrong tags
marked)."""

from __future__ import annotations

import html
import json

_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>charrnn evaluate: __TITLE__</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.2em 1.5em;color:#222;max-width:1400px}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.1em;margin:1.2em 0 .4em}.muted{color:#777}
#figures span{display:inline-block;margin-right:2em;font-size:1.1em}#figures b{font-size:1.3em}
table{border-collapse:collapse}td,th{padding:3px 9px;border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap}
th{background:#f6f6f6}td.l,th.l{text-align:left}
#matrix td.c{min-width:2.6em;height:2.1em;padding:0 4px;text-align:center;font-size:12px;border:1px solid #fff;cursor:pointer}
#matrix td.c.sel{outline:2px solid #d62728}#matrix th.r{text-align:right}
#matrix th.v{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;padding:6px 2px;max-height:12em}
#wrap{display:flex;flex-wrap:wrap;gap:2em;align-items:flex-start}
#tip{position:fixed;pointer-events:none;background:rgba(255,255,255,.96);border:1px solid #bbb;padding:4px 8px;
 font-size:12px;display:none;white-space:pre}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre}.bad{background:#fbb}
#worst td{vertical-align:top}
</style></head><body>
<h1>charrnn evaluate</h1>
<p class="muted">__SUMMARY__</p>
<div id="figures"></div>
<h2>Confusion matrix</h2>
<p class="muted">Rows: true __WHAT__s; columns: predictions. Colour: the share of the row's items; the number: the count.
Click a cell to list its lines below (click again for all).</p>
<div id="wrap"><div><table id="matrix"></table></div><div><table id="per"></table></div></div>
<h2 id="wtitle">Worst-classified lines</h2>
<p class="muted" id="wnote"></p>
<table id="worst"></table>
<div id="tip"></div>
<script id="data" type="application/json">__DATA__</script>
<script>
(function(){
"use strict";
var D=JSON.parse(document.getElementById('data').textContent), R=D.report, L=R.labels, C=R.confusion, tag=D.kind==='tag';
var tip=document.getElementById('tip'), sel=null;
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c];});}
function vis(s){return String(s).replace(/ /g,'\u2420');}
function pct(x){return (100*x).toFixed(1)+'%';}
function colour(f){var l=Math.round(97-f*62);return 'hsl(215,70%,'+l+'%)';}
var fig=document.getElementById('figures');
fig.innerHTML='<span>accuracy <b>'+R.accuracy.toFixed(4)+'</b></span><span>macro-F1 <b>'+R.macro_f1.toFixed(4)+'</b></span>'+
 '<span>loss <b>'+R.nats.toFixed(4)+'</b> nats/'+(tag?'char':'line')+'</span>'+
 (tag?'<span>exact lines <b>'+R.exact_match.toFixed(4)+'</b></span>':'')+'<span class="muted">'+R.n.toLocaleString('en')+' '+(tag?'characters':'lines')+'</span>';
var m=document.getElementById('matrix'), h='<tr><th></th>';
L.forEach(function(s){h+='<th class="v">'+esc(vis(s))+'</th>';});h+='</tr>';
C.forEach(function(row,i){var tot=row.reduce(function(a,b){return a+b;},0);h+='<tr><th class="r">'+esc(vis(L[i]))+'</th>';
 row.forEach(function(v,j){var f=tot?v/tot:0;h+='<td class="c" data-i="'+i+'" data-j="'+j+'" style="background:'+colour(f)+
  ';color:'+(f>0.55?'#fff':'#223')+'">'+(v?v.toLocaleString('en'):'')+'</td>';});h+='</tr>';});
m.innerHTML=h;
m.addEventListener('mousemove',function(e){var t=e.target.closest('td.c');if(!t){tip.style.display='none';return;}
 var i=+t.dataset.i,j=+t.dataset.j,tot=C[i].reduce(function(a,b){return a+b;},0);
 tip.textContent='true '+vis(L[i])+', predicted '+vis(L[j])+': '+C[i][j]+' ('+(tot?pct(C[i][j]/tot):'-')+' of '+tot+')';
 tip.style.display='block';tip.style.left=(e.clientX+14)+'px';tip.style.top=(e.clientY+10)+'px';});
m.addEventListener('mouseleave',function(){tip.style.display='none';});
m.addEventListener('click',function(e){var t=e.target.closest('td.c');if(!t)return;
 var k=t.dataset.i+','+t.dataset.j;sel=(sel===k)?null:k;
 m.querySelectorAll('td.c').forEach(function(c){c.classList.toggle('sel',sel===c.dataset.i+','+c.dataset.j);});worst();});
var p='<tr><th class="l">'+(tag?'tag':'label')+'</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>';
R.per_label.forEach(function(r){p+='<tr><td class="l">'+esc(vis(r.label))+'</td><td>'+r.precision.toFixed(3)+'</td><td>'+
 r.recall.toFixed(3)+'</td><td>'+r.f1.toFixed(3)+'</td><td>'+r.support.toLocaleString('en')+'</td></tr>';});
document.getElementById('per').innerHTML=p;
function marked(truth,pred){var o='';for(var k=0;k<pred.length;k++){var c=esc(vis(pred[k]));o+=pred[k]===truth[k]?c:'<span class="bad">'+c+'</span>';}return o;}
function worst(){
 var rows=R.worst, note;
 if(sel){var ij=sel.split(',').map(Number), a=L[ij[0]], b=L[ij[1]];
  rows=rows.filter(function(w){return tag?(function(){for(var k=0;k<w.true.length;k++)if(w.true[k]===a&&w.predicted[k]===b)return true;return false;})()
   :(w.true===a&&w.predicted===b);});
  note='Lines with true '+vis(a)+' predicted as '+vis(b)+' among the '+R.worst.length+' worst.';}
 else note=tag?'Lines with the most wrong tags (wrong tags in red).':'Lines whose true label got the lowest probability.';
 document.getElementById('wnote').textContent=note+' '+rows.length+' shown.';
 var h=tag?'<tr><th class="l">text / true tags / predicted</th><th>wrong</th></tr>':
  '<tr><th class="l">text</th><th class="l">true</th><th>p(true)</th><th class="l">predicted</th><th>p</th></tr>';
 rows.forEach(function(w){h+=tag?'<tr><td class="l mono">'+esc(vis(w.text))+'\n'+esc(vis(w.true))+'\n'+marked(w.true,w.predicted)+'</td><td>'+w.errors+'</td></tr>':
  '<tr><td class="l mono">'+esc(w.text)+'</td><td class="l">'+esc(w.true)+'</td><td>'+w.p_true.toFixed(3)+'</td><td class="l">'+
  esc(w.predicted)+'</td><td>'+w.p_predicted.toFixed(3)+'</td></tr>';});
 document.getElementById('worst').innerHTML=h;}
worst();
document.body.setAttribute('data-ready','1');
})();
</script></body></html>
"""


def labelled_page(report: dict, kind: str, title: str, summary: str) -> str:
    """The page for `report` (use/labelled.evaluate) of a classify or tag model."""
    data = json.dumps({"report": report, "kind": kind}, ensure_ascii=False).replace("</", "<\\/")
    return (_PAGE.replace("__TITLE__", html.escape(title)).replace("__SUMMARY__", html.escape(summary))
            .replace("__WHAT__", "label" if kind == "classify" else "tag").replace("__DATA__", data))
