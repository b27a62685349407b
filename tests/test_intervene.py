"""Interventions (--ablate, --clamp; charrnn.nn.intervene): the loss of an ablated model equals a
direct NumPy recomputation, a clamped unit holds its value at every step, and the CLI options."""

import json

import numpy as np
import pytest

from charrnn.engine.trained import load_trained
from charrnn.nn.intervene import Hold, Holds, parse_holds
from charrnn.tasks import lm
from charrnn.use.evaluate import evaluate_text
from charrnn.use.sample import generate
from helpers import TEXT, assert_clean_error, invoke, make_checkpoint
from reference import ref_step, sig
from charrnn.nn.stack import layer_params


def _trained(tmp_path, cell, dtype="float64"):
    t = load_trained(make_checkpoint(tmp_path / f"{cell}.npz", cell=cell, hidden=6, layers=2, seed=5, dtype=dtype))
    for name in t.params:
        t.params[name] *= 2.5  # units that swing, so that holding one matters
    return t


def _held_step(cell, p, x, state, holds):
    """The plain reference step (tests/reference.py) with the holds written out: c first (and h of
    the same step from it, h = o tanh(c)), then h."""
    if cell == "lstm" and any(h.kind == "c" for h in holds):
        h, c = state
        H = h.shape[1]
        pre = (p["Wx"][x] if x.dtype.kind in "iu" else x @ p["Wx"]) + h @ p["Wh"] + p["b"]
        i, f, o, g = sig(pre[:, :H]), sig(pre[:, H:2 * H]), sig(pre[:, 2 * H:3 * H]), np.tanh(pre[:, 3 * H:])
        c = f * c + i * g
        for hd in holds:
            if hd.kind == "c":
                c[:, hd.index] = hd.value
        h, state = o * np.tanh(c), (None, c)
    else:
        h, state = ref_step[cell](p, x, state)
        h = h.copy()
    for hd in holds:
        if hd.kind == "h":
            h[:, hd.index] = hd.value
    return h, (h,) + tuple(state[1:])


def _reference_nats(t, ids, holds):
    """Total nats of predicting ids[1:], one stream, the holds applied at every step."""
    cfg, params = t.cfg, t.params
    state = lm.init_state(cfg, 1)
    total = 0.0
    for a, b in zip(ids[:-1], ids[1:]):
        x = np.array([a])
        for k in range(cfg.layers):
            x, state[k] = _held_step(cfg.cell, layer_params(params, k), x, state[k], [h for h in holds if h.layer == k])
        z = (x @ params["Wy"] + params["by"])[0]
        total += float(np.log(np.exp(z - z.max()).sum()) + z.max() - z[b])
    return total


@pytest.mark.parametrize("cell,spec", [("lstm", "L0:c:2"), ("lstm", "L1:h:4"), ("gru", "L0:h:1"), ("rnn", "L1:h:0")])
def test_ablation_changes_the_loss_by_the_direct_recomputation(tmp_path, cell, spec):
    t = _trained(tmp_path, cell)
    text = TEXT * 2
    ids = t.vocab.encode(text)
    hold = parse_holds([spec], [], t.cfg)
    intact, ablated = evaluate_text(t, text), evaluate_text(t, text, hold=hold)
    want = (_reference_nats(t, ids, list(hold)) - _reference_nats(t, ids, [])) / (len(ids) - 1)
    got = ablated.nats_per_char - intact.nats_per_char
    assert abs(want) > 1e-3 and abs(got - want) < 1e-9  # exactly (float64): and the unit matters


