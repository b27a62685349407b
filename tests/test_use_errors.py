"""QA fixes in the verbs that use a model (sample, evaluate, info, inspect-cells): option checks,
messages, output paths checked up front, a closed stdout, defaults in --help."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from helpers import TEXT, make_checkpoint
from typer.testing import CliRunner

from charrnn.cli import app
from charrnn.errors import CharRNNError


def cli(*args, **kw):
    return CliRunner().invoke(app, [str(a) for a in args], **kw)


@pytest.fixture
def ck(tmp_path):
    return make_checkpoint(tmp_path / "m.npz", text=TEXT, hidden=6, layers=1)


@pytest.fixture
def text(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(TEXT * 3, encoding="utf-8")
    return f


def assert_usage_error(r, *needles):
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert r.stdout == "" and "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    for needle in needles:
        assert needle in r.stderr, (needle, r.stderr)


# ------------------------------------------------------------------------------ sample
def test_sample_rejects_a_negative_seed_and_absurd_temperatures(ck):
    assert_usage_error(cli("sample", ck, "--seed", "-1"), "invalid value for --seed: -1")
    assert_usage_error(cli("sample", ck, "--temp", "1e308"), "--temp", "at most 100")
    r = cli("sample", ck, "--temp", "100", "--length", "5", "--seed", "1")
    assert r.exit_code == 0 and len(r.stdout.rstrip("\n")) == 5 and "Warning" not in r.stderr


def test_greedy_sample_prints_no_seed_line(ck):
    r = cli("sample", ck, "--temp", "0", "--length", "5")
    assert r.exit_code == 0 and "seed" not in r.stderr and len(r.stdout.rstrip("\n")) == 5
    r = cli("sample", ck, "--length", "5")
    assert r.exit_code == 0 and "pass --seed" in r.stderr


def test_a_tiny_temperature_with_top_k_is_the_greedy_limit_without_warnings(ck):
    greedy = cli("sample", ck, "--temp", "0", "--length", "20").stdout
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning (overflow, inf - inf) fails the test
        for opts in (["--top-k", "3"], ["--top-p", "0.5"], []):
            r = cli("sample", ck, "--temp", "1e-320", "--length", "20", "--seed", "1", *opts)
            assert r.exit_code == 0 and r.stdout == greedy and "Warning" not in r.stderr, (opts, r.output)


def test_unknown_characters_are_quoted_once(ck, tmp_path):
    r = cli("sample", ck, "--prime", "a\tb\r")
    assert_usage_error(r, "'\\t' (U+0009), '\\r' (U+000D)")
    assert "\\\\" not in r.stderr
    f = tmp_path / "tab.txt"
    f.write_text(TEXT + "\t\n", encoding="utf-8")
    r = cli("evaluate", ck, f)
    assert r.exit_code == 0 and "'\\t' (U+0009)" in r.stderr and "\\\\" not in r.stderr
    r = cli("evaluate", ck, f, "--strict")
    assert r.exit_code == 1 and "'\\t' (U+0009)" in r.stderr and "\\\\" not in r.stderr


# ------------------------------------------------------------------------------ info
def test_info_title_path_is_not_markup(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_checkpoint(tmp_path / "[bold]x.npz", text=TEXT, hidden=4, layers=1)
    r = cli("info", "[bold]x.npz")
    assert r.exit_code == 0 and "[bold]x.npz" in r.stdout, r.output


# ------------------------------------------------------------------------ inspect-cells
@pytest.mark.parametrize("option,where,needle", [
    ("--dump", "missing/dir/t.npz", "does not exist"),
    ("--html", "missing/x.html", "does not exist"),
    ("--html", ".", "is a directory"),
    ("--dump", "t.txt/x.npz", "is not a directory"),
])
def test_inspect_output_paths_are_checked_before_any_work(ck, text, tmp_path, monkeypatch, option, where, needle):
    monkeypatch.chdir(tmp_path)
    r = cli("inspect-cells", ck, "--text", text, option, where)
    assert_usage_error(r, option, needle)
    assert "tracing" not in r.stderr  # failed before the model ran


def test_inspect_writes_its_files_atomically(tmp_path):
    from charrnn.interpret.files import write_atomic

    target = tmp_path / "page.html"
    target.write_text("old", encoding="utf-8")

    def fail(f):
        f.write(b"half a page")
        raise OSError(28, "No space left on device")

    with pytest.raises(CharRNNError, match="cannot write --html .*page.html: No space left"):
        write_atomic(target, fail, "--html")
    assert target.read_text(encoding="utf-8") == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]
    write_atomic(target, lambda f: f.write(b"new"), "--html")
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 != 0o600


def test_inspect_encoding_errors_option(ck, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(TEXT.encode() + b"\xff" + TEXT.encode())
    r = cli("inspect-cells", ck, "--text", bad, "--json")
    assert r.exit_code == 1 and "not valid UTF-8" in r.stderr and "--encoding-errors replace" in r.stderr
    r = cli("inspect-cells", ck, "--text", bad, "--json", "--encoding-errors", "replace")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n_chars"] == 2 * len(TEXT) and "dropped 1 character(s)" in r.stderr  # U+FFFD


# ------------------------------------------------------------------------ closed stdout
@pytest.mark.parametrize("verb", ["inspect-cells", "info"])
def test_a_closed_stdout_ends_quietly(ck, text, verb):
    args = [sys.executable, "-m", "charrnn", verb, str(ck)] + (["--text", str(text)] if verb != "info" else [])
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # `| head` that has already gone: every write fails with EPIPE
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 0, err
    assert "error" not in err and "Traceback" not in err


def test_console_turns_a_closed_pipe_into_broken_pipe_error():
    from charrnn.cli.console import console

    class Closed:
        def write(self, s):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    with pytest.raises(BrokenPipeError):
        console(Closed()).print("x")


# -------------------------------------------------------------------------------- help
@pytest.mark.parametrize("verb", ["sample", "evaluate", "info", "inspect-cells"])
def test_every_option_shows_its_default_in_help(verb):
    r = cli(verb, "--help", env={"COLUMNS": "400"}, terminal_width=400)
    assert r.exit_code == 0
    options = [line for line in r.stdout.splitlines() if line.startswith("│ --") and "--help" not in line]
    assert options and all("[default:" in line for line in options), [o for o in options if "[default:" not in o]


def test_numpy_is_quiet_about_huge_logits():
    from charrnn.use.sample import distribution

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = distribution(np.array([1e308, -1e308, 0.0]), 1e-300, top_k=2)
    assert np.array_equal(p, [1.0, 0.0, 0.0])
