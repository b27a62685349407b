"""compare: runs read from their directories or checkpoints, differing options, curves across a
resume, the terminal charts, --json, --html, and the CLI's errors."""

import json

import pytest
from typer.testing import CliRunner

from charrnn.cli import app
from charrnn.use.compare import _cumulative_elapsed, _read_metrics, compare, load_run
from charrnn.use.compare_page import compare_page
from charrnn.cli.textplot import chart
from helpers import train_lm as train

TEXT = ("def add(a, b):\n    return a + b  # sum\n\nprint('hi', \"there\")\n" * 40)
SMALL = {"batch": 4, "seq_len": 8, "eval_every": 4, "sample_len": 20, "max_steps": 8}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    corpus = d / "code.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    train(corpus, d / "lstm", SMALL, {"hidden": 8, "layers": 1})
    train(corpus, d / "gru", dict(SMALL, lr=0.01), {"hidden": 8, "layers": 1, "cell": "gru"})
    return d


def test_a_run_directory_gives_its_summary_curve_and_samples(runs):
    r = load_run(runs / "lstm")
    assert r.name == "lstm" and r.checkpoint.endswith("latest.npz") and r.cell == "lstm"
    assert r.steps == 8 and [p["step"] for p in r.curve] == [4, 8]
    assert [s["step"] for s in r.samples] == [4, 8] and all(len(s["text"]) == 20 for s in r.samples)
    assert r.best_val == min(p["val_loss"] for p in r.curve) and r.last_val == r.curve[-1]["val_loss"]
    assert r.train_seconds > 0 and r.chars_per_s > 0 and 0 < r.epochs
    assert r.options["--hidden"] == 8 and r.options["--model"] == "lstm" and "--time" in r.options


def test_differing_options_and_json(runs):
    c = compare([runs / "lstm", runs / "gru"])
    assert "--model" in c.differing and "--lr" in c.differing and "--hidden" not in c.differing
    d = json.loads(json.dumps(c.to_dict()))
    assert [r["name"] for r in d["runs"]] == ["lstm", "gru"]
    assert d["runs"][0]["best_val_bpc"] == pytest.approx(d["runs"][0]["best_val"] / 0.6931471805599453)


def test_a_checkpoint_reads_the_log_beside_it_up_to_its_step(runs, tmp_path):
    import shutil

    shutil.copytree(runs / "lstm", tmp_path / "lstm")
    ck = tmp_path / "lstm" / "latest.npz"
    (tmp_path / "lstm" / "latest.npz").rename(tmp_path / "lstm" / "old.npz")
    (tmp_path / "lstm" / "metrics.jsonl").write_text(
        (runs / "lstm" / "metrics.jsonl").read_text() + json.dumps({"step": 99, "val_loss": 0.1}) + "\n{broken\n")
    r = load_run(tmp_path / "lstm" / "old.npz")
    assert [p["step"] for p in r.curve] == [4, 8]  # step 99 is after the checkpoint; a broken line is skipped
    (tmp_path / "lstm" / "metrics.jsonl").unlink()
    r = load_run(tmp_path / "lstm" / "old.npz")  # no log: the history inside the checkpoint, no samples
    assert [p["step"] for p in r.curve] == [4, 8] and r.samples == []
    assert not ck.exists()


def test_records_of_one_step_merge_and_a_resumed_clock_adds_up(tmp_path):
    log = tmp_path / "m.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in [
        {"step": 4, "val_loss": 2.0, "elapsed": 10.0}, {"step": 8, "val_loss": 1.5, "elapsed": 20.0},
        {"step": 8, "val_whole_loss": 1.6}, {"step": 12, "val_loss": 1.4, "elapsed": 5.0}]) + "\n")
    recs = _read_metrics(log, None)
    assert [r["step"] for r in recs] == [4, 8, 12] and recs[1]["val_whole_loss"] == 1.6
    assert _cumulative_elapsed(recs) == [10.0, 20.0, 25.0]  # the resumed invocation's clock restarted


def test_text_chart_draws_each_series_with_its_mark_and_labels_the_axes():
    lines = chart([("a", [0, 10, 20], [3.0, 2.0, 1.0]), ("b", [0, 20], [2.5, 2.5])], width=30, height=8,
                  x_label="step", y_label="nats")
    art = "\n".join(lines)
    assert "*" in art and "o" in art and "* a" in lines[-1] and "o b" in lines[-1]
    assert lines[1].strip().startswith("3.00") and any(line.strip().startswith("1.00") for line in lines)
    grid = [line.split("|", 1)[1] for line in lines if "|" in line]
    assert grid[0].startswith("*") and grid[-1].rstrip().endswith("*")  # falls from top left to bottom right
    assert chart([("a", [], [])]) == ["(no validation points to draw)"]


