"""Build data/korean-help.txt: a plain-text Korean corpus from the LibreOffice help in Korean.

Offline (no network beyond the distribution's own package mirror): the HTML pages of Debian's
package libreoffice-help-ko, from an installed copy (/usr/share/libreoffice/help/ko) or else from
the package fetched with `apt-get download` and unpacked with `dpkg-deb -x` (no root needed, nothing
installed). Each page's help text (its DisplayArea, without scripts and styles), in sorted path
order: headings and paragraphs one per line, pages separated by a blank line; pages that are
mostly untranslated (under MIN_HANGUL Hangul) are left out. Korean with English names, menu
paths and code in between, as technical Korean is written.

    python data/build_korean.py data/korean-help.txt [--max-mb 4]

When neither source works it prints one line saying why and exits 1.
"""

from __future__ import annotations

import argparse
import html.parser
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

INSTALLED = Path("/usr/share/libreoffice/help/ko")
PACKAGE = "libreoffice-help-ko"
MIN_HANGUL = 0.3  # a page is kept when at least this share of its characters are Hangul syllables
BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "div", "br", "pre", "table", "td", "th"}


class _Text(html.parser.HTMLParser):
    """The text inside <div id="DisplayArea">, a line per block element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth, self.skip, self.parts = 0, 0, []  # depth: open divs inside DisplayArea

    def handle_starttag(self, tag, attrs):
        if self.depth == 0:
            if tag == "div" and dict(attrs).get("id") == "DisplayArea":
                self.depth = 1
            return
        if tag == "div":
            self.depth += 1
        if tag in ("script", "style"):
            self.skip += 1
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if self.depth == 0:
            return
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        if tag in BLOCKS:
            self.parts.append("\n")
        if tag == "div":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.parts.append(data)


def hangul_share(text: str) -> float:
    """Hangul syllables over the characters that are not spaces."""
    n = sum(1 for c in text if not c.isspace())
    return sum(1 for c in text if "\uac00" <= c <= "\ud7a3") / n if n else 0.0


def page_text(markup: str) -> str:
    p = _Text()
    p.feed(markup)
    lines = (re.sub(r"[ \t\r\f\v\u00a0]+", " ", line).strip() for line in "".join(p.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def help_dir(work: Path) -> Path:
    """The Korean help's directory: the installed one, else the package unpacked into `work`."""
    if INSTALLED.is_dir() and any(INSTALLED.rglob("*.html")):
        return INSTALLED
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise SystemExit(f"error: {PACKAGE} is not installed and {tool} is missing (not a Debian-like "
                             f"system): install {PACKAGE}, or give any Korean UTF-8 text to charrnn train")
    got = subprocess.run(["apt-get", "download", PACKAGE], cwd=work, capture_output=True, text=True)
    debs = sorted(work.glob(f"{PACKAGE}_*.deb"))
    if got.returncode != 0 or not debs:
        why = (got.stderr.strip().splitlines() or ["no .deb was written"])[-1]
        raise SystemExit(f"error: could not fetch {PACKAGE} with apt-get download ({why}); "
                         f"run apt-get update, or install {PACKAGE}")
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(work / "x")], check=True, capture_output=True)
    found = work / "x" / "usr/share/libreoffice/help/ko"
    if not found.is_dir():
        raise SystemExit(f"error: {debs[-1].name} holds no usr/share/libreoffice/help/ko")
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--max-mb", type=float, default=4.0, help="stop once the text reaches this many MB")
    args = ap.parse_args()
    limit = int(args.max_mb * 1e6)
    with tempfile.TemporaryDirectory(prefix="build-korean-") as tmp:
        root = help_dir(Path(tmp))
        pages, size = [], 0
        for path in sorted(root.rglob("*.html")):
            text = page_text(path.read_text(encoding="utf-8", errors="replace"))
            if hangul_share(text) < MIN_HANGUL:  # untranslated pages (English only) are left out
                continue
            pages.append(text)
            size += len(text.encode("utf-8")) + 2
            if size >= limit:
                break
    if not pages:
        print(f"error: no help text found under {root}", file=sys.stderr)
        return 1
    text = "\n\n".join(pages) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp_out.write_text(text, encoding="utf-8")
    tmp_out.replace(args.out)
    hangul = sum(1 for c in text if "\uac00" <= c <= "\ud7a3")
    print(f"wrote {args.out}: {len(pages):,} pages, {len(text):,} characters ({hangul:,} Hangul syllables, "
          f"{len(set(text)):,} distinct characters) from {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            sys.exit(1)
        raise
