"""Where one LSTM training step goes, phase by phase, on the fused kernels at 1 BLAS thread.

    .venv/bin/python benchmarks/step_phases.py                 # B = 25 (one row block of the default), H = 128
    .venv/bin/python benchmarks/step_phases.py --batch 50 --hidden 512

Part 1 times a whole step (forward, softmax cross-entropy, backward, global-norm clip, Adam) of a
2-layer LSTM on random ids (T = 50, V = 95) over 60 steps after 10 warm-up steps. Part 2 times one
layer of each kind (the one-hot first layer, a dense second layer) alone: its forward, its
backward, and the backward's pieces (the time loop, dWh, the input gradient). Milliseconds, best of
5 repeats for part 2. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from charrnn.nn import kernels  # noqa: E402

T, V = 50, 95


def best_ms(f, n: int = 50) -> float:
    f()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        times.append((time.perf_counter() - t0) / n * 1e3)
    return min(times)


def whole_step(B: int, H: int) -> None:
    from charrnn.config import ModelConfig
    from charrnn.nn.losses import softmax_xent
    from charrnn.nn.optim import Adam, clip_by_global_norm
    from charrnn.nn.workspace import Workspace
    from charrnn.tasks import lm

    cfg = ModelConfig(cell="lstm", hidden=H, layers=2, vocab_size=V)
    rng = np.random.default_rng(0)
    params, state, ws, opt = lm.init_params(cfg, rng), lm.init_state(cfg, B), Workspace(), Adam()
    x, y = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))
    phases = dict.fromkeys(("forward", "xent", "backward", "clip", "adam"), 0.0)
    n = 60
    for i in range(n + 10):
        if i == 10:
            phases = dict.fromkeys(phases, 0.0)
        t = [time.perf_counter()]
        logits, _, cache = lm.forward(params, cfg, x, state, None, ws)
        t.append(time.perf_counter())
        _, dlogits = softmax_xent(logits, y.T.reshape(-1), overwrite=True)
        t.append(time.perf_counter())
        grads, _ = lm.backward(params, cfg, dlogits, cache)
        t.append(time.perf_counter())
        clip_by_global_norm(grads, 5.0)
        t.append(time.perf_counter())
        opt.step(params, grads, 1e-4)
        t.append(time.perf_counter())
        for k, (a, b) in zip(phases, zip(t, t[1:])):
            phases[k] += b - a
    total = sum(phases.values()) / n * 1e3
    print(f"whole step, B = {B}, H = {H}: {total:.2f} ms = "
          + ", ".join(f"{k} {v / n * 1e3:.2f}" for k, v in phases.items()))


def one_layer(B: int, H: int) -> None:
    from charrnn.nn import cells, fused
    from charrnn.nn.workspace import Workspace

    G, rng = 4 * H, np.random.default_rng(0)
    for kind, D in (("one-hot layer", None), ("dense layer", H)):
        p = {"Wx": (rng.standard_normal((V if D is None else D, G)) * 0.1).astype(np.float32),
             "Wh": (rng.standard_normal((H, G)) * 0.1).astype(np.float32), "b": np.zeros(G, np.float32)}
        x = rng.integers(0, V, (T, B)) if D is None else rng.standard_normal((T, B, D)).astype(np.float32)
        s0 = (np.zeros((B, H), np.float32), np.zeros((B, H), np.float32))
        ws = Workspace()
        hs, _, cache = fused.lstm_forward(p, x, s0, ws)
        dhs = rng.standard_normal(hs.shape).astype(np.float32)
        forward = best_ms(lambda: fused.lstm_forward(p, x, s0, ws))
        backward = best_ms(lambda: fused.lstm_backward(dhs, (0.0, 0.0), cache))
        _, _, A, Hs, Cs, tcs, _ = cache
        WhT = np.ascontiguousarray(p["Wh"].T)
        dA, dhr, dc = np.empty((T, B, G), np.float32), np.zeros((B, H), np.float32), np.zeros((B, H), np.float32)
        if fused.GEMM_IN_LOOP:
            loop = best_ms(lambda: fused._lstm_loop_back(A, Cs, tcs, dhr, dhs, dc, dA, WhT))
        else:
            loop = float("nan")
        dwh = best_ms(lambda: Hs[:-1].reshape(T * B, H).T @ dA.reshape(T * B, G))
        dx = best_ms(lambda: cells.input_projection_backward(p, x, dA, {}, ws))
        print(f"{kind}, B = {B}, H = {H}: forward {forward:.2f} ms, backward {backward:.2f} ms "
              f"(time loop {loop:.2f}, dWh {dwh:.2f}, input gradient {dx:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=25)
    ap.add_argument("--hidden", type=int, default=128)
    a = ap.parse_args()
    if kernels.select("fused") != "fused":
        raise SystemExit("needs numba (the fused kernels)")
    with threadpool_limits(1):
        whole_step(a.batch, a.hidden)
        one_layer(a.batch, a.hidden)


if __name__ == "__main__":
    main()
