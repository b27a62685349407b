"""inspect-cells --ablation: does the model USE the unit that correlates with a probe?

For each probe (strongest first), its top unit is zeroed at every step (an LSTM's tanh(c) unit:
its c, so tanh(c) = 0 too) and the loss of predicting each next character is compared with the
intact model's:

    delta_all     mean over every scored character of (nats zeroed - nats intact)
    delta_active  the same over the characters where the probe is active: its value after the
                  character is above its smallest value in the text (inside a string, inside
                  brackets, on an indented line, past the first column ...)

and the same for a random unit of the same layer and kind (seeded, never the top unit), the
bystander baseline. A unit the model relies on costs much more than the random one, most of all
where its probe is active.

All the ablations run side by side in one pass over the text: stream 0 intact, then one stream
per zeroed unit (`nn.intervene.Hold(stream=b)`), through the stack's own forward
(`tasks.lm.forward(hold=...)`, the mechanism of `sample --ablate`), the state carried from chunk
to chunk as evaluate does.
"""

from __future__ import annotations

import numpy as np

from charrnn.nn.intervene import Hold, Holds
from charrnn.tasks import lm

CHUNK = 512  # characters per forward call
SEED = 0  # the random units' generator


def ablation(trained, a, chunk: int = CHUNK, seed: int = SEED, progress=None) -> list[dict]:
    """One dict per ranked probe: probe, unit, delta_all, delta_active, random_unit,
    random_delta_all, random_delta_active, active_chars (see the module docstring)."""
    cfg, params = trained.cfg, trained.params
    rng = np.random.default_rng(seed)
    rows, holds = [], []
    for row in a.top:
        if row["rank"] != 1:
            continue
        layer, kind, index = a.unit(row["unit"])
        kind = "c" if kind == "tanh(c)" else kind
        other = [j for j in range(cfg.hidden) if j != index]
        rand = int(rng.choice(other)) if other else index
        b = 1 + 2 * len(rows)
        holds += [Hold(layer, kind, index, 0.0, stream=b), Hold(layer, kind, rand, 0.0, stream=b + 1)]
        rows.append({"probe": row["probe"], "unit": f"L{layer}:{kind}:{index}", "label": row["label"],
                     "random_unit": f"L{layer}:{kind}:{rand}"})
    if not rows:
        return []
    nll = _nll(params, cfg, trained.vocab.encode(a.text), 1 + 2 * len(rows), Holds(holds), chunk, progress)
    d = nll[1:] - nll[0]  # (2P, T-1) nats zeroed - intact, per scored character
    for p, r in enumerate(rows):
        sig = np.asarray(a.signals[r["probe"]], dtype=np.float64)[:-1]  # the state after char t predicts t+1
        active = sig > sig.min()
        r.update(delta_all=_mean(d[2 * p]), delta_active=_mean(d[2 * p], active),
                 random_delta_all=_mean(d[2 * p + 1]), random_delta_active=_mean(d[2 * p + 1], active),
                 active_chars=int(active.sum()))
    return rows


def _mean(x: np.ndarray, where: np.ndarray | None = None) -> float | None:
    x = x if where is None else x[where]
    return round(float(x.mean()), 6) if len(x) else None


def _nll(params, cfg, ids: np.ndarray, B: int, hold: Holds, chunk: int, progress=None) -> np.ndarray:
    """(B, T-1) float64 nats of predicting ids[1:] from the ids before, B copies of the text side by side."""
    T = len(ids) - 1
    out = np.empty((B, T))
    state = lm.init_state(cfg, B)
    for start in range(0, T, chunk):
        stop = min(T, start + chunk)
        x = np.tile(ids[start:stop][None, :], (B, 1))
        logits, state, _ = lm.forward(params, cfg, x, state, hold=hold)  # (n*B, V) time-major
        z = logits.astype(np.float64).reshape(stop - start, B, -1)
        m = z.max(axis=2, keepdims=True)
        lse = np.log(np.exp(z - m).sum(axis=2)) + m[..., 0]  # (n, B)
        y = np.broadcast_to(ids[start + 1:stop + 1, None, None], (stop - start, B, 1))  # the next characters
        out[:, start:stop] = (lse - np.take_along_axis(z, y, axis=2)[..., 0]).T
        if progress is not None:
            progress(stop, T)
    return out
