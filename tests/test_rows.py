"""Row blocks (charrnn/nn/rows.py): a training chunk's streams split over threads give the
unsplit chunk's loss, gradients and final state (float64: to rounding), on both kernel paths;
the thread setting drives them; a split run repeats and resumes bit for bit."""

import numpy as np
import pytest

from charrnn.config import ModelConfig
from charrnn.nn import kernels
from charrnn.nn.rows import RowBlocks, cuts, pays
from charrnn.nn.threads import blas_threads
from charrnn.tasks import lm
from helpers import FakeBlas

PATHS = ["numpy"] + (["fused"] if kernels.numba_available() else [])


@pytest.fixture
def path(request):
    before = kernels.active()
    kernels.select(request.param)
    yield request.param
    kernels.select(before)


def chunk(cell, B, dropout=0.0, seed=0):
    cfg = ModelConfig(cell=cell, vocab_size=11, hidden=6, layers=2, dtype="float64", dropout=dropout)
    rng = np.random.default_rng(seed)
    params = lm.init_params(cfg, rng)
    x, y = rng.integers(0, 11, (B, 7)), rng.integers(0, 11, (B, 7))
    state = [tuple(rng.normal(0, 0.5, (B, 6)) for _ in layer) for layer in lm.init_state(cfg, B)]
    return cfg, params, x, y, state


def test_cuts_cover_the_rows_once_in_order():
    for rows_, n in [(50, 2), (19, 2), (17, 3), (8, 8)]:
        blocks = cuts(rows_, n)
        assert len(blocks) == n and blocks[0].start == 0 and blocks[-1].stop == rows_
        assert all(a.stop == b.start for a, b in zip(blocks, blocks[1:]))
        assert max(s.stop - s.start for s in blocks) - min(s.stop - s.start for s in blocks) <= 1


def test_pays_where_measured():
    assert pays(4, 128, 50) and pays(4, 256, 50) and pays(3, 256, 50) and pays(1, 512, 50)
    assert not pays(4, 512, 50) and not pays(3, 512, 50)  # the BLAS's threads win there
    assert not pays(4, 128, 15)  # blocks under MIN_ROWS streams
    assert not pays(4, 128, 50, cores=1)


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_blocks_give_the_whole_chunk(path, cell):
    """19 streams as blocks of 9 and 10 (and as 2 of 8 + 11 with 3 asked: min(3, 19 // 8) = 2)."""
    cfg, params, x, y, state = chunk(cell, 19)
    loss, grads, stateT = lm.loss_and_grads(params, cfg, x, y, state)
    for n in (2, 3):
        blocks = RowBlocks()
        blocks.set(n)
        loss2, grads2, stateT2 = blocks.loss_and_grads(lm.loss_and_grads, params, cfg, x, y, state)
        assert loss2 == pytest.approx(loss, rel=1e-12)
        assert grads2.keys() == grads.keys()
        for name in grads:
            np.testing.assert_allclose(grads2[name], grads[name], rtol=1e-9, atol=1e-12, err_msg=name)
        for a, b in zip(stateT, stateT2):
            for u, v in zip(a, b):
                assert v.shape == u.shape
                np.testing.assert_allclose(v, u, rtol=1e-12, atol=1e-14)
        blocks.close()


def test_one_block_is_the_function_itself():
    cfg, params, x, y, state = chunk("lstm", 12)
    blocks = RowBlocks()
    blocks.set(2)  # 12 streams: min(2, 12 // 8) = 1 block
    seen = []
    blocks.loss_and_grads(lambda *a, ws=None: seen.append(a) or (0.0, {}, a[4]), params, cfg, x, y, state)
    assert len(seen) == 1 and seen[0][2] is x


def test_dropout_blocks_are_reproducible_and_draw_from_the_run_rng():
    cfg, params, x, y, state = chunk("lstm", 16, dropout=0.3)
    blocks = RowBlocks()
    blocks.set(2)
    runs = []
    for _ in range(2):
        rng = np.random.default_rng(5)
        runs.append(blocks.loss_and_grads(lm.loss_and_grads, params, cfg, x, y, state, rng))
        runs[-1] = (runs[-1][0], {k: v.copy() for k, v in runs[-1][1].items()}, rng.integers(1 << 30))
    assert runs[0][0] == runs[1][0] and runs[0][2] == runs[1][2]
    for name in runs[0][1]:
        assert np.array_equal(runs[0][1][name], runs[1][1][name])
    plain = lm.loss_and_grads(params, cfg, x, y, state)[0]
    assert runs[0][0] != plain  # (dropout did act)


