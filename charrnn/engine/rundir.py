"""The output directory of a training run: latest.npz, best.npz, metrics.jsonl, and a lock
against a second run writing there."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from charrnn.nn import kernels
from charrnn import __version__
from charrnn.engine.checkpoint import atomic_write, load_checkpoint, remove_partial, save_checkpoint
from charrnn.errors import CheckpointError, UsageError
from charrnn.engine.lock import RunLock


class RunDir:
    """The output directory: latest.npz, best.npz, metrics.jsonl, and a lock against a second run."""

    def __init__(self, path, task=None, overwrite: bool = False, resume_from=None):
        self.path = Path(path)
        self.task = task  # the task plug-in (engine/task.py): its part of each checkpoint
        # --resume into the directory the checkpoint came from continues that run (and its log);
        # anything else is a new run there, which may not silently mix with an old one.
        self.continues = resume_from is not None and Path(resume_from).resolve().parent == self.path.resolve()
        self._truncate_metrics = not self.continues  # a new log (at the first record)
        self.latest, self.best = self.path / "latest.npz", self.path / "best.npz"
        self.metrics = self.path / "metrics.jsonl"
        self._lock = RunLock(self.path)
        self.lock = self._lock.path
        self.overwrite = overwrite

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
            for f in (self.latest, self.best, self.metrics, self.path / "probes.jsonl"):  # --overwrite: no stale
                # file of the old run (probes.jsonl: train --live, charrnn.interpret.live)
                f.unlink(missing_ok=True)
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.release()
        except OSError as e:
            if exc is None:
                raise CheckpointError(f"could not release the lock {self.lock}: {e.strerror or e}",
                                      hint="check the directory; the checkpoints are complete") from None
            # The first error wins: a clean-up that fails after it is a note, never a replacement.
            exc.__notes__ = [*getattr(exc, "__notes__", []),  # (exc.add_note from Python 3.11)
                             f"also: could not release the lock {self.lock}: {e.strerror or e}"]

    def _acquire(self) -> None:
        self._lock.acquire()  # UsageError naming the other writer (the kernel frees a dead one's lock)

    def release(self) -> None:
        self._lock.release()

    def _arrays(self, run) -> dict:
        arrays = {f"param/{k}": v for k, v in run.params.items()}
        arrays.update({f"opt/{k}": v for k, v in run.optimizer.state_dict().items()})
        arrays.update(self.task.arrays(run))
        return arrays

    def _meta(self, run) -> dict:
        return {"task": self.task.name, "model": run.cfg.to_dict(), "train": run.tcfg.to_dict(), **self.task.meta(run),
                "step": run.step, "epoch": run.epoch, "chunk": run.chunk, "val_loss": run.val_loss,
                "best_val_loss": run.best_val_loss, "bad_evals": run.bad_evals,
                "rng": run.rng.bit_generator.state, "history": run.history, "kernels": kernels.active(),
                "charrnn_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def save(self, run, best: bool, latest: bool = True) -> None:
        arrays, meta = self._arrays(run), self._meta(run)
        if best:  # best first: latest never records a best that best.npz was not given
            save_checkpoint(self.best, arrays, meta)
        if latest:
            save_checkpoint(self.latest, arrays, meta)
            run.saved_step = run.step

    def log_metrics(self, record: dict) -> None:
        """Append one record, on disk (fsync) before the checkpoint that follows it."""
        with open(self.metrics, "w" if self._truncate_metrics else "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self._truncate_metrics = False

    def _repair_metrics(self, run: Run) -> None:
        try:
            lines = self.metrics.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        kept = []
        for line in lines:
            try:
                r = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            if isinstance(r, dict) and isinstance(r.get("step"), int) and r["step"] <= run.step:
                kept.append(r)
        logged = {r["step"] for r in kept}
        kept += [r for r in run.history if r.get("step") not in logged and r.get("step", 0) <= run.step]
        kept.sort(key=lambda r: r["step"])  # (stable: two records of one step keep their order)
        text = "".join(json.dumps(r) + "\n" for r in kept)
        atomic_write(self.metrics, lambda f: f.write(text.encode("utf-8")), durable=True)
        self._truncate_metrics = False

    def repair(self, run) -> list[str]:
        """On resume, make the directory agree with the checkpoint resumed from (returns warnings).

        - metrics.jsonl of a continued run keeps its records up to the checkpoint's step (those of
          later steps go: the steps run again), and gets back from the checkpoint's history any
          record a kill lost;
        - the run's best becomes what best.npz really holds (a kill between the two saves leaves
          best.npz one evaluation ahead of latest.npz); if best.npz is missing or unreadable, the
          resumed state is evaluated and written as best.npz.
        """
        warnings = []
        if self.continues:
            self._repair_metrics(run)
        if run.best_val_loss is None:  # not evaluated yet: no best to agree with
            return warnings
        try:
            held = load_checkpoint(self.best)[1] if self.best.exists() else None
        except CheckpointError:
            held = None
        if isinstance(held, dict) and isinstance(held.get("val_loss"), (int, float)):
            self.task.adopt_best(run, held)
            return warnings
        metrics = self.task.validate(run, False, None)
        self.task.keep(run, metrics, improved=True)
        self.save(run, best=True, latest=False)
        exact = f", exact match {run.best_exact:.2%}" if getattr(run, "best_exact", None) is not None else ""
        warnings.append(f"{self.best} was missing or unreadable: wrote the resumed state (step {run.step}, "
                        f"val {run.val_loss:.4f} nats/char{exact}) as the best so far")
        return warnings

