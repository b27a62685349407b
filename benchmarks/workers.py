"""One measurement per process: `python benchmarks/workers.py '<json job>'` prints one JSON line.

Jobs (dict): impl "charrnn" | "torch", kind "train" | "sample" | "race", cell, hidden, layers,
batch, seq, steps, warmup, chars (sampling), min_seconds, seconds (race), corpus, lr, seed.

* train: chars/s over blocks of `steps` optimizer steps (as many blocks as `min_seconds` needs) after `warmup` steps (forward, backward, global-norm
  clip 5, Adam); truncated BPTT over B contiguous streams, state carried across chunks.
* sample: chars/s of a batch-1 loop: one step, softmax, one draw, feed back (blocks of `chars`
  characters until `min_seconds` have passed).
* race: train for `seconds`, then the validation loss (nats/char) over the last 10 % of the corpus.
Every job reports `rss_mb`, the peak resident set size of its own process (VmHWM).

The PyTorch model is the one in ../shared/bench/torch_peer.py: one-hot input (a frozen identity
embedding), nn.LSTM / nn.GRU / nn.RNN, nn.Linear, CrossEntropyLoss, Adam, clip_grad_norm_ 5.
charrnn never imports torch; only the torch jobs do.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # charrnn from this checkout, whichever interpreter runs us


def load_text(path: str | None) -> str:
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return f.read()
    rng = np.random.default_rng(0)  # synthetic fallback: 65 symbols, some structure
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM"), rng.integers(2, 8)))
             for _ in range(500)]
    return " ".join(rng.choice(words, 200_000)) + ".,;:!?'-\n0123456789NOPQRSTUVWXYZ&$3"


def encode(text: str):
    """Character ids (uint8 / uint16) in sorted-character order, encoded in 1 MB pieces so that the
    peak RSS of a job is the model's, not that of a Python list per character."""
    chars = sorted(set(text))
    lut = np.zeros(ord(chars[-1]) + 1, dtype=np.uint8 if len(chars) <= 256 else np.uint16)
    lut[[ord(c) for c in chars]] = np.arange(len(chars))
    ids = np.empty(len(text), dtype=lut.dtype)
    for i in range(0, len(text), 1 << 20):
        ids[i:i + (1 << 20)] = lut[np.frombuffer(text[i:i + (1 << 20)].encode("utf-32-le"), dtype=np.uint32)]
    return ids, len(chars)


def streams(ids: np.ndarray, B: int):
    """B contiguous streams: x (B, L), y (B, L) shifted by one (char-rnn batching)."""
    L = (len(ids) - 1) // B
    return ids[:L * B].reshape(B, L), ids[1:L * B + 1].reshape(B, L), L


