"""inspect-cells: traces equal the training forward pass, correlations, a planted quote unit is
found, the HTML page is self-contained, the dump round-trips, and the CLI's errors."""

import json

import numpy as np
import pytest

from charrnn.tasks import lm as model
from charrnn.interpret.analysis import analyse
from charrnn.interpret.page import ALPHABET, cells_page, from_text, to_text
from charrnn.config import ModelConfig
from charrnn.data.corpus import load_corpus
from charrnn.errors import CharRNNError, UsageError
from charrnn.interpret.rank import correlate, saturation
from charrnn.interpret.render import heat_plain
from charrnn.engine.trained import load_trained
from charrnn.interpret.traces import run_traces
from charrnn.interpret.units import CELL_KINDS, KINDS, parse_unit
from helpers import TEXT, assert_clean_error, ck, invoke, make_checkpoint, text  # noqa: F401 (ck, text: fixtures)


# ------------------------------------------------------------------------------ traces
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_traces_equal_the_forward_pass_and_do_not_depend_on_chunking(tmp_path, cell):
    t = load_trained(make_checkpoint(tmp_path / "m.npz", cell=cell, hidden=5, layers=2, dtype="float64"))
    ids = t.vocab.encode(TEXT)
    _, _, cache = model.forward(t.params, t.cfg, ids[None, :], model.init_state(t.cfg, 1))
    layer_caches, top = cache.stack.layers, cache.top
    tr = run_traces(t.params, t.cfg, ids, chunk=4096)
    H = t.cfg.hidden
    assert tr.acts.shape == (len(TEXT), 2 * len(CELL_KINDS[cell]) * H) and tr.acts.dtype == np.float32
    last_h = tr.acts[:, [tr.column(1, "h", j) for j in range(H)]]
    np.testing.assert_allclose(last_h, top, rtol=1e-6, atol=1e-7)  # float32 copies of the float64 pass
    for k in range(2):
        ref = model.CELLS[cell].trace(layer_caches[k])
        for kind in CELL_KINDS[cell]:
            got = tr.acts[:, [tr.column(k, kind, j) for j in range(H)]]
            np.testing.assert_allclose(got, ref[kind][:, 0, :], rtol=1e-6, atol=1e-7)
    chunked = run_traces(t.params, t.cfg, ids, chunk=7)  # state carried across chunks
    np.testing.assert_allclose(chunked.acts, tr.acts, rtol=1e-6, atol=1e-7)
    u = tr.column(1, CELL_KINDS[cell][-1], 3)
    assert tuple(tr.units[u]) == (1, KINDS.index(CELL_KINDS[cell][-1]), 3)
    assert tr.label(u) == f"L1 {CELL_KINDS[cell][-1]} 3"


def test_parse_unit():
    assert parse_unit("1:c:37") == (1, "c", 37) == parse_unit("L1:c:37")
    for bad in ("1-c-37", "x", "1:q:3", "1:c"):
        with pytest.raises(UsageError):
            parse_unit(bad)
    with pytest.raises(UsageError, match="no 'r'"):
        parse_unit("0:r:1", "lstm", 2, 8)
    with pytest.raises(UsageError, match="layers 0..1"):
        parse_unit("2:h:1", "lstm", 2, 8)
    with pytest.raises(UsageError, match="units 0..7"):
        parse_unit("0:h:8", "lstm", 2, 8)


# ------------------------------------------------------------------------------ ranking
def test_correlate_matches_numpy_and_constant_columns_give_zero():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(200, 6)).astype(np.float32)
    acts[:, 2] = 0.5  # a dead unit
    sig = np.stack([acts[:, 0] * 2 + rng.normal(size=200) * 0.1, np.ones(200), rng.normal(size=200)], axis=1)
    r = correlate(acts, sig)
    assert r.shape == (6, 3) and np.isfinite(r).all()
    for u in (0, 1, 3):
        for p in (0, 2):
            assert r[u, p] == pytest.approx(np.corrcoef(acts[:, u], sig[:, p])[0, 1], abs=1e-9)
    assert (r[2] == 0).all() and (r[:, 1] == 0).all()


