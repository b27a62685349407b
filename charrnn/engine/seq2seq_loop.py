"""The seq2seq training loop: shuffled batches of pairs, teacher forcing or scheduled sampling,
evaluation (teacher-forced val loss AND free-running exact match), checkpoints, stop rules.

Batches are bucketed by source length, so that the encoder runs few segments (see seq2seq.py):
an epoch permutes the training pairs with default_rng([seed, epoch]), sorts each pool of
POOL * B consecutive pairs by source length, cuts the pools into batches of B and visits the
batches in an order drawn from the same generator. Scheduled
sampling draws from the run's generator, whose state the checkpoint keeps with the parameters,
the optimizer and the (epoch, batch) position: a resumed run continues bit for bit.

Teacher forcing at step s (0-based): P_s = P * max(0, 1 - s / D) with D = --teacher-forcing-decay
(0: constant P). While P_s = 1 the decoder runs as one chunk per layer; below 1 it runs step by
step (see seq2seq.py), each input the truth with probability P_s, else a draw from the model.
"""

from __future__ import annotations

import hashlib
import math
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from charrnn import __version__
from charrnn.tasks import seq2seq
from charrnn.engine.checkpoint import load_checkpoint, save_checkpoint
from charrnn.config import ModelConfig, TrainConfig
from charrnn.errors import CharRNNError, UsageError
from charrnn.nn.optim import clip_by_global_norm, clip_by_value, lr_at, make_optimizer
from charrnn.data.pairs import Tokens, build_tokens, encode_pairs, make_batch, read_pairs, split_pairs
from charrnn.options import check, default
from charrnn.engine.run import restore_progress
from charrnn.engine.rundir import RunDir
from charrnn.nn.threads import blas_threads, maybe_unit
from charrnn.engine.loop import Reporter, _diverged, _Signals, report_stop
from charrnn.engine.validation import eval_period
from charrnn.use.translate import TASK, load_seq2seq, score_pairs

SEQ2SEQ_KEYS = ("task", "teacher_forcing", "teacher_forcing_decay", "skip_bad_lines")  # options beyond the LM's
LM_ONLY = {"seq_len": "--seq-len", "sample_len": "--sample-len", "dropout": "--dropout", "init_from": "--init-from"}
POOL = 32  # batches per pool sorted by source length (bucketing)
LAYOUT = {"batch": "--batch", "val_frac": "--val-frac", "optimizer": "--optimizer"}
MODEL_FIXED = {"cell": "--model", "hidden": "--hidden", "layers": "--layers", "dtype": "--dtype"}


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


@dataclass
class PairsRun:
    cfg: ModelConfig
    tcfg: TrainConfig
    scfg: Seq2SeqConfig
    tokens: Tokens
    train_pairs: list
    val_pairs: list
    params: dict
    optimizer: object
    rng: np.random.Generator
    corpus: dict
    step: int = 0
    epoch: int = 0
    chunk: int = 0  # batch position within the epoch
    lr: float = 0.0
    val_loss: float | None = None
    val_exact: float | None = None
    best_val_loss: float | None = None
    best_exact: float | None = None
    bad_evals: int = 0
    saved_step: int | None = None
    history: list = field(default_factory=list)
    eval_every: int = 500  # steps between evaluations (validation.eval_period)
    encoded: list = field(default_factory=list)
    val_encoded: list = field(default_factory=list)

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


def _check_same(explicit: dict, saved: dict, names: dict, path) -> None:
    for key, option in names.items():
        if key in explicit and explicit[key] != saved.get(key):
            raise UsageError(f"{option} {explicit[key]} does not match {saved.get(key)} in the checkpoint {path}",
                             hint=f"drop {option} (it is read from the checkpoint) or start a new run with --out")


