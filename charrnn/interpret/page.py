"""The inspect-cells HTML page: the answer first, every unit browsable, one self-contained file.

Top to bottom: the ranking (probes by the |r| of their best unit, weak ones greyed and labelled)
and the gate saturation table; a gallery with the best unit of each strong probe on an excerpt
where that probe varies most; then the whole text under a toolbar (unit and probe pickers, the
colour scale in words, an info line that follows the mouse: character index, the unit's value,
the probe's value and the model's top-3 next characters).

Data: every state unit (h; c and tanh(c) for an LSTM) over every character, packed into one
zlib-compressed binary block (in base 85, `to_text`) that the page unpacks with the browser's own
DecompressionStream (no library, no network):

    sharp units  (ranked, chosen, and the c / tanh(c) partner of each)  uint8: lo + q/255 (hi - lo)
    other units  4 bits each: 16 levels over centre +- 3 robust SD (within [min, max]); shown with ≈
    tanh(c) of other units   computed in the page from their 4-bit c
    probes       float32 per character
    predictions  top-3 next-character ids (uint16) and probabilities (uint8, /255)

At 20,000 characters a 2 x 128 LSTM page is about 4.1 MB (the text's spans are made by the page),
plus the model's weights for the live panel (page_model.py, base 64 float32: 1.4 MB for a
2 x 128 LSTM over 100 characters; JavaScript forward pass: page_engine.py).

Jamo tokens: `text` holds the steps (jamo), `groups` the composed characters and the first step of
each; the page writes one box per character, split into a band per step, each coloured by its
step's value, and the mouse over a syllable picks the step under it (its jamo, value, top-3).
"""

from __future__ import annotations

import html
import json
import re
import zlib

import numpy as np

from charrnn.interpret.page_engine import ENGINE
from charrnn.interpret.scale import FULL, robust_scale

SPAN = 3.0  # 4-bit units: levels over centre +- SPAN robust SD
GALLERY = 6  # cards in the gallery (the best unit of the strongest probes)
EXCERPT = 280  # characters per gallery card (about 9 lines of a card)
TOP_K = 3  # predictions shown per character


def _sharp(values: np.ndarray) -> tuple[bytes, float, float]:
    lo, hi = float(values.min()), float(values.max())
    q = np.round((values - lo) / (hi - lo) * 255) if hi > lo else np.zeros(len(values))
    return q.astype(np.uint8).tobytes(), lo, hi


def _coarse(values: np.ndarray, centre: float, spread: float) -> tuple[bytes, float, float]:
    lo = max(float(values.min()), centre - SPAN * spread)
    hi = min(float(values.max()), centre + SPAN * spread)
    q = np.round((np.clip(values, lo, hi) - lo) / (hi - lo) * 15) if hi > lo else np.zeros(len(values))
    q = q.astype(np.uint8)
    if len(q) % 2:
        q = np.append(q, 0)
    return ((q[0::2] << 4) | q[1::2]).astype(np.uint8).tobytes(), lo, hi


def _gallery_window(signal: np.ndarray, n: int, text: str) -> tuple[int, int]:
    """[start, stop) of about n characters, from a line start, where `signal` varies most."""
    T = len(signal)
    if T <= n:
        return 0, T
    s = np.concatenate(([0.0], np.cumsum(signal)))
    s2 = np.concatenate(([0.0], np.cumsum(signal * signal)))
    var = (s2[n:] - s2[:-n]) / n - ((s[n:] - s[:-n]) / n) ** 2  # (T - n + 1,) variance of each window
    start = int(np.argmax(var[: T - n + 1]))
    nl = text.rfind("\n", max(0, start - 120), start + 1)
    start = nl + 1 if nl >= 0 else start
    return start, min(T, start + n)


