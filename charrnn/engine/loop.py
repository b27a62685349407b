"""The truncated-BPTT training loop: carry state, never gradients; evaluate; checkpoint; stop.

Data: the training split is laid out as B parallel streams (corpus.Streams). Step k of an epoch
trains on chunk k of every stream, starting from the hidden state the previous chunk ended in,
so the model sees each stream as one long text; gradients stop at the chunk boundary. When the
data wraps to a new epoch the state is reset to zeros (chunk 0 does not continue the last one).

Everything the loop needs to continue lives in the checkpoint (see trained_model.py): parameters,
optimizer state, RNG state, (epoch, chunk) position, the carried state and the step count, so a
run stopped and resumed produces bit-for-bit the parameters of a run that never stopped.

Validation (when, on which part of the split, what it costs): see validation.py.
"""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charrnn.tasks import lm as model
from charrnn.config import TrainConfig
from charrnn.errors import TrainingDiverged
from charrnn.nn.optim import clip_by_global_norm, clip_by_value, lr_at
from charrnn.engine.run import Run, prepare_run
from charrnn.engine.rundir import RunDir
from charrnn.nn.threads import blas_threads, maybe_unit
from charrnn.engine.validation import ValidationPlan, eval_period


class Reporter:
    """Hooks the loop calls; this base class is silent (the CLI supplies rich/tqdm output)."""

    def summary(self, run: Run, warnings: list[str]) -> None: ...

    def start(self, run: Run) -> None: ...

    def step(self, run: Run, record: dict) -> None: ...

    def validating(self, run: Run, done: int, total: int) -> None: ...

    def evaluated(self, run: Run, record: dict, sample: str | None) -> None: ...

    def message(self, text: str) -> None: ...

    def close(self) -> None: ...


@dataclass
class Result:
    step: int
    epoch: int
    best_val_loss: float | None
    stopped_by: str  # max-steps | epochs | time | patience | interrupt | terminate
    out_dir: Path
    latest: Path
    history: list = field(default_factory=list)


class _StopNow(Exception):
    """Ctrl-C / SIGTERM during a validation pass: the pass is dropped at once (the run is saved)."""


class _Signals:
    """Ctrl-C / SIGTERM set a flag; the loop finishes its step, saves, and stops."""

    def __init__(self):
        self.received = None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.received = signum

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def epochs_done(run: Run) -> float:
    """Passes over the training split so far, e.g. 2.25 (what --epochs counts)."""
    return run.epoch + run.chunk / max(1, run.streams.n_chunks)


def log_sample(run: Run, length: int) -> str | None:
    """A short sample for the log, from its own generator: it never moves the training RNG."""
    if length <= 0:
        return None
    from charrnn.use.sample import generate

    rng = np.random.default_rng([run.tcfg.seed, run.step])
    return "".join(generate(run.params, run.cfg, run.vocab, length, temperature=0.8, rng=rng, counts=run.char_counts))


def _last_step(run: Run, tcfg: TrainConfig) -> bool:
    """True when --max-steps or --epochs ends the run after this step: its validation is the final one."""
    return ((tcfg.max_steps is not None and run.step >= tcfg.max_steps)
            or (tcfg.epochs is not None and epochs_done(run) >= tcfg.epochs - 1e-12))


def _stop_reason(run: Run, tcfg: TrainConfig, started: float, reserve: float = 0.0) -> str | None:
    """The stop rule that fires now, if any; `reserve`: seconds the --time budget keeps for the final validation."""
    if tcfg.max_steps is not None and run.step >= tcfg.max_steps:
        return "max-steps"
    if tcfg.epochs is not None and run.epoch + run.chunk / run.streams.n_chunks >= tcfg.epochs - 1e-12:
        return "epochs"
    if tcfg.time_limit is not None and time.monotonic() - started + reserve >= tcfg.time_limit:
        return "time"
    if tcfg.patience is not None and run.bad_evals >= tcfg.patience:
        return "patience"
    return None


