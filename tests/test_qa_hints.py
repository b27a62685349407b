"""QA: mistakes found by trying the commands get an error line and a hint line."""

from helpers import TEXT, invoke, make_checkpoint


def test_bad_regex_probe_has_a_hint(tmp_path):
    ck = make_checkpoint(tmp_path / "m.npz", text=TEXT, hidden=6, layers=1)
    r = invoke("inspect-cells", ck, "--probe", "regex:(")
    assert r.exit_code == 2
    assert "error: invalid regular expression" in r.stderr and "hint: " in r.stderr
