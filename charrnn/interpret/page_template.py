"""The inspect-cells page's HTML, CSS and script (filled in by page.cells_page)."""

PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>charrnn inspect-cells: __TITLE__</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#222}
main{padding:0 1.5em 2em}
h1{font-size:1.35em;margin:.7em 0 .2em}h2{font-size:1.05em;margin:1em 0 .4em}
.muted{color:#777}.weak{color:#aaa}.tag{font-size:.75em;border:1px solid #bbb;border-radius:3px;padding:0 .3em;margin-left:.4em;color:#888}
#top{display:flex;flex-wrap:wrap;gap:2em;align-items:flex-start}#top>*{min-width:0;max-width:100%}#top p{max-width:34em;font-size:.85em}
table{border-collapse:collapse;font-size:.9em;display:block;max-width:100%;overflow-x:auto}td,th{padding:2px 7px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
th{background:#f6f6f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pos{color:#b00}.neg{color:#00b}a.u{color:inherit;text-decoration:underline dotted;cursor:pointer}
tr.weak td{color:#aaa}tr.weak a.u{color:#aaa}
#gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(380px,100%),1fr));gap:.8em}
.card{border:1px solid #ddd;border-radius:4px;padding:.4em .6em;cursor:pointer}
.card:hover{border-color:#888}.card .head{font-size:.9em;margin-bottom:.3em}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;font-size:12px;line-height:1.4;word-break:break-all}
.card .mono{max-height:12.7em;overflow:hidden}
#bar{position:sticky;top:0;background:#fff;border-bottom:1px solid #ccc;padding:.45em 1.5em;z-index:2;box-shadow:0 2px 4px rgba(0,0,0,.06)}
#bar select,#bar button{font-size:.92em}
#scale{font-size:.85em;color:#555;margin-top:.25em}
#info{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;margin-top:.3em;min-height:1.3em;white-space:pre}
#text{border:1px solid #ccc;padding:.8em;margin-top:.8em;font-size:13px}
#text span.nl,.card span.nl{color:#999}
#text span.hot{outline:2px solid #000}
.blk{content-visibility:auto;contain-intrinsic-size:auto 730px}
#strip{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;line-height:1.25;margin-top:.3em;display:none;overflow-x:auto;white-space:nowrap}
#strip div{height:1.25em}#strip span{display:inline-block;width:1ch;text-align:center}#strip div.txt span{font-weight:600}
#live{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}#live>div{min-width:0;max-width:100%}#live>div:first-child{width:min(45em,92vw)}#holdnote{display:block}
#livein{width:min(44em,92vw);font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
#liveout{border:1px solid #ccc;padding:.5em;margin:.3em 0;width:min(44em,92vw);min-height:2.8em;font-size:13px}
#liveout span.unk{color:#bbb;text-decoration:line-through}
#livepred{font-size:12.5px;margin:.2em 0 .5em}.ctl{font-size:.9em;margin:.35em 0}.ctl input[type=number]{width:4.5em}
.samp{border:1px solid #ddd;background:#fafafa;padding:.4em;margin:.3em 0;width:min(44em,92vw);font-size:12px;max-height:14em;overflow:auto}
.held{color:#b00}
.legend{display:inline-block;width:120px;height:.8em;vertical-align:middle;border:1px solid #ccc;
 background:linear-gradient(to right,#6464ff,#fff,#ff6464);margin:0 .3em}
</style></head><body>
<main>
<h1>charrnn inspect-cells</h1>
<p class="muted">__SUMMARY__</p>
<div id="top">
<div><h2>Which units track what</h2>
<table id="ranking"><thead><tr><th>probe</th><th>best unit</th><th class="num">r</th><th>next</th></tr></thead><tbody></tbody></table>
<p class="muted" id="rnote"></p></div>
<div><h2>Gate saturation</h2>
<table id="saturation"><thead><tr><th>layer</th><th>gate</th><th class="num">units</th><th class="num">&lt; 0.1</th><th class="num">&gt; 0.9</th><th class="num">mostly &lt; 0.1</th><th class="num">mostly &gt; 0.9</th></tr></thead><tbody></tbody></table>
<p class="muted">share of time each gate spends closed (&lt; 0.1) or open (&gt; 0.9), averaged over a layer's units</p></div>
<div id="ablbox" style="display:none"><h2>Does the model use them? Zero the unit</h2>
<table id="ablation"><thead><tr><th>probe</th><th>unit zeroed</th><th class="num">&Delta; all</th><th class="num">&Delta; active</th><th>random unit</th><th class="num">&Delta; all</th><th class="num">&Delta; active</th></tr></thead><tbody></tbody></table>
<p class="muted">loss change in nats per character (zeroed minus intact) over all characters and over those where the probe is active (above its smallest value), against a random unit of the same layer and kind: a unit the model relies on costs far more than the random one</p></div>
</div>
<h2>The strongest units, each on the stretch of text where its probe varies most</h2>
<div id="gallery"></div>
<p class="muted">Click a card (or a unit in the table) to colour the whole text by that unit.</p>
<h2 id="livehead">Try it: type a text and watch the chosen unit</h2>
<p class="muted" id="liveoff" style="display:none"></p>
<div id="live">
<div>
<textarea id="livein" rows="5" spellcheck="false" maxlength="3000" aria-label="your text"></textarea>
<div id="liveout" class="mono"></div>
<div id="livepred" class="mono"></div>
<div class="ctl"><b>Clamp / ablate</b> <select id="holdunit" aria-label="unit to hold"></select>
<select id="holdmode" aria-label="intervention"><option value="">off</option><option value="zero">zero at every step (ablate)</option><option value="hold">held at every step at</option></select>
<input id="holdval" type="number" step="0.1" value="0.8" aria-label="held value"> <span id="holdnote" class="held"></span></div>
<div class="ctl"><b>Sample</b> after your text: temperature <input id="temp" type="number" step="0.1" min="0" value="0.8">
seed <input id="seed" type="number" step="1" value="1"> characters <input id="slen" type="number" step="50" min="1" value="300">
<button id="sample">sample</button></div>
<div id="samples"></div>
</div>
<div><table id="liveunits"><thead><tr><th>ranked unit</th><th>probe</th><th class="num">r</th><th class="num">value now</th></tr></thead><tbody></tbody></table>
<p class="muted" style="max-width:30em;font-size:.85em">The model runs in this page (its weights are embedded): each character of your text is coloured by the chosen unit (the unit picker below; same scale as the text), the table shows each ranked unit's value after your last character, and the line under the text the model's top-3 next characters. Hold a unit at zero or at a value to see what the model loses.</p></div>
</div>
</main>
<div id="bar">
<label>unit <select id="unit"></select></label>
<button id="prev" title="previous unit (k)">&#9664;</button><button id="next" title="next unit (j)">&#9654;</button>
<label style="margin-left:.8em">probe <select id="probe"></select></label>
<label style="margin-left:.8em"><input type="checkbox" id="byprobe"> colour by the probe</label>
<label style="margin-left:.8em" id="striplabel"><input type="checkbox" id="stripon"> top-3 predictions strip</label>
<div id="scale"></div>
<div id="info">hover a character</div>
<div id="strip"></div>
</div>
<main><div id="text" class="mono"></div></main>
<script id="data" type="application/json">__DATA__</script>
<script id="blob" type="application/octet-stream">__BLOB__</script>
<script id="alphabet" type="text/plain">__ALPHABET__</script>
<script id="weights" type="application/octet-stream">__WEIGHTS__</script>
<script>__ENGINE__</script>
<script>
(function(){
"use strict";
var D=JSON.parse(document.getElementById('data').textContent), T=D.T;
var text=Array.from(D.text);  // one entry per code point, as the activations are (never UTF-16 units)
function lastNl(k){return k>0?text.lastIndexOf('\n',k-1):-1;}  // the newline before k, or -1
var units=D.units, probes=D.probes, cache={}, pcache={}, bytes=null;
var $=function(id){return document.getElementById(id);};
function colour(t){t=Math.max(-1,Math.min(1,t));var f=Math.round(255-155*Math.abs(t));  // darkest: black text stays readable
 return t>=0?'rgb(255,'+f+','+f+')':'rgb('+f+','+f+',255)';}
function values(i){if(cache[i])return cache[i];var u=units[i],v=new Float32Array(T),k;
 if(u.bits===8){var b=bytes.subarray(u.off,u.off+T),s=(u.hi-u.lo)/255;for(k=0;k<T;k++)v[k]=u.lo+b[k]*s;}
 else if(u.bits===4){var s4=(u.hi-u.lo)/15;for(k=0;k<T;k++){var byte=bytes[u.off+(k>>1)];v[k]=u.lo+((k&1)?byte&15:byte>>4)*s4;}}
 else{var c=values(u.of);for(k=0;k<T;k++)v[k]=Math.tanh(c[k]);}
 return cache[i]=v;}
function probeValues(j){if(pcache[j])return pcache[j];var p=probes[j];
 return pcache[j]=new Float32Array(bytes.buffer.slice(p.off,p.off+4*T));}
function shown(ch){return ch==='\n'?'\u21b5\n':ch==='\t'?'\u21e5   ':ch==='\r'?'\u240d':ch;}
var G=D.groups,groupOf=null,spanOf=[];  // G (jamo tokens): characters made of steps G.start[g] .. G.start[g+1]-1
if(G){groupOf=new Int32Array(T);for(var g0=0;g0+1<G.start.length;g0++)for(var k0=G.start[g0];k0<G.start[g0+1];k0++)groupOf[k0]=g0;}
function spansFor(el,a,b){var out=[],frag=document.createDocumentFragment(),k,s;
 if(!G){for(k=a;k<b;k++){s=document.createElement('span');s.textContent=shown(text[k]);if(text[k]==='\n')s.className='nl';
  s._i=k;s._n=1;out.push(s);frag.appendChild(s);spanOf[k]=s;}el.appendChild(frag);return out;}
 if(a>=b)return out;
 for(var g=groupOf[a];g+1<G.start.length&&G.start[g]<b;g++){s=document.createElement('span');var ch=G.text[g];
  s.textContent=shown(ch);if(ch==='\n')s.className='nl';s._i=G.start[g];s._n=G.start[g+1]-G.start[g];
  for(k=s._i;k<s._i+s._n;k++)spanOf[k]=s;out.push(s);frag.appendChild(s);}
 el.appendChild(frag);return out;}
function bg(s,v,c,d){if(s._n===1)return colour((v[s._i]-c)/d);  // one band per step of a syllable
 var parts=[];for(var j=0;j<s._n;j++){var col=colour((v[s._i+j]-c)/d);
  parts.push(col+' '+(100*j/s._n).toFixed(1)+'%',col+' '+(100*(j+1)/s._n).toFixed(1)+'%');}
 return 'linear-gradient(to right,'+parts.join(',')+')';}
function fmt(v){var a=Math.abs(v);return a>=100?v.toFixed(0):a>=10?v.toFixed(1):v.toFixed(3);}
function chr(c){return c==='\n'?'\\n':c==='\t'?'\\t':c===' '?'\u2423':c;}
function unitTitle(i){var u=units[i];return u.label;}
var cur=D.first, curProbe=0, byProbe=false, spans=[];
function bestProbe(i){var r=units[i].r,b=0;for(var j=1;j<r.length;j++)if(Math.abs(r[j])>Math.abs(r[b]))b=j;return b;}
function paint(){var t0=performance.now(),v,c,s,note;
 if(byProbe){var p=probes[curProbe];v=probeValues(curProbe);c=p.centre;s=p.spread;
  note='colour: probe '+p.name+', white at its median '+fmt(c)+'; full colour at \u00b1'+fmt(D.full*s);}
 else{var u=units[cur];v=values(cur);c=u.centre;s=u.spread;
  note='white = median '+fmt(c)+' \u00b7 full red \u2265 '+fmt(c+D.full*s)+' \u00b7 full blue \u2264 '+fmt(c-D.full*s)+
   ' (\u00b1'+D.full+' robust SD)'+(u.bits===8?'':' \u00b7 16 levels');}
 var d=D.full*s;for(var k=0;k<spans.length;k++)spans[k].style.background=bg(spans[k],v,c,d);
 $('scale').innerHTML='<span class="legend"></span>';$('scale').appendChild(document.createTextNode(note));
 $('unit').value=String(cur);$('probe').value=String(curProbe);livePaint();}
function select(i,keepProbe){cur=i;liveFollow(i);if(!keepProbe)curProbe=bestProbe(i);byProbe=false;$('byprobe').checked=false;paint();}
var hot=null;
function sc(c){return c==='\n'?'\u21b5':c===' '?'\u2423':c==='\t'?'\u21e5':c;}
function strip(k){  // the hovered line, and under each character the model's top-3 guesses for it (green: right)
 var box=$('strip');if(!$('stripon').checked||!D.preds){box.style.display='none';return;}box.style.display='block';
 var a=lastNl(k)+1,b=text.indexOf('\n',k);if(b<0)b=T;b=Math.min(b+1,a+160);
 var P=D.preds,rows=[document.createElement('div')];rows[0].className='txt';
 for(var j=0;j<P.k;j++)rows.push(document.createElement('div'));
 for(var i=a;i<b;i++){var c=document.createElement('span');c.textContent=sc(text[i]);if(i===k)c.style.outline='1px solid #000';
  rows[0].appendChild(c);var q=i-1;  // under each character: what the model guessed for it, after the one before
  var ids=q<0?null:new Uint16Array(bytes.buffer.slice(P.ids+2*P.k*q,P.ids+2*P.k*(q+1)));
  for(j=0;j<P.k;j++){var e=document.createElement('span');rows[j+1].appendChild(e);if(!ids){e.textContent=' ';continue;}
   var p=bytes[P.p+P.k*q+j]/255,ch=P.vocab[ids[j]],f=Math.round(255-155*p);
   e.textContent=sc(ch);e.title=Math.round(100*p)+'%';
   e.style.background=ch===text[i]?'rgb('+f+',255,'+f+')':'rgb(255,'+(Math.round(255-60*p))+','+f+')';}}
 box.textContent='';rows.forEach(function(r){box.appendChild(r);});}
function info(k){if(hot)hot.classList.remove('hot');hot=spanOf[k];hot.classList.add('hot');strip(k);
 var u=units[cur],v=values(cur)[k],p=probes[curProbe],pv=probeValues(curProbe)[k];
 var line=1,col=k-lastNl(k)-1;for(var n=0;n<k;n++)if(text[n]==='\n')line++;
 var s=(G?'step '+k.toLocaleString()+' '+JSON.stringify(text[k])+' (jamo '+(k-hot._i+1)+' of '+hot._n+' in '+
   JSON.stringify(G.text[groupOf[k]])+', character '+groupOf[k].toLocaleString()+')':
   'char '+k.toLocaleString()+' '+JSON.stringify(text[k])+' (line '+line+', col '+col+')')+'  \u00b7  '+u.label+' = '+
  (u.bits===8?'':'\u2248')+fmt(v)+' (z '+((v-u.centre)/u.spread>=0?'+':'')+((v-u.centre)/u.spread).toFixed(1)+')  \u00b7  '+
  p.name+' = '+fmt(pv)+' (r '+(u.r[curProbe]>=0?'+':'')+u.r[curProbe].toFixed(3)+')';
 if(D.preds&&bytes){var P=D.preds,ids=new Uint16Array(bytes.buffer.slice(P.ids+2*P.k*k,P.ids+2*P.k*(k+1))),parts=[];
  for(var j=0;j<P.k;j++)parts.push(chr(P.vocab[ids[j]])+' '+Math.round(bytes[P.p+P.k*k+j]/2.55)+'%');
  s+='  \u00b7  next: '+parts.join(', ')+(k+1<T?' (actual '+chr(text[k+1])+')':'');}
 $('info').textContent=s;}
function build(){
 var sel=$('unit'),groups={},order=[];
 var og=document.createElement('optgroup');og.label='ranked units';
 var rankedSeen={};D.ranking.forEach(function(r){if(rankedSeen[r.unit])return;rankedSeen[r.unit]=1;
  var o=document.createElement('option');o.value=String(r.unit);o.textContent=r.label+'  ('+r.probe+' r '+(r.r>=0?'+':'')+r.r.toFixed(2)+')';og.appendChild(o);});
 sel.appendChild(og);
 units.forEach(function(u,i){var g='layer '+u.layer+' '+u.kind;if(!groups[g]){groups[g]=document.createElement('optgroup');groups[g].label=g;order.push(g);}
  var o=document.createElement('option');o.value=String(i);o.textContent=u.label;groups[g].appendChild(o);});
 order.forEach(function(g){sel.appendChild(groups[g]);});
 sel.onchange=function(){select(+sel.value);};
 probes.forEach(function(p,j){var o=document.createElement('option');o.value=String(j);o.textContent=p.name+(p.constant?' (constant)':p.weak?' (weak)':'');$('probe').appendChild(o);});
 $('probe').onchange=function(){curProbe=+$('probe').value;paint();};
 $('byprobe').onchange=function(e){byProbe=e.target.checked;paint();};
 if(!D.preds)$('striplabel').style.display='none';
 $('stripon').onchange=function(){if(hot)strip(hot._i);};
 $('prev').onclick=function(){select((cur+units.length-1)%units.length);};
 $('next').onclick=function(){select((cur+1)%units.length);};
 document.addEventListener('keydown',function(e){if(e.target.tagName==='SELECT')return;
  if(e.key==='j')$('next').onclick();if(e.key==='k')$('prev').onclick();});
 var tb=$('ranking').tBodies[0],byProbe_={};
 D.ranking.forEach(function(r){(byProbe_[r.probe]=byProbe_[r.probe]||[]).push(r);});
 function link(r){var a=document.createElement('a');a.className='u';a.textContent=r.label;a.title='colour the text by '+r.label;
  a.onclick=function(){select(r.unit);curProbe=probes.findIndex(function(p){return p.name===r.probe;});paint();$('bar').scrollIntoView();};return a;}
 Object.keys(byProbe_).forEach(function(name){var rows=byProbe_[name],b=rows[0],tr=tb.insertRow();if(b.weak)tr.className='weak';
  var td=tr.insertCell();td.textContent=name;if(b.weak){var t=document.createElement('span');t.className='tag';t.textContent='weak';td.appendChild(t);}
  tr.insertCell().appendChild(link(b));var rc=tr.insertCell();rc.className='num '+(b.weak?'':(b.r>=0?'pos':'neg'));rc.textContent=(b.r>=0?'+':'')+b.r.toFixed(3);
  var nx=tr.insertCell();rows.slice(1).forEach(function(r,k){if(k)nx.appendChild(document.createTextNode(', '));nx.appendChild(link(r));
   nx.appendChild(document.createTextNode(' '+(r.r>=0?'+':'')+r.r.toFixed(2)));});});
 D.constant.forEach(function(n){var tr=tb.insertRow();tr.className='weak';tr.insertCell().textContent=n;var c=tr.insertCell();c.colSpan=3;c.textContent='constant in this text (not ranked)';});
 $('rnote').textContent='Pearson r over '+T.toLocaleString()+(G?' steps (jamo tokens: a syllable is 2-3 steps, one band each)':' characters')+', strongest probe first; weak: best |r| < '+D.weak_r+
  '. Units: L<layer> <kind> <index>; tanh(c) is what the output gate reads.';
 if(D.ablation.length){$('ablbox').style.display='';var ab=$('ablation').tBodies[0];
  D.ablation.forEach(function(r){var tr=ab.insertRow();[r.probe,r.unit,r.delta_all,r.delta_active,r.random_unit,r.random_delta_all,r.random_delta_active].forEach(function(x,k){
   var c=tr.insertCell();if(typeof x==='number'||x===null){c.className='num';c.textContent=x===null?'-':(x>=0?'+':'')+x.toFixed(4);}else c.textContent=x;});});}
 var sb=$('saturation').tBodies[0];D.saturation.forEach(function(s){var tr=sb.insertRow();
  [s.layer,s.gate,s.units,(100*s.left).toFixed(1)+'%',(100*s.right).toFixed(1)+'%',s.mostly_left,s.mostly_right].forEach(function(x,k){
   var c=tr.insertCell();c.textContent=String(x);if(k!==1)c.className='num';});});
 if(!D.saturation.length){var tr=sb.insertRow(),c=tr.insertCell();c.colSpan=7;c.textContent='this cell has no gates';}
 var gal=$('gallery');D.gallery.forEach(function(g){var card=document.createElement('div');card.className='card';
  var u=units[g.unit];var head=document.createElement('div');head.className='head';
  head.innerHTML='<b></b> tracks <b></b> <span></span>';head.children[0].textContent=u.label;head.children[1].textContent=g.probe;
  head.children[2].className=g.r>=0?'pos':'neg';head.children[2].textContent='r '+(g.r>=0?'+':'')+g.r.toFixed(3);
  card.appendChild(head);var box=document.createElement('div');box.className='mono';card.appendChild(box);
  var ss=spansFor(box,g.start,g.stop),v=values(g.unit),d=D.full*u.spread;
  ss.forEach(function(s){s.style.background=bg(s,v,u.centre,d);});
  card.onclick=function(){select(g.unit);curProbe=probes.findIndex(function(p){return p.name===g.probe;});paint();$('bar').scrollIntoView();};
  gal.appendChild(card);});
 if(!D.gallery.length)gal.textContent='No probe has a unit with |r| >= '+D.weak_r+' in this text.';
 spans=[];var start=0,lines=0,box=$('text');  // blocks of 40 lines: the browser lays out only those in view
 for(var k=0;k<=T;k++){if(k===T||(text[k]==='\n'&&++lines%40===0)){var blk=document.createElement('div');blk.className='blk';
  box.appendChild(blk);spans=spans.concat(spansFor(blk,start,Math.min(T,k+1)));start=k+1;if(k>=T-1)break;}}
 $('text').addEventListener('mousemove',function(e){var s=e.target;if(s._i===undefined)return;  // a syllable: the jamo under the mouse
  var j=s._n>1?Math.min(s._n-1,Math.floor(s._n*(e.clientX-s.getBoundingClientRect().left)/Math.max(1,s.offsetWidth))):0;
  if(!hot||hot!==s||hot._j!==j){info(s._i+j);s._j=j;}});
 select(D.first);
}
function unpack(){  // base 85 (5 characters per 4 bytes, see page.to_text), then zlib
 var txt=document.getElementById('blob').textContent.trim(),pad=+txt[0],AL=document.getElementById('alphabet').textContent;
 var val=new Uint8Array(128),k,g;for(k=0;k<85;k++)val[AL.charCodeAt(k)]=k;
 var n=(txt.length-1)/5,a=new Uint8Array(4*n);
 for(g=0;g<n;g++){var w=0,o=1+5*g;for(k=0;k<5;k++)w=w*85+val[txt.charCodeAt(o+k)];
  a[4*g]=Math.floor(w/16777216)&255;a[4*g+1]=(w>>>16)&255;a[4*g+2]=(w>>>8)&255;a[4*g+3]=w&255;}
 a=a.subarray(0,a.length-pad);
 if(typeof DecompressionStream==='undefined'){$('info').textContent='this browser cannot unpack the data (it lacks DecompressionStream): use a current Firefox, Chrome or Safari';return;}
 var ds=new Response(new Blob([a]).stream().pipeThrough(new DecompressionStream('deflate')));
 ds.arrayBuffer().then(function(buf){bytes=new Uint8Array(buf);build();document.body.setAttribute('data-ready','1');})
  .catch(function(e){$('info').textContent='could not unpack the data: '+e;throw e;});}
// ------------------------------------------------------------- the live panel (page_engine.ENGINE)
var E=null,MAXLIVE=3000;
function newRun(){return {chars:[],rows:[],states:[],tops:[],key:null};}
var runs={held:newRun(),intact:newRun()},holdList=[];
function compute(run,list){  // rows for the textarea's characters, reusing the common prefix of the last call
 var cs=Array.from($('livein').value).slice(0,MAXLIVE),key=JSON.stringify(list),n=0;
 if(run.key!==key){run.chars=[];run.rows=[];run.states=[];run.tops=[];run.key=key;}
 while(n<cs.length&&n<run.chars.length&&cs[n]===run.chars[n])n++;
 ['chars','rows','states','tops'].forEach(function(f){run[f].length=n;});
 E.intervene(list);
 var s=n?E.copy(run.states[n-1]):E.fresh(),h=n?run.tops[n-1]:null;
 for(var k=n;k<cs.length;k++){var ix=E.id(cs[k]),r=null;
  if(ix!==undefined){r=new Float64Array(E.units);h=E.step(s,ix,r);}
  run.chars.push(cs[k]);run.rows.push(r);run.states.push(E.copy(s));run.tops.push(h);}
 E.intervene(holdList);return run;}
function unitValue(row,u){if(!row)return null;
 if(u.kind==='tanh(c)')return Math.tanh(row[E.column(u.layer,'c',u.index)]);return row[E.column(u.layer,u.kind,u.index)];}
function top3(h){if(!h)return 'type a text: the next-character guesses show here';
 var p=E.softmax(E.logits(h)),o=Array.from(p.keys()).sort(function(x,y){return p[y]-p[x];}).slice(0,3);
 return o.map(function(j){return chr(E.vocab[j])+' '+(100*p[j]).toFixed(0)+'%';}).join(', ');}
function lastTop(run){for(var k=run.tops.length-1;k>=0;k--)if(run.tops[k])return run.tops[k];return null;}
function livePaint(){if(!E)return;
 var run=compute(runs.held,holdList),u=units[cur],d=D.full*u.spread,box=$('liveout'),frag=document.createDocumentFragment(),last=null;
 run.chars.forEach(function(ch,k){var s=document.createElement('span');s.textContent=shown(ch);var v=unitValue(run.rows[k],u);
  if(v===null){s.className='unk';s.title='not in the model\'s vocabulary: skipped';}
  else{s.style.background=colour((v-u.centre)/d);s.title=u.label+' = '+fmt(v);last=run.rows[k];}
  frag.appendChild(s);});
 box.textContent='';box.appendChild(frag);
 var line='next: '+top3(lastTop(run));
 if(holdList.length)line+='   \u00b7   intact model: '+top3(lastTop(compute(runs.intact,[])));
 $('livepred').textContent=line;
 var tb=$('liveunits').tBodies[0];for(var i=0;i<tb.rows.length;i++){var c=tb.rows[i].cells[3],uu=units[+tb.rows[i].dataset.unit],
  v=unitValue(last,uu);c.textContent=v===null?'':fmt(v);c.style.background=v===null?'':colour((v-uu.centre)/(D.full*uu.spread));}}
function setHold(){var m=$('holdmode').value,spec=$('holdunit').value,p=spec.split(':');
 holdList=m?[{layer:+p[0],kind:p[1],index:+p[2],value:m==='zero'?0:+$('holdval').value}]:[];
 E.intervene(holdList);
 $('holdnote').textContent=m?'L'+p[0]+' '+p[1]+' '+p[2]+(m==='zero'?' zeroed':' held at '+fmt(+$('holdval').value))+
  ' at every step: colours, guesses and samples use the changed model':'';
 livePaint();}
function doSample(){var prime=Array.from($('livein').value).filter(function(ch){return E.id(ch)!==undefined;}).join('');
 var t=Math.max(0,+$('temp').value),seed=Math.floor(+$('seed').value)||0,n=Math.max(1,Math.min(5000,Math.floor(+$('slen').value)||1));
 var box=$('samples');box.textContent='';
 function show(title,list){E.intervene(list);var pre=document.createElement('div'),h=document.createElement('div');
  h.className='muted';h.style.fontSize='.85em';h.textContent=title;pre.className='mono samp';pre.textContent=E.sample(prime,n,t,seed);
  box.appendChild(h);box.appendChild(pre);}
 show(holdList.length?'with '+$('holdnote').textContent.split(' at every')[0]+' (seed '+seed+', temperature '+t+')':
  'seed '+seed+', temperature '+t,holdList);
 if(holdList.length)show('the intact model, same seed',[]);
 E.intervene(holdList);}
function liveInit(){var M=D.model;
 if(!M||M.off){var why=M&&M.off?M.off:'the page was made without the model';window.charrnn={off:why};
  $('live').style.display='none';$('liveoff').style.display='block';$('liveoff').textContent='The live panel is off: '+why+'.';return;}
 E=makeEngine(M,document.getElementById('weights').textContent.trim());window.charrnn=E;
 var sel=$('holdunit');for(var k=0;k<M.layers;k++)['h','c'].forEach(function(kind){if(M.kinds.indexOf(kind)<0)return;
  var g=document.createElement('optgroup');g.label='layer '+k+' '+kind;
  for(var j=0;j<M.hidden;j++){var o=document.createElement('option');o.value=k+':'+kind+':'+j;o.textContent='L'+k+' '+kind+' '+j;g.appendChild(o);}
  sel.appendChild(g);});
 var seen={},tb=$('liveunits').tBodies[0];D.ranking.forEach(function(r){if(seen[r.unit]||r.weak)return;seen[r.unit]=1;
  var tr=tb.insertRow();tr.dataset.unit=r.unit;tr.insertCell().textContent=r.label;tr.insertCell().textContent=r.probe;
  var rc=tr.insertCell();rc.className='num '+(r.r>=0?'pos':'neg');rc.textContent=(r.r>=0?'+':'')+r.r.toFixed(2);tr.insertCell().className='num';
  tr.style.cursor='pointer';tr.onclick=function(){select(r.unit);};});
 var a0=0,b0=text.indexOf('\n',Math.min(text.length,160));$('livein').value=text.slice(a0,b0<0?Math.min(text.length,200):b0);
 $('livein').addEventListener('input',livePaint);
 ['holdunit','holdmode','holdval'].forEach(function(id){$(id).onchange=setHold;});$('holdval').oninput=setHold;
 $('sample').onclick=doSample;}
function liveFollow(i){  // the hold picker follows the chosen unit while no hold is set
 var u=units[i];if(!E||$('holdmode').value)return;var kind=u.kind==='tanh(c)'?'c':u.kind;
 if(kind==='h'||kind==='c')$('holdunit').value=u.layer+':'+kind+':'+u.index;}
liveInit();
unpack();
})();
</script></body></html>
"""