def prepare(pairs_path, train_opts: dict, model_opts: dict, s2s_opts: dict, resume=None,
            skip_bad_lines: bool = False, encoding_errors: str = "strict") -> tuple[PairsRun, list[str]]:
    warnings = []
    pairs, skipped = read_pairs(pairs_path, skip_bad_lines, encoding_errors)
    if skipped:
        warnings.append(f"skipped {skipped:,} bad line(s) of {pairs_path}")
    corpus = {"path": str(Path(pairs_path).resolve()), "sha256": hashlib.sha256(Path(pairs_path).read_bytes()).hexdigest(), "pairs": len(pairs),
              "skipped_lines": skipped}
    for key, flag in LM_ONLY.items():
        if key in train_opts or key in model_opts:
            raise UsageError(f"{flag} does not apply to --task seq2seq",
                             hint=f"leave {flag} out (a pair is one sequence; no sample is logged)")
    saved = load_seq2seq(resume) if resume is not None else None
    if saved is None:
        tcfg = TrainConfig(**train_opts)
        scfg = Seq2SeqConfig(**s2s_opts)
        tokens = build_tokens(pairs)
        cfg = ModelConfig(vocab_size=tokens.V, **model_opts)
    else:
        tcfg = TrainConfig.from_dict({**saved.meta.get("train", {}), **train_opts})
        _check_same(train_opts, TrainConfig.from_dict(saved.meta.get("train", {})).to_dict(), LAYOUT, resume)
        _check_same(model_opts, saved.cfg.to_dict(), MODEL_FIXED, resume)
        scfg = Seq2SeqConfig(**{**(saved.meta.get("seq2seq_train") or {}), **s2s_opts})
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
    run = PairsRun(cfg, tcfg, scfg, tokens, train_pairs, val_pairs, params,
                   make_optimizer(tcfg.optimizer, momentum=tcfg.momentum), rng, corpus, lr=tcfg.lr)
    run.encoded, run.val_encoded = encode_pairs(tokens, train_pairs), encode_pairs(tokens, val_pairs)
    if saved is not None:
        _restore(run, saved)
    return run, warnings


def _restore(run: PairsRun, saved) -> None:
    restore_progress(run, saved, hint="start a new run",
                     extra=(("best_exact", "best_exact_match"), ("val_exact", "val_exact_match")))


