"""One `charrnn.load` for every task: the same verbs, one clear error where a verb does not apply,
and checkpoints written by the previous round's code (tests/fixtures/*-round2.npz) still read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import charrnn
from charrnn.errors import UsageError
from helpers import assert_clean_error, invoke, train_lm, train_pairs

FIXTURES = Path(__file__).parent / "fixtures"
OLD_LM, OLD_S2S = FIXTURES / "lm-round2.npz", FIXTURES / "seq2seq-round2.npz"
PAIRS = "".join(f"{w}\t{w[::-1]}\n" for w in ["ab", "abc", "ba", "cab", "bca"] * 8)
TEXT = "def f(x):\n    return 'a' + \"b\"  # note\n" * 20


def test_an_old_language_model_loads_samples_evaluates_and_refuses_translate():
    m = charrnn.load(OLD_LM)
    assert m.task == "lm" and "task" not in m.meta  # written before checkpoints named their task
    assert m.sample(10, seed=1, prime="def").startswith("def") and len(m.sample(10, seed=1)) == 10
    assert m.evaluate(TEXT).chars > 0 and m.info()["layers"] == 2
    with pytest.raises(UsageError, match="holds a language model; translate does not work"):
        m.translate("ab")
    with pytest.raises(UsageError, match="predict does not work"):
        m.predict(["ab"])


def test_an_old_seq2seq_model_translates_evaluates_and_refuses_the_language_model_verbs():
    m = charrnn.load(OLD_S2S)
    assert m.task == "seq2seq" and m.info()["task"] == "seq2seq"
    assert isinstance(m.translate("ab", max_len=4), str) and len(m.predict(["ab", "ba"], max_len=4)) == 2
    assert m.evaluate([("ab", "ba")]).pairs == 1
    for verb, call in (("sample", lambda: m.sample(5)), ("inspect-cells", lambda: m.trace("ab")),
                       ("inspect-memory", lambda: m.memory("ab" * 50))):
        with pytest.raises(UsageError, match=f"holds a seq2seq model; {verb} does not work on it") as e:
            call()
        assert "translate" in e.value.hint


@pytest.mark.parametrize("ckpt,args", [(OLD_S2S, ["sample"]), (OLD_S2S, ["inspect-cells"]),
                                       (OLD_S2S, ["inspect-memory"]), (OLD_LM, ["translate"])])
def test_the_cli_gives_one_clear_usage_error_for_a_verb_of_another_task(ckpt, args):
    r = invoke(*args, ckpt)
    assert_clean_error(r, 2, "holds a")


def test_new_checkpoints_name_their_task_and_old_ones_resume(tmp_path):
    (tmp_path / "c.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "p.tsv").write_text(PAIRS, encoding="utf-8")
    r = train_lm(tmp_path / "c.txt", tmp_path / "lm", {"max_steps": 6, "batch": 2, "seq_len": 8, "sample_len": 0},
                 resume=OLD_LM)
    assert r.step == 6 and charrnn.load(r.latest).meta["task"] == "lm"
    r = train_pairs(tmp_path / "p.tsv", tmp_path / "s2s", {"max_steps": 6}, resume=OLD_S2S)
    assert r.step == 6 and charrnn.load(r.latest).meta["task"] == "seq2seq"
    info = json.loads(invoke("info", r.latest, "--json").stdout)
    assert info["task"] == "seq2seq" and info["step"] == 6
