"""Activation traces: run a trained model over a text and record, for every character, what every
unit of every layer computed.

    acts (T, U) float32    row t: the activations after reading character t
    units (U, 3) int       column u is unit (layer, kind code, index); kind = KINDS[code]

Kinds per cell (the names of `cells.CELLS[cell].trace`):

    rnn   h
    lstm  h (hidden state), c (cell state), i, f, o (input, forget, output gates)
    gru   h (hidden state), r, z (reset, update gates)

Columns are ordered layer by layer, kind by kind (in the order above), then unit index.
The activations come from `cells.CELLS[cell].forward`, the very code that trains, read back with
its `trace`, one stream (batch 1), time-major, in chunks with the state carried between them.
Layers and unit indices count from 0, as in the checkpoint's parameter names (l0.Wx, l1.Wx, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charrnn.cells import CELLS
from charrnn.errors import CheckpointError, CorpusError, UsageError
from charrnn.model import init_state, layer_params

KINDS = ("h", "c", "i", "f", "o", "r", "z")  # kind codes: KINDS.index(kind), fixed for every cell
CELL_KINDS = {"rnn": ("h",), "lstm": ("h", "c", "i", "f", "o"), "gru": ("h", "r", "z")}
GATE_KINDS = ("i", "f", "o", "r", "z")  # sigmoid gates, in (0, 1)
CHUNK = 1024  # characters per forward call


@dataclass
class Traces:
    acts: np.ndarray  # (T, U) float32
    units: np.ndarray  # (U, 3) int64: layer, kind code, index
    cell: str
    hidden: int

    def column(self, layer: int, kind: str, index: int) -> int:
        """The column of unit (layer, kind, index) in `acts`."""
        kinds = CELL_KINDS[self.cell]
        return (layer * len(kinds) + kinds.index(kind)) * self.hidden + index

    def label(self, u: int) -> str:
        """Human name of column u, e.g. 'L1 c 37' (layer 1, cell state, unit 37)."""
        layer, code, index = (int(v) for v in self.units[u])
        return f"L{layer} {KINDS[code]} {index}"


def unit_index(cell: str, layers: int, hidden: int) -> np.ndarray:
    """(U, 3) int64 rows (layer, kind code, index) in column order."""
    rows = [(k, KINDS.index(kind), j) for k in range(layers) for kind in CELL_KINDS[cell] for j in range(hidden)]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def run_traces(params: dict, cfg, ids: np.ndarray, chunk: int = CHUNK, state: list | None = None,
               progress=None) -> Traces:
    """Run the model over ids (T,) from `state` (zeros by default) and collect every activation.

    `progress(done, total)` is called after each chunk, if given.
    """
    cell = CELLS[cfg.cell]
    kinds = CELL_KINDS[cfg.cell]
    H, L, T = cfg.hidden, cfg.layers, len(ids)
    per_layer = len(kinds) * H
    acts = np.empty((T, L * per_layer), dtype=np.float32)
    state = list(state) if state is not None else init_state(cfg, 1)
    ids = np.asarray(ids, dtype=np.intp)
    for start in range(0, T, chunk):
        x = ids[start: start + chunk, None]  # (Tc, 1) ids, time-major, one stream
        stop = start + len(x)
        for k in range(L):
            hs, state[k], cache = cell.forward(layer_params(params, k), x, state[k])  # hs (Tc, 1, H)
            trace = cell.trace(cache)
            for j, kind in enumerate(kinds):
                col = k * per_layer + j * H
                acts[start:stop, col: col + H] = trace[kind][:, 0, :]
            x = hs  # input of the next layer (Tc, 1, H)
        if progress is not None:
            progress(stop, T)
    return Traces(acts, unit_index(cfg.cell, L, H), cfg.cell, H)


# ------------------------------------------------------------------------------ units by name
_UNIT = re.compile(r"^[Ll]?(\d+):([a-z]):(\d+)$")


def parse_unit(spec: str, cell: str | None = None, layers: int | None = None, hidden: int | None = None):
    """'LAYER:KIND:INDEX' (e.g. '1:c:37' or 'L1:c:37') -> (layer, kind, index), checked against the model."""
    m = _UNIT.match(spec.strip())
    if not m:
        raise UsageError(f"invalid --unit {spec!r}: expected LAYER:KIND:INDEX, e.g. 1:c:37",
                         hint="KIND is one of " + ", ".join(KINDS) + "; layers and units count from 0")
    layer, kind, index = int(m[1]), m[2], int(m[3])
    if kind not in KINDS:
        raise UsageError(f"invalid --unit {spec!r}: unknown kind {kind!r}", hint="use one of " + ", ".join(KINDS))
    if cell is not None and kind not in CELL_KINDS[cell]:
        raise UsageError(f"invalid --unit {spec!r}: a {cell} has no {kind!r} activations",
                         hint=f"a {cell} has " + ", ".join(CELL_KINDS[cell]))
    if layers is not None and layer >= layers:
        have = "only layer 0" if layers == 1 else f"layers 0..{layers - 1}"
        raise UsageError(f"invalid --unit {spec!r}: the model has {have}",
                         hint=_unit_hint(cell, layers, hidden))
    if hidden is not None and index >= hidden:
        raise UsageError(f"invalid --unit {spec!r}: each layer has units 0..{hidden - 1}",
                         hint=_unit_hint(cell, layers, hidden))
    return layer, kind, index


def _unit_hint(cell, layers, hidden) -> str:
    """'units of this model are LAYER:KIND:INDEX with LAYER 0..1, KIND h, c, i, f or o, INDEX 0..127, e.g. 1:c:0'."""
    kinds = CELL_KINDS[cell] if cell is not None else KINDS
    def upto(n):
        return "from 0" if n is None else "0" if n == 1 else f"0..{n - 1}"

    layer, index = f"LAYER {upto(layers)}", f"INDEX {upto(hidden)}"
    last = layers - 1 if layers is not None else 0
    return (f"units of this model are LAYER:KIND:INDEX with {layer}, KIND {', '.join(kinds[:-1])}"
            f"{' or ' if len(kinds) > 1 else ''}{kinds[-1]}, {index}; e.g. {last}:{kinds[min(1, len(kinds) - 1)]}:0")


# -------------------------------------------------------------------------------- the text
def training_text(trained, max_chars: int) -> str:
    """The validation part of the corpus the model was trained on (its first max_chars characters).

    The corpus is found by the path recorded in the checkpoint and must still hash the same.
    """
    from charrnn.corpus import load_corpus, split

    info = trained.meta.get("corpus") or {}
    hint = "pass the text to inspect with --text FILE"
    if not info.get("path"):
        raise CheckpointError(f"{trained.path} does not record the corpus it was trained on", hint=hint)
    path = Path(info["path"])
    if not path.is_file():
        raise CorpusError(f"the training corpus {path} is gone (moved or deleted)", hint=hint)
    corpus = load_corpus(path, info.get("encoding_errors") or "strict")
    if info.get("sha256") and corpus.sha256 != info["sha256"]:
        raise CorpusError(f"the training corpus {path} has changed since training (its sha256 differs)", hint=hint)
    _, val = split(corpus.ids, float(trained.meta.get("train", {}).get("val_frac", 0.1)))
    if len(val) == 0:  # no validation split: the end of the text
        val = corpus.ids[-max_chars:]
    return corpus.vocab.decode(np.asarray(val[:max_chars]))


def read_known_text(path, vocab, max_chars: int, encoding_errors: str = "strict", warn=None) -> str:
    """The first `max_chars` characters of the file at `path` that the model knows (the others are
    dropped, warn(message) says how many), reading only as much of the file as that takes
    (chunk by chunk: a huge file costs no more memory than a small one). The checks of
    `corpus.read_text` hold: missing, binary, invalid UTF-8 (with its byte offset), BOM dropped."""
    from charrnn.corpus import _decoded_chunks, _open
    from charrnn.vocab import code_points

    if encoding_errors not in ("strict", "replace", "ignore"):
        raise UsageError(f"--encoding-errors {encoding_errors!r} is not one of strict, replace, ignore")
    path, _ = _open(path)
    known = code_points("".join(vocab.chars))
    parts, n, dropped, unknown = [np.zeros(0, dtype="<u4")], 0, 0, set()
    chunks = _decoded_chunks(path, encoding_errors)
    try:
        for points, _raw in chunks:
            keep = np.isin(points, known)
            need = max_chars - n
            pos = np.flatnonzero(keep)
            if len(pos) >= need:  # the last chunk needed: stop right after the max_chars-th known character
                cut = int(pos[need - 1]) + 1 if need > 0 else 0
                points, keep = points[:cut], keep[:cut]
            parts.append(points[keep].astype("<u4"))
            n += len(parts[-1])
            if not keep.all():
                dropped += int((~keep).sum())
                unknown.update(int(c) for c in np.unique(points[~keep]))
            if n >= max_chars:
                break
    finally:
        chunks.close()  # closes the file
    if dropped and warn is not None:
        warn(_dropped_message(dropped, sorted(unknown)))
    return np.concatenate(parts).tobytes().decode("utf-32-le", "surrogatepass")


def _dropped_message(dropped: int, unknown) -> str:
    from charrnn.vocab import display

    shown = " ".join(display(chr(int(c))) for c in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
    return f"dropped {dropped:,} characters not in the model's vocabulary ({len(unknown)} distinct: {shown})"


def known_text(text: str, vocab, warn=None) -> str:
    """`text` without the characters the model does not know (warn(message) says how many)."""
    from charrnn.vocab import code_points

    points = code_points(text)
    keep = np.isin(points, code_points("".join(vocab.chars)))
    if keep.all():
        return text
    if warn is not None:
        warn(_dropped_message(int((~keep).sum()), np.unique(points[~keep])))
    return points[keep].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
