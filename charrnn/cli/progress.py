"""Progress bars for the CLI's long passes (evaluate, inspect-cells tracing, validation).

    with progress_bar("tracing", "char", quiet=quiet) as update:
        library_call(..., progress=update)          # update(done, total) after each chunk

On stderr, only on a terminal (silent when piped or with quiet), and only once the pass has
taken 2 s: short passes print nothing. The library never prints; it calls `update`.
"""

from __future__ import annotations

import contextlib
import sys

from tqdm import tqdm

DELAY = 2.0  # seconds before a bar appears


@contextlib.contextmanager
def progress_bar(desc: str, unit: str = "char", quiet: bool = False):
    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if quiet:
            return
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr, leave=False,
                       delay=DELAY, dynamic_ncols=True, disable=None)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()
