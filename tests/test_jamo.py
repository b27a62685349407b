"""--tokens jamo: Hangul syllables read as conjoining jamo (charrnn/data/tokens.py), the sampler's
syllable grammar, losses per original character, and what every command does with it."""

from __future__ import annotations

import json
import math
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from charrnn import __version__
from charrnn.cli import app
from charrnn.config import ModelConfig, TrainConfig
from charrnn.data import tokens as tok
from charrnn.data.corpus import Streams, load_corpus
from charrnn.data.vocab import Vocab
from charrnn.engine.checkpoint import load_checkpoint, save_checkpoint
from charrnn.engine.trained import load_trained
from charrnn.tasks import lm as model
from charrnn.use import evaluate
from charrnn.use.evaluate_file import evaluate_file
from charrnn.use.sample import _draws, distribution, generate

KO = ("대화 상자 편집기에서 콘트롤의 속성 변경\n대화 상자에 추가하는 콘트롤의 속성을 설정할 수 있습니다. "
      "예를 들어, 추가한 버튼의 색상, 이름 및 크기를 변경할 수 있습니다. Basic 매크로를 실행합니다.\n"
      "값은 3.5입니다! ㅋㅋ 끝?\n")

# Text drawn from every range that matters: syllables (all three corners and random ones),
# conjoining jamo as such (modern and archaic), compatibility jamo, the escape characters, others.
_ALPHABET = st.one_of(
    st.integers(tok.SBASE, tok.SBASE + tok.SCOUNT - 1).map(chr),
    st.integers(0x1100, 0x11FF).map(chr),
    st.integers(0x3131, 0x318E).map(chr),
    st.sampled_from(["\ue000", "\ue001", "가", "각", "힣", " ", "\n", "a", "é", "e\u0301", "😀"]),
    st.characters(blacklist_categories=("Cs",)),
)
TEXTS = st.lists(_ALPHABET, max_size=40).map("".join)


def cli(*args):
    return CliRunner().invoke(app, list(map(str, args)))


# ------------------------------------------------------------------------------- tokens.py
def test_syllables_decompose_as_unicode_does_and_nothing_else_changes():
    assert tok.decompose("한국어") == "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165"
    syllables = "".join(map(chr, range(tok.SBASE, tok.SBASE + tok.SCOUNT, 37)))
    assert tok.decompose(syllables) == unicodedata.normalize("NFD", syllables)
    assert tok.decompose("café ㅋㅋ ㄱ") == "café ㅋㅋ ㄱ"  # no general NFD; compatibility jamo stay
    assert tok.decompose("\u1100\u1161") == "\ue000\u1100\ue000\u1161"  # input jamo escaped ...
    assert tok.recompose("\ue000\u1100\ue000\u1161") == "\u1100\u1161"  # ... and never merged into 가
    assert tok.recompose(tok.decompose("\ue000")) == "\ue000"


@settings(max_examples=150, deadline=None)
@given(TEXTS)
def test_decompose_then_recompose_is_the_identity(text):
    tokens = tok.decompose(text)
    assert tok.recompose(tokens) == text
    points = np.array([ord(c) for c in text], dtype=np.uint32)
    assert "".join(map(chr, tok.decompose_points(points))) == tokens  # the vectorised corpus path agrees
    assert int(tok.char_weights(np.array([ord(c) for c in tokens])).sum()) == len(text)
    r, out = tok.Recomposer(), []  # streaming: one token at a time, at most one syllable held back
    for t in tokens:
        out.append(r.feed(t))
        assert len(r.pending) <= 2
    assert "".join(out) + r.flush() == text


@settings(max_examples=50, deadline=None)
@given(TEXTS)
def test_a_jamo_vocabulary_reads_and_writes_text(text):
    v = Vocab.from_text(text + "x", "jamo")
    assert v.decode(v.encode(text)) == text
    leads = [chr(c) for c in range(0x1100, 0x1113) if chr(c) not in v] or ["\u1100"]
    if leads[0] in v:
        return
    syl = tok.compose(leads[0], "\u1161")  # a syllable whose leading consonant is unknown: dropped whole
    k = v.known(text + syl)
    assert v.decode(k.ids) == text and (k.dropped, k.unknown) == (1, [syl])


