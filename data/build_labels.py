"""Build the classification demo (text<TAB>label per line), offline and deterministic for a Python version.

    packages  one line of the standard library's source, labelled by the package it comes from
              (asyncio, email, xml, ...): the PACKAGES packages with the most lines, at most
              --per-label lines each; leading whitespace stripped; lines shorter than --min-len
              characters, and lines found in more than one package, left out; shuffled with --seed
              (the validation split of `charrnn train` is the file's last lines)

              --test FILE: also a test file of --test-per-label other lines per package (never in OUT)

    python data/build_labels.py packages data/packages.tsv [--labels 8] [--per-label 4000] [--seed 0]
                                [--test data/packages-test.tsv] [--test-per-label 150]
"""

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_corpus import sources  # noqa: E402  (the same choice of standard-library files)
from build_tags import STDLIB, write  # noqa: E402


def package_lines(min_len: int, max_len: int = 100) -> dict:
    """{package: [distinct stripped lines]} for every package (a directory) of the standard library."""
    found = defaultdict(dict)
    for path in sources(STDLIB):
        rel = path.relative_to(STDLIB).parts
        if len(rel) < 2:
            continue  # a single-file module: no package
        try:
            text = path.read_bytes().decode("ascii")
        except (UnicodeDecodeError, OSError):
            continue
        for line in text.split("\n"):
            s = line.strip()
            if min_len <= len(s) <= max_len and "\t" not in s and "\x0c" not in s:
                found[rel[0]][s] = None
    owners = defaultdict(set)
    for pkg, lines in found.items():
        for s in lines:
            owners[s].add(pkg)
    return {pkg: [s for s in lines if len(owners[s]) == 1] for pkg, lines in found.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="task", required=True)
    p = sub.add_parser("packages", help="a source line -> its standard-library package")
    p.add_argument("out", type=Path)
    p.add_argument("--labels", type=int, default=8, help="the packages with the most lines (default 8)")
    p.add_argument("--per-label", type=int, default=4000, help="most lines per package (default 4000)")
    p.add_argument("--min-len", type=int, default=16, help="shortest line kept (default 16 characters)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test", type=Path, default=None, help="also write a test file of other lines")
    p.add_argument("--test-per-label", type=int, default=150, help="test lines per package (default 150)")
    args = ap.parse_args()
    lines = package_lines(args.min_len)
    biggest = sorted(lines, key=lambda k: (-len(lines[k]), k))[:args.labels]
    if not biggest:
        print(f"error: no packages found under {STDLIB}", file=sys.stderr)
        return 1
    rng = random.Random(args.seed)
    rows, test = [], []
    held = args.test_per_label if args.test is not None else 0
    for pkg in sorted(biggest):
        chosen = sorted(lines[pkg])
        rng.shuffle(chosen)
        test += [(s, pkg) for s in chosen[:held]]
        rows += [(s, pkg) for s in chosen[held:held + args.per_label]]
    rng.shuffle(rows)
    rng.shuffle(test)
    n = write(args.out, rows, aligned=False)
    if args.test is not None:
        print(f"wrote {args.test}: {write(args.test, test, aligned=False):,} lines (none of them in {args.out})",
              file=sys.stderr)
    counts = ", ".join(f"{pkg} {sum(1 for _, y in rows if y == pkg)}" for pkg in sorted(biggest))
    print(f"wrote {args.out}: {n:,} lines from {STDLIB} ({counts})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
