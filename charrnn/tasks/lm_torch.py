"""The language model's step on PyTorch (`train --backend torch`), and the weights' torch layout.

The run stays the engine's: parameters and optimizer state are NumPy arrays on the CPU, so the
checkpoint (.npz, the same schema), the optimizer, clipping, the stop rules, Ctrl-C, metrics and
resume are those of every other run. Each step copies the parameters into the torch model on
`--device`, runs the forward and backward there (torch's nn.LSTM / nn.RNN, the GRU of
charrnn.torch_model), and copies the gradients back in charrnn's layout:

    copy in  (params -> device)  P floats          copy out  (grads -> host)  P floats

Dropout masks are drawn by the run's NumPy generator in the NumPy backend's order and shapes,
so both backends consume the same random numbers (exact resume across them).

Many processes (torchrun sets RANK, WORLD_SIZE, LOCAL_RANK): each rank joins the process group
(NCCL on CUDA, gloo on the CPU), the model is wrapped in DistributedDataParallel, and rank r
trains on streams [r B/W, (r+1) B/W) of the B batch streams (B must divide by the world size W):
the all-reduced mean of the ranks' gradients is the gradient of the whole batch. Every rank keeps
the same parameters (the same gradients, the same NumPy optimizer); the carried state is
all-gathered so every rank holds the whole batch's (a checkpoint does not depend on W); stop
decisions (--time, Ctrl-C) are agreed by all ranks each step; only rank 0 writes the run folder.

Weights, charrnn -> torch (gate blocks H wide; charrnn LSTM [i, f, o, g], torch [i, f, g, o]):

    l{k}.Wx (D, G)  -> layers.k.weight_ih_l0 (G, D) transposed (LSTM: blocks g, o swapped)
    l{k}.Wh (H, G)  -> layers.k.weight_hh_l0 (G, H) likewise;   l{k}.b -> bias_ih_l0 (bias_hh_l0 = 0)
    GRU: layers.k.Wx, .Wh, .b as they are;   Wy (H, V) -> out.weight (V, H);   by -> out.bias
"""

from __future__ import annotations

import os
import re

import numpy as np

from charrnn.engine.rundir import RunDir
from charrnn.engine.task import Step
from charrnn.errors import UsageError
from charrnn.tasks import lm as model
from charrnn.tasks.lm_task import LMTask

EXTRA = "pip install 'charrnn[torch]'"


def require_torch(what: str = "--backend torch"):
    """The torch module, or one clear error naming the extra to install."""
    try:
        import torch
    except ImportError:
        raise UsageError(f"{what} needs PyTorch, which is not installed", hint=f"install it with {EXTRA}") from None
    return torch


# ------------------------------------------------------------------------ layout
def _order(cell: str, H: int):
    """Column order taking charrnn's gate blocks to torch's (its own inverse): LSTM i f o g <-> i f g o."""
    return np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H] if cell == "lstm" else slice(None)


def _names(cfg) -> list[tuple[str, str, bool]]:
    """(torch name, charrnn name, transposed) for every trained parameter."""
    out = []
    for k in range(cfg.layers):
        if cfg.cell == "gru":
            out += [(f"layers.{k}.{n}", f"l{k}.{n}", False) for n in ("Wx", "Wh", "b")]
        else:
            out += [(f"layers.{k}.weight_ih_l0", f"l{k}.Wx", True), (f"layers.{k}.weight_hh_l0", f"l{k}.Wh", True),
                    (f"layers.{k}.bias_ih_l0", f"l{k}.b", False)]
    return out + [("out.weight", "Wy", True), ("out.bias", "by", False)]


def to_torch(params: dict, cfg) -> dict[str, np.ndarray]:
    """charrnn's parameters -> the arrays of CharRNN.state_dict() (bias_hh: zeros), float as stored."""
    order, out = _order(cfg.cell, cfg.hidden), {}
    for tname, name, transposed in _names(cfg):
        a = params[name]
        if name.startswith("l") and cfg.cell == "lstm":
            a = a[..., order]
        out[tname] = np.ascontiguousarray(a.T if transposed else a)
        if tname.endswith("bias_ih_l0"):
            out[tname.replace("bias_ih", "bias_hh")] = np.zeros_like(a)
    return out


