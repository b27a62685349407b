"""The recurrent products of one LSTM time step alone, NumPy's BLAS or PyTorch's, at 1 and 2 threads.

    .venv/bin/python benchmarks/products.py                       # NumPy (OpenBLAS), H = 512, B = 50
    ../torchvenv/bin/python benchmarks/products.py --torch        # the same shapes on torch.mm
    .venv/bin/python benchmarks/products.py --hidden 128 --batch 25

Forward h @ Wh ((B, H) by (H, 4H)) and backward dA @ Wh^T ((B, 4H) by (4H, H)), float32, into
preallocated outputs: the best of 5 repeats of 400 calls, in microseconds. Alternate the two
interpreters and compare; run it alone on the machine.
"""

import argparse
import time

import numpy as np


def best_us(f, n: int = 400) -> float:
    f()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--torch", action="store_true", help="torch.mm instead of NumPy (run it with PyTorch's Python)")
    a = ap.parse_args()
    B, H = a.batch, a.hidden
    rng = np.random.default_rng(0)
    h, Wh = rng.standard_normal((B, H), np.float32), rng.standard_normal((H, 4 * H), np.float32)
    dA, WhT = rng.standard_normal((B, 4 * H), np.float32), np.ascontiguousarray(Wh.T)
    out_f, out_b = np.empty((B, 4 * H), np.float32), np.empty((B, H), np.float32)
    for threads in (1, 2):
        if a.torch:
            import torch
            torch.set_num_threads(threads)
            t = [torch.from_numpy(v) for v in (h, Wh, dA, WhT, out_f, out_b)]
            fwd = best_us(lambda: torch.mm(t[0], t[1], out=t[4]))
            bwd = best_us(lambda: torch.mm(t[2], t[3], out=t[5]))
            name = f"PyTorch {torch.__version__}"
        else:
            from threadpoolctl import threadpool_limits
            with threadpool_limits(threads):
                fwd = best_us(lambda: np.dot(h, Wh, out=out_f))
                bwd = best_us(lambda: np.dot(dA, WhT, out=out_b))
            name = f"NumPy {np.__version__}"
        print(f"{name}, B = {B}, H = {H}, {threads} thread{'s' * (threads > 1)}: forward {fwd:.0f} us, backward {bwd:.0f} us")


if __name__ == "__main__":
    main()
