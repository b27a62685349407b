"""Interventions: hold units of a layer's state at a value at every step (`--ablate`, `--clamp`).

    holds = parse_holds(["L0:c:98"], ["L1:h:3=0.8"], cfg)    # ablate: value 0; clamp: UNIT=VALUE
    logits, state, _ = lm.forward(params, cfg, ids, state, hold=holds)

A hold replaces unit `index` of the state component `kind` of layer `layer` (h; or c, for an
LSTM) by `value` after every step, before the layer above and the next step read it:

    h_t[index] = value                                   kind h
    c_t[index] = value,  h_t[index] = o_t * tanh(value)  kind c (h of the same step reads the held c)

so the model runs as if that unit were stuck. `stream` (optional) limits a hold to one row of
the batch: `inspect-cells --ablation` scores many ablations side by side in one pass, one per
stream. The one mechanism: `Holds.layer_forward(cell, k)`, a layer forward with the signature
of `cells.Cell.forward`, used by the forward of the stack (`tasks.lm.forward`), hence by
evaluation, sampling (`use.stepper.make_stepper`) and inspect-cells. A held layer runs one step
at a time (the cells' chunk forward keeps its time loop inside), layers without holds run as
usual; there is no backward through a held layer (its cache holds only the trace).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from charrnn.errors import UsageError

_SPEC = re.compile(r"^[Ll]?(\d+):([a-z]+):(\d+)$")


@dataclass(frozen=True)
class Hold:
    layer: int
    kind: str  # "h" or "c"
    index: int
    value: float = 0.0
    stream: int | None = None  # None: every stream of the batch

    @property
    def label(self) -> str:
        return f"L{self.layer}:{self.kind}:{self.index}"


class Holds(tuple):
    """A tuple of `Hold`s; `layer_forward` is what the stack's forward calls for each layer."""

    def of_layer(self, k: int) -> list[Hold]:
        return [h for h in self if h.layer == k]

    def layer_forward(self, cell, k: int):
        """cell.forward itself when layer k holds nothing; else the same signature, step by step."""
        mine = self.of_layer(k)
        return cell.forward if not mine else _held(cell, mine)


def _held(cell, holds: list[Hold]):
    def forward(p, x, state0, ws=None):
        """(hs (T, B, H), stateT, {"trace": {kind: (T, B, H)}}): cell.forward one step at a time,
        the holds applied to the state after each step (the trace shows the held values)."""
        T, state, hs, trace = x.shape[0], state0, None, {}
        for t in range(T):
            _, state, cache = cell.forward(p, x[t:t + 1], state)  # stateT: fresh copies, ours to change
            step = cell.trace(cache)  # {kind: (1, B, H)}
            apply(holds, state, step["o"][0] if "o" in step else None)
            if hs is None:
                hs = np.empty((T,) + state[0].shape, dtype=state[0].dtype)
                trace = {kind: np.empty_like(hs) for kind in step}
            hs[t] = state[0]
            for kind, v in step.items():
                trace[kind][t] = state[cell.state.index(kind)] if kind in cell.state else v[0]
        return hs, state, {"trace": trace}
    return forward


def apply(holds, state: tuple, o: np.ndarray | None = None) -> None:
    """Set the held units of one layer's state (h,) or (h, c), each (B, H), in place; c holds first,
    then h of the same step recomputed from the held c (o: the output gate (B, H))."""
    for hd in holds:
        if hd.kind == "c":
            rows = slice(None) if hd.stream is None else hd.stream
            state[1][rows, hd.index] = hd.value
            state[0][rows, hd.index] = o[rows, hd.index] * np.tanh(np.asarray(hd.value, dtype=o.dtype))
    for hd in holds:
        if hd.kind == "h":
            state[0][slice(None) if hd.stream is None else hd.stream, hd.index] = hd.value


def parse_hold(spec: str, option: str, cfg) -> Hold:
    """'L0:c:98' (--ablate: value 0) or 'L0:c:98=0.8' (--clamp), checked against the model."""
    text, value = spec.strip(), 0.0
    if option == "--clamp":
        unit, eq, v = text.partition("=")
        try:
            value = float(v) if eq else float("nan")
        except ValueError:
            value = float("nan")
        if not np.isfinite(value):
            raise UsageError(f"invalid {option} {spec!r}: expected UNIT=VALUE with a finite number, e.g. L0:c:98=0.8",
                             hint="UNIT is LAYER:KIND:INDEX, e.g. L0:c:98 (layer 0, cell state, unit 98)")
        text = unit.strip()
    m = _SPEC.match(text)
    kinds = ("h", "c") if cfg.cell == "lstm" else ("h",)
    example = f"L0:{kinds[-1]}:0" + ("=0.8" if option == "--clamp" else "")
    if not m:
        raise UsageError(f"invalid {option} {spec!r}: expected LAYER:KIND:INDEX" + ("=VALUE" if option == "--clamp" else "")
                         + f", e.g. {example}", hint="layers and units count from 0, as in the checkpoint's l0, l1")
    layer, kind, index = int(m[1]), m[2], int(m[3])
    if kind not in kinds:
        raise UsageError(f"invalid {option} {spec!r}: only state units can be held ({' and '.join(kinds)} "
                         f"for this {cfg.cell})", hint=f"e.g. {option} {example}")
    if layer >= cfg.layers or index >= cfg.hidden:
        raise UsageError(f"invalid {option} {spec!r}: the model has layers 0..{cfg.layers - 1} and units "
                         f"0..{cfg.hidden - 1} per layer", hint=f"e.g. {option} {example}")
    return Hold(layer, kind, index, value)


def parse_holds(ablate, clamp, cfg) -> Holds | None:
    """The holds of --ablate and --clamp (each repeatable), or None when there are none."""
    holds = [parse_hold(s, "--ablate", cfg) for s in ablate or []] + [parse_hold(s, "--clamp", cfg) for s in clamp or []]
    seen = {}
    for h in holds:
        if (h.layer, h.kind, h.index) in seen:
            raise UsageError(f"{h.label} is held twice (by --ablate / --clamp)", hint="hold each unit once")
        seen[(h.layer, h.kind, h.index)] = h
    return Holds(holds) if holds else None
