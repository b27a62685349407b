"""Corpus reading: chunked UTF-8 with exact error offsets, lossy modes, memmap cache (checked block by
block, rebuilt with a warning when it fails), split, streams."""

import codecs
import json
import os

import numpy as np
import pytest

from charrnn.data import corpus as corpus_mod
from charrnn.data.corpus import Streams, load_corpus, read_text, split
from charrnn.errors import CorpusError, UsageError
from helpers import TRAIN, invoke

MIXED = "Hello, world!\r\n안녕하세요 세계 😀 naïve — café\n" * 7


@pytest.fixture
def tiny_chunks(monkeypatch):
    monkeypatch.setattr(corpus_mod, "CHUNK_BYTES", 5)  # every multibyte character straddles some boundary


def write(tmp_path, data, name="c.txt"):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return p


def offset_in(message):
    return int(message.split("offset ")[1].split()[0].rstrip(")").replace(",", ""))


# ------------------------------------------------------------------------------------ reading
@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 5, 7, 64, 16 << 20])
def test_chunked_reading_across_multibyte_boundaries(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(corpus_mod, "CHUNK_BYTES", chunk)
    p = write(tmp_path, MIXED)
    assert read_text(p) == MIXED
    c = load_corpus(p)
    assert c.vocab.decode(c.ids) == MIXED and c.n_chars == len(MIXED)
    assert c.n_bytes == len(MIXED.encode()) and c.ids.dtype == np.uint8
    assert c.counts.sum() == len(MIXED) and c.counts[c.vocab.index("\n")] == MIXED.count("\n")


def test_bom_is_dropped(tmp_path, tiny_chunks):
    p = write(tmp_path, codecs.BOM_UTF8 + MIXED.encode())
    assert read_text(p) == MIXED
    assert "\ufeff" not in load_corpus(p).vocab


def test_korean_corpus_gets_uint16_ids(tmp_path, tiny_chunks):
    text = "".join(chr(0xAC00 + i) for i in range(300)) + "\n"
    c = load_corpus(write(tmp_path, text * 3))
    assert c.vocab.size == 301 and c.ids.dtype == np.uint16 and c.vocab.decode(c.ids) == text * 3


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 16, 16 << 20])
@pytest.mark.parametrize("data", [
    b"abc\xffdef",                                   # invalid start byte
    "안녕".encode() + b"\x80" + b"x" * 40,             # stray continuation byte after multibyte text
    b"x" * 37 + "가".encode()[:2] + b"y",               # truncated character in the middle, later chunk
    b"x" * 20 + "가".encode()[:2],                      # truncated character at end of file
    codecs.BOM_UTF8 + b"\xff",                         # right after a byte-order mark
    codecs.BOM_UTF8 + "세계".encode() + b"\xc0\xaf",     # overlong encoding after a BOM
    b"ok " * 30 + b"\xed\xa0\x80",                    # encoded surrogate
])
def test_invalid_utf8_names_the_byte_offset(tmp_path, monkeypatch, chunk, data):
    monkeypatch.setattr(corpus_mod, "CHUNK_BYTES", chunk)
    with pytest.raises(UnicodeDecodeError) as truth:
        data.decode("utf-8")
    p = write(tmp_path, data)
    for fn in (read_text, load_corpus):
        with pytest.raises(CorpusError) as e:
            fn(p)
        assert "not valid UTF-8" in e.value.message and str(p) in e.value.message
        assert offset_in(e.value.message) == truth.value.start
        assert "--encoding-errors replace" in e.value.hint


def test_lossy_modes_replace_and_ignore(tmp_path, tiny_chunks):
    p = write(tmp_path, b"ab\xffcd\xfe\n" + "가".encode())
    assert read_text(p, "replace") == "ab\ufffdcd\ufffd\n가"
    assert read_text(p, "ignore") == "abcd\n가"
    c = load_corpus(p, encoding_errors="replace")
    assert "\ufffd" in c.vocab and c.encoding_errors == "replace"
    assert c.vocab.decode(c.ids) == "ab\ufffdcd\ufffd\n가"
    assert load_corpus(p, encoding_errors="ignore").n_chars == 6
    with pytest.raises(UsageError, match="strict, replace, ignore"):
        load_corpus(p, encoding_errors="bogus")


