"""inspect-cells as a library call: traces + probes + correlations (`analyse`) and its JSON form.
The files it writes: files.py (--dump), page.py (--html)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from charrnn.interpret import probes as probes_mod
from charrnn.interpret.rank import correlate, saturation
from charrnn.interpret.traces import Traces, run_traces
from charrnn.interpret.units import KINDS

WEAK_R = 0.2  # a probe whose best unit has |r| below this is labelled weak


@dataclass
class Analysis:
    """Units are numbered 0..U-1 for the columns of `traces.acts`, then U..U+C-1 for tanh(c) of
    the LSTM cell-state columns `tanh_cols` (what the output gate reads: h = o * tanh(c))."""

    text: str
    traces: Traces
    names: list[str]  # probe names
    signals: dict[str, np.ndarray]  # name -> (T,)
    r: np.ndarray  # (U, P)
    top: list[dict] = field(default_factory=list)  # ranking rows: probe, rank, unit, label, r (strongest probe first)
    saturation: list[dict] = field(default_factory=list)
    constant: list[str] = field(default_factory=list)  # probes that never vary in the text (no r)
    tanh_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))  # (C,) c columns
    r_tanh: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (C, P) r of tanh(c)
    logits: np.ndarray | None = None  # (T, V) the model's prediction after each character
    # Jamo tokens: `text` holds the T tokens (steps); `chars` the composed text, its character g made
    # of steps starts[g] .. starts[g+1]-1 (starts: (G+1,)). None under chars tokens.
    chars: str | None = None
    starts: np.ndarray | None = None

    def per_char(self, values: np.ndarray) -> np.ndarray:
        """(G,) a step signal read at the last step of each character (the state after the whole
        syllable); the signal itself under chars tokens."""
        return values if self.starts is None else values[self.starts[1:] - 1]

    @property
    def n_units(self) -> int:
        return self.traces.acts.shape[1] + len(self.tanh_cols)

    def values(self, u: int) -> np.ndarray:
        """(T,) activations of unit u (tanh applied for u >= U)."""
        U = self.traces.acts.shape[1]
        return self.traces.acts[:, u] if u < U else np.tanh(self.traces.acts[:, self.tanh_cols[u - U]])

    def unit(self, u: int) -> tuple[int, str, int]:
        """(layer, kind, index) of unit u; kind 'tanh(c)' for u >= U."""
        U = self.traces.acts.shape[1]
        layer, code, index = (int(v) for v in self.traces.units[u if u < U else self.tanh_cols[u - U]])
        return layer, (KINDS[code] if u < U else "tanh(c)"), index

    def label(self, u: int) -> str:
        layer, kind, index = self.unit(u)
        return f"L{layer} {kind} {index}"

    def r_of(self, u: int) -> np.ndarray:
        """(P,) r of unit u with every probe."""
        U = self.traces.acts.shape[1]
        return self.r[u] if u < U else self.r_tanh[u - U]

    def weak(self, probe: str) -> bool:
        best = [row["r"] for row in self.top if row["probe"] == probe and row["rank"] == 1]
        return not best or abs(best[0]) < WEAK_R


def analyse(trained, text: str, probe_names, top: int = 3, progress=None) -> Analysis:
    """Run the model over `text` (characters of its vocabulary) and rank units against the probes.

    Only states (h; c and tanh(c) for an LSTM) are ranked; gates go into the saturation summary.
    A unit's c and tanh(c) count once per probe (the one with the larger |r|). Probes come
    strongest first (by the |r| of their best unit).
    """
    names = probes_mod.check_names(probe_names)
    ids = trained.vocab.encode(text)
    traces = run_traces(trained.params, trained.cfg, ids, progress=progress)
    chars, starts = None, None
    if trained.vocab.tokens == "jamo":  # probes per character, repeated on each of its steps
        chars, text = text, trained.vocab.decode_tokens(ids)
        w = trained.vocab.char_weights(ids)
        char_of = np.cumsum(w, dtype=np.int64) - 1  # (T,) the character of each step
        starts = np.append(np.flatnonzero(w), len(w))
        signals = {n: v[char_of] for n, v in probes_mod.compute(chars, names).items()}
        signals.update({n: v for n, v in probes_mod.jamo_probes(text).items() if n in names})
    else:
        signals = probes_mod.compute(text, names)
    return analyse_traces(traces, text, names, top, _logits(trained, traces), signals, chars, starts)


def analyse_traces(traces: Traces, text: str, probe_names, top: int = 3, logits: np.ndarray | None = None,
                   signals: dict | None = None, chars=None, starts=None) -> Analysis:
    """`analyse` on traces already run (one row of traces.acts per step of `text`): the probes'
    signals (computed from `text` when not given), the correlations and the ranking. logits (T, V):
    the model's predictions for the page, or None (classify and tag models predict no characters)."""
    names = probes_mod.check_names(probe_names)
    if signals is None:
        signals = probes_mod.compute(text, names)
    matrix = np.stack([signals[n] for n in names], axis=1) if names else np.zeros((len(text), 0))
    r = correlate(traces.acts, matrix)  # (U, P)
    tanh_cols = np.flatnonzero(traces.units[:, 1] == KINDS.index("c"))
    r_tanh = correlate(np.tanh(traces.acts[:, tanh_cols]), matrix) if len(tanh_cols) else np.zeros((0, len(names)))
    constant = [n for n in names if np.ptp(signals[n]) == 0]
    a = Analysis(text, traces, names, signals, r, [], saturation(traces.acts, traces.units), constant,
                 tanh_cols, r_tanh, logits, chars, starts)
    a.top = _ranking(a, [n for n in names if n not in constant], top)
    return a


