"""The model's forward pass in JavaScript, for the inspect-cells page (weights: page_model.py).

The same equations as charrnn.nn.cells (checked against the Python traces in a real browser,
tests/test_live_page.py), computed in float64 from the float32 weights, one step at a time:

    rnn   h_t = tanh(x_t Wx + h_{t-1} Wh + b)
    lstm  [i f o g] blocks in the registry's gate order; i, f, o = sigmoid, g = tanh
          c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
    gru   [r z g]; r, z = sigmoid(x_t Wx + h_{t-1} Wh + b) on their blocks,
          g = tanh(x_t Wx_g + (r * h_{t-1}) Wh_g + b_g)   (reset applied BEFORE the product)
          h_t = (1 - z) * h_{t-1} + z * g
    logits = h_top Wy + by

The stored weights are the checkpoint's own (cells.py halves the sigmoid columns only in its
private copies), so the page applies sigmoid(a) = 1 / (1 + exp(-a)) directly.

Interventions (as `charrnn sample --ablate/--clamp`, charrnn.nn.intervene): a held unit of a
layer's state (h, or an LSTM's c) is set to its value after every step, before the layer above
and the next step read it; holding c recomputes that step's h = o * tanh(c).

`makeEngine(model, base64)` returns {forward, predict, sample, intervene, ...}; the page exposes
it as `window.charrnn`:

    forward(text)       T rows (one per code point), each U values in the column order of
                        --dump's `activations` (layer by layer, kind by kind, unit index)
    predict(text)       the next-character distribution after the text: V probabilities in the
                        order of `vocab` (after the start character when text is empty)
    sample(prime, n, temperature, seed)   n characters after the prime (not included); a
                        seeded PRNG (mulberry32) and inverse-CDF draws; temperature 0 is argmax
    intervene(list)     [{unit: "L0:c:3", value: 0}, ...] held from now on ([] releases all)
"""

