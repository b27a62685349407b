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

import itertools
from typing import Callable, Iterable, Iterator

import numpy as np

from charrnn.use.stepper import make_stepper
from charrnn.errors import UsageError
from charrnn.options import check
from charrnn.data.tokens import Grammar, Recomposer
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


NOISE_FLOATS = 1 << 18  # Gumbel numbers drawn at once by the sampler (float64: 2 MB)


def noise_rows(V: int) -> int:
    """Rows of V noise numbers the sampler draws at once: _BLOCK, fewer at a large vocabulary."""
    return max(1, min(_BLOCK, NOISE_FLOATS // V))


def _uniforms(rng: np.random.Generator) -> Iterator[float]:
    while True:
        yield from rng.random(_BLOCK).tolist()


def generate(params, cfg, vocab, length: int, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, prime: str = "", rng: np.random.Generator | None = None,
             counts=None, grammar: bool = True, hold=None) -> Iterator[str]:
    """Yield `length` sampled characters after warming the state on `prime` (not yielded).

    `prime` must hold known characters only (see `clean_prime`); `counts` (per vocabulary id,
    optional) picks the start character when there is no prime and no newline; `hold`
    (charrnn.nn.intervene.Holds) holds units at a value at every step (--ablate, --clamp).

    Jamo tokens (vocab.tokens == "jamo"): the tokens are recomposed as they come (`tokens.Recomposer`
    holds back at most one unfinished syllable) and `length` counts the characters written. With
    `grammar` (default) every draw is restricted to the tokens the syllable grammar allows next
    (`tokens.Grammar`): the disallowed logits are set to -inf before temperature, top-k and top-p,
    so the draw is from the model's distribution renormalised over the allowed tokens. A leading
    consonant is always followed by its vowel; the sample ends once `length` characters are
    complete (a syllable L V at the end takes its trailing consonant if the next draw is one).
    """
    check_options(temperature, top_k, top_p, length)
    if vocab.tokens == "chars":
        yield from _draws(params, cfg, vocab, length, temperature, top_k, top_p, prime, rng, counts, None, hold)
        return
    rule = Grammar(vocab.chars) if grammar else None
    rec, n = Recomposer(), 0
    if length <= 0:
        return
    for token in _draws(params, cfg, vocab, None, temperature, top_k, top_p, prime, rng, counts, rule, hold):
        for ch in rec.feed(token):
            yield ch
            n += 1
            if n == length:
                return


def _draws(params, cfg, vocab, length: int | None, temperature: float, top_k, top_p, prime: str, rng,
           counts, rule: "Grammar | None", hold=None) -> Iterator[str]:
    """`length` sampled tokens (None: without end), each drawn as the module docstring says; `rule`
    (a tokens.Grammar, optional) masks the tokens it does not allow next."""
    rng = rng if rng is not None else np.random.default_rng()
    prime = prime or start_char(vocab, counts)
    ids = vocab.encode(prime).tolist()
    st = make_stepper(params, cfg, hold=hold)
    for i in ids[:-1]:
        st.step(i)
    cur, chars, V = ids[-1], vocab.chars, vocab.size
    steps = itertools.count() if length is None else range(length)
    state = rule.state_after_prime(ids) if rule is not None else None

    def logits(cur):
        """The next token's logits, with the grammar's -inf on what it does not allow (a new array)."""
        nonlocal state
        z = st.step(cur)
        return z if rule is None else z + rule.add[state]

    def moved(cur):
        nonlocal state
        if rule is not None:
            state = rule.after(state, cur)
        return chars[cur]

    filtered = (top_k is not None and top_k < V) or (top_p is not None and top_p < 1.0)
    if temperature == 0:  # greedy: no random numbers at all
        for _ in steps:
            cur = int(logits(cur).argmax())
            yield moved(cur)
        return
    us = _uniforms(rng)
    if filtered:
        for _ in steps:
            p = distribution(logits(cur), temperature, top_k, top_p)
            cur = _pick(np.cumsum(p), next(us))
            yield moved(cur)
        return
    # Gumbel-max: argmax(z / T + G) with G ~ Gumbel(0, 1) i.i.d. is an exact draw from softmax(z / T);
    # as argmax(z + T * G) it costs one add and one argmax per character (noise drawn in blocks).
    # With the grammar, z has -inf where it forbids: the argmax is then an exact draw from the
    # renormalised distribution over the allowed tokens. Noise rows come in blocks of at most
    # NOISE_FLOATS numbers (2 MB: at V = 20,000, 13 rows, not 256 rows of 41 MB); the draws are the
    # same numbers in the same order whatever the block.
    w = np.empty(V, dtype=params["Wy"].dtype)
    rows = noise_rows(V)
    blocks = itertools.count(0, rows) if length is None else range(0, length, rows)
    for done in blocks:
        noise = list((rng.gumbel(size=(rows, V)) * temperature).astype(w.dtype))  # rows (V,)
        for i in range(rows if length is None else min(rows, length - done)):
            np.add(st.step(cur), noise[i], out=w)
            if rule is not None:
                np.add(w, rule.add[state], out=w, casting="unsafe")
            cur = int(w.argmax())
            yield moved(cur)


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
