"""Checkpoint files: one `.npz` of named arrays plus a JSON metadata entry, written atomically.

Format (version 1): an ordinary NumPy `.npz` (zip of `.npy` files, no pickled objects).
    __meta__    uint8 array holding UTF-8 JSON: {"format": "charrnn", "format_version": 1, ...}
    <name>      every other entry is a numeric array (see trained_model.py for the names)
Anyone can read it with `np.load(path, allow_pickle=False)` and `json.loads(f["__meta__"].tobytes())`.

Writing goes through `charrnn.outputs.atomic_write`: a temporary file in the same directory (the
symlink target's), flushed and fsync'ed, then renamed over the target: a crash at any moment
leaves either the old file or the new one, never half.
"""

from __future__ import annotations

import errno
import json
import zipfile
from pathlib import Path

import numpy as np

from charrnn.errors import CheckpointError, CheckpointPathError
from charrnn.engine.schema import HINT, MAX_META_BYTES, META_KEY
from charrnn.outputs import atomic_write  # (the one atomic write; rundir imports it from here too)

FORMAT = "charrnn"
FORMAT_VERSION = 1


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


def load_checkpoint(path, check=None, weights: bool = True) -> tuple[dict, dict]:
    """(arrays, meta) from a checkpoint; CheckpointError with a hint for anything that is not one.

    check(path, meta, headers): called with the metadata and every member's (shape, dtype), read
    from the .npy headers, before any array is read (schema.check_members: a zip bomb or a wrong
    shape costs nothing). weights=False: the metadata only (arrays is {})."""
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
            headers = read_headers(path, f.zip)
            shape, dtype = headers[META_KEY]
            if dtype != np.uint8 or len(shape) != 1 or shape[0] > MAX_META_BYTES:
                raise CheckpointError(f"{path}: its metadata is {shape} of {dtype}, not up to "
                                      f"{MAX_META_BYTES >> 20} MB of UTF-8 JSON", hint=HINT)
            meta = json.loads(f[META_KEY].tobytes().decode("utf-8"))
            _check_meta(path, meta)
            if check is not None:
                check(path, meta, headers)
            arrays = {k: f[k] for k in f.files if k != META_KEY} if weights else {}
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


def read_headers(path, z: zipfile.ZipFile) -> dict[str, tuple[tuple, np.dtype]]:
    """member name (without .npy) -> (shape, dtype), from each member's .npy header alone."""
    headers = {}
    for info in z.infolist():
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        with z.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise CheckpointError(f"{path}: member {name!r} is a .npy version {version}, not 1.0 or 2.0",
                                      hint=HINT)
        if dtype.hasobject:
            raise CheckpointError(f"{path} contains pickled Python objects ({name}), which charrnn refuses to "
                                  "load (they could run code)", hint="only load checkpoints written by `charrnn train`")
        headers[name] = (tuple(shape), dtype)
    return headers


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
