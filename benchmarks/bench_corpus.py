"""Corpus encoding speed and memory: load_corpus on a large text, cold (cache build) and warm (cache hit).

    python benchmarks/bench_corpus.py [--mb 200] [--kind shakespeare|mixed] [--keep DIR]

Builds a text of about --mb megabytes in a temporary directory (tiny-shakespeare repeated, or
synthetic mixed ASCII + Korean + emoji), then times `load_corpus` twice with a fresh cache
directory: the first call hashes, builds the vocabulary and encodes into the memory-mapped
`.npy` cache; the second finds the cache (it still hashes the file to check the key).
Peak RSS (resource.getrusage) shows memory stays bounded, far below the text size.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from charrnn.data.corpus import load_corpus

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
REQUIRED_MB_S = 50.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def make_text(path: Path, mb: int, kind: str) -> int:
    """Write about `mb` MB of text to `path` in pieces (bounded memory); returns the byte count."""
    if kind == "shakespeare" and SHAKESPEARE.exists():
        piece = SHAKESPEARE.read_bytes()
    else:
        rng = np.random.default_rng(0)
        words = ["the", "quick", "brown", "fox", "def", "return", "(x)", "{}", "안녕하세요", "세계", "한국어",
                 "텍스트", "😀", "naïve", "café", "\n", "\r\n", "\t"]
        piece = " ".join(rng.choice(words, size=200_000)).encode("utf-8")
    target, written = mb * 1_000_000, 0
    with open(path, "wb") as f:
        while written + len(piece) <= target:
            f.write(piece)
            written += len(piece)
        # the rest, cut at a character boundary (never inside a multibyte character)
        f.write(piece[: target - written].decode("utf-8", "ignore").encode("utf-8"))
    return path.stat().st_size


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200, help="size of the text in MB (default 200)")
    ap.add_argument("--kind", choices=["shakespeare", "mixed"], default="shakespeare")
    ap.add_argument("--keep", type=Path, default=None, help="build the text here instead of a temp dir")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
        tmp = Path(tmp)
        text = tmp / "big.txt"
        t0 = time.perf_counter()
        size = make_text(text, args.mb, args.kind)
        mb = size / 1e6
        print(f"text: {mb:,.1f} MB ({args.kind}) written in {time.perf_counter() - t0:.1f}s; "
              f"rss after writing {peak_rss_mb():,.0f} MB", file=sys.stderr)
        rows = []
        for label in ("cold (hash + vocab + encode into cache)", "warm (hash + cache hit)"):
            t0 = time.perf_counter()
            c = load_corpus(text, cache_dir=tmp / "cache")
            dt = time.perf_counter() - t0
            rows.append((label, dt, mb / dt))
            print(f"{label:42s} {dt:7.2f}s {mb / dt:8.1f} MB/s  peak RSS {peak_rss_mb():,.0f} MB  "
                  f"({c.n_chars:,} chars, vocab {c.vocab.size}, ids {c.ids.dtype}, "
                  f"{type(c.ids).__name__})", file=sys.stderr)
        del c
    cold = rows[0][2]
    verdict = "OK" if cold >= REQUIRED_MB_S else "TOO SLOW"
    print(f"encoding speed {cold:.1f} MB/s cold, {rows[1][2]:.1f} MB/s warm "
          f"(required >= {REQUIRED_MB_S:.0f} MB/s): {verdict}; peak RSS {peak_rss_mb():,.0f} MB for a "
          f"{mb:,.0f} MB text")
    return 0 if cold >= REQUIRED_MB_S else 1


if __name__ == "__main__":
    sys.exit(main())