def rss_mb() -> float:
    """Peak RSS of this process in MB: VmHWM of its own address space (ru_maxrss on Linux also
    counts the parent's RSS at fork time, inherited across exec)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024.0
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# ------------------------------------------------------------------------------- charrnn
def _threads(threads):
    """--threads for a charrnn job: None (the BLAS default), a count, or 'auto' (a ThreadTuner)."""
    if threads is None:
        return None
    from charrnn.threads import Blas, ThreadTuner
    blas = Blas()
    if threads == "auto":
        return ThreadTuner(blas.max_threads, blas.set)
    blas.set(int(threads))
    return None


def maybe_unit(tuner):
    from charrnn.threads import maybe_unit as unit
    return unit(tuner)


def charrnn_trainer(job, V):
    from charrnn import model, optim
    from charrnn.config import ModelConfig
    from charrnn.workspace import Workspace
    cfg = ModelConfig(cell=job["cell"], vocab_size=V, hidden=job["hidden"], layers=job["layers"],
                      forget_bias=job.get("forget_bias", 1.0))
    ws = Workspace()  # the scratch arrays of the chunks, as `charrnn train` keeps them
    tuner = job["_tuner"] = _threads(job.get("threads"))
    params = model.init_params(cfg, np.random.default_rng(job["seed"]))
    opt = optim.make_optimizer("adam")
    box = {"state": model.init_state(cfg, job["batch"])}

    def train_step(x, y, reset):
        if reset:
            box["state"] = model.init_state(cfg, job["batch"])
        with maybe_unit(tuner):
            loss, grads, box["state"] = model.loss_and_grads(params, cfg, x, y, box["state"], ws=ws)
            optim.clip_by_global_norm(grads, 5.0)
        opt.step(params, grads, job["lr"])
        return loss

    def val_loss(X, Y, L):
        state, tot, cnt = model.init_state(cfg, X.shape[0]), 0.0, 0
        for p0 in range(0, L, job["seq"]):
            s, n, state = model.loss_sum(params, cfg, X[:, p0:p0 + job["seq"]], Y[:, p0:p0 + job["seq"]], state, ws)
            tot, cnt = tot + s, cnt + n
        return tot / cnt

    return train_step, val_loss


def charrnn_sampler(job, V):
    """The sampler `charrnn sample` runs: sample.generate (Gumbel-max draw at temperature 1)."""
    from itertools import islice

    from charrnn import model, sample
    from charrnn.config import ModelConfig
    from charrnn.vocab import Vocab
    cfg = ModelConfig(cell=job["cell"], vocab_size=V, hidden=job["hidden"], layers=job["layers"])
    params = model.init_params(cfg, np.random.default_rng(job["seed"]))
    _threads(job.get("threads", 1))  # `charrnn sample` runs at 1 thread unless --threads says otherwise
    vocab = Vocab([chr(0x4E00 + i) for i in range(V)])  # any V characters: ids are what matter
    chars = sample.generate(params, cfg, vocab, length=1 << 62, rng=np.random.default_rng(job["seed"]))

    def run(n):
        for _ in islice(chars, n):
            pass
    return run


# --------------------------------------------------------------------------------- torch
def torch_model(job, V):
    import torch
    import torch.nn as nn
    torch.manual_seed(job["seed"])

    class M(nn.Module):
        def __init__(s):
            super().__init__()
            s.emb = nn.Embedding(V, V)
            s.emb.weight.data = torch.eye(V)
            s.emb.weight.requires_grad_(False)  # one-hot input
            s.rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[job["cell"]](
                V, job["hidden"], job["layers"], batch_first=True)
            s.out = nn.Linear(job["hidden"], V)

        def forward(s, x, h=None):
            y, h = s.rnn(s.emb(x), h)
            return s.out(y), h
    return M()


def torch_trainer(job, V):
    import torch
    import torch.nn as nn
    m = torch_model(job, V)
    opt = torch.optim.Adam([q for q in m.parameters() if q.requires_grad], lr=job["lr"])
    lossf = nn.CrossEntropyLoss()
    box = {"h": None}

    def detach(h):
        return tuple(t.detach() for t in h) if isinstance(h, tuple) else h.detach()

    def train_step(x, y, reset):
        if reset:
            box["h"] = None
        logits, h = m(torch.from_numpy(x.astype(np.int64)), box["h"])
        box["h"] = detach(h)
        loss = lossf(logits.reshape(-1, V), torch.from_numpy(y.astype(np.int64)).reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(m.parameters(), 5.0)
        opt.step()
        return loss.item()

    def val_loss(X, Y, L):
        with torch.no_grad():
            h, tot, cnt = None, 0.0, 0
            for p0 in range(0, L, job["seq"]):
                x, y = (torch.from_numpy(a[:, p0:p0 + job["seq"]].astype(np.int64)) for a in (X, Y))
                logits, h = m(x, h)
                tot += nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="sum").item()
                cnt += y.numel()
        return tot / cnt

    return train_step, val_loss


def torch_sampler(job, V):
    import torch
    m = torch_model(job, V)
    eye = torch.eye(V)
    state = {"x": torch.zeros(1, 1, dtype=torch.long), "h": None}

    def sample(n):
        with torch.inference_mode():
            x, h = state["x"], state["h"]
            for _ in range(n):
                y, h = m.rnn(eye[x].view(1, 1, V), h)
                p = torch.softmax(m.out(y[0, 0]), -1)
                x = torch.multinomial(p, 1).view(1, 1)
            state["x"], state["h"] = x, h
    return sample


# ---------------------------------------------------------------------------------- jobs
def run(job: dict) -> dict:
    ids, V = encode(load_text(job.get("corpus")))
    out = {"impl": job["impl"], "kind": job["kind"], "cell": job["cell"], "hidden": job["hidden"], "vocab": V}
    if job["kind"] == "sample":
        sample = (charrnn_sampler if job["impl"] == "charrnn" else torch_sampler)(job, V)
        sample(job["warmup_chars"])
        n, t0 = 0, time.perf_counter()
        while True:  # blocks of `chars` until at least `min_seconds` have passed
            sample(job["chars"])
            n, elapsed = n + job["chars"], time.perf_counter() - t0
            if elapsed >= job.get("min_seconds", 0.0):
                break
        out["chars_per_s"] = n / elapsed
        out["rss_mb"] = rss_mb()
        return out
    n_train = int(len(ids) * 0.9)
    train_step, val_loss = (charrnn_trainer if job["impl"] == "charrnn" else torch_trainer)(job, V)
    X, Y, L = streams(ids[:n_train], job["batch"])
    pos, step, T = 0, 0, job["seq"]

    def one():
        nonlocal pos
        reset = pos + T > L
        pos = 0 if reset else pos
        loss = train_step(np.ascontiguousarray(X[:, pos:pos + T]), np.ascontiguousarray(Y[:, pos:pos + T]), reset)
        pos += T
        return loss

    if job["kind"] == "train":
        for _ in range(job["warmup"]):
            one()
        n, t0 = 0, time.perf_counter()
        while True:  # blocks of `steps` until at least `min_seconds` have passed
            for _ in range(job["steps"]):
                loss = one()
            n, elapsed = n + job["steps"], time.perf_counter() - t0
            if elapsed >= job.get("min_seconds", 0.0):
                break
        out["chars_per_s"] = n * job["batch"] * T / elapsed
        out["steps"] = n
        out["loss"] = loss
        if job.get("_tuner") is not None:
            out["auto"] = job["_tuner"].describe()
            out["auto_decisions"] = [c for _, c, _ in job["_tuner"].log]  # the count chosen at each probe
    else:  # race: wall-clock budget, then validation on the last 10 %
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < job["seconds"]:
            loss = one()
            step += 1
        out["steps"], out["train_s"], out["train_loss"] = step, time.perf_counter() - t0, loss
        Xv, Yv, Lv = streams(ids[n_train:], job["batch"])
        out["val_loss"] = val_loss(Xv, Yv, Lv)
    out["rss_mb"] = rss_mb()
    return out


def versions() -> dict:
    import torch
    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}


if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    print(json.dumps(versions() if job.get("kind") == "versions" else run(job)))
