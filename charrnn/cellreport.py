"""inspect-cells as a library call: traces + probes + correlations, and the files it writes.

Dump layout (`write_dump`, one .npz, loads with np.load(path, allow_pickle=False)):

    activations   (T, U) float32  activation of unit u after reading character t
    text          (T,) uint32     the characters, as Unicode code points
                                  (''.join(map(chr, text)) gives the text back)
    units         (U, 3) int64    column u is (layer, kind code, index), layers and units from 0
    kinds         (7,) str        kind names by code: h, c, i, f, o, r, z
                                  (h hidden state, c LSTM cell state, i f o LSTM gates, r z GRU gates)
    probes        (P,) str        probe names, in the order of the columns of r
    probe/<name>  (T,) float64    each probe's signal (see charrnn.probes)
    r             (U, P) float64  Pearson r of every unit with every probe
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charrnn import probes as probes_mod
from charrnn.checkpoint import atomic_write
from charrnn.errors import CharRNNError, UsageError
from charrnn.rank import correlate, ranking, saturation
from charrnn.traces import KINDS, Traces, run_traces
from charrnn.vocab import code_points


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


def check_output(path, option: str, example: str = "out") -> Path:
    """`path` if a file can be written there (UsageError naming `option` otherwise): it is not a
    directory, and its directory exists and is writable. Called before any work is done."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path} is a directory, not a file",
                         hint=f"give a file name, e.g. {option} {path / example}")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"{option} {path}: {parent} is not a directory", hint="pick another path")
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: the directory {parent} does not exist",
                         hint=f"create it first (mkdir -p {parent}), or pick another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot write in the directory {parent} (permission denied)",
                         hint="pick a directory you can write to")
    return path


def write_atomic(path, write, option: str = "") -> None:
    """checkpoint.atomic_write for --html / --dump, with a one-line error naming the option."""
    try:
        atomic_write(Path(path), write)
    except OSError as e:  # e.g. the disk is full
        raise CharRNNError(f"cannot write {option + ' ' if option else ''}{path}: {e.strerror or e}",
                           hint="check the free space and permissions there") from None


def write_dump(path, a: Analysis) -> None:
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
    write_atomic(path, lambda f: np.savez(f, **arrays), "--dump")


def html_series(a: Analysis, extra_units=()) -> list[dict]:
    """Picker entries for the HTML page: the top units of every probe, extra units, the probes."""
    series, seen = [], set()
    for u in extra_units:  # first, so that the page opens on the unit the user chose
        if u not in seen:
            seen.add(u)
            series.append({"label": a.traces.label(u), "group": "chosen", "values": a.traces.acts[:, u]})
    for row in a.top:
        if row["unit"] not in seen:
            seen.add(row["unit"])
            series.append({"label": row["label"], "group": "top units", "values": a.traces.acts[:, row["unit"]],
                           "note": f"{row['probe']} r={row['r']:+.2f}"})
    for name in a.names:
        series.append({"label": f"probe {name}", "group": "probe signals", "values": a.signals[name]})
    return series
