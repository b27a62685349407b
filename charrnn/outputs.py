"""Every file charrnn writes goes through here: one atomic write, and one check that an output
destroys neither an input of the command nor anything else the user had.

`atomic_write(path, write)`: what happens depends on what `path` is now.
    - nothing, or a regular file: `write` fills a temporary file in the same directory, which is
      (fsync'ed if durable, then) renamed over `path`: a reader sees the old file or the new one,
      never half, and a failed write leaves the old file as it was;
    - a symlink: followed (every link of a chain); its target is written as above, the temporary
      file beside the target, so the link stays a link and the target's directory gets the file;
    - a device, FIFO or socket (any existing file that is not regular): written in place, opened
      for writing without a rename (/dev/null stays /dev/null, a FIFO's reader gets the bytes);
    - a directory: IsADirectoryError (the callers turn it into a one-line error).

`check_outputs(outputs, inputs)`: before any work, a UsageError (exit 2) if two outputs are the
same file, or an output is the same file as an input (samefile: hard links and symlinks too).
`run_files(path)` names what a run directory holds, for commands that read runs or checkpoints.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from charrnn.errors import CharRNNError, UsageError

RUN_FILES = ("latest.npz", "best.npz", "metrics.jsonl", "probes.jsonl")  # what `charrnn train` writes in --out


def target_of(path) -> Path:
    """The file a write to `path` lands in: `path` itself, or the end of its symlink chain."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def atomic_write(path, write, durable: bool = False) -> None:
    """Call write(binary file) so that `path` gets the bytes as described in the module docstring.
    OSError (disk full, permission...) is re-raised, with nothing left behind."""
    target = target_of(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError:
        mode = None  # (e.g. a dangling link's directory: mkstemp below says what is wrong)
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if mode is not None and not stat.S_ISREG(mode):  # a device, FIFO or socket: in place
        with open(target, "wb") as f:
            write(f)
        return
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; this is an ordinary file
        with os.fdopen(fd, "wb") as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    if durable:
        _fsync_dir(target.parent)


def write_output(path, write, option: str = "") -> None:
    """atomic_write for a file the user named (--html, --dump): a one-line error naming the option."""
    try:
        atomic_write(path, write)
    except OSError as e:  # e.g. the disk is full
        raise CharRNNError(f"cannot write {option + ' ' if option else ''}{path}: {e.strerror or e}",
                           hint="check the free space and permissions there") from None


def check_output(path, option: str, example: str = "out") -> Path:
    """`path` if a file can be written there (UsageError naming `option` otherwise): it is not a
    directory, and its directory (the symlink target's, for a link) exists and is writable.
    Called before any work is done."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path} is a directory, not a file",
                         hint=f"give a file name, e.g. {option} {path / example}")
    target = target_of(path)
    if target.exists() and not target.is_file():  # a device or FIFO: written in place
        return path
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"{option} {path}: {parent} is not a directory", hint="pick another path")
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: the directory {parent} does not exist",
                         hint=f"create it first (mkdir -p {parent}), or pick another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot write in the directory {parent} (permission denied)",
                         hint="pick a directory you can write to")
    return path


def same_file(a, b) -> bool:
    """Whether paths `a` and `b` name one file (links followed; hard links count)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one of them does not exist (yet): compare where they lead
        try:
            return os.path.realpath(a) == os.path.realpath(b)
        except (OSError, ValueError):
            return False


def _special(path) -> bool:
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def run_files(path) -> list[tuple[Path, str]]:
    """The files of the run that `path` (a checkpoint or a run directory) belongs to, as inputs."""
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    return [(directory / name, f"the run's {name}") for name in RUN_FILES if (directory / name).exists()]


def checkpoint_inputs(path, meta: dict | None = None) -> list[tuple[Path, str]]:
    """A checkpoint read by a command, as inputs: the file, its run's files, and the corpus its
    metadata names (what the command reads when no --text is given)."""
    inputs = [(Path(path), "the checkpoint read"), *run_files(path)]
    corpus = (meta or {}).get("corpus")
    if isinstance(corpus, dict) and isinstance(corpus.get("path"), str):
        inputs.append((Path(corpus["path"]), "the corpus the checkpoint was trained on"))
    return inputs


def check_outputs(outputs: dict, inputs) -> None:
    """UsageError before any work if an output (option -> path, None for not asked) is the same
    file as another output or as an input ((path, what it is) pairs; None paths are skipped).
    A device such as /dev/null may be both (nothing is lost by writing it)."""
    pairs = outputs.items() if isinstance(outputs, dict) else outputs  # (or (option, path) pairs)
    named = [(opt, p) for opt, p in pairs if p is not None]
    for i, (opt, p) in enumerate(named):
        if _special(p):
            continue
        for other, q in named[:i]:
            if same_file(p, q):
                raise UsageError(f"{other} and {opt} name the same file {p}",
                                 hint="give each output its own file name")
        for q, what in inputs:
            if q is not None and same_file(p, q):
                raise UsageError(f"{opt} {p} is {what} ({q}): writing it would destroy an input of this command",
                                 hint=f"give {opt} another file name; nothing was written")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove(tmp) -> None:
    if tmp is not None:
        try:
            Path(tmp).unlink(missing_ok=True)
        except OSError:
            pass


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
