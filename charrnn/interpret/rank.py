"""Which units track which probe: Pearson correlations, top units, gate saturation.

    r = correlate(acts (T, U), signals (T, P))  ->  (U, P)

Every column is standardised once (mean 0, norm 1), then r is one matrix product. A constant
column (a dead unit, or a probe that never fires in the text) has no correlation: r = 0.

Gate saturation (Karpathy, Johnson, Fei-Fei 2015, "Visualizing and Understanding Recurrent
Networks"): for each gate unit, the fraction of characters where it is below 0.1 (left
saturated, closed) or above 0.9 (right saturated, open).
"""

from __future__ import annotations

import numpy as np

from charrnn.interpret.units import GATE_KINDS, KINDS

BLOCK = 512  # columns standardised at a time (bounds the float64 copies)
LEFT, RIGHT = 0.1, 0.9


def standardise(a: np.ndarray) -> np.ndarray:
    """Columns of a (T, N) as float64 with mean 0 and L2 norm 1; constant columns all 0."""
    x = np.asarray(a, dtype=np.float64)
    size = np.abs(x).max(axis=0, initial=0.0)  # (N,)
    z = x - x.mean(axis=0)
    norm = np.sqrt(np.einsum("tn,tn->n", z, z))
    # Constant up to float32 rounding counts as constant: std below 1e-6 of the column's size.
    ok = (norm > 0) & (norm > 1e-6 * size * np.sqrt(len(z)))
    scale = np.zeros_like(norm)
    scale[ok] = 1.0 / norm[ok]
    return z * scale


def correlate(acts: np.ndarray, signals: np.ndarray) -> np.ndarray:
    """Pearson r (U, P) of every activation column against every signal column."""
    zs = standardise(signals)  # (T, P)
    r = np.empty((acts.shape[1], zs.shape[1]), dtype=np.float64)
    for u in range(0, acts.shape[1], BLOCK):
        r[u: u + BLOCK] = standardise(acts[:, u: u + BLOCK]).T @ zs
    return np.clip(r, -1.0, 1.0)


def top_units(r: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """(P, k) column indices: for each probe, the k units with the largest |r| (best first).

    `allowed` (U,) bool restricts the candidates (e.g. to states h and c, not gates).
    """
    score = np.abs(r)
    if allowed is not None:
        score = np.where(allowed[:, None], score, -1.0)
    k = min(k, r.shape[0])
    return np.argsort(-score, axis=0, kind="stable")[:k].T


def ranking(r: np.ndarray, names: list[str], labels, k: int, allowed=None) -> list[dict]:
    """[{probe, rank, unit (column), label, r}] for the top k units of each probe."""
    rows = []
    best = top_units(r, k, allowed)
    for p, name in enumerate(names):
        for rank, u in enumerate(best[p]):
            rows.append({"probe": name, "rank": rank + 1, "unit": int(u), "label": labels(int(u)),
                         "r": float(r[u, p])})
    return rows


# ------------------------------------------------------------------------------ saturation
def saturation(acts: np.ndarray, units: np.ndarray) -> list[dict]:
    """Per layer and gate kind: mean fraction of time left (< 0.1) / right (> 0.9) saturated,
    and how many units spend more than half of the time there."""
    rows = []
    gate_codes = [KINDS.index(k) for k in GATE_KINDS]
    for layer in np.unique(units[:, 0]):
        for code in gate_codes:
            cols = np.flatnonzero((units[:, 0] == layer) & (units[:, 1] == code))
            if cols.size == 0:
                continue
            a = acts[:, cols]
            left, right = (a < LEFT).mean(axis=0), (a > RIGHT).mean(axis=0)  # (n,) per unit
            rows.append({"layer": int(layer), "gate": KINDS[code], "units": int(cols.size),
                         "left": float(left.mean()), "right": float(right.mean()),
                         "mostly_left": int((left > 0.5).sum()), "mostly_right": int((right > 0.5).sum()),
                         "left_per_unit": left, "right_per_unit": right})
    return rows
