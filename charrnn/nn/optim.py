"""Gradient clipping, optimizers and the learning-rate schedule.

Optimizers update parameters in place, keep their state keyed by parameter name
("adam.m/l0.Wx", ...), and save / restore that state exactly (`state_dict`, `load_state_dict`),
so a resumed run continues bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from charrnn.errors import CheckpointError, UsageError


# ------------------------------------------------------------------------------- clipping
def global_norm(grads: dict) -> float:
    """sqrt(sum of squares of every gradient entry), accumulated in float64."""
    total = 0.0
    for g in grads.values():
        flat = g.reshape(-1)
        total += float(np.dot(flat, flat))
    return math.sqrt(total)


def clip_by_global_norm(grads: dict, max_norm: float | None) -> float:
    """Scale all gradients by max_norm / norm when norm > max_norm; returns the norm before clipping."""
    norm = global_norm(grads)
    if max_norm and math.isfinite(norm) and norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for g in grads.values():
            g *= scale
    return norm


def clip_by_value(grads: dict, limit: float | None) -> None:
    """Clamp each gradient entry to [-limit, limit] (char-rnn's `grad_clip`)."""
    if limit:
        for g in grads.values():
            np.clip(g, -limit, limit, out=g)


# ----------------------------------------------------------------------------- optimizers
class Optimizer:
    """Base: `step(params, grads, lr)` updates `params` in place from `grads` (both keyed by name)."""

    slots: tuple[str, ...] = ()

    def __init__(self):
        self.state: dict[str, dict[str, np.ndarray]] = {s: {} for s in self.slots}
        self.t = 0

    def _slot(self, slot: str, name: str, like: np.ndarray) -> np.ndarray:
        buf = self.state[slot].get(name)
        if buf is None:
            buf = self.state[slot][name] = np.zeros_like(like)
        return buf

    def step(self, params: dict, grads: dict, lr: float) -> None:
        self.t += 1
        for name, g in grads.items():
            self.update(name, params[name], g, lr)

    def update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """A snapshot (copies) of the state, keyed "slot/name", plus the step count "t"."""
        out = {f"{slot}/{name}": a.copy() for slot, d in self.state.items() for name, a in d.items()}
        out["t"] = np.array(self.t, dtype=np.int64)
        return out

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        self.state = {s: {} for s in self.slots}
        for key, a in arrays.items():
            if key == "t":
                continue
            slot, _, name = key.partition("/")
            if slot not in self.state:
                raise CheckpointError(f"optimizer state {key!r} does not belong to {type(self).__name__}",
                                      hint="resume with the optimizer the run was started with")
            self.state[slot][name] = np.array(a)
        self.t = int(arrays.get("t", 0))


class SGD(Optimizer):
    """v = momentum * v - lr * g;  p += v   (plain SGD when momentum is 0)."""

    slots = ("v",)

    def __init__(self, momentum: float = 0.0):
        super().__init__()
        self.momentum = momentum

    def update(self, name, p, g, lr):
        if not self.momentum:
            p -= lr * g
            return
        v = self._slot("v", name, p)
        v *= self.momentum
        v -= lr * g
        p += v


# Adam's update as one compiled pass (charrnn.nn.fused.adam_update, the same arithmetic bit for
# bit), set by charrnn.nn.kernels.select when the fused path is chosen; None: the NumPy passes.
_adam_kernel = None


def use_adam_kernel(kernel) -> None:
    global _adam_kernel
    _adam_kernel = kernel


class Adam(Optimizer):
    """Kingma & Ba 2015: m, v running moments of g and g^2, bias-corrected; p -= lr * m^ / (sqrt(v^) + eps)."""

    slots = ("m", "v")

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__()
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self._scratch: dict[str, np.ndarray] = {}

    def update(self, name, p, g, lr):
        m, v = self._slot("m", name, p), self._slot("v", name, p)
        if _adam_kernel is not None and p.flags.c_contiguous and g.flags.c_contiguous and g.dtype == p.dtype:
            f = p.dtype.type
            _adam_kernel(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), f(self.beta1), f(1 - self.beta1),
                         f(self.beta2), f(1 - self.beta2), f(math.sqrt(1 - self.beta2 ** self.t)), f(self.eps),
                         f(lr / (1 - self.beta1 ** self.t)))
            return
        u = self._scratch.get(name)  # one reused temporary per parameter (not state): no allocations
        if u is None or u.shape != p.shape or u.dtype != p.dtype:
            u = self._scratch[name] = np.empty_like(p)
        m *= self.beta1
        m += np.multiply(g, 1 - self.beta1, out=u)  # m = b1 m + (1 - b1) g
        v *= self.beta2
        np.multiply(g, g, out=u)
        u *= 1 - self.beta2
        v += u  # v = b2 v + (1 - b2) g^2
        # the paper's Algorithm 1 exactly (as PyTorch): p -= lr * m^ / (sqrt(v^) + eps)
        denom = np.sqrt(v, out=u)
        denom /= math.sqrt(1 - self.beta2 ** self.t)
        denom += self.eps
        np.divide(m, denom, out=u)
        u *= lr / (1 - self.beta1 ** self.t)
        p -= u


class RMSprop(Optimizer):
    """Tieleman & Hinton: v = a v + (1-a) g^2;  p -= lr * g / (sqrt(v) + eps)  (char-rnn's default)."""

    slots = ("v",)

    def __init__(self, alpha: float = 0.95, eps: float = 1e-8):
        super().__init__()
        self.alpha, self.eps = alpha, eps

    def update(self, name, p, g, lr):
        v = self._slot("v", name, p)
        v *= self.alpha
        v += (1 - self.alpha) * (g * g)
        p -= lr * g / (np.sqrt(v) + self.eps)


class Adagrad(Optimizer):
    """Duchi et al. 2011: v += g^2;  p -= lr * g / (sqrt(v) + eps)  (min-char-rnn's optimizer)."""

    slots = ("v",)

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def update(self, name, p, g, lr):
        v = self._slot("v", name, p)
        v += g * g
        p -= lr * g / (np.sqrt(v) + self.eps)


OPTIMIZERS = {"adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad, "sgd": SGD}


def make_optimizer(name: str, momentum: float = 0.0) -> Optimizer:
    if name not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {name!r}", hint="--optimizer is one of " + ", ".join(OPTIMIZERS))
    return SGD(momentum) if name == "sgd" else OPTIMIZERS[name]()


# ------------------------------------------------------------------------------ schedule
def lr_at(base: float, decay: float, every: int | None, unit: str, step: int, epoch: int) -> float:
    """Learning rate for `step` / `epoch`: base * decay ** (completed periods of `every` steps or epochs)."""
    if not every or decay == 1.0:
        return base
    done = step if unit == "step" else epoch
    return base * decay ** (done // every)
