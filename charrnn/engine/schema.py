"""What a charrnn checkpoint holds: the one description that the loader checks every file against
before it reads a single array, and that the README's "Checkpoint format" tables are checked
against (tests/test_schema.py).

A checkpoint is a `.npz` (zip of `.npy` members, see checkpoint.py) with a JSON metadata member
`__meta__` and these arrays (`array_specs`; H hidden units, L layers, V characters, B batch; a name
with {k} stands for one per layer, k = 0 .. L-1):

    language model (task "lm", the default)      seq2seq (task "seq2seq")
    param/<name>  tasks/lm.py param_shapes        param/<name>  tasks/seq2seq.py param_shapes
    opt/<slot>/<name>  optimizer moments (the parameter's shape), opt/t  the step count
    state/l{k}.h, state/l{k}.c  (B, H) carried state (language model only; c for LSTM)

The checks, in order (each failure is one CheckpointError naming the field or member):
1. `check_meta`: every field of `FIELDS` present has its type and range; required ones exist.
   Keys the table does not name are ignored (a newer charrnn may add some).
2. `check_members`: every member's name is one the metadata implies, and its declared shape and
   dtype (read from the member's .npy header, not its data) are the expected ones: weights and
   states are float16/32/64, opt/t an integer; parameters must all be there.
3. The arrays' total size, known from the metadata and the headers alone, must stay under
   `MAX_BYTES` and the memory available now: a zip bomb is refused before any allocation.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from charrnn.errors import CharRNNError, CheckpointError

META_KEY = "__meta__"
MAX_BYTES = 16 << 30  # a sane bound on a checkpoint's arrays (bytes), whatever the machine has
MAX_META_BYTES = 64 << 20  # the JSON metadata (a long run's history is well under 1 MB)
MAX_TARGET_LEN = 100_000  # the longest target a seq2seq checkpoint may claim (options.MAX_OUTPUT)
HINT = "the file is damaged or was not written by `charrnn train`; use another checkpoint"


# ------------------------------------------------------------------------------ metadata fields
def _int(v, lo=0, hi=None) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int):
        return f"is {_shown(v)}, not a whole number"
    if v < lo or (hi is not None and v > hi):
        return f"is {_shown(v)}, outside {lo}..{hi if hi is not None else ''}"
    return None


def _number(v, lo=None, hi=None, none=True) -> str | None:
    if v is None and none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return f"is {_shown(v)}, not a number"
    try:
        x = float(v)
    except OverflowError:
        return f"is {_shown(v)}, too large"
    if (lo is not None and not x >= lo) or (hi is not None and not x <= hi):
        return f"is {_shown(v)}, outside {lo}..{hi}"
    return None


def _str(v) -> str | None:
    if not isinstance(v, str):
        return f"is {_shown(v)}, not a string"
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return "holds a lone surrogate (not a character)"
    return None


def _dict(v) -> str | None:
    return None if isinstance(v, dict) else f"is {_shown(v)}, not a mapping"


def _model(v) -> str | None:
    from charrnn.config import ModelConfig

    return _dict(v) or _config(ModelConfig.from_dict, v)


def _train(v) -> str | None:
    from charrnn.config import TrainConfig

    return _dict(v) or _config(TrainConfig.from_dict, v)


def _config(build, v) -> str | None:
    try:
        build(v)
    except CharRNNError as e:
        return f"is invalid: {e.message}"
    except OverflowError:
        big = [k for k, x in v.items() if isinstance(x, (int, float)) and _number(x)]
        return f"is invalid: {big[0] if big else 'a value'} is too large"
    except (TypeError, ValueError) as e:
        return f"is invalid: {e}"
    return None


def _vocab(v) -> str | None:
    if not isinstance(v, list) or not v:
        return f"is {_shown(v)}, not a list of characters"
    for i, c in enumerate(v):
        if not isinstance(c, str) or len(c) != 1:
            return f"entry {i} is {_shown(c)}, not one character"
        if 0xD800 <= ord(c) <= 0xDFFF:
            return f"entry {i} is a lone surrogate U+{ord(c):04X}, not a character"
    if v != sorted(set(v)):
        return "is not sorted and unique"
    return None


def _counts(v) -> str | None:
    if not isinstance(v, list) or any(_int(n) for n in v):
        return "is not a list of counts"
    return None


def _corpus(v) -> str | None:
    if v is None:
        return None
    if not isinstance(v, dict):
        return f"is {_shown(v)}, not a mapping"
    for key, check in (("path", _str), ("sha256", lambda s: None if s is None else _str(s)),
                       ("n_chars", _int), ("pairs", _int), ("skipped_lines", _int),
                       ("encoding_errors", lambda s: None if s in ("strict", "replace", "ignore")
                        else f"is {_shown(s)}, not strict, replace or ignore")):
        if key in v and (problem := check(v[key])):
            return f".{key} {problem}"
    return None


def _history(v) -> str | None:
    if not isinstance(v, list):
        return f"is {_shown(v)}, not a list"
    for i, r in enumerate(v):
        if not isinstance(r, dict):
            return f"record {i} is {_shown(r)}, not a mapping"
        if problem := _int(r.get("step")):
            return f"record {i}: step {problem}"
        for key, x in r.items():
            if key != "step" and not isinstance(x, str) and (problem := _number(x)):
                return f"record {i}: {key} {problem}"
    return None


def _seq2seq(v) -> str | None:
    if problem := _dict(v):
        return problem
    for key, check in (("teacher_forcing", lambda x: _number(x, 0, 1)), ("teacher_forcing_decay", _int),
                       ("max_source_len", _int), ("max_target_len", lambda x: _int(x, 1, MAX_TARGET_LEN))):
        if key in v and (problem := check(v[key])):
            return f".{key} {problem}"
    if "max_target_len" not in v:
        return ".max_target_len is missing"
    return None


def _seq2seq_train(v) -> str | None:
    from charrnn.options import check

    if problem := _dict(v):
        return problem
    for key in ("teacher_forcing", "teacher_forcing_decay"):
        if key in v:
            try:
                check(key, v[key])
            except (CharRNNError, TypeError, ValueError, OverflowError) as e:
                return f".{key} is invalid: {getattr(e, 'message', e)}"
    return None


def _labels(v) -> str | None:
    if not isinstance(v, list) or not v or any(_str(x) for x in v):
        return f"is {_shown(v)}, not a non-empty list of label names"
    if len(set(v)) != len(v):
        return "names a label twice"
    return None


def _tokens(v, meta) -> str | None:
    n = len(meta["vocab"])
    want = {"end": n, "start": n + 1, "pad": n + 2}
    return None if v == want else f"is {_shown(v)}, not {want} for {n} characters"


@dataclass(frozen=True)
class Field:
    name: str
    check: Callable  # value -> None, or what is wrong (a phrase after the field's name)
    required: bool = False  # must be there (in the checkpoints of `tasks`)
    tasks: tuple | None = None  # the tasks whose checkpoints hold it (None: every task)
    what: str = ""


LABELLED = ("classify", "tag")
FIELDS = [
    Field("format", lambda v: None if v == "charrnn" else f"is {_shown(v)}, not 'charrnn'", True, what='"charrnn"'),
    Field("format_version", lambda v: _int(v, 1), True, what="1"),
    Field("task", lambda v: None if _known_task(v) else f"is {_shown(v)}, a task this charrnn does not know "
                                                         "(written by a newer charrnn?)",
          what='the task: "lm" (absent in older language models), "seq2seq", "classify" or "tag"'),
    Field("model", _model, True, what="a mapping of the model options (cell, vocab_size, hidden, layers, dropout, "
                                      "dtype, ...), each in its option's range"),
    Field("vocab", _vocab, True, what="a list of single characters (no lone surrogate), sorted by code point and "
                                      "unique; vocab[i] has id i"),
    Field("train", _train, what="a mapping of the training options, each in its option's range"),
    Field("step", _int, what="a whole number >= 0: training steps done"),
    Field("epoch", _int, what="a whole number >= 0: passes over the training text done"),
    Field("chunk", _int, what="a whole number >= 0: position within the epoch"),
    Field("val_loss", _number, what="a number or null: validation loss of these weights (nats/char)"),
    Field("best_val_loss", _number, what="a number or null: best validation loss of the run so far"),
    Field("bad_evals", _int, what="a whole number >= 0: evaluations without improvement (for --patience)"),
    Field("rng", _dict, what="a mapping: the random generator's state (NumPy bit generator)"),
    Field("corpus", _corpus, what="null or a mapping: path, sha256 (strings), n_chars (seq2seq: pairs, "
                                  "skipped_lines; whole numbers), encoding_errors"),
    Field("char_counts", _counts, tasks=("lm",),
          what="a list of whole numbers >= 0: how often each character occurs in the training text"),
    Field("history", _history, what="a list of mappings, one per evaluation: step (a whole number), losses, lr, "
                                    "speed, elapsed (numbers or null)"),
    Field("charrnn_version", _str, what="a string: the version that wrote the file"),
    Field("created", _str, what="a string: when it was written (UTC, ISO 8601)"),
    Field("tokens", None, True, ("seq2seq",), what='{"end": V, "start": V + 1, "pad": V + 2}'),
    Field("seq2seq", _seq2seq, True, ("seq2seq",),
          what=f"a mapping: teacher_forcing (0..1), teacher_forcing_decay, max_source_len (whole numbers >= 0), "
               f"max_target_len (1..{MAX_TARGET_LEN:,})"),
    Field("seq2seq_train", _seq2seq_train, tasks=("seq2seq",),
          what="a mapping: the options teacher_forcing, teacher_forcing_decay"),
    Field("val_exact_match", lambda v: _number(v, 0, 1), tasks=("seq2seq",),
          what="a number in 0..1 or null: exact match of these weights"),
    Field("best_exact_match", lambda v: _number(v, 0, 1), tasks=("seq2seq",),
          what="a number in 0..1 or null: best exact match so far"),
    Field("labels", _labels, True, LABELLED, what="a non-empty list of distinct label names (strings)"),
    Field("labelled", _dict, tasks=LABELLED, what="a mapping: the classify / tag options (pool, bidirectional, ...)"),
    Field("val_accuracy", lambda v: _number(v, 0, 1), tasks=LABELLED, what="a number in 0..1 or null"),
    Field("val_macro_f1", lambda v: _number(v, 0, 1), tasks=LABELLED, what="a number in 0..1 or null"),
    Field("best_accuracy", lambda v: _number(v, 0, 1), tasks=LABELLED, what="a number in 0..1 or null"),
]


def readme_table() -> str:
    """The README's table of the metadata fields (tests/test_schema.py checks the README holds it)."""
    rows = ["| field | in | must be |", "|-------|----|---------|"]
    for f in FIELDS:
        where = "all" if f.tasks is None else ", ".join(f.tasks)
        rows.append(f"| `{f.name}` | {where}{' (required)' if f.required else ''} | {f.what} |")
    return "\n".join(rows)


