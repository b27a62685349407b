"""Build data/python-stdlib.txt: the demo corpus, from this interpreter's standard-library sources.

Offline and deterministic for a given Python version: the pure-ASCII `.py` files of the standard
library (tests, bundled third-party code and codec tables left out), in sorted path order, each
preceded by a `# ---- path ----` line, until the text reaches --max-mb megabytes.

    python data/build_corpus.py data/python-stdlib.txt [--max-mb 5]
"""

import argparse
import os
import sys
import sysconfig
from pathlib import Path

SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages", "__pycache__",
             "encodings", "ensurepip", "turtledemo", "config-3", "pydoc_data"}


def sources(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("config-"))
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield Path(dirpath) / name


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--max-mb", type=float, default=5.0)
    args = ap.parse_args()
    root = Path(sysconfig.get_paths()["stdlib"])
    limit = int(args.max_mb * 1e6)
    parts, size, files = [], 0, 0
    for path in sources(root):
        try:
            text = path.read_bytes().decode("ascii")
        except (UnicodeDecodeError, OSError):
            continue  # keep the vocabulary to ASCII
        text = text.replace("\r\n", "\n")
        if not text.strip() or "\x0c" in text:
            continue
        part = f"# ---- {path.relative_to(root).as_posix()} ----\n{text.rstrip()}\n\n"
        parts.append(part)
        size, files = size + len(part), files + 1
        if size >= limit:
            break
    if not parts:
        print(f"error: no Python sources found under {root}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text("".join(parts), encoding="utf-8")
    tmp.replace(args.out)
    print(f"wrote {args.out}: {size / 1e6:.1f} MB from {files} files of {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
