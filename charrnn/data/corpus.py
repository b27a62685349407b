"""Corpus: read UTF-8 text, encode it to ids, split train/validation, lay out parallel streams.

Reading works in chunks of CHUNK_BYTES with an incremental UTF-8 decoder, so a 1 GB file
needs bounded memory: one pass hashes the bytes (the cache key), one builds the vocabulary
(a histogram of code points), one encodes into a memory-mapped `.npy` cache that later runs
open instantly. Files under CACHE_MIN_BYTES are simply held in memory.

Streams (truncated BPTT layout, as in char-rnn): the N training ids are cut into B equal
streams of L = (N - 1) // B characters (+1 for the last target), stream b being
ids[b*L : (b+1)*L + 1]. Chunk k of an epoch is columns k*T .. k*T+T of every stream:
x (B, T) inputs and y (B, T) the next characters. Because chunk k+1 continues chunk k in
every row, the hidden state at the end of one chunk is the right start for the next.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charrnn.errors import CharRNNError, CorpusError, UsageError
from charrnn.options import check
from charrnn.data.tokens import decompose_points
from charrnn.outputs import atomic_write
from charrnn.data.vocab import Vocab, code_points

CHUNK_BYTES = 1 << 20  # small enough that each chunk's arrays stay in the CPU cache
CACHE_MIN_BYTES = 8 << 20
BLOCK_BYTES = 1 << 20  # the cache stores a CRC-32 of every block of this many id bytes
MAX_CODE_POINT = 0x110000


@dataclass
class Corpus:
    path: Path
    sha256: str
    n_bytes: int
    vocab: Vocab
    ids: np.ndarray  # (n_chars,) vocab.dtype; a read-only memmap for large files
    counts: np.ndarray  # (V,) occurrences of each vocabulary character
    encoding_errors: str = "strict"
    warnings: list = field(default_factory=list)  # one line each, e.g. a damaged cache that was rebuilt

    @property
    def n_chars(self) -> int:
        return int(self.ids.shape[0])


# --------------------------------------------------------------------------------- reading
def _open(path) -> tuple[Path, int]:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"file {path} does not exist", hint="check the path (any UTF-8 text file works)")
    if path.is_dir():
        raise UsageError(f"{path} is a directory, not a text file",
                         hint="pass one text file (to use many, concatenate them first: cat a.txt b.txt > all.txt)")
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except PermissionError:
        raise CorpusError(f"cannot read {path}: permission denied", hint=f"check its permissions (chmod +r {path})") from None
    except OSError as e:
        raise CorpusError(f"cannot read {path}: {e.strerror or e}") from None
    if size == 0:
        raise CorpusError(f"{path} is empty", hint="use a file that contains text")
    return path, size


def _token_chunks(path: Path, errors: str, tokens: str):
    """`_decoded_chunks` with the code points split into tokens (`charrnn.data.tokens`; a syllable is
    never split between chunks, so chunk by chunk is exact)."""
    for points, raw in _decoded_chunks(path, errors):
        yield (decompose_points(points) if tokens == "jamo" and points.dtype != np.uint8 else points), raw


def _decoded_chunks(path: Path, errors: str):
    """Yield (code points, raw bytes) per chunk; clear errors for binary data and invalid UTF-8.

    Code points come as uint32, or as uint8 for an all-ASCII chunk (then they are the raw bytes).

    A UTF-8 byte-order mark at the start is dropped (the first read is at least 3 bytes, so it is
    never split); `offset` counts every byte of the file, so error offsets are file offsets.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors)
    offset = 0
    with open(path, "rb") as f:
        while True:
            raw = f.read(max(CHUNK_BYTES, 3) if offset == 0 else CHUNK_BYTES)
            final = not raw
            nul = raw.find(b"\x00")
            if nul >= 0:
                raise CorpusError(f"{path} looks like a binary file (NUL byte at offset {offset + nul:,})",
                                  hint="give a plain-text (UTF-8) file instead")
            pending = len(decoder.getstate()[0])  # bytes of an incomplete character from the last chunk
            if not pending and raw.isascii():  # fast path: ASCII bytes are their own code points
                yield np.frombuffer(raw, dtype=np.uint8), raw
                if final:
                    return
                offset += len(raw)
                continue
            bom = 3 if offset == 0 and raw.startswith(codecs.BOM_UTF8) else 0
            try:
                text = decoder.decode(memoryview(raw)[bom:], final=final)
            except UnicodeDecodeError as e:
                at = offset - pending + bom + e.start
                raise CorpusError(f"{path} is not valid UTF-8: byte 0x{e.object[e.start]:02x} at offset {at:,}",
                                  hint="convert it to UTF-8 (iconv -f OLD -t UTF-8), or pass --encoding-errors "
                                       "replace (or ignore) to read it anyway") from None
            yield code_points(text), raw
            if final:
                return
            offset += len(raw)


