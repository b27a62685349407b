"""The option table: one declaration per option, one range check, one error style."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from charrnn.cli import app
from charrnn.errors import UsageError
from charrnn.options import OPTIONS, check


def test_every_ranged_option_has_a_hint_and_help():
    for o in OPTIONS.values():
        assert o.help, o.key
        if o.kind in (int, float) or o.choices:
            assert o.hint, o.key


@pytest.mark.parametrize("key,value,want", [("hidden", 0, "(want a whole number from 1 to 8,192)"),
                                            ("val_frac", 1.0, "(want a fraction in (0, 1))"),
                                            ("lr", float("nan"), "(want a positive number"),
                                            ("model", "transformer", "(want one of lstm, gru, rnn)")])
def test_one_message_style(key, value, want):
    with pytest.raises(UsageError) as e:
        check(key, value)
    assert e.value.message.startswith(f"invalid value for {OPTIONS[key].flag}: ") and want in e.value.message
    assert e.value.hint


def test_hidden_0_on_the_command_line_has_a_hint(tmp_path):
    (tmp_path / "t.txt").write_text("abc " * 100)
    r = CliRunner().invoke(app, ["train", str(tmp_path / "t.txt"), "--hidden", "0", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    lines = r.stderr.splitlines()
    assert lines[0] == "error: invalid value for --hidden: 0 (want a whole number from 1 to 8,192)"
    assert lines[1].startswith("hint: ") and not (tmp_path / "o").exists()


def test_help_is_grouped_into_panels_and_names_the_arguments():
    env = {"COLUMNS": "80"}
    r = CliRunner().invoke(app, ["train", "--help"], env=env)
    for panel in ("Model", "Data", "Optimisation", "Stop rules", "Output"):
        assert f"─ {panel} " in r.stdout, panel
    usage = next(line for line in r.stdout.splitlines() if "Usage:" in line)
    assert "charrnn train [OPTIONS]" in usage and "CORPUS" in usage
    r = CliRunner().invoke(app, ["evaluate", "--help"], env=env)
    usage = next(line for line in r.stdout.splitlines() if "Usage:" in line)
    assert "CHECKPOINT" in usage and "FILE" in usage


def test_every_option_is_in_the_readme():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [o.flag for o in OPTIONS.values() if o.flag not in readme]
    assert not missing, missing


def test_commands_keep_their_order_whichever_module_is_imported_first():
    import subprocess
    import sys

    code = ("import charrnn.cli.inspect_cells, charrnn.cli.use; from charrnn.cli import app; "
            "print(' '.join(c.name or c.callback.__name__ for c in app.registered_commands))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["train", "sample", "evaluate", "info", "translate", "predict", "inspect-cells", "inspect-memory",
                   "compare", "export"]
    app_source = (Path(__file__).resolve().parent.parent / "charrnn" / "cli" / "app.py").read_text()
    assert "from charrnn.cli." not in app_source and "import charrnn.cli" not in app_source  # imports no command
