"""Sampling: feed the model its own output one character at a time.

Each step (as in nanoGPT's generate): run the one-step function, scale the logits by
1/temperature, keep the top-k / top-p (nucleus) candidates, softmax, draw one character with
the injected `np.random.Generator`, feed it back. Temperature 0 is greedy argmax.

The inner loop runs `stepper.Stepper` (fused, preallocated one-stream step: same numbers as
the chunk forward). Drawing, on the plain path (no top-k / top-p), uses the Gumbel-max trick:
argmax(z + T * G), G a row of V standard Gumbel numbers, is an exact draw from softmax(z / T);
the noise is drawn in blocks of 256 rows, so each character costs one add into a reused buffer
and one argmax, no softmax, no allocation. With top-k / top-p, `distribution` builds the
restricted probabilities and one uniform number picks the character by inverse CDF (`draw`).
Random numbers are consumed in order, one row (or one uniform) per character, so the first n
characters for a seed do not depend on --length, and tiny temperatures tend to argmax.

Without a prime the state is warmed on one start character (`start_char`): a newline if the
vocabulary has one, else the most frequent character of the training text (`char_counts` in
the checkpoint metadata), else the first character of the vocabulary. The start character
is not part of the output; a prime is not either (the CLI echoes it).
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

from charrnn.use.stepper import make_stepper
from charrnn.errors import UsageError
from charrnn.options import check
from charrnn.data.vocab import describe

_BLOCK = 256  # uniform numbers drawn per call of rng.random


def check_options(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                  length: int = 0, num_samples: int = 1, seed: int | None = None) -> None:
    """UsageError (exit 2) naming the option for any value outside its range (`options.check`)."""
    for key, value in (("temp", temperature), ("top_k", top_k), ("top_p", top_p), ("length", length),
                       ("num_samples", num_samples), ("sample_seed", seed)):
        check(key, value)


def distribution(logits: np.ndarray, temperature: float, top_k: int | None = None,
                 top_p: float | None = None) -> np.ndarray:
    """Probabilities (V,) float64 after temperature, top-k and top-p; temperature 0 -> one-hot argmax.

    top-k keeps the k largest logits (ties at the k-th value are all kept); top-p keeps the
    smallest set of most likely characters whose mass reaches p (at least one).
    """
    z = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        p = np.zeros_like(z)
        p[int(np.argmax(z))] = 1.0
        return p
    with np.errstate(over="ignore"):  # a tiny temperature sends all but the best to -inf: the greedy limit
        z = (z - z.max()) / temperature  # max 0, so never inf - inf
    if top_k is not None and top_k < z.size:
        kth = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= kth, z, -np.inf)
    p = np.exp(z)
    p /= p.sum()
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p)) + 1]  # smallest set with mass >= top_p
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return p


def draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """Index drawn from probabilities `p` with one uniform number (inverse CDF)."""
    return _pick(np.cumsum(p, dtype=np.float64), rng.random())


def _pick(cum: np.ndarray, u: float) -> int:
    """Index i with cum[i-1] <= u * total < cum[i]: unnormalised weights are fine; never a zero-weight index."""
    return int(min(cum.searchsorted(u * cum[-1], side="right"), cum.size - 1))


def start_char(vocab, counts=None) -> str:
    """Where an unprimed sample starts: a newline if the vocabulary has one, else the most frequent character."""
    if "\n" in vocab:
        return "\n"
    if counts is not None and len(counts) == vocab.size:
        return vocab.chars[int(np.argmax(counts))]
    return vocab.chars[0]


def clean_prime(vocab, prime: str, skip_unknown: bool = False,
                warn: Callable[[str], None] | None = None) -> str:
    """The prime with only known characters: unknown ones are an error (exit 2) listing them, or,
    with `skip_unknown`, removed with a warning."""
    k = vocab.known(prime)
    if not k.dropped:
        return prime
    if not skip_unknown:
        raise UsageError(f"--prime has {len(k.unknown)} character(s) the model does not know: {describe(k.unknown)}",
                         hint="change the prime, or pass --skip-unknown to drop those characters")
    if warn is not None:
        warn(k.message("skipped", "prime character(s)"))
    return vocab.decode(k.ids)


def _uniforms(rng: np.random.Generator) -> Iterator[float]:
    while True:
        yield from rng.random(_BLOCK).tolist()


def generate(params, cfg, vocab, length: int, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, prime: str = "", rng: np.random.Generator | None = None,
             counts=None, hold=None) -> Iterator[str]:
    """Yield `length` sampled characters after warming the state on `prime` (not yielded).

    `prime` must hold known characters only (see `clean_prime`); `counts` (per vocabulary id,
    optional) picks the start character when there is no prime and no newline; `hold`
    (charrnn.nn.intervene.Holds) holds units at a value at every step (--ablate, --clamp).
    """
    check_options(temperature, top_k, top_p, length)
    rng = rng if rng is not None else np.random.default_rng()
    prime = prime or start_char(vocab, counts)
    ids = vocab.encode(prime).tolist()
    st = make_stepper(params, cfg, hold=hold)
    for i in ids[:-1]:
        st.step(i)
    cur, chars, V = ids[-1], vocab.chars, vocab.size
    filtered = (top_k is not None and top_k < V) or (top_p is not None and top_p < 1.0)
    if temperature == 0:  # greedy: no random numbers at all
        for _ in range(length):
            cur = int(st.step(cur).argmax())
            yield chars[cur]
        return
    us = _uniforms(rng)
    if filtered:
        for _ in range(length):
            p = distribution(st.step(cur), temperature, top_k, top_p)
            cur = _pick(np.cumsum(p), next(us))
            yield chars[cur]
        return
    # Gumbel-max: argmax(z / T + G) with G ~ Gumbel(0, 1) i.i.d. is an exact draw from softmax(z / T);
    # as argmax(z + T * G) it costs one add and one argmax per character (noise drawn in blocks).
    w = np.empty(V, dtype=params["Wy"].dtype)
    for done in range(0, length, _BLOCK):
        noise = list((rng.gumbel(size=(_BLOCK, V)) * temperature).astype(w.dtype))  # rows (V,)
        for i in range(min(_BLOCK, length - done)):
            np.add(st.step(cur), noise[i], out=w)
            cur = int(w.argmax())
            yield chars[cur]


def stream(chars: Iterable[str], write: Callable[[str], object], flush: Callable[[], object],
           every: int = 64) -> str:
    """Write characters as they come, flushing after each newline and at least every `every`
    characters; returns the last character written ('' if none)."""
    buf, last = [], ""
    for ch in chars:
        buf.append(ch)
        if ch == "\n" or len(buf) >= every:
            write("".join(buf))
            flush()
            buf.clear()
        last = ch
    if buf:
        write("".join(buf))
        flush()
    return last
