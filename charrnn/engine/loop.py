"""The training loop, once for every task: step, evaluate, checkpoint, stop.

    while no stop rule fires:                 --max-steps, --epochs, --time (minus the final
        at the handover step: fused kernels   evaluation's cost), --patience; (--kernels auto:
        step = task.train_step(run)           charrnn.nn.kernels.Handover, task.kernel_handover)
        NaN guard; clip; lr schedule; optimizer step; task.advance(run, step)
        every eval_every steps: task.validate -> best? -> metrics.jsonl -> best.npz, latest.npz
    the final evaluation (the whole validation data), inside the signal handler

Ctrl-C / SIGTERM set a flag: the loop finishes its step, saves and stops; during an evaluation
the pass is dropped at once (the task's validate calls `progress`, which raises); a second Ctrl-C
stops at once and keeps the last checkpoint. Everything the loop needs to continue lives in the
checkpoint (parameters, optimizer state, RNG state, position, the task's state, the history),
so a run stopped and resumed produces bit-for-bit the parameters of a run that never stopped.
"""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charrnn.engine.rundir import RunDir
from charrnn.engine.task import Task, get_task
from charrnn.engine.validation import eval_period
from charrnn.errors import TrainingDiverged
from charrnn.nn import kernels
from charrnn.nn.optim import clip_by_global_norm, clip_by_value, lr_at
from charrnn.nn.threads import blas_threads, maybe_unit, start_over


class Reporter:
    """Hooks the loop calls; this base class is silent (the CLI supplies rich/tqdm output)."""

    def summary(self, run, warnings: list[str]) -> None: ...

    def start(self, run) -> None: ...

    def step(self, run, record: dict) -> None: ...

    def validating(self, run, done: int, total: int) -> None: ...

    def evaluated(self, run, record: dict, log_text) -> None: ...

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
    task: str = "lm"
    best_exact: float | None = None  # seq2seq: exact match of best.npz


class _StopNow(Exception):
    """Ctrl-C / SIGTERM during an evaluation: the pass is dropped at once (the run is saved)."""


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

    @property
    def stopped_by(self) -> str:
        return "interrupt" if self.received == signal.SIGINT else "terminate"


def epochs_done(run, task: Task) -> float:
    """Passes over the training data so far, e.g. 2.25 (what --epochs counts)."""
    return run.epoch + run.chunk / max(1, task.steps_per_epoch(run))


def _last_step(run, task: Task) -> bool:
    """True when --max-steps or --epochs ends the run after this step: its evaluation is the final one."""
    t = run.tcfg
    return ((t.max_steps is not None and run.step >= t.max_steps)
            or (t.epochs is not None and epochs_done(run, task) >= t.epochs - 1e-12))


def stop_reason(run, task: Task, started: float, reserve: float = 0.0) -> str | None:
    """The stop rule that fires now, if any; `reserve`: seconds the --time budget keeps for the final evaluation."""
    t = run.tcfg
    if t.max_steps is not None and run.step >= t.max_steps:
        return "max-steps"
    if t.epochs is not None and epochs_done(run, task) >= t.epochs - 1e-12:
        return "epochs"
    if t.time_limit is not None and time.monotonic() - started + reserve >= t.time_limit:
        return "time"
    if t.patience is not None and run.bad_evals >= t.patience:
        return "patience"
    return None


def train(task: str | Task, data_path, out_dir, train_opts: dict | None = None, model_opts: dict | None = None,
          task_opts: dict | None = None, resume=None, init_from=None, encoding_errors: str = "strict",
          overwrite: bool = False, reporter: Reporter | None = None, cache_dir=None, threads=None) -> Result:
    """Train the task's model on `data_path` until a stop rule fires; checkpoints and metrics go to `out_dir`.

    `train_opts` / `model_opts` / `task_opts`: the fields the user chose; the others come from the
    checkpoint when resuming, else from the defaults. `threads`: the BLAS threads, None (as they
    are), a count, or 'auto' (chosen by timing the steps: charrnn.nn.threads)."""
    task = get_task(task) if isinstance(task, str) else task
    reporter = reporter or Reporter()
    started = time.monotonic()
    run, warnings = task.prepare(data_path, train_opts or {}, model_opts or {}, task_opts or {}, resume, init_from,
                                 encoding_errors, cache_dir)
    run.eval_every = eval_period(run.tcfg, task.steps_per_epoch(run))
    handover = kernels.pending()  # --kernels auto: the fused kernels load while the first steps run
    if handover is not None:
        handover.want(run.cfg.cell, run.cfg.dtype, task.kernel_handover(run), run.tcfg.max_steps)
    # (the thread setting also covers the evaluations, the final one after the loop included)
    with task.open_rundir(out_dir, overwrite, resume) as rundir, blas_threads(threads, rows=task.row_blocks(run)) as tuner:
        task.calibrate(run)
        if resume is not None:
            warnings = warnings + rundir.repair(run)
        reporter.summary(run, warnings)
        return _loop(task, run, rundir, reporter, tuner, started, resumed=resume is not None, handover=handover)