def test_an_error_in_a_block_reaches_the_caller_after_every_block_ended():
    blocks = RowBlocks()
    blocks.set(2)
    cfg, params, x, y, state = chunk("lstm", 17)  # blocks of 8 (this thread) and 9 (the pool's)
    for failing in (8, 9):
        done = []

        def fn(params, cfg, x, y, state, rng, ws=None):
            out = lm.loss_and_grads(params, cfg, x, y, state, rng, ws=ws)
            done.append(x.shape[0])
            if x.shape[0] == failing:
                raise FloatingPointError("block failed")
            return out

        with pytest.raises(FloatingPointError):
            blocks.loss_and_grads(fn, params, cfg, x, y, state)
        assert sorted(done) == [8, 9]


def test_the_thread_setting_goes_to_the_blocks_with_the_blas_at_one_thread():
    b, blocks = FakeBlas(2), RowBlocks()
    with blas_threads(2, b, rows=blocks):
        assert (b.n, blocks.n) == (1, 2)
    assert (b.n, blocks.n) == (2, 1)
    with blas_threads("auto", b, rows=blocks) as tuner:
        with tuner.unit() as n:
            assert b.n == 1 and blocks.n == n
    assert (b.n, blocks.n) == (2, 1)
    with blas_threads(2, b):  # no blocks: the BLAS's own threads, as before
        assert b.n == 2 and blocks.n == 1


@pytest.mark.parametrize("path", PATHS, indirect=True)
def test_a_split_run_repeats_and_resumes_bit_for_bit(path, tmp_path, monkeypatch):
    """`charrnn train --threads 2` on a model where the split pays: the steps run as 2 blocks,
    and an interrupted + resumed run is the uninterrupted one, bit for bit."""
    from charrnn.engine.trained import load_trained
    from charrnn.nn import rows
    from helpers import train_lm as train

    monkeypatch.setattr(rows, "available_cores", lambda: 2)
    split = []
    real = RowBlocks._run
    monkeypatch.setattr(RowBlocks, "_run", lambda self, jobs: split.append(len(jobs)) or real(self, jobs))
    corpus = tmp_path / "code.txt"
    corpus.write_text("def add(a, b):\n    return a + b  # sum\n" * 80, encoding="utf-8")
    small, opts = {"batch": 16, "seq_len": 8, "eval_every": 4, "sample_len": 0}, {"hidden": 8, "layers": 2}
    one = train(corpus, tmp_path / "one", dict(small, max_steps=8), opts, threads=2)
    assert split and set(split) == {2}
    train(corpus, tmp_path / "two", dict(small, max_steps=4), opts, threads=2)
    two = train(corpus, tmp_path / "two", {"max_steps": 8}, resume=tmp_path / "two" / "latest.npz", threads=2)
    a, b = (load_trained(r.latest) for r in (one, two))
    for name in a.arrays:
        assert np.array_equal(a.arrays[name], b.arrays[name]), name


@pytest.mark.parametrize("path", PATHS, indirect=True)
def test_validation_blocks_give_the_whole_chunks_sums(path):
    cfg, params, x, y, state = chunk("gru", 19)
    s, c, stateT = lm.loss_sum(params, cfg, x, y, state)
    blocks = RowBlocks()
    blocks.set(2)
    s2, c2, stateT2 = blocks.loss_sum(lm.loss_sum, params, cfg, x, y, state)
    assert c2 == c and s2 == pytest.approx(s, rel=1e-12)
    for a, b in zip(stateT, stateT2):
        for u, v in zip(a, b):
            np.testing.assert_allclose(v, u, rtol=1e-12, atol=1e-14)


def test_the_summary_says_how_the_streams_are_split():
    rows = RowBlocks()
    assert rows.describe() == ""  # one block: nothing to say
    with blas_threads(2, FakeBlas(2), rows=rows):
        assert rows.describe() == "streams split over 2 threads (row blocks)"
    rows = RowBlocks()
    with blas_threads("auto", FakeBlas(2), rows=rows):
        assert rows.describe() == "streams split over the cores when timing says so (row blocks)"