def test_lossy_ignore_of_only_garbage_is_an_empty_text(tmp_path):
    with pytest.raises(CorpusError, match="no characters"):
        load_corpus(write(tmp_path, b"\xff\xfe\xfd"), encoding_errors="ignore")


@pytest.mark.parametrize("prefix", [0, 3, 40])
def test_nul_bytes_mean_binary(tmp_path, tiny_chunks, prefix):
    p = write(tmp_path, b"a" * prefix + b"\x00\x01\x02")
    with pytest.raises(CorpusError, match="binary") as e:
        load_corpus(p)
    assert f"offset {prefix:,}" in e.value.message


def test_utf16_file_is_reported_as_binary(tmp_path):
    with pytest.raises(CorpusError, match="binary"):
        load_corpus(write(tmp_path, "hello".encode("utf-16")))


def test_empty_whitespace_missing_directory(tmp_path):
    with pytest.raises(CorpusError, match="is empty"):
        load_corpus(write(tmp_path, b""))
    with pytest.raises(CorpusError, match="only whitespace"):
        load_corpus(write(tmp_path, " \n\t\r\n  \u3000\n"))
    with pytest.raises(CorpusError, match="no characters"):
        load_corpus(write(tmp_path, codecs.BOM_UTF8))
    with pytest.raises(UsageError, match="does not exist"):
        load_corpus(tmp_path / "nope.txt")
    with pytest.raises(UsageError, match="directory"):
        load_corpus(tmp_path)


def test_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read any file")
    p = write(tmp_path, "text")
    p.chmod(0)
    try:
        with pytest.raises(CorpusError, match="permission denied"):
            load_corpus(p)
    finally:
        p.chmod(0o644)


# -------------------------------------------------------------------------------------- cache
@pytest.fixture
def cached(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "CACHE_MIN_BYTES", 64)
    monkeypatch.setattr(corpus_mod, "CHUNK_BYTES", 97)
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_memmap_cache_is_identical_reused_and_rebuilt(tmp_path, cached):
    p = write(tmp_path, MIXED * 3)
    c1 = load_corpus(p)
    assert isinstance(c1.ids, np.memmap)
    assert np.array_equal(np.asarray(c1.ids), c1.vocab.encode(MIXED * 3))
    files = sorted(cached.glob("*.npy"))
    assert [f.name for f in files] == [f"{c1.sha256}-strict.npy"]
    mtime = files[0].stat().st_mtime_ns

    c2 = load_corpus(p)  # a cache hit: same file, not rewritten
    assert isinstance(c2.ids, np.memmap) and np.array_equal(c1.ids, c2.ids)
    assert files[0].stat().st_mtime_ns == mtime and sorted(cached.glob("*.npy")) == files

    p.write_text(MIXED * 2 + "new text!", encoding="utf-8")  # the text changes: a new entry
    c3 = load_corpus(p)
    assert c3.sha256 != c1.sha256 and c3.vocab.decode(c3.ids) == MIXED * 2 + "new text!"
    assert len(list(cached.glob("*.npy"))) == 2
    assert not list(cached.glob(".ids.*"))  # no temporary files left


def test_cache_is_keyed_by_encoding_errors(tmp_path, cached):
    p = write(tmp_path, MIXED.encode() + b"\xff" + MIXED.encode())
    a, b = load_corpus(p, "replace"), load_corpus(p, "ignore")
    assert a.n_chars == b.n_chars + 1
    assert {f.name.split("-")[1] for f in cached.glob("*.npy")} == {"replace.npy", "ignore.npy"}


def test_damaged_cache_entry_is_rebuilt(tmp_path, cached):
    p = write(tmp_path, MIXED * 3)
    c1 = load_corpus(p)
    (cached / f"{c1.sha256}-strict.npy").write_bytes(b"garbage")
    c2 = load_corpus(p)
    assert np.array_equal(c2.ids, c1.vocab.encode(MIXED * 3))


