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

from typing import NamedTuple

from charrnn.nn.cells import CELLS
from charrnn.config import ModelConfig
from charrnn.errors import VocabError
from charrnn.nn.losses import nll, softmax_xent
from charrnn.nn.stack import StackCache, layer_params, project, project_backward, stack_backward, stack_forward, zero_state
from charrnn.nn.workspace import Workspace, take


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


def estimate_memory(cfg: ModelConfig, batch: int, seq_len: int, optimizer: str = "adam", split: int = 1) -> int:
    """Bytes that training adds to a process already holding the parameters (and the corpus):

        item * ((2 + 2 slots + scratch) P + B T V + layers B T floats_per_step(H))

    P parameters: the gradients twice (a step's are alive while the next step's are computed),
    the optimizer's slots (Adam m and v: 2; SGD, RMSprop, Adagrad: 1) and the copies of them a
    checkpoint writes, Adam's scratch array (1); one chunk's logits, worked on in place by the
    loss, in the run's workspace (B T V: the largest array at a large vocabulary); each layer's
    forward cache (cells.Cell.floats_per_step); and the block of Gumbel noise the log's sample
    draws (float64, and its copy in the model's dtype; bounded by sample.NOISE_FLOATS). Checked
    against peak RSS at V = 65, 577 and 20,001 in docs/BENCHMARKS.md, and at H = 16, V = 20,000
    (issue 27: the noise block, 256 rows of V, was the 60 MB the estimate missed).

    `split` (row blocks, charrnn.nn.rows): the blocks after the first hold their own chunk arrays
    for their B / split streams and their own gradients, beside the whole batch's in the run's
    workspace (block 0's, also used unsplit).
    """
    item = np.dtype(cfg.dtype).itemsize
    slots = {"adam": 2, "sgd": 1, "rmsprop": 1, "adagrad": 1}.get(optimizer, 2)
    scratch = 1 if optimizer == "adam" else 0
    per_layer = batch * seq_len * CELLS[cfg.cell].floats_per_step(cfg.hidden)
    logits = batch * seq_len * cfg.vocab_size
    from charrnn.use.sample import noise_rows

    sampler = noise_rows(cfg.vocab_size) * cfg.vocab_size * (8 + item)  # the log sample's noise block
    chunk = logits + cfg.layers * per_layer
    others = (split - 1) * (n_params(cfg) + chunk / split) if split > 1 else 0
    return int(item * ((2 + 2 * slots + scratch) * n_params(cfg) + chunk + others)) + sampler


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
    return zero_state(cfg, batch)


# ------------------------------------------------------------------------ forward / backward
def forward(params, cfg: ModelConfig, ids: np.ndarray, state: list, rng: np.random.Generator | None = None,
            ws: Workspace | None = None, hold=None):
    """ids (B, T) -> logits (T*B, V), time-major rows (row t*B + b), the final state, and a cache.

    Dropout (inverted) is applied to each layer's output when cfg.dropout > 0 and an `rng` is
    given (training); evaluation and sampling pass no rng. With a workspace `ws` (charrnn.nn.workspace)
    the layers' big arrays are its buffers: the cache is then valid until the next chunk run with
    the same workspace. Without one they are fresh (what a caller that keeps caches wants).
    `hold` (charrnn.nn.intervene.Holds, optional): units held at a value at every step (--ablate,
    --clamp; see nn.stack.stack_forward).
    """
    if ids.size and not 0 <= int(ids.min()) <= int(ids.max()) < cfg.vocab_size:  # any data source
        bad = int(ids.max()) if int(ids.max()) >= cfg.vocab_size else int(ids.min())
        raise VocabError(f"character id {bad} is outside the model's vocabulary of {cfg.vocab_size} characters",
                         hint="the ids do not come from this model's vocabulary (damaged data?)")
    x = np.ascontiguousarray(ids.T)  # (T, B) ids: time-major
    hs, stateT, stack = stack_forward(params, cfg, x, state, rng=rng, ws=ws, hold=hold)
    T, B, H = hs.shape
    top = hs.reshape(T * B, H)
    logits = take(ws, "logits", (T * B, cfg.vocab_size), params["Wy"].dtype)  # (TB, V): reused, not paged in anew
    return project(params, top, out=logits), stateT, LMCache(stack, top)


def backward(params, cfg: ModelConfig, dlogits: np.ndarray, cache: "LMCache"):
    """dlogits (T*B, V) -> (grads with the names of params, dstate0 list).

    Truncated BPTT: nothing flows back from the next chunk, so dL/d(final state) = 0."""
    grads: dict = {}
    T, B = cache.stack.layers[0][1].shape[:2]
    dtop = project_backward(params, cache.top, dlogits, grads).reshape(T, B, -1)  # into the top layer
    _, dstate0 = stack_backward(cfg, dtop, None, cache.stack, grads)
    return grads, dstate0


class LMCache(NamedTuple):
    stack: StackCache  # the layers' caches and dropout masks
    top: np.ndarray  # (T*B, H) the top layer's outputs, row t*B + b


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


def loss_sum(params, cfg: ModelConfig, x: np.ndarray, y: np.ndarray, state: list, ws: Workspace | None = None,
             hold=None):
    """Evaluation: (sum of nats over the chunk, number of characters, final state); `hold`: see forward."""
    logits, stateT, _ = forward(params, cfg, x, state, ws=ws, hold=hold)
    targets = y.T.reshape(-1)
    return float(nll(logits, targets, overwrite=True).sum()), len(targets), stateT
