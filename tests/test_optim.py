"""Optimizers against textbook references; clipping; exact state round-trips; the lr schedule."""

import math

import numpy as np
import pytest

from charrnn.nn import optim
from charrnn.engine.checkpoint import load_checkpoint, save_checkpoint
from charrnn.errors import CheckpointError, UsageError


def problem(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=(4,))}
    grads = [{k: rng.normal(size=v.shape) * (0.1 + i) for k, v in params.items()} for i in range(6)]
    return params, grads


def run(opt, params, grads, lr=0.01):
    params = {k: v.copy() for k, v in params.items()}
    for g in grads:
        opt.step(params, {k: v.copy() for k, v in g.items()}, lr)
    return params


def reference(params, grads, update, lr=0.01):
    """Apply update(p, g, state, t, lr) per parameter: a direct transcription of each paper's rule."""
    params = {k: v.copy() for k, v in params.items()}
    state = {k: {} for k in params}
    for t, g in enumerate(grads, 1):
        for k in params:
            params[k] = update(params[k], g[k], state[k], t, lr)
    return params


def adam_ref(p, g, s, t, lr, b1=0.9, b2=0.999, eps=1e-8):
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g ** 2
    m_hat, v_hat = s["m"] / (1 - b1 ** t), s["v"] / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def sgd_momentum_ref(p, g, s, t, lr, mu=0.9):
    s["v"] = mu * s.get("v", 0) - lr * g
    return p + s["v"]


def rmsprop_ref(p, g, s, t, lr, a=0.95, eps=1e-8):
    s["v"] = a * s.get("v", 0) + (1 - a) * g ** 2
    return p - lr * g / (np.sqrt(s["v"]) + eps)


def adagrad_ref(p, g, s, t, lr, eps=1e-8):
    s["v"] = s.get("v", 0) + g ** 2
    return p - lr * g / (np.sqrt(s["v"]) + eps)


@pytest.mark.parametrize("make,ref", [
    (optim.Adam, adam_ref),
    (lambda: optim.SGD(0.9), sgd_momentum_ref),
    (lambda: optim.SGD(0.0), lambda p, g, s, t, lr: p - lr * g),
    (optim.RMSprop, rmsprop_ref),
    (optim.Adagrad, adagrad_ref),
])
def test_optimizer_matches_textbook_reference(make, ref):
    params, grads = problem()
    got, want = run(make(), params, grads), reference(params, grads, ref)
    for k in params:  # (Adam also agrees with torch.optim.Adam to 0.0 in float64)
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-15)
        assert not np.allclose(got[k], params[k])


def test_adam_first_step_moves_each_weight_by_about_lr():
    params, grads = problem()
    got = run(optim.Adam(), params, grads[:1], lr=0.01)
    np.testing.assert_allclose(np.abs(got["W"] - params["W"]), 0.01, rtol=1e-4)


def test_float32_parameters_stay_float32():
    params, grads = problem()
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    g32 = [{k: v.astype(np.float32) for k, v in g.items()} for g in grads]
    for make in (optim.Adam, optim.RMSprop, optim.Adagrad, lambda: optim.SGD(0.9)):
        out = run(make(), p32, g32)
        assert all(v.dtype == np.float32 for v in out.values())


def test_clip_by_global_norm_scales_and_returns_the_norm_before_clipping():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert optim.global_norm(g) == 5.0
    norm = optim.clip_by_global_norm(g, 1.0)
    assert norm == 5.0
    assert math.isclose(optim.global_norm(g), 1.0, rel_tol=1e-5)
    np.testing.assert_allclose(g["a"], [0.6, 0.0], rtol=1e-5)
    small = {"a": np.array([0.3, 0.4])}
    assert optim.clip_by_global_norm(small, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small["a"], [0.3, 0.4])  # under the limit: untouched
    off = {"a": np.array([30.0, 40.0])}
    assert optim.clip_by_global_norm(off, 0) == 50.0 and off["a"][1] == 40.0  # 0 turns it off
    bad = {"a": np.array([np.nan, 1.0])}
    assert math.isnan(optim.clip_by_global_norm(bad, 1.0))  # reported, so training can stop


def test_clip_by_value():
    g = {"a": np.array([-3.0, 0.5, 7.0])}
    optim.clip_by_value(g, 1.0)
    np.testing.assert_array_equal(g["a"], [-1.0, 0.5, 1.0])


@pytest.mark.parametrize("make", [optim.Adam, optim.RMSprop, optim.Adagrad, lambda: optim.SGD(0.9),
                                  lambda: optim.SGD(0.0)])
def test_state_dict_round_trip_gives_identical_next_steps(make, tmp_path):
    params, grads = problem()
    a = make()
    p = run(a, params, grads[:3])
    saved = a.state_dict()
    save_checkpoint(tmp_path / "opt.npz", {f"opt/{k}": v for k, v in saved.items()}, {})
    arrays, _ = load_checkpoint(tmp_path / "opt.npz")
    b = make()
    b.load_state_dict({k[4:]: v for k, v in arrays.items()})
    assert b.t == a.t == 3
    pa = run(a, p, grads[3:])
    pb = run(b, p, grads[3:])
    for k in params:
        assert np.array_equal(pa[k], pb[k]), k


def test_state_dict_is_a_snapshot():
    params, grads = problem()
    a = optim.Adam()
    p = run(a, params, grads[:2])
    snap = a.state_dict()
    before = {k: v.copy() for k, v in snap.items()}
    run(a, p, grads[2:])
    assert all(np.array_equal(snap[k], before[k]) for k in snap)


def test_load_state_dict_refuses_another_optimizers_state():
    params, grads = problem()
    a = optim.Adam()
    run(a, params, grads[:1])
    with pytest.raises(CheckpointError, match="does not belong to RMSprop"):
        optim.RMSprop().load_state_dict(a.state_dict())


def test_make_optimizer():
    assert isinstance(optim.make_optimizer("adam"), optim.Adam)
    sgd = optim.make_optimizer("sgd", momentum=0.5)
    assert isinstance(sgd, optim.SGD) and sgd.momentum == 0.5
    with pytest.raises(UsageError, match="unknown optimizer 'adamw'"):
        optim.make_optimizer("adamw")


def test_lr_schedule():
    assert optim.lr_at(0.1, 0.5, 0, "step", 100, 3) == 0.1  # never decays
    assert optim.lr_at(0.1, 1.0, 10, "step", 100, 3) == 0.1
    assert [optim.lr_at(0.1, 0.5, 10, "step", s, 0) for s in (0, 9, 10, 25)] == [0.1, 0.1, 0.05, 0.025]
    assert [optim.lr_at(1.0, 0.5, 2, "epoch", 999, e) for e in (0, 1, 2, 5)] == [1.0, 1.0, 0.5, 0.25]
