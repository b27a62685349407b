"""The CLI's shell (cli/app.py, cli/console.py): a closed stdout ends quietly, a closed pipe is a
BrokenPipeError, and --help shows every option's default."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import ck, invoke, text  # noqa: F401 (ck, text: fixtures)


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
    r = invoke(verb, "--help", env={"COLUMNS": "400"}, terminal_width=400)
    assert r.exit_code == 0
    options = [line for line in r.stdout.splitlines() if line.startswith("│ --") and "--help" not in line]
    assert options and all("[default:" in line for line in options), [o for o in options if "[default:" not in o]
