"""The character-level language model: stacked cells, an output layer, softmax cross-entropy.

    ids (B, T) -> one-hot -> layer 0 -> [dropout] -> layer 1 -> ... -> [dropout]
               -> y_t = W_hy h_t + b_y -> softmax -> cross-entropy with the next character

Parameters live in one flat dict, the names the checkpoint stores (V vocabulary, H hidden units,
G = gates * H; gate blocks side by side in the order of `cells.GATE_ORDER`):

    l{k}.Wx  (V or H, G)   input weights of layer k (layer 0 reads one-hot characters: V rows)
    l{k}.Wh  (H, G)        recurrent weights of layer k
    l{k}.b   (G,)          biases of layer k (LSTM forget-gate block: --forget-bias)
    Wy       (H, V)        output weights
    by       (V,)          output biases

The state is a list with one tuple per layer: (h,) for RNN and GRU, (h, c) for LSTM, each (B, H).
Truncated BPTT: `loss_and_grads` returns the final state, the caller passes it into the next
chunk, and no gradient ever flows across the chunk boundary.
"""

from __future__ import annotations

import math

import numpy as np

from charrnn.cells import CELLS
from charrnn.config import ModelConfig
from charrnn.workspace import Workspace


def layer_params(params: dict, k: int) -> dict:
    return {"Wx": params[f"l{k}.Wx"], "Wh": params[f"l{k}.Wh"], "b": params[f"l{k}.b"]}


def param_shapes(cfg: ModelConfig) -> dict[str, tuple]:
    G = CELLS[cfg.cell].gates * cfg.hidden
    shapes = {}
    for k in range(cfg.layers):
        D = cfg.vocab_size if k == 0 else cfg.hidden
        shapes.update({f"l{k}.Wx": (D, G), f"l{k}.Wh": (cfg.hidden, G), f"l{k}.b": (G,)})
    shapes.update({"Wy": (cfg.hidden, cfg.vocab_size), "by": (cfg.vocab_size,)})
    return shapes


def n_params(cfg: ModelConfig) -> int:
    return sum(math.prod(s) for s in param_shapes(cfg).values())


