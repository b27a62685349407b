"""`charrnn evaluate` on a file of any size, in bounded memory (the rules: evaluate.py's docstring).

Two passes:
1. read the file in chunks (corpus.CHUNK_BYTES), encode the characters the model knows into
   ids, count and list the others; ids beyond SPILL_BYTES go to an unnamed temporary file (in
   the corpus cache directory, else the system's temporary directory; the kernel removes it even
   after a kill), so memory holds one chunk of text, never the whole of it;
2. score those ids as `streams` parallel parts (corpus.Streams, exactly the layout of
   `evaluate.score_ids`), reading each chunk's (B, W+1) window row by row from the file. The
   window width W keeps a chunk's arrays near SCORE_BYTES: W = min(evaluate.CHUNK, rows / B),
   a row costing (3 V + layers (2 G + 4 H)) floats (logits and two temporaries; each layer's
   gates, their activations and its states).

Memory: O(CHUNK_BYTES + SPILL_BYTES + READ_AHEAD + SCORE_BYTES + model), whatever the file size and --streams.
The results equal `evaluate.evaluate_text` on the whole text (the state is carried across
chunks, so the chunk width changes no result beyond float rounding).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from charrnn.data import corpus
from charrnn.data.corpus import Streams, cache_dir_default, code_point_chunks
from charrnn.errors import CorpusError, VocabError
from charrnn.nn.cells import CELLS
from charrnn.use.evaluate import CHUNK, result, stream_scores
from charrnn.options import check
from charrnn.data.vocab import describe

SPILL_BYTES = 16 << 20  # ids held in memory before they go to a temporary file
READ_AHEAD = 4 << 20  # ids read ahead from the temporary file, for all streams together
SCORE_BYTES = 32 << 20  # about this much for one scored chunk (B * W rows: logits, gates, states)


class IdFile:
    """Ids in a file, read as `ids[cols]` for the (B, W) windows of corpus.Streams: row b is
    cols[b, 0] .. cols[b, 0] + W - 1. Rows are read ahead, READ_AHEAD bytes for all B of them
    (B reads per refill, not per chunk), since the next window of a row starts where this ends."""

    def __init__(self, f, dtype: np.dtype, n: int):
        self.f, self.dtype, self.n = f, np.dtype(dtype), n
        self.buf, self.at = None, None  # (B, R) ids read ahead; (B,) position of buf[:, 0]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, cols: np.ndarray) -> np.ndarray:
        B, W = cols.shape
        starts = cols[:, 0].astype(np.int64)
        R = max(W, READ_AHEAD // (B * self.dtype.itemsize))
        if self.buf is None or self.buf.shape != (B, R) or np.any(starts < self.at) or \
                np.any(starts + W > self.at + R):
            self.buf, self.at = np.zeros((B, R), dtype=self.dtype), starts.copy()
            for b in range(B):
                self.f.seek(int(starts[b]) * self.dtype.itemsize)
                got = self.f.readinto(memoryview(self.buf[b]).cast("B"))
                if got < min(R, self.n - starts[b]) * self.dtype.itemsize:
                    raise CorpusError("the temporary file of ids was cut short", hint="check the free disk space")
        offset = starts - self.at  # (B,)
        return self.buf[np.arange(B)[:, None], offset[:, None] + np.arange(W)]


class _Ids:
    """The known ids of pass 1: in memory up to SPILL_BYTES, then in a temporary file."""

    def __init__(self, dtype):
        self.dtype, self.parts, self.held, self.n, self.file = np.dtype(dtype), [], 0, 0, None

    def add(self, ids: np.ndarray) -> None:
        self.n += ids.size
        if self.file is None and self.held + ids.nbytes <= SPILL_BYTES:
            self.parts.append(ids)
            self.held += ids.nbytes
            return
        if self.file is None:
            self.file = _temporary_file()
            for p in self.parts:
                self.file.write(p.data)
            self.parts, self.held = [], 0
        self.file.write(np.ascontiguousarray(ids).data)

    def array(self):
        """An in-memory array, or an IdFile over the temporary file."""
        if self.file is None:
            return np.concatenate(self.parts) if self.parts else np.zeros(0, self.dtype)
        self.file.flush()
        return IdFile(self.file, self.dtype, self.n)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _temporary_file():
    for directory in (cache_dir_default(), None):
        try:
            if directory is not None:
                directory.mkdir(parents=True, exist_ok=True)
            return tempfile.TemporaryFile(dir=directory)
        except OSError:
            continue
    raise CorpusError("cannot create a temporary file for the ids of a long text",
                      hint="set CHARRNN_CACHE_DIR (or TMPDIR) to a writable directory with free space")


def window(streams: int, cfg) -> int:
    """Time steps per scored chunk: about SCORE_BYTES for its B * W rows, at most evaluate.CHUNK."""
    row = np.dtype(cfg.dtype).itemsize * (3 * cfg.vocab_size + cfg.layers * CELLS[cfg.cell].floats_per_step(cfg.hidden))
    return max(1, min(CHUNK, SCORE_BYTES // row // streams))


def evaluate_file(trained, path, strict: bool = False, streams: int = 1, encoding_errors: str = "strict",
                  progress=None, tuner=None, hold=None):
    """Score the text file `path` with a `trained.Trained` model, in bounded memory.

    progress (optional): called as progress(phase, done, total) with phase "read" (bytes of the
    file) or "score" (characters scored). tuner (charrnn.nn.threads.ThreadTuner, optional): the BLAS
    threads, chosen chunk by chunk. hold (charrnn.nn.intervene.Holds, optional): --ablate / --clamp.
    """
    check("streams", streams)
    chunks = code_point_chunks(path, encoding_errors)  # (checks the path and the option)
    ids, unknown, skipped, done = _Ids(trained.vocab.dtype), set(), 0, 0
    try:
        for points in chunks:
            k = trained.vocab.known(points)
            ids.add(k.ids)
            skipped, unknown = skipped + k.dropped, unknown.union(k.unknown)
            if progress is not None:  # every read but the last is CHUNK_BYTES long
                size = os.path.getsize(path)
                done = min(size, done + corpus.CHUNK_BYTES)
                progress("read", done, size)
        unknown = sorted(unknown)
        if unknown and strict:
            raise VocabError(f"the text has {len(unknown)} character(s) not in the model's vocabulary: "
                             f"{describe(unknown)}",
                             hint="leave out --strict to skip them (they are then counted and reported)")
        n = ids.n - 1
        if n < 1:
            what = "no characters" if ids.n == 0 else "only one character"
            raise CorpusError(f"the text has {what} the model knows, nothing to score",
                              hint="evaluate on a text of at least two characters from the model's vocabulary")
        B = max(1, min(streams, n))
        W = window(B, trained.cfg)
        report = None if progress is None else (lambda done, total: progress("score", done, total))
        total, count, chars = stream_scores(trained.params, trained.cfg, Streams(ids.array(), B, W),
                                            progress=report, tuner=tuner, chars_in=trained.vocab.chars_in,
                                            hold=hold)
    finally:
        chunks.close()
        ids.close()
    return result(total, count, chars, trained.vocab, skipped=skipped, unknown=unknown, streams=B)
