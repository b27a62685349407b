"""Console presentation for stdout: a rich Console that ends quietly on a closed pipe, and the
`charrnn info` table. (What `train` shows on stderr is in train_progress.py.)"""

from __future__ import annotations

import os
import sys


_console_class = None


def console(file=None):
    """A rich Console for tables on stdout: no syntax highlighting, and a closed pipe
    (`charrnn inspect-cells | head`) raises BrokenPipeError, which the CLI ends quietly with exit 0,
    instead of rich's own exit 1. Rich reads a plain str as markup: pass user strings as Text."""
    global _console_class
    if _console_class is None:
        from rich.console import Console

        class _Console(Console):
            def on_broken_pipe(self) -> None:
                self.quiet = True
                try:  # as rich does: later writes (and the flush at exit) go to /dev/null
                    fd = self.file.fileno()
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, fd)
                    os.close(devnull)
                except (AttributeError, OSError, ValueError):  # not a real file (tests): nothing to redirect
                    pass
                raise BrokenPipeError("stdout was closed")

        _console_class = _Console
    return _console_class(file=file or sys.stdout, highlight=False)


def info_table(d: dict, rows: list[tuple[str, str]], file=None) -> None:
    """Print a checkpoint's info rows (the task's `info_rows`) as a two-column rich table."""
    from rich.table import Table
    from rich.text import Text

    out = console(file or sys.stdout)
    table = Table(title=Text(f"charrnn checkpoint {d['checkpoint']}"), title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for k, v in rows:
        table.add_row(k, Text(v))  # Text: no markup interpretation of vocabulary characters like '['
    out.print(table)


def say_which(given, m) -> None:
    """One line on stderr naming the checkpoint that the default or a directory led to."""
    from pathlib import Path

    if given is not None and not Path(given).is_dir():
        return  # the user named the file
    step = m.meta.get("step")
    why = f"the best {m.best_metric_name}" if m.path.name == "best.npz" else "there is no best.npz"
    print(f"checkpoint: {m.path} (step {step if step is None else f'{step:,}'}; {why})", file=sys.stderr)