# -------------------------------------------------------------------------------- grammar
def _jamo_model(text=KO, hidden=16, seed=0, scale=3.0):
    """A random jamo model whose logits are far from uniform (so an unmasked sampler errs often)."""
    vocab = Vocab.from_text(text, "jamo")
    cfg = ModelConfig(vocab_size=vocab.size, hidden=hidden, layers=1, dtype="float64", tokens="jamo")
    params = model.init_params(cfg, np.random.default_rng(seed))
    params["Wy"] *= scale
    return vocab, cfg, params


@pytest.mark.parametrize("how", [dict(temperature=1.0), dict(temperature=1.5, top_k=5),
                                 dict(temperature=0.9, top_p=0.8), dict(temperature=0)])
def test_the_grammar_mask_never_lets_an_invalid_jamo_sequence_through(how):
    vocab, cfg, params = _jamo_model()
    rule = tok.Grammar(vocab.chars)
    for prime in ("", "대화", "속성을 설정할"):
        draws = _draws(params, cfg, vocab, 600, how.get("temperature"), how.get("top_k"), how.get("top_p"),
                       prime, np.random.default_rng(1), None, rule)
        tokens = "".join(draws)
        assert tok.valid_sequence(tokens.rstrip("".join(c for c in vocab.chars if tok.kind(ord(c)) == tok.LEAD)))
        if prime:  # the prime's last syllable is complete: no trailing consonant right after it
            assert tok.kind(ord(tokens[0])) not in (tok.VOWEL, tok.TRAIL)
    unmasked = "".join(_draws(params, cfg, vocab, 600, 1.0, None, None, "", np.random.default_rng(1), None, None))
    assert not tok.valid_sequence(unmasked)  # the test would catch a mask that did nothing


def test_sampled_text_is_composed_hangul_of_the_asked_length():
    vocab, cfg, params = _jamo_model()
    for seed in range(3):
        text = "".join(generate(params, cfg, vocab, 300, rng=np.random.default_rng(seed), prime="대화"))
        syl, stray = tok.syllable_counts(text)
        assert len(text) == 300 and syl > 50 and stray == 0
    raw = "".join(generate(params, cfg, vocab, 300, rng=np.random.default_rng(0), grammar=False))
    assert tok.syllable_counts(raw)[1] > 0  # without the grammar, stray jamo come out
    first = "".join(generate(params, cfg, vocab, 40, rng=np.random.default_rng(5)))
    assert "".join(generate(params, cfg, vocab, 120, rng=np.random.default_rng(5))).startswith(first)


def test_the_mask_renormalises_the_models_distribution():
    vocab, cfg, params = _jamo_model()
    rule = tok.Grammar(vocab.chars)
    z = np.random.default_rng(0).normal(size=vocab.size) * 3
    for state in (tok.OTHER, tok.LEAD, tok.VOWEL):
        allowed = rule.allowed[state]
        p = distribution(z + rule.add[state], 0.7)
        want = np.where(allowed, np.exp(z / 0.7), 0.0)
        assert p == pytest.approx(want / want.sum(), rel=1e-9, abs=1e-15)
        k = distribution(z + rule.add[state], 1.0, top_k=3)  # top-k among the allowed tokens
        assert (k > 0).sum() == min(3, allowed.sum()) and not k[~allowed].any()
    assert rule.allowed[tok.LEAD].sum() == sum(tok.kind(ord(c)) == tok.VOWEL for c in vocab.chars)


# --------------------------------------------------------------------- losses per character
def _jamo_checkpoint(path, text=KO, **meta_model):
    vocab, cfg, params = _jamo_model(text, hidden=8, scale=1.0)
    cfg_d = {**cfg.to_dict(), **meta_model}
    info = {"model": cfg_d, "train": TrainConfig().to_dict(), "vocab": vocab.to_list(), "step": 0, "epoch": 0,
            "chunk": 0, "val_loss": None, "best_val_loss": None, "history": [], "corpus": None,
            "rng": np.random.default_rng(0).bit_generator.state, "charrnn_version": __version__}
    save_checkpoint(path, {f"param/{k}": v for k, v in params.items()}, info)
    return path


