"""The output directory of a training run: latest.npz, best.npz, metrics.jsonl, and a lock
against a second run writing there."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from charrnn import __version__
from charrnn.cells import CELLS
from charrnn.checkpoint import remove_partial, save_checkpoint
from charrnn.errors import CheckpointError, UsageError
from charrnn.run import Run


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
            for name, a in zip(CELLS[run.cfg.cell].state, layer):
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
