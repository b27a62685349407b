"""Checkpoint files: one `.npz` of named arrays plus a JSON metadata entry, written atomically.

Format (version 1): an ordinary NumPy `.npz` (zip of `.npy` files, no pickled objects).
    __meta__    uint8 array holding UTF-8 JSON: {"format": "charrnn", "format_version": 1, ...}
    <name>      every other entry is a numeric array (see trained.py for the names)
Anyone can read it with `np.load(path, allow_pickle=False)` and `json.loads(f["__meta__"].tobytes())`.

Writing goes to a temporary file in the same directory, is flushed and fsync'ed, then renamed
over the target: a crash at any moment leaves either the old file or the new one, never half.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from charrnn.errors import CheckpointError

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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        what = "the disk is full" if e.errno == 28 else (e.strerror or str(e))
        raise CheckpointError(f"could not write checkpoint {path}: {what}; the previous checkpoint is intact",
                              hint="free some space or choose another --out directory") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


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
        raise CheckpointError(f"checkpoint {path} does not exist",
                              hint="check the path, or train a model first: charrnn train CORPUS")
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a checkpoint file",
                              hint=f"pass a file such as {path / 'best.npz'}")
    bad = CheckpointError(f"{path} is not a readable charrnn checkpoint (truncated or corrupted?)",
                          hint="use another checkpoint, e.g. latest.npz or best.npz of the run")
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
            raise CheckpointError(f"{path} contains pickled Python objects, which charrnn refuses to load",
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
