"""inspect-cells: traces equal the training forward pass, correlations, a planted quote unit is
found, the HTML page is self-contained, the dump round-trips, and the CLI's errors."""

import json
from html.parser import HTMLParser

import numpy as np
import pytest
from typer.testing import CliRunner

from charrnn import model
from charrnn.interpret.analysis import analyse
from charrnn.interpret.files import html_series
from charrnn.cli import app
from charrnn.config import ModelConfig
from charrnn.corpus import load_corpus
from charrnn.errors import UsageError
from charrnn.interpret.rank import correlate, saturation
from charrnn.interpret.render import heat_plain, html_page
from charrnn.trained_model import load_trained
from charrnn.interpret.traces import run_traces
from charrnn.interpret.units import CELL_KINDS, KINDS, parse_unit
from helpers import TEXT, make_checkpoint


# ------------------------------------------------------------------------------ traces
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_traces_equal_the_forward_pass_and_do_not_depend_on_chunking(tmp_path, cell):
    t = load_trained(make_checkpoint(tmp_path / "m.npz", cell=cell, hidden=5, layers=2, dtype="float64"))
    ids = t.vocab.encode(TEXT)
    _, _, cache = model.forward(t.params, t.cfg, ids[None, :], model.init_state(t.cfg, 1))
    layer_caches, _, top = cache
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
    from charrnn.vocab import Vocab

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
    layer, _, index = a.traces.units[best["unit"]]
    assert (layer, index) == (0, 0) and best["r"] > 0.9, best


# -------------------------------------------------------------------------------- HTML
class _Collect(HTMLParser):
    """Tags, option labels, and the text shown in <div id="text"> (one span per character)."""

    def __init__(self):
        super().__init__()
        self.tags, self.options, self.shown = [], [], []
        self._in_option = self._in_text = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_option = tag == "option"
        if tag == "div":
            self._in_text = ("id", "text") in attrs

    def handle_endtag(self, tag):
        if tag == "div":
            self._in_text = False

    def handle_data(self, data):
        if self._in_option:
            self.options.append(data)
            self._in_option = False
        if self._in_text:
            self.shown.append(data)


def test_html_is_self_contained_escaped_and_lists_every_top_unit(tmp_path):
    text = TEXT + 'if a < b and c > d: print("</script><b>&amp;")\n'
    t = load_trained(make_checkpoint(tmp_path / "m.npz", text=text))
    a = analyse(t, text, ["in_string", "bracket_depth", "regex:print"], top=2)
    page = html_page(text, html_series(a), a.top, "summary <x>", title="m.npz")
    assert "http://" not in page and "https://" not in page and "src=" not in page and "<link" not in page
    assert "<span>&lt;</span>" in page and "<b>" not in page and "summary &lt;x&gt;" in page
    assert page.count("</script>") == 2  # the data block and the code: the text cannot end one early
    parser = _Collect()
    parser.feed(page)
    assert "select" in parser.tags and "script" in parser.tags and "b" not in parser.tags
    assert "".join(parser.shown).replace("↵\n", "\n") == text  # every character, escaped and back
    labels = {row["label"] for row in a.top}
    assert labels and all(any(o.startswith(lab + " ") or o == lab for o in parser.options) for lab in labels)
    data = page.split('<script id="data" type="application/json">')[1].split("</script>")[0]
    series = json.loads(data)["series"]
    assert all(len(s["values"]) == len(text) for s in series)
    assert page.count("<span") >= len(text)


def test_terminal_heat_map_shows_every_character_and_colours_by_sign():
    from charrnn.interpret.render import heat_text

    t = heat_text("a\tb\nc", np.array([1.0, 0.0, -1.0, 0.5, 0.0]), 1.0)
    assert t.plain == "a⇥   b↵\nc"
    styles = [str(span.style) for span in t.spans]
    assert "#000000 on #ff0000" in styles and "#000000 on #0000ff" in styles


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
    return CliRunner().invoke(app, ["inspect-cells", *map(str, args)])


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
    row = report["top_units"][0]
    u = int(np.flatnonzero((d["units"] == [row["layer"], KINDS.index(row["kind"]), row["index"]]).all(axis=1))[0])
    assert d["r"][u, list(d["probes"]).index(row["probe"])] == pytest.approx(row["r"], abs=1e-5)
    assert "<select" in page.read_text(encoding="utf-8")


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


# ------------------------------------------------------------------------- QA fixes
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
    page = html_page(family, [{"label": "u", "values": np.zeros(5)}], [], "s")
    assert family in page.replace("</span><span>", "") and "U+200D" not in page
    from charrnn.interpret.render import heat_text

    assert heat_text(family, np.zeros(5), 1.0).plain == family


def test_read_known_text_reads_only_what_it_needs(tmp_path, monkeypatch):
    from charrnn import corpus as corpus_mod
    from charrnn.errors import CorpusError
    from charrnn.interpret.text import read_known_text
    from charrnn.vocab import Vocab

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