ENGINE = r"""
function makeEngine(M,b64){
 "use strict";
 var bin=atob(b64),u8=new Uint8Array(bin.length),i;for(i=0;i<bin.length;i++)u8[i]=bin.charCodeAt(i);
 var f32=new Float32Array(u8.buffer),P={};
 Object.keys(M.params).forEach(function(n){var e=M.params[n];P[n]=Float64Array.from(f32.subarray(e.off,e.off+e.size));});
 var H=M.hidden,L=M.layers,V=M.vocab.length,cell=M.cell,G=M.gates.length*H,K=M.kinds.length,U=L*K*H;
 var ids={};M.vocab.forEach(function(c,k){ids[c]=k;});
 var at={};M.gates.forEach(function(g,k){at[g]=k*H;});  // first column of each gate block
 var kindAt={};M.kinds.forEach(function(k,q){kindAt[k]=q;});
 var holds=[];  // {layer, kind ('h' or 'c'), index, value}
 var a=new Float64Array(G),rh=new Float64Array(H),SIG=G-H;  // every gate block but the last is a sigmoid gate
 function sig(v){return 1/(1+Math.exp(-v));}
 function fresh(){var s=[];for(var k=0;k<L;k++)s.push({h:new Float64Array(H),c:cell==='lstm'?new Float64Array(H):null});return s;}
 function copy(s){return s.map(function(l){return {h:l.h.slice(),c:l.c?l.c.slice():null};});}
 function step(st,ix,row){  // read character id ix: st changes in place; row (U values) if given; returns top h
  var x=null,j,d;
  for(var k=0;k<L;k++){
   var Wx=P['l'+k+'.Wx'],Wh=P['l'+k+'.Wh'],b=P['l'+k+'.b'],h=st[k].h,c=st[k].c,hn=new Float64Array(H);
   for(j=0;j<G;j++)a[j]=b[j];
   if(k===0){var o0=ix*G;for(j=0;j<G;j++)a[j]+=Wx[o0+j];}  // one-hot input: a row of Wx
   else for(d=0;d<H;d++){var xd=x[d],od=d*G;for(j=0;j<G;j++)a[j]+=xd*Wx[od+j];}
   var rec=cell==='gru'?SIG:G;  // a GRU's h feeds r and z here, its candidate reads r * h below
   for(d=0;d<H;d++){var hd=h[d],oh=d*G;for(j=0;j<rec;j++)a[j]+=hd*Wh[oh+j];}
   if(cell==='rnn'){for(j=0;j<H;j++)hn[j]=Math.tanh(a[j]);}
   else if(cell==='lstm'){var I=at.i,F=at.f,O=at.o,Gc=at.g;
    for(j=0;j<H;j++){var ig=sig(a[I+j]),fg=sig(a[F+j]),og=sig(a[O+j]),gg=Math.tanh(a[Gc+j]);
     a[I+j]=ig;a[F+j]=fg;a[O+j]=og;c[j]=fg*c[j]+ig*gg;hn[j]=og*Math.tanh(c[j]);}}
   else{var R=at.r,Z=at.z,Gg=at.g;
    for(j=0;j<H;j++){a[R+j]=sig(a[R+j]);a[Z+j]=sig(a[Z+j]);rh[j]=a[R+j]*h[j];}
    for(d=0;d<H;d++){var rd=rh[d],og2=d*G+Gg;for(j=0;j<H;j++)a[Gg+j]+=rd*Wh[og2+j];}
    for(j=0;j<H;j++){var z=a[Z+j];hn[j]=(1-z)*h[j]+z*Math.tanh(a[Gg+j]);}}
   for(var q=0;q<holds.length;q++){var u=holds[q];if(u.layer!==k||u.kind!=='c')continue;
    c[u.index]=u.value;hn[u.index]=a[at.o+u.index]*Math.tanh(u.value);}  // h of this step from the held c
   for(q=0;q<holds.length;q++){u=holds[q];if(u.layer===k&&u.kind==='h')hn[u.index]=u.value;}
   st[k].h=hn;
   if(row){var base=k*K*H;
    for(var kq=0;kq<K;kq++){var kind=M.kinds[kq],vals=kind==='h'?hn:kind==='c'?c:null,off=base+kq*H;
     if(vals)for(j=0;j<H;j++)row[off+j]=vals[j];else{var g0=at[kind];for(j=0;j<H;j++)row[off+j]=a[g0+j];}}}
   x=hn;}
  return x;}
 function logits(h){var Wy=P.Wy,z=P.by.slice(),j;for(var d=0;d<H;d++){var hd=h[d],o=d*V;for(j=0;j<V;j++)z[j]+=hd*Wy[o+j];}return z;}
 function softmax(z,temperature){var t=temperature===undefined?1:temperature,m=-Infinity,j,s=0,p=new Float64Array(z.length);
  for(j=0;j<z.length;j++)if(z[j]>m)m=z[j];for(j=0;j<z.length;j++){p[j]=Math.exp((z[j]-m)/t);s+=p[j];}
  for(j=0;j<z.length;j++)p[j]/=s;return p;}
 function encode(text){return Array.from(text).map(function(ch){
  if(!(ch in ids))throw new Error('character '+JSON.stringify(ch)+' is not in the model\'s vocabulary');return ids[ch];});}
 function forward(text){var s=fresh();return encode(text).map(function(ix){var r=new Float64Array(U);step(s,ix,r);return Array.from(r);});}
 function run(text){var s=fresh(),h=null,xs=encode(text||M.start);xs.forEach(function(ix){h=step(s,ix,null);});return {state:s,h:h};}
 function predict(text){return Array.from(softmax(logits(run(text).h)));}
 function mulberry32(seed){var s=seed>>>0;return function(){s=(s+0x6D2B79F5)>>>0;var t=s;t=Math.imul(t^(t>>>15),t|1);
  t^=t+Math.imul(t^(t>>>7),t|61);return((t^(t>>>14))>>>0)/4294967296;};}
 function pick(z,temperature,rand){var j,best=0;
  if(temperature===0){for(j=1;j<z.length;j++)if(z[j]>z[best])best=j;return best;}
  var p=softmax(z,temperature),u=rand(),acc=0;for(j=0;j<p.length;j++){acc+=p[j];if(u<acc)return j;}return p.length-1;}
 function sample(prime,n,temperature,seed){var r=run(prime),rand=mulberry32(seed===undefined?1:seed),out=[],h=r.h;
  for(var k=0;k<n;k++){var ix=pick(logits(h),temperature===undefined?1:temperature,rand);out.push(M.vocab[ix]);
   if(k+1<n)h=step(r.state,ix,null);}
  return out.join('');}
 function parseUnit(spec){var m=/^[Ll]?(\d+):([a-z]+):(\d+)$/.exec(String(spec).trim());
  if(!m)throw new Error('unit '+JSON.stringify(spec)+': expected LAYER:KIND:INDEX, e.g. L0:h:3');
  var u={layer:+m[1],kind:m[2],index:+m[3]};
  if(u.layer>=L||u.index>=H||!(u.kind==='h'||(u.kind==='c'&&cell==='lstm')))
   throw new Error('unit '+spec+': not a state unit of this '+L+' x '+H+' '+cell+' (h'+(cell==='lstm'?' or c':'')+')');
  return u;}
 function intervene(list){holds=(list||[]).map(function(e){var u=e.unit!==undefined?parseUnit(e.unit):
  {layer:e.layer,kind:e.kind,index:e.index};u.value=+(e.value||0);return u;});return holds.length;}
 function column(layer,kind,index){return (layer*K+kindAt[kind])*H+index;}
 return {forward:forward,predict:predict,sample:sample,intervene:intervene,holds:function(){return holds.slice();},
  id:function(ch){return ids[ch];},step:step,fresh:fresh,copy:copy,logits:logits,softmax:softmax,encode:encode,column:column,vocab:M.vocab,
  units:U,cell:cell,layers:L,hidden:H,kinds:M.kinds,parseUnit:parseUnit};
}
"""