def train(corpus_path, out_dir, train_opts: dict | None = None, model_opts: dict | None = None, resume=None,
          init_from=None, encoding_errors: str = "strict", overwrite: bool = False,
          reporter: Reporter | None = None, cache_dir=None, threads=None) -> Result:
    """Train on `corpus_path` until a stop rule fires; checkpoints and metrics go to `out_dir`.

    `train_opts` / `model_opts`: the TrainConfig / ModelConfig fields the user chose; the others
    come from the checkpoint when resuming, else from the defaults. `threads`: the BLAS threads,
    None (as they are), a count, or 'auto' (chosen by timing the steps: charrnn.nn.threads; the
    numbers then repeat only up to rounding).
    """
    reporter = reporter or Reporter()
    started = time.monotonic()
    run, warnings = prepare_run(corpus_path, train_opts or {}, model_opts or {}, resume, init_from,
                                encoding_errors, cache_dir)
    tcfg = run.tcfg
    run.eval_every = eval_period(tcfg, run.streams.n_chunks)
    run.validation = plan = ValidationPlan.for_split(run.val_streams)
    # (the thread setting also covers the validation passes, the final one after the loop included)
    with RunDir(out_dir, overwrite=overwrite, resume_from=resume) as rundir, blas_threads(threads) as tuner:
        plan.calibrate(run.params, run.cfg, ws=run.workspace)  # a first estimate of the final validation's cost
        if resume is not None:  # (the loss best.npz holds is the validation loss of its steps)
            warnings = warnings + rundir.repair(
                run, lambda r: plan.run(r.params, r.cfg, False, r.remap, None, ws=r.workspace)[0])
        reporter.summary(run, warnings)
        opt = run.optimizer
        dropout_rng = run.rng if run.cfg.dropout > 0 else None
        last_eval_step = start_step = run.step if resume is not None else -1
        stopped_by = None
        window_loss, window_steps, window_start = 0.0, 0, time.perf_counter()
        record = None  # the last step's record
        signals = _Signals()
        reporter.start(run)
        try:
            # Overflow is caught below as a non-finite loss or norm, with a message: no NumPy warnings.
            with signals, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while True:
                    # --time keeps room for the final validation (at most half of the budget)
                    reserve = min(plan.final_seconds(), 0.5 * (tcfg.time_limit or 0.0))
                    stopped_by = _stop_reason(run, tcfg, started, reserve)
                    if stopped_by:
                        break
                    if run.chunk >= run.streams.n_chunks:  # wrap: new epoch, fresh state
                        run.epoch, run.chunk = run.epoch + 1, 0
                        run.state = model.init_state(run.cfg, tcfg.batch)
                    x, y = run.streams.chunk(run.chunk)
                    with maybe_unit(tuner):  # (auto threads: each step is one timed unit)
                        loss, grads, new_state = model.loss_and_grads(run.params, run.cfg, run.remap(x),
                                                                      run.remap(y), run.state, dropout_rng,
                                                                      ws=run.workspace)
                        norm = clip_by_global_norm(grads, tcfg.clip)
                    if not (math.isfinite(loss) and math.isfinite(norm)):
                        raise _diverged(run, loss, norm, tcfg, rundir)
                    clip_by_value(grads, tcfg.clip_value)
                    run.lr = lr_at(tcfg.lr, tcfg.lr_decay, tcfg.lr_decay_every, tcfg.lr_decay_unit,
                                   run.step, run.epoch)
                    opt.step(run.params, grads, run.lr)
                    run.state, run.chunk, run.step = new_state, run.chunk + 1, run.step + 1
                    window_loss, window_steps = window_loss + loss, window_steps + 1
                    elapsed = time.perf_counter() - window_start
                    record = {"step": run.step, "epoch": run.epoch, "epochs": round(epochs_done(run), 4),
                              "train_loss": loss, "lr": run.lr, "grad_norm": norm,
                              "chars_per_s": window_steps * tcfg.batch * tcfg.seq_len / max(elapsed, 1e-9),
                              "elapsed": time.monotonic() - started}
                    if tuner is not None:
                        record["threads"] = tuner.current
                    reporter.step(run, record)
                    if run.step % run.eval_every == 0 and not _last_step(run, tcfg):  # (the last: below)
                        record["train_loss"] = window_loss / window_steps
                        _evaluate_and_save(run, record, rundir, reporter, signals, whole=False)
                        last_eval_step = run.step
                        window_loss, window_steps, window_start = 0.0, 0, time.perf_counter()
                    if signals.received is not None:
                        stopped_by = "interrupt" if signals.received == signal.SIGINT else "terminate"
                        break
                if stopped_by not in ("interrupt", "terminate") and (run.step != last_eval_step or plan.bounded):
                    # the final evaluation: the whole split (inside the signal handler: Ctrl-C stops it)
                    final = dict(record or {"step": run.step, "epoch": run.epoch, "epochs": round(epochs_done(run), 4),
                                            "train_loss": None, "lr": run.lr, "grad_norm": None,
                                            "chars_per_s": None},
                                 elapsed=time.monotonic() - started)
                    if window_steps:
                        final["train_loss"] = window_loss / window_steps
                    _evaluate_and_save(run, final, rundir, reporter, signals, whole=True,
                                       again=run.step == last_eval_step)
                    last_eval_step = run.step
        except _StopNow:
            stopped_by = "interrupt" if signals.received == signal.SIGINT else "terminate"
        except KeyboardInterrupt:
            # A second Ctrl-C lands mid-step, possibly halfway through the parameter update: the
            # in-memory run is not a consistent state, so the last checkpoint stays as it is.
            stopped_by = "interrupt-now"
        finally:
            reporter.close()
        stopped_by = report_stop(run, rundir, reporter, stopped_by, start_step, last_eval_step)
        return Result(run.step, run.epoch, run.best_val_loss, stopped_by, rundir.path, rundir.latest, run.history)