@pytest.mark.parametrize("cell,kind", [("lstm", "c"), ("lstm", "h"), ("gru", "h")])
def test_clamping_holds_the_unit_at_every_step(tmp_path, cell, kind):
    t = _trained(tmp_path, cell, dtype="float32")
    ids = t.vocab.encode(TEXT)[None, :]  # (1, T)
    hold = parse_holds([], [f"L0:{kind}:3=0.8", "L1:h:1=-0.5"], t.cfg)
    _, _, cache = lm.forward(t.params, t.cfg, ids, lm.init_state(t.cfg, 1), hold=hold)
    caches, top = cache.stack.layers, cache.top
    assert np.allclose(caches[0]["trace"][kind][:, 0, 3], 0.8) and np.allclose(caches[1]["trace"]["h"][:, 0, 1], -0.5)
    assert np.allclose(top[:, 1], -0.5)  # what the output layer reads
    if kind == "c":  # h of each step is read from the held c: o * tanh(0.8)
        tr = caches[0]["trace"]
        assert np.allclose(tr["h"][:, 0, 3], tr["o"][:, 0, 3] * np.tanh(np.float32(0.8)), atol=1e-6)
    other = [j for j in range(6) if j != 3]
    assert np.ptp(caches[0]["trace"][kind][:, 0, other]) > 0.1  # the other units still move
    # the sampler steps through the same forward: same logits as one chunk
    from charrnn.use.stepper import make_stepper

    st = make_stepper(t.params, t.cfg, hold=hold)
    logits, _, _ = lm.forward(t.params, t.cfg, ids, lm.init_state(t.cfg, 1), hold=hold)
    for i, ix in enumerate(ids[0, :20]):
        assert np.allclose(st.step(int(ix)), logits[i], atol=1e-5)
    assert np.allclose(st.state[1][0][0, 1], -0.5)


def test_per_stream_holds_touch_only_their_stream(tmp_path):
    t = _trained(tmp_path, "lstm", dtype="float32")
    ids = np.tile(t.vocab.encode(TEXT)[None, :], (3, 1))
    plain, _, _ = lm.forward(t.params, t.cfg, ids[:1], lm.init_state(t.cfg, 1))
    held, _, _ = lm.forward(t.params, t.cfg, ids, lm.init_state(t.cfg, 3),
                            hold=Holds([Hold(0, "c", 2, 0.0, stream=1), Hold(1, "h", 0, 0.0, stream=2)]))
    T, V = ids.shape[1], plain.shape[1]
    rows = held.reshape(T, 3, V)
    assert np.allclose(rows[:, 0], plain, atol=1e-5)  # stream 0: intact
    assert not np.allclose(rows[:, 1], plain, atol=1e-3) and not np.allclose(rows[:, 2], plain, atol=1e-3)


def test_sample_and_evaluate_options(tmp_path):
    path = make_checkpoint(tmp_path / "m.npz", hidden=6, seed=2)
    text = tmp_path / "t.txt"
    text.write_text(TEXT * 3, encoding="utf-8")
    base = ["sample", str(path), "--seed", "3", "--length", "60", "--temp", "0"]
    plain = invoke(*base)
    ablated = invoke(*base, *["--ablate", "L0:h:1", "--clamp", "L1:c:2=3"])
    assert ablated.exit_code == 0 and ablated.stdout != plain.stdout
    assert "holding L0:h:1 at 0, L1:c:2 at 3 at every step" in ablated.stderr
    assert invoke(*base, *["--ablate", "L0:h:1", "--clamp", "L1:c:2=3"]).stdout == ablated.stdout
    t = load_trained(path)
    want = "".join(generate(t.params, t.cfg, t.vocab, 60, temperature=0.0, prime=t.vocab.chars[0] if "\n" not in
                            t.vocab.chars else "", hold=parse_holds(["L0:h:1"], ["L1:c:2=3"], t.cfg)))
    assert ablated.stdout.endswith(want + ("" if want.endswith("\n") else "\n"))
    r = invoke("evaluate", path, text, "--json", "--ablate", "L0:c:4")
    got = json.loads(r.stdout)["nats_per_char"]
    assert got == pytest.approx(evaluate_text(t, TEXT * 3, hold=parse_holds(["L0:c:4"], [], t.cfg)).nats_per_char,
                                abs=1e-9)
    assert got != pytest.approx(json.loads(invoke("evaluate", path, text, "--json").stdout)["nats_per_char"],
                                abs=1e-6)
    for args, words in ((["--ablate", "L0:x:1"], "only state units"), (["--clamp", "L0:h:1"], "UNIT=VALUE"),
                        (["--ablate", "L2:h:1"], "layers 0..1"), (["--ablate", "0:h:1", "--clamp", "L0:h:1=2"], "twice"),
                        (["--clamp", "L0:h:1=nan"], "finite")):
        assert_clean_error(invoke("evaluate", path, text, *args), 2, words)


