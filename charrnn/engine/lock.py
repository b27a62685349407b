"""One writer per output directory: an operating-system lock on DIR/.lock.

The lock is `filelock`'s (fcntl.flock on Unix, msvcrt.locking on Windows): the kernel releases it
when the process that holds it ends, however it ends (kill -9 included). So there is no stale
lock to detect and nothing is ever "taken over": a second writer either gets the lock or is
refused at once, atomically. The lock file itself stays (removing it would race with a process
that has just opened it); DIR/.lock.pid names the holder, for the message only.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import filelock

from charrnn.errors import UsageError


class RunLock:
    def __init__(self, directory):
        self.directory = Path(directory)
        self.path, self.pidfile = self.directory / ".lock", self.directory / ".lock.pid"
        self._lock = filelock.FileLock(str(self.path))

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> None:
        """Take the lock or raise UsageError naming the writer that holds it (OSError: cannot lock)."""
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            raise UsageError(f"another `charrnn train` ({self.holder()}) is writing to {self.directory}/",
                             hint="wait for it to finish, or use --out another directory") from None
        try:  # who holds it, for a second writer's message (atomically: never half a line)
            tmp = self.pidfile.with_name(f".lock.pid.{os.getpid()}")
            tmp.write_text(f"{os.getpid()} {socket.gethostname()}")
            os.replace(tmp, self.pidfile)
        except OSError:
            pass

    def holder(self, wait: float = 0.5) -> str:
        """The process named in .lock.pid; a name left by a dead process (the holder may not have
        written its own yet) is read again for up to `wait` seconds."""
        end = time.monotonic() + wait
        while True:
            try:
                pid, host = self.pidfile.read_text().split()
                if host != socket.gethostname():
                    return f"process {int(pid)} on {host}"
                os.kill(int(pid), 0)  # (signal 0: is it alive?)
                return f"process {int(pid)}"
            except PermissionError:  # alive, another user's
                return f"process {int(pid)}"
            except (OSError, ValueError):
                if time.monotonic() > end:
                    return "process unknown"
                time.sleep(0.02)

    def release(self) -> None:
        """Release the lock (closing its file cannot fail in a way that matters); the pid file is
        removed when possible (it is a message, never the lock)."""
        if not self._lock.is_locked:
            return
        try:
            self.pidfile.unlink(missing_ok=True)
        except OSError:
            pass
        self._lock.release(force=True)