def _loop(task: Task, run, rundir: RunDir, reporter: Reporter, tuner, started: float, resumed: bool,
          handover: kernels.Handover | None = None) -> Result:
    tcfg = run.tcfg
    last_eval_step = start_step = run.step if resumed else -1
    stopped_by = None
    window_loss, window_steps, window_chars, window_start = 0.0, 0, 0, time.perf_counter()
    record = None  # the last step's record
    signals = _Signals()
    if handover is not None and tuner is not None:
        tuner.set_threads(1)  # (auto: the child compiling has the other core until the handover)
    reporter.start(run)
    try:
        # Overflow is caught below as a non-finite loss or norm, with a message: no NumPy warnings.
        with signals, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while True:
                # --time keeps room for the final evaluation (at most half of the budget)
                reserve = min(task.final_seconds(run), 0.5 * (tcfg.time_limit or 0.0))
                stopped_by = task.agree(run, stop_reason(run, task, started, reserve))
                if stopped_by:
                    break
                if handover is not None and run.step >= handover.at:  # the NumPy cells' steps are done
                    failed = handover.finish(stop=lambda: signals.received is not None)
                    if signals.received is not None:  # Ctrl-C while it waited: stop before the step
                        stopped_by = signals.stopped_by
                        break
                    handover = None
                    if tuner is not None:  # (the child that compiled them kept a core busy until now)
                        start_over(tuner)
                    if failed:
                        reporter.message(f"warning: {failed}")
                # (auto threads: each step is one timed unit, once the kernels are settled)
                with maybe_unit(tuner if handover is None else None):
                    step = task.train_step(run)
                    norm = clip_by_global_norm(step.grads, tcfg.clip)
                if not (math.isfinite(step.loss) and math.isfinite(norm)):
                    raise _diverged(run, step.loss, norm, rundir)
                clip_by_value(step.grads, tcfg.clip_value)
                run.lr = lr_at(tcfg.lr, tcfg.lr_decay, tcfg.lr_decay_every, tcfg.lr_decay_unit, run.step, run.epoch)
                run.optimizer.step(run.params, step.grads, run.lr)
                task.advance(run, step)
                window_loss, window_steps = window_loss + step.loss, window_steps + 1
                window_chars += step.chars
                elapsed = time.perf_counter() - window_start
                record = {"step": run.step, "epoch": run.epoch, "epochs": round(epochs_done(run, task), 4),
                          "train_loss": step.loss, "lr": run.lr, "grad_norm": norm, **(step.record or {}),
                          "chars_per_s": window_chars / max(elapsed, 1e-9), "elapsed": time.monotonic() - started}
                if tuner is not None:
                    record["threads"] = tuner.current or 1  # (1 until the kernels' handover: see above)
                reporter.step(run, record)
                if run.step % run.eval_every == 0 and not _last_step(run, task):  # (the last: below)
                    record["train_loss"] = window_loss / window_steps
                    _evaluate_and_save(task, run, record, rundir, reporter, signals, whole=False)
                    last_eval_step = run.step
                    window_loss, window_steps, window_chars, window_start = 0.0, 0, 0, time.perf_counter()
                stopped_by = task.agree(run, signals.stopped_by if signals.received is not None else None)
                if stopped_by is not None:
                    break
            if stopped_by not in ("interrupt", "terminate") and task.final_needed(run, run.step == last_eval_step):
                # the final evaluation: all the validation data (inside the signal handler: Ctrl-C stops it)
                final = dict(record or {"step": run.step, "epoch": run.epoch,
                                        "epochs": round(epochs_done(run, task), 4), "train_loss": None,
                                        "lr": run.lr, "grad_norm": None, "chars_per_s": None},
                             elapsed=time.monotonic() - started)
                if window_steps:
                    final["train_loss"] = window_loss / window_steps
                _evaluate_and_save(task, run, final, rundir, reporter, signals, whole=True,
                                   again=run.step == last_eval_step)
                last_eval_step = run.step
    except _StopNow:
        stopped_by = signals.stopped_by
    except KeyboardInterrupt:
        # A second Ctrl-C lands mid-step, possibly halfway through the parameter update: the
        # in-memory run is not a consistent state, so the last checkpoint stays as it is.
        stopped_by = "interrupt-now"
    finally:
        reporter.close()
        if handover is not None:  # the run ended on the NumPy cells
            handover.cancel()
    stopped_by = report_stop(run, rundir, reporter, stopped_by, start_step, last_eval_step)
    return Result(run.step, run.epoch, run.best_val_loss, stopped_by, rundir.path, rundir.latest, run.history,
                  task.name, getattr(run, "best_exact", None))