def _logits(trained, traces: Traces) -> np.ndarray:
    """(T, V) output logits after each character, from the last layer's h (float32)."""
    L, H = trained.cfg.layers, trained.cfg.hidden
    h = traces.acts[:, [traces.column(L - 1, "h", j) for j in range(H)]]  # (T, H)
    return (h @ trained.params["Wy"].astype(np.float32) + trained.params["by"].astype(np.float32)).astype(np.float32)


def _ranking(a: Analysis, ranked: list[str], k: int) -> list[dict]:
    """[{probe, rank, unit, label, r}]: the k states with the largest |r| per probe, c and tanh(c)
    of one unit counted once; probes ordered by the |r| of their best unit."""
    U = a.traces.acts.shape[1]
    states = np.flatnonzero(np.isin(a.traces.units[:, 1], [KINDS.index("h"), KINDS.index("c")]))
    cand = np.concatenate([states, U + np.arange(len(a.tanh_cols))])  # unit numbers
    base = np.concatenate([states, a.tanh_cols])  # the acts column each candidate reads
    per_probe = []
    for name in ranked:
        p = a.names.index(name)
        rs = np.concatenate([a.r[states, p], a.r_tanh[:, p]])
        rows, seen = [], set()
        for i in np.argsort(-np.abs(rs), kind="stable"):
            if int(base[i]) in seen:
                continue
            seen.add(int(base[i]))
            u = int(cand[i])
            rows.append({"probe": name, "rank": len(rows) + 1, "unit": u, "label": a.label(u), "r": float(rs[i])})
            if len(rows) == k:
                break
        per_probe.append(rows)
    per_probe.sort(key=lambda rows: -abs(rows[0]["r"]) if rows else 0.0)
    return [row for rows in per_probe for row in rows]


def to_json(a: Analysis, checkpoint: str) -> dict:
    """The ranking and saturation summary as plain JSON-able data."""
    return {
        "checkpoint": checkpoint, "cell": a.traces.cell, "n_chars": len(a.text if a.chars is None else a.chars),
        "n_steps": len(a.text),
        "top_units": [{"probe": row["probe"], "rank": row["rank"], "unit": row["label"],
                       "layer": a.unit(row["unit"])[0], "kind": a.unit(row["unit"])[1],
                       "index": a.unit(row["unit"])[2], "r": round(row["r"], 6),
                       "weak": a.weak(row["probe"])} for row in a.top],
        "constant_probes": a.constant,
        "saturation": [{k: v for k, v in row.items() if not k.endswith("_per_unit")} for row in a.saturation],
    }
