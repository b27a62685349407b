"""How many threads the BLAS (the matrix products) may use: a fixed count, or `auto`.

Why: on a quiet machine OpenBLAS's threads make a 2-core training step 1.2-1.4x faster than one
thread, but when other jobs hold the cores its threads wait for each other, and one thread is
2.5-3.4x faster (issue 13; sampling at batch 1, H = 512: 16x). No fixed count suits both, and
the load changes while a run goes on.

`auto` decides by measurement (`ThreadTuner`): the work comes in equal units (a training step, an
evaluation chunk, a block of sampled characters); after one warm-up unit at 1 thread the tuner
times units at N threads (the BLAS's full count) and at 1, alternating (N, 1, N, 1, ...: PROBE
each), and runs on with the faster by the median. A setting SLOWER times slower than the other
leaves the probe after one unit: on a busy machine N threads can be 6x slower, and each such unit
is expensive. It probes again REPROBE seconds after a decision (twice as long each time the
decision repeats, up to REPROBE_MAX), at once when the chosen setting's recent units take SLOWER
times the time it was chosen with (the load went up), and never so often that probes take more
than BUDGET of the time. A rule on the load average was the alternative: it cannot tell whether
the other jobs leave the cores idle in between, and timing the work itself can; the CPU in use
when the run starts only delays the first probe on a machine that is already full (`busy`).

The thread count is set through threadpoolctl (the BLAS's own call), never through environment
variables (which the BLAS reads once, when NumPy is imported). The products give the same numbers
up to float rounding at any thread count, not always the same bits (OpenBLAS adds long sums in
another order with 1 thread than with several): runs that must repeat bit for bit, such as a
resumed run compared with an uninterrupted one, use a fixed count.
"""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

from charrnn.errors import UsageError

AUTO = "auto"
MAX_THREADS = 1024
PROBE = 3  # timed units per setting in a probe (the first probe after one warm-up unit)
REPROBE = 30.0  # seconds from a decision to the next probe; doubled while decisions repeat ...
REPROBE_MAX = 240.0  # ... up to this
SLOWER = 1.5  # a setting this much slower is out of a probe after one unit; the chosen one slowing
              # down this much (the load went up) starts a probe at once
BUDGET = 0.03  # probes take at most this fraction of the time (a probe's extra cost / BUDGET apart)


