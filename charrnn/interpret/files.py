"""The files `charrnn inspect-cells` writes (each checked before any work, written atomically):
the raw traces (--dump). The checks and the atomic write are charrnn.outputs'.

Dump layout (`write_dump`, one .npz, loads with np.load(path, allow_pickle=False)):

    activations   (T, U) float32  activation of unit u after reading character t
    text          (T,) uint32     the characters, as Unicode code points
                                  (''.join(map(chr, text)) gives the text back)
    units         (U, 3) int64    column u is (layer, kind code, index), layers and units from 0
    kinds         (7,) str        kind names by code: h, c, i, f, o, r, z
                                  (h hidden state, c LSTM cell state, i f o LSTM gates, r z GRU gates)
    probes        (P,) str        probe names, in the order of the columns of r
    probe/<name>  (T,) float64    each probe's signal (see charrnn.interpret.probes)
    r             (U, P) float64  Pearson r of every unit with every probe
"""

from __future__ import annotations

import numpy as np

from charrnn.outputs import check_output, write_output  # noqa: F401 (check_output: for the commands)

write_atomic = write_output  # (the name the commands import: one atomic write, charrnn.outputs)
from charrnn.interpret.units import KINDS
from charrnn.data.vocab import code_points


def write_dump(path, a) -> None:
    """Write the raw traces (layout in the module docstring), atomically."""
    arrays = {
        "activations": a.traces.acts.astype(np.float32, copy=False),
        "text": np.asarray(code_points(a.text), dtype=np.uint32),
        "units": a.traces.units.astype(np.int64),
        "kinds": np.array(KINDS),
        "probes": np.array(a.names, dtype=str) if a.names else np.zeros(0, dtype="<U1"),
        "r": a.r,
    }
    for name in a.names:
        arrays[f"probe/{name}"] = a.signals[name]
    # a file object: np.savez adds no .npz suffix of its own
    write_output(path, lambda f: np.savez(f, **arrays), "--dump")
