"""Encoder-decoder (seq2seq) over the same cells as the language model, trained with teacher forcing.

    source ids (S, B) -> encoder layers 0..L-1 (no outputs) -> final state of every layer
                      -> initial state of decoder layer k (h, and c for LSTM)
    decoder input  START y_1 .. y_n  -> decoder layers -> z_t = W_y h_t + b_y -> softmax
    decoder target y_1 .. y_n END    (masked cross-entropy: padding carries weight 0)

Parameters (one flat dict, the names the checkpoint stores after `param/`; N_in = V + 3 one-hot
inputs, N_out = V + 1 outputs, see `pairs.Tokens`; gate blocks as in `cells.GATE_ORDER`):

    enc.l{k}.Wx (N_in or H, G)   enc.l{k}.Wh (H, G)   enc.l{k}.b (G,)     encoder layer k
    dec.l{k}.Wx (N_in or H, G)   dec.l{k}.Wh (H, G)   dec.l{k}.b (G,)     decoder layer k
    Wy (H, N_out)   by (N_out,)                                         decoder output layer

Every recurrent computation is a call of the cells' own forward/backward (`cells.CELLS`); this
module only arranges them:

* Encoder, exact under padding: the batch is sorted by source length (longest first) and run in
  segments between consecutive distinct lengths; in segment [t0, t1) only the rows still inside
  their source take part (a prefix of the sorted batch), each a chunk forward starting from the
  state the previous segment ended in. A row's final state is the state at its own last
  character, and a padding token is never read. Backward runs the segments in reverse, passing
  dL/d(state) from one segment into the one before (full BPTT through the source).
* Decoder with teacher forcing 1.0: one chunk forward per layer over the padded targets. Padding
  sits after every real target, so (causally) it cannot change a real step; its loss weight is 0,
  so dL/dlogits there is exactly 0 and nothing flows back from it.
* Decoder with scheduled sampling (teacher forcing P < 1): step by step, each step a T = 1
  chunk of the same cell forward, because the input of step t (the truth with probability P, else
  a character drawn from the model's own step t-1 distribution) is known only after step t-1.
  No gradient flows through the drawn character.
"""

from __future__ import annotations

import math

import numpy as np

from typing import NamedTuple

from charrnn.tasks import lm as model
from charrnn.nn.cells import CELLS
from charrnn.config import ModelConfig
from charrnn.nn.losses import nll, softmax_xent
from charrnn.nn.stack import layer_params, project, project_backward, stack_backward, stack_forward, zero_state


def n_in(cfg: ModelConfig) -> int:  # characters + END, START, PAD (cfg.vocab_size counts characters)
    return cfg.vocab_size + 3


def n_out(cfg: ModelConfig) -> int:  # characters + END
    return cfg.vocab_size + 1


def param_shapes(cfg: ModelConfig) -> dict[str, tuple]:
    G, H = CELLS[cfg.cell].gates * cfg.hidden, cfg.hidden
    shapes = {}
    for part in ("enc", "dec"):
        for k in range(cfg.layers):
            D = n_in(cfg) if k == 0 else H
            shapes.update({f"{part}.l{k}.Wx": (D, G), f"{part}.l{k}.Wh": (H, G), f"{part}.l{k}.b": (G,)})
    shapes.update({"Wy": (H, n_out(cfg)), "by": (n_out(cfg),)})
    return shapes


def n_params(cfg: ModelConfig) -> int:
    return sum(math.prod(s) for s in param_shapes(cfg).values())


