"""A training run's state, and how it is set up: fresh, resumed (--resume) or fine-tuned
(--init-from). Its output folder is rundir.py."""

from __future__ import annotations

import os
import sys

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charrnn.tasks import lm as model
from charrnn.config import ModelConfig, TrainConfig
from charrnn.data.corpus import Corpus, Streams, load_corpus, split
from charrnn.errors import CheckpointError, CorpusError, UsageError, VocabError
from charrnn.nn.optim import Optimizer, make_optimizer
from charrnn.options import OPTIONS, default, default_lr, key_of_field
from charrnn.engine.trained import load_trained
from charrnn.data.vocab import Vocab, describe
from charrnn.nn.workspace import Workspace

# Training options that fix the data layout: a resumed run must keep them.
LAYOUT_FIELDS = ("batch", "seq_len", "val_frac", "optimizer")  # (the optimizer: its saved state fits no other)
MODEL_FIELDS = ("cell", "hidden", "layers", "dropout", "dtype")  # (not forget_bias: it only shapes new weights)


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
    base_bytes: int = 0  # resident memory once set up (corpus, parameters): what est. memory adds to
    eval_every: int = 500  # steps between validation passes (resolved by validation.eval_period)
    validation: object = None  # validation.ValidationPlan: what is scored, and what it costs

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


# -------------------------------------------------------------------------------- setting up
def _check_same(explicit: dict, saved: dict, names, what: str, path) -> None:
    for key in names:
        option = OPTIONS[key_of_field(key)].flag
        if key in explicit and explicit[key] != saved[key]:
            raise UsageError(f"{option} {explicit[key]} does not match {saved[key]} in {what} {path}",
                             hint=f"drop {option} (it is read from the checkpoint) or start a new run with --out")


def _lookup(corpus_vocab: Vocab, model_vocab: Vocab, path) -> np.ndarray | None:
    if corpus_vocab == model_vocab:
        return None
    missing = model_vocab.known("".join(corpus_vocab.chars)).unknown
    if missing:
        shown = describe(missing)
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
        _check_same(train_opts, saved.train_cfg.to_dict(), LAYOUT_FIELDS, "the checkpoint", resume)
    else:  # a new run: the defaults, and the learning rate measured for its cell (options.CELL_LR)
        cell = saved.cfg.cell if saved is not None else model_opts.get("cell", default("model"))
        tcfg = TrainConfig(**{"lr": default_lr(cell), **train_opts})
    corpus = load_corpus(corpus_path, encoding_errors=encoding_errors, cache_dir=cache_dir)
    warnings.extend(corpus.warnings)
    lookup = None
    if saved is None:
        cfg = ModelConfig(vocab_size=corpus.vocab.size, **model_opts)
        vocab = corpus.vocab
    else:
        _check_same(model_opts, saved.cfg.to_dict(), [k for k in MODEL_FIELDS
                                                       if not (init_from and k == "dropout")],
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
    run.base_bytes = resident_bytes()
    return run, warnings


def resident_bytes() -> int:
    """Bytes this process holds now (the interpreter, the corpus, the model). Linux: /proc;
    elsewhere the peak so far (resource), or 0 where neither can be read."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def restore_progress(run, saved, hint: str = "use --init-from to start a new run from its weights",
                     extra: tuple = ()) -> None:
    """The training state of a saved run, for a resumed run (language model or seq2seq) to continue
    exactly where it stopped: optimizer moments, random generator, counters, best and last losses,
    history; `extra` (attribute, metadata key) pairs for more (seq2seq: exact match)."""
    m = saved.meta
    try:
        run.optimizer.load_state_dict({k[4:]: v for k, v in saved.arrays.items() if k.startswith("opt/")})
        run.rng.bit_generator.state = m["rng"]
        run.step, run.epoch, run.chunk = int(m["step"]), int(m["epoch"]), int(m["chunk"])
        run.best_val_loss, run.val_loss = m.get("best_val_loss"), m.get("val_loss")
        run.bad_evals, run.history = int(m.get("bad_evals", 0)), list(m.get("history", []))
        for attr, key in extra:
            setattr(run, attr, m.get(key))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{saved.path} cannot be resumed: its training state is incomplete ({e})",
                              hint=hint) from None
    run.saved_step = run.step


def _restore(run: Run, saved) -> None:
    """Everything a resumed run needs to continue exactly where the saved one stopped."""
    restore_progress(run, saved)
    state = saved.carried_state()
    if state is not None and state[0][0].shape[0] == run.tcfg.batch:
        run.state = [tuple(a.astype(run.cfg.dtype) for a in layer) for layer in state]
