"""The character-level language model: stacked cells, an output layer, softmax cross-entropy.

    ids (B, T) -> one-hot -> layer 0 -> [dropout] -> layer 1 -> ... -> [dropout]
               -> y_t = W_hy h_t + b_y -> softmax -> cross-entropy with the next character

Parameters live in one flat dict, the names the checkpoint stores (V vocabulary, H hidden units,
G = gates * H; gate blocks side by side in the order of `cells.CELLS[cell].gate_order`):

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

from charrnn.nn.cells import CELLS
from charrnn.config import ModelConfig
from charrnn.errors import VocabError
from charrnn.nn.workspace import Workspace, take


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


def estimate_memory(cfg: ModelConfig, batch: int, seq_len: int, optimizer: str = "adam") -> int:
    """Bytes that training adds to a process already holding the parameters (and the corpus):

        item * ((2 + 2 slots + scratch) P + B T V + layers B T floats_per_step(H))

    P parameters: the gradients twice (a step's are alive while the next step's are computed),
    the optimizer's slots (Adam m and v: 2; SGD, RMSprop, Adagrad: 1) and the copies of them a
    checkpoint writes, Adam's scratch array (1); one chunk's logits, worked on in place by the
    loss, in the run's workspace (B T V: the largest array at a large vocabulary); each layer's
    forward cache (cells.Cell.floats_per_step). Checked against peak RSS at V = 65, 577 and
    20,001 in docs/BENCHMARKS.md.
    """
    item = np.dtype(cfg.dtype).itemsize
    slots = {"adam": 2, "sgd": 1, "rmsprop": 1, "adagrad": 1}.get(optimizer, 2)
    scratch = 1 if optimizer == "adam" else 0
    per_layer = batch * seq_len * CELLS[cfg.cell].floats_per_step(cfg.hidden)
    logits = batch * seq_len * cfg.vocab_size
    return item * ((2 + 2 * slots + scratch) * n_params(cfg) + logits + cfg.layers * per_layer)


def init_params(cfg: ModelConfig, rng: np.random.Generator, shapes: dict | None = None) -> dict[str, np.ndarray]:
    """Weights ~ U(-s/sqrt(H), s/sqrt(H)) with s = cfg.init_scale (1: as PyTorch); biases 0, or
    with cfg.bias_init "uniform" as PyTorch's two bias vectors summed, U(-k, k) + U(-k, k) with
    k = 1/sqrt(H) (output bias: one U(-k, k), as nn.Linear); the LSTM forget-gate block gets
    cfg.forget_bias added. `shapes` (default: this model's param_shapes) lets the seq2seq model,
    whose recurrent biases are the names ending in ".b", share this initialisation."""
    k = 1.0 / math.sqrt(cfg.hidden)
    params = {}
    for name, shape in (param_shapes(cfg) if shapes is None else shapes).items():
        if not (name.endswith(".b") or name == "by"):
            params[name] = rng.uniform(-cfg.init_scale * k, cfg.init_scale * k, size=shape).astype(cfg.dtype)
        elif cfg.bias_init == "uniform":
            b = rng.uniform(-k, k, size=shape) + (rng.uniform(-k, k, size=shape) if name != "by" else 0.0)
            params[name] = b.astype(cfg.dtype)
        else:
            params[name] = np.zeros(shape, dtype=cfg.dtype)
    gates = CELLS[cfg.cell].gate_order
    if "f" in gates:  # the LSTM's forget gate
        f, H = gates.index("f"), cfg.hidden
        for name in params:
            if name.endswith(".b"):  # every recurrent layer's fused bias (l0.b, ...; enc.l0.b, ...)
                params[name][f * H:(f + 1) * H] += np.asarray(cfg.forget_bias, dtype=cfg.dtype)
    return params


def init_state(cfg: ModelConfig, batch: int) -> list[tuple]:
    n = CELLS[cfg.cell].n_state
    return [tuple(np.zeros((batch, cfg.hidden), dtype=cfg.dtype) for _ in range(n)) for _ in range(cfg.layers)]


# ------------------------------------------------------------------------ forward / backward
def forward(params, cfg: ModelConfig, ids: np.ndarray, state: list, rng: np.random.Generator | None = None,
            ws: Workspace | None = None):
    """ids (B, T) -> logits (T*B, V), time-major rows (row t*B + b), the final state, and a cache.

    Dropout (inverted) is applied to each layer's output when cfg.dropout > 0 and an `rng` is
    given (training); evaluation and sampling pass no rng. With a workspace `ws` (charrnn.nn.workspace)
    the layers' big arrays are its buffers: the cache is then valid until the next chunk run with
    the same workspace. Without one they are fresh (what a caller that keeps caches wants).
    """
    cell = CELLS[cfg.cell]
    if ids.size and not 0 <= int(ids.min()) <= int(ids.max()) < cfg.vocab_size:  # any data source
        bad = int(ids.max()) if int(ids.max()) >= cfg.vocab_size else int(ids.min())
        raise VocabError(f"character id {bad} is outside the model's vocabulary of {cfg.vocab_size} characters",
                         hint="the ids do not come from this model's vocabulary (damaged data?)")
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
    logits = take(ws, "logits", (T * B, cfg.vocab_size), params["Wy"].dtype)  # (TB, V): reused, not paged in anew
    np.matmul(top, params["Wy"], out=logits)
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


def softmax_xent(logits: np.ndarray, targets: np.ndarray, overwrite: bool = False):
    """Mean cross-entropy (nats) of rows of logits (N, V) against targets (N,), and dL/dlogits.

    overwrite: dL/dlogits is computed in the logits array itself (no (N, V) temporaries: at
    V = 20,001 each one is 200 MB, written once per step).
    """
    N = logits.shape[0]
    rows = np.arange(N)
    z = logits if overwrite else logits.copy()
    z -= z.max(axis=1, keepdims=True)
    picked = z[rows, targets].astype(np.float64)  # (N,) z of the right characters, before exp
    e = np.exp(z, out=z)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(s[:, 0], dtype=np.float64) - picked))
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
    loss, dlogits = softmax_xent(logits, y.T.reshape(-1), overwrite=True)
    grads, _ = backward(params, cfg, dlogits, cache)
    return loss, grads, stateT


def loss_sum(params, cfg: ModelConfig, x: np.ndarray, y: np.ndarray, state: list, ws: Workspace | None = None):
    """Evaluation: (sum of nats over the chunk, number of characters, final state)."""
    logits, stateT, _ = forward(params, cfg, x, state, ws=ws)
    targets = y.T.reshape(-1)
    z = logits  # ours: worked on in place (no (TB, V) temporaries)
    z -= z.max(axis=1, keepdims=True)
    picked = z[np.arange(len(targets)), targets]
    nll = np.log(np.exp(z, out=z).sum(axis=1), dtype=np.float64) - picked
    return float(nll.sum()), len(targets), stateT
