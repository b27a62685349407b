"""Checkpoint files: one `.npz` of named arrays plus a JSON metadata entry, written atomically.

Format (version 1): an ordinary NumPy `.npz` (zip of `.npy` files, no pickled objects).
    __meta__    uint8 array holding UTF-8 JSON: {"format": "charrnn", "format_version": 1, ...}
    <name>      every other entry is a numeric array (see trained_model.py for the names)
Anyone can read it with `np.load(path, allow_pickle=False)` and `json.loads(f["__meta__"].tobytes())`.

Writing goes to a temporary file in the same directory, is flushed and fsync'ed, then renamed
over the target: a crash at any moment leaves either the old file or the new one, never half.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from charrnn.errors import CheckpointError, CheckpointPathError

FORMAT = "charrnn"
FORMAT_VERSION = 1
META_KEY = "__meta__"


def save_checkpoint(path, arrays: dict, meta: dict) -> Path:
    """Write `arrays` and `meta` (JSON-serialisable) to `path` atomically."""
    path = Path(path)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta}
    payload = {k: np.asarray(v, order="C") for k, v in arrays.items()}  # (ascontiguousarray makes 0-d 1-d)
    if META_KEY in payload:
        raise ValueError(f"{META_KEY} is reserved")
    payload[META_KEY] = np.frombuffer(json.dumps(meta, allow_nan=True).encode("utf-8"), dtype=np.uint8)
    try:
        atomic_write(path, lambda f: np.savez(f, **payload), durable=True)
    except OSError as e:
        what = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        kept = "the previous checkpoint is intact" if path.exists() else "no earlier checkpoint was there"
        raise CheckpointError(f"could not write checkpoint {path}: {what}; {kept}",
                              hint="free some space or choose another --out directory") from None
    return path


def atomic_write(path: Path, write, durable: bool = False) -> None:
    """Call write(binary file) on a temporary file beside `path`, then rename it over `path`: readers
    never see half a file, and a failed write (the OSError is re-raised) leaves an old file as it was.
    durable: flush the file and its directory to disk before returning (checkpoints)."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; this is an ordinary file
        with os.fdopen(fd, "wb") as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_partial(directory) -> list[Path]:
    """Delete temporary files that a killed save left in `directory` (call it holding the run's lock)."""
    removed = []
    for p in Path(directory).glob(".*.npz.*.tmp"):
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def _remove(tmp) -> None:
    if tmp is not None:
        try:
            Path(tmp).unlink(missing_ok=True)
        except OSError:
            pass


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path) -> tuple[dict, dict]:
    """(arrays, meta) from a checkpoint; CheckpointError with a hint for anything that is not one."""
    path = Path(path)
    if not path.exists():
        raise CheckpointPathError(f"checkpoint {path} does not exist",
                              hint="check the path, or train a model first: charrnn train CORPUS")
    if path.is_dir():
        raise CheckpointPathError(f"{path} is a directory, not a checkpoint file",
                              hint=f"pass a file such as {path / 'best.npz'}")
    bad = CheckpointError(f"{path} is not a readable charrnn checkpoint (truncated or corrupted?)",
                          hint="use another checkpoint, e.g. latest.npz or best.npz of the run")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror or e}",
                              hint="check the file's permissions") from None
    if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):  # zip (.npz) or .npy
        if magic[:1] == b"\x80":  # pickle protocol 2+
            raise CheckpointError(f"{path} is a Python pickle, which charrnn refuses to load (it could run code)",
                                  hint="only load checkpoints written by `charrnn train`")
        raise CheckpointError(f"{path} is not a charrnn checkpoint (not a .npz file)",
                              hint="pass a checkpoint written by `charrnn train`, e.g. checkpoints/best.npz")
    try:
        with np.load(path, allow_pickle=False) as f:
            if not hasattr(f, "files"):
                raise CheckpointError(f"{path} is a single NumPy array, not a charrnn checkpoint",
                                      hint="pass a .npz written by `charrnn train`")
            if META_KEY not in f.files:
                raise CheckpointError(f"{path} is a .npz file but not a charrnn checkpoint (no {META_KEY})",
                                      hint="pass a checkpoint written by `charrnn train`")
            meta = json.loads(f[META_KEY].tobytes().decode("utf-8"))
            _check_meta(path, meta)
            arrays = {k: f[k] for k in f.files if k != META_KEY}
    except CheckpointError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise CheckpointError(f"{path} contains pickled Python objects, which charrnn refuses to load "
                                  "(they could run code)",
                                  hint="only load checkpoints written by `charrnn train`") from None
        raise bad from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, UnicodeDecodeError, RuntimeError,
            NotImplementedError, OverflowError, MemoryError, TypeError, AttributeError):
        raise bad from None
    return arrays, meta


def _check_meta(path: Path, meta) -> None:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a charrnn checkpoint (its metadata says format "
                              f"{meta.get('format') if isinstance(meta, dict) else None!r})",
                              hint="pass a checkpoint written by `charrnn train`")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{path} has no valid format version", hint="the file is damaged; use another one")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path} uses checkpoint format {version}, newer than this charrnn reads "
                              f"({FORMAT_VERSION})", hint="upgrade charrnn: pip install -U charrnn")
