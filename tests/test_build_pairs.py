"""data/build_pairs.py, the script that writes the seq2seq demo's pairs: its refusals."""

from pathlib import Path


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