def test_explicit_cache_dir_and_unwritable_cache_falls_back_to_memory(tmp_path, cached):
    p = write(tmp_path, MIXED * 3)
    c = load_corpus(p, cache_dir=tmp_path / "mine")
    assert isinstance(c.ids, np.memmap) and list((tmp_path / "mine").glob("*.npy"))
    blocker = write(tmp_path, "x", name="blocker")  # a file where the cache directory should be
    c = load_corpus(p, cache_dir=blocker / "sub")
    assert not isinstance(c.ids, np.memmap) and c.vocab.decode(c.ids) == MIXED * 3


# --------------------------------------------------------------------- the cache checks itself
# Every block of cached ids carries a CRC-32 that is checked before use; a cache that fails (garbage
# in range, ids beyond the vocabulary, an older cache without checksums) is rebuilt with a one-line
# warning naming the file.
CACHE_TEXT = "def f(x):\n    return x * 2  # double\n" * 20  # 760 characters, 24 distinct


@pytest.fixture
def checksummed(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "CACHE_MIN_BYTES", 64)
    monkeypatch.setattr(corpus_mod, "CHUNK_BYTES", 97)
    monkeypatch.setattr(corpus_mod, "BLOCK_BYTES", 128)  # several blocks, the last one short
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    p = tmp_path / "t.txt"
    p.write_text(CACHE_TEXT, encoding="utf-8")
    return p, tmp_path / "cache"


def entry(cache):
    [npy] = cache.glob("*.npy")
    return npy, np.load(npy, mmap_mode="r+", allow_pickle=False)


