"""inspect-memory: the cells' per-state gradients against central differences, the known answers of
issue 14 (w^k, a saturated forget gate, a one-character model, context >= position), batched
context usage against a per-target loop, and the command's outputs and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import TEXT, make_checkpoint, numeric_grad, rel_error, invoke as cli

from charrnn.tasks import lm as model
from charrnn.nn.cells import CELLS
from charrnn.config import ModelConfig
from charrnn.interpret import memory

B, T, D, H = 2, 6, 4, 5  # all different, so a transposed shape cannot pass unnoticed


def make_layer(cell, rng, D=D):
    G = CELLS[cell].gates * H
    return {"Wx": rng.normal(0, 0.5, (D, G)), "Wh": rng.normal(0, 0.5, (H, G)), "b": rng.normal(0, 0.5, G)}


def make_state(cell, rng):
    return tuple(rng.normal(0, 0.5, (B, H)) for _ in range(CELLS[cell].n_state))


# ------------------------------------------------------------- per-state gradients of the cells
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_backward_exposes_the_total_gradient_of_every_intermediate_state(cell):
    """dstates[j][s] = dL/d(state component j after step s), checked by perturbing that state and
    running the rest of the chunk from it (so every later path counts)."""
    rng = np.random.default_rng(1)
    p, state0 = make_layer(cell, rng, D=D), make_state(cell, rng)
    x = rng.normal(size=(T, B, D))
    dhs = rng.normal(size=(T, B, H))  # loss = sum(hs * dhs) + sum(stateT * dstateT)
    dstateT = tuple(rng.normal(size=(B, H)) for _ in state0)
    fwd, bwd = CELLS[cell].forward, CELLS[cell].backward
    _, _, cache = fwd(p, x, state0)
    dstates = tuple(np.empty((T, B, H)) for _ in state0)
    bwd(dhs, dstateT, cache, dstates)
    for s in range(T):
        for j in range(len(state0)):
            _, mid, _ = fwd(p, x[:s + 1], state0)
            mid = [m.copy() for m in mid]

            def loss():
                head, _, c = fwd(p, x[:s + 1], state0)
                head, now = head.copy(), list(mid)
                if j == 1:  # c_s moves h_s = o_s tanh(c_s) too: that path counts
                    now[0] = CELLS[cell].trace(c)["o"][s] * np.tanh(mid[1])
                head[s] = now[0]  # h_s is also this step's output
                tail, sT = (fwd(p, x[s + 1:], tuple(now))[:2] if s + 1 < T else (np.zeros((0, B, H)), tuple(now)))
                hs = np.concatenate([head, tail])
                return np.sum(hs * dhs) + sum(np.sum(a * d) for a, d in zip(sT, dstateT))

            assert rel_error(numeric_grad(loss, mid[j]), dstates[j][s]) < 1e-6, (s, j)


def test_recording_changes_nothing_else():
    rng = np.random.default_rng(2)
    p, state0 = make_layer("lstm", rng, D=D), make_state("lstm", rng)
    x, dhs = rng.normal(size=(T, B, D)), rng.normal(size=(T, B, H))
    fwd, bwd = CELLS["lstm"].forward, CELLS["lstm"].backward
    plain = bwd(dhs, (0.0, 0.0), fwd(p, x, state0)[2])
    plain = (plain[0].copy(), [s.copy() for s in plain[1]], {k: v.copy() for k, v in plain[2].items()})
    rec = bwd(dhs, (0.0, 0.0), fwd(p, x, state0)[2], (np.empty((T, B, H)), np.empty((T, B, H))))
    assert np.array_equal(plain[0], rec[0]) and all(np.array_equal(a, b) for a, b in zip(plain[1], rec[1]))
    assert all(np.array_equal(plain[2][k], rec[2][k]) for k in plain[2])


# -------------------------------------------------------------------- model-level gradients
def tiny(cell, layers=2, hidden=3, V=5, seed=0, scale=0.8):
    cfg = ModelConfig(cell=cell, vocab_size=V, hidden=hidden, layers=layers, dtype="float64")
    rng = np.random.default_rng(seed)
    params = {k: rng.normal(0, scale, v.shape) for k, v in model.init_params(cfg, rng).items()}
    return cfg, params


def _loss_perturbed(params, cfg, x, target, layer, step, j, delta, onehot=False):
    """l_target after reading x (T,) from zeros with layer `layer`'s state component j after
    `step` moved by delta (B = 1); with onehot, delta moves the one-hot input of `step` instead."""
    cell = CELLS[cfg.cell]
    inp = np.eye(cfg.vocab_size)[x][:, None, :] if onehot else x[:, None]
    if onehot:
        inp = inp.copy()
        inp[step, 0] += delta
    state = model.init_state(cfg, 1)
    for k in range(cfg.layers):
        p = model.layer_params(params, k)
        if k != layer or onehot:
            inp = cell.forward(p, inp, state[k])[0].copy()
            continue
        head, mid, cache = cell.forward(p, inp[:step + 1], state[k])
        head, mid = head.copy(), [m.copy() for m in mid]
        mid[j] = mid[j] + delta
        if j == 1:  # c moves h = o tanh(c) too: that path counts
            mid[0] = cell.trace(cache)["o"][step] * np.tanh(mid[1])
        head[step] = mid[0]
        tail = cell.forward(p, inp[step + 1:], tuple(mid))[0].copy() if step + 1 < len(x) else head[:0]
        inp = np.concatenate([head, tail])
    return float(memory.nll_of(params, inp[-1], np.array([target]))[0])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_grad_h_and_grad_c_agree_with_central_differences(cell):
    cfg, params = tiny(cell)
    ids = np.random.default_rng(3).integers(0, cfg.vocab_size, 9)
    t, window = 8, 8  # the window x_0 .. x_7 from a zero state, target x_8
    out = memory.backward_reach(params, cfg, ids, np.array([t]), window, [model.init_state(cfg, 1)])
    comps = [("grad_h", 0)] + ([("grad_c", 1)] if cell == "lstm" else [])
    for name, j in comps:
        for layer in range(cfg.layers):
            for k in range(window):
                step = window - 1 - k
                g = np.zeros(cfg.hidden)
                for i in range(cfg.hidden):
                    e = np.zeros((1, cfg.hidden))
                    e[0, i] = memory_eps = 1e-5
                    g[i] = (_loss_perturbed(params, cfg, ids[:window], ids[t], layer, step, j, e)
                            - _loss_perturbed(params, cfg, ids[:window], ids[t], layer, step, j, -e)) / (2 * memory_eps)
                assert abs(np.linalg.norm(g) - out[name][0, layer, k]) <= 1e-6 * (1 + np.linalg.norm(g)), (name, layer, k)


def test_saliency_agrees_with_central_differences():
    cfg, params = tiny("lstm")
    ids = np.random.default_rng(4).integers(0, cfg.vocab_size, 7)
    out = memory.backward_reach(params, cfg, ids, np.array([6]), 6, [model.init_state(cfg, 1)], onehot=True)
    for k in range(6):
        step = 5 - k
        g = np.zeros(cfg.vocab_size)
        for v in range(cfg.vocab_size):
            e = np.zeros(cfg.vocab_size)
            e[v] = 1e-5
            g[v] = (_loss_perturbed(params, cfg, ids[:6], ids[6], 0, step, 0, e, onehot=True)
                    - _loss_perturbed(params, cfg, ids[:6], ids[6], 0, step, 0, -e, onehot=True)) / 2e-5
        assert abs(np.linalg.norm(g) - out["saliency"][0, k]) <= 1e-6 * (1 + np.linalg.norm(g))


# ----------------------------------------------------------------------------- known answers
def test_one_unit_rnn_in_its_linear_range_decays_like_w_to_the_k():
    w = 0.9
    cfg = ModelConfig(cell="rnn", vocab_size=2, hidden=1, layers=1, dtype="float64")
    params = {"l0.Wx": np.array([[1e-4], [-1e-4]]), "l0.Wh": np.array([[w]]), "l0.b": np.zeros(1),
              "Wy": np.array([[1.0, -1.0]]), "by": np.zeros(2)}
    ids = np.random.default_rng(5).integers(0, 2, 400)
    plan = memory.make_plan(len(ids), 4, 10, 40, 8)
    m = memory.measure(params, cfg, ids, plan)
    ratio = m.grad_h_median[0]
    k = np.arange(41)
    assert np.allclose(ratio, w ** k, rtol=1e-3)
    assert m.gradient_horizon[0] == 40  # 0.9^40 = 0.015 >= 1e-3
    assert not np.allclose(ratio, 0.8 ** k, rtol=1e-1)


def test_lstm_with_forget_gate_at_one_and_input_gate_at_zero_keeps_the_c_path_at_one():
    cfg = ModelConfig(cell="lstm", vocab_size=4, hidden=3, layers=1, dtype="float64")
    rng = np.random.default_rng(6)
    params = {k: rng.normal(0, 0.5, v.shape) for k, v in model.init_params(cfg, rng).items()}
    Hd = cfg.hidden
    params["l0.Wx"][:, :2 * Hd] = 0  # i and f read nothing but their biases
    params["l0.Wh"][:] = 0
    params["l0.b"][:Hd], params["l0.b"][Hd:2 * Hd] = -80.0, 80.0  # i = 0, f = 1 exactly in float64
    ids = rng.integers(0, 4, 300)
    m = memory.measure(params, cfg, ids, memory.make_plan(len(ids), 4, 10, 60, 6))
    assert m.grad_c.min() > 0
    assert np.array_equal(m.grad_c_median[0], np.ones(61))
    assert np.all(m.grad_h_median[0, 1:] == 0)  # W_hh = 0: h reaches the loss only at k = 0


def test_a_model_that_reads_only_the_previous_character_has_effective_context_1():
    V = 6
    cfg = ModelConfig(cell="rnn", vocab_size=V, hidden=V, layers=1, dtype="float64")
    rng = np.random.default_rng(7)
    params = {"l0.Wx": 2 * np.eye(V), "l0.Wh": np.zeros((V, V)), "l0.b": np.zeros(V),
              "Wy": rng.normal(0, 2, (V, V)), "by": np.zeros(V)}
    ids = rng.integers(0, V, 500)
    m = memory.measure(params, cfg, ids, memory.make_plan(len(ids), 64, 100, 8, 4))
    assert m.effective_context == 1
    assert np.allclose(m.loss_at, m.loss_full, atol=1e-12)


def test_effective_context_is_the_first_k_within_tolerance_or_none():
    contexts, full = np.array([1, 2, 4, 8]), np.full(3, 1.0)
    closs = np.array([[2.0] * 3, [1.5] * 3, [1.009] * 3, [1.0] * 3])
    assert memory.effective_context(contexts, closs, full) == 4
    assert memory.effective_context(contexts, closs + 0.02, full) is None


def test_context_loss_at_k_at_least_the_position_equals_full_loss():
    cfg, params = tiny("gru", seed=10)
    ids = np.random.default_rng(11).integers(0, cfg.vocab_size, 60)
    plan = memory.make_plan(len(ids), 16, 20, 8, 4)
    m = memory.measure(params, cfg, ids, plan)
    assert m.context_targets[0] == 16  # k = 16 reads x_0 .. x_15: the whole prefix
    assert m.context_loss[-1, 0] == pytest.approx(m.full_loss[0], abs=1e-12)
    assert abs(m.context_loss[0, 0] - m.full_loss[0]) > 1e-6  # k = 1 does not


def test_batched_context_usage_equals_a_loop_over_targets():
    cfg, params = tiny("lstm", seed=12)
    ids = np.random.default_rng(13).integers(0, cfg.vocab_size, 80)
    targets, contexts = np.array([10, 33, 79]), np.array([1, 4, 10])
    batched = memory.context_losses(params, cfg, ids, targets, contexts)
    for i, k in enumerate(contexts):
        for j, t in enumerate(targets):
            logits, _, _ = model.forward(params, cfg, ids[None, t - k:t], model.init_state(cfg, 1))
            z = logits[-1] - logits[-1].max()
            assert batched[i, j] == pytest.approx(np.log(np.exp(z).sum()) - z[ids[t]], abs=1e-12)


def test_plan_clamps_to_the_text_and_refuses_when_nothing_is_left():
    plan = memory.make_plan(100, 1024, 2000, 256, 64)
    assert (plan.max_context, plan.max_distance) == (99, 98)
    assert [c[0] for c in plan.clamped] == ["--max-context", "--max-distance"]
    assert list(memory.contexts_upto(99)) == [1, 2, 4, 8, 16, 32, 64, 99]
    with pytest.raises(memory.UsageError, match="at least 3"):
        memory.make_plan(2, 8, 8, 8, 8)


# ------------------------------------------------------------------------------- the command
@pytest.fixture
def ck(tmp_path):
    return make_checkpoint(tmp_path / "lstm.npz", cell="lstm", text=TEXT, hidden=6, layers=2)


@pytest.fixture
def text(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(TEXT * 4, encoding="utf-8")
    return f


SMALL = ["--max-context", 16, "--max-targets", 20, "--max-distance", 12, "--positions", 5]


def test_json_has_exactly_the_documented_keys(ck, text):
    r = cli("inspect-memory", ck, "--text", text, "--json", "--init", *SMALL)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    keys = {"checkpoint", "cell", "layers", "hidden", "full_loss", "contexts", "context_loss", "effective_context",
            "distances", "grad_h_median", "gradient_horizon", "grad_c_median", "c_horizon", "init"}
    assert list(out) == ["models"] and set(out["models"][0]) == keys | {"init_highway"}
    m = out["models"][0]
    assert set(m["init"]) == keys and m["init"]["init"] is None
    assert set(m["init_highway"]) == keys  # the LSTM at forget bias 1: the same fields as init
    assert m["contexts"] == [1, 2, 4, 8, 16] and m["distances"] == list(range(13))
    assert len(m["grad_h_median"]) == 2 and len(m["grad_h_median"][0]) == 13 and m["grad_h_median"][0][0] == 1
    assert r.stderr.count("warning") == 0


def test_json_has_the_lstm_cell_state_curve_and_horizon(tmp_path):
    """inspect-memory --json carries the LSTM cell-state measurement the table shows."""
    small = ["--max-context", 8, "--max-targets", 10, "--max-distance", 12, "--positions", 4]
    text = tmp_path / "t.txt"
    text.write_text(TEXT * 4, encoding="utf-8")
    lstm = make_checkpoint(tmp_path / "l.npz", cell="lstm", text=TEXT, hidden=6, layers=2)
    gru = make_checkpoint(tmp_path / "g.npz", cell="gru", text=TEXT, hidden=6, layers=2)
    r = cli("inspect-memory", lstm, gru, "--text", text, "--json", "--init", *small)
    assert r.exit_code == 0, r.output
    m, g = json.loads(r.stdout)["models"]
    assert len(m["grad_c_median"]) == 2 and len(m["grad_c_median"][0]) == 13 and m["grad_c_median"][0][0] == 1
    assert len(m["c_horizon"]) == 2 and all(0 <= k <= 12 for k in m["c_horizon"])
    assert m["init"]["grad_c_median"] is not None
    assert g["grad_c_median"] is None and g["c_horizon"] is None  # no cell state
    assert g["init_highway"] is None and m["init_highway"]["c_horizon"] is not None  # forget bias 1: LSTMs only
    for curve, k in zip(m["grad_c_median"], m["c_horizon"]):  # the largest k whose median is still >= 1e-3
        assert curve[k] >= 1e-3 and (k == 12 or curve[k + 1] < 1e-3)


def test_dump_has_exactly_the_documented_arrays(ck, text, tmp_path):
    dump = tmp_path / "m.npz"
    r = cli("inspect-memory", ck, ck, "--text", text, "--dump", dump, *SMALL)
    assert r.exit_code == 0, r.output
    with np.load(dump, allow_pickle=False) as d:
        names = set(d.files)
        want = {"text", "positions", "grad_h", "grad_c", "contexts", "context_targets", "context_loss", "full_loss"}
        assert names == {f"m{i}/{a}" for i in range(2) for a in want}
        n = len(TEXT * 4)
        assert d["m0/text"].dtype == np.uint32 and "".join(map(chr, d["m0/text"])) == TEXT * 4
        assert d["m0/grad_h"].shape == (5, 2, 13) == d["m0/grad_c"].shape and d["m0/positions"].dtype == np.int64
        assert d["m0/context_loss"].shape == (5, 20) and d["m0/full_loss"].shape == (20,)
        assert d["m0/context_targets"].min() >= 16 and d["m0/context_targets"].max() == n - 1
    assert not list(tmp_path.glob(".*.tmp"))


def test_table_curves_and_html(ck, text, tmp_path):
    page = tmp_path / "m.html"
    r = cli("inspect-memory", ck, "--text", text, "--html", page, "--at-match", "return", "--init", *SMALL)
    assert r.exit_code == 0, r.output
    assert "eff." in r.stdout and "horizon" in r.stdout and "L0 h" in r.stdout and "L1 c" in r.stdout and "(init)" in r.stdout
    assert "\x1b[" not in r.stdout  # piped: plain text
    assert "Saliency" in r.stdout
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") >= 2 and "http" not in html.replace("http-equiv", "")
    assert 'class="target"' in html and "data-v=" in html and "init" in html


def test_different_vocabularies_side_by_side(ck, tmp_path):
    other = make_checkpoint(tmp_path / "rnn.npz", cell="rnn", text="abcdef ()\n", hidden=5, layers=1)
    f = tmp_path / "t.txt"
    f.write_text(TEXT * 4, encoding="utf-8")
    r = cli("inspect-memory", ck, other, "--text", f, "--json", *SMALL)
    assert r.exit_code == 0, r.output
    known = sum(ch in "abcdef ()\n" for ch in TEXT * 4)
    assert f"skipped {len(TEXT * 4) - known:,} character(s)" in r.stderr
    cells = [m["cell"] for m in json.loads(r.stdout)["models"]]
    assert cells == ["lstm", "rnn"]


def test_a_short_text_is_clamped_with_a_warning(ck, tmp_path):
    f = tmp_path / "short.txt"
    f.write_text(TEXT[:30], encoding="utf-8")
    r = cli("inspect-memory", ck, "--text", f, "--json", "--max-context", 100, "--max-distance", 50)
    assert r.exit_code == 0, r.output
    assert "--max-context 100 clamped to 29" in r.stderr and "--max-distance 50 clamped to 28" in r.stderr
    m = json.loads(r.stdout)["models"][0]
    assert m["contexts"][-1] == 29 and m["distances"][-1] == 28


@pytest.mark.parametrize("args, needle, code", [
    (["--max-context", 0], "--max-context", 2),
    (["--positions", -1], "--positions", 2),
    (["--max-chars", 0], "--max-chars", 2),
    (["--at", 0], "--at", 2),
    (["--at", 10 ** 6], "--at", 2),
    (["--at", 5, "--at-match", "x"], "--at-match", 2),
    (["--at-match", "zzz-not-there"], "--at-match", 2),
    (["--at-match", "("], "--at-match", 2),
    (["--max-chars", 2], "at least 3", 2),
])
def test_bad_input_is_one_line_naming_the_option(ck, text, args, needle, code):
    r = cli("inspect-memory", ck, "--text", text, *args)
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output and needle in r.stderr and "hint:" in r.stderr and r.stdout == ""


def test_a_measurement_too_big_for_memory_is_refused_naming_the_option():
    cfg = ModelConfig(cell="lstm", vocab_size=50, hidden=512, layers=3)
    memory.check_memory(cfg, memory.make_plan(10 ** 7, 1024, 2000, 256, 64), 10 ** 7)  # the defaults fit
    with pytest.raises(memory.UsageError, match="GB") as e:
        memory.check_memory(cfg, memory.make_plan(10 ** 7, 1024, 2000, 10 ** 5, 64), 10 ** 7)
    assert "--max-distance" in e.value.hint
    with pytest.raises(memory.UsageError) as e:
        memory.check_memory(cfg, memory.make_plan(10 ** 7, 1024, 10 ** 6, 256, 64), 10 ** 7)
    assert "--max-targets" in e.value.hint
    memory.check_memory(cfg, memory.make_plan(3000, 1024, 10 ** 6, 256, 64), 3000)  # the text has few targets


def test_a_missing_checkpoint_and_a_bad_output_path(ck, text, tmp_path):
    r = cli("inspect-memory", tmp_path / "nope.npz", "--text", text)
    assert r.exit_code in (1, 2) and "error:" in r.stderr and "Traceback" not in r.output
    r = cli("inspect-memory", ck, "--text", text, "--html", tmp_path / "no" / "dir.html")
    assert r.exit_code == 2 and "--html" in r.stderr


def test_help_shows_every_default():
    r = cli("inspect-memory", "--help", env={"COLUMNS": "400"}, terminal_width=400)
    assert r.exit_code == 0
    options = [line for line in r.stdout.splitlines() if line.startswith("│ --") and "--help" not in line]
    assert options and all("[default:" in line for line in options), [o for o in options if "[default:" not in o]


def test_the_python_api_measures_the_same(ck, text):
    import charrnn

    m = charrnn.load(ck).memory(text.read_text(encoding="utf-8"), max_context=16, max_targets=20, max_distance=12,
                                positions=5, at=30)
    r = cli("inspect-memory", ck, "--text", text, "--json", "--at", 30, *SMALL)
    d = json.loads(r.stdout)["models"][0]
    assert m.effective_context == d["effective_context"] and list(m.gradient_horizon) == d["gradient_horizon"]
    assert m.saliency["target"] == 30 and len(m.saliency["values"]) == 13
    with pytest.raises(memory.UsageError, match="--max-context"):
        charrnn.load(ck).memory("abc", max_context=0)


def test_init_highway_is_the_fresh_lstm_at_forget_bias_1_and_the_page_says_the_lesson(ck, text, tmp_path):
    from dataclasses import replace

    from charrnn.engine.trained import load_trained
    from charrnn.interpret.memory import lesson, measure
    from charrnn.interpret.memory_plan import Plan

    page = tmp_path / "m.html"
    r = cli("inspect-memory", ck, "--text", text, "--json", "--init", "--html", page, *SMALL)
    m = json.loads(r.stdout)["models"][0]
    t = load_trained(ck)
    ids = t.vocab.encode(TEXT * 4)
    plan = Plan(16, 20, 12, 5)
    for key, bias in (("init", t.cfg.forget_bias), ("init_highway", 1.0)):
        cfg = replace(t.cfg, forget_bias=bias)
        want = measure(model.init_params(cfg, np.random.default_rng(t.train_cfg.seed)), cfg, ids, plan)
        assert m[key]["gradient_horizon"] == [int(k) for k in want.gradient_horizon]
        assert np.allclose(m[key]["grad_h_median"], want.grad_h_median, rtol=1e-5)
    assert m["init_highway"]["grad_c_median"] != m["init"]["grad_c_median"]  # the bias changes the fresh model
    def reach(k):  # a curve that never fell below 1e-3 within --max-distance 12
        return f"at least {k}" if k >= 12 else str(k)
    said = (f"the LSTM's gradient reaches {reach(m['init']['gradient_horizon'][0])} characters back in layer 0; "
            f"with forget bias 1, the cell-state highway, it reaches {reach(m['init_highway']['gradient_horizon'][0])}")
    assert said in page.read_text(encoding="utf-8").replace("&#x27;", "'")
    assert lesson([]) is None
