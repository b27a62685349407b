"""How a unit's activations become colours: centred on the unit's median, scaled by a robust spread.

    centre = median(v)
    spread = IQR(v) / 1.349        (the standard deviation, for normal data; robust to outliers)
             else std(v), else max |v - centre|, else 1    (a unit mostly at one value)
    t      = clip((v - centre) / (FULL * spread), -1, 1)   white at 0, red +1, blue -1

Centring matters: a cell state with an offset (always between 2 and 4, say) scaled from 0 is one
solid colour; centred on its median its switches show.
"""

from __future__ import annotations

import numpy as np

FULL = 2.0  # full colour at centre +- FULL robust standard deviations


def robust_scale(values) -> tuple[float, float]:
    """(centre, spread) of a unit's activations (see the module docstring)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return 0.0, 1.0
    centre = float(np.median(v))
    q75, q25 = np.percentile(v, [75, 25])
    for spread in ((q75 - q25) / 1.349, np.std(v), np.max(np.abs(v - centre))):
        if spread > 1e-9 * max(1.0, abs(centre)):
            return centre, float(spread)
    return centre, 1.0


def describe(centre: float, spread: float) -> str:
    """The scale in words, as the terminal and the page state it."""
    return (f"centred on the median {centre:+.3g}, full scale ±{FULL * spread:.3g} = {FULL:g} robust SD "
            f"(IQR/1.349 = {spread:.3g})")
