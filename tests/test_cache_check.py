"""Issue 17, item 1: the corpus cache proves itself. Every block of cached ids carries a CRC-32
that is checked before use; a cache that fails (garbage in range, ids beyond the vocabulary, an
older cache without checksums) is rebuilt with a one-line warning naming the file, and an id
beyond the vocabulary from any source is a clear error, never an internal one."""

import json

import numpy as np
import pytest

from charrnn.data import corpus as corpus_mod
from charrnn.data.corpus import load_corpus
from helpers import TRAIN, invoke

TEXT = "def f(x):\n    return x * 2  # double\n" * 20  # 760 characters, 24 distinct


@pytest.fixture
def cached(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "CACHE_MIN_BYTES", 64)
    monkeypatch.setattr(corpus_mod, "CHUNK_BYTES", 97)
    monkeypatch.setattr(corpus_mod, "BLOCK_BYTES", 128)  # several blocks, the last one short
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    p = tmp_path / "t.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p, tmp_path / "cache"


def entry(cache):
    [npy] = cache.glob("*.npy")
    return npy, np.load(npy, mmap_mode="r+", allow_pickle=False)


def test_cache_stores_one_checksum_per_block_and_a_clean_hit_warns_nothing(cached):
    p, cache = cached
    load_corpus(p)
    npy, _ = entry(cache)
    info = json.loads(npy.with_suffix(".json").read_text())
    assert info["block_bytes"] == 128 and len(info["block_crc32"]) == -(-len(TEXT) // 128)
    c2 = load_corpus(p)
    assert c2.warnings == [] and isinstance(c2.ids, np.memmap)
    assert c2.vocab.decode(c2.ids) == TEXT


@pytest.mark.parametrize("damage", ["zeros", "beyond", "one-id"])
def test_a_damaged_cache_is_rebuilt_with_a_warning_naming_it(cached, damage):
    p, cache = cached
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
    assert c2.vocab.decode(c2.ids) == TEXT  # the right text again ...
    assert load_corpus(p).warnings == []  # ... and the rebuilt cache passes its check


def test_a_cache_without_checksums_is_rebuilt(cached):
    p, cache = cached
    load_corpus(p)
    npy, _ = entry(cache)
    info = json.loads(npy.with_suffix(".json").read_text())
    del info["block_crc32"]  # as an older charrnn wrote it
    npy.with_suffix(".json").write_text(json.dumps(info))
    c = load_corpus(p)
    assert len(c.warnings) == 1 and "older charrnn" in c.warnings[0]
    assert c.vocab.decode(c.ids) == TEXT


def test_train_on_a_damaged_cache_warns_and_trains_on_the_right_text(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "CACHE_MIN_BYTES", 64)
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.txt").write_text(TEXT, encoding="utf-8")
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


def test_an_id_beyond_the_vocabulary_is_a_clear_error_from_any_source():
    from charrnn.tasks import lm as model
    from charrnn.config import ModelConfig
    from charrnn.errors import VocabError

    cfg = ModelConfig(vocab_size=5, hidden=4, layers=1, cell="lstm", dtype="float64")
    params = model.init_params(cfg, np.random.default_rng(0))
    x = np.array([[1, 2, 7]])
    with pytest.raises(VocabError, match="character id 7 is outside the model's vocabulary of 5"):
        model.loss_and_grads(params, cfg, x, x % 5, model.init_state(cfg, 1))
