"""Typer options and arguments built from the option table (`charrnn.options`), so that each
option's flags, default, help text and help panel are written once.

    hidden: int = opt("hidden")                       # a plain option
    model: choice("model") = opt("model")             # one of the table's choices (a str Enum)
    checkpoint: Optional[Path] = checkpoint_arg()     # the checkpoint argument, the same everywhere

Range checks are not done here: `cli.app.handled` runs `options.check_all` on the parsed values.
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache

import typer

from charrnn.options import CHECKPOINT_HELP, OPTIONS


def opt(key: str, **override):
    """The Typer option of table entry `key` (keyword arguments override single fields, e.g. help)."""
    o = OPTIONS[key]
    kw = dict(help=o.help, rich_help_panel=o.panel, show_default=o.show_default)
    if o.metavar:
        kw["metavar"] = o.metavar
    kw.update(override)
    return typer.Option(o.default, *o.flags, **kw)


@lru_cache(maxsize=None)
def choice(key: str) -> type:
    """A str Enum of the choices of table entry `key` (Typer shows and checks them)."""
    return Enum(key.title().replace("_", ""), {c: c for c in OPTIONS[key].choices}, type=str)


def checkpoint_arg(required: bool = False):
    """The CHECKPOINT argument: a file, or a directory meaning its best.npz, else latest.npz."""
    return typer.Argument(... if required else None, help=CHECKPOINT_HELP, metavar="CHECKPOINT",
                          show_default=False)


def file_arg(help: str, metavar: str):
    return typer.Argument(..., help=help, metavar=metavar, show_default=False)