def report_stop(run, rundir: RunDir, reporter: Reporter, stopped_by: str, start_step: int,
                last_eval_step: int) -> str:
    """The end of a run: say why nothing was done, or save the state reached by an interruption
    (unless its last evaluation just saved it). A second Ctrl-C ("interrupt-now") keeps the last
    checkpoint and is reported as "interrupt", which is returned."""
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


def _evaluate_and_save(task: Task, run, record: dict, rundir: RunDir, reporter: Reporter, signals: _Signals,
                       whole: bool, again: bool = False) -> None:
    """Evaluate (the part between steps; all of it at the end), log, save, report.

    again: this step was already evaluated on the part; only the whole data's figures are new, and
    the metrics log gets a second record for the step that carries them.
    """
    def progress(done: int, total: int) -> None:
        reporter.validating(run, done, total)
        if signals.received is not None:
            raise _StopNow

    validating = time.monotonic()
    metrics = task.validate(run, whole, progress)
    if record.get("elapsed") is not None:  # the time when the loss is known: this evaluation included
        record = dict(record, elapsed=record["elapsed"] + time.monotonic() - validating)
    improved = False if again else task.improved(run, metrics)
    if not again:
        run.bad_evals = 0 if improved else run.bad_evals + 1
    task.keep(run, metrics, improved)
    shown = {k: v for k, v in metrics.items() if k != "examples"}
    record = dict(record, **shown, **_bests(run))
    text = task.log_text(run) if "examples" not in metrics else metrics["examples"]
    if isinstance(text, str):
        record["sample"] = text
    if again and run.history and run.history[-1].get("step") == run.step:
        run.history[-1] = {k: v for k, v in record.items() if k != "sample"}
    else:
        run.history.append({k: v for k, v in record.items() if k != "sample"})
    rundir.log_metrics(record)  # on disk before the checkpoint (a resume rewrites the log from its history)
    rundir.save(run, best=improved)
    reporter.evaluated(run, record, None if again else text)


def _bests(run) -> dict:
    out = {"best_val_loss": run.best_val_loss}
    if hasattr(run, "best_exact"):
        out["best_exact_match"] = run.best_exact
    return out


def _diverged(run, loss: float, norm: float, rundir: RunDir) -> TrainingDiverged:
    what = "loss" if not math.isfinite(loss) else "gradient norm"
    kept = (f"the last good checkpoint {rundir.latest} (step {run.saved_step}) is untouched"
            if run.saved_step is not None else "no checkpoint had been written yet")
    return TrainingDiverged(
        f"training diverged at step {run.step + 1}: the {what} became {loss if what == 'loss' else norm}; {kept}",
        hint=f"lower the learning rate (--lr {run.tcfg.lr:g} now) or the gradient clip (--clip {run.tcfg.clip:g} now)"
             + (f", then continue with --resume {rundir.latest}" if run.saved_step is not None else ""))
