"""charrnn export and charrnn.torch_model: the PyTorch model computes charrnn's function (LSTM,
GRU, RNN) to 1e-5 in float32; without torch the command says which extra to install."""

import sys

import numpy as np
import pytest

from helpers import TEXT, assert_clean_error, invoke, make_checkpoint, s2s  # noqa: F401 (s2s: a fixture)

from charrnn.config import ModelConfig
from charrnn.data.vocab import Vocab
from charrnn.tasks import lm as model


def _params(cell, seed=0):
    """Random weights and, unlike a fresh model, random biases (the layout of every block shows)."""
    vocab = Vocab.from_text(TEXT)
    cfg = ModelConfig(cell=cell, vocab_size=vocab.size, hidden=8, layers=2)
    rng = np.random.default_rng(seed)
    params = {k: rng.uniform(-0.5, 0.5, size=v.shape).astype(np.float32)
              for k, v in model.init_params(cfg, rng).items()}
    return cfg, vocab, params


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_exported_model_gives_charrnns_logits_and_state(cell, tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'charrnn[torch]')")
    from charrnn.torch_model import CharRNN

    cfg, vocab, params = _params(cell)
    ckpt = make_checkpoint(tmp_path / "m.npz", cell=cell, hidden=8, layers=2, params=params)
    r = invoke("export", ckpt, tmp_path / "m.pt")
    assert r.exit_code == 0, r.stderr
    m, chars = CharRNN.load(tmp_path / "m.pt")
    assert chars == vocab.to_list()
    ids = vocab.encode(TEXT[:60]).reshape(2, 30).astype(np.int64)  # (B, T) two streams
    state = model.init_state(cfg, 2)
    with torch.no_grad():
        tstate = None
        for half in (ids[:, :15], ids[:, 15:]):  # two chunks: the state is carried between them
            want, state, _ = model.forward(params, cfg, half, state)
            got, tstate = m(torch.from_numpy(half), tstate)
            T, B = half.shape[1], half.shape[0]
            np.testing.assert_allclose(got.numpy(), want.reshape(T, B, -1).transpose(1, 0, 2), atol=1e-5, rtol=0)
            for a, b in zip(state, tstate):
                for x, y in zip(a, b):
                    np.testing.assert_allclose(y.numpy(), x, atol=1e-5, rtol=0)


def test_export_without_torch_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    ckpt = make_checkpoint(tmp_path / "m.npz")
    r = invoke("export", ckpt, tmp_path / "m.pt")
    assert_clean_error(r, 2, "PyTorch", "charrnn[torch]")
    assert not (tmp_path / "m.pt").exists()


def test_export_wants_a_pt_file(tmp_path):
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'charrnn[torch]')")
    r = invoke("export", make_checkpoint(tmp_path / "m.npz"), tmp_path / "m.npz2")
    assert_clean_error(r, 2, ".pt")


def test_the_readme_snippet_loads_steps_and_samples(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'charrnn[torch]')")
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The exported model in PyTorch", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    make_checkpoint(tmp_path / "m.npz", text="def f(x): return x\n" * 3)
    assert invoke("export", tmp_path / "m.npz", tmp_path / "model.pt").exit_code == 0
    monkeypatch.chdir(tmp_path)
    exec(code, {})
    out = capsys.readouterr().out
    assert out.startswith("def ") and len(out) == len("def ") + 200 + 1


def test_export_of_a_seq2seq_model_is_one_line(s2s, tmp_path):
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'charrnn[torch]')")
    r = invoke("export", s2s, tmp_path / "m.pt")
    assert_clean_error(r, 2, "seq2seq")
    assert not (tmp_path / "m.pt").exists()
