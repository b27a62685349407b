"""Scratch memory for the chunk forward/backward passes, owned by whoever runs the chunks.

Why: the big arrays of a chunk (gates, states, their gradients: T*B*G floats each, 5 MB at
H = 128 and 20 MB at H = 512 for B = T = 50) are too big for malloc to keep; fresh ones come
from the kernel and pay a page fault per 4 KiB page on first touch, which tripled the cost of the
loop lines writing into them. A run that executes thousands of chunks of one shape should
allocate them once.

How: a `Workspace` holds one flat byte buffer per name ("l0.A", "l1.dA", ...). `get(name, shape,
dtype)` returns a view of the first prod(shape) elements of that name's buffer, growing it (and
dropping the old one) when a bigger shape comes; a smaller shape (the last, shorter chunk of a
text) reuses the buffer it has. So the memory held is, per name, the largest array asked for;
at most `max_bytes` in all (beyond it, arrays are fresh and not kept); all of it goes with the
Workspace (or `clear()`).

The contract (what makes it correct without reference counting): an array from `get(name, ...)`
is valid until the next `get` of the same name. The owner runs one chunk at a time (forward,
then backward) and uses each name once per chunk; each layer has its own names (`scope`). Who
wants to keep a chunk's arrays (traces) passes no workspace: `take(None, ...)` is `np.empty`.

    ws = Workspace()                                  # one per training run / evaluation
    loss, grads, state = model.loss_and_grads(params, cfg, x, y, state, ws=ws)
    ws.nbytes                                         # bytes held
"""

from __future__ import annotations

import math

import numpy as np


class Workspace:
    """Named scratch buffers, each sized to the largest request, at most `max_bytes` in all."""

    def __init__(self, max_bytes: int | None = None):
        self.max_bytes = max_bytes
        self._slots: dict[str, np.ndarray] = {}  # name -> flat uint8 buffer

    def get(self, name: str, shape: tuple, dtype) -> np.ndarray:
        """An uninitialised array of `shape` that stays valid until the next get(name)."""
        dtype = np.dtype(dtype)
        need = math.prod(shape) * dtype.itemsize
        slot = self._slots.get(name)
        if slot is None or slot.nbytes < need:
            self._slots.pop(name, None)  # the old buffer goes before the new one is made
            if self.max_bytes is not None and self.nbytes + need > self.max_bytes:
                return np.empty(shape, dtype)  # over the cap: fresh, not kept
            slot = self._slots[name] = np.empty(max(need, 1), np.uint8)
        return slot[:need].view(dtype).reshape(shape)

    def scope(self, prefix: str) -> "Scope":
        """The same workspace with `prefix` before every name (one per layer)."""
        return Scope(self, prefix)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self._slots.values())

    def clear(self) -> None:
        self._slots.clear()


class Scope:
    def __init__(self, ws: Workspace, prefix: str):
        self.ws, self.prefix = ws, prefix

    def get(self, name: str, shape: tuple, dtype) -> np.ndarray:
        return self.ws.get(self.prefix + name, shape, dtype)


def take(ws: Workspace | Scope | None, name: str, shape: tuple, dtype) -> np.ndarray:
    """ws.get(name, shape, dtype), or a fresh np.empty(shape, dtype) without a workspace."""
    return np.empty(shape, dtype) if ws is None else ws.get(name, shape, dtype)