def _per_char_nats(t, ids, hold):
    logits, _, _ = lm.forward(t.params, t.cfg, ids[None, :-1], lm.init_state(t.cfg, 1), hold=hold)
    z = logits.astype(np.float64)
    m = z.max(axis=1)
    return np.log(np.exp(z - m[:, None]).sum(axis=1)) + m - z[np.arange(len(ids) - 1), ids[1:]]


def test_inspect_cells_ablation_matches_one_stream_at_a_time(tmp_path):
    from charrnn.interpret.ablation import ablation
    from charrnn.interpret.analysis import analyse

    t = _trained(tmp_path, "lstm")
    text = TEXT * 3
    a = analyse(t, text, ["in_string", "bracket_depth", "line_position"], top=1)
    rows = ablation(t, a, chunk=50)  # chunks carry the state: several of them here
    assert [r["probe"] for r in rows] == [row["probe"] for row in a.top]
    ids = t.vocab.encode(text)
    intact = _per_char_nats(t, ids, None)
    for r in rows:
        sig = np.asarray(a.signals[r["probe"]])[:-1]
        active = sig > sig.min()
        assert r["active_chars"] == active.sum() and 0 < active.sum() < len(sig)
        for unit, all_key, active_key in ((r["unit"], "delta_all", "delta_active"),
                                          (r["random_unit"], "random_delta_all", "random_delta_active")):
            d = _per_char_nats(t, ids, parse_holds([unit], [], t.cfg)) - intact
            assert r[all_key] == pytest.approx(d.mean(), abs=2e-6)
            assert r[active_key] == pytest.approx(d[active].mean(), abs=2e-6)
        layer, kind, index = r["unit"].split(":")
        assert r["random_unit"].startswith(f"{layer}:{kind}:") and r["random_unit"] != r["unit"]
    assert any(abs(r["delta_all"]) > 1e-3 for r in rows)


def test_inspect_cells_ablation_json_and_table(tmp_path):
    path = make_checkpoint(tmp_path / "m.npz", hidden=6, seed=2)
    text = tmp_path / "t.txt"
    text.write_text(TEXT * 8, encoding="utf-8")
    r = invoke("inspect-cells", path, "--text", text, "--probe", "in_string", "--probe", "bracket_depth",
               "--ablation", "--json", "--html", tmp_path / "c.html")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)["ablation"]
    assert [set(x) for x in rows] == [{"probe", "unit", "delta_all", "delta_active", "random_unit", "random_delta_all",
                                       "random_delta_active", "active_chars"}] * 2
    assert '"ablation":[{"probe"' in (tmp_path / "c.html").read_text(encoding="utf-8")
    r = invoke("inspect-cells", path, "--text", text, "--probe", "in_string", "--ablation", "--excerpt", "0")
    assert "Ablation" in r.stdout and "random unit" in r.stdout


def test_holds_on_a_seq2seq_model_are_a_usage_error(tmp_path):
    from helpers import train_pairs

    f = tmp_path / "p.tsv"
    f.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ["ab", "ba", "abc", "cab"] * 6), encoding="utf-8")
    ck = train_pairs(f, tmp_path / "out", {"max_steps": 1, "batch": 4}, {"cell": "gru", "hidden": 4, "layers": 1})
    assert_clean_error(invoke("evaluate", ck.out_dir / "best.npz", f, "--ablate", "L0:h:1"), 2, "language model")
