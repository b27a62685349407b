"""Build the seq2seq demo corpora: pairs files (source<TAB>target per line), offline and deterministic.

    dates:    a date written one of 12 ways ("29 Nov 2026", "November 29, 2026", "2026/11/29",
              "2026년 11월 29일", ...) -> ISO 8601 ("2026-11-29"); dates from 1900 to 2099
    numbers:  a number in digits -> its Sino-Korean reading (123 -> 백이십삼, 10000 -> 만,
              20300 -> 이만삼백); 0 to 99,999,999, the number of digits drawn uniformly

    python data/build_pairs.py dates data/dates.tsv [--pairs 20000] [--seed 0]
    python data/build_pairs.py numbers data/numbers.tsv [--pairs 20000] [--seed 0]
"""

import argparse
import datetime
import random
import sys
from pathlib import Path

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def ordinal(d: int) -> str:
    return f"{d}{'th' if 11 <= d % 100 <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(d % 10, 'th')}"


DATE_FORMATS = [
    lambda y, m, d: f"{d} {MONTHS[m - 1][:3]} {y}",  # 29 Nov 2026
    lambda y, m, d: f"{d} {MONTHS[m - 1]} {y}",  # 29 November 2026
    lambda y, m, d: f"{MONTHS[m - 1]} {d}, {y}",  # November 29, 2026
    lambda y, m, d: f"{MONTHS[m - 1][:3]} {d}, {y}",  # Nov 29, 2026
    lambda y, m, d: f"{MONTHS[m - 1][:3].upper()} {d:02d} {y}",  # NOV 29 2026
    lambda y, m, d: f"{ordinal(d)} {MONTHS[m - 1]} {y}",  # 29th November 2026
    lambda y, m, d: f"{y}/{m:02d}/{d:02d}",  # 2026/11/29
    lambda y, m, d: f"{d:02d}.{m:02d}.{y}",  # 29.11.2026
    lambda y, m, d: f"{m}/{d}/{y}",  # 11/29/2026 (month first, as in the US)
    lambda y, m, d: f"{y}년 {m}월 {d}일",  # 2026년 11월 29일
    lambda y, m, d: f"{y}. {m}. {d}.",  # 2026. 11. 29.
    lambda y, m, d: f"{y}{m:02d}{d:02d}",  # 20261129
]

DIGITS = "영일이삼사오육칠팔구"


def sino_korean(n: int) -> str:
    """The Sino-Korean reading of 0 <= n < 10^8: 123 -> 백이십삼, 10000 -> 만, 20300 -> 이만삼백."""
    if n == 0:
        return DIGITS[0]

    def below_10000(k: int) -> str:
        out = ""
        for value, unit in ((1000, "천"), (100, "백"), (10, "십"), (1, "")):
            digit = k // value % 10
            if digit:
                out += ("" if digit == 1 and unit else DIGITS[digit]) + unit  # 십, not 일십
        return out

    high, low = divmod(n, 10000)
    head = "" if not high else ("" if high == 1 else below_10000(high)) + "만"  # 만, not 일만
    return head + below_10000(low)


def dates(n: int, rng: random.Random):
    first, days = datetime.date(1900, 1, 1), (datetime.date(2099, 12, 31) - datetime.date(1900, 1, 1)).days + 1
    for _ in range(n):
        day = first + datetime.timedelta(days=rng.randrange(days))
        yield rng.choice(DATE_FORMATS)(day.year, day.month, day.day), day.isoformat()


def numbers(n: int, rng: random.Random):
    for _ in range(n):
        digits = rng.randint(1, 8)
        k = rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10 ** digits)
        yield str(k), sino_korean(k)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["dates", "numbers"])
    ap.add_argument("out", type=Path)
    ap.add_argument("--pairs", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.pairs < 1:  # an empty pairs file is refused by every charrnn command that reads one
        ap.error(f"--pairs {args.pairs}: want at least 1 (default 20000)")
    if args.out.is_dir():
        ap.error(f"{args.out} is a directory: give a file name such as {args.out / (args.kind + '.tsv')}")
    rng = random.Random(args.seed)
    make = dates if args.kind == "dates" else numbers
    lines = [f"{s}\t{t}\n" for s, t in make(args.pairs, rng)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(lines), encoding="utf-8")
    print(f"wrote {args.out}: {len(lines):,} pairs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
