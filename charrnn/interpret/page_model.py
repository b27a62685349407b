"""The model inside the inspect-cells page: its weights, embedded for the page's own forward pass
(`page_engine.ENGINE`), so the learner can type a text and watch the units, sample, and clamp or
ablate a unit.

Layout: every parameter of the checkpoint (names and shapes as in `charrnn.tasks.lm`: l{k}.Wx,
l{k}.Wh, l{k}.b, Wy, by), float32 little-endian, concatenated in the order of `params` below and
written in base 64 (33 % more than the bytes). `model` is the JSON the page reads:

    cell, layers, hidden   the architecture
    gates                  gate blocks in the order they sit in Wx, Wh and b (cells.CELLS registry)
    kinds                  what each layer reports per unit, in the column order of --dump's
                           `activations` (units.CELL_KINDS)
    vocab                  the characters, by id
    params                 name -> {shape, off (in floats), size}
    start                  the character an unprimed sample starts from (use.sample.start_char)

Limit: MAX_BYTES of float32 weights (8 MB: 2 million parameters; a 2 x 512 LSTM over 100
characters has 3.4 million). Above it, `model` is {"off": why} and the page says why its live
panel is off: the page would be too heavy to open, and a forward pass in JavaScript too slow
to follow typing.
"""

from __future__ import annotations

import base64

import numpy as np

from charrnn.interpret.units import CELL_KINDS
from charrnn.nn.cells import CELLS

MAX_BYTES = 8 << 20  # float32 weights embedded at most (the page's live panel is off above)


def embed(cfg, params: dict, vocab, start: str = "", limit: int | None = None) -> tuple[dict, str]:
    """(model JSON, base-64 weights) for the page; ({"off": reason}, "") above `limit` bytes
    (default MAX_BYTES)."""
    limit = MAX_BYTES if limit is None else limit
    names = [f"l{k}.{w}" for k in range(cfg.layers) for w in ("Wx", "Wh", "b")] + ["Wy", "by"]
    size = sum(int(params[n].size) for n in names)
    if 4 * size > limit:
        return {"off": f"the model has {size:,} parameters ({4 * size / 2**20:.1f} MB as float32), more than the "
                       f"{limit / 2**20:g} MB a page embeds (charrnn.interpret.page_model.MAX_BYTES): the live "
                       f"panel would make the page too heavy to open and too slow to follow typing"}, ""
    entries, chunks, off = {}, [], 0
    for n in names:
        w = np.ascontiguousarray(params[n], dtype="<f4")
        entries[n] = {"shape": list(w.shape), "off": off, "size": int(w.size)}
        chunks.append(w.tobytes())
        off += int(w.size)
    model = {"cell": cfg.cell, "layers": cfg.layers, "hidden": cfg.hidden, "gates": list(CELLS[cfg.cell].gate_order),
             "kinds": list(CELL_KINDS[cfg.cell]), "vocab": list(vocab), "params": entries,
             "start": start or (list(vocab)[0] if len(vocab) else "")}
    return model, base64.b64encode(b"".join(chunks)).decode("ascii")
