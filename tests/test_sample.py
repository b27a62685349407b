"""Sampling: distributions, determinism, greedy limit, primes, streaming and the `sample` command."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from helpers import TEXT, assert_clean_error, ck, invoke, make_checkpoint  # noqa: F401 (ck: a fixture)

from charrnn.tasks import lm as model
from charrnn.use import sample
from charrnn.config import ModelConfig
from charrnn.errors import UsageError
from charrnn.engine.trained import load_trained
from charrnn.data.vocab import Vocab
from reference import model_step


def run(*args):
    return invoke("sample", *args)


def spread_params(cfg, seed=0, scale=1.5):
    """Random float64 weights large enough that the logits are well apart (no near-ties)."""
    rng = np.random.default_rng(seed)
    return {k: rng.normal(0, scale, v.shape) for k, v in model.init_params(cfg, rng).items()}


@pytest.fixture
def lm():
    vocab = Vocab("abcdefgh \n")
    cfg = ModelConfig(cell="lstm", vocab_size=vocab.size, hidden=12, layers=2, dtype="float64")
    return spread_params(cfg), cfg, vocab


def constant_model(logits, cell="gru"):
    """A model whose next-character logits are always `logits` (Wy = 0, by = logits)."""
    vocab = Vocab("abcdefgh"[: len(logits)])
    cfg = ModelConfig(cell=cell, vocab_size=vocab.size, hidden=4, layers=1, dtype="float64")
    params = model.init_params(cfg, np.random.default_rng(0))
    params = {k: v.astype(np.float64) for k, v in params.items()}
    params["Wy"][:] = 0
    params["by"][:] = logits
    return params, cfg, vocab


# ------------------------------------------------------------------------------ distribution
def test_distribution_top_k_top_p_and_greedy():
    z = np.array([2.0, 1.0, 0.5, 3.0, -1.0, 0.0])
    full = sample.distribution(z, 1.0)
    assert np.all(full > 0) and full.sum() == pytest.approx(1.0)
    k2 = sample.distribution(z, 1.0, top_k=2)
    assert set(np.flatnonzero(k2)) == {0, 3} and k2.sum() == pytest.approx(1.0)
    assert k2[3] / k2[0] == pytest.approx(np.exp(1.0))  # relative odds of the kept ones unchanged
    assert np.array_equal(sample.distribution(z, 1.0, top_k=1), np.eye(6)[3])
    assert np.allclose(sample.distribution(z, 1.0, top_k=99), full)
    order = np.argsort(-full)
    for p in (0.3, 0.6, 0.9, 0.99):
        q = sample.distribution(z, 1.0, top_p=p)
        kept = np.flatnonzero(q)
        n = int(np.searchsorted(np.cumsum(full[order]), p)) + 1  # smallest prefix with mass >= p
        assert set(kept) == set(order[:n]) and q.sum() == pytest.approx(1.0)
    assert np.allclose(sample.distribution(z, 1.0, top_p=1.0), full)
    assert np.array_equal(sample.distribution(z, 0), np.eye(6)[3])
    both = sample.distribution(z, 0.5, top_k=3, top_p=0.5)
    assert set(np.flatnonzero(both)) <= {0, 3, 1}


def test_draw_follows_probabilities_and_never_picks_zero():
    p = np.array([0.1, 0.0, 0.6, 0.3, 0.0])
    rng = np.random.default_rng(0)
    got = np.bincount([sample.draw(p, rng) for _ in range(20000)], minlength=5) / 20000
    assert got[1] == 0 and got[4] == 0
    assert np.allclose(got, p, atol=0.015)


@pytest.mark.parametrize("kw", [{}, {"top_k": 3}, {"top_p": 0.8}])
def test_generated_characters_follow_the_distribution(kw):
    logits = np.array([1.0, 0.2, -0.5, 2.0, 0.0, -2.0])
    params, cfg, vocab = constant_model(logits)
    text = "".join(sample.generate(params, cfg, vocab, 12000, temperature=0.7, rng=np.random.default_rng(1), **kw))
    freq = np.bincount(vocab.encode(text), minlength=6) / len(text)
    want = sample.distribution(logits, 0.7, **kw)
    assert np.all(freq[want == 0] == 0)  # top-k / top-p restrict the support
    assert np.allclose(freq, want, atol=0.02)


# ------------------------------------------------------------------------------ generate
def reference(params, cfg, vocab, length, temperature, rng, prime="\n", top_k=None):
    """The sampler written plainly on the one-step reference (the spec of generate, not its fast path)."""
    state = model.init_state(cfg, 1)
    ids = vocab.encode(prime).tolist()
    for i in ids[:-1]:
        _, state = model_step(params, cfg, np.array([i]), state)
    cur, out = ids[-1], []
    noise = rng.gumbel(size=(((length + 255) // 256) * 256, vocab.size)) * temperature
    us = rng.random(((length + 255) // 256) * 256) if top_k else None
    for t in range(length):
        logits, state = model_step(params, cfg, np.array([cur]), state)
        if temperature == 0:
            cur = int(np.argmax(logits[0]))
        elif top_k:
            p = sample.distribution(logits[0], temperature, top_k=top_k)
            cum = np.cumsum(p)
            cur = int(min(np.searchsorted(cum, us[t] * cum[-1], side="right"), len(p) - 1))
        else:
            cur = int(np.argmax(logits[0] + noise[t]))
        out.append(vocab.chars[cur])
    return "".join(out)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("temperature,top_k", [(0.8, None), (0, None), (1.3, 4)])
def test_generate_matches_plain_loop_on_the_reference_step(cell, temperature, top_k):
    vocab = Vocab("abcdefgh \n")
    cfg = ModelConfig(cell=cell, vocab_size=vocab.size, hidden=10, layers=2, dtype="float64")
    params = spread_params(cfg, seed=3)
    got = "".join(sample.generate(params, cfg, vocab, 300, temperature, top_k=top_k, prime="ab c",
                                  rng=np.random.default_rng(5)))
    if top_k:  # the filtered path draws uniforms only
        want = reference(params, cfg, vocab, 300, temperature, _UniformsOnly(5), "ab c", top_k)
    else:
        want = reference(params, cfg, vocab, 300, temperature, np.random.default_rng(5), "ab c")
    assert got == want


class _UniformsOnly:
    """A generator whose gumbel() draws nothing, so that random() sees the stream generate sees."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def gumbel(self, size):
        return np.zeros(size)

    def random(self, n):
        return self.rng.random(n)


