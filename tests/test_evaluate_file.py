"""use/evaluate_file.py: `charrnn evaluate` streams the file: bounded memory on any size and any
--streams, progress on stderr, and the same results as scoring the whole text in memory."""

import tracemalloc

import numpy as np
import pytest
from helpers import invoke, TEXT, make_checkpoint

from charrnn.data import corpus
from charrnn.use import evaluate
from charrnn.use import evaluate_file as ef
from charrnn.tasks import lm as model
from charrnn.errors import CorpusError, VocabError
from charrnn.engine.trained import load_trained

ODD = TEXT * 12 + "ünknown € chars\u00a0here\n" + TEXT * 9  # characters the model does not know


@pytest.fixture
def trained(tmp_path):
    return load_trained(make_checkpoint(tmp_path / "c.npz", dtype="float64", seed=4))


def write(tmp_path, text, name="t.txt"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def reference(t, text):
    """Mean nats/char of the known characters, one forward pass over all of them from a zero state."""
    ids = np.array([t.vocab.index(c) for c in text if c in t.vocab])
    total, n, _ = model.loss_sum(t.params, t.cfg, ids[None, :-1], ids[None, 1:], model.init_state(t.cfg, 1))
    return total / n, n


@pytest.mark.parametrize("small", [False, True])  # in memory / spilled to a file, tiny chunks and windows
@pytest.mark.parametrize("streams", [1, 3, 64])
def test_streaming_evaluate_equals_the_in_memory_one_and_a_reference(tmp_path, trained, monkeypatch, small, streams):
    if small:
        monkeypatch.setattr(corpus, "CHUNK_BYTES", 61)
        monkeypatch.setattr(ef, "SPILL_BYTES", 100)
        monkeypatch.setattr(ef, "READ_AHEAD", 50)
        monkeypatch.setattr(ef, "SCORE_BYTES", 1000 * streams)  # windows of a few steps
        monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    got = ef.evaluate_file(trained, write(tmp_path, ODD), streams=streams)
    want = evaluate.evaluate_text(trained, ODD, streams=streams)
    assert (got.chars, got.skipped, got.unknown, got.streams) == (want.chars, want.skipped, want.unknown, want.streams)
    assert got.total_nats == pytest.approx(want.total_nats, rel=1e-12)
    if streams == 1:
        nats, n = reference(trained, ODD)
        assert got.chars == n and got.nats_per_char == pytest.approx(nats, rel=1e-12)
    assert got.skipped == sum(c not in trained.vocab for c in ODD) and {"ü", "€", "\u00a0"} <= set(got.unknown)


def test_spilled_ids_go_to_an_unnamed_temporary_file(tmp_path, trained, monkeypatch):
    monkeypatch.setattr(ef, "SPILL_BYTES", 10)
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    ef.evaluate_file(trained, write(tmp_path, TEXT * 5), streams=2)
    assert list((tmp_path / "cache").iterdir()) == []  # nothing left behind


def test_strict_and_empty_errors_as_before(tmp_path, trained):
    with pytest.raises(VocabError, match="character.s. not in the model's vocabulary: .*'ü'"):
        ef.evaluate_file(trained, write(tmp_path, ODD), strict=True)
    with pytest.raises(CorpusError, match="no characters the model knows"):
        ef.evaluate_file(trained, write(tmp_path, "€€€üü"))


def test_progress_reports_reading_then_scoring(tmp_path, trained, monkeypatch):
    monkeypatch.setattr(corpus, "CHUNK_BYTES", 100)
    seen = []
    r = ef.evaluate_file(trained, write(tmp_path, TEXT * 30), streams=4,
                         progress=lambda phase, done, total: seen.append((phase, done, total)))
    phases = [p for p, _, _ in seen]
    assert phases == sorted(phases, key=["read", "score"].index) and {"read", "score"} <= set(phases)
    reads = [(d, t) for p, d, t in seen if p == "read"]
    scores = [(d, t) for p, d, t in seen if p == "score"]
    assert len(reads) > 5 and reads[-1][0] == reads[-1][1] == len((TEXT * 30).encode())
    assert scores[-1][0] == scores[-1][1] == r.chars


def test_evaluate_memory_is_bounded_by_the_chunk_not_the_file(tmp_path, monkeypatch):
    """The CLI's peak of traced allocations does not grow with the file: 400 KB of text needs no more
    than 100 KB does. Before streaming, `evaluate` held the text, its code points (4 bytes a
    character) and the ids at once: about 50 times the file. (The bounds are lowered to keep the
    test small: chunks of 16 KB, 1 MB to score one chunk.)"""
    monkeypatch.setattr(corpus, "CHUNK_BYTES", 16 << 10)
    monkeypatch.setattr(ef, "SPILL_BYTES", 16 << 10)
    monkeypatch.setattr(ef, "READ_AHEAD", 16 << 10)
    monkeypatch.setattr(ef, "SCORE_BYTES", 1 << 20)
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    ckpt = make_checkpoint(tmp_path / "c.npz", hidden=8, layers=1)
    peaks = []
    for size in (1000, 100_000, 400_000):  # (the first run warms up: imports, buffers)
        f = write(tmp_path, TEXT * (size // len(TEXT)), name=f"{size}.txt")
        tracemalloc.start()
        try:
            r = invoke("evaluate", str(ckpt), str(f), "--streams", "256", "--json")
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert r.exit_code == 0, r.stderr
    assert peaks[2] < 2_000_000 and peaks[2] < peaks[1] + 100_000, peaks  # no growth with the file