def _known_task(v) -> bool:
    from charrnn.tasks import TASKS as REGISTERED

    return isinstance(v, str) and v in REGISTERED


def task_of(meta: dict) -> str:
    return meta.get("task", "lm")


def check_meta(path, meta) -> None:
    """CheckpointError naming the first field of `meta` that is missing or wrong."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its metadata is {_shown(meta)}, not a mapping", hint=HINT)
    task = meta.get("task", "lm")
    for f in FIELDS:
        if f.name not in meta:
            if f.required and (f.tasks is None or task in f.tasks):
                raise CheckpointError(f"{path}: metadata field {f.name} is missing", hint=HINT)
            continue
        if f.tasks is not None and task not in f.tasks:
            continue  # (an unknown task is the task field's error; a field of another task is ignored)
        v = meta[f.name]
        problem = _tokens(v, meta) if f.name == "tokens" else f.check(v)
        if problem:
            sep = "" if problem.startswith(".") else " "  # (".max_target_len is ...": a nested field)
            raise CheckpointError(f"{path}: metadata field {f.name}{sep}{problem}", hint=HINT)
    from charrnn.config import ModelConfig

    if ModelConfig.from_dict(meta["model"]).vocab_size != len(meta["vocab"]):
        raise CheckpointError(f"{path}: metadata field vocab has {len(meta['vocab'])} characters but the model "
                              f"expects {meta['model'].get('vocab_size')}", hint=HINT)


# ---------------------------------------------------------------------------------- the arrays
@dataclass(frozen=True)
class Array:
    shape: tuple  # None in a place: any size there
    kinds: str  # allowed dtype kinds: "f" float, "iu" integer
    required: bool
    what: str


FLOATS = ("float16", "float32", "float64")  # the dtypes weights and states may have


def array_specs(meta: dict) -> dict[str, Array]:
    """name -> Array: everything a checkpoint with this (checked) metadata may hold."""
    from charrnn.config import ModelConfig
    from charrnn.nn.cells import CELLS
    from charrnn.engine.task import get_task
    from charrnn.nn.optim import make_optimizer

    cfg = ModelConfig.from_dict(meta["model"])
    task = task_of(meta)
    shapes = get_task(task).checkpoint_shapes(cfg, meta)
    out = {f"param/{n}": Array(tuple(s), "f", True, f"parameter {n}") for n, s in shapes.items()}
    train = meta.get("train") or {}
    slots = make_optimizer(train.get("optimizer", "adam")).slots if "optimizer" in train else ("m", "v")
    for slot in slots:
        out.update({f"opt/{slot}/{n}": Array(tuple(s), "f", False, f"optimizer state opt/{slot}/{n}") for n, s in shapes.items()})
    out["opt/t"] = Array((), "iu", False, "optimizer step count opt/t")
    if task == "lm":
        batch = train.get("batch")
        for k in range(cfg.layers):
            for name in CELLS[cfg.cell].state:
                out[f"state/l{k}.{name}"] = Array((batch, cfg.hidden), "f", False, f"carried state state/l{k}.{name}")
    return out


def expected_bytes(meta: dict) -> int:
    """What the required arrays of this metadata take in memory (known before any is read)."""
    from charrnn.config import ModelConfig

    itemsize = np.dtype(ModelConfig.from_dict(meta["model"]).dtype).itemsize
    return sum(math.prod(a.shape) * itemsize for a in array_specs(meta).values() if a.required)


def check_members(path, meta: dict, headers: dict, memory: bool = True) -> None:
    """`headers`: member name -> (shape, dtype) from each .npy header (checkpoint.read_headers).
    CheckpointError for an unknown member, a missing parameter, a wrong shape or dtype, or (with
    `memory`) arrays too large for a sane bound or for the memory available."""
    if memory:
        check_size(path, expected_bytes(meta), meta)
    spec = array_specs(meta)
    for name, (shape, dtype) in headers.items():
        if name == META_KEY:
            continue
        a = spec.get(name)
        if a is None:
            raise CheckpointError(f"{path}: holds an array {name!r} that a charrnn checkpoint does not have",
                                  hint=HINT)
        want = tuple(a.shape)
        if len(shape) != len(want) or any(w is not None and s != w for s, w in zip(shape, want)):
            raise CheckpointError(f"{path}: {a.what} has shape {tuple(shape)}, expected "
                                  f"{tuple('B' if w is None else w for w in want)}", hint=HINT)
        if dtype.kind not in a.kinds or (dtype.kind == "f" and dtype.name not in FLOATS) or dtype.hasobject:
            want_dt = "float16, float32 or float64" if a.kinds == "f" else "an integer"
            raise CheckpointError(f"{path}: {a.what} holds {dtype} values, not {want_dt}", hint=HINT)
    missing = [n for n, a in spec.items() if a.required and n not in headers]
    if missing:
        raise CheckpointError(f"{path}: {spec[missing[0]].what} is missing", hint=HINT)
    if memory:
        check_size(path, sum(math.prod(s) * d.itemsize for n, (s, d) in headers.items() if n != META_KEY), meta)


def check(path, meta, headers) -> None:
    """The whole check (metadata, members, size): `checkpoint.load_checkpoint(path, check=check)`."""
    check_meta(path, meta)
    check_members(path, meta, headers)


def check_no_memory(path, meta, headers) -> None:
    """The same without the size bound, for reading the metadata only (`charrnn info`)."""
    check_meta(path, meta)
    check_members(path, meta, headers, memory=False)


def check_resume(path, arrays: dict, meta: dict) -> list[str]:
    """What resuming from these (checked) arrays needs beyond loading: CheckpointError for a
    negative step count or NaN / inf in the optimizer state or the carried state (a damaged file,
    not a diverged run); a warning (returned) when the optimizer's moments are missing."""
    for name, a in arrays.items():
        if name.startswith(("opt/", "state/")) and a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            what = "optimizer state" if name.startswith("opt/") else "carried state"
            raise CheckpointError(f"{path}: {what} {name} holds NaN or infinite values, so the run cannot "
                                  "continue exactly from it (the file is damaged: its weights are finite)",
                                  hint="resume from another checkpoint (best.npz), or start a new run from "
                                       "these weights with --init-from")
    if "opt/t" in arrays and int(arrays["opt/t"]) < 0:
        raise CheckpointError(f"{path}: optimizer step count opt/t is {int(arrays['opt/t'])}, below 0", hint=HINT)
    train = meta.get("train") or {}
    name = train.get("optimizer", "adam")
    if name == "sgd" and not train.get("momentum"):
        return []  # plain SGD keeps no state
    want = [n for n, a in array_specs(meta).items() if n.startswith("opt/") and n != "opt/t"]
    from charrnn.nn.optim import make_optimizer

    slots = make_optimizer(name).slots
    want = [n for n in want if n.split("/")[1] in slots]
    missing = [n for n in want if n not in arrays]
    if missing and meta.get("step"):
        return [f"{path} lacks {len(missing)} of the {len(want)} optimizer state arrays (e.g. {missing[0]}): "
                "the optimizer's moments restart from zero, so this resume is not exact"]
    return []


def check_size(path, nbytes: int, meta: dict) -> None:
    limit, why = MAX_BYTES, f"the limit of {MAX_BYTES / 1e9:.1f} GB"
    free = available_memory()
    if free is not None and free < limit:
        limit, why = free, f"the {free / 1e9:.1f} GB of memory available"
    if nbytes > limit:
        m = meta.get("model") or {}
        raise CheckpointError(f"{path}: its arrays need {nbytes / 1e9:.1f} GB ({m.get('layers')} layer(s) of "
                              f"{m.get('hidden'):,} units, {m.get('vocab_size'):,} characters), more than {why}",
                              hint="use a machine with more memory, or another checkpoint")


def available_memory() -> int | None:
    """Bytes of memory available now (Linux: MemAvailable), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _shown(v) -> str:
    """A value for a message: short, one line, any character escaped."""
    s = repr(v) if not isinstance(v, int) or isinstance(v, bool) or abs(v) < 10 ** 30 else f"a {len(str(abs(v)))}-digit number"
    return s if len(s) <= 40 else s[:37] + "..."
