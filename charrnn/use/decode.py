"""Free-running decoding of a seq2seq model: greedy, sampled, beam search.

The decoder starts from the encoder's final state and the START token; each output is fed back
as the next input until END (or max_len outputs). One step is the cells' own chunk forward with
T = 1 (`charrnn.nn.cells`: no second implementation of the cell maths), for B sequences at once:

    h_t = cell(x_t, h_{t-1}) (every layer)   z_t = W_y h_t + b_y   x_{t+1} = choice(z_t)

greedy: argmax z_t. sample: draw from softmax(z_t / temp). beam: keep the `beam` best partial
outputs by summed log-probability; finished ones (ending in END) are ranked by their mean
log-probability per output token, END included (length normalisation: without it short
outputs win). The greedy output is one more candidate, so beam never scores below greedy.
With beam 1 this is greedy (tested).
"""

from __future__ import annotations

import numpy as np

from charrnn.nn.losses import log_softmax
from charrnn.nn.stack import project, stack_forward
from charrnn.tasks.seq2seq import encode


def _step(params, cfg, ids: np.ndarray, state: list):
    """ids (B,) -> (logits (B, N_out), new state): the decoder stack over a chunk of one step."""
    x = np.ascontiguousarray(ids, dtype=np.int64)[None, :]  # (1, B)
    hs, new, _ = stack_forward(params, cfg, x, state, "dec.")  # hs (1, B, H)
    return project(params, hs[0]), new


CHECK_EVERY = 128  # decoding steps between two calls of `check`


def free_run(params, cfg, tokens, src: np.ndarray, src_len: np.ndarray, max_len: int,
             temperature: float = 0.0, rng: np.random.Generator | None = None, check=None,
             capped: list | None = None) -> list[list[int]]:
    """Greedy (temperature 0) or sampled outputs for a batch: src (S, B) -> B lists of ids (no END).
    check(): called every CHECK_EVERY steps (it may raise to stop). capped: gets the batch
    positions of the outputs that reached max_len without END."""
    state, _ = encode(params, cfg, src, src_len, chunk=1024)
    B = src.shape[1]
    ids = np.full(B, tokens.start, dtype=np.int64)
    out = [[] for _ in range(B)]
    alive = np.ones(B, dtype=bool)
    for t in range(max_len):
        if check is not None and t % CHECK_EVERY == CHECK_EVERY - 1:
            check()
        logits, state = _step(params, cfg, ids, state)
        if temperature > 0:
            logp = log_softmax(logits.astype(np.float64) / temperature)
            g = -np.log(-np.log(rng.random(logp.shape)))  # Gumbel-max: a draw from softmax
            ids = np.argmax(logp + g, axis=1)
        else:
            ids = np.argmax(logits, axis=1)
        for b in np.flatnonzero(alive):
            if ids[b] == tokens.end:
                alive[b] = False
            else:
                out[b].append(int(ids[b]))
        if not alive.any():
            break
    if capped is not None:
        capped.extend(int(b) for b in np.flatnonzero(alive))
    return out


def _greedy(params, cfg, tokens, state: list, max_len: int) -> tuple[tuple, float, bool]:
    """Greedy decoding of one source from the encoder's final state: (ids, summed log-probability
    of those ids and of END if reached, whether END was reached)."""
    ids, total, last = [], 0.0, tokens.start
    for _ in range(max_len):
        logits, state = _step(params, cfg, np.array([last]), state)
        logp = log_softmax(logits.astype(np.float64))[0]
        last = int(np.argmax(logits[0]))
        total += float(logp[last])
        if last == tokens.end:
            return tuple(ids), total, True
        ids.append(last)
    return tuple(ids), total, False


def beam_search(params, cfg, tokens, src_ids: np.ndarray, beam: int, max_len: int,
                capped: list | None = None) -> list[int]:
    """The best output for ONE source by beam search with length normalisation (ids, no END).

    Score of an output: its summed log-probability (END included when reached) / its length
    (END counted). The greedy output is a candidate too, so the result never scores below greedy
    (a narrow beam can lose the greedy path when an early step ranks it below `beam` others).
    capped: gets True if the output returned reached max_len without END."""
    src, lens = src_ids.reshape(-1, 1).astype(np.int64), np.array([len(src_ids)])
    if src.shape[0] == 0:
        src = np.full((1, 1), tokens.pad, dtype=np.int64)
    state, _ = encode(params, cfg, src, lens, chunk=1024)
    g_ids, g_total, g_ended = _greedy(params, cfg, tokens, state, max_len)
    hyps = [((), 0.0)]  # (output ids, summed log-probability), alive
    finished = []  # (mean log-probability per token incl. END, output ids, reached END)
    for t in range(max_len):
        rows = [tuple(a.repeat(len(hyps), axis=0) for a in layer) for layer in state] if t == 0 else state
        last = np.array([h[0][-1] if h[0] else tokens.start for h in hyps], dtype=np.int64)
        logits, new_state = _step(params, cfg, last, rows)
        logp = log_softmax(logits.astype(np.float64))  # (n, N_out)
        total = np.array([h[1] for h in hyps])[:, None] + logp
        flat = np.argsort(-total, axis=None, kind="stable")[:beam]
        keep, nxt = [], []
        for f in flat:
            i, c = divmod(int(f), logp.shape[1])
            if c == tokens.end:
                finished.append((total[i, c] / (len(hyps[i][0]) + 1), hyps[i][0], True))
            else:
                keep.append(i)
                nxt.append((hyps[i][0] + (c,), float(total[i, c])))
        if len(finished) >= beam or not nxt:
            break
        hyps = nxt
        state = [tuple(a[keep] for a in layer) for layer in new_state]
    if not finished:  # max_len reached: the best unfinished output, normalised the same way
        finished = [(s / max(1, len(ids)), ids, False) for ids, s in hyps]
    finished.append((g_total / max(1, len(g_ids) + g_ended), g_ids, g_ended))
    best = max(finished, key=lambda f: f[0])  # (the first of equals: beam's own before greedy)
    if capped is not None and not best[2]:
        capped.append(True)
    return list(best[1])
