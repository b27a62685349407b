"""Helpers shared by the tests (imported by name; no test module imports another):
small checkpoints written in exactly the schema `charrnn train` writes (see trained_model.py),
the numerical gradient, the one CLI runner (invoke) with its one-error-line assertion, the small
corpus (CODE) and the fixtures several modules share (corpus, ck, text, s2s: a module that uses
one imports it by name, as conftest.py imports browser.py's)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import numpy as np
import pytest

from charrnn import __version__
from charrnn.tasks import lm as model
from charrnn.engine.checkpoint import save_checkpoint
from charrnn.config import ModelConfig, TrainConfig
from charrnn.data.vocab import Vocab
from charrnn.cli import app

TEXT = "def f(x):\n    return 'a' + \"b\"  # note\n" * 4


def make_checkpoint(path: Path, cell: str = "lstm", text: str = TEXT, hidden: int = 8, layers: int = 2,
                    seed: int = 0, params: dict | None = None, corpus: dict | None = None,
                    dtype: str = "float32", **meta) -> Path:
    """Write an (untrained unless `params` is given) checkpoint for a model over the characters of `text`."""
    vocab = Vocab.from_text(text)
    cfg = ModelConfig(cell=cell, vocab_size=vocab.size, hidden=hidden, layers=layers, dtype=dtype)
    if params is None:
        params = model.init_params(cfg, np.random.default_rng(seed))
    arrays = {f"param/{k}": v for k, v in params.items()}
    info = {
        "model": cfg.to_dict(), "train": TrainConfig().to_dict(), "vocab": vocab.to_list(),
        "step": 0, "epoch": 0, "chunk": 0, "val_loss": None, "best_val_loss": None,
        "rng": np.random.default_rng(seed).bit_generator.state, "corpus": corpus, "history": [],
        "charrnn_version": __version__, "created": "2026-01-01T00:00:00Z",
    }
    info.update(meta)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, arrays, info)
    return path


# ------------------------------------------------------------------------- gradient checks
EPS = 1e-5  # balances truncation error (eps^2) against round-off (1e-16 / eps)


def rel_error(a, b):
    """Largest elementwise relative error, each entry measured against at least 1e-3 of the largest
    entry: central differences carry an absolute round-off of about 1e-16 * loss / EPS = 1e-11,
    which an entry of 1e-7 (seen in LSTM checks) turns into a relative 1e-4 however right the
    gradient is; an error in a formula shows on the large entries."""
    a, b = np.asarray(a), np.asarray(b)
    floor = max(1e-8, 1e-3 * float(max(np.abs(a).max(initial=0), np.abs(b).max(initial=0))))
    return np.max(np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b)), initial=0)


def numeric_grad(f, x):
    """Central differences of the scalar f() with respect to every element of x (changed in place)."""
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        g[it.multi_index] = central_difference(f, x, it.multi_index)
    return g


def central_difference(f, x, idx):
    """(f(x + EPS e_idx) - f(x - EPS e_idx)) / (2 EPS), x[idx] restored after."""
    old = x[idx]
    x[idx] = old + EPS
    fp = f()
    x[idx] = old - EPS
    fm = f()
    x[idx] = old
    return (fp - fm) / (2 * EPS)


# ---------------------------------------------------------------------------------- the CLI
CODE = "def add(a, b):\n    return a + b  # sum\n\nprint('hi', \"there\")\n"  # the tests' small corpus: 61 characters
ERRORS_TEXT = CODE * 20  # the `env` fixture's ok.txt (conftest.py)
CORPUS_TEXT = CODE * 40  # the `corpus` fixture's code.txt
TRAIN = ["--hidden", "8", "--layers", "1", "--batch", "2", "--seq-len", "8", "--sample-len", "0",
         "--max-steps", "2", "--eval-every", "1", "--quiet"]  # a tiny, quick `charrnn train`


def invoke(*args, **kw):
    """`charrnn *args` in-process (every argument str()-ed); kw go to CliRunner.invoke (input=, env=, ...)."""
    return CliRunner().invoke(app, [str(a) for a in args], **kw)


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """code.txt (CORPUS_TEXT), with the corpus cache in tmp_path. A fixture: a module
    that uses it imports it by name (`from helpers import corpus`)."""
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    p = tmp_path / "code.txt"
    p.write_text(CORPUS_TEXT, encoding="utf-8")
    return p


@pytest.fixture
def ck(tmp_path):
    """m.npz: an untrained 1 x 6 LSTM over TEXT's characters (import it by name, like `corpus`)."""
    return make_checkpoint(tmp_path / "m.npz", text=TEXT, hidden=6, layers=1)


@pytest.fixture
def text(tmp_path):
    """t.txt: TEXT * 3, a text for `ck` (import it by name)."""
    f = tmp_path / "t.txt"
    f.write_text(TEXT * 3, encoding="utf-8")
    return f


@pytest.fixture(scope="module")
def s2s(tmp_path_factory):
    """best.npz of a 2-step 1 x 4 GRU seq2seq run on reversed words (import it by name)."""
    d = tmp_path_factory.mktemp("s2s")
    f = d / "p.tsv"
    f.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ["ab", "ba", "abc", "cab", "bca"] * 8), encoding="utf-8")
    r = train_pairs(f, d / "out", {"max_steps": 2, "batch": 4}, {"cell": "gru", "hidden": 4, "layers": 1})
    return r.out_dir / "best.npz"


def assert_clean_error(r, code, *needles):
    """Exit `code`, exactly one `error:` line naming every needle (error or hint line), no traceback."""
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    assert r.exit_code == code, (r.exit_code, out)
    assert r.stdout == "", r.stdout
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    assert "internal error" not in errors[0], r.stderr
    told = "\n".join(line for line in r.stderr.splitlines() if line.startswith(("error:", "hint:")))
    for needle in needles:
        assert needle in told, (needle, r.stderr)


def train_lm(corpus, out, train_opts=None, model_opts=None, **kwargs):
    """The engine's loop on the language-model task (charrnn.engine.loop.train("lm", ...))."""
    from charrnn.engine.loop import train

    return train("lm", corpus, out, train_opts, model_opts, **kwargs)


def train_pairs(pairs, out, train_opts=None, model_opts=None, s2s_opts=None, **kwargs):
    """The engine's loop on the seq2seq task (charrnn.engine.loop.train("seq2seq", ...))."""
    from charrnn.engine.loop import train

    return train("seq2seq", pairs, out, train_opts, model_opts, s2s_opts, **kwargs)


class FakeBlas:
    """charrnn.nn.threads.Blas without a BLAS: the count it was set to."""

    def __init__(self, n):
        self.n = self.max_threads = n

    def get(self):
        return self.n

    def set(self, n):
        self.n = n