def init_params(cfg: ModelConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """As the language model (`model.init_params`, the same draws in the same order over this
    model's shapes): weights ~ U(-s/sqrt(H), s/sqrt(H)), s = cfg.init_scale; biases 0 or (with
    cfg.bias_init "uniform") U(-k, k) + U(-k, k), k = 1/sqrt(H); cfg.forget_bias added to the
    LSTM forget-gate blocks of every encoder and decoder layer."""
    return model.init_params(cfg, rng, shapes=param_shapes(cfg))


# ------------------------------------------------------------------------------- encoder
def encode(params, cfg: ModelConfig, src: np.ndarray, src_len: np.ndarray, chunk: int | None = None):
    """src (S, B) ids, src_len (B,) -> (final state: one tuple per layer of (B, H) arrays, cache).

    Rows are sorted longest first; segment [t0, t1) runs the n rows with length >= t1.
    chunk: evaluation only: segments are also cut every `chunk` steps and no cache is kept
    (memory bounded by the chunk, not the source length; the cache returned is None)."""
    order = np.argsort(-src_len, kind="stable")
    lens = src_len[order]
    x_all = src[:, order]  # (S, B) sorted
    state = [[a.copy() for a in layer] for layer in zero_state(cfg, src.shape[1])]  # running, sorted rows
    segments, t0 = [], 0
    cuts = set(int(v) for v in lens if v > 0)
    if chunk is not None:
        cuts |= set(range(chunk, int(lens.max(initial=0)), chunk))
    for t1 in sorted(cuts):
        n = int(np.sum(lens >= t1))
        x = np.ascontiguousarray(x_all[t0:t1, :n])  # (t1 - t0, n) ids
        _, sT, stack = stack_forward(params, cfg, x, [tuple(a[:n] for a in layer) for layer in state], "enc.")
        for layer, new in zip(state, sT):
            for a, v in zip(layer, new):
                a[:n] = v
        if chunk is None:
            segments.append((t0, t1, n, stack))
        t0 = t1
    inv = np.argsort(order)
    final = [tuple(a[inv] for a in layer) for layer in state]
    return final, (None if chunk is not None else (order, segments))


def encode_backward(cfg: ModelConfig, dfinal: list, cache, grads: dict) -> None:
    """dfinal: dL/d(final state), one tuple per layer (B, H); adds the encoder's gradients to grads."""
    order, segments = cache
    dstate = [[np.array(d[order]) for d in layer] for layer in dfinal]  # sorted rows, running
    for t0, t1, n, stack in reversed(segments):
        dhs = np.zeros((t1 - t0, n, cfg.hidden), dtype=dstate[0][0].dtype)  # the encoder emits no outputs
        _, ds0 = stack_backward(cfg, dhs, [tuple(d[:n] for d in layer) for layer in dstate], stack, grads, "enc.")
        for layer, new in zip(dstate, ds0):
            for d, v in zip(layer, new):
                d[:n] = v  # dL/d(state at t0) for the rows of this segment


# ------------------------------------------------------------------------------- decoder
class DecoderCache(NamedTuple):
    steps: list  # one StackCache: the whole chunk (teacher forcing), or one per step (scheduled sampling)
    top: np.ndarray  # (T*B, H) the top layer's outputs, row t*B + b
    shape: tuple  # (T, B)
    chunk: bool  # True: steps[0] covers all T steps


def decode_forward(params, cfg: ModelConfig, dec_in: np.ndarray, state0: list):
    """Teacher forcing: dec_in (T, B) ids -> logits (T*B, N_out) (row t*B + b), cache."""
    hs, _, stack = stack_forward(params, cfg, dec_in, state0, "dec.")
    T, B, H = hs.shape
    top = hs.reshape(T * B, H)  # (T*B, H), row t*B + b
    return project(params, top), DecoderCache([stack], top, (T, B), True)


def decode_forward_sampled(params, cfg: ModelConfig, dec_in: np.ndarray, state0: list, use_truth: np.ndarray,
                           coins: np.ndarray):
    """Scheduled sampling, step by step (T = 1 chunks of the same stack).

    use_truth (T, B) bool: feed dec_in[t] where true, else the character drawn from the model's
    step t-1 distribution with the uniform numbers coins (T, B) (inverse CDF). Row 0 is START."""
    T, B = dec_in.shape
    state, steps, tops = list(state0), [], []
    logits = None
    x_ids = dec_in[0].copy()
    for t in range(T):
        if t > 0:
            z = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(z)
            cdf = np.cumsum(p, axis=1)
            drawn = np.minimum((cdf < coins[t, :, None] * cdf[:, -1:]).sum(axis=1), p.shape[1] - 1)
            x_ids = np.where(use_truth[t], dec_in[t], drawn)
        hs, state, stack = stack_forward(params, cfg, x_ids[None, :], state, "dec.")  # (1, B) -> (1, B, H)
        steps.append(stack)
        tops.append(hs[0].copy())
        logits = project(params, hs[0])
    top = np.stack(tops).reshape(T * B, -1)  # (T*B, H)
    return project(params, top), DecoderCache(steps, top, (T, B), False)


def decode_backward(params, cfg: ModelConfig, dlogits: np.ndarray, cache: DecoderCache, grads: dict) -> list:
    """dlogits (T*B, N_out) -> dL/d(initial state) per layer; adds the decoder's gradients to grads."""
    T, B = cache.shape
    dtop = project_backward(params, cache.top, dlogits, grads).reshape(T, B, cfg.hidden)  # into the top layer
    if cache.chunk:  # nothing flows back from after the last step
        return stack_backward(cfg, dtop, None, cache.steps[0], grads, "dec.")[1]
    dstate = None  # dL/d(state after step t), per layer
    for t in range(T - 1, -1, -1):
        _, dstate = stack_backward(cfg, dtop[t][None], dstate, cache.steps[t], grads, "dec.")
    return dstate


def loss_and_grads(params, cfg: ModelConfig, batch, norm: float | None = None, use_truth=None, coins=None):
    """One batch (`pairs.Batch`): (loss = summed nats / norm, grads, (encoder final state)).

    norm defaults to the number of real targets (the mean nats per target character, END
    included). use_truth / coins: scheduled sampling (see decode_forward_sampled); None is
    teacher forcing 1.0."""
    norm = batch.n_targets if norm is None else norm
    state, enc_cache = encode(params, cfg, batch.src, batch.src_len)
    if use_truth is None:
        logits, dec_cache = decode_forward(params, cfg, batch.dec_in, state)
    else:
        logits, dec_cache = decode_forward_sampled(params, cfg, batch.dec_in, state, use_truth, coins)
    loss, dlogits = softmax_xent(logits, batch.dec_out.reshape(-1), batch.mask.reshape(-1), norm)
    grads: dict = {}
    dstate0 = decode_backward(params, cfg, dlogits, dec_cache, grads)
    encode_backward(cfg, dstate0, enc_cache, grads)
    return loss, grads, state


def loss_sum(params, cfg: ModelConfig, batch) -> tuple[float, int]:
    """Teacher-forced evaluation: (summed nats over the real targets, their number)."""
    state, _ = encode(params, cfg, batch.src, batch.src_len)
    logits, _ = decode_forward(params, cfg, batch.dec_in, state)
    mask = batch.mask.reshape(-1)
    total = float(np.sum(nll(logits, np.where(mask > 0, batch.dec_out.reshape(-1), 0), overwrite=True) * mask))
    return total, batch.n_targets
