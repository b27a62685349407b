"""Checkpoint files: exact round-trip, plain NumPy readable, atomic writes, disk full, bad files refused."""

import errno
import json
import os
import pickle

import numpy as np
import pytest

from charrnn.engine import checkpoint as ckpt
from charrnn.engine.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from charrnn.errors import CheckpointError

ARRAYS = {
    "param/W": np.arange(12, dtype=np.float32).reshape(3, 4),
    "param/b": np.array([1.5, -2.0], dtype=np.float64),
    "opt/t": np.array(7, dtype=np.int64),  # 0-d
    "scalar_f": np.float32(0.25),
    "state/l0.h": np.zeros((0, 3), dtype=np.float32),
    "ids": np.array([0, 255], dtype=np.uint8),
    "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
}
META = {"step": 3, "vocab": ["\n", " ", "가", "😀"], "val_loss": None, "best": float("inf"),
        "rng": {"state": {"state": 2 ** 100}}, "nested": {"a": [1, 2.5, "x"]}}


def test_round_trip_arrays_and_meta(tmp_path):
    p = save_checkpoint(tmp_path / "c.npz", ARRAYS, META)
    arrays, meta = load_checkpoint(p)
    assert set(arrays) == set(ARRAYS)
    for k, v in ARRAYS.items():
        v = np.asarray(v)
        assert arrays[k].dtype == v.dtype and arrays[k].shape == v.shape and np.array_equal(arrays[k], v), k
    assert arrays["opt/t"].shape == () and int(arrays["opt/t"]) == 7
    assert meta["format"] == "charrnn" and meta["format_version"] == FORMAT_VERSION
    assert {k: meta[k] for k in META} == META


def test_readable_with_plain_numpy_and_no_pickle(tmp_path):
    p = save_checkpoint(tmp_path / "c.npz", ARRAYS, META)
    with np.load(p, allow_pickle=False) as f:
        meta = json.loads(f["__meta__"].tobytes())
        assert meta["step"] == 3 and f["param/W"].shape == (3, 4)


def test_overwrites_atomically_and_leaves_no_temporary_files(tmp_path):
    p = tmp_path / "latest.npz"
    save_checkpoint(p, {"a": np.zeros(3)}, {"step": 1})
    save_checkpoint(p, {"a": np.ones(3)}, {"step": 2})
    arrays, meta = load_checkpoint(p)
    assert meta["step"] == 2 and arrays["a"][0] == 1
    assert [f.name for f in tmp_path.iterdir()] == ["latest.npz"]


def test_reserved_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "c.npz", {"__meta__": np.zeros(1)}, {})


def _half_write_then(exc):
    def savez(f, **payload):
        f.write(b"PK\x03\x04 half a zip file")
        raise exc
    return savez


@pytest.mark.parametrize("exc", [RuntimeError("crash mid-write"), KeyboardInterrupt()])
def test_failure_mid_write_keeps_the_old_file(tmp_path, monkeypatch, exc):
    p = save_checkpoint(tmp_path / "latest.npz", {"a": np.zeros(3)}, {"step": 1})
    before = p.read_bytes()
    monkeypatch.setattr(np, "savez", _half_write_then(exc))
    with pytest.raises(type(exc)):
        save_checkpoint(p, {"a": np.ones(3)}, {"step": 2})
    assert p.read_bytes() == before and load_checkpoint(p)[1]["step"] == 1
    assert [f.name for f in tmp_path.iterdir()] == ["latest.npz"]