class PairsRunDir(RunDir):
    """The LM's output directory (lock, latest/best, metrics.jsonl) saving a seq2seq run."""

    def repair_best(self, run: PairsRun) -> list[str]:
        """On resume, a missing or unreadable best.npz is written from the resumed state, evaluated
        (as the LM's RunDir.repair does); returns the warning."""
        if run.best_exact is None:
            return []
        try:
            load_checkpoint(self.best)
            return []
        except (CharRNNError, OSError):  # missing or damaged
            pass
        ev = evaluate(run)
        run.val_loss = run.best_val_loss = ev["val_loss"]
        run.val_exact = run.best_exact = ev["val_exact_match"]
        self.save(run, best=True, latest=False)
        return [f"{self.best} was missing or unreadable: wrote the resumed state (step {run.step:,}, exact match "
                f"{run.best_exact:.2%}) as the best so far"]

    def save(self, run: PairsRun, best: bool, latest: bool = True) -> None:
        arrays = {f"param/{k}": v for k, v in run.params.items()}
        arrays.update({f"opt/{k}": v for k, v in run.optimizer.state_dict().items()})
        t = run.tokens
        meta = {"task": TASK, "model": run.cfg.to_dict(), "train": run.tcfg.to_dict(),
                "seq2seq_train": asdict(run.scfg),
                "seq2seq": {**asdict(run.scfg), "max_target_len": run.max_target_len,
                            "max_source_len": max(len(s) for s, _ in run.train_pairs + run.val_pairs)},
                "vocab": t.vocab.to_list(), "tokens": {"end": t.end, "start": t.start, "pad": t.pad},
                "step": run.step, "epoch": run.epoch, "chunk": run.chunk, "val_loss": run.val_loss,
                "val_exact_match": run.val_exact, "best_val_loss": run.best_val_loss,
                "best_exact_match": run.best_exact, "bad_evals": run.bad_evals,
                "rng": run.rng.bit_generator.state, "corpus": run.corpus, "history": run.history,
                "charrnn_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if best:  # best first: latest.npz never records a best that best.npz was not given
            save_checkpoint(self.best, arrays, meta)
        if latest:
            save_checkpoint(self.latest, arrays, meta)
            run.saved_step = run.step


@dataclass
class Result:
    step: int
    epoch: int
    best_val_loss: float | None
    best_exact: float | None
    stopped_by: str
    out_dir: Path
    latest: Path
    history: list = field(default_factory=list)


def _stop_reason(run: PairsRun, started: float) -> str | None:
    t = run.tcfg
    if t.max_steps is not None and run.step >= t.max_steps:
        return "max-steps"
    if t.epochs is not None and run.epoch + run.chunk / run.n_batches >= t.epochs - 1e-12:
        return "epochs"
    if t.time_limit is not None and time.monotonic() - started >= t.time_limit:
        return "time"
    if t.patience is not None and run.bad_evals >= t.patience:
        return "patience"
    return None


def train_step(run: PairsRun) -> tuple[float, float, int]:
    """One optimizer step on the next batch: (loss, gradient norm before clipping, target chars)."""
    if run.chunk >= run.n_batches:
        run.epoch, run.chunk = run.epoch + 1, 0
    batch = make_batch(run.tokens, run.batch_pairs(), run.cfg.dtype)
    p = run.scfg.at(run.step)
    use_truth = coins = None
    if p < 1.0:
        use_truth = run.rng.random(batch.mask.shape) < p
        coins = run.rng.random(batch.mask.shape)
    loss, grads, _ = seq2seq.loss_and_grads(run.params, run.cfg, batch, use_truth=use_truth, coins=coins)
    norm = clip_by_global_norm(grads, run.tcfg.clip)
    if math.isfinite(loss) and math.isfinite(norm):
        clip_by_value(grads, run.tcfg.clip_value)
        run.lr = lr_at(run.tcfg.lr, run.tcfg.lr_decay, run.tcfg.lr_decay_every, run.tcfg.lr_decay_unit,
                       run.step, run.epoch)
        run.optimizer.step(run.params, grads, run.lr)
        run.chunk, run.step = run.chunk + 1, run.step + 1
    return loss, norm, batch.n_targets + int(batch.src_len.sum())


def evaluate(run: PairsRun) -> dict:
    """Teacher-forced val loss and free-running (greedy) exact match on the validation pairs."""
    s = score_pairs(run.params, run.cfg, run.tokens, run.val_pairs, 2 * run.max_target_len + 10)
    return {"val_loss": s.nats_per_char, "val_exact_match": s.exact_match, "val_char_error_rate": s.char_error_rate,
            "examples": s.examples}


def train_pairs(pairs_path, out_dir, train_opts: dict | None = None, model_opts: dict | None = None,
                s2s_opts: dict | None = None, resume=None, init_from=None, overwrite: bool = False,
                encoding_errors: str = "strict", reporter: Reporter | None = None, threads=None) -> Result:
    """Train a seq2seq model on a pairs file until a stop rule fires (as `training.train` for the LM).

    s2s_opts: teacher_forcing, teacher_forcing_decay, skip_bad_lines (only those given).
    threads: the BLAS threads, None (as they are), a count or 'auto' (charrnn.nn.threads)."""
    reporter = reporter or Reporter()
    started = time.monotonic()
    s2s_opts = dict(s2s_opts or {})
    skip_bad_lines = bool(s2s_opts.pop("skip_bad_lines", False))
    if init_from is not None:
        train_opts = {**(train_opts or {}), "init_from": init_from}  # refused by prepare, with a hint
    run, warnings = prepare(pairs_path, train_opts or {}, model_opts or {}, s2s_opts, resume,
                            skip_bad_lines, encoding_errors)
    run.eval_every = eval_period(run.tcfg, run.n_batches)  # --eval-every, or sized to the run
    with PairsRunDir(out_dir, overwrite=overwrite, resume_from=resume) as rundir, blas_threads(threads) as tuner:
        if resume is not None:
            warnings = [*warnings, *rundir.repair_best(run)]
        reporter.summary(run, warnings)
        last_eval = start_step = run.step if resume is not None else -1
        stopped_by = None
        wl, ws, wchars, wstart = 0.0, 0, 0, time.perf_counter()
        reporter.start(run)
        try:
            with _Signals() as signals, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while True:
                    stopped_by = _stop_reason(run, started)
                    if stopped_by:
                        break
                    with maybe_unit(tuner):  # (auto threads: each step is one timed unit)
                        loss, norm, chars = train_step(run)
                    if not (math.isfinite(loss) and math.isfinite(norm)):
                        raise _diverged(run, loss, norm, run.tcfg, rundir)
                    wl, ws, wchars = wl + loss, ws + 1, wchars + chars
                    record = {"step": run.step, "epoch": run.epoch, "train_loss": loss, "lr": run.lr,
                              "grad_norm": norm, "teacher_forcing": run.scfg.at(run.step - 1),
                              "chars_per_s": wchars / max(time.perf_counter() - wstart, 1e-9),
                              "elapsed": time.monotonic() - started}
                    reporter.step(run, record)
                    if run.step % run.eval_every == 0:
                        record["train_loss"] = wl / ws
                        _evaluate_and_save(run, record, rundir, reporter)
                        last_eval = run.step
                        wl, ws, wchars, wstart = 0.0, 0, 0, time.perf_counter()
                    if signals.received is not None:
                        stopped_by = "interrupt" if signals.received == signal.SIGINT else "terminate"
                        break
        except KeyboardInterrupt:
            stopped_by = "interrupt-now"
        finally:
            reporter.close()
        stopped_by = report_stop(run, rundir, reporter, stopped_by, start_step, last_eval)
        if stopped_by not in ("interrupt", "terminate") and run.step != last_eval:
            record = {"step": run.step, "epoch": run.epoch, "train_loss": wl / ws if ws else None, "lr": run.lr,
                      "grad_norm": None, "teacher_forcing": run.scfg.at(max(0, run.step - 1)),
                      "chars_per_s": None, "elapsed": time.monotonic() - started}
            _evaluate_and_save(run, record, rundir, reporter)
        return Result(run.step, run.epoch, run.best_val_loss, run.best_exact, stopped_by, rundir.path,
                      rundir.latest, run.history)


def _evaluate_and_save(run: PairsRun, record: dict, rundir: PairsRunDir, reporter: Reporter) -> None:
    validating = time.monotonic()
    ev = evaluate(run)
    if record.get("elapsed") is not None:  # the time when the loss is known: this validation included
        record = dict(record, elapsed=record["elapsed"] + time.monotonic() - validating)
    val, exact = ev["val_loss"], ev["val_exact_match"]
    improved = run.best_exact is None or exact > run.best_exact or (
        exact == run.best_exact and (run.best_val_loss is None or val < run.best_val_loss))
    run.bad_evals = 0 if improved else run.bad_evals + 1
    if improved:
        run.best_val_loss, run.best_exact = val, exact
    record = dict(record, val_loss=val, val_exact_match=exact, val_char_error_rate=ev["val_char_error_rate"],
                  best_val_loss=run.best_val_loss, best_exact_match=run.best_exact)
    run.history.append(record)
    run.val_loss, run.val_exact = val, exact
    rundir.save(run, best=improved)
    rundir.log_metrics(record)
    reporter.evaluated(run, record, ev["examples"])
