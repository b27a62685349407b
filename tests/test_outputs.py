"""Issue 27, items 1 and 2: every write goes through charrnn.outputs.atomic_write, which writes a
device, FIFO or socket in place, follows a symlink to write its target atomically, and refuses a
directory; no output of a command may be one of its inputs (nothing is written then)."""

import os
import socket
import stat
import threading

import numpy as np
import pytest

from charrnn.data.corpus import load_corpus
from charrnn.engine.checkpoint import load_checkpoint, save_checkpoint
from charrnn.errors import CharRNNError
from charrnn.outputs import atomic_write, write_output
from helpers import TEXT, assert_clean_error, invoke, make_checkpoint


def _through_fifo(tmp_path, write) -> tuple:
    """A FIFO at tmp_path/pipe with a reader thread; write(fifo), then (fifo, the bytes read)."""
    fifo, got = tmp_path / "pipe", []
    os.mkfifo(fifo)

    def read():
        with open(fifo, "rb") as f:
            got.append(f.read())
    reader = threading.Thread(target=read)
    reader.start()
    write(fifo)
    reader.join(5)
    return fifo, got


def test_a_fifo_is_written_in_place_not_replaced(tmp_path):
    fifo, got = _through_fifo(tmp_path, lambda fifo: atomic_write(fifo, lambda f: f.write(b"through the pipe")))
    assert got == [b"through the pipe"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]  # no temporary file left


def test_a_checkpoint_goes_through_a_fifo_as_a_whole_npz(tmp_path):
    fifo, got = _through_fifo(tmp_path, lambda fifo: save_checkpoint(fifo, {"a": np.arange(3.0)}, {"step": 7}))
    (tmp_path / "copy.npz").write_bytes(got[0])
    arrays, meta = load_checkpoint(tmp_path / "copy.npz")
    assert meta["step"] == 7 and arrays["a"].tolist() == [0.0, 1.0, 2.0]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_socket_is_not_replaced_and_the_error_is_one_line(tmp_path):
    path = tmp_path / "sock"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(path))
        with pytest.raises(CharRNNError, match="cannot write --html .*sock"):
            write_output(path, lambda f: f.write(b"x"), "--html")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        s.close()


def test_a_symlink_is_followed_and_its_target_written_atomically_beside_itself(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    target = tmp_path / "b" / "page.html"
    target.write_text("old")
    middle = tmp_path / "b" / "middle.html"
    middle.symlink_to(target)
    link = tmp_path / "a" / "link.html"
    link.symlink_to(middle)  # a chain of two links
    seen = []

    def write(f):
        seen.append(os.path.dirname(os.readlink(f"/proc/self/fd/{f.fileno()}")))
        f.write(b"new")
    atomic_write(link, write)
    assert link.is_symlink() and middle.is_symlink() and os.readlink(link) == str(middle)
    assert target.read_text() == "new" and not target.is_symlink()
    assert seen == [str(tmp_path / "b")]  # the temporary file sat beside the target
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["link.html"]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["middle.html", "page.html"]


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "real.npz")
    save_checkpoint(link, {"a": np.zeros(2)}, {"step": 1})
    assert link.is_symlink() and load_checkpoint(tmp_path / "real.npz")[1]["step"] == 1


def test_a_directory_is_a_one_line_error(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_write(tmp_path / "d", lambda f: f.write(b"x"))
    with pytest.raises(CharRNNError, match="cannot write --dump"):
        write_output(tmp_path / "d", lambda f: f.write(b"x"), "--dump")
    assert (tmp_path / "d").is_dir()


@pytest.mark.skipif(not os.path.exists("/dev/null") or not stat.S_ISCHR(os.stat("/dev/null").st_mode),
                    reason="no character device /dev/null here")
def test_html_to_dev_null_leaves_the_device_a_device(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    ck = make_checkpoint(tmp_path / "m.npz", text=TEXT, hidden=4, layers=1)
    r = invoke("inspect-cells", ck, "--text", _text(tmp_path), "--html", "/dev/null", "--excerpt", "0")
    assert r.exit_code == 0, r.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def _text(tmp_path):
    p = tmp_path / "text.txt"
    p.write_text(TEXT * 8, encoding="utf-8")
    return p


# ------------------------------------------------------------------ outputs never overwrite inputs
@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """A checkpoint in a run directory (latest.npz, best.npz, metrics.jsonl) whose corpus is a file."""
    monkeypatch.setenv("CHARRNN_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT * 8, encoding="utf-8")
    run = tmp_path / "run"
    c = load_corpus(corpus)
    ck = make_checkpoint(run / "latest.npz", text=TEXT, hidden=4, layers=1,
                         corpus={"path": str(corpus), "sha256": c.sha256, "n_chars": c.n_chars})
    (run / "best.npz").write_bytes(ck.read_bytes())
    (run / "metrics.jsonl").write_text('{"step": 1, "val_loss": 3.0, "train_loss": 3.0, "elapsed": 1.0}\n')
    return run, corpus


def _snapshot(*paths):
    return {p: p.read_bytes() for p in paths}


@pytest.mark.parametrize("args, needle", [
    (["inspect-cells", "{run}/latest.npz", "--dump", "{run}/latest.npz"], "the checkpoint read"),
    (["inspect-cells", "{run}/latest.npz", "--html", "{corpus}"], "the corpus the checkpoint was trained on"),
    (["inspect-cells", "{run}/latest.npz", "--html", "{run}/best.npz"], "the run's best.npz"),
    (["inspect-cells", "{run}/latest.npz", "--text", "{corpus}", "--dump", "{corpus}"], "{corpus}"),
    (["inspect-cells", "{run}/latest.npz", "--html", "{run}/x.html", "--dump", "{run}/x.html"], "same file"),
    (["inspect-memory", "{run}/latest.npz", "--html", "{run}/latest.npz"], "the checkpoint read"),
    (["inspect-memory", "{run}/latest.npz", "--dump", "{run}/metrics.jsonl"], "metrics.jsonl"),
    (["compare", "{run}", "--html", "{run}/best.npz"], "the run's best.npz"),
    (["compare", "{run}/latest.npz", "--html", "{run}/metrics.jsonl"], "metrics.jsonl"),
    (["train", "{run}/metrics.jsonl", "--out", "{run}", "--overwrite", "--max-steps", "1"], "the corpus"),
    (["train", "{corpus}", "--out", "{run}", "--overwrite", "--init-from", "{run}/best.npz", "--max-steps", "1"],
     "--init-from"),
])
def test_an_output_that_is_an_input_is_refused_and_nothing_is_written(run_dir, args, needle):
    run, corpus = run_dir
    files = [run / "latest.npz", run / "best.npz", run / "metrics.jsonl", corpus]
    before = _snapshot(*files)
    fill = {"run": run, "corpus": corpus}
    r = invoke(*(a.format(**fill) for a in args))
    assert_clean_error(r, 2, needle.format(**fill))
    assert _snapshot(*files) == before
    assert sorted(p.name for p in run.iterdir()) == ["best.npz", "latest.npz", "metrics.jsonl"]


def test_an_output_hard_linked_or_symlinked_to_an_input_is_refused(run_dir, tmp_path):
    run, corpus = run_dir
    os.link(corpus, tmp_path / "hard.txt")
    (tmp_path / "soft.html").symlink_to(run / "latest.npz")
    before = _snapshot(run / "latest.npz", corpus)
    for out in ("hard.txt", "soft.html"):
        r = invoke("inspect-cells", run / "latest.npz", "--html", tmp_path / out)
        assert_clean_error(r, 2, "destroy an input")
    assert _snapshot(run / "latest.npz", corpus) == before