def test_same_seed_same_text_and_prefix_property(lm):
    params, cfg, vocab = lm
    a = "".join(sample.generate(params, cfg, vocab, 400, 1.0, rng=np.random.default_rng(7)))
    b = "".join(sample.generate(params, cfg, vocab, 400, 1.0, rng=np.random.default_rng(7)))
    c = "".join(sample.generate(params, cfg, vocab, 400, 1.0, rng=np.random.default_rng(8)))
    short = "".join(sample.generate(params, cfg, vocab, 37, 1.0, rng=np.random.default_rng(7)))
    assert a == b and a != c and len(a) == 400
    assert a.startswith(short)


def test_tiny_temperature_equals_greedy(lm):
    params, cfg, vocab = lm
    greedy = "".join(sample.generate(params, cfg, vocab, 200, 0, prime="abc"))
    for t in (1e-6, 1e-9):
        tiny = "".join(sample.generate(params, cfg, vocab, 200, t, prime="abc", rng=np.random.default_rng(1)))
        assert tiny == greedy
    assert "".join(sample.generate(params, cfg, vocab, 200, 1.0, prime="abc", rng=np.random.default_rng(1))) != greedy


def test_float32_checkpoint_samples(tmp_path):
    t = load_trained(make_checkpoint(tmp_path / "c.npz", cell="gru"))
    text = "".join(sample.generate(t.params, t.cfg, t.vocab, 100, 0.9, top_p=0.9, rng=np.random.default_rng(0)))
    assert len(text) == 100 and not t.vocab.unknown(text)


