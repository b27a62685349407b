"""One measurement per process: `python benchmarks/workers.py '<json job>'` prints one JSON line.

Jobs (dict): impl "charrnn" | "torch", kind "train" | "sample" | "race", cell, hidden, layers,
batch, seq, steps, warmup, chars (sampling), min_seconds, seconds (race), corpus, lr, seed,
kernels (charrnn: auto | numpy | fused, as `charrnn train --kernels`; the output says which ran),
threads (charrnn: as `charrnn train --threads`; default all the cores), rows (charrnn: false turns
off the row blocks of charrnn.nn.rows, for A/B runs).

* train: chars/s over blocks of `steps` optimizer steps (as many blocks as `min_seconds` needs) after `warmup` steps (forward, backward, global-norm
  clip 5, Adam); truncated BPTT over B contiguous streams, state carried across chunks.
* sample: chars/s of a batch-1 loop: one step, softmax, one draw, feed back (blocks of `chars`
  characters until `min_seconds` have passed).
* race: train for `seconds`, then the validation loss (nats/char) over the last 10 % of the corpus.
Every job reports `rss_mb`, the peak resident set size of its own process (VmHWM).

Data, stream layout, validation split and validation pass are charrnn's own (charrnn.data.corpus:
load_corpus, split, Streams; charrnn.use.evaluate.stream_loss), fed to both implementations.
The PyTorch model (written after the peer script torch_peer.py that sits beside the project,
outside this repository): one-hot input (a frozen identity
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


def load_ids(path: str | None):
    """(ids, V): the corpus as `charrnn train` reads it (charrnn.data.corpus: bounded memory, so the peak
    RSS of a job is the model's), or a synthetic text when there is no corpus file."""
    from charrnn.data.corpus import load_corpus
    from charrnn.data.vocab import Vocab

    if path and os.path.exists(path):
        corpus = load_corpus(path)
        return corpus.ids, corpus.vocab.size
    rng = np.random.default_rng(0)  # synthetic fallback: 65 symbols, some structure
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM"), rng.integers(2, 8)))
             for _ in range(500)]
    text = " ".join(rng.choice(words, 200_000)) + ".,;:!?'-\n0123456789NOPQRSTUVWXYZ&$3"
    vocab = Vocab.from_text(text)
    return vocab.encode(text), vocab.size


def rss_mb() -> float:
    """Peak RSS of this process in MB: VmHWM of its own address space (ru_maxrss on Linux also
    counts the parent's RSS at fork time, inherited across exec)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024.0
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# ------------------------------------------------------------------------------- charrnn
def _threads(threads, rows=None):
    """--threads for a charrnn job, set as `charrnn train` sets it (charrnn.nn.threads.blas_threads,
    held for the job's life): None (all the cores), a count, or 'auto' (returns its ThreadTuner).
    `rows`: the RowBlocks of a training job where splitting the streams pays (charrnn.nn.rows)."""
    from charrnn.nn.threads import available_cores, blas_threads
    setting = blas_threads(available_cores() if threads is None else threads, rows=rows)
    _HELD.append(setting)
    return setting.__enter__()


_HELD = []  # the thread settings of this process's job


def maybe_unit(tuner):
    from charrnn.nn.threads import maybe_unit as unit
    return unit(tuner)


def charrnn_trainer(job, V):
    from charrnn.tasks import lm as model
    from charrnn.nn import optim
    from charrnn.config import ModelConfig
    from charrnn.nn.workspace import Workspace
    from charrnn.use.evaluate import stream_loss
    cfg = ModelConfig(cell=job["cell"], vocab_size=V, hidden=job["hidden"], layers=job["layers"],
                      **{k: job[k] for k in ("forget_bias", "bias_init", "init_scale") if k in job})
    from charrnn.nn.rows import for_training
    ws = Workspace()  # the scratch arrays of the chunks, as `charrnn train` keeps them
    rows = for_training(cfg, job["batch"]) if job.get("rows", True) else None
    tuner = job["_tuner"] = _threads(job.get("threads"), rows)
    params = model.init_params(cfg, np.random.default_rng(job["seed"]))
    opt = optim.make_optimizer("adam")
    box = {"state": model.init_state(cfg, job["batch"]), "step": 0, "epoch": 0}
    decay = (job.get("lr_decay", 1.0), job.get("lr_decay_every", 0), job.get("lr_decay_unit", "epoch"))

    def train_step(x, y, reset):
        if reset:  # a new epoch
            box["state"] = model.init_state(cfg, job["batch"])
            box["epoch"] += 1
        with maybe_unit(tuner):
            if rows is None:
                loss, grads, box["state"] = model.loss_and_grads(params, cfg, x, y, box["state"], ws=ws)
            else:  # as `charrnn train`: the streams split over the cores (charrnn.nn.rows)
                loss, grads, box["state"] = rows.loss_and_grads(model.loss_and_grads, params, cfg, x, y,
                                                                box["state"], ws=ws)
            optim.clip_by_global_norm(grads, 5.0)
        opt.step(params, grads, optim.lr_at(job["lr"], *decay, box["step"], box["epoch"]))  # as `charrnn train`
        box["step"] += 1
        return loss

    def val_loss(streams):  # the validation pass of `charrnn train`
        tot, cnt = stream_loss(params, cfg, streams, ws=ws)
        return tot / cnt

    return train_step, val_loss


def charrnn_sampler(job, V):
    """The sampler `charrnn sample` runs: sample.generate (Gumbel-max draw at temperature 1)."""
    from itertools import islice

    from charrnn.tasks import lm as model
    from charrnn.use import sample
    from charrnn.config import ModelConfig
    from charrnn.data.vocab import Vocab
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

    def val_loss(streams):  # the same chunks as charrnn's validation pass
        with torch.no_grad():
            h, tot, cnt = None, 0.0, 0
            for xa, ya in streams.eval_chunks():
                x, y = (torch.from_numpy(a.astype(np.int64)) for a in (xa, ya))
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
    from charrnn.data.corpus import Streams, split

    ids, V = load_ids(job.get("corpus"))
    out = {"impl": job["impl"], "kind": job["kind"], "cell": job["cell"], "hidden": job["hidden"], "vocab": V}
    if job["impl"] == "charrnn":  # the cells' time loop, as `charrnn train --kernels` chooses it (compiled in warm-up)
        from charrnn.nn.kernels import select
        out["kernels"] = select(job.get("kernels", "auto"))
        out["rows"] = job.get("rows", True)
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
    train_ids, val_ids = split(ids, 0.1)
    train_step, val_loss = (charrnn_trainer if job["impl"] == "charrnn" else torch_trainer)(job, V)
    streams = Streams(train_ids, job["batch"], job["seq"])  # the layout `charrnn train` reads
    chunk, step = 0, 0

    def one():
        nonlocal chunk
        reset = chunk >= streams.n_chunks  # a new epoch starts from a fresh state
        chunk = 0 if reset else chunk
        x, y = streams.chunk(chunk)
        chunk += 1
        return train_step(x, y, reset)

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
        out["chars_per_s"] = n * job["batch"] * job["seq"] / elapsed
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
        out["val_loss"] = val_loss(Streams(val_ids, job["batch"], job["seq"]))
    out["rss_mb"] = rss_mb()
    return out


def versions() -> dict:
    import torch
    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}


if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    print(json.dumps(versions() if job.get("kind") == "versions" else run(job)))
