"""Scoring a seq2seq model on pairs, in bounded memory and interruptible at any point:
exact match and character error rate of the free-running (greedy or beam) outputs, and the
teacher-forced loss in nats per target character (END counted as one).

Memory: pairs are scored in batches sorted by length, each holding at most `BATCH_TOKENS`
padded target steps (a pair longer than that is a batch of its own), and a sequence longer than
`TIME_CHUNK` steps is run in chunks of time with the state carried between them, so no array
grows with the longest pair times the batch: a 100,000-character target scores in a few MB.

Time: `progress(done, total)` (pairs scored so far, in all) is called after every batch and every
few hundred decoding or edit-distance steps; it may raise to stop the pass (Ctrl-C in training).
The edit distance is exact: common prefix and suffix stripped, then a banded dynamic programme
(Ukkonen) whose band doubles until it holds the distance, one NumPy row per character.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charrnn.data.pairs import encode_pairs, make_batch, source_batch
from charrnn.nn.losses import nll
from charrnn.nn.stack import project, stack_forward, zero_state
from charrnn.tasks.seq2seq import encode
from charrnn.use.decode import beam_search, free_run

BATCH_TOKENS = 16_384  # padded target steps per teacher-forced batch (and pairs * steps per decoding batch)
MAX_BATCH = 256  # pairs per batch at most
TIME_CHUNK = 1024  # decoder steps per forward call of the teacher-forced pass
CHECK_EVERY = 256  # rows of the edit distance between two progress calls


@dataclass
class PairScores:
    exact_match: float  # fraction of outputs equal to their target
    char_error_rate: float  # summed edit distance / summed target length
    nats_per_char: float  # teacher-forced, per target character (END counted as one)
    pairs: int
    examples: list  # (source, target, output) of the first few misses

    def to_dict(self) -> dict:
        return {"exact_match": self.exact_match, "char_error_rate": self.char_error_rate,
                "nats_per_char": self.nats_per_char, "pairs": self.pairs}

    def rows(self) -> list[tuple[str, str]]:
        """What `charrnn evaluate` prints."""
        return [("exact match", f"{self.exact_match:.2%}"), ("char error rate", f"{self.char_error_rate:.4f}"),
                ("nats/char", f"{self.nats_per_char:.4f} (teacher-forced)"), ("pairs", f"{self.pairs:,}")]


def length_batches(lengths: list[int], per_item: int = 1) -> list[list[int]]:
    """Indices grouped into batches of similar length: sorted by length, each batch's padded size
    (pairs x longest) at most BATCH_TOKENS (one item alone may exceed it), at most MAX_BATCH items."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches, cur = [], []
    for i in order:
        if cur and (len(cur) + 1) * max(lengths[i], 1) * per_item > BATCH_TOKENS or len(cur) == MAX_BATCH:
            batches.append(cur)
            cur = []
        cur.append(i)
    return batches + ([cur] if cur else [])


def teacher_forced_nats(params, cfg, tokens, encoded, check=None) -> tuple[float, int]:
    """(summed nats over the real targets, their number), teacher-forced, in bounded memory."""
    total, count = 0.0, 0
    for idx in length_batches([len(s) + len(t) for s, t in encoded]):
        batch = make_batch(tokens, [encoded[i] for i in idx], cfg.dtype)
        state, _ = encode(params, cfg, batch.src, batch.src_len, chunk=TIME_CHUNK)
        for t0 in range(0, batch.dec_in.shape[0], TIME_CHUNK):
            hs, state, _ = stack_forward(params, cfg, batch.dec_in[t0:t0 + TIME_CHUNK], state, "dec.")
            T, B, H = hs.shape
            mask = batch.mask[t0:t0 + T].reshape(-1)
            targets = np.where(mask > 0, batch.dec_out[t0:t0 + T].reshape(-1), 0)
            total += float(np.sum(nll(project(params, hs.reshape(T * B, H)), targets, overwrite=True) * mask))
            if check is not None:
                check()  # (it may raise to stop the pass)
        count += batch.n_targets
    return total, count