def test_start_char_newline_else_most_frequent_else_first():
    assert sample.start_char(Vocab("ab\n")) == "\n"
    assert sample.start_char(Vocab("abc"), counts=[1, 9, 3]) == "b"
    assert sample.start_char(Vocab("abc")) == "a"
    assert sample.start_char(Vocab("abc"), counts=[1, 2]) == "a"  # counts that do not fit are ignored


def test_options_are_checked():
    for kw, name in [({"temperature": -0.1}, "--temp"), ({"temperature": float("nan")}, "--temp"),
                     ({"top_k": 0}, "--top-k"), ({"top_p": 0.0}, "--top-p"), ({"top_p": 1.5}, "--top-p"),
                     ({"length": -1}, "--length"), ({"num_samples": 0}, "--num-samples")]:
        with pytest.raises(UsageError, match=name):
            sample.check_options(**kw)


def test_clean_prime_lists_or_skips_unknown_characters():
    vocab = Vocab("abc \n")
    assert sample.clean_prime(vocab, "ab c") == "ab c"
    with pytest.raises(UsageError) as e:
        sample.clean_prime(vocab, "abxé€x")
    assert "3 character(s)" in e.value.message and "'x'" in e.value.message and "U+20AC" in e.value.message
    assert "--skip-unknown" in e.value.hint
    warnings = []
    assert sample.clean_prime(vocab, "axb", skip_unknown=True, warn=warnings.append) == "ab"
    assert len(warnings) == 1 and "'x'" in warnings[0]


def test_stream_flushes_lines_and_blocks_while_generating():
    events = []

    def chars():
        for ch in "line one\n" + "x" * 150 + "\nend":
            events.append(("gen", ch))
            yield ch

    last = sample.stream(chars(), lambda s: events.append(("write", s)), lambda: events.append(("flush",)))
    writes = [e[1] for e in events if e[0] == "write"]
    assert last == "d" and "".join(writes) == "line one\n" + "x" * 150 + "\nend"
    assert writes[0] == "line one\n" and max(map(len, writes)) <= 64
    first_flush = events.index(("flush",))
    assert first_flush < len(events) - 10  # output appears before generation has finished
    assert all(events[events.index(("write", w)) + 1] == ("flush",) for w in writes)