def test_disk_full_is_a_clear_error_and_the_previous_checkpoint_is_intact(tmp_path, monkeypatch):
    p = save_checkpoint(tmp_path / "latest.npz", {"a": np.zeros(3)}, {"step": 1})
    before = p.read_bytes()
    monkeypatch.setattr(np, "savez", _half_write_then(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(CheckpointError) as e:
        save_checkpoint(p, {"a": np.ones(3)}, {"step": 2})
    assert "disk is full" in e.value.message and "previous checkpoint is intact" in e.value.message
    assert e.value.hint and "--out" in e.value.hint
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["latest.npz"]


def test_fsync_failure_is_reported_too(tmp_path, monkeypatch):
    p = save_checkpoint(tmp_path / "latest.npz", {"a": np.zeros(3)}, {"step": 1})

    def bad_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(os, "fsync", bad_fsync)
    with pytest.raises(CheckpointError, match="Input/output error; the previous checkpoint is intact"):
        save_checkpoint(p, {"a": np.ones(3)}, {"step": 2})
    monkeypatch.undo()
    assert load_checkpoint(p)[1]["step"] == 1 and len(list(tmp_path.iterdir())) == 1


def test_missing_output_directory_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="could not write checkpoint"):
        save_checkpoint(tmp_path / "gone" / "latest.npz", {"a": np.zeros(1)}, {})


# ------------------------------------------------------------------------------ refusing bad files
def _valid_meta(**over):
    return np.frombuffer(json.dumps({"format": "charrnn", "format_version": 1, **over}).encode(), np.uint8)


def bad_files(tmp_path):
    good = save_checkpoint(tmp_path / "good.npz", ARRAYS, META).read_bytes()
    corrupted = bytearray(good)
    for i in range(200, len(corrupted), 97):
        corrupted[i] ^= 0x5A
    files = {
        "truncated": good[: len(good) // 2],
        "corrupted": bytes(corrupted),
        "empty": b"",
        "text": b"hello, I am not a checkpoint\n",
        "raw pickle": pickle.dumps({"param/W": np.zeros(3)}),
    }
    out = {k: tmp_path / f"{k.replace(' ', '_')}.npz" for k in files}
    for k, data in files.items():
        out[k].write_bytes(data)
    np.savez(tmp_path / "nometa.npz", a=np.zeros(3))
    out["npz without __meta__"] = tmp_path / "nometa.npz"
    np.save(tmp_path / "single.npy", np.zeros(3))
    out["single .npy"] = tmp_path / "single.npy"
    np.savez(tmp_path / "other.npz", __meta__=np.frombuffer(b'{"format": "other"}', np.uint8))
    out["other format"] = tmp_path / "other.npz"
    np.savez(tmp_path / "badjson.npz", __meta__=np.frombuffer(b"{not json", np.uint8))
    out["meta not json"] = tmp_path / "badjson.npz"
    np.savez(tmp_path / "noversion.npz", __meta__=_valid_meta(format_version="1"))
    out["format version not a number"] = tmp_path / "noversion.npz"
    np.savez(tmp_path / "objects.npz", __meta__=_valid_meta(), evil=np.array([{"a": 1}, None], dtype=object))
    out["npz with pickled object array"] = tmp_path / "objects.npz"
    np.savez(tmp_path / "objmeta.npz", __meta__=np.array([{"format": "charrnn"}], dtype=object))
    out["pickled __meta__"] = tmp_path / "objmeta.npz"
    return out


def test_every_bad_file_is_a_checkpoint_error_with_a_hint(tmp_path):
    for name, path in bad_files(tmp_path).items():
        with pytest.raises(CheckpointError) as e:
            load_checkpoint(path)
        assert str(path) in e.value.message and e.value.hint, name
        assert "\n" not in e.value.message, name
        if "pickle" in name:
            assert "pickle" in e.value.message and "refuses" in e.value.message, name


def test_newer_format_version_asks_to_upgrade(tmp_path):
    p = save_checkpoint(tmp_path / "c.npz", {"a": np.zeros(1)}, {"format_version": FORMAT_VERSION + 1})
    with pytest.raises(CheckpointError, match=f"format {FORMAT_VERSION + 1}, newer") as e:
        load_checkpoint(p)
    assert "upgrade" in e.value.hint


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist") as e:
        load_checkpoint(tmp_path / "nope.npz")
    assert "charrnn train" in e.value.hint
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path)


class Boom:
    """Unpickling this runs code: it would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_code_is_never_executed(tmp_path):
    marker = tmp_path / "PWNED"
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps(Boom(marker)))
    np.savez(tmp_path / "obj.npz", __meta__=_valid_meta(), param=np.array([Boom(marker)], dtype=object))
    for p in (raw, tmp_path / "obj.npz"):
        with pytest.raises(CheckpointError, match="pickle.*refuses to load"):
            load_checkpoint(p)
    assert not marker.exists()
    pickle.loads(raw.read_bytes()).close()  # the crafted file really would have run code
    assert marker.exists()


def test_checkpoint_file_mode_follows_umask(tmp_path):
    import os
    old = os.umask(0o022)
    try:
        p = save_checkpoint(tmp_path / "c.npz", {"a": np.zeros(1)}, {})
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644


def test_remove_partial_deletes_what_a_killed_save_left(tmp_path):
    p = save_checkpoint(tmp_path / "latest.npz", {"a": np.zeros(1)}, {})
    (tmp_path / ".latest.npz.abc123.tmp").write_bytes(b"PK half")
    (tmp_path / ".best.npz.xyz.tmp").write_bytes(b"PK half")
    (tmp_path / "notes.tmp").write_text("keep")
    removed = ckpt.remove_partial(tmp_path)
    assert sorted(r.name for r in removed) == [".best.npz.xyz.tmp", ".latest.npz.abc123.tmp"]
    assert sorted(f.name for f in tmp_path.iterdir()) == ["latest.npz", "notes.tmp"] and p.exists()