def decode_all(params, cfg, tokens, sources: list[np.ndarray], max_len: int, beam: int | None = None,
               temperature: float = 0.0, rng=None, progress=None, capped: list | None = None) -> list[list[int]]:
    """Free-running outputs (ids, no END) for every source, in the order given. capped: gets the
    positions of the outputs cut at max_len (no END reached), in order."""
    cut = []
    out: list = [None] * len(sources)
    if beam is not None and beam > 1:
        for i, s in enumerate(sources):
            hit = []
            out[i] = beam_search(params, cfg, tokens, s, beam, max_len, capped=hit)
            cut += [i] * len(hit)
            if progress is not None:
                progress(i + 1, len(sources))
        if capped is not None:
            capped.extend(cut)
        return out
    done = 0
    for idx in length_batches([len(s) for s in sources], per_item=1):
        src, lens = source_batch(tokens, [sources[i] for i in idx])
        step_check = None if progress is None else (lambda: progress(done, len(sources)))
        hit = []
        for i, ids in zip(idx, free_run(params, cfg, tokens, src, lens, max_len, temperature, rng, check=step_check,
                                        capped=hit)):
            out[i] = ids
        cut += [int(idx[b]) for b in hit]
        done += len(idx)
        if progress is not None:
            progress(done, len(sources))
    if capped is not None:
        capped.extend(sorted(cut))
    return out


def score_pairs(params, cfg, tokens, pairs, max_len: int, beam: int | None = None, n_examples: int = 5,
                progress=None) -> PairScores:
    """Free-running exact match and character error rate (greedy, or beam), teacher-forced nats/char."""
    encoded = encode_pairs(tokens, pairs)
    outputs = [tokens.decode(ids + [tokens.end])
               for ids in decode_all(params, cfg, tokens, [s for s, _ in encoded], max_len, beam, progress=progress)]
    check = None if progress is None else (lambda: progress(len(pairs), len(pairs)))
    hits, dist, length, misses = 0, 0, 0, []
    for (s, t), o in zip(pairs, outputs):
        hits += o == t
        dist += edit_distance(o, t, check)
        length += len(t)
        if o != t and len(misses) < n_examples:
            misses.append((s, t, o))
    total, count = teacher_forced_nats(params, cfg, tokens, encoded, check)
    return PairScores(hits / len(pairs), dist / max(1, length), total / count, len(pairs), misses)


# --------------------------------------------------------------------------- edit distance
def _codes(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)


def edit_distance(a: str, b: str, check=None) -> int:
    """Levenshtein distance (insertions, deletions, substitutions each cost 1), exact.

    check(): called every CHECK_EVERY rows (it may raise to stop)."""
    x, y = _codes(a), _codes(b)
    n = min(len(x), len(y))
    diff = np.flatnonzero(x[:n] != y[:n])
    p = int(diff[0]) if len(diff) else n  # common prefix
    x, y = x[p:], y[p:]
    n = min(len(x), len(y))
    diff = np.flatnonzero(x[::-1][:n] != y[::-1][:n])
    q = int(diff[0]) if len(diff) else n  # common suffix
    x, y = x[:len(x) - q], y[:len(y) - q]
    if len(x) == 0 or len(y) == 0:
        return len(x) + len(y)
    k = max(32, abs(len(x) - len(y)))
    while True:
        d = _banded(x, y, k, check)
        if d <= k or k >= max(len(x), len(y)):
            return d
        k = min(4 * k, max(len(x), len(y)))


def _banded(x: np.ndarray, y: np.ndarray, k: int, check=None) -> int:
    """D[n][m] of the edit-distance table computed only where |i - j| <= k (exact when <= k).

    Row i from row i-1: t_j = min(D[i-1][j] + 1, D[i-1][j-1] + [x_i != y_j]), then
    D[i][j] = min_{l <= j} (t_l + j - l), a running minimum of t_l - l (insertions along the row)."""
    n, m, big = len(x), len(y), np.int64(1 << 40)
    prev, cur = np.full(m + 2, big), np.full(m + 2, big)
    prev[:min(m, k) + 1] = np.arange(min(m, k) + 1)  # row 0: D[0][j] = j
    for i in range(1, n + 1):
        lo, hi = max(0, i - k), min(m, i + k)
        start = max(lo, 1)
        j = np.arange(start, hi + 1)
        t = np.minimum(prev[start:hi + 1] + 1, prev[start - 1:hi] + (y[start - 1:hi] != x[i - 1]))
        run = np.minimum.accumulate(t - j)
        if lo == 0:
            run = np.minimum(run, i)  # from D[i][0] = i
        cur[start:hi + 1] = run + j
        if lo == 0:
            cur[0] = i
        elif lo - 1 >= 0:
            cur[lo - 1] = big
        cur[hi + 1] = big
        prev, cur = cur, prev
        if check is not None and i % CHECK_EVERY == 0:
            check()
    return int(prev[m])
