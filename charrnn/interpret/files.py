"""The files `charrnn inspect-cells` writes (each checked before any work, written atomically):
the raw traces (--dump); the checks and the atomic write that --html (page.py) uses too.

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

import os
from pathlib import Path

import numpy as np

from charrnn.engine.checkpoint import atomic_write
from charrnn.errors import CharRNNError, UsageError
from charrnn.interpret.units import KINDS
from charrnn.data.vocab import code_points


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
    write_atomic(path, lambda f: np.savez(f, **arrays), "--dump")
