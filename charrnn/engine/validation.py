"""How often a run evaluates (every task): `--eval-every` when given; otherwise every 500 steps,
but at least once per epoch and about every 5 % of a run whose length is known in steps
(--max-steps, --epochs), so that a short run on a small corpus still shows its validation loss
and a sample. What is evaluated, and what it costs, is the task's (the language model's:
tasks/lm_validation.py)."""

from __future__ import annotations

import math

DEFAULT_EVAL_EVERY = 500
SHARE_OF_RUN = 0.05  # evaluate about every 5 % of a run planned in steps or epochs


def planned_steps(tcfg, n_chunks: int) -> int | None:
    """Steps the run is planned to take (the first of --max-steps and --epochs), or None (time only)."""
    plans = []
    if tcfg.max_steps is not None:
        plans.append(tcfg.max_steps)
    if tcfg.epochs is not None:
        plans.append(math.ceil(tcfg.epochs * n_chunks))
    return min(plans) if plans else None


def eval_period(tcfg, n_chunks: int) -> int:
    """Steps between validation passes: --eval-every, or sized to the run (see the module docstring)."""
    if tcfg.eval_every is not None:
        return tcfg.eval_every
    every = min(DEFAULT_EVAL_EVERY, max(1, n_chunks))  # at least once per epoch
    planned = planned_steps(tcfg, n_chunks)
    if planned is not None:
        every = min(every, max(1, round(planned * SHARE_OF_RUN)))
    return every