def from_torch(arrays: dict, cfg) -> dict[str, np.ndarray]:
    """The inverse of to_torch on the trained names (gradients come back this way)."""
    order, out = _order(cfg.cell, cfg.hidden), {}
    for tname, name, transposed in _names(cfg):
        a = arrays[tname].T if transposed else arrays[tname]
        out[name] = np.ascontiguousarray(a[..., order] if name.startswith("l") and cfg.cell == "lstm" else a)
    return out


def build(cfg, params: dict | None = None, device="cpu"):
    """A charrnn.torch_model.CharRNN for cfg on `device`, holding `params` (charrnn's names) if given."""
    torch = require_torch()
    from charrnn.torch_model import CharRNN

    m = CharRNN(cfg.cell, cfg.vocab_size, cfg.hidden, cfg.layers).to(getattr(torch, cfg.dtype))
    if params is not None:
        m.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch(params, cfg).items()})
    return m.to(device)


# ------------------------------------------------------------------------ devices and processes
def pick_device(name: str, torch, local_rank: int = 0):
    """--device auto|cpu|cuda|cuda:N -> torch.device; cuda without a GPU is one clear error."""
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", name):
        raise UsageError(f"invalid value for --device: {name} (want auto, cpu, cuda or cuda:N)",
                         hint="e.g. --device cuda:0")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name}: no CUDA GPU is visible to PyTorch "
                             f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'})",
                             hint="use --device cpu, or install a CUDA build of torch on a machine with a GPU")
        if name == "cuda":  # under torchrun each process takes the GPU of its LOCAL_RANK
            name = f"cuda:{local_rank % torch.cuda.device_count()}"
        if int(name.split(":")[1]) >= torch.cuda.device_count():
            raise UsageError(f"--device {name}: only {torch.cuda.device_count()} GPU(s) are visible",
                             hint="use --device cuda (the first GPU) or a smaller index")
    return torch.device(name)


def world() -> tuple[int, int, int]:
    """(rank, world size, local rank) as torchrun sets them; (0, 1, 0) in a plain process."""
    env = os.environ
    return int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))


def under_torchrun() -> bool:
    return world()[1] > 1


STOPS = (None, "max-steps", "epochs", "time", "patience", "terminate", "interrupt")  # higher wins