def code_point_chunks(path, encoding_errors: str = "strict"):
    """The file's code points, chunk by chunk (uint32, or uint8 for an all-ASCII chunk), with the
    checks of `read_text`; only as much of the file is read as is consumed (close the generator
    to close the file)."""
    check("encoding_errors", encoding_errors)
    path, _ = _open(path)
    chunks = _decoded_chunks(path, encoding_errors)
    try:
        for points, _raw in chunks:
            yield points
    finally:
        chunks.close()


def read_text(path, encoding_errors: str = "strict") -> str:
    """The whole text of a (small) file, with the same checks as load_corpus."""
    path, _ = _open(path)
    return "".join(raw.decode("ascii") if p.dtype == np.uint8 else p.tobytes().decode("utf-32-le", "surrogatepass")
                   for p, raw in _decoded_chunks(path, encoding_errors))


def _histogram(points: np.ndarray, hist: np.ndarray) -> np.ndarray:
    if not points.size:
        return hist
    h = np.bincount(points, minlength=hist.size)
    h[: hist.size] += hist
    return h


def _scan(path: Path, errors: str, tokens: str = "chars") -> tuple[str, np.ndarray]:
    """One pass: sha256 of the bytes and a histogram of token code points."""
    digest = hashlib.sha256()
    hist = np.zeros(0, dtype=np.int64)
    for points, raw in _token_chunks(path, errors, tokens):
        digest.update(raw)
        hist = _histogram(points, hist)
    return digest.hexdigest(), hist


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _check_text(path: Path, hist: np.ndarray) -> None:
    if hist.sum() == 0:
        raise CorpusError(f"{path} contains no characters", hint="use a file that contains text")
    present = "".join(chr(c) for c in np.flatnonzero(hist))
    if all(c.isspace() for c in present):
        raise CorpusError(f"{path} contains only whitespace", hint="use a file that contains text")


def _encode_all(path: Path, vocab: Vocab, errors: str) -> np.ndarray:
    return np.concatenate([vocab.encode_points(p) for p, _ in _token_chunks(path, errors, vocab.tokens)])


def load_corpus(path, encoding_errors: str = "strict", cache_dir=None, tokens: str = "chars") -> Corpus:
    """Read and encode a UTF-8 text file; large files are encoded once into a memory-mapped cache.

    Small files: one pass for the hash and histogram (vocabulary), one to encode. Large files:
    the hash alone finds a cached encoding (vocabulary, counts and block checksums are stored
    beside it), which is verified before use; on a miss, or a cache that fails its check, the
    two passes above write the ids into the cache, chunk by chunk. `tokens` (chars | jamo): what
    an id stands for (charrnn.data.tokens); `n_chars` then counts tokens.
    """
    check("encoding_errors", encoding_errors)
    path, size = _open(path)
    warnings = []
    if size >= CACHE_MIN_BYTES:
        directory = Path(cache_dir) if cache_dir else cache_dir_default()
        sha = _sha256(path)
        target = directory / (f"{sha}-{encoding_errors}.npy" if tokens == "chars" else
                              f"{sha}-{encoding_errors}-{tokens}.npy")
        try:
            hit = _cache_hit(target, tokens)
        except _CacheFailed as e:
            hit = None
            warnings.append(f"the corpus cache {target} failed its check ({e}); rebuilding it from {path}")
        if hit is not None:
            return Corpus(path, sha, size, *hit, encoding_errors)
    sha, hist = _scan(path, encoding_errors, tokens)
    _check_text(path, hist)
    points = np.flatnonzero(hist)
    vocab = Vocab.from_code_points(points.astype(np.uint32), tokens)
    counts = hist[points]
    if size < CACHE_MIN_BYTES:
        ids = _encode_all(path, vocab, encoding_errors)
    else:
        ids = _build_cache(path, target, vocab, counts, encoding_errors)
    return Corpus(path, sha, size, vocab, ids, counts, encoding_errors, warnings)


