"""`charrnn train --live`: the page is rewritten atomically at every evaluation, its data are the
records of metrics.jsonl, the probes' records land in the run directory, compare --html draws
them, and the page works in a browser (reloading while training runs, not after)."""

import json
import os
import re

import pytest

from browser import open_page
from charrnn.engine.loop import Reporter
from charrnn.interpret.live import PROBES_FILE, LiveReporter, read_probes
from charrnn.use.compare import compare
from charrnn.use.compare_page import compare_page
from helpers import TEXT, assert_clean_error, invoke, train_lm

SMALL = {"batch": 4, "seq_len": 16, "eval_every": 5, "sample_len": 30, "max_steps": 15}


def _data(page_text: str) -> dict:
    m = re.search(r'<script id="data" type="application/json">(.*?)</script>', page_text, re.S)
    return json.loads(m[1])


class Watcher(Reporter):
    """The wrapped reporter: at each evaluation, what the page holds at that moment."""

    def __init__(self, path):
        self.path, self.seen = path, []

    def evaluated(self, run, record, log_text):
        f = open(self.path, encoding="utf-8")  # kept open: the file as it was (and its inode kept alive)
        text = f.read()
        assert text.endswith("</html>\n")  # a whole page, never half of one
        self.seen.append((os.fstat(f.fileno()).st_ino, _data(text)["step"], run.step, f, text))


@pytest.fixture(scope="module")
def live_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("live")
    corpus = d / "code.txt"
    corpus.write_text(TEXT * 12, encoding="utf-8")
    page = d / "live.html"
    watcher = Watcher(page)
    reporter = LiveReporter(watcher, page, d / "run", chars=300)
    train_lm(corpus, d / "run", SMALL, {"hidden": 8, "layers": 1}, reporter=reporter)
    return d, page, watcher


def test_the_page_is_rewritten_atomically_and_its_data_match_metrics_jsonl(live_run):
    d, page, watcher = live_run
    # evaluations at steps 5, 10, 15 (the last one the final pass); each saw the page of the one before
    assert [s[2] for s in watcher.seen][:3] == [5, 10, 15]
    assert [s[1] for s in watcher.seen][:3] == [0, 5, 10]
    inodes = [s[0] for s in watcher.seen] + [os.stat(page).st_ino]
    assert len(set(inodes)) == len(inodes)  # a new file renamed over the old one each time: never rewritten in place
    for _, _, _, f, text in watcher.seen:  # so a reader holding the old page still reads all of it
        f.seek(0)
        assert f.read() == text
        f.close()
    assert sorted(p.name for p in d.iterdir()) == ["code.txt", "live.html", "run"]  # no temporary file left
    data = _data(page.read_text(encoding="utf-8"))
    records = [json.loads(line) for line in (d / "run" / "metrics.jsonl").read_text().splitlines()]
    keys = ("step", "train_loss", "val_loss", "best_val_loss", "epochs")
    assert [{k: r.get(k) for k in keys} for r in data["history"]] == [{k: r.get(k) for k in keys} for r in records]
    assert data["samples"][-1]["text"] == records[-1]["sample"] and data["done"] is True
    assert data["probes"] == read_probes(d / "run") and [p["step"] for p in data["probes"]] == [5, 10, 15]
    first = data["probes"][-1]["probes"]
    assert {p["probe"] for p in first} >= {"in_string", "line_position"} and all(-1 <= p["r"] <= 1 for p in first)
    assert 100 < len(data["text"]) <= 300 and set(data["heat"]) == {p["probe"] for p in first}


def test_the_page_in_a_browser_and_compare_draws_the_curves(page, live_run, tmp_path):
    d, path, _ = live_run
    text = path.read_text(encoding="utf-8")
    assert 'http-equiv="refresh"' not in text  # the run has ended: no more reloading
    open_page(page, path, wait_for="body[data-ready]")
    assert page.locator("#curves path").count() == 2 and page.locator("#rcurves path").count() >= 5
    assert page.locator("#heat .card").count() >= 5 and "training has ended" in page.text_content("#status")
    page.screenshot(path=tmp_path / "live.png", full_page=True)
    # while training runs the page reloads itself
    data = _data(text)
    from charrnn.interpret.live_page import live_page

    assert '<meta http-equiv="refresh" content="5">' in live_page(dict(data, done=False))
    cmp = tmp_path / "compare.html"
    cmp.write_text(compare_page(compare([d / "run"])), encoding="utf-8")
    open_page(page, cmp)
    assert page.locator("#units svg path").count() >= 5
    assert page.errors == []


def test_live_on_the_command_line(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT * 12, encoding="utf-8")
    r = invoke("train", corpus, "--hidden", "8", "--layers", "1", "--batch", "4", "--seq-len", "16", "--max-steps", "4",
               "--eval-every", "2", "--out", tmp_path / "run", "--live", tmp_path / "live.html", "--threads", "1")
    assert r.exit_code == 0, r.stderr
    assert "live page" in r.stderr and (tmp_path / "run" / PROBES_FILE).is_file()
    assert _data((tmp_path / "live.html").read_text(encoding="utf-8"))["step"] == 4
    r = invoke("train", corpus, "--resume", tmp_path / "run" / "latest.npz", "--max-steps", "6", "--live", tmp_path / "live.html",
               "--threads", "1")
    assert r.exit_code == 0, r.stderr  # a resumed run's curves go on from its checkpoint
    assert [p["step"] for p in read_probes(tmp_path / "run")] == [2, 4, 6]
    assert [p["step"] for p in _data((tmp_path / "live.html").read_text(encoding="utf-8"))["probes"]] == [2, 4, 6]
    r = invoke("train", corpus, "--hidden", "8", "--layers", "1", "--batch", "4", "--seq-len", "16", "--max-steps", "2",
               "--out", tmp_path / "run", "--overwrite", "--threads", "1")
    assert r.exit_code == 0 and not (tmp_path / "run" / PROBES_FILE).exists()  # no stale curves of the old run
    assert_clean_error(invoke("train", corpus, "--out", tmp_path / "r2", "--live", tmp_path / "nodir" / "x.html"),
                       2, "--live", "does not exist")