class TorchLMTask(LMTask):
    """The language model, its training step run by PyTorch (see the module docstring)."""

    def __init__(self, device: str = "auto"):
        self.device_name = device
        self.rank, self.world, self.local_rank = world()

    def prepare(self, corpus_path, train_opts, model_opts, task_opts=None, resume=None, init_from=None,
                encoding_errors="strict", cache_dir=None):
        torch = require_torch()
        self.torch = torch
        self.device = pick_device(self.device_name, torch, self.local_rank)
        run, warnings = super().prepare(corpus_path, train_opts, model_opts, task_opts, resume, init_from,
                                        encoding_errors, cache_dir)
        if run.tcfg.batch % self.world:
            raise UsageError(f"--batch {run.tcfg.batch} does not divide among {self.world} processes",
                             hint=f"use a multiple of {self.world}, e.g. --batch {self.world * max(1, run.tcfg.batch // self.world)}")
        saved_world = _saved_world(resume)
        if saved_world not in (None, self.world):
            warnings.append(f"this run was saved by {saved_world} process(es) and continues on {self.world}: the same "
                            "data and state, but the averaged gradients round differently (not bit-for-bit)")
        self.share = slice(self.rank * run.tcfg.batch // self.world, (self.rank + 1) * run.tcfg.batch // self.world)
        self.module = build(run.cfg, run.params, self.device).train()
        self.step_module = self.module
        if self.world > 1:
            if not torch.distributed.is_initialized():
                torch.distributed.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.step_module = DistributedDataParallel(self.module, device_ids=ids)
        self.trained = [(tn, p) for tn, p in self.module.named_parameters() if p.requires_grad]
        return run, warnings

    def meta(self, run) -> dict:
        return {**super().meta(run), "world_size": self.world}

    # ------------------------------------------------------------------ one step
    def _tensor(self, a):
        return self.torch.from_numpy(np.ascontiguousarray(a)).to(self.device)

    def train_step(self, run):
        torch, cfg = self.torch, run.cfg
        if run.chunk >= run.streams.n_chunks:  # wrap: new epoch, fresh state (as LMTask)
            run.epoch, run.chunk = run.epoch + 1, 0
            run.state = model.init_state(cfg, run.tcfg.batch)
        x, y = run.streams.chunk(run.chunk)
        x, y, share = run.remap(x), run.remap(y), self.share
        masks = None
        if cfg.dropout > 0:  # the NumPy backend's draws: (T, B, H) per layer, in layer order
            keep = 1.0 - cfg.dropout
            masks = [self._tensor(((run.rng.random((x.shape[1], x.shape[0], cfg.hidden)) < keep) / keep)
                                  .astype(cfg.dtype)[:, share]) for _ in range(cfg.layers)]
        with torch.no_grad():  # copy in
            arrays = to_torch(run.params, cfg)
            for tname, p in self.trained:
                p.copy_(torch.from_numpy(arrays[tname]))
        state = [tuple(self._tensor(a[share]) for a in layer) for layer in run.state]
        self.module.zero_grad(set_to_none=True)
        logits, stateT = self.step_module(self._tensor(x[share].astype(np.int64)), state, masks)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab_size),
                                                 self._tensor(y[share].astype(np.int64)).reshape(-1))
        loss.backward()  # (DDP: the gradients arrive averaged over the ranks)
        grads = from_torch({tname: p.grad.detach().cpu().numpy() for tname, p in self.trained}, cfg)
        loss = loss.detach()
        new_state = [tuple(a.detach() for a in layer) for layer in stateT]
        if self.world > 1:
            dist = torch.distributed
            dist.all_reduce(loss)
            loss /= self.world
            new_state = [tuple(self._gather(a) for a in layer) for layer in new_state]
        carry = [tuple(a.cpu().numpy() for a in layer) for layer in new_state]
        return Step(float(loss), grads, run.tcfg.batch * run.tcfg.seq_len, carry)

    def _gather(self, a):
        parts = [self.torch.empty_like(a) for _ in range(self.world)]
        self.torch.distributed.all_gather(parts, a.contiguous())
        return self.torch.cat(parts)

    # ------------------------------------------------------------------ many processes
    def agree(self, run, reason):
        """The stop decision of the whole group: the strongest reason any rank has (all stop together)."""
        if self.world == 1:
            return reason
        code = self.torch.tensor([STOPS.index(reason)], dtype=self.torch.int64, device=self.device)
        self.torch.distributed.all_reduce(code, op=self.torch.distributed.ReduceOp.MAX)
        return STOPS[int(code.item())]

    def open_rundir(self, out_dir, overwrite, resume):
        """Rank 0 writes the run folder (and holds its lock); the other ranks only read it."""
        kind = RunDir if self.rank == 0 else ReadOnlyRunDir
        return kind(out_dir, self, overwrite=overwrite, resume_from=resume)


def _saved_world(resume) -> int | None:
    """The number of processes that wrote the checkpoint resumed from (1: the NumPy backend)."""
    if resume is None:
        return None
    from charrnn.engine.checkpoint import load_checkpoint

    return int(load_checkpoint(resume)[1].get("world_size", 1))


class ReadOnlyRunDir(RunDir):
    """The run folder as ranks other than 0 see it: read (resume, best.npz), never written or locked."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def save(self, run, best, latest=True):
        if latest:
            run.saved_step = run.step

    def log_metrics(self, record):
        pass

    def _repair_metrics(self, run):
        pass
