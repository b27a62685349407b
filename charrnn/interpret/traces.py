"""Activation traces: run a trained model over a text and record, for every character, what every
unit of every layer computed.

    acts (T, U) float32    row t: the activations after reading character t
    units (U, 3) int       column u is unit (layer, kind code, index); kind = KINDS[code]

Kinds per cell (the names of `cells.CELLS[cell].trace`):

    rnn   h
    lstm  h (hidden state), c (cell state), i, f, o (input, forget, output gates)
    gru   h (hidden state), r, z (reset, update gates)

Columns are ordered layer by layer, kind by kind (in the order above), then unit index.
The activations come from `cells.CELLS[cell].forward`, the very code that trains, read back with
its `trace`, one stream (batch 1), time-major, in chunks with the state carried between them.
Layers and unit indices count from 0, as in the checkpoint's parameter names (l0.Wx, l1.Wx, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charrnn.nn.cells import CELLS
from charrnn.interpret.units import CELL_KINDS, KINDS, unit_index
from charrnn.nn.stack import stack_forward, zero_state

CHUNK = 1024  # characters per forward call


@dataclass
class Traces:
    acts: np.ndarray  # (T, U) float32
    units: np.ndarray  # (U, 3) int64: layer, kind code, index
    cell: str
    hidden: int

    def column(self, layer: int, kind: str, index: int) -> int:
        """The column of unit (layer, kind, index) in `acts`."""
        kinds = CELL_KINDS[self.cell]
        return (layer * len(kinds) + kinds.index(kind)) * self.hidden + index

    def label(self, u: int) -> str:
        """Human name of column u, e.g. 'L1 c 37' (layer 1, cell state, unit 37)."""
        layer, code, index = (int(v) for v in self.units[u])
        return f"L{layer} {KINDS[code]} {index}"


def run_traces(params: dict, cfg, ids: np.ndarray, chunk: int = CHUNK, state: list | None = None,
               progress=None) -> Traces:
    """Run the model over ids (T,) from `state` (zeros by default) and collect every activation.

    `progress(done, total)` is called after each chunk, if given.
    """
    cell = CELLS[cfg.cell]
    kinds = CELL_KINDS[cfg.cell]
    H, L, T = cfg.hidden, cfg.layers, len(ids)
    per_layer = len(kinds) * H
    acts = np.empty((T, L * per_layer), dtype=np.float32)
    state = list(state) if state is not None else zero_state(cfg, 1)
    ids = np.asarray(ids, dtype=np.intp)
    for start in range(0, T, chunk):
        x = ids[start: start + chunk, None]  # (Tc, 1) ids, time-major, one stream
        stop = start + len(x)
        _, state, stack = stack_forward(params, cfg, x, state)
        for k, cache in enumerate(stack.layers):
            trace = cell.trace(cache)
            for j, kind in enumerate(kinds):
                col = k * per_layer + j * H
                acts[start:stop, col: col + H] = trace[kind][:, 0, :]
        if progress is not None:
            progress(stop, T)
    return Traces(acts, unit_index(cfg.cell, L, H), cfg.cell, H)