def test_cache_stores_one_checksum_per_block_and_a_clean_hit_warns_nothing(checksummed):
    p, cache = checksummed
    load_corpus(p)
    npy, _ = entry(cache)
    info = json.loads(npy.with_suffix(".json").read_text())
    assert info["block_bytes"] == 128 and len(info["block_crc32"]) == -(-len(CACHE_TEXT) // 128)
    c2 = load_corpus(p)
    assert c2.warnings == [] and isinstance(c2.ids, np.memmap)
    assert c2.vocab.decode(c2.ids) == CACHE_TEXT


@pytest.mark.parametrize("damage", ["zeros", "beyond", "one-id"])
def test_a_damaged_cache_is_rebuilt_with_a_warning_naming_it(checksummed, damage):
    p, cache = checksummed
    c1 = load_corpus(p)
    npy, ids = entry(cache)
    if damage == "zeros":  # in-range garbage: trained on silently before
        ids[:] = 0
    elif damage == "beyond":  # ids beyond the vocabulary: an IndexError on every later run before
        ids[500] = 200
    else:  # one id changed to another valid one, in the last (short) block
        ids[-3] = (ids[-3] + 1) % c1.vocab.size
    ids.flush()
    del ids
    c2 = load_corpus(p)
    assert len(c2.warnings) == 1 and str(npy) in c2.warnings[0] and "rebuilding" in c2.warnings[0]
    assert c2.vocab.decode(c2.ids) == CACHE_TEXT  # the right text again ...
    assert load_corpus(p).warnings == []  # ... and the rebuilt cache passes its check


def test_a_cache_without_checksums_is_rebuilt(checksummed):
    p, cache = checksummed
    load_corpus(p)
    npy, _ = entry(cache)
    info = json.loads(npy.with_suffix(".json").read_text())
    del info["block_crc32"]  # as an older charrnn wrote it
    npy.with_suffix(".json").write_text(json.dumps(info))
    c = load_corpus(p)
    assert len(c.warnings) == 1 and "older charrnn" in c.warnings[0]
    assert c.vocab.decode(c.ids) == CACHE_TEXT


def test_train_on_a_damaged_cache_warns_and_trains_on_the_right_text(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "CACHE_MIN_BYTES", 64)
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.txt").write_text(CACHE_TEXT, encoding="utf-8")
    quiet = [a for a in TRAIN if a != "--quiet"]
    r = invoke("train", "t.txt", "--out", "a", *quiet)
    assert r.exit_code == 0, r.stderr
    npy, ids = entry(tmp_path / "cache")
    ids[:50] = 250  # beyond the 24-character vocabulary
    ids.flush()
    del ids
    r = invoke("train", "t.txt", "--out", "b", *quiet)
    assert r.exit_code == 0, r.stderr
    assert "internal error" not in r.stderr
    [line] = [x for x in r.stderr.splitlines() if "failed its check" in x]
    assert line.startswith("warning:") and npy.name in line


def test_an_empty_corpus_cache_file_is_rebuilt_not_an_internal_error(tmp_path, monkeypatch):
    from charrnn.data import corpus as corpus_mod

    monkeypatch.setattr(corpus_mod, "CACHE_MIN_BYTES", 64)
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    p = tmp_path / "t.txt"
    p.write_text("def f(x):\n    return x * 2\n" * 20, encoding="utf-8")
    corpus_mod.load_corpus(p)
    [npy] = (tmp_path / "cache").glob("*.npy")
    npy.write_bytes(b"")  # a cache emptied by a full disk or a crash: np.load raised EOFError
    c = corpus_mod.load_corpus(p)
    assert len(c.warnings) == 1 and "rebuilding" in c.warnings[0]
    assert c.vocab.decode(c.ids) == p.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- split, streams
@pytest.mark.parametrize("n,frac,n_val", [(100, 0.1, 10), (1000, 0.25, 250), (7, 0.5, 4), (10, 0.01, 0)])
def test_split_holds_out_the_last_fraction(n, frac, n_val):
    ids = np.arange(n)
    train, val = split(ids, frac)
    assert len(val) == n_val and len(train) == n - n_val
    assert np.array_equal(np.concatenate([train, val]), ids)


def test_streams_layout_continues_row_by_row_and_targets_shift():
    ids = np.arange(1003) % 251
    s = Streams(ids.astype(np.uint8), batch=4, seq_len=7)
    L = (len(ids) - 1) // 4
    assert s.length == L and s.n_chunks == L // 7
    for k in range(s.n_chunks):
        x, y = s.chunk(k)
        assert x.shape == y.shape == (4, 7) and x.dtype == np.intp
        assert np.array_equal(x[:, 1:], y[:, :-1])  # y is x shifted by one character
        for b in range(4):
            start = b * L + k * 7
            assert np.array_equal(x[b], ids[start: start + 7]) and np.array_equal(y[b], ids[start + 1: start + 8])
        if k:
            px, py = s.chunk(k - 1)
            assert np.array_equal(x[:, 0], py[:, -1])  # chunk k continues chunk k-1 in every row


def test_eval_chunks_cover_every_stream_character_once():
    ids = np.arange(500)
    s = Streams(ids, batch=3, seq_len=10)
    chunks = list(s.eval_chunks())
    assert [c[0].shape[1] for c in chunks] == [10] * 16 + [6]  # L = 166: 16 full chunks + 6
    xs, ys = np.concatenate([c[0] for c in chunks], 1), np.concatenate([c[1] for c in chunks], 1)
    for b in range(3):
        assert np.array_equal(xs[b], ids[b * 166: (b + 1) * 166])
        assert np.array_equal(ys[b], ids[b * 166 + 1: (b + 1) * 166 + 1])
    assert sorted(ys.ravel()) == list(range(1, 3 * 166 + 1))


def test_eval_chunks_exact_multiple_has_no_remainder():
    s = Streams(np.arange(41), batch=2, seq_len=5)
    assert [c[0].shape for c in s.eval_chunks()] == [(2, 5)] * 4


def test_streams_too_short_for_one_batch():
    s = Streams(np.arange(20), batch=4, seq_len=8)
    assert s.n_chunks == 0 and list(s.eval_chunks())[0][0].shape == (4, 4)
    with pytest.raises(CorpusError, match="fewer than one batch") as e:
        s.require_train()
    assert "--seq-len" in e.value.hint
    assert list(Streams(np.arange(3), batch=4, seq_len=8).eval_chunks()) == []