def test_cli_table_charts_json_html_and_errors(runs, tmp_path):
    cli = CliRunner()
    r = cli.invoke(app, ["compare", str(runs / "lstm"), str(runs / "gru")])
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "lstm" in out and "gru" in out and "--lr" in out and "0.01" in out
    assert "Validation loss against step" in out and "against wall-clock time" in out and "\x1b[" not in out
    assert max(len(line) for line in out.splitlines()) > 80 or "…" not in out  # no column cut short
    r = cli.invoke(app, ["compare", str(runs / "lstm"), "--json"])
    assert json.loads(r.stdout)["runs"][0]["steps"] == 8
    page = tmp_path / "c.html"
    r = cli.invoke(app, ["compare", str(runs / "lstm"), str(runs / "gru"), "--html", str(page)])
    assert r.exit_code == 0 and "wrote" in r.stderr
    html = page.read_text(encoding="utf-8")
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    r = cli.invoke(app, ["compare", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "error:" in r.stderr and "hint:" in r.stderr
    r = cli.invoke(app, ["compare", str(tmp_path)])
    assert r.exit_code == 1 and "holds no checkpoint" in r.stderr


def test_page_escapes_run_names_and_samples(runs, tmp_path):
    c = compare([runs / "lstm"])
    c.runs[0].name = "</script><b>x"
    c.runs[0].samples = [{"step": 4, "text": "</script><i>"}]
    page = compare_page(c)
    assert "<b>x" not in page and "<i>" not in page and page.count("</script>") == 3  # data, chart code, page code


def test_info_shows_the_training_options_and_history(runs):
    cli = CliRunner()
    r = cli.invoke(app, ["info", str(runs / "gru")])
    assert r.exit_code == 0, r.output
    assert "--lr 0.01" in r.stdout and "--max-steps 8" in r.stdout and "2 evaluation(s)" in r.stdout
    assert "checkpoint: " in r.stderr and "best" in r.stderr  # a directory: it says which file it read
    d = json.loads(cli.invoke(app, ["info", str(runs / "gru" / "latest.npz"), "--json"]).stdout)
    assert d["train"]["lr"] == 0.01 and [h["step"] for h in d["history"]] == [4, 8] and d["training_seconds"] > 0


def test_the_api_compares_too(runs):
    import charrnn

    c = charrnn.compare([runs / "lstm", str(runs / "gru")])
    assert [r.name for r in c.runs] == ["lstm", "gru"] and "--model" in c.to_dict()["differing_options"]


def test_a_run_named_twice_is_one_row_and_a_damaged_log_is_reported(runs, tmp_path):
    import shutil

    c = compare([runs / "lstm", runs / "lstm" / "latest.npz", runs / "gru"])
    assert [r.name for r in c.runs] == ["lstm", "gru"] and any("same checkpoint" in n for n in c.notes)
    shutil.copytree(runs / "gru", tmp_path / "gru")
    log = tmp_path / "gru" / "metrics.jsonl"
    log.write_text(log.read_text() + "{broken\n[1, 2]\n")
    c = compare([tmp_path / "gru"])
    assert len(c.notes) == 1 and "2 damaged line(s) skipped" in c.notes[0]
    out = CliRunner().invoke(app, ["compare", str(tmp_path / "gru"), str(tmp_path / "gru")])
    assert out.exit_code == 0 and out.stderr.count("warning:") == 2 and "damaged" in out.stderr
    assert compare([runs / "lstm"]).notes == []  # a clean log: nothing to say


def test_compare_shows_a_seq2seq_run_with_exact_match_and_cer_beside_the_loss(runs, tmp_path, page):
    """A seq2seq run beside a language model: the table's exact-match columns, the text charts,
    the JSON curves and the page's exact-match chart (was: compare refused seq2seq runs)."""
    from browser import open_page
    from helpers import train_pairs

    f = tmp_path / "p.tsv"
    f.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ["ab", "abc", "ba", "cab", "bca"] * 8), encoding="utf-8")
    r = train_pairs(f, tmp_path / "s2s", {"max_steps": 4, "eval_every": 2, "batch": 4},
                    {"cell": "gru", "hidden": 4, "layers": 1})
    lm = runs / "lstm"
    out = CliRunner().invoke(app, ["compare", str(lm), str(r.out_dir), "--json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.stdout)
    s2s = [x for x in d["runs"] if x["task"] == "seq2seq"][0]
    assert [p["step"] for p in s2s["curve"]] == [2, 4]
    assert all(0 <= p["val_exact_match"] <= 1 and p["val_char_error_rate"] >= 0 for p in s2s["curve"])
    assert s2s["best_exact"] == max(p["val_exact_match"] for p in s2s["curve"])
    out = CliRunner().invoke(app, ["compare", str(lm), str(r.out_dir), "--html", str(tmp_path / "c.html")])
    assert out.exit_code == 0 and "best exact" in out.stdout and "Exact match against step" in out.stdout
    open_page(page, tmp_path / "c.html")
    page.check("input[value=exact]")
    assert page.locator("#c-step path").count() >= 1 and page.errors == []
    assert "exact match" in page.locator("#c-step").text_content()
    page.screenshot(path=str(tmp_path / "compare-seq2seq.png"), full_page=True)
