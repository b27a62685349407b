"""A training run's state and its output directory: set up fresh, resumed or fine-tuned runs;
lock, checkpoint and log into the output directory."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charrnn import __version__, model
from charrnn.checkpoint import remove_partial, save_checkpoint
from charrnn.config import ModelConfig, TrainConfig
from charrnn.corpus import Corpus, Streams, load_corpus, split
from charrnn.errors import CheckpointError, CorpusError, UsageError, VocabError
from charrnn.optim import Optimizer, make_optimizer
from charrnn.trained import load_trained
from charrnn.vocab import Vocab
from charrnn.workspace import Workspace

# Training options that fix the data layout: a resumed run must keep them.
LAYOUT_OPTIONS = {"batch": "--batch", "seq_len": "--seq-len", "val_frac": "--val-frac",
                  "optimizer": "--optimizer"}  # (and the optimizer: its saved state fits no other)
MODEL_OPTIONS = {"cell": "--model", "hidden": "--hidden", "layers": "--layers", "dropout": "--dropout",
                 "dtype": "--dtype"}  # (not --forget-bias: it only shapes a new model's initial weights)


@dataclass
class Run:
    cfg: ModelConfig
    tcfg: TrainConfig
    vocab: Vocab
    corpus: Corpus
    params: dict
    optimizer: Optimizer
    rng: np.random.Generator
    state: list
    streams: Streams
    val_streams: Streams
    lookup: np.ndarray | None = None  # corpus ids -> model vocabulary ids (fine-tuning), or None
    step: int = 0
    epoch: int = 0
    chunk: int = 0
    lr: float = 0.0
    val_loss: float | None = None
    best_val_loss: float | None = None
    bad_evals: int = 0
    saved_step: int | None = None
    history: list = field(default_factory=list)
    # Scratch arrays of the training and validation chunks (sized once, freed with the run).
    workspace: Workspace = field(default_factory=Workspace, repr=False)

    def remap(self, ids: np.ndarray) -> np.ndarray:
        return ids if self.lookup is None else self.lookup[ids]

    @property
    def char_counts(self) -> list[int]:
        """How often each vocabulary character occurs in the training text (the sampler's fallback start)."""
        counts = np.zeros(self.vocab.size, dtype=np.int64)
        where = np.arange(len(self.corpus.counts)) if self.lookup is None else self.lookup
        np.add.at(counts, where, self.corpus.counts)
        return counts.tolist()

    @property
    def corpus_info(self) -> dict:
        c = self.corpus
        return {"path": str(Path(c.path).resolve()), "sha256": c.sha256, "n_chars": int(c.n_chars),
                "encoding_errors": c.encoding_errors if hasattr(c, "encoding_errors") else "strict"}


def estimate_memory(cfg: ModelConfig, batch: int, seq_len: int) -> int:
    """Bytes: parameters, gradients and Adam moments (4 copies) plus one chunk's forward cache."""
    item = np.dtype(cfg.dtype).itemsize
    G = {"lstm": 4, "gru": 3, "rnn": 1}[cfg.cell] * cfg.hidden
    per_layer = batch * seq_len * (2 * G + 4 * cfg.hidden)  # gates, their gradients, h/c/tanh(c)
    logits = 2 * batch * seq_len * cfg.vocab_size
    return item * (4 * model.n_params(cfg) + cfg.layers * per_layer + logits)


# -------------------------------------------------------------------------------- setting up
def _check_same(explicit: dict, saved: dict, names: dict, what: str, path) -> None:
    for key, option in names.items():
        if key in explicit and explicit[key] != saved[key]:
            raise UsageError(f"{option} {explicit[key]} does not match {saved[key]} in {what} {path}",
                             hint=f"drop {option} (it is read from the checkpoint) or start a new run with --out")


def _lookup(corpus_vocab: Vocab, model_vocab: Vocab, path) -> np.ndarray | None:
    if corpus_vocab == model_vocab:
        return None
    missing = [c for c in corpus_vocab.chars if c not in model_vocab]
    if missing:
        shown = ", ".join(repr(c) for c in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise VocabError(f"the corpus has {len(missing)} character(s) the checkpoint {path} does not know: {shown}",
                         hint="fine-tune only on text whose characters the model was trained on, "
                              "or train a new model")
    return np.array([model_vocab.index(c) for c in corpus_vocab.chars], dtype=np.intp)


def prepare_run(corpus_path, train_opts: dict, model_opts: dict, resume=None, init_from=None,
                encoding_errors="strict", cache_dir=None) -> tuple[Run, list[str]]:
    """Build the run: fresh, resumed (--resume: everything) or fine-tuned (--init-from: weights only).

    `train_opts` and `model_opts` hold only the options the user chose; the rest come from the
    checkpoint when resuming, else from the defaults.
    """
    warnings = []
    if resume is not None and init_from is not None:
        raise UsageError("--resume and --init-from cannot be used together",
                         hint="--resume continues a run; --init-from starts a new run from its weights")
    saved = load_trained(resume or init_from) if (resume or init_from) else None
    if resume is not None:
        tcfg = TrainConfig.from_dict({**saved.meta.get("train", {}), **train_opts})
        _check_same(train_opts, saved.train_cfg.to_dict(), LAYOUT_OPTIONS, "the checkpoint", resume)
    else:
        tcfg = TrainConfig(**train_opts)
    corpus = load_corpus(corpus_path, encoding_errors=encoding_errors, cache_dir=cache_dir)
    lookup = None
    if saved is None:
        cfg = ModelConfig(vocab_size=corpus.vocab.size, **model_opts)
        vocab = corpus.vocab
    else:
        _check_same(model_opts, saved.cfg.to_dict(), {k: v for k, v in MODEL_OPTIONS.items()
                                                       if not (init_from and k == "dropout")},
                    "the checkpoint", saved.path)
        cfg = saved.cfg if init_from is None or "dropout" not in model_opts else \
            ModelConfig.from_dict({**saved.cfg.to_dict(), "dropout": model_opts["dropout"]})
        vocab = saved.vocab
        lookup = _lookup(corpus.vocab, vocab, saved.path)
        if resume is not None and (saved.meta.get("corpus") or {}).get("sha256") not in (None, corpus.sha256):
            warnings.append(f"{corpus_path} differs from the text this run was trained on; continuing on the new text")
    train_ids, val_ids = split(corpus.ids, tcfg.val_frac)
    streams = Streams(train_ids, tcfg.batch, tcfg.seq_len)
    streams.require_train()
    if len(val_ids) < tcfg.seq_len + 1:  # not even one validation chunk of one stream
        raise CorpusError(f"the validation split has {len(val_ids):,} characters, fewer than one chunk needs "
                          f"(--seq-len {tcfg.seq_len} + 1)", hint="raise --val-frac, lower --seq-len or use more text")
    val_batch = min(tcfg.batch, max(1, (len(val_ids) - 1) // tcfg.seq_len))
    val_streams = Streams(val_ids, val_batch, tcfg.seq_len)
    rng = np.random.default_rng(tcfg.seed)
    if saved is None or init_from is not None:
        params = model.init_params(cfg, rng) if saved is None else {k: v.copy() for k, v in saved.params.items()}
    else:
        params = {k: v.copy() for k, v in saved.params.items()}
    run = Run(cfg, tcfg, vocab, corpus, params, make_optimizer(tcfg.optimizer, momentum=tcfg.momentum), rng,
              model.init_state(cfg, tcfg.batch), streams, val_streams, lookup, lr=tcfg.lr)
    if resume is not None:
        _restore(run, saved)
    if len(val_ids) < tcfg.batch * tcfg.seq_len:
        warnings.append(f"the validation split has {len(val_ids):,} characters, less than one batch "
                        f"({tcfg.batch} x {tcfg.seq_len}); its loss will be noisy (raise --val-frac)")
    if model.n_params(cfg) > len(train_ids):
        warnings.append(f"the model has {model.n_params(cfg):,} parameters for {len(train_ids):,} training "
                        "characters: it will memorise the text (try a smaller --hidden or more text)")
    return run, warnings


def _restore(run: Run, saved) -> None:
    """Everything a resumed run needs to continue exactly where the saved one stopped."""
    m = saved.meta
    try:
        run.optimizer.load_state_dict({k[4:]: v for k, v in saved.arrays.items() if k.startswith("opt/")})
        run.rng.bit_generator.state = m["rng"]
        run.step, run.epoch, run.chunk = int(m["step"]), int(m["epoch"]), int(m["chunk"])
        run.best_val_loss, run.val_loss = m.get("best_val_loss"), m.get("val_loss")
        run.bad_evals, run.history = int(m.get("bad_evals", 0)), list(m.get("history", []))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{saved.path} cannot be resumed: its training state is incomplete ({e})",
                              hint="use --init-from to start a new run from its weights") from None
    state = saved.carried_state()
    if state is not None and state[0][0].shape[0] == run.tcfg.batch:
        run.state = [tuple(a.astype(run.cfg.dtype) for a in layer) for layer in state]
    run.saved_step = run.step


# ------------------------------------------------------------------------------ output folder
class RunDir:
    """The output directory: latest.npz, best.npz, metrics.jsonl, and a lock against a second run."""

    def __init__(self, path, overwrite: bool = False, resume_from=None):
        self.path = Path(path)
        # --resume into the directory the checkpoint came from continues that run (and its log);
        # anything else is a new run there, which may not silently mix with an old one.
        self.continues = resume_from is not None and Path(resume_from).resolve().parent == self.path.resolve()
        self._truncate_metrics = not self.continues  # a new log (at the first record)
        self.latest, self.best = self.path / "latest.npz", self.path / "best.npz"
        self.metrics = self.path / "metrics.jsonl"
        self.lock = self.path / ".lock"
        self.overwrite = overwrite
        self._locked = False

    def __enter__(self):
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"--out {self.path} is a file, not a directory",
                             hint="give --out a directory name (it is created if needed)")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._acquire()
            remove_partial(self.path)  # temporary files of a save that was killed
        except PermissionError:
            raise CheckpointError(f"cannot write to {self.path}/: permission denied",
                                  hint="choose a writable directory with --out") from None
        except OSError as e:
            raise CheckpointError(f"cannot use {self.path}/ for output: {e.strerror or e}",
                                  hint="choose another directory with --out") from None
        held = [f for f in (self.latest, self.best) if f.exists()]
        if held and not self.continues:
            if not self.overwrite:
                self.release()
                raise UsageError(f"{self.path}/ already holds a training run ({held[0].name})",
                                 hint=f"continue it with --resume {held[0]}, keep it and write elsewhere with "
                                      "--out DIR, or replace it with --overwrite")
            for f in (self.latest, self.best, self.metrics):  # --overwrite: no stale file of the old run
                f.unlink(missing_ok=True)
        return self

    def __exit__(self, *exc):
        self.release()

    def _acquire(self) -> None:
        me = f"{os.getpid()} {socket.gethostname()}"
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._lock_is_live():
                    raise UsageError(f"another `charrnn train` ({self.lock.read_text().strip()}) is writing to "
                                     f"{self.path}/", hint="wait for it to finish, or use --out another directory")
                self.lock.unlink(missing_ok=True)  # left behind by a run that was killed
                continue
            with os.fdopen(fd, "w") as f:
                f.write(me)
            self._locked = True
            return
        raise UsageError(f"could not lock {self.path}/", hint="remove the stale file " + str(self.lock))

    def _lock_is_live(self) -> bool:
        try:
            pid, host = self.lock.read_text().split()
            if host != socket.gethostname():
                return True  # another machine: we cannot tell, so we do not take over
            os.kill(int(pid), 0)
            return True
        except (ValueError, OSError):
            return False

    def release(self) -> None:
        if self._locked:
            self.lock.unlink(missing_ok=True)
            self._locked = False

    def save(self, run: Run, best: bool) -> None:
        arrays = {f"param/{k}": v for k, v in run.params.items()}
        arrays.update({f"opt/{k}": v for k, v in run.optimizer.state_dict().items()})
        for k, layer in enumerate(run.state):
            for name, a in zip("hc", layer):
                arrays[f"state/l{k}.{name}"] = a
        meta = {"model": run.cfg.to_dict(), "train": run.tcfg.to_dict(), "vocab": run.vocab.to_list(),
                "step": run.step, "epoch": run.epoch, "chunk": run.chunk, "val_loss": run.val_loss,
                "best_val_loss": run.best_val_loss, "bad_evals": run.bad_evals,
                "rng": run.rng.bit_generator.state, "corpus": run.corpus_info, "char_counts": run.char_counts,
                "history": run.history,
                "charrnn_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        save_checkpoint(self.latest, arrays, meta)
        if best:
            save_checkpoint(self.best, arrays, meta)
        run.saved_step = run.step

    def log_metrics(self, record: dict) -> None:
        with open(self.metrics, "w" if self._truncate_metrics else "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        self._truncate_metrics = False