# ----------------------------------------------------------------------------------- cache
def cache_dir_default() -> Path:
    return Path(os.environ.get("CHARRNN_CACHE_DIR") or Path.home() / ".cache" / "charrnn")


class _CacheFailed(Exception):
    """A cache entry exists but cannot be trusted (the message says why); it is rebuilt."""


def _block_crcs(chunks) -> list[int]:
    """CRC-32 of every BLOCK_BYTES-long block of the concatenated byte `chunks` (the last may be short)."""
    crcs, crc, filled = [], 0, 0
    for data in chunks:
        data = memoryview(data).cast("B")
        while len(data):
            take = min(len(data), BLOCK_BYTES - filled)
            crc, filled, data = zlib.crc32(data[:take], crc), filled + take, data[take:]
            if filled == BLOCK_BYTES:
                crcs.append(crc)
                crc, filled = 0, 0
    if filled:
        crcs.append(crc)
    return crcs


def _cache_hit(target: Path, tokens: str = "chars"):
    """(vocab, ids memmap, counts) from `<sha256>-<errors>.npy` and its `.json`; None when there is
    no entry; _CacheFailed when there is one that fails its check.

    The check reads every id once (no memory map: bounded memory) to compare the CRC-32 of each
    block with the one stored when the cache was written, and to see that every id is in the
    vocabulary - much cheaper than re-encoding the text (the sha256 of the text costs as much).
    """
    meta = target.with_suffix(".json")
    if not target.exists() and not meta.exists():
        return None
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        vocab = Vocab.from_list(info["vocab"], tokens)
        counts = np.array(info["counts"], dtype=np.int64)
        crcs = info.get("block_crc32")
        if not isinstance(crcs, list) or info.get("block_bytes") != BLOCK_BYTES:
            raise _CacheFailed("no block checksums: written by an older charrnn")
        ids = np.load(target, mmap_mode="r", allow_pickle=False)
        if not (ids.shape == (int(counts.sum()),) and ids.dtype == vocab.dtype and counts.shape == (vocab.size,)):
            raise _CacheFailed("its length, type or vocabulary does not match")
        offset, n_bytes = ids.offset, ids.nbytes
        del ids
        with open(target, "rb") as f:
            f.seek(offset)
            blocks = iter(lambda: f.read(BLOCK_BYTES), b"")
            read = 0
            for k, (block, want) in enumerate(zip(blocks, crcs)):
                read += len(block)
                if zlib.crc32(block) != want:
                    raise _CacheFailed(f"checksum mismatch in block {k} (bytes {k * BLOCK_BYTES:,}..)")
                top = int(np.frombuffer(block, dtype=vocab.dtype).max(initial=0))
                if top >= vocab.size:
                    raise _CacheFailed(f"character id {top} in block {k}, beyond its vocabulary of {vocab.size}")
            if read != n_bytes or len(crcs) != -(-n_bytes // BLOCK_BYTES):
                raise _CacheFailed("it is shorter or longer than its checksums")
        return vocab, np.load(target, mmap_mode="r", allow_pickle=False), counts
    except _CacheFailed:
        raise
    except (OSError, EOFError, ValueError, KeyError, TypeError, CharRNNError) as e:
        raise _CacheFailed(f"unreadable: {type(e).__name__}") from None


def _build_cache(path: Path, target: Path, vocab: Vocab, counts: np.ndarray, errors: str) -> np.ndarray:
    """Encode the file chunk by chunk into `target` (atomically) with a CRC-32 per block beside it
    in the `.json`; the ids in memory if the cache cannot be written."""
    n = int(counts.sum())
    written = []  # byte count per chunk, for the length check

    def write(f):
        def chunks():
            for p, _ in _token_chunks(path, errors, vocab.tokens):
                ids = vocab.encode_points(p)
                f.write(ids.data)
                written.append(ids.size)
                yield ids.data

        header = {"descr": np.lib.format.dtype_to_descr(vocab.dtype), "fortran_order": False, "shape": (n,)}
        np.lib.format.write_array_header_1_0(f, header)
        crcs.extend(_block_crcs(chunks()))
        if sum(written) != n:
            raise CorpusError(f"{path} changed while it was being read", hint="run again once it is complete")

    crcs = []
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.with_suffix(".json").unlink(missing_ok=True)  # never a new .npy beside an old .json
        atomic_write(target, write)
        info = {"source": str(path.resolve()), "vocab": vocab.to_list(), "counts": counts.tolist(), "n_chars": n,
                "block_bytes": BLOCK_BYTES, "block_crc32": crcs}
        text = json.dumps(info).encode("utf-8")
        atomic_write(target.with_suffix(".json"), lambda f: f.write(text))
    except OSError:  # e.g. no writable cache, or the disk filled up: it is an optimisation, carry on without it
        return _encode_all(path, vocab, errors)
    return np.load(target, mmap_mode="r", allow_pickle=False)


# ------------------------------------------------------------------------------ splitting
def split(ids: np.ndarray, val_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, val): the last `val_frac` of the text, contiguous, is the validation split."""
    n_val = int(round(len(ids) * val_frac))
    return ids[: len(ids) - n_val], ids[len(ids) - n_val:]


class Streams:
    """B parallel streams over `ids`, read T characters at a time (see the module docstring)."""

    def __init__(self, ids: np.ndarray, batch: int, seq_len: int, weights: np.ndarray | None = None):
        self.ids, self.batch, self.seq_len = ids, batch, seq_len
        self.weights = weights  # (N,) 1 where a token begins an original character (jamo), or None
        self.length = max(0, (len(ids) - 1) // batch)  # L: characters per stream (inputs)
        self.n_chunks = self.length // seq_len
        self.starts = np.arange(batch, dtype=np.intp)[:, None] * self.length  # (B, 1)

    def chunk(self, k: int, width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """x, y (B, T) intp for chunk k: y is x shifted by one character."""
        T = self.seq_len if width is None else width
        cols = self.starts + (k * self.seq_len + np.arange(T + 1, dtype=np.intp))  # (B, T+1)
        window = np.asarray(self.ids[cols], dtype=np.intp)
        return window[:, :-1], window[:, 1:]

    def chars_in(self, k: int, width: int | None = None) -> int:
        """Original characters among the targets y of chunk k (tokens.char_weights): what per-character
        losses divide by; the number of targets when every token is a character."""
        T = self.seq_len if width is None else width
        if self.weights is None:
            return self.batch * T
        cols = self.starts + (k * self.seq_len + 1 + np.arange(T, dtype=np.intp))  # (B, T): the targets
        return int(self.weights[cols].sum())

    def eval_chars(self, n: int | None = None) -> int:
        """Original characters among the targets of the first n chunks of `eval_chunks` (all: None)."""
        widths = [self.seq_len] * self.n_chunks
        rest = self.length - self.n_chunks * self.seq_len
        widths += [rest] if rest > 0 else []
        return sum(self.chars_in(k, w) for k, w in enumerate(widths[:n]))

    def eval_chunks(self):
        """Every character of every stream once: full chunks, then the shorter remainder."""
        for k in range(self.n_chunks):
            yield self.chunk(k)
        rest = self.length - self.n_chunks * self.seq_len
        if rest > 0:
            yield self.chunk(self.n_chunks, rest)

    def require_train(self) -> None:
        if self.n_chunks == 0:
            need = self.batch * self.seq_len + 1
            raise CorpusError(f"the training split has {len(self.ids):,} characters, fewer than one batch "
                              f"needs ({self.batch} streams x {self.seq_len} + 1 = {need:,})",
                              hint="use more text, lower --batch / --seq-len, or lower --val-frac")
