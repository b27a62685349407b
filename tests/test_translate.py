"""translate and evaluate on a seq2seq model (use/translate.py, cli/seq2seq.py): stdin read as UTF-8
(BOM dropped, invalid bytes named), a run directory's best.npz, hints that fit the command, options
that do not apply refused."""

from helpers import invoke, s2s  # noqa: F401 (s2s: a fixture)


def test_translate_reads_stdin_as_utf8_bom_dropped_and_names_invalid_bytes(s2s):
    same = invoke("translate", s2s, input="abc\n").stdout
    out = invoke("translate", s2s, input="\ufeffabc\n".encode("utf-8"))  # was: unknown character U+FEFF
    assert out.exit_code == 0 and out.stdout == same, out.output
    out = invoke("translate", s2s, input=b"ab\xffc\n")  # was: "does not know U+DCFF"
    assert out.exit_code == 1 and "not valid UTF-8" in out.stderr and "0xff" in out.stderr
    assert "hint: " in out.stderr and out.stdout == ""


def test_translate_on_a_directory_names_best_as_the_best_exact_match(s2s):
    out = invoke("translate", s2s.parent, input="ab\n")
    assert out.exit_code == 0 and "the best exact match" in out.stderr, out.output  # was: validation loss


def test_a_binary_file_given_to_evaluate_gets_a_hint_that_fits_evaluate(s2s, tmp_path):
    b = tmp_path / "b.bin"
    b.write_bytes(b"ab\tba\n\x00\x01")
    out = invoke("evaluate", s2s, b)
    assert out.exit_code == 1 and "binary" in out.stderr and "hint: " in out.stderr
    assert "train on" not in out.stderr  # was: "hint: train on a plain-text file"


def test_evaluate_streams_on_a_seq2seq_model_is_refused_not_ignored(s2s, tmp_path):
    held = tmp_path / "h.tsv"
    held.write_text("ab\tba\n", encoding="utf-8")
    out = invoke("evaluate", s2s, held, "--streams", "8")  # was: silently ignored
    assert out.exit_code == 2 and "--streams" in out.stderr and "hint: " in out.stderr
    assert invoke("evaluate", s2s, held).exit_code == 0
