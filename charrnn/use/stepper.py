"""The sampler's inner loop: one character at a time for ONE stream, as lean as NumPy allows.

    st = make_stepper(params, cfg)          # or make_stepper(params, cfg, state) to continue
    logits = st.step(ix)                    # (V,) logits after reading character id ix
    st.state                                # the state in model format (copies), batch 1

(`charrnn.use.sample.generate` turns the logits into characters.)

The same numbers as the chunk forward of `charrnn.tasks.lm` (tested, and against the plain
references in tests/reference.py). At batch 1 the time goes to reading the weights (the
products) and to the fixed cost of each NumPy call, so the arrays are fused once to need few
calls: sigmoid-gate columns halved (one tanh per layer: sigmoid(a) = 0.5 tanh(a/2) + 0.5),
layer 0's input rows with the bias added (`rows0`: a one-hot input is a row lookup), for layers
k >= 1 [Wx; Wh] stacked so that one product reads the layer below and the layer's own state,
which sit side by side in one buffer `row` = [h_0 | h_1 | ... | 1]; the trailing 1 carries the
biases of the top layer and of the output (`Wy_by` = [Wy; by]). The products are `np.dot`, which
for one row costs about 0.5 us less than `np.matmul` (its ufunc machinery), 10 % of a GRU step.
Returned arrays are buffers that the next call overwrites: copy what you keep.
"""

from __future__ import annotations

import numpy as np

from charrnn.nn import kernels
from charrnn.nn.cells import CELLS, halve_sigmoid_columns
from charrnn.config import ModelConfig
from charrnn.nn.stack import layer_params, zero_state as init_state


class Stepper:
    """One stream, one character per `step`; the arrays fused once (see the module docstring)."""

    def __init__(self, params: dict, cfg: ModelConfig, state: list | None = None):
        self.cell, H, L = cfg.cell, cfg.hidden, cfg.layers
        fz = _fused_module() if kernels.active() == "fused" else None  # the gate arithmetic compiled
        nsig = (CELLS[cfg.cell].gates - 1) * H  # sigmoid-gate columns: all but the last block
        dt = params["Wy"].dtype
        state = state if state is not None else init_state(cfg, 1)
        self.row = np.ones((1, L * H + 1), dtype=dt)  # [h of layer 0 | h of layer 1 | ... | 1]
        self.c_states = [np.array(s[1], dtype=dt) for s in state] if cfg.cell == "lstm" else []
        self.layers, self.layer_steps = [], []
        for k in range(L):
            self.row[:, k * H:(k + 1) * H] = state[k][0]
            q = halve_sigmoid_columns(layer_params(params, k), nsig)
            G = q["Wh"].shape[1]
            layer = {"h": self.row[:, k * H:(k + 1) * H], "a": np.empty((1, G), dt), "t": np.empty((1, H), dt),
                     "rows0": q["Wx"] + q["b"] if k == 0 else None, "b": q["b"][None, :]}
            Wh = q["Wh"]
            if cfg.cell == "gru":  # h feeds r, z and half of g's recurrent part, h Wh_g / 2 (see _gru_fn)
                layer["Whg"], layer["g"] = 0.5 * Wh[:, 2 * H:], np.empty((1, H), dt)
                Wh = np.concatenate((Wh[:, :2 * H], layer["Whg"]), axis=1)
            if k == 0:
                layer["W"], layer["z"] = Wh, layer["h"]
            elif k == L - 1:  # [h_{k-1}, h_k, 1] @ [Wx; Wh; b]
                layer["W"] = np.concatenate((q["Wx"], Wh, q["b"][None, :]))
                layer["z"], layer["b"] = self.row[:, (k - 1) * H:], None
            else:
                layer["W"], layer["z"] = np.concatenate((q["Wx"], Wh)), self.row[:, (k - 1) * H:(k + 1) * H]
            self.layers.append(layer)
            make = {"rnn": _rnn_fn, "lstm": _lstm_fn, "gru": _gru_fn}[cfg.cell]
            self.layer_steps.append(make(k, layer, self.layers, self.c_states, fz))
        self.top, self.Wy_by = self.row[:, (L - 1) * H:], np.concatenate((params["Wy"], params["by"][None, :]))
        self.logits_row = np.empty((1, cfg.vocab_size), dtype=dt)
        self.logits = self.logits_row[0]

    def step(self, ix: int) -> np.ndarray:
        """Read character id ix; return the logits (V,) for the next character (a reused buffer)."""
        for fn in self.layer_steps:
            fn(ix)
        np.dot(self.top, self.Wy_by, out=self.logits_row)  # np.dot: 0.5 us less than matmul per row
        return self.logits

    @property
    def state(self) -> list[tuple]:
        H = self.layers[0]["h"].shape[1]
        hs = [self.row[:, k * H:(k + 1) * H].copy() for k in range(len(self.layers))]
        return [(h, c.copy()) for h, c in zip(hs, self.c_states)] if self.cell == "lstm" else [(h,) for h in hs]