def test_loss_per_original_character_is_the_sum_of_its_jamo_losses(tmp_path):
    t = load_trained(_jamo_checkpoint(tmp_path / "j.npz"))
    text = KO * 3
    r = evaluate.evaluate_text(t, text)
    ids = t.vocab.encode(text).astype(np.intp)
    logits = []  # every token's loss, from the model's own forward pass
    state = model.init_state(t.cfg, 1)
    for i in range(len(ids) - 1):
        s, _, state = model.loss_sum(t.params, t.cfg, ids[None, i:i + 1], ids[None, i + 1:i + 2], state)
        logits.append(s)
    per_token = np.array(logits)
    char_of = np.cumsum(t.vocab.char_weights(ids)) - 1
    per_char = np.bincount(char_of[1:], weights=per_token)  # a character's loss: the sum of its jamo's
    assert r.tokens == "jamo" and r.token_count == len(ids) - 1 and r.chars == len(text) - 1
    assert r.total_nats == pytest.approx(per_char.sum(), rel=1e-10)
    assert r.nats_per_char == pytest.approx(per_char.sum() / (len(text) - 1), rel=1e-10)
    assert r.nats_per_token == pytest.approx(per_token.mean(), rel=1e-10)
    assert r.nats_per_char > 1.3 * r.nats_per_token  # Hangul-heavy text: ~1.6 tokens per character
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    for streams in (1, 3):  # the file path and parallel streams count characters the same way
        a, b = evaluate.evaluate_text(t, text, streams=streams), evaluate_file(t, tmp_path / "t.txt", streams=streams)
        assert (a.chars, a.token_count) == (b.chars, b.token_count) and a.total_nats == pytest.approx(b.total_nats)
    vs = Streams(ids, 3, 7, weights=t.vocab.char_weights(ids))  # validation's count agrees with chars_in
    assert vs.eval_chars() == sum(t.vocab.chars_in(x, y) for x, y in vs.eval_chunks())


def test_old_checkpoints_without_tokens_load_as_chars(tmp_path):
    from helpers import make_checkpoint

    path = make_checkpoint(tmp_path / "old.npz")
    arrays, meta = load_checkpoint(path)
    del meta["model"]["tokens"]
    save_checkpoint(path, arrays, {k: v for k, v in meta.items() if k not in ("format", "format_version")})
    t = load_trained(path)
    assert t.cfg.tokens == "chars" and t.vocab.tokens == "chars"
    assert json.loads(cli("info", path, "--json").stdout)["tokens"] == "chars"