def init_params(cfg: ModelConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Weights ~ U(-s/sqrt(H), s/sqrt(H)) with s = cfg.init_scale (1: as PyTorch); biases 0, or
    with cfg.bias_init "uniform" as PyTorch's two bias vectors summed, U(-k, k) + U(-k, k) with
    k = 1/sqrt(H) (output bias: one U(-k, k), as nn.Linear); the LSTM forget-gate block gets
    cfg.forget_bias added."""
    k = 1.0 / math.sqrt(cfg.hidden)
    params = {}
    for name, shape in param_shapes(cfg).items():
        if not (name.endswith(".b") or name == "by"):
            params[name] = rng.uniform(-cfg.init_scale * k, cfg.init_scale * k, size=shape).astype(cfg.dtype)
        elif cfg.bias_init == "uniform":
            b = rng.uniform(-k, k, size=shape) + (rng.uniform(-k, k, size=shape) if name != "by" else 0.0)
            params[name] = b.astype(cfg.dtype)
        else:
            params[name] = np.zeros(shape, dtype=cfg.dtype)
    if cfg.cell == "lstm":
        H = cfg.hidden
        for layer in range(cfg.layers):
            params[f"l{layer}.b"][H:2 * H] += np.asarray(cfg.forget_bias, dtype=cfg.dtype)  # gates i, f, o, g
    return params


def init_state(cfg: ModelConfig, batch: int) -> list[tuple]:
    n = CELLS[cfg.cell].n_state
    return [tuple(np.zeros((batch, cfg.hidden), dtype=cfg.dtype) for _ in range(n)) for _ in range(cfg.layers)]


# ------------------------------------------------------------------------ forward / backward
def forward(params, cfg: ModelConfig, ids: np.ndarray, state: list, rng: np.random.Generator | None = None,
            ws: Workspace | None = None):
    """ids (B, T) -> logits (T*B, V), time-major rows (row t*B + b), the final state, and a cache.

    Dropout (inverted) is applied to each layer's output when cfg.dropout > 0 and an `rng` is
    given (training); evaluation and sampling pass no rng. With a workspace `ws` (charrnn.workspace)
    the layers' big arrays are its buffers: the cache is then valid until the next chunk run with
    the same workspace. Without one they are fresh (what a caller that keeps caches wants).
    """
    cell = CELLS[cfg.cell]
    x = np.ascontiguousarray(ids.T)  # (T, B) ids: time-major
    layer_caches, masks, stateT = [], [], []
    for k in range(cfg.layers):
        hs, sT, lc = cell.forward(layer_params(params, k), x, state[k], None if ws is None else ws.scope(f"l{k}."))
        layer_caches.append(lc)
        stateT.append(sT)
        mask = None
        if rng is not None and cfg.dropout > 0:
            keep = 1.0 - cfg.dropout
            mask = ((rng.random(hs.shape) < keep) / keep).astype(hs.dtype)
            hs = hs * mask
        masks.append(mask)
        x = hs  # (T, B, H)
    T, B, H = x.shape
    top = x.reshape(T * B, H)
    logits = top @ params["Wy"]
    logits += params["by"]
    return logits, stateT, (layer_caches, masks, top)


def backward(params, cfg: ModelConfig, dlogits: np.ndarray, cache):
    """dlogits (T*B, V) -> (grads with the names of params, dstate0 list)."""
    cell = CELLS[cfg.cell]
    layer_caches, masks, top = cache
    grads = {"Wy": top.T @ dlogits, "by": dlogits.sum(axis=0)}
    T, B = layer_caches[0][1].shape[:2]
    dx = (dlogits @ params["Wy"].T).reshape(T, B, -1)  # into the top layer's output
    dstate0 = [None] * cfg.layers
    for k in range(cfg.layers - 1, -1, -1):
        if masks[k] is not None:
            dx = dx * masks[k]
        # Truncated BPTT: nothing flows back from the next chunk, so dL/d(final state) = 0.
        dx, dstate0[k], g = cell.backward(dx, (0.0,) * cell.n_state, layer_caches[k])
        for name, value in g.items():
            grads[f"l{k}.{name}"] = value
    return grads, dstate0


def softmax_xent(logits: np.ndarray, targets: np.ndarray):
    """Mean cross-entropy (nats) of rows of logits (N, V) against targets (N,), and dL/dlogits."""
    N = logits.shape[0]
    rows = np.arange(N)
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(s[:, 0], dtype=np.float64) - z[rows, targets]))
    e /= s  # probabilities
    e[rows, targets] -= 1
    e /= N
    return loss, e


def loss_and_grads(params, cfg: ModelConfig, x: np.ndarray, y: np.ndarray, state: list,
                   rng: np.random.Generator | None = None, ws: Workspace | None = None):
    """One chunk of truncated BPTT: x, y (B, T) ids -> (mean loss in nats, grads, final state).

    The final state is the value to carry into the next chunk; the gradient stops here. A run of
    many chunks passes one workspace `ws` for the scratch arrays (see `forward`).
    """
    logits, stateT, cache = forward(params, cfg, x, state, rng, ws)
    loss, dlogits = softmax_xent(logits, y.T.reshape(-1))
    grads, _ = backward(params, cfg, dlogits, cache)
    return loss, grads, stateT


def loss_sum(params, cfg: ModelConfig, x: np.ndarray, y: np.ndarray, state: list, ws: Workspace | None = None):
    """Evaluation: (sum of nats over the chunk, number of characters, final state)."""
    logits, stateT, _ = forward(params, cfg, x, state, ws=ws)
    targets = y.T.reshape(-1)
    z = logits - logits.max(axis=1, keepdims=True)
    nll = np.log(np.exp(z).sum(axis=1), dtype=np.float64) - z[np.arange(len(targets)), targets]
    return float(nll.sum()), len(targets), stateT


# ------------------------------------------------------------------------------ one step
def step(params, cfg: ModelConfig, ids: np.ndarray, state: list):
    """One character for each of B streams: ids (B,) -> (logits (B, V), new state)."""
    cell = CELLS[cfg.cell]
    x = ids
    new_state = []
    for k in range(cfg.layers):
        x, s = cell.step(layer_params(params, k), x, state[k])
        new_state.append(s)
    logits = x @ params["Wy"]
    logits += params["by"]
    return logits, new_state


# ------------------------------------------------------------------ fast one-stream stepper
class Stepper:
    """The sampler's inner loop: one character at a time for ONE stream, as lean as NumPy allows.

        st = make_stepper(params, cfg)          # or make_stepper(params, cfg, state) to continue
        logits = st.step(ix)                    # (V,) logits after reading character id ix
        st.state                                # the state in model format (copies), batch 1

    (`charrnn.sample.generate` turns the logits into characters.)

    Same numbers as `step` (tested); at batch 1 the time goes to reading the weights (the
    products) and to the fixed cost of each NumPy call, so the arrays are fused once to need few
    calls: sigmoid-gate columns halved (one tanh per layer), layer 0's input rows with the bias
    added (a one-hot input is a row lookup), for layers k >= 1 [Wx; Wh] stacked so that one
    product reads the layer below and the layer's own state, which sit side by side in one buffer
    [h_0 | h_1 | ... | 1]; the trailing 1 carries the biases of the top layer and of the output.
    Returned arrays are buffers that the next call overwrites: copy what you keep.
    """

    def __init__(self, params: dict, cfg: ModelConfig, state: list | None = None):
        from charrnn.cells import halve_sigmoid_columns
        self.cell, H, L = cfg.cell, cfg.hidden, cfg.layers
        nsig = (CELLS[cfg.cell].gates - 1) * H  # sigmoid-gate columns: all but the last block
        dt = params["Wy"].dtype
        state = state if state is not None else init_state(cfg, 1)
        self.hb = np.ones((1, L * H + 1), dtype=dt)  # [h of layer 0 | h of layer 1 | ... | 1]
        self.cs = [np.array(s[1], dtype=dt) for s in state] if cfg.cell == "lstm" else []
        self.layers, self.fns = [], []
        for k in range(L):
            self.hb[:, k * H:(k + 1) * H] = state[k][0]
            q = halve_sigmoid_columns(layer_params(params, k), nsig)
            G = q["Wh"].shape[1]
            lay = {"h": self.hb[:, k * H:(k + 1) * H], "a": np.empty((1, G), dt), "t": np.empty((1, H), dt),
                   "tab": q["Wx"] + q["b"] if k == 0 else None, "b": q["b"][None, :]}
            Wh = q["Wh"]
            if cfg.cell == "gru":  # h feeds r, z and half of g's recurrent part, h Wh_g / 2 (see _gru_fn)
                lay["Whg"], lay["g"] = 0.5 * Wh[:, 2 * H:], np.empty((1, H), dt)
                Wh = np.concatenate((Wh[:, :2 * H], lay["Whg"]), axis=1)
            if k == 0:
                lay["W"], lay["z"] = Wh, lay["h"]
            elif k == L - 1:  # [h_{k-1}, h_k, 1] @ [Wx; Wh; b]
                lay["W"] = np.concatenate((q["Wx"], Wh, q["b"][None, :]))
                lay["z"], lay["b"] = self.hb[:, (k - 1) * H:], None
            else:
                lay["W"], lay["z"] = np.concatenate((q["Wx"], Wh)), self.hb[:, (k - 1) * H:(k + 1) * H]
            self.layers.append(lay)
            make = {"rnn": _rnn_fn, "lstm": _lstm_fn, "gru": _gru_fn}[cfg.cell]
            self.fns.append(make(k, lay, self.layers, self.cs))
        self.top, self.Wyb = self.hb[:, (L - 1) * H:], np.concatenate((params["Wy"], params["by"][None, :]))
        self.logits2 = np.empty((1, cfg.vocab_size), dtype=dt)
        self.logits = self.logits2[0]

    def step(self, ix: int) -> np.ndarray:
        """Read character id ix; return the logits (V,) for the next character (a reused buffer)."""
        for fn in self.fns:
            fn(ix)
        np.matmul(self.top, self.Wyb, out=self.logits2)
        return self.logits

    @property
    def state(self) -> list[tuple]:
        H = self.layers[0]["h"].shape[1]
        hs = [self.hb[:, k * H:(k + 1) * H].copy() for k in range(len(self.layers))]
        return [(h, c.copy()) for h, c in zip(hs, self.cs)] if self.cell == "lstm" else [(h,) for h in hs]


# One closure per layer and cell type: the fused arrays bound once, so a step is NumPy calls only.
def _add_input(k, lay):
    tab, b = lay["tab"], lay["b"]
    if k == 0:
        return lambda a, ix: np.add(a, tab[ix], out=a)
    return (lambda a, ix: np.add(a, b, out=a)) if b is not None else (lambda a, ix: None)


def _rnn_fn(k, lay, layers, cs):
    a, z, W, h, add, mm, tanh = lay["a"], lay["z"], lay["W"], lay["h"], _add_input(k, lay), np.matmul, np.tanh

    def run(ix):
        mm(z, W, out=a)
        add(a, ix)
        tanh(a, out=h)
    return run


def _lstm_fn(k, lay, layers, cs):
    a, t, z, W, h, c, add = lay["a"], lay["t"], lay["z"], lay["W"], lay["h"], cs[k], _add_input(k, lay)
    H = h.shape[1]
    i, f, o, g, s = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:], a[:, :3 * H]
    mm, tanh, mul, add_ = np.matmul, np.tanh, np.multiply, np.add

    def run(ix):
        mm(z, W, out=a)
        add(a, ix)
        tanh(a, out=a)
        mul(s, 0.5, out=s)
        add_(s, 0.5, out=s)  # i, f, o = sigmoid
        mul(c, f, out=c)
        mul(i, g, out=t)
        add_(c, t, out=c)
        tanh(c, out=t)
        mul(o, t, out=h)
    return run


def _gru_fn(k, lay, layers, cs):
    """One GRU step in 11 NumPy calls (12 in layer 0), 2 products. With tr, tz = tanh(a_r/2),
    tanh(a_z/2) (the r, z columns halved), r = (1 + tr)/2 and z = (1 + tz)/2, so

        (r * h) Wh_g = (tr * h) Wh_g/2 + h Wh_g/2     the second term comes with the r, z product
        h_t = h + z (g - h) = h + (1 + tz) (g - h) / 2
    """
    a, t, z, W, h, g, Whg, add = lay["a"], lay["t"], lay["z"], lay["W"], lay["h"], lay["g"], lay["Whg"], _add_input(k, lay)
    H = h.shape[1]
    rz, tr, tz, ag = a[:, :2 * H], a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    mm, tanh, mul, sub, add_ = np.matmul, np.tanh, np.multiply, np.subtract, np.add

    def run(ix):
        mm(z, W, out=a)  # [a_r/2, a_z/2, x Wx_g + b_g + h Wh_g/2] (x: layer 0 adds its row below)
        add(a, ix)
        tanh(rz, out=rz)  # tr, tz
        mul(tr, h, out=t)
        mm(t, Whg, out=g)
        add_(g, ag, out=g)  # (r * h) Wh_g + x Wx_g + b_g
        tanh(g, out=g)
        sub(g, h, out=g)
        add_(tz, 1.0, out=tz)  # 2 z
        mul(g, tz, out=g)
        mul(g, 0.5, out=g)
        add_(h, g, out=h)  # h + z (g - h)
    return run


def make_stepper(params: dict, cfg: ModelConfig, state: list | None = None) -> Stepper:
    """A `Stepper` for one stream, starting from `state` (batch 1; default zeros)."""
    return Stepper(params, cfg, state)
