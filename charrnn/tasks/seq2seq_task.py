"""Sequence to sequence as a task of the engine: shuffled batches of pairs, teacher forcing or
scheduled sampling, evaluation by teacher-forced loss AND free-running exact match.

Batches are bucketed by source length, so that the encoder runs few segments (see seq2seq.py):
an epoch permutes the training pairs with default_rng([seed, epoch]), sorts each pool of
POOL * B consecutive pairs by source length, cuts the pools into batches of B and visits the
batches in an order drawn from the same generator. Scheduled sampling draws from the run's
generator, whose state the checkpoint keeps: a resumed run continues bit for bit.

Teacher forcing at step s (0-based): P_s = P * max(0, 1 - s / D) with D = --teacher-forcing-decay
(0: constant P). While P_s = 1 the decoder runs as one chunk per layer; below 1 it runs step by
step (see seq2seq.py), each input the truth with probability P_s, else a draw from the model.

best.npz: the highest exact match, ties broken by the lower loss. Its part of the checkpoint:
vocab, tokens, seq2seq (teacher forcing, max_source_len, max_target_len), seq2seq_train,
val_exact_match, best_exact_match, corpus (path, sha256, pairs, skipped_lines).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from charrnn.config import ModelConfig, TrainConfig
from charrnn.data.pairs import Tokens, build_tokens, encode_pairs, make_batch, read_pairs, split_pairs
from charrnn.engine.run import (LAYOUT_FIELDS, MODEL_FIELDS, RunState, check_same, open_line_file, resident_bytes,
                               restore_progress)
from charrnn.engine.task import Step, Task
from charrnn.errors import UsageError
from charrnn.nn.kernels import handover_step, warm_up
from charrnn.nn.optim import make_optimizer
from charrnn.options import check, default
from charrnn.tasks import seq2seq
from charrnn.tasks.seq2seq_eval import score_pairs

TASK_KEYS = ("task", "teacher_forcing", "teacher_forcing_decay", "skip_bad_lines")  # options beyond the LM's
LM_ONLY = {"seq_len": "--seq-len", "sample_len": "--sample-len", "dropout": "--dropout", "init_from": "--init-from"}
POOL = 32  # batches per pool sorted by source length (bucketing)
CALIBRATION_PAIRS = 4  # validation pairs timed before training, for the first estimate of an evaluation's cost


def decode_limit(max_target_len: int) -> int:
    """Outputs longer than this are cut while scoring: twice the longest target seen, plus 10."""
    return 2 * max_target_len + 10


@dataclass(frozen=True)
class Seq2SeqConfig:
    teacher_forcing: float = default("teacher_forcing")  # P: probability of feeding the true previous character
    teacher_forcing_decay: int = default("teacher_forcing_decay")  # steps over which P falls to 0 (0: constant)

    def __post_init__(self):
        check("teacher_forcing", self.teacher_forcing)
        check("teacher_forcing_decay", self.teacher_forcing_decay)

    def at(self, step: int) -> float:
        if not self.teacher_forcing_decay:
            return float(self.teacher_forcing)
        return float(self.teacher_forcing) * max(0.0, 1.0 - step / self.teacher_forcing_decay)


@dataclass(kw_only=True)
class PairsRun(RunState):
    scfg: Seq2SeqConfig
    tokens: Tokens
    train_pairs: list
    val_pairs: list
    corpus: dict
    val_exact: float | None = None
    best_exact: float | None = None
    encoded: list = field(default_factory=list)
    sec_per_pair: float | None = None  # measured cost of scoring one validation pair
    _batches: tuple = (None, None)  # (epoch, its batches: lists of indices into encoded)

    def epoch_batches(self) -> list:
        if self._batches[0] != self.epoch:
            rng = np.random.default_rng([self.tcfg.seed, self.epoch])
            order, B = rng.permutation(len(self.encoded)), self.tcfg.batch
            lens = np.array([len(s) for s, _ in self.encoded])
            batches = []
            for i in range(0, len(order), POOL * B):
                pool = order[i:i + POOL * B]
                pool = pool[np.argsort(lens[pool], kind="stable")]
                batches += [pool[j:j + B] for j in range(0, len(pool), B)]
            self._batches = (self.epoch, [batches[k] for k in rng.permutation(len(batches))])
        return self._batches[1]

    @property
    def n_batches(self) -> int:
        return len(self.epoch_batches())

    @property
    def max_target_len(self) -> int:
        return max(len(t) for _, t in self.train_pairs + self.val_pairs)

    def batch_pairs(self) -> list:
        return [self.encoded[i] for i in self.epoch_batches()[self.chunk]]


class Seq2SeqTask(Task):
    name = "seq2seq"
    kind = "seq2seq model"
    verbs = ("translate", "predict", "evaluate", "info", "compare")
    best_metric = "val_exact_match"
    best_metric_name = "exact match"
    param_shapes = staticmethod(seq2seq.param_shapes)
    n_params = staticmethod(seq2seq.n_params)

    def prepare(self, pairs_path, train_opts, model_opts, task_opts=None, resume=None, init_from=None,
                encoding_errors="strict", cache_dir=None):
        from charrnn.use.translate import load_seq2seq

        train_opts, task_opts, pairs, corpus, warnings = open_line_file(
            self.name, pairs_path, lambda path, skip: read_pairs(path, skip, encoding_errors), "pairs", train_opts,
            model_opts, task_opts, init_from, LM_ONLY, hint="leave {flag} out (a pair is one sequence; no sample is logged)")
        saved = load_seq2seq(resume) if resume is not None else None
        if saved is None:
            tcfg, scfg = TrainConfig(**train_opts), Seq2SeqConfig(**task_opts)
            tokens = build_tokens(pairs)
            cfg = ModelConfig(vocab_size=tokens.V, **model_opts)
        else:
            tcfg = TrainConfig.from_dict({**saved.meta.get("train", {}), **train_opts})
            check_same(train_opts, TrainConfig.from_dict(saved.meta.get("train", {})).to_dict(), LAYOUT_FIELDS, resume)
            check_same(model_opts, saved.cfg.to_dict(), MODEL_FIELDS, resume)
            scfg = Seq2SeqConfig(**{**(saved.meta.get("seq2seq_train") or {}), **task_opts})
            cfg, tokens = saved.cfg, saved.tokens
            unknown = sorted({c for s, t in pairs for c in s + t} - set(tokens.vocab.chars))
            if unknown:
                raise UsageError(f"{pairs_path} has {len(unknown)} character(s) the checkpoint {resume} does not know",
                                 hint="resume on the pairs file the run was trained on")
            if (saved.meta.get("corpus") or {}).get("sha256") not in (None, corpus["sha256"]):
                warnings.append(f"{pairs_path} differs from the pairs this run was trained on; continuing on the new pairs")
        train_pairs, val_pairs = split_pairs(pairs, tcfg.val_frac)
        rng = np.random.default_rng(tcfg.seed)
        params = seq2seq.init_params(cfg, rng) if saved is None else {k: v.copy() for k, v in saved.params.items()}
        run = PairsRun(task=self.name, cfg=cfg, tcfg=tcfg, scfg=scfg, tokens=tokens, train_pairs=train_pairs,
                       val_pairs=val_pairs, params=params, optimizer=make_optimizer(tcfg.optimizer, momentum=tcfg.momentum),
                       rng=rng, corpus=corpus, lr=tcfg.lr)
        run.encoded = encode_pairs(tokens, train_pairs)
        if saved is not None:
            warnings += self.restore(run, saved)
        warm_up(cfg.cell, cfg.dtype)  # the fused kernels compiled (or loaded) now: their memory is part of the base
        run.base_bytes = resident_bytes()
        return run, warnings

    def restore(self, run: PairsRun, saved) -> list[str]:
        return restore_progress(run, saved, hint="start a new run",
                         extra=(("best_exact", "best_exact_match"), ("val_exact", "val_exact_match")))

    # ------------------------------------------------------------------ training
    def steps_per_epoch(self, run: PairsRun) -> int:
        return run.n_batches

    def kernel_handover(self, run: PairsRun) -> int:
        chars = sum(len(s) + len(t) for s, t in run.train_pairs) / max(1, run.n_batches)  # a step's, on average
        return handover_step(seq2seq.n_params(run.cfg), round(chars))

    def train_step(self, run: PairsRun) -> Step:
        """The next batch: (loss, gradients, target and source characters)."""
        if run.chunk >= run.n_batches:
            run.epoch, run.chunk = run.epoch + 1, 0
        batch = make_batch(run.tokens, run.batch_pairs(), run.cfg.dtype)
        p = run.scfg.at(run.step)
        use_truth = coins = None
        if p < 1.0:
            use_truth = run.rng.random(batch.mask.shape) < p
            coins = run.rng.random(batch.mask.shape)
        loss, grads, _ = seq2seq.loss_and_grads(run.params, run.cfg, batch, use_truth=use_truth, coins=coins)
        return Step(loss, grads, batch.n_targets + int(batch.src_len.sum()), record={"teacher_forcing": p})

    # ------------------------------------------------------------------ evaluation
    def calibrate(self, run: PairsRun) -> None:
        """A first estimate of an evaluation's cost: score a few validation pairs."""
        few = run.val_pairs[:CALIBRATION_PAIRS]
        t0 = time.perf_counter()
        score_pairs(run.params, run.cfg, run.tokens, few, decode_limit(run.max_target_len))
        run.sec_per_pair = (time.perf_counter() - t0) / max(1, len(few))

    def final_seconds(self, run: PairsRun) -> float:
        return 0.0 if run.sec_per_pair is None else run.sec_per_pair * len(run.val_pairs)

    def validate(self, run: PairsRun, whole: bool, progress) -> dict:
        """Teacher-forced val loss and free-running (greedy) exact match on all the validation pairs."""
        t0 = time.perf_counter()
        s = score_pairs(run.params, run.cfg, run.tokens, run.val_pairs, decode_limit(run.max_target_len),
                        progress=progress)
        run.sec_per_pair = (time.perf_counter() - t0) / max(1, len(run.val_pairs))
        return {"val_loss": s.nats_per_char, "val_exact_match": s.exact_match,
                "val_char_error_rate": s.char_error_rate, "examples": s.examples}

    def improved(self, run: PairsRun, metrics: dict) -> bool:
        exact, val = metrics["val_exact_match"], metrics["val_loss"]
        return run.best_exact is None or exact > run.best_exact or (
            exact == run.best_exact and (run.best_val_loss is None or val < run.best_val_loss))

    def keep(self, run: PairsRun, metrics: dict, improved: bool) -> None:
        run.val_loss, run.val_exact = metrics["val_loss"], metrics["val_exact_match"]
        if improved:
            run.best_val_loss, run.best_exact = run.val_loss, run.val_exact

    def adopt_best(self, run: PairsRun, best_meta: dict) -> None:
        run.best_val_loss = best_meta["val_loss"]
        if isinstance(best_meta.get("val_exact_match"), (int, float)):
            run.best_exact = best_meta["val_exact_match"]

    # ------------------------------------------------------------------ checkpoint
    def meta(self, run: PairsRun) -> dict:
        t = run.tokens
        return {"seq2seq_train": asdict(run.scfg),
                "seq2seq": {**asdict(run.scfg), "max_target_len": run.max_target_len,
                            "max_source_len": max(len(s) for s, _ in run.train_pairs + run.val_pairs)},
                "vocab": t.vocab.to_list(), "tokens": {"end": t.end, "start": t.start, "pad": t.pad},
                "val_exact_match": run.val_exact, "best_exact_match": run.best_exact, "corpus": run.corpus}

    # ------------------------------------------------------------------ using a trained model
    def info(self, trained) -> dict:
        from charrnn.use.translate import info_dict

        return info_dict(trained)

    def info_rows(self, d: dict) -> list:
        from charrnn.use.translate import info_rows

        return info_rows(d)

    def evaluate(self, trained, pairs, beam=None, max_len=None):
        from charrnn.use.translate import evaluate_pairs

        return evaluate_pairs(trained, pairs, beam, max_len)

    def evaluate_file(self, trained, path, strict=False, streams=1, encoding_errors="strict", progress=None,
                      threads=None):
        """FILE is a pairs file; decoding uses 1 BLAS thread for auto (as translate and sample)."""
        from charrnn.nn.threads import AUTO, blas_threads
        from charrnn.use.translate import evaluate_pairs_file

        if streams != 1:
            raise UsageError("--streams does not apply to a seq2seq model",
                             hint="leave --streams out (each pair is decoded on its own)")
        report = None if progress is None else (lambda done, total: progress("score", done, total))
        with blas_threads(1 if threads in (AUTO, None) else threads):
            return evaluate_pairs_file(trained, path, encoding_errors, progress=report)

    def predict(self, trained, lines, beam=None, max_len=None, temperature=0.0, seed=None, capped=None):
        from charrnn.use.translate import translate

        return translate(trained, lines, beam, max_len, temperature, np.random.default_rng(seed), capped)
