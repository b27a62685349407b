"""Units by name. Column u of a trace is the unit (layer, kind, index); kinds per cell:

    rnn   h
    lstm  h (hidden state), c (cell state), i, f, o (input, forget, output gates)
    gru   h (hidden state), r, z (reset, update gates)

On the command line a unit is LAYER:KIND:INDEX (e.g. 1:c:37), layers and units counting from 0.
"""

from __future__ import annotations

import re

import numpy as np

from charrnn.nn.cells import CELLS
from charrnn.errors import UsageError

KINDS = ("h", "c", "i", "f", "o", "r", "z")  # kind codes: KINDS.index(kind), fixed for every cell
CELL_KINDS = {name: cell.kinds for name, cell in CELLS.items()}  # (from the registry)
GATE_KINDS = tuple(dict.fromkeys(g for cell in CELLS.values() for g in cell.gate_order[:-1]))  # sigmoid gates


def unit_index(cell: str, layers: int, hidden: int) -> np.ndarray:
    """(U, 3) int64 rows (layer, kind code, index) in column order."""
    rows = [(k, KINDS.index(kind), j) for k in range(layers) for kind in CELL_KINDS[cell] for j in range(hidden)]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


_UNIT = re.compile(r"^[Ll]?(\d+):([a-z]):(\d+)$")


def parse_unit(spec: str, cell: str | None = None, layers: int | None = None, hidden: int | None = None):
    """'LAYER:KIND:INDEX' (e.g. '1:c:37' or 'L1:c:37') -> (layer, kind, index), checked against the model."""
    m = _UNIT.match(spec.strip())
    if not m:
        raise UsageError(f"invalid --unit {spec!r}: expected LAYER:KIND:INDEX, e.g. 1:c:37",
                         hint="KIND is one of " + ", ".join(KINDS) + "; layers and units count from 0")
    layer, kind, index = int(m[1]), m[2], int(m[3])
    if kind not in KINDS:
        raise UsageError(f"invalid --unit {spec!r}: unknown kind {kind!r}", hint="use one of " + ", ".join(KINDS))
    if cell is not None and kind not in CELL_KINDS[cell]:
        raise UsageError(f"invalid --unit {spec!r}: a {cell} has no {kind!r} activations",
                         hint=f"a {cell} has " + ", ".join(CELL_KINDS[cell]))
    if layers is not None and layer >= layers:
        have = "only layer 0" if layers == 1 else f"layers 0..{layers - 1}"
        raise UsageError(f"invalid --unit {spec!r}: the model has {have}",
                         hint=_unit_hint(cell, layers, hidden))
    if hidden is not None and index >= hidden:
        raise UsageError(f"invalid --unit {spec!r}: each layer has units 0..{hidden - 1}",
                         hint=_unit_hint(cell, layers, hidden))
    return layer, kind, index


def _unit_hint(cell, layers, hidden) -> str:
    """'units of this model are LAYER:KIND:INDEX with LAYER 0..1, KIND h, c, i, f or o, INDEX 0..127, e.g. 1:c:0'."""
    kinds = CELL_KINDS[cell] if cell is not None else KINDS
    def upto(n):
        return "from 0" if n is None else "0" if n == 1 else f"0..{n - 1}"

    layer, index = f"LAYER {upto(layers)}", f"INDEX {upto(hidden)}"
    last = layers - 1 if layers is not None else 0
    return (f"units of this model are LAYER:KIND:INDEX with {layer}, KIND {', '.join(kinds[:-1])}"
            f"{' or ' if len(kinds) > 1 else ''}{kinds[-1]}, {index}; e.g. {last}:{kinds[min(1, len(kinds) - 1)]}:0")


