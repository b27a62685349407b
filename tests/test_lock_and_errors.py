"""Issue 17, items 2 and 3: one writer per output directory, taken atomically (an OS lock the
kernel frees when its process dies: nothing is ever taken over), and the first error wins (a
clean-up that fails after an error adds at most a note, never replaces it)."""

import errno
import multiprocessing
import os
import socket
import time

import pytest
from helpers import TRAIN, invoke

from charrnn.engine import checkpoint
from charrnn.engine.lock import RunLock

ROUNDS, CONTENDERS, HOLD = 6, 8, 0.15


def contend(out, barrier, log):
    from charrnn.errors import UsageError
    from charrnn.engine.rundir import RunDir

    def note(what):
        with open(log, "a") as f:  # O_APPEND: one whole line per write
            f.write(f"{what} {os.getpid()} {time.monotonic():.6f}\n")
    barrier.wait()
    try:
        with RunDir(out):
            note("in")
            time.sleep(HOLD)
            note("out")
    except UsageError as e:
        note("refused:" + e.message.replace(" ", "_"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_many_processes_against_a_stale_lock_never_hold_it_together(tmp_path):
    ctx = multiprocessing.get_context("fork")
    for r in range(ROUNDS):
        out, log = tmp_path / f"run{r}", tmp_path / f"log{r}"
        out.mkdir()
        # what a killed run of an older charrnn (and of this one) leaves behind: a dead pid
        (out / ".lock").write_text(f"999999999 {socket.gethostname()}")
        (out / ".lock.pid").write_text(f"999999999 {socket.gethostname()}")
        barrier = ctx.Barrier(CONTENDERS)
        procs = [ctx.Process(target=contend, args=(out, barrier, log)) for _ in range(CONTENDERS)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(10)
            assert p.exitcode == 0
        events = sorted((float(t), what, int(pid)) for what, pid, t in (line.split() for line in log.read_text().splitlines()))
        holding, holders = 0, set()
        for _, what, pid in events:
            if what == "in":
                holding += 1
                holders.add(pid)
                assert holding == 1, f"round {r}: two writers held the lock together: {events}"
            elif what == "out":
                holding -= 1
        assert holders, f"round {r}: the stale lock stopped everyone"
        assert len(events) == CONTENDERS + len(holders)
        for _, what, pid in events:  # each refusal names a writer that really held the lock
            if what.startswith("refused"):
                assert "another_`charrnn_train`_(process_" in what, what
                named = int(what.split("(process_")[1].split(")")[0])
                assert named in holders, (what, holders)


def test_a_lock_held_by_a_live_process_is_refused_and_freed_when_it_ends(tmp_path):
    from charrnn.errors import UsageError
    a, b = RunLock(tmp_path), RunLock(tmp_path)
    a.acquire()
    with pytest.raises(UsageError, match=f"process {os.getpid()}"):
        b.acquire()
    a.release()
    b.acquire()  # at once
    b.release()


@pytest.mark.parametrize("cleanup_fails", [False, True])
def test_a_checkpoint_that_cannot_be_written_is_the_error_shown(env, monkeypatch, cleanup_fails):
    """The output directory turns read-only after the first checkpoint: every write and removal
    there fails with EROFS. The user sees the checkpoint message, not the clean-up's OSError."""
    out = (env / "run").resolve()
    real_mkstemp, real_unlink, saves = checkpoint.tempfile.mkstemp, os.unlink, []

    def read_only():
        return len(saves) >= 2  # latest.npz and best.npz of step 1 were written

    def mkstemp(*a, dir=None, **k):
        if read_only() and os.path.abspath(dir).startswith(str(out)):
            raise OSError(errno.EROFS, "Read-only file system")
        saves.append(1)
        return real_mkstemp(*a, dir=dir, **k)

    def unlink(path, *a, **k):
        if read_only() and str(os.path.abspath(path)).startswith(str(out)):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_unlink(path, *a, **k)

    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "unlink", unlink)
    if cleanup_fails:  # releasing the lock itself fails too: one more line, the same error first
        def broken(self):
            raise OSError(errno.EROFS, "Read-only file system", str(self.path))
        monkeypatch.setattr(RunLock, "release", broken)
    r = invoke("train", "ok.txt", "--out", "run", *TRAIN, "--max-steps", "4")
    lines = [x for x in r.stderr.splitlines() if not x.startswith("warning:")]
    assert r.exit_code == 1 and "Traceback" not in r.stderr
    assert lines[0].startswith("error: could not write checkpoint") and "previous checkpoint is intact" in lines[0]
    assert lines[1].startswith("hint:")
    if cleanup_fails:
        assert len(lines) == 3 and lines[2].startswith("note: also: could not release the lock")
    else:
        assert len(lines) == 2
