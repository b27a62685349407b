"""Line charts in plain text: one mark per series, legible in a terminal and in a pipe alike.

    lines = chart([("lstm", xs, ys), ("gru", xs2, ys2)], width=64, height=14,
                  x_label="step", y_label="val loss (nats/char)")

Each series is drawn with its own mark (`MARKS`), points joined by straight segments; where two
series cross the later one wins the cell. The y axis is labelled at top, middle and bottom, the x
axis at both ends and the middle. Only ASCII, so a pipe or a log file shows the same picture.
"""

from __future__ import annotations

import math

MARKS = "*o+x#@%&"


def _fmt(v: float, span: float) -> str:
    if span >= 100 or abs(v) >= 1e4:
        return f"{v:,.0f}"
    if span >= 1:
        return f"{v:.2f}" if abs(v) < 100 else f"{v:.1f}"
    return f"{v:.3g}"


def chart(series, width: int = 64, height: int = 14, x_label: str = "", y_label: str = "",
          x_format=None) -> list[str]:
    """Text lines of a line chart of `series`: [(name, xs, ys)] with ys None where missing."""
    pts = [(name, [(float(x), float(y)) for x, y in zip(xs, ys)
                   if x is not None and y is not None and math.isfinite(float(y))]) for name, xs, ys in series]
    allx = [x for _, p in pts for x, _ in p]
    ally = [y for _, p in pts for _, y in p]
    if not allx:
        return ["(no validation points to draw)"]
    x0, x1 = min(allx), max(allx)
    y0, y1 = min(ally), max(ally)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    grid = [[" "] * width for _ in range(height)]

    def col(x):
        return min(width - 1, max(0, round((x - x0) / (x1 - x0) * (width - 1))))

    def row(y):
        return min(height - 1, max(0, round((y1 - y) / (y1 - y0) * (height - 1))))

    for k, (_, p) in enumerate(pts):
        mark = MARKS[k % len(MARKS)]
        for (xa, ya), (xb, yb) in zip(p, p[1:]):  # segments: one cell per column between the points
            ca, cb = col(xa), col(xb)
            for c in range(ca, cb + 1):
                t = 0 if cb == ca else (c - ca) / (cb - ca)
                r = row(ya + t * (yb - ya))
                if grid[r][c] == " ":
                    grid[r][c] = "."
        for x, y in p:
            grid[row(y)][col(x)] = mark
    fx = x_format or (lambda v: _fmt(v, x1 - x0))
    labels = {0: _fmt(y1, y1 - y0), height // 2: _fmt((y0 + y1) / 2, y1 - y0), height - 1: _fmt(y0, y1 - y0)}
    pad = max(len(s) for s in labels.values())
    out = [f"{'':>{pad}}  {y_label}"] if y_label else []
    for r in range(height):
        out.append(f"{labels.get(r, ''):>{pad}} |" + "".join(grid[r]).rstrip())
    out.append(f"{'':>{pad}} +" + "-" * width)
    left, mid, right = fx(x0), fx((x0 + x1) / 2), fx(x1)
    axis = [" "] * (width + 2)
    for text, at in ((left, 0), (mid, width // 2 - len(mid) // 2), (right, width + 1 - len(right))):
        for i, ch in enumerate(text):
            if 0 <= at + i < len(axis):
                axis[at + i] = ch
    out.append(f"{'':>{pad}}" + "".join(axis).rstrip())
    if x_label:
        out.append(f"{'':>{pad}}  {x_label:^{width}}".rstrip())
    legend = "   ".join(f"{MARKS[k % len(MARKS)]} {name}" for k, (name, _) in enumerate(pts))
    out.append(f"{'':>{pad}}  {legend}")
    return out
