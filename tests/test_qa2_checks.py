"""QA round 2: a checkpoint of the wrong kind (seq2seq given to a language-model command, or
the reverse) is a usage error (exit 2) in every command, with nothing printed before the error."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from charrnn.cli import app
from helpers import train_pairs


def cli(*args, **kw):
    return CliRunner().invoke(app, [str(a) for a in args], **kw)


@pytest.fixture(scope="module")
def s2s(tmp_path_factory):
    d = tmp_path_factory.mktemp("s2s")
    f = d / "p.tsv"
    f.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ["ab", "ba", "abc", "cab", "bca"] * 8), encoding="utf-8")
    r = train_pairs(f, d / "out", {"max_steps": 2, "batch": 4}, {"cell": "gru", "hidden": 4, "layers": 1})
    return r.out_dir / "best.npz"


@pytest.mark.parametrize("command", [["sample"], ["sample", "--temp", "0"], ["inspect-cells"],
                                     ["inspect-memory"]])  # (compare shows seq2seq runs: test_compare)
def test_seq2seq_checkpoint_in_lm_commands_is_a_usage_error(s2s, command):
    args = [s2s if a == "SELF" else a for a in command]
    out = cli(args[0], s2s, *args[1:])
    assert out.exit_code == 2, out.output
    assert out.stderr.startswith("error: ") and "seq2seq" in out.stderr and "hint: " in out.stderr
    assert out.stdout == "" and "seed" not in out.stderr  # nothing before the error


def test_seq2seq_checkpoint_as_init_from_is_a_usage_error(s2s, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("hello world, hello there. " * 200, encoding="utf-8")
    out = cli("train", text, "--init-from", s2s, "--out", tmp_path / "o", "--max-steps", "1")
    assert out.exit_code == 2 and "seq2seq" in out.stderr and "hint: " in out.stderr, out.output


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


def test_python_api_evaluate_of_no_pairs_is_a_clear_error_and_translate_takes_one_string(s2s):
    import charrnn
    from charrnn.errors import UsageError

    m = charrnn.load(s2s)
    with pytest.raises(UsageError, match="no pairs"):
        m.evaluate([])  # was ZeroDivisionError
    one = m.translate("abc")  # one string: its output (was one output per character)
    assert isinstance(one, str) and one == m.translate(["abc"])[0]


def test_translate_reads_stdin_as_utf8_bom_dropped_and_names_invalid_bytes(s2s):
    same = cli("translate", s2s, input="abc\n").stdout
    out = cli("translate", s2s, input="\ufeffabc\n".encode("utf-8"))  # was: unknown character U+FEFF
    assert out.exit_code == 0 and out.stdout == same, out.output
    out = cli("translate", s2s, input=b"ab\xffc\n")  # was: "does not know U+DCFF"
    assert out.exit_code == 1 and "not valid UTF-8" in out.stderr and "0xff" in out.stderr
    assert "hint: " in out.stderr and out.stdout == ""


def test_build_pairs_refuses_zero_pairs_and_a_directory(tmp_path):
    import subprocess
    import sys

    script = Path(__file__).parent.parent / "data" / "build_pairs.py"
    for args in (["dates", tmp_path / "d.tsv", "--pairs", "0"], ["numbers", tmp_path]):
        r = subprocess.run([sys.executable, script, *map(str, args)], capture_output=True, text=True)
        assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "d.tsv").exists()  # was: an empty file written, exit 0
    r = subprocess.run([sys.executable, script, "numbers", tmp_path / "n.tsv", "--pairs", "3"], capture_output=True)
    assert r.returncode == 0 and len((tmp_path / "n.tsv").read_text(encoding="utf-8").splitlines()) == 3


def test_a_binary_file_given_to_evaluate_gets_a_hint_that_fits_evaluate(s2s, tmp_path):
    b = tmp_path / "b.bin"
    b.write_bytes(b"ab\tba\n\x00\x01")
    out = cli("evaluate", s2s, b)
    assert out.exit_code == 1 and "binary" in out.stderr and "hint: " in out.stderr
    assert "train on" not in out.stderr  # was: "hint: train on a plain-text file"


def test_translate_on_a_directory_names_best_as_the_best_exact_match(s2s):
    out = cli("translate", s2s.parent, input="ab\n")
    assert out.exit_code == 0 and "the best exact match" in out.stderr, out.output  # was: validation loss


def test_evaluate_streams_on_a_seq2seq_model_is_refused_not_ignored(s2s, tmp_path):
    held = tmp_path / "h.tsv"
    held.write_text("ab\tba\n", encoding="utf-8")
    out = cli("evaluate", s2s, held, "--streams", "8")  # was: silently ignored
    assert out.exit_code == 2 and "--streams" in out.stderr and "hint: " in out.stderr
    assert cli("evaluate", s2s, held).exit_code == 0


@pytest.mark.parametrize("damage", ["missing", "junk"])
def test_seq2seq_resume_rewrites_a_missing_or_unreadable_best_npz_with_a_warning(tmp_path, damage):
    from charrnn.use.translate import load_seq2seq

    f = tmp_path / "p.tsv"
    f.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ["ab", "ba", "abc", "cab", "bca"] * 8), encoding="utf-8")
    opts = {"batch": 4}, {"cell": "gru", "hidden": 4, "layers": 1}
    r = train_pairs(f, tmp_path / "o", {"max_steps": 3, **opts[0]}, opts[1])
    best = r.out_dir / "best.npz"
    best.unlink() if damage == "missing" else best.write_bytes(b"junk")
    out = cli("train", f, "--resume", r.out_dir / "latest.npz", "--max-steps", "3")  # nothing left to train
    assert out.exit_code == 0, out.output
    assert "best.npz was missing or unreadable" in out.stderr  # was: no warning, best.npz left as it was
    assert load_seq2seq(best).meta["step"] == 3
