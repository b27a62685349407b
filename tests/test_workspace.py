"""Workspaces: the chunk passes give the same numbers with or without one, reuse its memory, and
bound it (scoring many texts of different lengths holds no more than the longest one needs)."""

import tracemalloc

import numpy as np
import pytest

from charrnn.tasks import lm as model
from charrnn.nn.cells import CELLS
from charrnn.config import ModelConfig
from charrnn.use.evaluate import score_ids
from charrnn.nn.workspace import Workspace, take


def test_get_reuses_grows_and_views_the_first_elements():
    ws = Workspace()
    a = ws.get("x", (4, 5), np.float32)
    assert a.shape == (4, 5) and a.dtype == np.float32 and a.flags.c_contiguous
    b = ws.get("x", (2, 3), np.float32)  # smaller: the same memory
    assert np.shares_memory(a, b) and ws.nbytes == 80
    c = ws.get("x", (3, 2), np.float64)  # another dtype of no more bytes: the same memory
    assert np.shares_memory(a, c) and c.dtype == np.float64
    d = ws.get("x", (10, 10), np.float32)  # bigger: a new buffer, the old one dropped
    assert not np.shares_memory(a, d) and ws.nbytes == 400
    e = ws.get("y", (10,), np.float32)
    assert not np.shares_memory(d, e) and ws.nbytes == 440
    s = ws.scope("l1.")
    assert np.shares_memory(s.get("y", (5,), np.float32), ws.get("l1.y", (5,), np.float32))
    ws.clear()
    assert ws.nbytes == 0


def test_cap_serves_fresh_arrays_beyond_it():
    ws = Workspace(max_bytes=1000)
    ws.get("a", (200,), np.float32)  # 800 bytes: kept
    big = ws.get("b", (100,), np.float32)  # 400 more: over the cap, fresh and not kept
    assert ws.nbytes == 800 and not np.shares_memory(big, ws.get("b", (100,), np.float32))
    assert take(None, "a", (3,), np.float64).shape == (3,)  # no workspace: np.empty


def _chunks(cell, rng, ids_input):
    """Four chunks of lengths up, down and up again, each forward + backward, with state carried."""
    Dx, H, B = 6, 5, 3
    G = CELLS[cell].gates * H
    p = {"Wx": rng.normal(0, 0.5, (Dx, G)).astype(np.float32), "Wh": rng.normal(0, 0.5, (H, G)).astype(np.float32),
         "b": rng.normal(0, 0.5, G).astype(np.float32)}
    out = []
    for T in (4, 2, 7, 3):
        x = rng.integers(0, Dx, (T, B)) if ids_input else rng.normal(size=(T, B, Dx)).astype(np.float32)
        out.append((x, rng.normal(size=(T, B, H)).astype(np.float32)))
    state0 = tuple(rng.normal(0, 0.5, (B, H)).astype(np.float32) for _ in range(CELLS[cell].n_state))
    return p, state0, out


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("ids_input", [False, True])
def test_cells_give_identical_numbers_with_a_workspace(cell, ids_input):
    """Chunk after chunk of changing lengths, the workspace path equals the fresh-array path bit for bit."""
    p, state0, chunks = _chunks(cell, np.random.default_rng(0), ids_input)
    fwd, bwd = CELLS[cell].forward, CELLS[cell].backward
    ws = Workspace()
    s_ref, s_ws = state0, state0
    for x, dhs in chunks:
        hs_r, s_ref, c_r = fwd(p, x, s_ref)
        hs_w, s_ws, c_w = fwd(p, x, s_ws, ws.scope("l0."))
        np.testing.assert_array_equal(hs_w, hs_r)
        zero = (0.0,) * len(state0)
        dx_r, d0_r, g_r = bwd(dhs, zero, c_r)
        dx_w, d0_w, g_w = bwd(dhs, zero, c_w)
        for name in g_r:
            np.testing.assert_array_equal(g_w[name], g_r[name])
        for a, b in zip(d0_w, d0_r):
            np.testing.assert_array_equal(a, b)
        if not ids_input:
            np.testing.assert_array_equal(dx_w, dx_r)
    for a, b in zip(s_ws, s_ref):
        np.testing.assert_array_equal(a, b)
    assert ws.nbytes > 0


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_model_loss_and_grads_with_a_workspace_equal_without(cell):
    cfg = ModelConfig(cell=cell, vocab_size=11, hidden=6, layers=2, dropout=0.25)
    params = model.init_params(cfg, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    ws, s1, s2 = Workspace(), model.init_state(cfg, 3), model.init_state(cfg, 3)
    for T in (5, 8, 2):
        x, y = rng.integers(0, 11, (3, T)), rng.integers(0, 11, (3, T))
        l1, g1, s1 = model.loss_and_grads(params, cfg, x, y, s1, np.random.default_rng(T))
        l2, g2, s2 = model.loss_and_grads(params, cfg, x, y, s2, np.random.default_rng(T), ws=ws)
        assert l1 == l2
        for name in g1:
            np.testing.assert_array_equal(g1[name], g2[name])


def test_scoring_many_texts_holds_no_more_than_the_longest_needs():
    """60 texts of different lengths scored one after the other in one process: the peak of traced
    memory (NumPy reports its buffers to tracemalloc) stays within 1.5x of scoring the longest
    alone, so nothing of earlier texts is kept (the old shape-keyed pool grew with every length)."""
    cfg = ModelConfig(cell="lstm", vocab_size=20, hidden=128, layers=2)
    params = model.init_params(cfg, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    lengths = rng.permutation(np.linspace(10, 150, 60).astype(int))
    texts = [rng.integers(0, 20, n) for n in lengths]
    longest = texts[int(np.argmax(lengths))]

    def peak(run) -> int:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            run()
            return tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()

    alone = peak(lambda: score_ids(params, cfg, longest, chunk=64))
    many = peak(lambda: [score_ids(params, cfg, t, chunk=64) for t in texts])
    assert alone > 2 * (4 + 3) * 64 * 128 * 4  # the chunk scratch (2 layers: A, Hs, Cs, tcs) is measured
    assert many <= 1.5 * alone, (many, alone)


def test_a_training_run_keeps_one_bounded_workspace(tmp_path, monkeypatch):
    """The workspace of a run holds each layer's arrays once: its size does not grow with the steps."""
    from charrnn.tasks.lm_task import Run
    from helpers import train_lm as train

    corpus = tmp_path / "c.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 60)
    seen = []
    real = Run.__init__

    def spy(self, *a, **kw):
        real(self, *a, **kw)
        seen.append(self)
    monkeypatch.setattr(Run, "__init__", spy)
    train(corpus, tmp_path / "o", {"batch": 4, "seq_len": 16, "max_steps": 6, "eval_every": 3, "sample_len": 0},
          {"hidden": 8, "layers": 2})
    (run,) = seen
    # per layer: A (fresh in the one-hot layer), Hs, Cs, tcs, K, P, dA (+ dx above layer 0), at most
    # max(train, validation) chunk shapes of float32 (B*T = 64 train, 4*16 or fewer in validation)
    per_chunk = 4 * (4 * 64 * 8 * 3 + 3 * 65 * 8 + 64 * 8 * 2 + 4 * 64 * 8 + 64 * 8 * 2)
    assert 0 < run.workspace.nbytes <= 2 * per_chunk
