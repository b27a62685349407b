"""inspect-cells as a library call: traces + probes + correlations (`analyse`) and its JSON form.
The files it writes (--dump, --html): files.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from charrnn.interpret import probes as probes_mod
from charrnn.interpret.rank import correlate, ranking, saturation
from charrnn.interpret.traces import Traces, run_traces
from charrnn.interpret.units import KINDS


@dataclass
class Analysis:
    text: str
    traces: Traces
    names: list[str]  # probe names
    signals: dict[str, np.ndarray]  # name -> (T,)
    r: np.ndarray  # (U, P)
    top: list[dict] = field(default_factory=list)  # ranking rows: probe, rank, unit, label, r
    saturation: list[dict] = field(default_factory=list)
    constant: list[str] = field(default_factory=list)  # probes that never vary in the text (no r)


def analyse(trained, text: str, probe_names, top: int = 3, progress=None) -> Analysis:
    """Run the model over `text` (characters of its vocabulary) and rank units against the probes.

    Only states (h, and c for an LSTM) are ranked; gates go into the saturation summary.
    """
    names = probes_mod.check_names(probe_names)
    ids = trained.vocab.encode(text)
    traces = run_traces(trained.params, trained.cfg, ids, progress=progress)
    signals = probes_mod.compute(text, names)
    matrix = np.stack([signals[n] for n in names], axis=1) if names else np.zeros((len(text), 0))
    r = correlate(traces.acts, matrix)
    states = np.isin(traces.units[:, 1], [KINDS.index("h"), KINDS.index("c")])
    constant = [n for n in names if np.ptp(signals[n]) == 0]
    ranked = [n for n in names if n not in constant]
    rows = ranking(r[:, [names.index(n) for n in ranked]], ranked, traces.label, top, allowed=states)
    return Analysis(text, traces, names, signals, r, rows, saturation(traces.acts, traces.units), constant)


def to_json(a: Analysis, checkpoint: str) -> dict:
    """The ranking and saturation summary as plain JSON-able data."""
    return {
        "checkpoint": checkpoint, "cell": a.traces.cell, "n_chars": len(a.text),
        "top_units": [{"probe": row["probe"], "rank": row["rank"], "unit": row["label"],
                       "layer": int(a.traces.units[row["unit"], 0]), "kind": KINDS[a.traces.units[row["unit"], 1]],
                       "index": int(a.traces.units[row["unit"], 2]), "r": round(row["r"], 6)} for row in a.top],
        "constant_probes": a.constant,
        "saturation": [{k: v for k, v in row.items() if not k.endswith("_per_unit")} for row in a.saturation],
    }
