"""What `charrnn inspect-memory` measures on a text, before it runs: the options clamped to the
text (`make_plan`), the memory a measurement would need (`check_memory`), the contexts and
targets it uses, and the progress total (`work`). The measurements are in memory.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charrnn.nn.cells import CELLS
from charrnn.errors import UsageError

STEP_COST = 32  # fixed cost of one time step, in stream-steps (for the progress total only)
DEFAULTS = (("--max-context", 1024), ("--max-targets", 2000), ("--max-distance", 256), ("--positions", 64))


def contexts_upto(max_context: int) -> np.ndarray:
    """1, 2, 4, ... below max_context, then max_context itself: (C,) int64."""
    ks = [1 << i for i in range(max(1, int(max_context)).bit_length()) if (1 << i) < max_context]
    return np.array(ks + [int(max_context)], dtype=np.int64)


def evenly_spaced(low: int, high: int, count: int) -> np.ndarray:
    """At most `count` distinct integers spread evenly over [low, high] (both ends included)."""
    if high < low or count < 1:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.round(np.linspace(low, high, min(count, high - low + 1))).astype(np.int64))


@dataclass(frozen=True)
class Plan:
    """What to measure on a text of n known characters (after clamping to what the text allows)."""

    max_context: int
    max_targets: int
    max_distance: int
    positions: int
    at: int | None = None  # saliency target (an index into the known characters), or None
    clamped: tuple = ()  # (option, asked, used) for each option clamped to the text


def make_plan(n: int, max_context: int, max_targets: int, max_distance: int, positions: int,
              at: int | None = None) -> Plan:
    """Clamp the options to a text of n known characters; UsageError naming the option when
    nothing is left. Context usage needs a target t <= n - 1 with t >= max_context, gradient reach
    a target t >= max_distance + 1."""
    for option, value in (("--max-context", max_context), ("--max-targets", max_targets),
                          ("--max-distance", max_distance), ("--positions", positions)):
        if value < 1:
            raise UsageError(f"invalid value for {option}: {value} (a whole number >= 1)",
                             hint=f"e.g. {option} {dict(DEFAULTS)[option]}")
    if n < 3:
        raise UsageError(f"the text has {n} character(s) the model knows; inspect-memory needs at least 3",
                         hint="pass a longer text with --text FILE, or raise --max-chars")
    clamped = []
    if max_context > n - 1:
        clamped.append(("--max-context", max_context, n - 1))
        max_context = n - 1
    if max_distance > n - 2:
        clamped.append(("--max-distance", max_distance, n - 2))
        max_distance = n - 2
    if at is not None and not 1 <= at <= n - 1:
        raise UsageError(f"--at {at} is outside the text: a target needs 1 <= N <= {n - 1} "
                         "(at least one character before it)", hint=f"pick a position from 1 to {n - 1}")
    return Plan(max_context, max_targets, max_distance, positions, at, tuple(clamped))


MAX_BYTES = 4 << 30  # the largest working set of one measurement


def check_memory(cfg, plan: Plan, n: int) -> None:
    """UsageError naming the option to lower when a measurement would need more than MAX_BYTES:
    gradient reach keeps every step of the window for the backward pass (about G + 5H floats per
    step, stream and layer), context usage keeps max_targets streams of at least one step."""
    per = (CELLS[cfg.cell].gates + 5) * cfg.hidden * np.dtype(cfg.dtype).itemsize  # bytes per step and stream
    P = min(plan.positions, n - 1 - plan.max_distance)  # the targets the text has (evenly_spaced)
    N = min(plan.max_targets, n - plan.max_context)
    reach = cfg.layers * (plan.max_distance + 1) * P * per
    context = cfg.layers * N * per * 2
    for need, options in ((reach, "--max-distance or --positions"), (context, "--max-targets")):
        if need > MAX_BYTES:
            raise UsageError(f"this measurement needs about {need / 1e9:.1f} GB of memory "
                             f"({cfg.layers} x {cfg.hidden} {cfg.cell})", hint=f"lower {options}")


def work(n: int, plan: Plan, init: bool = False, cell: str = "") -> int:
    """The progress total of `measure`, in stream-steps (the units `progress` is called with);
    with `init` an LSTM is measured three times (trained, fresh, fresh with forget bias 1)."""
    N = len(evenly_spaced(plan.max_context, n - 1, plan.max_targets))
    P = len(evenly_spaced(plan.max_distance + 1, n - 1, plan.positions))
    T = plan.max_distance + 1
    one = (n * (1 + STEP_COST) + sum(int(k) for k in contexts_upto(plan.max_context)) * (N + STEP_COST)
           + 3 * T * (P + STEP_COST))
    sal = 3 * T * (1 + STEP_COST) if plan.at is not None else 0
    return one * ((3 if cell == "lstm" else 2) if init else 1) + sal