# ------------------------------------------------------------------------------ CLI
def test_default_checkpoint_discovery(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("--length", "5")
    assert r.exit_code == 1 and "no checkpoint found" in r.stderr and "charrnn train" in r.stderr
    assert r.stdout == ""
    make_checkpoint(tmp_path / "checkpoints" / "latest.npz", text="aaaa")  # only 'a': it can only say 'a'
    r = run("--length", "5", "--seed", "1")
    assert r.exit_code == 0 and r.stdout == "aaaaa\n"
    make_checkpoint(tmp_path / "checkpoints" / "best.npz", text="bbbb")  # best wins over latest
    assert run("--length", "5", "--seed", "1").stdout == "bbbbb\n"
    assert run(tmp_path / "checkpoints" / "latest.npz", "--length", "3", "--seed", "1").stdout == "aaa\n"
    assert run(tmp_path / "checkpoints", "--length", "3", "--seed", "1").stdout == "bbb\n"


def test_cli_output_is_prime_plus_text_and_deterministic(tmp_path):
    ck = make_checkpoint(tmp_path / "c.npz")
    a = run(ck, "--length", "200", "--seed", "3", "--prime", "def ", "--temp", "0.7")
    b = run(ck, "--length", "200", "--seed", "3", "--prime", "def ", "--temp", "0.7")
    assert a.exit_code == 0 and a.stdout == b.stdout and a.stderr == ""
    assert a.stdout.startswith("def ") and a.stdout.endswith("\n")
    assert len(a.stdout) == 204 + (a.stdout[203] != "\n")  # a line break is added only when missing
    c = run(ck, "--length", "200", "--seed", "4", "--prime", "def ", "--temp", "0.7")
    assert c.stdout != a.stdout
    r = run(ck, "--length", "50")  # no seed: a fresh one, reported on stderr
    assert r.exit_code == 0 and "--seed" in r.stderr
    assert len(r.stdout) == 50 + (r.stdout[49] != "\n")  # the text may itself end with a line break
    seed = r.stderr.split()[1]
    assert run(ck, "--length", "50", "--seed", seed).stdout == r.stdout


def test_cli_num_samples_separated(tmp_path):
    ck = make_checkpoint(tmp_path / "c.npz")
    r = run(ck, "--length", "30", "--seed", "0", "--num-samples", "3", "--prime", "x")
    assert r.exit_code == 0
    parts = r.stdout.split("\n--- sample ")
    assert r.stdout.startswith("--- sample 1/3 ---\nx") and len(parts) == 3
    assert parts[1].startswith("2/3 ---\nx") and parts[2].startswith("3/3 ---\nx")
    assert len(set(parts)) == 3


def test_cli_unknown_prime_characters(tmp_path):
    ck = make_checkpoint(tmp_path / "c.npz")
    r = run(ck, "--prime", "dé€f", "--seed", "0")
    assert r.exit_code == 2 and "é" in r.stderr and "U+20AC" in r.stderr and r.stdout == ""
    r = run(ck, "--prime", "dé€f", "--seed", "0", "--length", "10", "--skip-unknown")
    assert r.exit_code == 0 and r.stdout.startswith("df") and len(r.stdout.rstrip("\n")) == 12
    assert "warning: skipped 2 prime character(s)" in r.stderr


@pytest.mark.parametrize("args,name", [(["--temp", "-1"], "--temp"), (["--top-k", "0"], "--top-k"),
                                       (["--top-p", "0"], "--top-p"), (["--top-p", "1.01"], "--top-p"),
                                       (["--length", "-5"], "--length"), (["--num-samples", "0"], "--num-samples")])
def test_cli_bad_options_exit_2_naming_the_option(tmp_path, args, name):
    r = run(make_checkpoint(tmp_path / "c.npz"), *args)
    assert r.exit_code == 2 and name in r.stderr and r.stdout == ""
    assert "Traceback" not in r.stderr


def test_cli_start_char_from_counts(tmp_path):
    """No newline in the vocabulary: the most frequent character (meta char_counts) starts the sample."""
    text = "abcabcaaa"
    counts = [5, 2, 2]
    ck = make_checkpoint(tmp_path / "c.npz", text=text, char_counts=counts)
    t = load_trained(ck)
    want = "".join(sample.generate(t.params, t.cfg, t.vocab, 40, 0, prime="a"))
    assert run(ck, "--length", "40", "--temp", "0").stdout.rstrip("\n") == want
    ck2 = make_checkpoint(tmp_path / "d.npz", text=text, char_counts=[1, 9, 2])
    t2 = load_trained(ck2)
    want2 = "".join(sample.generate(t2.params, t2.cfg, t2.vocab, 40, 0, prime="b"))
    assert run(ck2, "--length", "40", "--temp", "0").stdout.rstrip("\n") == want2 != want


def test_cli_streams_before_generation_ends(tmp_path):
    """A real process: the first line arrives long before ten million characters could be generated."""
    import os
    import subprocess
    import sys
    import time

    ck = make_checkpoint(tmp_path / "c.npz")
    env = {**os.environ, "PYTHONUNBUFFERED": "0"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "charrnn", "sample", str(ck), "--length", "10000000",
                             "--seed", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        first = proc.stdout.read(64)
        assert len(first) == 64 and time.perf_counter() - t0 < 20
        assert proc.poll() is None  # still generating
    finally:
        proc.kill()
        proc.wait()


# ----------------------------------------------------------------- the command's checks
def test_sample_rejects_a_negative_seed_and_absurd_temperatures(ck):
    assert_clean_error(invoke("sample", ck, "--seed", "-1"), 2, "invalid value for --seed: -1")
    assert_clean_error(invoke("sample", ck, "--temp", "1e308"), 2, "--temp", "at most 100")
    r = invoke("sample", ck, "--temp", "100", "--length", "5", "--seed", "1")
    assert r.exit_code == 0 and len(r.stdout.rstrip("\n")) == 5 and "Warning" not in r.stderr


def test_greedy_sample_prints_no_seed_line(ck):
    r = invoke("sample", ck, "--temp", "0", "--length", "5")
    assert r.exit_code == 0 and "seed" not in r.stderr and len(r.stdout.rstrip("\n")) == 5
    r = invoke("sample", ck, "--length", "5")
    assert r.exit_code == 0 and "pass --seed" in r.stderr


def test_a_tiny_temperature_with_top_k_is_the_greedy_limit_without_warnings(ck):
    greedy = invoke("sample", ck, "--temp", "0", "--length", "20").stdout
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning (overflow, inf - inf) fails the test
        for opts in (["--top-k", "3"], ["--top-p", "0.5"], []):
            r = invoke("sample", ck, "--temp", "1e-320", "--length", "20", "--seed", "1", *opts)
            assert r.exit_code == 0 and r.stdout == greedy and "Warning" not in r.stderr, (opts, r.output)


def test_unknown_characters_are_quoted_once(ck, tmp_path):
    r = invoke("sample", ck, "--prime", "a\tb\r")
    assert_clean_error(r, 2, "'\\t' (U+0009), '\\r' (U+000D)")
    assert "\\\\" not in r.stderr
    f = tmp_path / "tab.txt"
    f.write_text(TEXT + "\t\n", encoding="utf-8")
    r = invoke("evaluate", ck, f)
    assert r.exit_code == 0 and "'\\t' (U+0009)" in r.stderr and "\\\\" not in r.stderr
    r = invoke("evaluate", ck, f, "--strict")
    assert r.exit_code == 1 and "'\\t' (U+0009)" in r.stderr and "\\\\" not in r.stderr


def test_numpy_is_quiet_about_huge_logits():
    from charrnn.use.sample import distribution

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = distribution(np.array([1e308, -1e308, 0.0]), 1e-300, top_k=2)
    assert np.array_equal(p, [1.0, 0.0, 0.0])


def test_the_log_sample_at_a_large_vocabulary_draws_a_bounded_noise_block(monkeypatch):
    """Issue 27, item 9: at H = 16 and V = 20,000 the estimate was 122 MB against 181 MB measured;
    the missing part was the sampler's noise block (256 rows of V float64 and their float32 copy,
    61 MB). Now the block is bounded (2 MB), the same draws come out, and est. memory counts it
    (measured once, docs/BENCHMARKS.md: 310 MiB estimated, 310 MiB peak RSS)."""
    from charrnn.data.vocab import Vocab
    from charrnn.use import sample as sample_mod

    vocab = Vocab("".join(chr(0x4E00 + i) for i in range(20_000)))
    cfg = ModelConfig(cell="lstm", vocab_size=vocab.size, hidden=16, layers=2)
    params = model.init_params(cfg, np.random.default_rng(0))
    tracemalloc.start()
    got = "".join(sample_mod.generate(params, cfg, vocab, 60, temperature=0.8, rng=np.random.default_rng(3)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows = sample_mod.noise_rows(vocab.size)
    assert rows == 13 and peak < 16 << 20, peak  # before: 256 rows, 61 MB of noise at once
    assert model.estimate_memory(cfg, 50, 50) >= 4 * (7 * model.n_params(cfg) + 2500 * vocab.size) + rows * vocab.size * 12
    monkeypatch.setattr(sample_mod, "NOISE_FLOATS", 1 << 40)  # one block of 256 rows, as before
    assert "".join(sample_mod.generate(params, cfg, vocab, 60, temperature=0.8, rng=np.random.default_rng(3))) == got