def parse_threads(value) -> int | str:
    """'auto' -> 'auto'; '2' or 2 -> 2 (1 to MAX_THREADS), else a UsageError naming --threads."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_THREADS:
        raise UsageError(f"invalid value for --threads: {value!r} (auto, or a whole number from 1 to {MAX_THREADS})",
                         hint="--threads auto picks 1 or all cores by timing the work; --threads 1 suits a busy machine")
    return n


class Blas:
    """The BLAS thread pools loaded in this process (threadpoolctl), set with one call."""

    def __init__(self):
        import numpy  # noqa: F401  (the BLAS is seen only once loaded: without this, max_threads would be 1)
        from threadpoolctl import ThreadpoolController
        self._libs = ThreadpoolController().select(user_api="blas").lib_controllers
        self.max_threads = max((lib.num_threads for lib in self._libs), default=1)

    def get(self) -> int:
        return max((lib.num_threads for lib in self._libs), default=1)

    def set(self, n: int) -> None:
        for lib in self._libs:
            lib.set_num_threads(n)


class ThreadTuner:
    """Chooses the thread count, unit of work by unit of work, by timing them (see the module).

        tuner = ThreadTuner(n_max, set_threads)
        for ...:
            with tuner.unit():       # sets the count for this unit and times it
                one_training_step()

    `clock` (seconds) and `set_threads` are injected, so the logic is testable without timing.
    `log` records every decision: (time, chosen count, {count: median seconds per unit}).
    """

    def __init__(self, n_max: int, set_threads: Callable[[int], None], clock: Callable[[], float] = time.perf_counter,
                 probe: int = PROBE, reprobe: float = REPROBE, slower: float = SLOWER, budget: float = BUDGET,
                 reprobe_max: float = REPROBE_MAX, first_probe_after: float = 0.0):
        self.counts = sorted({1, max(1, n_max)})
        self.set_threads, self.clock = set_threads, clock
        self.probe, self.reprobe, self.slower, self.budget = probe, reprobe, slower, budget
        self.reprobe_max = max(reprobe, reprobe_max)
        self.log: list[tuple[float, int, dict]] = []
        self.current = None
        self._t0 = None  # start of the current unit (tick)
        self.start_over(first_probe_after)

    def start_over(self, first_probe_after: float = 0.0) -> None:
        """Forget what was measured (the work changed, e.g. its kernels): as a new tuner, probe at
        once, or on a busy machine after `first_probe_after` seconds."""
        self.chosen = 1  # until measured: the setting that is never far off
        self._plan: list[int | None] = []  # counts of the coming probe units (None: warm-up, not timed)
        self._times: dict[int, list[float]] = {}
        self._recent: list[float] = []
        self._reference = None  # median seconds per unit of the chosen count when it was chosen
        self._interval = self.reprobe  # seconds to the next scheduled probe: doubles while nothing changes
        self._next_probe = self._earliest = 0.0
        if len(self.counts) > 1 and first_probe_after <= 0:
            self._plan = [None] + self._probe_plan()
        elif len(self.counts) > 1:  # busy machine: 1 thread, the first probe later (see `busy`)
            self._next_probe = self.clock() + first_probe_after

    def _probe_plan(self) -> list[int]:
        self._times = {c: [] for c in self.counts}
        other = [c for c in self.counts if c != self.chosen]
        return (other + [self.chosen]) * self.probe  # the challengers first, alternating

    def _set(self, n: int) -> None:
        if n != self.current:
            self.set_threads(n)
            self.current = n

    @contextmanager
    def unit(self):
        """Run one unit of work at the count the tuner picks, and time it."""
        self._begin()
        t0 = self.clock()
        yield self.current
        t1 = self.clock()
        self._record(t1 - t0, t1)

    def tick(self, *_) -> None:
        """For loops with a callback: the unit since the last tick is done (not at the first call),
        the next one starts now. (Accepts and ignores progress arguments.)"""
        now = self.clock()
        if self._t0 is not None:
            self._record(now - self._t0, now)
        self._begin()
        self._t0 = self.clock()

    def _begin(self) -> None:
        planned = self._plan[0] if self._plan else self.chosen
        self._set(self.chosen if planned is None else planned)

    def _record(self, seconds: float, now: float) -> None:
        if self._plan:
            planned = self._plan.pop(0)
            if planned is not None:
                self._times[planned].append(seconds)
                self._drop_hopeless()
            if not self._plan:
                self._decide(now)
            return
        if len(self.counts) == 1:
            return
        self._recent = (self._recent + [seconds])[-self.probe:]
        load_changed = (self._reference is not None and len(self._recent) == self.probe
                        and statistics.median(self._recent) > self.slower * self._reference)
        if (load_changed and now >= self._earliest) or now >= self._next_probe:
            if load_changed:
                self._interval = self.reprobe
            self._plan = self._probe_plan()

    def _drop_hopeless(self) -> None:
        """A count whose fastest unit is SLOWER times another count's fastest is not probed further
        (one unit tells a 6x slower setting apart; no need to pay for more)."""
        best = {c: min(t) for c, t in self._times.items() if t}
        if len(best) < 2:
            return
        fastest = min(best.values())
        hopeless = {c for c, b in best.items() if b > self.slower * fastest}
        if hopeless:
            self._plan = [c for c in self._plan if c not in hopeless]
            if len(set(self._plan)) <= 1:  # what is left would only time the winner again
                self._plan = []

    def _decide(self, now: float) -> None:
        medians = {c: statistics.median(t) for c, t in self._times.items() if t}
        chosen = min(medians, key=lambda c: (medians[c], -c))  # the faster; a tie goes to more threads
        # The probe's cost: its units at the counts not chosen, beyond what the chosen one takes.
        cost = sum(t - medians[chosen] for c, ts in self._times.items() if c != chosen for t in ts)
        if self.log and chosen == self.chosen:  # nothing changed: look less often
            self._interval = min(2 * self._interval, self.reprobe_max)
        else:
            self._interval = self.reprobe
        self.chosen, self._reference, self._recent = chosen, medians[chosen], []
        self._earliest = now + max(0.0, cost) / self.budget  # probes take at most `budget` of the time
        self._next_probe = max(now + self._interval, self._earliest)
        self.log.append((now, chosen, medians))

    def iterate(self, items: Iterable, every: int) -> Iterator:
        """Yield the items of `items`, each block of `every` items one unit (for generators)."""
        it = iter(items)
        while True:
            with self.unit():
                block = [x for _, x in zip(range(every), it)]
            yield from block
            if len(block) < every:
                return

    def describe(self) -> str:
        if len(self.counts) == 1:
            return "1 thread (the BLAS has no more)"
        if not self.log:
            return f"still measuring (1 or {self.counts[-1]} threads)"
        _, chosen, medians = self.log[-1]
        times = ", ".join(f"{c}: {m * 1e3:.1f} ms" for c, m in sorted(medians.items()))
        return f"{chosen} thread{'s' * (chosen > 1)} (per unit {times}; {len(self.log)} decision(s))"


def cpu_stat(path: str = "/proc/stat") -> tuple[int, int] | None:
    """(busy, total) CPU time in clock ticks since boot, summed over the cores (Linux's /proc/stat
    first line: user nice system idle iowait irq softirq steal; idle and iowait are free time,
    steal is time the hypervisor gave to others); None where there is no such file."""
    try:
        with open(path, encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    total = sum(fields)
    return total - fields[3] - fields[4], total


def cores_in_use(cores: int, interval: float = 0.05, read=cpu_stat, sleep=time.sleep) -> float | None:
    """How many cores' worth of CPU the machine's other jobs use right now: /proc/stat read twice,
    `interval` seconds apart, while this process sleeps. None where unknown."""
    a = read()
    sleep(interval)
    b = read()
    if a is None or b is None or b[1] <= a[1]:
        return None
    return cores * (b[0] - a[0]) / (b[1] - a[1])


def busy(cores: int | None = None, in_use=cores_in_use, loadavg=None) -> bool:
    """True when other jobs already fill the cores: then `auto` starts at 1 thread and probes N
    threads only after REPROBE seconds (one unit at N threads cost 6-25x a unit at 1 on a 2-core
    machine at load 7-9: a probe right at the start would cost a short run dearly).

    The cores in use NOW (/proc/stat over 0.05 s), not the load average: the 1-minute load average
    still counts a run that has just ended (the run before this one, a test suite), and so made
    `auto` spend its first 30 s at 1 thread on a quiet machine (0.88x of 2 threads over 40 s in
    the threads race). The load average stays the rule where /proc/stat is missing."""
    import os
    cores = cores or available_cores()
    used = in_use(cores)
    if used is None:
        try:
            used = (loadavg or os.getloadavg)()[0]
        except (AttributeError, OSError):  # no load average (Windows): probe at once
            return False
    return used > cores - 0.5


def auto_tuner(blas: Blas, set_threads: Callable[[int], None] | None = None) -> ThreadTuner:
    """The tuner `--threads auto` runs: 1 or all of the BLAS's threads (`set_threads`, default
    the BLAS's own count), the first probe at once on a quiet machine and after REPROBE seconds on
    a full one (`busy`)."""
    return ThreadTuner(blas.max_threads, set_threads or blas.set, first_probe_after=_first_probe_after())


def start_over(tuner: ThreadTuner) -> None:
    """`tuner` measures again from now, as `auto_tuner` would start it (charrnn.engine.loop, once
    the kernels' handover is done: the child that compiled them kept a core busy until then)."""
    tuner.start_over(first_probe_after=_first_probe_after())


def _first_probe_after() -> float:
    """At once on a quiet machine, after REPROBE seconds on a full one (`busy`)."""
    return REPROBE if busy() else 0.0


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    import os
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@contextmanager
def blas_threads(threads, blas: Blas | None = None, rows=None):
    """Within the block the BLAS uses `threads`: None (as it is), a count, or 'auto' (yields the
    ThreadTuner the caller runs its units through; None otherwise). The count is restored after.

    `rows` (a charrnn.nn.rows.RowBlocks, training where splitting the streams pays): the count
    is then the number of row blocks, each run by its own thread with the BLAS at 1 thread."""
    if threads is None:
        yield None
        return
    threads = parse_threads(threads)
    blas = blas or Blas()
    before = blas.get()

    def set_threads(n: int) -> None:
        if rows is None:
            blas.set(n)
        else:
            blas.set(1)
            rows.set(n)
    try:
        if threads == AUTO:
            if rows is not None:
                rows.timed = True  # (the tuner decides the blocks: for the summary)
            yield auto_tuner(blas, set_threads)
        else:
            cores = available_cores()
            if threads > cores:
                print(f"warning: --threads {threads} is more than the {cores} core{'s' * (cores > 1)} this process "
                      f"may use: the threads will wait for each other (--threads {cores}, or auto)", file=sys.stderr)
            set_threads(threads)
            yield None
    finally:
        blas.set(before)
        if rows is not None:
            rows.set(1)


@contextmanager
def maybe_unit(tuner: ThreadTuner | None):
    """tuner.unit(), or nothing without a tuner."""
    if tuner is None:
        yield None
    else:
        with tuner.unit() as n:
            yield n
