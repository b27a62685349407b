"""Issue 27, items 3, 4 and 5: hostile checkpoints. Every member is checked against the schema
(engine/schema.py) from its .npy header before any array is read; a zip bomb or a model too large
for the machine is refused before allocation; malformed metadata gives one line naming the field
(a hypothesis fuzz of the metadata finds no internal error); resume checks the optimizer and
carried state; a seq2seq checkpoint's max_target_len is bounded and a capped translation says so.
The README's checkpoint tables are checked against the schema."""

import json
import re
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import charrnn
from charrnn import __version__
from charrnn.config import ModelConfig, TrainConfig
from charrnn.data.pairs import build_tokens
from charrnn.engine import schema
from charrnn.engine.checkpoint import load_checkpoint, save_checkpoint
from charrnn.engine.task import get_task
from charrnn.engine.trained import load_trained
from charrnn.errors import CharRNNError
from charrnn.tasks import seq2seq
from charrnn.use.translate import default_max_len
from helpers import TEXT, TRAIN, assert_clean_error, invoke, make_checkpoint

README = Path(__file__).parent.parent / "README.md"


def _rewrite(path, out, meta_fn=None, arrays_fn=None):
    """A copy of checkpoint `path` at `out` with its metadata and arrays changed in place."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "__meta__"}
        meta = json.loads(f["__meta__"].tobytes())
    for key in ("format", "format_version"):
        meta.pop(key)
    if meta_fn:
        meta_fn(meta)
    if arrays_fn:
        arrays_fn(arrays)
    return save_checkpoint(out, arrays, meta)


def make_seq2seq(path, pairs=(("ab", "ba"), ("abc", "cba")), hidden=4, seed=0, **meta):
    tokens = build_tokens(list(pairs))
    cfg = ModelConfig(cell="gru", vocab_size=tokens.V, hidden=hidden, layers=1, dtype="float64")
    params = seq2seq.init_params(cfg, np.random.default_rng(seed))
    info = {"task": "seq2seq", "model": cfg.to_dict(), "train": TrainConfig().to_dict(),
            "vocab": tokens.vocab.to_list(), "tokens": {"end": tokens.end, "start": tokens.start, "pad": tokens.pad},
            "seq2seq": {"teacher_forcing": 1.0, "teacher_forcing_decay": 0, "max_source_len": 3, "max_target_len": 3},
            "step": 0, "epoch": 0, "chunk": 0, "val_loss": None, "best_val_loss": None, "history": [],
            "rng": np.random.default_rng(0).bit_generator.state, "corpus": None,
            "charrnn_version": __version__, "created": "2026-01-01T00:00:00Z", **meta}
    return save_checkpoint(path, {f"param/{k}": v for k, v in params.items()}, info), params


# ------------------------------------------------------------------------------- item 3: zip bombs
def _add_member(path, name, nbytes):
    """Append a deflated member of `nbytes` zeros, a valid .npy header first (a small file on disk)."""
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open(name + ".npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (nbytes // 8,)})
            block = bytes(1 << 20)
            for _ in range(nbytes >> 20):
                f.write(block)


def _peak_while(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_zip_bomb_member_is_refused_before_it_is_read(tmp_path):
    ck = make_checkpoint(tmp_path / "bomb.npz", hidden=4, layers=1)
    _add_member(ck, "junk", 32 << 20)  # 32 MB of zeros, ~32 KB on disk
    assert ck.stat().st_size < 1 << 20
    errors = []

    def load():
        try:
            load_trained(ck)
        except CharRNNError as e:
            errors.append(str(e))
    assert _peak_while(load) < 16 << 20  # nothing near 32 MB was allocated
    assert errors and "'junk'" in errors[0] and "does not have" in errors[0]
    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    for args in (["info"], ["sample"], ["evaluate", ck, text]):
        assert_clean_error(invoke(*args[:1], *(args[1:] or [ck])), 1, "'junk'")


def test_a_parameter_with_a_huge_declared_shape_is_refused_from_its_header(tmp_path):
    ck = make_checkpoint(tmp_path / "m.npz", hidden=4, layers=1)
    _rewrite(ck, ck, arrays_fn=lambda a: a.pop("param/by"))
    _add_member(ck, "param/by", 24 << 20)
    peak = _peak_while(lambda: pytest.raises(CharRNNError, load_trained, ck))
    assert peak < 16 << 20
    with pytest.raises(CharRNNError, match=r"parameter by has shape \(3145728,\), expected \(20,\)"):
        load_trained(ck)


def test_metadata_claiming_a_huge_model_is_refused_with_its_size(tmp_path):
    ck = make_checkpoint(tmp_path / "m.npz", hidden=4, layers=1)
    big = _rewrite(ck, tmp_path / "big.npz", lambda m: m["model"].update(hidden=8192, layers=16))
    peak = _peak_while(lambda: pytest.raises(CharRNNError, load_trained, big))
    assert peak < 16 << 20
    r = invoke("sample", big)
    assert_clean_error(r, 1, "its arrays need 33.3 GB", "16 layer(s) of 8,192 units")


def test_the_memory_bound_is_the_memory_available(tmp_path, monkeypatch):
    ck = make_checkpoint(tmp_path / "m.npz", hidden=64, layers=2)  # ~100 KB of float32
    load_trained(ck)
    monkeypatch.setattr(schema, "available_memory", lambda: 50_000)
    with pytest.raises(CharRNNError, match=r"arrays need 0\.\d GB .* more than the 0\.0 GB of memory available"):
        load_trained(ck)


def test_info_reads_the_metadata_and_no_weight(tmp_path, monkeypatch):
    ck = make_checkpoint(tmp_path / "m.npz", hidden=4, layers=1)
    read = []
    real = np.lib.npyio.NpzFile.__getitem__
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", lambda self, k: read.append(k) or real(self, k))
    r = invoke("info", ck, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["hidden"] == 4
    assert set(read) == {"__meta__"}


# ---------------------------------------------------------------------- item 5: malformed metadata
def _surrogate(m):
    m["vocab"][-1] = "\ud800"


MALFORMED = {
    "hidden 10**400": (lambda m: m["model"].update(hidden=10 ** 400), None, "metadata field model"),
    "string step": (lambda m: m.update(step="5"), None, "metadata field step"),
    "corpus 5": (lambda m: m.update(corpus=5), None, "metadata field corpus"),
    "train nope": (lambda m: m.update(train="nope"), None, "metadata field train"),
    "seq2seq [1]": (lambda m: m.update(task="seq2seq", seq2seq=[1]), None, "metadata field"),
    "lone surrogate": (_surrogate, None, "metadata field vocab"),
    "history [1, x]": (lambda m: m.update(history=[1, "x"]), None, "metadata field history"),
    "string weights": (None, lambda a: a.update({"param/Wy": a["param/Wy"].astype(str)}), "parameter Wy"),
    "complex weights": (None, lambda a: a.update({"param/Wy": a["param/Wy"].astype(complex)}), "parameter Wy"),
    "bool weights": (None, lambda a: a.update({"param/by": a["param/by"] > 0}), "parameter by"),
    "int weights": (None, lambda a: a.update({"param/by": a["param/by"].astype(np.int64)}), "parameter by"),
    "datetime weights": (None, lambda a: a.update({"param/by": a["param/by"].astype("datetime64[s]")}), "parameter by"),
    "optimizer of the wrong shape": (None, lambda a: a.update({"opt/m/Wy": np.zeros((2, 2), np.float32)}),
                                     "opt/m/Wy has shape (2, 2)"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_checkpoint_is_one_line_naming_the_field(tmp_path, case):
    meta_fn, arrays_fn, needle = MALFORMED[case]
    ck = _rewrite(make_checkpoint(tmp_path / "m.npz", hidden=4, layers=1), tmp_path / "bad.npz", meta_fn, arrays_fn)
    for verb in ("info", "sample"):
        assert_clean_error(invoke(verb, ck), 1, needle)


@pytest.fixture
def trained_run(env):
    r = invoke("train", "ok.txt", "--out", "run", *TRAIN, "--max-steps", "3")
    assert r.exit_code == 0, r.stderr
    return env / "run" / "latest.npz"


def _resume(ck):
    return invoke("train", "ok.txt", "--resume", ck, "--max-steps", "4", "--quiet")


@pytest.mark.parametrize("change, needle", [
    (lambda a: a.update({"opt/t": np.array(-5)}), "opt/t is -5"),
    (lambda a: a["opt/m/Wy"].__setitem__((0, 0), np.nan), "optimizer state opt/m/Wy holds NaN"),
    (lambda a: a["state/l0.h"].__setitem__((0, 0), np.inf), "carried state state/l0.h holds NaN"),
])
def test_resume_refuses_a_damaged_training_state_without_calling_it_diverged(trained_run, change, needle):
    bad = _rewrite(trained_run, trained_run.with_name("bad.npz"), arrays_fn=change)
    r = _resume(bad)
    assert_clean_error(r, 1, needle)
    assert "diverged" not in r.stderr and "lower the learning rate" not in r.stderr


def test_resume_without_optimizer_state_warns(trained_run):
    bad = _rewrite(trained_run, trained_run.with_name("bad.npz"),
                   arrays_fn=lambda a: [a.pop(k) for k in list(a) if k.startswith("opt/") and k != "opt/t"])
    r = _resume(bad)
    assert r.exit_code == 0, r.stderr
    assert re.search(r"warning: .*lacks \d+ of the \d+ optimizer state arrays.*not exact", r.stderr)


# ------------------------------------------------------------------------- fuzzing the metadata
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 30, 10 ** 30) | st.sampled_from([10 ** 400, -1, 0, 2 ** 63])
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5) | st.sampled_from(["\ud800", "lstm", "adam"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)
LM_KEYS = ["model", "train", "vocab", "step", "epoch", "chunk", "val_loss", "best_val_loss", "bad_evals", "rng",
           "corpus", "char_counts", "history", "charrnn_version", "created", "task", "extra"]
S2S_KEYS = LM_KEYS + ["tokens", "seq2seq", "seq2seq_train", "val_exact_match", "best_exact_match"]
NESTED = {"model": ["cell", "vocab_size", "hidden", "layers", "dropout", "dtype"],
          "train": ["batch", "seq_len", "lr", "optimizer", "momentum", "val_frac", "seed"],
          "corpus": ["path", "sha256", "n_chars", "encoding_errors", "pairs"],
          "seq2seq": ["teacher_forcing", "max_target_len", "max_source_len"]}
EDIT = st.tuples(st.sampled_from(["delete", "set", "nested"]), st.sampled_from(S2S_KEYS), st.integers(0, 6), JSON)


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    (d / "corpus.txt").write_text(TEXT * 4, encoding="utf-8")
    lm = make_checkpoint(d / "lm.npz", hidden=3, layers=1, corpus={"path": str(d / "corpus.txt"), "sha256": "0",
                                                                      "n_chars": 1, "encoding_errors": "strict"},
                         train={**TrainConfig().to_dict(), "batch": 2, "seq_len": 8}, step=3)
    s2s, _ = make_seq2seq(d / "s2s.npz", hidden=3)
    return d, {"lm": lm, "seq2seq": s2s}


def _use(path) -> None:
    """What the commands do with a checkpoint: load it, describe it, run it a little, resume it."""
    m = charrnn.load(path)
    m.info()
    if getattr(m, "task", "lm") == "seq2seq":
        m.translate(["ab"], max_len=4)
        m.translate(["ab"], beam=2, max_len=4)
    else:
        m.generate(length=5, seed=0)
        get_task("lm").prepare(path.parent / "corpus.txt", {}, {}, {}, resume=path, cache_dir=path.parent / "cache")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(task=st.sampled_from(["lm", "seq2seq"]), edits=st.lists(EDIT, min_size=1, max_size=3))
def test_fuzzed_metadata_gives_clean_errors_only(bases, task, edits):
    d, base = bases

    def mutate(meta):
        for how, key, sub, value in edits:
            if how == "delete":
                meta.pop(key, None)
            elif how == "set":
                meta[key] = value
            elif isinstance(meta.get(key), dict) and key in NESTED:
                meta[key][NESTED[key][sub % len(NESTED[key])]] = value
    p = _rewrite(base[task], d / f"fz-{task}.npz", mutate)
    try:  # only a CharRNNError (one line from the CLI) may come out: anything else fails the test
        _use(p)
    except CharRNNError as e:
        assert "\n" not in e.message


# ------------------------------------------------------------------ item 4: hostile max_target_len
def test_a_hostile_max_target_len_is_refused(tmp_path):
    ck, _ = make_seq2seq(tmp_path / "s.npz", seq2seq={"teacher_forcing": 1.0, "teacher_forcing_decay": 0,
                                                       "max_source_len": 3, "max_target_len": 10 ** 12})
    for verb in ("info", "translate"):
        assert_clean_error(invoke(verb, ck), 1, "seq2seq.max_target_len")


@pytest.mark.parametrize("beam", [None, 3])
def test_decoding_stops_at_the_cap_and_says_so(tmp_path, beam):
    ck, params = make_seq2seq(tmp_path / "s.npz")
    tokens = build_tokens([("ab", "ba"), ("abc", "cba")])
    params["by"][tokens.end] = -1e4  # END is never chosen
    _rewrite(ck, ck, arrays_fn=lambda a: a.update({"param/by": params["by"]}))
    m = charrnn.load(ck)
    assert default_max_len(m.trained) == 2 * 3 + 10
    capped = []
    assert len(m.translate(["ab", "b"], beam=beam, capped=capped)[1]) == 16 and capped == [0, 1]
    args = ["--beam", beam] if beam else []
    r = invoke("translate", ck, "--text", _lines(tmp_path, "ab\nba\n"), "--max-len", "7", *args)
    assert r.exit_code == 0 and [len(x) for x in r.stdout.splitlines()] == [7, 7]
    assert "warning: 2 of 2 translation(s) reached the cap of 7 characters" in r.stderr


def _lines(tmp_path, text):
    p = tmp_path / "in.txt"
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------------- the README against the schema
def _readme_section(title):
    text = README.read_text(encoding="utf-8")
    start = text.index(title)
    return text[start:text.index("\n## ", start + 1)]


def _table_names(section):
    """Array names of a README table: backticked names, `.Wh` shorthand after a full name, {k} kept."""
    names = []
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        first = row.split("|")[1]
        prev = None
        for tok in re.findall(r"`([^`]+)`", first):
            if tok.startswith(".") and prev:
                tok = prev.rsplit(".", 1)[0] + tok
            names.append(tok)
            prev = tok
    return names


@pytest.mark.parametrize("task", ["lm", "seq2seq"])
def test_readme_checkpoint_tables_match_the_schema(tmp_path, task):
    section = _readme_section("## Checkpoint format")
    assert schema.readme_table() in section  # the metadata fields, their tasks and ranges
    split = section.index("### Seq2seq checkpoints")
    section = section[split:section.index("\n### ", split)] if task == "seq2seq" else section[:split]
    listed = [n for n in _table_names(section) if n.startswith(("param/", "opt/", "state/", "__meta__"))]
    if task == "lm":
        ck = make_checkpoint(tmp_path / "m.npz", cell="lstm", hidden=3, layers=2)
    else:
        ck, _ = make_seq2seq(tmp_path / "m.npz")
    meta = load_checkpoint(ck, weights=False)[1]
    meta["model"]["layers"] = 2
    expanded = {n.replace("{k}", str(k)) for n in listed for k in range(2)}
    assert {n for n in schema.array_specs(meta) if n.startswith("param/")} == \
        {n for n in expanded if n.startswith("param/")}
    assert {n for n in schema.array_specs(meta) if n.startswith("state/")} == \
        {n for n in expanded if n.startswith("state/")}
    assert any(n.startswith("opt/") for n in listed) and "__meta__" in listed


def test_a_corpus_path_with_control_characters_is_escaped_in_messages(tmp_path):
    """Issue 27, item 9: a NUL or an escape sequence in a path read from a checkpoint is shown
    escaped, and the message stays one line."""
    ck = make_checkpoint(tmp_path / "m.npz", hidden=4, layers=1,
                         corpus={"path": "/nowhere/a\x00b\x1b[31m\nc.txt", "sha256": "0", "n_chars": 1})
    r = invoke("inspect-cells", ck)
    assert_clean_error(r, 1, r"/nowhere/a\x00b\x1b[31m\nc.txt")
    assert "\x00" not in r.stderr and "\x1b" not in r.stderr