def cells_page(a, summary: str, title: str = "", chosen=(), vocab=None, trained=None, ablation=None) -> str:
    """The page for an `analysis.Analysis` (see the module docstring).

    chosen: unit numbers to put first (--unit); vocab: the model's characters (for predictions);
    trained: the model itself (`engine.trained.Trained`), embedded for the page's live panel
    (page_model.py; without it, or above page_model.MAX_BYTES, the panel says why it is off);
    ablation: the rows of `ablation.ablation` (--ablation), shown as a table.
    """
    T = len(a.text)
    U = a.traces.acts.shape[1]
    from charrnn.interpret.units import KINDS

    chosen = list(chosen)
    states = [u for u in range(U) if KINDS[a.traces.units[u, 1]] in ("h", "c") or u in chosen]  # + chosen gates
    tanh_units = list(range(U, a.n_units))
    c_to_tanh = {int(c): U + i for i, c in enumerate(a.tanh_cols)}
    tanh_to_c = {v: k for k, v in c_to_tanh.items()}
    sharp = set(chosen) | {row["unit"] for row in a.top}
    for u in list(sharp):  # a unit's c and tanh(c) go together
        if u in c_to_tanh:
            sharp.add(c_to_tanh[u])
        if u in tanh_to_c:
            sharp.add(tanh_to_c[u])
    blob, units = [], []
    offset = 0

    def put(b: bytes) -> int:
        nonlocal offset
        at = offset
        blob.append(b)
        offset += len(b)
        return at

    index_of = {}
    for u in states + tanh_units:
        v = a.values(u).astype(np.float64)
        centre, spread = robust_scale(v)
        layer, kind, idx = a.unit(u)
        entry = {"label": a.label(u), "layer": layer, "kind": kind, "index": idx, "centre": centre,
                 "spread": spread, "r": [round(float(x), 4) for x in a.r_of(u)]}
        if u in sharp:
            b, lo, hi = _sharp(v)
            entry.update(bits=8, off=put(b), lo=lo, hi=hi)
        elif u >= U:  # tanh(c) of a coarse unit: computed in the page from its c
            entry.update(bits=0, of=index_of[int(a.tanh_cols[u - U])])
        else:
            b, lo, hi = _coarse(v, centre, spread)
            entry.update(bits=4, off=put(b), lo=lo, hi=hi)
        index_of[u] = len(units)
        units.append(entry)
    probes = []
    for name in a.names:
        sig = np.asarray(a.signals[name], dtype=np.float32)
        centre, spread = robust_scale(sig)
        probes.append({"name": name, "off": put(sig.tobytes()), "centre": centre, "spread": spread,
                       "weak": a.weak(name) if name not in a.constant else True,
                       "constant": name in a.constant})
    preds = None
    if a.logits is not None and vocab is not None and len(vocab) <= 65536:  # ids as uint16
        z = a.logits - a.logits.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        k = min(TOP_K, p.shape[1])
        top = np.argsort(-p, axis=1, kind="stable")[:, :k]  # (T, k)
        probs = np.take_along_axis(p, top, axis=1)
        preds = {"k": k, "ids": put(top.astype("<u2").tobytes()),
                 "p": put(np.round(probs * 255).astype(np.uint8).tobytes()), "vocab": list(vocab)}
    ranking = []
    for row in a.top:
        ranking.append({"probe": row["probe"], "rank": row["rank"], "unit": index_of[row["unit"]],
                        "label": row["label"], "r": round(row["r"], 4), "weak": a.weak(row["probe"])})
    gallery, seen = [], set()
    for row in a.top:
        if row["rank"] != 1 or a.weak(row["probe"]) or row["unit"] in seen or len(gallery) == GALLERY:
            continue
        seen.add(row["unit"])
        start, stop = _gallery_window(a.signals[row["probe"]], EXCERPT, a.text)
        gallery.append({"unit": index_of[row["unit"]], "probe": row["probe"], "r": round(row["r"], 4),
                        "start": start, "stop": stop})
    first = [index_of[u] for u in chosen if u in index_of] or ([gallery[0]["unit"]] if gallery else
                                                              [ranking[0]["unit"]] if ranking else [0])
    saturation = [{k: v for k, v in row.items() if not k.endswith("_per_unit")} for row in a.saturation]
    groups = None
    if a.chars is not None:  # jamo tokens: one box per character, a band per step (see the template)
        groups = {"start": a.starts.tolist(), "text": list(a.chars)}
    model, weights = {"off": "the page was made without the model"}, ""
    if trained is not None and trained.vocab.tokens != "chars":
        model = {"off": f"the live panel reads characters; this model reads {trained.vocab.tokens} tokens"}
    elif trained is not None:
        from charrnn.interpret.page_model import embed
        from charrnn.use.sample import start_char

        model, weights = embed(trained.cfg, trained.params, trained.vocab.chars,
                               start_char(trained.vocab, trained.meta.get("char_counts")))
    data = {"model": model, "ablation": ablation or [], "T": T, "text": a.text, "groups": groups, "units": units,
            "probes": probes, "preds": preds, "ranking": ranking,
            "gallery": gallery, "first": first[0], "constant": a.constant, "saturation": saturation,
            "full": FULL, "weak_r": _weak_r()}
    packed = to_text(zlib.compress(b"".join(blob), 9))
    parts = {"__TITLE__": html.escape(title), "__SUMMARY__": html.escape(summary),
             "__DATA__": _json_for_script(data), "__BLOB__": packed, "__ALPHABET__": ALPHABET,
             "__WEIGHTS__": weights, "__ENGINE__": ENGINE}
    from charrnn.interpret.page_template import PAGE

    return re.sub(r"__(TITLE|SUMMARY|DATA|BLOB|ALPHABET|WEIGHTS|ENGINE)__", lambda m: parts[m[0]], PAGE)


# Base 85 over printable ASCII without < > & " ' \ / (nothing in it can end or escape the <script>
# element that holds it): 5 characters per 4 bytes, 25 % more than the bytes (base64: 33 %).
ALPHABET = "".join(c for c in map(chr, range(33, 127)) if c not in "<>&\"'\\/")[:85]


def to_text(data: bytes) -> str:
    """`data` in base 85 (ALPHABET): each 4 bytes, big-endian, as 5 digits, most significant first;
    the last group is padded with zero bytes and the text starts with the pad count (0-3)."""
    pad = -len(data) % 4
    words = np.frombuffer(data + b"\0" * pad, dtype=">u4").astype(np.int64)  # (N,)
    digits = np.empty((len(words), 5), dtype=np.int64)
    for k in range(4, -1, -1):
        digits[:, k] = words % 85
        words //= 85
    return str(pad) + np.array(list(ALPHABET))[digits].tobytes().decode("utf-32-le").replace("\0", "")


def from_text(text: str) -> bytes:
    """The inverse of `to_text` (what the page's script does)."""
    pad, body = int(text[0]), np.frombuffer(text[1:].encode("ascii"), dtype=np.uint8)
    lookup = np.zeros(128, dtype=np.int64)
    lookup[np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)] = np.arange(85)
    digits = lookup[body].reshape(-1, 5)
    words = np.zeros(len(digits), dtype=np.int64)
    for k in range(5):
        words = words * 85 + digits[:, k]
    raw = words.astype(">u4").tobytes()
    return raw[: len(raw) - pad]


def _weak_r() -> float:
    from charrnn.interpret.analysis import WEAK_R

    return WEAK_R


def _json_for_script(obj) -> str:
    """JSON that cannot end the <script> element early."""
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return s.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
