"""The language model as a task of the engine: a corpus becomes B parallel streams, each step
trains on the next chunk of every stream with the state carried from the chunk before
(truncated BPTT: carry state, never gradients), validation scores nats per character.

Data: the training split is laid out as B parallel streams (corpus.Streams). Step k of an epoch
trains on chunk k of every stream, starting from the hidden state the previous chunk ended in,
so the model sees each stream as one long text; gradients stop at the chunk boundary. When the
data wraps to a new epoch the state is reset to zeros (chunk 0 does not continue the last one).
Validation (when, on which part of the split, what it costs): engine/validation.py.

Its part of the checkpoint: the carried state (state/l{k}.h, .c), the vocabulary, the corpus
(path, sha256, n_chars, encoding_errors) and the characters' counts (the sampler's fallback start).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charrnn.config import ModelConfig, TrainConfig
from charrnn.data.corpus import Corpus, Streams, load_corpus, split
from charrnn.data.vocab import Vocab, describe
from charrnn.engine.run import LAYOUT_FIELDS, MODEL_FIELDS, RunState, check_same, resident_bytes, restore_progress
from charrnn.engine.task import Step, Task
from charrnn.engine.trained import load_trained
from charrnn.tasks.lm_validation import ValidationPlan
from charrnn.errors import CorpusError, UsageError, VocabError
from charrnn.nn.cells import CELLS
from charrnn.nn.kernels import handover_step, warm_up
from charrnn.nn.optim import make_optimizer
from charrnn.nn.rows import RowBlocks, for_training
from charrnn.nn.workspace import Workspace
from charrnn.options import default, default_lr
from charrnn.tasks import lm as model


@dataclass(kw_only=True)
class Run(RunState):
    vocab: Vocab
    corpus: Corpus
    state: list  # the state carried into the next chunk, one tuple per layer
    streams: Streams
    val_streams: Streams
    lookup: np.ndarray | None = None  # corpus ids -> model vocabulary ids (fine-tuning), or None
    # Scratch arrays of the training and validation chunks (sized once, freed with the run).
    workspace: Workspace = field(default_factory=Workspace, repr=False)
    validation: ValidationPlan | None = None  # what is scored, and what it costs
    rows: RowBlocks | None = None  # the streams split over the cores, where it pays (charrnn.nn.rows)

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


class LMTask(Task):
    name = "lm"
    kind = "language model"
    verbs = ("sample", "evaluate", "info", "inspect-cells", "inspect-memory", "compare")
    param_shapes = staticmethod(model.param_shapes)
    n_params = staticmethod(model.n_params)

    # ------------------------------------------------------------------ setting up
    def prepare(self, corpus_path, train_opts, model_opts, task_opts=None, resume=None, init_from=None,
                encoding_errors="strict", cache_dir=None):
        """Fresh, resumed (--resume: everything) or fine-tuned (--init-from: weights only)."""
        warnings = []
        if resume is not None and init_from is not None:
            raise UsageError("--resume and --init-from cannot be used together",
                             hint="--resume continues a run; --init-from starts a new run from its weights")
        saved = load_trained(resume or init_from) if (resume or init_from) else None
        if resume is not None:
            tcfg = TrainConfig.from_dict({**saved.meta.get("train", {}), **train_opts})
            check_same(train_opts, saved.train_cfg.to_dict(), LAYOUT_FIELDS, resume)
        else:  # a new run: the defaults, and the learning rate measured for its cell (options.CELL_LR)
            cell = saved.cfg.cell if saved is not None else model_opts.get("cell", default("model"))
            tcfg = TrainConfig(**{"lr": default_lr(cell), **train_opts})
        tokens = saved.cfg.tokens if saved is not None else model_opts.get("tokens", default("tokens"))
        corpus = load_corpus(corpus_path, encoding_errors=encoding_errors, cache_dir=cache_dir, tokens=tokens)
        warnings.extend(corpus.warnings)
        lookup = None
        if saved is None:
            cfg, vocab = ModelConfig(vocab_size=corpus.vocab.size, **model_opts), corpus.vocab
        else:
            check_same(model_opts, saved.cfg.to_dict(),
                       [k for k in MODEL_FIELDS if not (init_from and k == "dropout")], saved.path)
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
        val_streams = Streams(val_ids, min(tcfg.batch, max(1, (len(val_ids) - 1) // tcfg.seq_len)), tcfg.seq_len,
                              weights=corpus.vocab.char_weights(val_ids))  # (jamo: per-character losses)
        rng = np.random.default_rng(tcfg.seed)
        params = model.init_params(cfg, rng) if saved is None else {k: v.copy() for k, v in saved.params.items()}
        run = Run(task=self.name, cfg=cfg, tcfg=tcfg, vocab=vocab, corpus=corpus, params=params,
                  optimizer=make_optimizer(tcfg.optimizer, momentum=tcfg.momentum), rng=rng,
                  state=model.init_state(cfg, tcfg.batch), streams=streams, val_streams=val_streams,
                  lookup=lookup, lr=tcfg.lr)
        run.validation = ValidationPlan.for_split(val_streams)
        if resume is not None:
            warnings += self.restore(run, saved)
        if len(val_ids) < tcfg.batch * tcfg.seq_len:
            warnings.append(f"the validation split has {len(val_ids):,} characters, less than one batch "
                            f"({tcfg.batch} x {tcfg.seq_len}); its loss will be noisy (raise --val-frac)")
        if model.n_params(cfg) > len(train_ids):
            warnings.append(f"the model has {model.n_params(cfg):,} parameters for {len(train_ids):,} training "
                            "characters: it will memorise the text (try a smaller --hidden or more text)")
        warm_up(cfg.cell, cfg.dtype)  # the fused kernels compiled (or loaded) now: their memory is part of the base
        run.rows = for_training(cfg, tcfg.batch)  # (used when the thread setting gives the step more than one core)
        run.base_bytes = resident_bytes()
        return run, warnings

    def restore(self, run: Run, saved) -> list[str]:
        """Everything a resumed run needs to continue exactly where the saved one stopped (warnings)."""
        warnings = restore_progress(run, saved)
        state = saved.carried_state()
        if state is not None and state[0][0].shape[0] == run.tcfg.batch:
            run.state = [tuple(a.astype(run.cfg.dtype) for a in layer) for layer in state]
        return warnings

    # ------------------------------------------------------------------ training
    def steps_per_epoch(self, run: Run) -> int:
        return run.streams.n_chunks

    def train_step(self, run: Run) -> Step:
        if run.chunk >= run.streams.n_chunks:  # wrap: new epoch, fresh state
            run.epoch, run.chunk = run.epoch + 1, 0
            run.state = model.init_state(run.cfg, run.tcfg.batch)
        x, y = run.streams.chunk(run.chunk)
        dropout_rng = run.rng if run.cfg.dropout > 0 else None
        args = (run.params, run.cfg, run.remap(x), run.remap(y), run.state, dropout_rng)
        if run.rows is None:
            loss, grads, new_state = model.loss_and_grads(*args, ws=run.workspace)
        else:
            loss, grads, new_state = run.rows.loss_and_grads(model.loss_and_grads, *args, ws=run.workspace)
        return Step(loss, grads, run.tcfg.batch * run.tcfg.seq_len, new_state)

    def kernel_handover(self, run: Run) -> int:
        return handover_step(model.n_params(run.cfg), run.tcfg.batch * run.tcfg.seq_len)

    def advance(self, run: Run, step: Step) -> None:
        run.state, run.chunk, run.step = step.carry, run.chunk + 1, run.step + 1

    # ------------------------------------------------------------------ validation
    def calibrate(self, run: Run) -> None:
        run.validation.calibrate(run.params, run.cfg, ws=run.workspace, rows=run.rows)  # a first estimate of the final pass

    def final_seconds(self, run: Run) -> float:
        return run.validation.final_seconds()

    def final_needed(self, run: Run, evaluated_now: bool) -> bool:
        return not evaluated_now or run.validation.bounded  # (the whole split, beyond the part)

    def validate(self, run: Run, whole: bool, progress) -> dict:
        """Mean nats/char on the fixed part of the validation split (and on all of it when `whole`)."""
        plan = run.validation
        val, val_whole = plan.run(run.params, run.cfg, whole, run.remap, progress, ws=run.workspace, rows=run.rows)
        metrics = {"val_loss": val, "val_bpc": val / math.log(2), "val_chars": plan.chars(whole=False)}
        if val_whole is not None:
            metrics.update(val_whole_loss=val_whole, val_whole_bpc=val_whole / math.log(2),
                           val_whole_chars=plan.chars(whole=True))
        if run.vocab.tokens != "chars":  # val_loss is per token; beside it, per original character
            metrics.update(tokens=run.vocab.tokens, val_char_loss=plan.per_char(val, False),
                           val_whole_char_loss=plan.per_char(val_whole, True))
        return metrics

    def log_text(self, run: Run) -> str | None:
        """A short sample for the log, from its own generator: it never moves the training RNG."""
        if run.tcfg.sample_len <= 0:
            return None
        from charrnn.use.sample import generate

        rng = np.random.default_rng([run.tcfg.seed, run.step])
        return "".join(generate(run.params, run.cfg, run.vocab, run.tcfg.sample_len, temperature=0.8, rng=rng,
                                counts=run.char_counts))

    # ------------------------------------------------------------------ checkpoint
    def arrays(self, run: Run) -> dict:
        return {f"state/l{k}.{name}": a for k, layer in enumerate(run.state)
                for name, a in zip(CELLS[run.cfg.cell].state, layer)}

    def meta(self, run: Run) -> dict:
        return {"vocab": run.vocab.to_list(), "corpus": run.corpus_info, "char_counts": run.char_counts}

    # ------------------------------------------------------------------ using a trained model
    def info(self, trained) -> dict:
        from charrnn.use.info import info_dict

        return info_dict(trained)

    def info_rows(self, d: dict) -> list:
        from charrnn.use.info import info_rows

        return info_rows(d)

    def evaluate(self, trained, text: str, strict=False, streams=1, progress=None, threads=None, hold=None):
        from charrnn.nn.threads import blas_threads
        from charrnn.options import check
        from charrnn.use.evaluate import evaluate_text

        check("streams", streams)
        with blas_threads(threads) as tuner:  # auto: chosen chunk by chunk
            return evaluate_text(trained, text, strict=strict, streams=streams, progress=progress, tuner=tuner,
                                 hold=hold)

    def evaluate_file(self, trained, path, strict=False, streams=1, encoding_errors="strict", progress=None,
                      threads=None, hold=None):
        from charrnn.nn.threads import blas_threads
        from charrnn.use.evaluate_file import evaluate_file

        with blas_threads(threads) as tuner:
            return evaluate_file(trained, path, strict, streams, encoding_errors, progress, tuner, hold)


def _lookup(corpus_vocab: Vocab, model_vocab: Vocab, path) -> np.ndarray | None:
    if corpus_vocab == model_vocab:
        return None
    missing = [c for c in corpus_vocab.chars if c not in model_vocab]  # (tokens: jamo under jamo)
    if missing:
        raise VocabError(f"the corpus has {len(missing)} character(s) the checkpoint {path} does not know: "
                         f"{describe(missing)}", hint="fine-tune only on text whose characters the model was "
                                                      "trained on, or train a new model")
    return np.array([model_vocab.index(c) for c in corpus_vocab.chars], dtype=np.intp)