# One closure per layer and cell type: the fused arrays bound once, so a step is NumPy calls only.
def _add_input(k, layer):
    rows0, b = layer["rows0"], layer["b"]
    if k == 0:
        return lambda a, ix: np.add(a, rows0[ix], out=a)
    return (lambda a, ix: np.add(a, b, out=a)) if b is not None else (lambda a, ix: None)


def _fused_module():
    from charrnn.nn import fused
    return fused


def _rnn_fn(k, layer, layers, c_states, fz=None):  # (one tanh per step: nothing to fuse)
    a, z, W, h, add, mm, tanh = layer["a"], layer["z"], layer["W"], layer["h"], _add_input(k, layer), np.dot, np.tanh

    def run(ix):
        mm(z, W, out=a)
        add(a, ix)
        tanh(a, out=h)
    return run


def _lstm_fn(k, layer, layers, c_states, fz=None):
    a, t, z, W, h, c, add = layer["a"], layer["t"], layer["z"], layer["W"], layer["h"], c_states[k], _add_input(k, layer)
    if fz is not None:  # --kernels fused: the gate arithmetic below in one compiled call
        mm, point = np.dot, fz.lstm_point

        def run_fused(ix):
            mm(z, W, out=a)
            add(a, ix)
            point(a, c, h)
        return run_fused
    H = h.shape[1]
    i, f, o, g, s = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:], a[:, :3 * H]
    mm, tanh, mul, add_ = np.dot, np.tanh, np.multiply, np.add

    def run(ix):
        mm(z, W, out=a)
        add(a, ix)
        tanh(a, out=a)
        mul(s, 0.5, out=s)
        add_(s, 0.5, out=s)  # i, f, o = sigmoid
        mul(c, f, out=c)
        mul(i, g, out=t)
        add_(c, t, out=c)
        tanh(c, out=t)
        mul(o, t, out=h)
    return run


def _gru_fn(k, layer, layers, c_states, fz=None):
    """One GRU step in 11 NumPy calls (12 in layer 0) and 2 products, as lean as the LSTM's 10.
    With tr, tz = tanh(a_r/2), tanh(a_z/2) (the r, z columns halved), r = (1 + tr)/2 and
    z = (1 + tz)/2, so

        (r * h) Wh_g = (tr * h) Wh_g/2 + h Wh_g/2     the second term comes with the r, z product
        h_t = h + z (g - h) = h + (1 + tz) (g - h) / 2
    """
    a, t, z, W, h, g, Whg = layer["a"], layer["t"], layer["z"], layer["W"], layer["h"], layer["g"], layer["Whg"]
    add, H = _add_input(k, layer), h.shape[1]
    if fz is not None:  # --kernels fused: the same arithmetic in two compiled calls around the product
        mm, point_rz, point_h = np.dot, fz.gru_point_rz, fz.gru_point_h

        def run_fused(ix):
            mm(z, W, out=a)
            add(a, ix)
            point_rz(a, h, t)
            mm(t, Whg, out=g)
            point_h(a, g, h)
        return run_fused
    rz, tr, tz, ag = a[:, :2 * H], a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    mm, tanh, mul, sub, add_ = np.dot, np.tanh, np.multiply, np.subtract, np.add

    def run(ix):
        mm(z, W, out=a)  # [a_r/2, a_z/2, x Wx_g + b_g + h Wh_g/2] (x: layer 0 adds its row below)
        add(a, ix)
        tanh(rz, out=rz)  # tr, tz
        mul(tr, h, out=t)
        mm(t, Whg, out=g)
        add_(g, ag, out=g)  # (r * h) Wh_g + x Wx_g + b_g
        tanh(g, out=g)
        sub(g, h, out=g)
        add_(tz, 1.0, out=tz)  # 2 z
        mul(g, tz, out=g)
        mul(g, 0.5, out=g)
        add_(h, g, out=h)  # h + z (g - h)
    return run


def make_stepper(params: dict, cfg: ModelConfig, state: list | None = None, hold=None):
    """A `Stepper` for one stream, starting from `state` (batch 1; default zeros); with `hold`
    (charrnn.nn.intervene.Holds: --ablate, --clamp) a `HeldStepper`."""
    return Stepper(params, cfg, state) if hold is None else HeldStepper(params, cfg, state, hold)


class HeldStepper:
    """The stepper's interface over the stack's own forward (`tasks.lm.forward`, one character at a
    time), with units held: the one intervention mechanism (charrnn.nn.intervene), not fused."""

    def __init__(self, params: dict, cfg: ModelConfig, state: list | None, hold):
        self.params, self.cfg, self.hold = params, cfg, hold
        self.state = list(state) if state is not None else init_state(cfg, 1)
        self.ids = np.zeros((1, 1), dtype=np.intp)

    def step(self, ix: int) -> np.ndarray:
        self.ids[0, 0] = ix
        from charrnn.tasks.lm import forward

        logits, self.state, _ = forward(self.params, self.cfg, self.ids, self.state, hold=self.hold)
        return logits[0]
