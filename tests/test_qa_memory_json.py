"""QA: inspect-memory --json carries the LSTM cell-state measurement the table shows."""

import json

from helpers import TEXT, invoke, make_checkpoint

SMALL = ["--max-context", 8, "--max-targets", 10, "--max-distance", 12, "--positions", 4]


def test_json_has_the_lstm_cell_state_curve_and_horizon(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(TEXT * 4, encoding="utf-8")
    lstm = make_checkpoint(tmp_path / "l.npz", cell="lstm", text=TEXT, hidden=6, layers=2)
    gru = make_checkpoint(tmp_path / "g.npz", cell="gru", text=TEXT, hidden=6, layers=2)
    r = invoke("inspect-memory", lstm, gru, "--text", text, "--json", "--init", *SMALL)
    assert r.exit_code == 0, r.output
    m, g = json.loads(r.stdout)["models"]
    assert len(m["grad_c_median"]) == 2 and len(m["grad_c_median"][0]) == 13 and m["grad_c_median"][0][0] == 1
    assert len(m["c_horizon"]) == 2 and all(0 <= k <= 12 for k in m["c_horizon"])
    assert m["init"]["grad_c_median"] is not None
    assert g["grad_c_median"] is None and g["c_horizon"] is None  # no cell state
    assert g["init_highway"] is None and m["init_highway"]["c_horizon"] is not None  # forget bias 1: LSTMs only
    for curve, k in zip(m["grad_c_median"], m["c_horizon"]):  # the largest k whose median is still >= 1e-3
        assert curve[k] >= 1e-3 and (k == 12 or curve[k + 1] < 1e-3)
