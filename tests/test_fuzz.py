"""Property-based tests: any Unicode text round-trips; any byte string is a clean CheckpointError."""

import io
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charrnn.data import corpus as corpus_mod
from charrnn.engine.checkpoint import load_checkpoint, save_checkpoint
from charrnn.data.corpus import load_corpus, read_text
from charrnn.errors import CharRNNError, CheckpointError, CorpusError, VocabError
from charrnn.data.vocab import Vocab
from helpers import make_checkpoint

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Any character but NUL (binary marker) and lone surrogates (not encodable as UTF-8).
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
TEXT = st.text(CHARS, min_size=1, max_size=300)


@FAST
@given(text=TEXT, chunk=st.integers(1, 9))
def test_any_text_round_trips_through_load_corpus(tmp_path_factory, text, chunk):
    p = tmp_path_factory.mktemp("fz") / "t.txt"
    p.write_bytes(text.encode("utf-8"))
    old = corpus_mod.CHUNK_BYTES
    corpus_mod.CHUNK_BYTES = chunk
    try:
        if text.isspace():
            with pytest.raises(CorpusError, match="whitespace"):
                load_corpus(p)
            return
        if text.startswith("\ufeff"):  # a leading U+FEFF is the byte-order mark and is dropped
            text = text[1:]
            if not text.strip():
                with pytest.raises(CorpusError):
                    load_corpus(p)
                return
        c = load_corpus(p)
        assert read_text(p) == text
    finally:
        corpus_mod.CHUNK_BYTES = old
    assert c.vocab.decode(c.ids) == text
    assert c.vocab.chars == tuple(sorted(set(text)))
    assert c.ids.dtype == c.vocab.dtype and c.n_chars == len(text)


@FAST
@given(data=st.binary(min_size=1, max_size=200), chunk=st.integers(1, 9))
def test_any_bytes_are_read_or_cleanly_refused(tmp_path_factory, data, chunk):
    p = tmp_path_factory.mktemp("fz") / "b.txt"
    p.write_bytes(data)
    old = corpus_mod.CHUNK_BYTES
    corpus_mod.CHUNK_BYTES = chunk
    try:
        text = read_text(p, "replace")
        assert "\ufffd" in text or text == data.decode("utf-8-sig")
        try:
            strict = read_text(p)
        except CorpusError as e:
            assert "binary" in e.message or "not valid UTF-8" in e.message
        else:
            assert strict == data.decode("utf-8-sig")
    except CorpusError as e:
        assert b"\x00" in data and "binary" in e.message
    finally:
        corpus_mod.CHUNK_BYTES = old


@FAST
@given(vocab_text=TEXT, text=st.text(CHARS, max_size=200))
def test_vocab_encode_decode_or_name_the_unknown_characters(vocab_text, text):
    v = Vocab.from_text(vocab_text)
    unknown = v.unknown(text)
    if not unknown:
        ids = v.encode(text)
        assert ids.dtype == v.dtype and v.decode(ids) == text
    else:
        with pytest.raises(VocabError) as e:
            v.encode(text)
        assert f"U+{ord(unknown[0]):04X}" in e.value.message and "\n" not in e.value.message
    full = Vocab.from_text(vocab_text + text)
    assert full.decode(full.encode(text)) == text


@FAST
@given(prime=st.text(st.characters(blacklist_categories=("Cs",)), max_size=50))
def test_prime_is_encodable_exactly_when_every_character_is_known(prime):
    v = Vocab.from_text("def f(x):\n    return 'a'\n")
    if all(c in v for c in prime):
        assert v.decode(v.encode(prime)) == prime
    else:
        with pytest.raises(VocabError):
            v.encode(prime)


@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("ck") / "c.npz", hidden=4, layers=1).read_bytes()


def check_refused(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("fz") / "x.npz"
    p.write_bytes(data)
    try:
        load_checkpoint(p)
    except CheckpointError as e:
        assert e.message and "\n" not in e.message
        return
    except CharRNNError as e:  # pragma: no cover - wrong subclass
        raise AssertionError(f"not a CheckpointError: {type(e).__name__}: {e}")
    # A mutation that leaves the file valid (e.g. a flipped byte in the zip comment) may load.


@FAST
@given(data=st.binary(max_size=600) | st.builds(lambda b: b"PK\x03\x04" + b, st.binary(max_size=400))
       | st.builds(lambda b: b"\x93NUMPY" + b, st.binary(max_size=200)))
def test_random_bytes_are_a_checkpoint_error(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("fz") / "x.npz"
    p.write_bytes(data)
    with pytest.raises(CheckpointError):
        load_checkpoint(p)


@FAST
@given(data=st.data())
def test_mutated_checkpoints_are_a_checkpoint_error_or_load(tmp_path_factory, valid_bytes, data):
    b = bytearray(valid_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(b) - 1))
        b[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.none() | st.integers(0, len(b)))
    check_refused(tmp_path_factory, bytes(b if cut is None else b[:cut]))


@FAST
@given(shape=st.lists(st.integers(0, 2 ** 62), min_size=1, max_size=3), descr=st.sampled_from(["<f4", "<f8", "|u1"]))
def test_lying_array_headers_do_not_allocate_or_hang(tmp_path_factory, shape, descr):
    """An entry whose header claims a huge shape must be refused, not allocated."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    buf.write(b"\0" * 64)
    meta = io.BytesIO()
    np.save(meta, np.frombuffer(b'{"format": "charrnn", "format_version": 1}', np.uint8))
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("__meta__.npy", meta.getvalue())
        z.writestr("param/W.npy", buf.getvalue())
    n = int(np.prod(shape, dtype=object)) * np.dtype(descr).itemsize
    if n <= 64:
        check_refused(tmp_path_factory, zbuf.getvalue())
        return
    p = tmp_path_factory.mktemp("fz") / "x.npz"
    p.write_bytes(zbuf.getvalue())
    with pytest.raises(CheckpointError):
        load_checkpoint(p)


def test_compressed_and_deflate_flipped_checkpoints(tmp_path, valid_bytes):
    """np.savez_compressed files load; a stored entry relabelled as deflate is refused cleanly."""
    src = tmp_path / "c.npz"
    src.write_bytes(valid_bytes)
    with np.load(src) as f:
        np.savez_compressed(tmp_path / "z.npz", **{k: f[k] for k in f.files})
    arrays, meta = load_checkpoint(tmp_path / "z.npz")
    assert meta["format"] == "charrnn"
    b = bytearray(valid_bytes)
    central = bytes(b).index(b"PK\x01\x02")
    b[central + 10] = 8  # the central directory's compression method: deflate (the data is stored)
    bad = tmp_path / "d.npz"
    bad.write_bytes(bytes(b))
    with pytest.raises(CheckpointError):
        load_checkpoint(bad)


def test_round_trip_of_a_written_checkpoint_still_works(tmp_path):
    p = save_checkpoint(tmp_path / "a.npz", {"x": np.arange(3)}, {"k": "v"})
    assert load_checkpoint(p)[1]["k"] == "v"
