"""The run lock (engine/lock.py): one writer per output directory, taken atomically (an OS lock the
kernel frees when its process dies: nothing is ever taken over)."""

import multiprocessing
import os
import socket
import tempfile
import time

import pytest

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