# ---------------------------------------------------------------------------- commands
def test_every_command_reads_the_tokenization(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "ko.txt"
    corpus.write_text(KO * 8, encoding="utf-8")
    out = tmp_path / "run"
    r = cli("train", corpus, "--tokens", "jamo", "--max-steps", 6, "--batch", 4, "--seq-len", 16, "--hidden", 16,
            "--layers", 1, "--eval-every", 3, "--out", out, "--threads", 1, "--sample-len", 0)
    assert r.exit_code == 0, r.output
    assert "nats/token = " in r.stderr
    assert load_corpus(corpus, tokens="jamo").vocab.tokens == "jamo"
    ckpt = out / "latest.npz"
    info = json.loads(cli("info", ckpt, "--json").stdout)
    assert info["tokens"] == "jamo" and all(not ("\uac00" <= c <= "\ud7a3") for c in info["vocab"])
    s = cli("sample", ckpt, "--prime", "대화 상자", "--length", 80, "--seed", 1)
    assert s.exit_code == 0 and s.stdout.startswith("대화 상자") and tok.syllable_counts(s.stdout)[1] == 0
    e = json.loads(cli("evaluate", ckpt, corpus, "--json").stdout)
    assert e["tokens"] == "jamo" and e["chars"] == len(KO * 8) - 1 and e["token_count"] > e["chars"]
    assert e["nats_per_char"] == pytest.approx(e["total_nats"] / e["chars"])
    history = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert history["val_char_loss"] > history["val_loss"]
    c = json.loads(cli("compare", out, "--json").stdout)["runs"][0]
    assert c["best_val"] == pytest.approx(min(p["val_loss"] for p in c["curve"]))
    assert c["curve"][-1]["val_loss"] == pytest.approx(history["val_char_loss"])
    # a different --tokens on resume, and jamo with seq2seq: one-line errors, exit 2
    bad = cli("train", corpus, "--resume", ckpt, "--tokens", "chars", "--max-steps", 8)
    assert bad.exit_code == 2 and "--tokens chars does not match jamo" in bad.stderr
    pairs = tmp_path / "p.tsv"
    pairs.write_text("a\tb\n" * 20, encoding="utf-8")
    s2s = cli("train", pairs, "--task", "seq2seq", "--tokens", "jamo", "--max-steps", 1)
    assert s2s.exit_code == 2 and "--tokens jamo" in s2s.stderr and "Traceback" not in s2s.output


# --------------------------------------------------------------------------- README.ko.md
def test_readme_ko_mentions_only_commands_and_options_that_exist():
    import re
    import shlex
    from pathlib import Path

    import typer

    root = Path(__file__).resolve().parent.parent
    ko = (root / "README.ko.md").read_text(encoding="utf-8")
    assert "README.ko.md" in (root / "README.md").read_text(encoding="utf-8").split("\n## ")[0]  # linked at the top
    group = typer.main.get_command(app)
    flags = {name: {o for p in cmd.params for o in p.opts + p.secondary_opts} for name, cmd in group.commands.items()}
    every = set().union(*flags.values()) | {"--help"}
    lines = [m.group(1) for m in re.finditer(r"^(charrnn [^\n#]*)", ko, re.M)]  # code blocks
    lines += re.findall(r"`(charrnn [^`]*)`", ko)  # inline
    assert len(lines) >= 12
    for line in lines:
        words = shlex.split(line)
        if words[1] == "COMMAND":
            continue
        assert words[1] in flags, line
        for w in words[2:]:
            if w.startswith("--"):
                assert w.split("=")[0] in flags[words[1]], (w, line)
    for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", ko):
        assert flag in every, flag
    targets = set(re.findall(r"^([a-z][\w-]*):", (root / "Makefile").read_text(), re.M))
    for target in re.findall(r"`make ([\w-]+)`|^make ([\w-]+)", ko, re.M):
        assert (target[0] or target[1]) in targets, target


def test_cells_page_shows_composed_text_with_a_band_per_jamo(page, tmp_path):
    from browser import open_page

    from charrnn.interpret.analysis import analyse
    from charrnn.interpret.page import cells_page

    t = load_trained(_jamo_checkpoint(tmp_path / "j.npz"))
    a = analyse(t, KO, ["jamo_vowel", "word_position", "in_latin", "sentence_end"], top=2)
    assert len(a.text) == len(t.vocab.encode(KO)) and a.chars == KO and a.signals["word_position"].shape == (len(a.text),)
    path = tmp_path / "cells.html"
    path.write_text(cells_page(a, "jamo page", title="j.npz", vocab=t.vocab.chars), encoding="utf-8")
    open_page(page, path, wait_for="body[data-ready]")
    spans = page.locator("#text span")
    assert spans.count() == len(KO)  # one box per composed character
    assert page.locator("#text").inner_text().replace("\u21b5", "") == KO
    han = spans.nth(KO.index("한"))  # ᄒ ᅡ ᆫ: three bands
    assert han.evaluate("s => s.style.background").count("rgb(") == 6
    han.scroll_into_view_if_needed()
    box = han.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    assert '"ᆫ" (jamo 3 of 3 in "한"' in page.locator("#info").inner_text()
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] / 2)
    assert '"ᄒ" (jamo 1 of 3 in "한"' in page.locator("#info").inner_text()
