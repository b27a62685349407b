"""CLI verb inspect-cells: find and show the hidden units that track quotes, line length and more."""

from __future__ import annotations

from charrnn.cli import app, fail, handled


@app.command("inspect-cells")
@handled
def inspect_cells():
    """Find and show the hidden units that track quotes, line length and more (not built yet)."""
    fail("`charrnn inspect-cells` is not built yet", code=1)