def report_stop(run, rundir: RunDir, reporter: Reporter, stopped_by: str, start_step: int,
                last_eval_step: int) -> str:
    """The end of a run (language model or seq2seq): say why nothing was done, or save the state
    reached by an interruption (unless its last evaluation just saved it). A second Ctrl-C
    ("interrupt-now") keeps the last checkpoint and is reported as "interrupt", which is returned."""
    if run.step == start_step and stopped_by in ("max-steps", "epochs", "patience"):
        reporter.message(f"nothing to do: the resumed run already met its stop rule ({stopped_by}) at step "
                         f"{run.step}; type a new one to go on, e.g. --max-steps {run.step + 1000}")
    if stopped_by == "interrupt-now":
        kept = f"step {run.saved_step}" if run.saved_step is not None else "none written yet"
        reporter.message(f"stopped immediately; the last checkpoint is kept ({kept})")
        stopped_by = "interrupt"
    elif stopped_by in ("interrupt", "terminate"):
        if run.step != last_eval_step:
            rundir.save(run, best=False)
        reporter.message(f"stopped at step {run.step}: saved {rundir.latest}")
    return stopped_by


def _evaluate_and_save(run: Run, record: dict, rundir: RunDir, reporter: Reporter, signals: _Signals,
                       whole: bool, again: bool = False) -> None:
    """Validate (the part between steps; the whole split too at the end), save, log, report.

    again: the part was already scored at this step; only the whole split's loss is new, and the
    metrics log gets a second record for the step that carries it.
    """
    def progress(done: int, total: int) -> None:
        reporter.validating(run, done, total)
        if signals.received is not None:
            raise _StopNow

    validating = time.monotonic()
    val, val_whole = run.validation.run(run.params, run.cfg, whole, run.remap, progress, ws=run.workspace)
    if record.get("elapsed") is not None:  # the time when the loss is known: this validation included
        record = dict(record, elapsed=record["elapsed"] + time.monotonic() - validating)
    if again:
        improved = False
    else:
        improved = run.best_val_loss is None or val < run.best_val_loss
        run.bad_evals = 0 if improved else run.bad_evals + 1
        if improved:
            run.best_val_loss = val
    record = dict(record, val_loss=val, val_bpc=val / math.log(2), best_val_loss=run.best_val_loss,
                  val_chars=run.validation.chars(whole=False))
    if val_whole is not None:
        record.update(val_whole_loss=val_whole, val_whole_bpc=val_whole / math.log(2),
                      val_whole_chars=run.validation.chars(whole=True))
    sample = log_sample(run, run.tcfg.sample_len)
    if sample is not None:
        record["sample"] = sample
    if again and run.history and run.history[-1].get("step") == run.step:
        run.history[-1] = {k: v for k, v in record.items() if k != "sample"}
    else:
        run.history.append({k: v for k, v in record.items() if k != "sample"})
    run.val_loss = val
    rundir.log_metrics(record)  # on disk before the checkpoint (a resume rewrites the log from its history)
    rundir.save(run, best=improved)
    reporter.evaluated(run, record, None if again else sample)


def _diverged(run: Run, loss: float, norm: float, tcfg: TrainConfig, rundir: RunDir) -> TrainingDiverged:
    what = "loss" if not math.isfinite(loss) else "gradient norm"
    kept = (f"the last good checkpoint {rundir.latest} (step {run.saved_step}) is untouched"
            if run.saved_step is not None else "no checkpoint had been written yet")
    return TrainingDiverged(
        f"training diverged at step {run.step + 1}: the {what} became {loss if what == 'loss' else norm}; {kept}",
        hint=f"lower the learning rate (--lr {tcfg.lr:g} now) or the gradient clip (--clip {tcfg.clip:g} now)"
             + (f", then continue with --resume {rundir.latest}" if run.saved_step is not None else ""))
