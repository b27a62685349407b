"""inspect-cells for classify and tag models: the traces of lines each read alone (for the probes),
and for a classify model the units whose final values best separate the labels.

`line_traces`: every line is run from the zero state through the left-to-right stack (what the
model does with it), and the traces are laid end to end with one row for each newline between
lines: the state after the line's last character, repeated (the model reads no newline). The
probes then see the lines as one text, one line per line.

Each line is read alone (lines of one length are batched: no padding), and every unit's final
state is taken: h of every layer (and c for an LSTM) after the line's last character, of the
left-to-right stack and, for a bidirectional model, of the right-to-left stack (after the first
character). A unit's separation is eta squared, the share of its variance across lines that the
labels explain:

    eta^2 = sum_c n_c (mean_c - mean)^2 / sum_i (x_i - mean)^2      (0: no relation, 1: perfect)
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from charrnn.nn.bidirectional import BACKWARD_PREFIX, is_bidirectional
from charrnn.nn.cells import CELLS
from charrnn.nn.stack import stack_forward, zero_state
from charrnn.interpret.traces import Traces, run_traces


def line_traces(params, cfg, vocab, lines: list[str], progress=None) -> tuple[Traces, str]:
    """(traces of "\\n".join(lines), that text): each line read alone by the left-to-right stack."""
    parts, done, total = [], 0, sum(len(t) for t in lines)
    traces = None
    for i, line in enumerate(lines):
        traces = run_traces(params, cfg, vocab.encode(line))
        parts.append(traces.acts)
        if i + 1 < len(lines):
            parts.append(traces.acts[-1:])  # the newline: the state after the line, as it was
        done += len(line)
        if progress is not None:
            progress(done, total)
    return Traces(np.concatenate(parts), traces.units, traces.cell, traces.hidden), "\n".join(lines)


def final_states(params, cfg, texts_ids: list[np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """(N, U) every unit's final value per line, and the U unit names ("L0 h 12", "bwd L1 c 3")."""
    kinds = CELLS[cfg.cell].state  # ("h",) or ("h", "c")
    prefixes = ("", BACKWARD_PREFIX) if is_bidirectional(params) else ("",)
    names = [f"{'bwd ' if p else ''}L{k} {kind} {j}" for p in prefixes for k in range(cfg.layers)
             for kind in kinds for j in range(cfg.hidden)]
    out = np.zeros((len(texts_ids), len(names)), dtype=np.float64)
    by_len = defaultdict(list)
    for i, ids in enumerate(texts_ids):
        by_len[len(ids)].append(i)
    for n, rows in by_len.items():
        x = np.stack([texts_ids[i] for i in rows], axis=1)  # (n, B): lines of one length, no padding
        cols = []
        for p in prefixes:
            _, stateT, _ = stack_forward(params, cfg, x if not p else x[::-1].copy(), zero_state(cfg, len(rows)), p)
            cols += [a for layer in stateT for a in layer]
        out[rows] = np.concatenate(cols, axis=1)
    return out, names


def eta_squared(values: np.ndarray, y: np.ndarray, n_labels: int) -> np.ndarray:
    """(U,) eta^2 of each column of values (N, U) against the labels y (N,)."""
    mean = values.mean(axis=0)
    total = ((values - mean) ** 2).sum(axis=0)
    between = np.zeros(values.shape[1])
    for c in range(n_labels):
        sel = y == c
        if sel.any():
            between += sel.sum() * (values[sel].mean(axis=0) - mean) ** 2
    return np.where(total > 0, between / np.maximum(total, 1e-300), 0.0)


def separating_units(params, cfg, vocab, labels, examples, top: int = 10) -> list[dict]:
    """The `top` units with the largest eta^2: unit, eta2, and per label the mean final value."""
    ids = [vocab.encode(t).astype(np.int64) for t, _ in examples]
    y = np.array([labels.index(lab) for _, lab in examples])
    values, names = final_states(params, cfg, ids)
    eta = eta_squared(values, y, labels.size)
    rows = []
    for u in np.argsort(-eta, kind="stable")[:top]:
        means = {labels.names[c]: float(values[y == c, u].mean()) for c in range(labels.size) if (y == c).any()}
        rows.append({"unit": names[u], "eta2": float(eta[u]), "means": means,
                     "highest": max(means, key=means.get), "lowest": min(means, key=means.get)})
    return rows
