"""The public Python API (charrnn.load, charrnn.train): what the CLI runs, without printing."""

import numpy as np
import pytest

import charrnn
from charrnn.errors import UsageError
from helpers import invoke, TEXT, s2s  # noqa: F401 (s2s: a fixture)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("api")
    corpus = d / "c.txt"
    corpus.write_text(TEXT * 5, encoding="utf-8")
    res = charrnn.train(corpus, d / "run", model="gru", hidden=8, layers=1, batch=2, seq_len=8, max_steps=3,
                        eval_every=3, sample_len=0, cache_dir=d / "cache")
    assert res.step == 3 and res.stopped_by == "max-steps"
    return d


def test_load_sample_evaluate_trace_info(trained, capsys):
    m = charrnn.load(trained / "run")  # a directory: its best.npz
    assert m.cfg.cell == "gru" and m.path.name == "best.npz"
    text = m.sample(50, temperature=0.8, prime="def ", seed=1)
    assert text.startswith("def ") and len(text) == 54
    cli = invoke("sample", str(m.path), "--length", "50", "--temp", "0.8", "--prime", "def ",
                 "--seed", "1")
    assert cli.stdout == text + ("" if text.endswith("\n") else "\n")  # the CLI runs the API (and ends the line)
    r = m.evaluate(TEXT)
    assert r.chars == len(TEXT) - 1 and r.bits_per_char == pytest.approx(r.nats_per_char / np.log(2))
    tr = m.trace("def f")
    assert tr.acts.shape == (5, 8 * 3) and tr.label(tr.column(0, "z", 2)) == "L0 z 2"
    assert m.info()["cell"] == "gru"
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # the library prints nothing


def test_train_checks_options_like_the_cli(tmp_path):
    with pytest.raises(UsageError, match="invalid value for --hidden: 0"):
        charrnn.train(tmp_path / "none.txt", tmp_path / "o", hidden=0)
    with pytest.raises(UsageError, match="unknown training option"):
        charrnn.train(tmp_path / "none.txt", tmp_path / "o", hiden=8)


def test_python_api_evaluate_of_no_pairs_is_a_clear_error_and_translate_takes_one_string(s2s):
    import charrnn
    from charrnn.errors import UsageError

    m = charrnn.load(s2s)
    with pytest.raises(UsageError, match="no pairs"):
        m.evaluate([])  # was ZeroDivisionError
    one = m.translate("abc")  # one string: its output (was one output per character)
    assert isinstance(one, str) and one == m.translate(["abc"])[0]
