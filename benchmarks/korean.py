"""Jamo against chars on Korean text: held-out loss per original character, and the share of
sampled syllables that are valid with and without the syllable grammar (docs/BENCHMARKS.md).

    python benchmarks/korean.py --jamo r3-jamo/best.npz --chars r3-chars/best.npz --test test.txt

(The two checkpoints are trained by the commands in docs/BENCHMARKS.md, at the same time so that
they share the machine's load.) Prints a Markdown table of the held-out figures, then the
validity of N samples of L characters per temperature (jamo model, grammar on and off), then one
sample with the grammar at temperature 0.8.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import charrnn
from charrnn.data.tokens import syllable_counts
from charrnn.use.sample import generate


def held_out(path: Path, test: Path) -> dict:
    m = charrnn.load(path)
    r = m.evaluate_file(test)
    return {"run": str(path), "tokens": r.tokens, "nats/char": r.nats_per_char, "nats/token": r.nats_per_token,
            "chars scored": r.chars, "tokens scored": r.token_count, "skipped": r.skipped,
            "step": m.meta.get("step"), "params": m.info()["parameters"], "vocab": m.vocab.size}


def validity(m, n: int, length: int, temperature: float, grammar: bool, seed: int = 0) -> tuple[int, int]:
    """(valid syllables, stray jamo) over n samples of `length` characters."""
    syl = stray = 0
    for k in range(n):
        text = "".join(generate(m.params, m.cfg, m.vocab, length, temperature=temperature,
                                rng=np.random.default_rng([seed, k]), grammar=grammar))
        s, j = syllable_counts(text)
        syl, stray = syl + s, stray + j
    return syl, stray


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jamo", type=Path, required=True)
    ap.add_argument("--chars", type=Path)
    ap.add_argument("--test", type=Path, required=True, help="held-out Korean text")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--length", type=int, default=1000)
    ap.add_argument("--prime", default="대화 상자를 ")
    args = ap.parse_args()
    rows = [held_out(p, args.test) for p in (args.jamo, args.chars) if p is not None]
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
                                for v in r.values()) + " |")
    m = charrnn.load(args.jamo)
    print(f"\nSampled syllables that are valid ({args.samples} samples x {args.length} characters, no prime):\n")
    print("| temperature | grammar | valid syllables | stray jamo | valid share |\n|---|---|---|---|---|")
    for t in (0.8, 1.0):
        for grammar in (True, False):
            syl, stray = validity(m, args.samples, args.length, t, grammar)
            print(f"| {t:g} | {'on' if grammar else 'off'} | {syl:,} | {stray:,} | {syl / max(1, syl + stray):.1%} |")
    text = m.sample(400, temperature=0.8, prime=args.prime, seed=1)
    print(f"\nSample (--prime {args.prime!r} --temp 0.8 --seed 1):\n\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