def test_saturation_fractions():
    acts = np.array([[0.05, 0.95], [0.05, 0.5], [0.5, 0.95], [0.05, 0.95]], dtype=np.float32)
    units = np.array([[0, KINDS.index("f"), 0], [0, KINDS.index("f"), 1]])
    (row,) = saturation(acts, units)
    assert row["gate"] == "f" and row["units"] == 2
    assert row["left"] == pytest.approx((0.75 + 0) / 2) and row["right"] == pytest.approx((0 + 0.75) / 2)
    assert row["mostly_left"] == 1 and row["mostly_right"] == 1


# -------------------------------------------------------------------------- planted unit
def quote_text(n_lines=60, seed=0):
    rng = np.random.default_rng(seed)
    words = ["ab", "cab", "x y", "hello", "q", "a b c"]
    lines = [f'{"xyz"[i % 3]} = "{words[rng.integers(len(words))]}" + {rng.integers(10)}' for i in range(n_lines)]
    return "\n".join(lines) + "\n"


def planted_quote_lstm(text, H=6, K=10.0):
    """One LSTM layer whose unit 0 toggles at every '"': c = tanh(-K h + 1) when a quote is read
    (forget 0, input 1), kept otherwise (forget 1, input 0). h ~ +0.76 inside, -0.76 outside."""
    from charrnn.data.vocab import Vocab

    vocab = Vocab.from_text(text)
    cfg = ModelConfig(cell="lstm", vocab_size=vocab.size, hidden=H, layers=1, dtype="float64")
    p = model.init_params(cfg, np.random.default_rng(1))
    i, f, o, g = 0, H, 2 * H, 3 * H  # unit 0's column in each gate block
    for col in (i, f, o, g):
        p["l0.Wx"][:, col] = 0
        p["l0.Wh"][:, col] = 0
    q = vocab.index('"')
    p["l0.b"][[i, f, o, g]] = [-20, 20, 20, 1.0]
    p["l0.Wx"][q, i], p["l0.Wx"][q, f] = 40, -40  # a quote opens the input gate, closes forget
    p["l0.Wh"][0, g] = -K  # candidate: the opposite of the current state
    return p


def test_a_planted_quote_unit_is_ranked_first(tmp_path):
    text = quote_text()
    ck = make_checkpoint(tmp_path / "planted.npz", cell="lstm", text=text, hidden=6, layers=1,
                         params=planted_quote_lstm(text), dtype="float64")
    a = analyse(load_trained(ck), text, ["in_double_quotes", "line_position"], top=3)
    best = [row for row in a.top if row["probe"] == "in_double_quotes"][0]
    layer, kind, index = a.unit(best["unit"])
    assert (layer, index) == (0, 0) and kind in ("c", "tanh(c)", "h") and best["r"] > 0.9, best
    assert a.top[0]["probe"] == "in_double_quotes"  # the strongest probe comes first


def test_tanh_c_is_ranked_beside_c_and_counted_once_per_unit(tmp_path):
    t = load_trained(make_checkpoint(tmp_path / "m.npz", text=TEXT, hidden=6, layers=2))
    a = analyse(t, TEXT, ["in_string", "line_position"], top=4)
    U = a.traces.acts.shape[1]
    assert len(a.tanh_cols) == 2 * 6 and a.n_units == U + 12
    u = U + 3  # tanh(c) of the fourth c column
    layer, kind, index = a.unit(u)
    assert kind == "tanh(c)" and a.label(u) == f"L{layer} tanh(c) {index}"
    np.testing.assert_allclose(a.values(u), np.tanh(a.traces.acts[:, a.tanh_cols[3]]))
    p = a.names.index("in_string")
    assert a.r_of(u)[p] == pytest.approx(np.corrcoef(a.values(u), a.signals["in_string"])[0, 1], abs=1e-6)
    for name in ("in_string", "line_position"):
        rows = [r for r in a.top if r["probe"] == name]
        bases = [(a.unit(r["unit"])[0], "c" if a.unit(r["unit"])[1] == "tanh(c)" else a.unit(r["unit"])[1],
                  a.unit(r["unit"])[2]) for r in rows]
        assert len(bases) == len(set(bases)) == 4  # c and tanh(c) of one unit: once
        assert [abs(r["r"]) for r in rows] == sorted((abs(r["r"]) for r in rows), reverse=True)
    firsts = [abs(r["r"]) for r in a.top if r["rank"] == 1]
    assert firsts == sorted(firsts, reverse=True)  # strongest probe first


