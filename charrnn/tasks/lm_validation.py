"""The language model's validation: on how much text, and what it costs.

On how much (`ValidationPlan`): between steps, the loss is measured on a bounded, fixed part of
the validation split, its first `PART_CHARS` characters (the same ones every time, so the figures
compare); at the end of the run, on that part (for best.npz and --patience) and on the whole
split. A split of at most `PART_CHARS` characters is always scored whole, once.

What it costs (`seconds`): measured seconds per character of the last pass (calibrated on one
chunk before the first), so a `--time` budget can keep room for the final validation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from charrnn.data.corpus import Streams
from charrnn.tasks import lm as model

PART_CHARS = 250_000  # characters of the validation split scored between steps


@dataclass
class ValidationPlan:
    """The validation streams and the part of them scored between steps.

    The part is the first `part_chunks` chunks of every stream of the whole split (about
    PART_CHARS characters), so the pass over the whole split at the end scores the part on the
    way, with the same carried state: one pass gives both losses.
    """

    streams: Streams  # the whole validation split
    part_chunks: int  # chunks scored between steps (all of them for a small split)
    sec_per_char: float | None = None  # measured cost of a pass, per character

    @classmethod
    def for_split(cls, streams: Streams, part_chars: int | None = None) -> "ValidationPlan":
        part_chars = PART_CHARS if part_chars is None else part_chars
        n = len(list_chunk_widths(streams))
        per_chunk = streams.batch * streams.seq_len
        return cls(streams, min(n, max(1, math.ceil(part_chars / per_chunk))))

    @property
    def bounded(self) -> bool:
        """True when the part is smaller than the whole split."""
        return self.part_chunks < len(list_chunk_widths(self.streams))

    def chars(self, whole: bool) -> int:
        widths = list_chunk_widths(self.streams)
        return self.streams.batch * sum(widths if whole else widths[: self.part_chunks])

    def per_char(self, loss: float | None, whole: bool) -> float | None:
        """A mean loss per token as nats per original character (jamo: tokens / characters times
        larger; chars: the same), over the part or the whole split."""
        if loss is None or self.streams.weights is None:
            return loss
        n = self.streams.eval_chars(None if whole else self.part_chunks)
        return loss * self.chars(whole) / max(1, n)

    def calibrate(self, params, cfg, ws=None, rows=None) -> None:
        """A first cost estimate: time one forward chunk of the validation streams (the faster of
        two calls: the first one also pays for warming up)."""
        x, y = next(iter(self.streams.eval_chunks()))
        state = model.init_state(cfg, self.streams.batch)
        best = math.inf
        for _ in range(2):
            t0 = time.perf_counter()
            _loss_sum(params, cfg, x, y, state, ws, rows)
            best = min(best, time.perf_counter() - t0)
        self.sec_per_char = best / max(1, x.size)

    def final_seconds(self) -> float:
        """Estimated seconds of the validation pass at the end of the run (over the whole split)."""
        return 0.0 if self.sec_per_char is None else self.sec_per_char * self.chars(whole=True)

    def run(self, params, cfg, whole: bool, remap=None, progress=None, ws=None, rows=None) -> tuple[float, float | None]:
        """Mean nats/char over the part, and over the whole split (None unless `whole` and bounded).

        The state is carried from chunk to chunk; progress(done, total) is called after each chunk
        with the characters scored so far and in all (it may raise to stop the pass). `ws`: the
        run's workspace for the scratch arrays (charrnn.nn.workspace), or None (fresh ones).
        `rows`: the run's RowBlocks (charrnn.nn.rows), which split the chunks as they split the
        training steps, or None.
        """
        t0 = time.perf_counter()
        state = model.init_state(cfg, self.streams.batch)
        n = len(list_chunk_widths(self.streams)) if whole else self.part_chunks
        total_chars = self.chars(whole)
        total, count, part = 0.0, 0, None
        for k, (x, y) in enumerate(self.streams.eval_chunks()):
            if k == n:
                break
            if remap is not None:
                x, y = remap(x), remap(y)
            s, c, state = _loss_sum(params, cfg, x, y, state, ws, rows)  # (B, T) ids -> nats summed
            total, count = total + s, count + c
            if k + 1 == self.part_chunks:
                part = total / count
            if progress is not None:
                progress(count, total_chars)
        self.sec_per_char = (time.perf_counter() - t0) / max(1, count)
        whole_loss = total / count if whole and self.bounded else None
        return part, whole_loss


def _loss_sum(params, cfg, x, y, state, ws, rows):
    if rows is None:
        return model.loss_sum(params, cfg, x, y, state, ws)
    return rows.loss_sum(model.loss_sum, params, cfg, x, y, state, ws)


def list_chunk_widths(streams: Streams) -> list[int]:
    """Characters per stream of each chunk `Streams.eval_chunks` yields: full chunks, then the rest."""
    rest = streams.length - streams.n_chunks * streams.seq_len
    return [streams.seq_len] * streams.n_chunks + ([rest] if rest > 0 else [])
