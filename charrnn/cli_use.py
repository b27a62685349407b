"""CLI verbs that use a trained model: sample, evaluate, info (bodies in the library)."""

from __future__ import annotations

from charrnn.cli import app, fail, handled


@app.command()
@handled
def sample():
    """Generate text from a trained model (not built yet)."""
    fail("`charrnn sample` is not built yet", code=1)
