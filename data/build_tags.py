"""Build tagging files (text<TAB>tags, one tag character per text character) from plain text, offline.

    spacing   text with its spaces removed, each character tagged 1 if a space followed it, else 0
              (word-spacing restoration; for Korean a classic task). From a UTF-8 text file, or with
              --stdlib from the docstrings and comments of this interpreter's standard library.
    python    lines of the standard library's source, each character tagged by its token class
              (Python's own tokenize module): k keyword, n name, s string, c comment, d number,
              o operator, _ whitespace and the rest.

    python data/build_tags.py spacing notes.txt spacing.tsv [--width 60]
    python data/build_tags.py spacing --stdlib data/spacing.tsv [--lines 20000] [--test data/spacing-test.tsv]
    python data/build_tags.py python data/pytokens.tsv [--lines 20000] [--test data/pytokens-test.tsv]

--test FILE: the next --test-lines lines (default 1000) after the --lines go there instead (a test
file that shares no line with the training file, from later sources).

Deterministic for a given input (and, for --stdlib and python, a given Python version).
"""

import argparse
import ast
import io
import keyword
import sys
import sysconfig
import tokenize
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_corpus import sources  # noqa: E402  (the same choice of standard-library files)

STDLIB = Path(sysconfig.get_paths()["stdlib"])


# ---------------------------------------------------------------------------------- spacing
def spacing_lines(text: str, width: int = 60):
    """(text without spaces, tags) pieces of at most `width` characters, cut between words."""
    words = text.split()
    piece, tags = "", ""
    for w in words:
        if piece and len(piece) + len(w) > width:
            yield piece, tags[:-1] + "0"  # no space after the piece's last word
            piece, tags = "", ""
        piece += w
        tags += "0" * (len(w) - 1) + "1"
    if piece:
        yield piece, tags[:-1] + "0"


def stdlib_prose():
    """Paragraphs of English prose: the standard library's docstrings (each paragraph joined into
    one line) and comment lines, ASCII only, doctest and indented code blocks left out."""
    for path in sources(STDLIB):
        try:
            src = path.read_bytes().decode("ascii")
            tree = ast.parse(src)
        except (UnicodeDecodeError, OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    for para in doc.split("\n\n"):
                        lines = para.split("\n")
                        if any(s.startswith((" ", ">>>", "...")) for s in lines) or len(para) < 40:
                            continue
                        yield " ".join(s.strip() for s in lines)
        for line in src.split("\n"):
            s = line.strip()
            if s.startswith("# ") and len(s) > 30 and not s.startswith("# ----"):
                yield s[2:]


# ----------------------------------------------------------------------------------- python
def token_class(tok) -> str:
    if tok.type == tokenize.NAME:
        return "k" if keyword.iskeyword(tok.string) else "n"  # soft keywords (match, case, type) are names
    if tok.type == tokenize.STRING or tok.type in STRING_PARTS:
        return "s"
    return {tokenize.COMMENT: "c", tokenize.NUMBER: "d", tokenize.OP: "o"}.get(tok.type, "_")


STRING_PARTS = {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, n)}


def tagged_source(src: str):
    """(line, tags) for every non-blank line of a Python source: each character's token class."""
    lines = src.split("\n")
    tags = [["_"] * len(s) for s in lines]
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        cls = token_class(tok)
        if cls == "_":
            continue
        (r0, c0), (r1, c1) = tok.start, tok.end
        for r in range(r0, r1 + 1):
            row = tags[r - 1]
            for c in range(c0 if r == r0 else 0, c1 if r == r1 else len(row)):
                if c < len(row) and (cls != "s" or row[c] == "_"):  # f-string parts: the inner names win
                    row[c] = cls
    for s, t in zip(lines, tags):
        if s.strip():
            yield s, "".join(t)


def python_lines(max_len: int = 100):
    for path in sources(STDLIB):
        try:
            src = path.read_bytes().decode("ascii")
            pairs = list(tagged_source(src))
        except (UnicodeDecodeError, OSError, SyntaxError, tokenize.TokenError, IndentationError):
            continue
        for s, t in pairs:
            if "\t" in s or "\x0c" in s or len(s) > max_len:
                continue
            yield s, t


# ------------------------------------------------------------------------------------- main
def write(out: Path, rows, aligned: bool = True, limit: int | None = None) -> int:
    """Write text<TAB>tags (aligned: one tag per character) or text<TAB>label lines atomically
    (at most `limit` of them: the rest of `rows` is left for the caller)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for text, tags in rows:
            assert "\t" not in text + tags and (len(text) == len(tags) or not aligned)
            f.write(f"{text}\t{tags}\n")
            n += 1
            if limit is not None and n >= limit:
                break
    tmp.replace(out)
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="task", required=True)
    sp = sub.add_parser("spacing", help="word-spacing restoration")
    sp.add_argument("source", nargs="?", type=Path, help="a UTF-8 text file (or --stdlib)")
    sp.add_argument("out", type=Path)
    sp.add_argument("--stdlib", action="store_true", help="prose from the standard library's docstrings and comments")
    sp.add_argument("--width", type=int, default=60, help="most characters per line of the task (default 60)")
    sp.add_argument("--lines", type=int, default=None, help="stop after this many lines")
    sp.add_argument("--test", type=Path, default=None, help="also a test file of the lines after --lines")
    sp.add_argument("--test-lines", type=int, default=1000)
    py = sub.add_parser("python", help="token classes of the standard library's source lines")
    py.add_argument("out", type=Path)
    py.add_argument("--lines", type=int, default=20000)
    py.add_argument("--test", type=Path, default=None, help="also a test file of the lines after --lines")
    py.add_argument("--test-lines", type=int, default=1000)
    args = ap.parse_args()
    if args.task == "spacing":
        if args.stdlib:
            if args.source is not None:
                ap.error("spacing takes a SOURCE text file or --stdlib, not both")
            paragraphs = stdlib_prose()
            where = f"the docstrings and comments of {STDLIB}"
        else:
            if args.source is None:
                ap.error("spacing needs a SOURCE text file or --stdlib")
            try:
                text = args.source.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                print(f"error: cannot read {args.source}: {e}", file=sys.stderr)
                return 1
            paragraphs = text.split("\n")
            where = str(args.source)

        rows = (r for para in paragraphs for r in spacing_lines(para, args.width) if "\t" not in r[0])
    else:
        rows = python_lines()
        where = f"the sources of {STDLIB}"
    n = write(args.out, rows, limit=args.lines)
    if n:
        print(f"wrote {args.out}: {n:,} lines from {where}", file=sys.stderr)
    if n and args.test is not None:
        print(f"wrote {args.test}: {write(args.test, rows, limit=args.test_lines):,} lines (the ones after "
              f"{args.out}'s)", file=sys.stderr)
    if n == 0:
        print(f"error: no lines made from {where}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
