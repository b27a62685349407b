"""How many threads the BLAS (the matrix products) may use: a fixed count, or `auto`.

Why: on a quiet machine OpenBLAS's threads make a 2-core training step 1.2-1.4x faster than one
thread, but when other jobs hold the cores its threads wait for each other, and one thread is
2.5-3.4x faster (issue 13; sampling at batch 1, H = 512: 16x). No fixed count suits both, and
the load changes while a run goes on.

`auto` decides by measurement (`ThreadTuner`): the work comes in equal units (a training step, an
evaluation chunk, a block of sampled characters); the tuner times units at 1 thread and at the
BLAS's full count N, alternating (1, N, 1, N, ...: PROBE units each after one warm-up unit), and
runs on with the faster by the median. It measures again every REPROBE seconds, and at once when
the chosen setting's recent units take more than SLOWER times the time it was chosen with (the
load went up). A probe costs a few units at the slower setting: with REPROBE = 30 s and 40 ms
steps, well under 1 % of the run.

The thread count is set through threadpoolctl (the BLAS's own call), never through environment
variables (which the BLAS reads once, when NumPy is imported). The products give the same numbers
up to float rounding at any thread count, not always the same bits (OpenBLAS adds long sums in
another order with 1 thread than with several): runs that must repeat bit for bit, such as a
resumed run compared with an uninterrupted one, use a fixed count.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

from charrnn.errors import UsageError

AUTO = "auto"
MAX_THREADS = 1024
PROBE = 3  # timed units per setting in a probe (after one warm-up unit)
REPROBE = 30.0  # seconds between probes
SLOWER = 1.5  # re-probe at once when recent units at the chosen setting take this much longer


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
                 probe: int = PROBE, reprobe: float = REPROBE, slower: float = SLOWER):
        self.counts = sorted({1, max(1, n_max)})
        self.set_threads, self.clock = set_threads, clock
        self.probe, self.reprobe, self.slower = probe, reprobe, slower
        self.chosen = self.counts[-1]
        self.log: list[tuple[float, int, dict]] = []
        self._plan: list[int | None] = []  # counts of the coming probe units (None: warm-up, not timed)
        self._times: dict[int, list[float]] = {}
        self._recent: list[float] = []
        self._reference = None  # median seconds per unit of the chosen count when it was chosen
        self._next_probe = None
        self.current = None
        self._t0 = None  # start of the current unit (tick)
        if len(self.counts) > 1:
            self._start_probe(warmup=True)

    def _start_probe(self, warmup: bool = False) -> None:
        other = [c for c in self.counts if c != self.chosen]
        order = other + [self.chosen]  # the challengers first, alternating
        self._plan = ([None] if warmup else []) + order * self.probe
        self._times = {c: [] for c in self.counts}

    def _set(self, n: int) -> None:
        if n != self.current:
            self.set_threads(n)
            self.current = n

    def _decide(self, now: float) -> None:
        medians = {c: statistics.median(t) for c, t in self._times.items() if t}
        self.chosen = min(medians, key=lambda c: (medians[c], -c))  # the faster; a tie goes to more threads
        self._reference = medians[self.chosen]
        self._recent = []
        self._next_probe = now + self.reprobe
        self.log.append((now, self.chosen, medians))

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
            if not self._plan:
                self._decide(now)
            return
        if len(self.counts) == 1:
            return
        self._recent = (self._recent + [seconds])[-self.probe:]
        load_changed = (len(self._recent) == self.probe
                        and statistics.median(self._recent) > self.slower * self._reference)
        if load_changed or now >= self._next_probe:
            self._start_probe()

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


@contextmanager
def blas_threads(threads, blas: Blas | None = None):
    """Within the block the BLAS uses `threads`: None (as it is), a count, or 'auto' (yields the
    ThreadTuner the caller runs its units through; None otherwise). The count is restored after."""
    if threads is None:
        yield None
        return
    threads = parse_threads(threads)
    blas = blas or Blas()
    before = blas.get()
    try:
        if threads == AUTO:
            yield ThreadTuner(blas.max_threads, blas.set)
        else:
            blas.set(threads)
            yield None
    finally:
        blas.set(before)


@contextmanager
def maybe_unit(tuner: ThreadTuner | None):
    """tuner.unit(), or nothing without a tuner."""
    if tuner is None:
        yield None
    else:
        with tuner.unit() as n:
            yield n