# -------------------------------------------------------------------------------- HTML
def _page_data(page: str):
    import zlib

    data = json.loads(page.split('<script id="data" type="application/json">')[1].split("</script>")[0])
    blob = page.split('<script id="blob" type="application/octet-stream">')[1].split("</script>")[0]
    return data, zlib.decompress(from_text(blob))


def _unit_values(data, raw: bytes, i: int) -> np.ndarray:
    """What the page's script computes for unit i (the same arithmetic, in NumPy)."""
    u, T = data["units"][i], data["T"]
    if u["bits"] == 8:
        return u["lo"] + np.frombuffer(raw, np.uint8, T, u["off"]) * (u["hi"] - u["lo"]) / 255
    if u["bits"] == 4:
        b = np.frombuffer(raw, np.uint8, (T + 1) // 2, u["off"])
        q = np.stack([b >> 4, b & 15], axis=1).reshape(-1)[:T]
        return u["lo"] + q * (u["hi"] - u["lo"]) / 15
    return np.tanh(_unit_values(data, raw, u["of"]))


def test_cells_page_is_self_contained_escaped_and_holds_every_state_unit(tmp_path):
    text = TEXT + 'if a < b and c > d: print("</script><b>&amp;")\n'
    t = load_trained(make_checkpoint(tmp_path / "m.npz", text=text))
    a = analyse(t, text, ["in_string", "bracket_depth", "regex:print"], top=2)
    page = cells_page(a, "summary <x>", title="m.npz", vocab=t.vocab.chars, trained=t)
    assert "http://" not in page and "https://" not in page and "src=" not in page and "<link" not in page
    assert "summary &lt;x&gt;" in page and "<b>&amp;" not in page
    assert page.count("</script>") == 6  # data, blob, alphabet, weights, engine and code: the text cannot end one early
    data, raw = _page_data(page)
    assert data["text"] == text and data["T"] == len(text)
    H, L = t.cfg.hidden, t.cfg.layers
    assert len(data["units"]) == L * H * 3  # h, c and tanh(c) of every unit of every layer
    ranked = {row["label"] for row in a.top}
    for i, u in enumerate(data["units"]):
        want = a.values(next(k for k in range(a.n_units) if a.label(k) == u["label"]))
        got = _unit_values(data, raw, i)
        if u["label"] in ranked:
            assert u["bits"] == 8
        if u["bits"] == 8:
            np.testing.assert_allclose(got, want, atol=(u["hi"] - u["lo"]) / 500 + 1e-7)
        elif u["bits"] == 4:  # 16 levels over the colour window: exact to half a level inside it
            inside = (want >= u["lo"]) & (want <= u["hi"])
            np.testing.assert_allclose(got[inside], want[inside], atol=(u["hi"] - u["lo"]) / 30 + 1e-7)
    for p in data["probes"]:
        np.testing.assert_array_equal(np.frombuffer(raw, np.float32, len(text), p["off"]), a.signals[p["name"]])
    k = data["preds"]["k"]
    ids = np.frombuffer(raw, "<u2", len(text) * k, data["preds"]["ids"]).reshape(-1, k)
    assert (ids[:, 0] == a.logits.argmax(axis=1)).all()
    best = [row for row in a.top if row["rank"] == 1]
    assert data["units"][data["first"]]["label"] == best[0]["label"]  # it opens on the strongest unit
    gate = a.traces.column(1, "f", 3)  # a gate chosen with --unit is on the page too, and opens it
    data, raw = _page_data(cells_page(a, "s", chosen=[gate], vocab=t.vocab.chars))
    assert data["units"][data["first"]]["label"] == "L1 f 3" and len(data["units"]) == L * H * 3 + 1
    np.testing.assert_allclose(_unit_values(data, raw, data["first"]), a.values(gate), atol=1 / 255)


def test_base85_round_trips_and_cannot_end_the_script_element():
    assert len(ALPHABET) == len(set(ALPHABET)) == 85 and not set(ALPHABET) & set("<>&\"'\\/")
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 3, 4, 5, 1001):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        text = to_text(data)
        assert from_text(text) == data and len(text) == 1 + 5 * ((n + 3) // 4)
    assert to_text(b"\0" * 4) == "0" + ALPHABET[0] * 5 and to_text(b"\xff" * 4)[1] == ALPHABET[82]  # 2**32 - 1


def test_cells_page_keeps_emoji_families_whole(tmp_path):
    family = "👨\u200d👩\u200d👧"
    text = ("ab " + family + " cd\n") * 30
    t = load_trained(make_checkpoint(tmp_path / "m.npz", text=text, hidden=4, layers=1))
    page = cells_page(analyse(t, text, ["word_start"], top=1), "s", vocab=t.vocab.chars)
    assert _page_data(page)[0]["text"] == text


def test_terminal_heat_map_shows_every_character_and_colours_by_sign():
    from charrnn.interpret.render import heat_text

    t = heat_text("a\tb\nc", np.array([1.0, 0.0, -1.0, 0.5, 0.0]), 1.0)
    assert t.plain == "a⇥   b↵\nc"
    styles = [str(span.style) for span in t.spans]
    assert "#000000 on #ff6464" in styles and "#000000 on #6464ff" in styles


def test_plain_heat_map_puts_marks_under_the_characters():
    out = heat_plain("ab\ncd", np.array([1.0, -1.0, 0.0, 0.3, 0.0]), 1.0)
    assert out.split("\n") == ["ab↵", "#=", "cd", "+"]


# --------------------------------------------------------------------------------- CLI
@pytest.fixture
def trained_on_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "code.txt"
    corpus.write_text(TEXT * 3, encoding="utf-8")
    c = load_corpus(corpus)
    info = {"path": str(corpus.resolve()), "sha256": c.sha256, "n_chars": c.n_chars, "encoding_errors": "strict"}
    return make_checkpoint(tmp_path / "ck.npz", text=TEXT, corpus=info), corpus


def run(*args):
    return invoke("inspect-cells", *args)


def test_cli_default_text_tables_and_heat_maps(trained_on_file):
    ck, _ = trained_on_file
    r = run(ck, "--excerpt", "60", "--unit", "1:c:2")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "in_double_quotes" in out and "line_position" in out and "Gate saturation" in out
    assert "L1 c 2 (chosen unit" in out and "top unit for" in out
    assert "\x1b[" not in out  # not a terminal: no colour codes
    assert "tracing" in r.stderr and "tracing" not in out


def test_cli_text_dump_json_and_html(trained_on_file, tmp_path):
    ck, _ = trained_on_file
    text = tmp_path / "other.txt"
    text.write_text("def f(x):\r\n    return 'a'  # é\n" * 5, encoding="utf-8")  # é, \r: not in the vocab
    dump, page = tmp_path / "traces.dump", tmp_path / "cells.html"
    r = run(ck, "--text", text, "--probe", "in_string", "--probe", "regex:ret", "--probe", "upper_case", "--top", "2",
            "--dump", dump, "--html", page, "--json")
    assert r.exit_code == 0, r.output
    assert "dropped 10 character(s)" in r.stderr
    report = json.loads(r.stdout)
    assert {row["probe"] for row in report["top_units"]} == {"in_string", "regex:ret"}
    assert report["constant_probes"] == ["upper_case"]  # no capitals in the text: nothing to rank
    assert report["n_chars"] == len("def f(x):\n    return 'a'  # \n") * 5
    d = np.load(dump, allow_pickle=False)
    T = report["n_chars"]
    assert d["activations"].shape == (T, 2 * 5 * 8) and d["activations"].dtype == np.float32
    assert "".join(map(chr, d["text"])) == "def f(x):\n    return 'a'  # \n" * 5
    assert d["units"].shape == (80, 3) and list(d["kinds"]) == list(KINDS)
    assert list(d["probes"]) == ["in_string", "regex:ret", "upper_case"] and d["r"].shape == (80, 3)
    assert (d["r"][:, 2] == 0).all()
    assert d["probe/regex:ret"].sum() == 15
    row = next(r for r in report["top_units"] if r["kind"] in ("h", "c"))  # (tanh(c) is not in the dump)
    u = int(np.flatnonzero((d["units"] == [row["layer"], KINDS.index(row["kind"]), row["index"]]).all(axis=1))[0])
    assert d["r"][u, list(d["probes"]).index(row["probe"])] == pytest.approx(row["r"], abs=1e-5)
    assert 'id="unit"' in page.read_text(encoding="utf-8")


def test_cli_errors(trained_on_file, tmp_path):
    ck, corpus = trained_on_file
    for bad in ("nonsense", "9:h:0", "0:z:1", "0:h:99"):
        r = run(ck, "--unit", bad)
        assert r.exit_code == 2, (bad, r.output)
        assert "--unit" in r.stderr and "Traceback" not in r.output
    r = run(ck, "--probe", "quotes")
    assert r.exit_code == 2 and "unknown probe" in r.stderr
    corpus.write_text(TEXT * 2, encoding="utf-8")  # changed since training
    r = run(ck)
    assert r.exit_code == 1 and "changed" in r.stderr and "--text" in r.stderr
    corpus.rename(tmp_path / "moved.txt")
    r = run(ck)
    assert r.exit_code == 1 and "gone" in r.stderr and "--text" in r.stderr
    r = run(tmp_path / "missing.npz", "--text", tmp_path / "moved.txt")
    assert r.exit_code != 0 and "Traceback" not in r.output
    other = tmp_path / "alien.txt"
    other.write_text("ЖЖЖ", encoding="utf-8")
    r = run(ck, "--text", other)
    assert r.exit_code == 1 and "no text left" in r.stderr


# -------------------------------------------- excerpts, wide characters, reading, markup, colours
def test_excerpt_is_full_length_whenever_the_text_allows():
    from charrnn.cli.inspect_cells import _excerpt

    text = ("x" * 37 + "\n") * 8 + "tail"  # 308 characters, no line start near the end
    for n in (1, 60, 120, 200, 307, 308, 400):
        start, stop = _excerpt(text, n)
        assert stop - start == min(n, len(text)) and 0 <= start and stop <= len(text), n
        assert start == 0 or text[start - 1] == "\n" or "\n" not in text[:start]
    assert _excerpt(text, 120)[0] == 152  # the last line start that leaves room for 120


def test_plain_heat_map_pads_marks_to_the_width_of_wide_and_zero_width_characters():
    family = "👨\u200d👩\u200d👧"
    text = "가a" + family + "é\u0301b\n"
    out = heat_plain(text, np.ones(len(text)), 1.0).split("\n")
    assert out[0] == "가a" + family + "é\u0301b↵"  # the real characters, no '?'
    assert out[1] == "##" + "#" + "##" + "##" + "##" + "#" + "#" + "#"  # 2 per wide, 0 per joiner/accent
    from charrnn.interpret.render import heat_text

    assert heat_text(family, np.zeros(5), 1.0).plain == family


def test_read_known_text_reads_only_what_it_needs(tmp_path, monkeypatch):
    from charrnn.data import corpus as corpus_mod
    from charrnn.errors import CorpusError
    from charrnn.interpret.text import read_known_text
    from charrnn.data.vocab import Vocab

    monkeypatch.setattr(corpus_mod, "CHUNK_BYTES", 16)  # many chunks for a small file
    vocab = Vocab("abcé\n")
    f = tmp_path / "t.txt"
    f.write_bytes(b"\xef\xbb\xbf" + "ab?é\n".encode() * 40 + b"\xff")  # BOM, then a bad byte at the very end
    warned = []
    got = read_known_text(f, vocab, 7, warn=warned.append)
    assert got == "abé\nabé"  # the BOM and '?' dropped; the bad byte never read
    assert warned == ["dropped 2 character(s) not in the model's vocabulary (1 distinct: '?' (U+003F))"]
    assert read_known_text(f, vocab, 10_000, "replace") == "abé\n" * 40  # '?' and U+FFFD dropped
    with pytest.raises(CorpusError, match=f"offset {3 + 6 * 40}") as e:
        read_known_text(f, vocab, 10_000)
    assert "--encoding-errors" in e.value.hint


def test_cli_probe_names_are_not_rich_markup_and_units_repeat(trained_on_file):
    ck, _ = trained_on_file
    r = run(ck, "--probe", "regex:[/]", "--probe", "regex:[a-z]+", "--probe", "regex:[bold]x",
            "--unit", "0:h:1", "--unit", "1:c:2", "--unit", "0:h:1", "--excerpt", "30")
    assert r.exit_code == 0, r.output
    assert "regex:[a-z]+" in r.stdout and "regex:[/]" in r.stdout and "regex:[bold]x" in r.stdout
    assert r.stdout.count("chosen unit") == 2 and "L0 h 1 (chosen" in r.stdout and "L1 c 2 (chosen" in r.stdout


def test_cli_short_text_warns_and_option_errors_read_like_the_others(trained_on_file, tmp_path):
    ck, _ = trained_on_file
    r = run(ck, "--max-chars", "2", "--json")
    assert r.exit_code == 0 and "unreliable" in r.stderr and "--max-chars" in r.stderr
    for opt, value in (("--top", "0"), ("--max-chars", "0"), ("--excerpt", "-1")):
        r = run(ck, opt, value)
        assert r.exit_code == 2 and f"error: invalid value for {opt}: {value} (want a whole number >= " in r.stderr
    r = run(ck, "--unit", "9:h:0")
    assert r.exit_code == 2 and "hint: units of this model are LAYER:KIND:INDEX with LAYER 0..1" in r.stderr


def test_colours_are_centred_on_the_median_and_scaled_by_a_robust_spread():
    from charrnn.interpret.scale import FULL, robust_scale

    rng = np.random.default_rng(0)
    switch = (np.arange(1000) % 50 < 20).astype(float)  # a unit that switches, on top of an offset of 3
    v = 3.0 + 0.4 * switch + 0.02 * rng.normal(size=1000)
    v[7] = 40.0  # one outlier does not flatten the picture
    centre, spread = robust_scale(v)
    t = np.clip((v - centre) / (FULL * spread), -1, 1)
    assert 3.0 < centre < 3.4 and spread < 0.5
    assert t[switch == 1].mean() > 0.5 and t[(switch == 0)].mean() < 0.2  # the switch shows
    assert robust_scale(np.full(10, 2.5)) == (2.5, 1.0)  # constant: white everywhere
    mostly = np.zeros(100)
    mostly[:3] = 1.0  # IQR 0: the standard deviation takes over
    assert robust_scale(mostly)[1] == pytest.approx(np.std(mostly))


# ------------------------------------------------------------------------ inspect-cells
@pytest.mark.parametrize("option,where,needle", [
    ("--dump", "missing/dir/t.npz", "does not exist"),
    ("--html", "missing/x.html", "does not exist"),
    ("--html", ".", "is a directory"),
    ("--dump", "t.txt/x.npz", "is not a directory"),
])
def test_inspect_output_paths_are_checked_before_any_work(ck, text, tmp_path, monkeypatch, option, where, needle):
    monkeypatch.chdir(tmp_path)
    r = invoke("inspect-cells", ck, "--text", text, option, where)
    assert_clean_error(r, 2, option, needle)
    assert "tracing" not in r.stderr  # failed before the model ran


def test_inspect_writes_its_files_atomically(tmp_path):
    from charrnn.outputs import write_output as write_atomic

    target = tmp_path / "page.html"
    target.write_text("old", encoding="utf-8")

    def fail(f):
        f.write(b"half a page")
        raise OSError(28, "No space left on device")

    with pytest.raises(CharRNNError, match="cannot write --html .*page.html: No space left"):
        write_atomic(target, fail, "--html")
    assert target.read_text(encoding="utf-8") == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]
    write_atomic(target, lambda f: f.write(b"new"), "--html")
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 != 0o600


def test_inspect_encoding_errors_option(ck, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(TEXT.encode() + b"\xff" + TEXT.encode())
    r = invoke("inspect-cells", ck, "--text", bad, "--json")
    assert r.exit_code == 1 and "not valid UTF-8" in r.stderr and "--encoding-errors replace" in r.stderr
    r = invoke("inspect-cells", ck, "--text", bad, "--json", "--encoding-errors", "replace")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n_chars"] == 2 * len(TEXT) and "dropped 1 character(s)" in r.stderr  # U+FFFD
