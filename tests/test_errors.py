"""Bad input: every case is one clear `error:` line on stderr (plus a hint), the right exit
code (2 usage, 1 otherwise), nothing on stdout and never a traceback; when a clean-up fails after an
error, the first error still wins (the clean-up adds at most a note). Table-driven through CliRunner."""

import errno
import json
import os
import pickle
import tempfile

import numpy as np
import pytest

from charrnn.data import corpus as corpus_mod
from charrnn.errors import CheckpointError
from charrnn.engine import checkpoint
from charrnn.engine.lock import RunLock
from charrnn.engine.trained import load_trained
from helpers import ERRORS_TEXT as TEXT, TRAIN, assert_clean_error, invoke, make_checkpoint, s2s  # noqa: F401 (s2s: a fixture)

IS_ROOT = os.geteuid() == 0


def assert_click_error(r, option):
    """Option type errors reported by Typer itself: exit 2, the option named, no traceback."""
    assert r.exit_code == 2, r.stderr
    assert "Traceback" not in r.stdout + r.stderr and r.stdout == ""
    assert option in r.stderr


# ------------------------------------------------------------------------------------- corpus
def _file(data):
    def make(d):
        p = d / "c.txt"
        p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        return p
    return make


CORPUS_CASES = [
    ("missing", lambda d: d / "nope.txt", [], 2, ["does not exist", "check the path"]),
    ("directory", lambda d: d, [], 2, ["is a directory", "cat a.txt b.txt"]),
    ("empty", _file(b""), [], 1, ["is empty"]),
    ("whitespace only", _file(" \n\t\r\n   \n"), [], 1, ["only whitespace"]),
    ("bom only", _file(b"\xef\xbb\xbf"), [], 1, ["no characters"]),
    ("shorter than seq_len + 1", _file("abcdefg"), ["--seq-len", "8"], 1, ["fewer than one batch", "--seq-len"]),
    ("shorter than one batch", _file("x" * 40), ["--batch", "8"], 1, ["fewer than one batch", "--batch"]),
    ("invalid utf-8", _file(b"hello\xffworld" * 30), [], 1,
     ["not valid UTF-8", "offset 5", "--encoding-errors replace"]),
    ("invalid utf-8 late", _file(TEXT.encode() + b"\xc3\x28"), [], 1, [f"offset {len(TEXT.encode()):,}"]),
    ("binary (NUL)", _file(b"PK\x03\x04\x00\x00binary\x00" * 50), [], 1, ["binary", "NUL", "plain-text"]),
    ("utf-16", _file(TEXT.encode("utf-16")), [], 1, ["binary"]),
    ("ignore leaves nothing", _file(b"\xff\xfe\xfa" * 10), ["--encoding-errors", "ignore"], 1, ["no characters"]),
]


@pytest.mark.parametrize("name,make,extra,code,needles", CORPUS_CASES, ids=[c[0] for c in CORPUS_CASES])
def test_bad_corpus(env, name, make, extra, code, needles):
    r = invoke("train", make(env), "--out", env / "out", *TRAIN, *extra)
    assert_clean_error(r, code, *needles)
    assert not (env / "out" / "latest.npz").exists()


def test_lossy_mode_reads_invalid_utf8(env):
    p = env / "bad.txt"
    p.write_bytes(TEXT.encode() + b"\xff\xfe" + TEXT.encode())
    r = invoke("train", p, "--out", env / "out", *TRAIN, "--encoding-errors", "replace")
    assert r.exit_code == 0, r.stderr
    assert "\ufffd" in load_trained(env / "out" / "latest.npz").vocab


@pytest.mark.skipif(IS_ROOT, reason="root can read a chmod 000 file")
def test_unreadable_corpus_chmod(env):
    p = env / "secret.txt"
    p.write_text(TEXT)
    p.chmod(0)
    try:
        assert_clean_error(invoke("train", p, "--out", env / "out", *TRAIN), 1, "permission denied", "chmod +r")
    finally:
        p.chmod(0o644)


def test_unreadable_corpus_simulated(env, monkeypatch):
    """The same case for any user (root included): opening the file is denied."""
    def denied(path, *a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    monkeypatch.setattr(corpus_mod, "open", denied, raising=False)
    assert_clean_error(invoke("train", env / "ok.txt", "--out", env / "out", *TRAIN), 1,
                       "permission denied", "chmod +r")


def test_validation_split_smaller_than_one_batch_is_reported(env):
    """Smaller than one batch but usable: training runs and says so on stderr."""
    r = invoke("train", env / "ok.txt", "--out", env / "out", *TRAIN[:-1], "--val-frac", "0.01")
    assert r.exit_code == 0, r.stderr
    assert "validation split" in r.stderr and "--val-frac" in r.stderr


@pytest.mark.parametrize("frac", ["0.0001", "0.0008"])
def test_validation_split_too_small_to_evaluate_is_an_error(env, frac):
    r = invoke("train", env / "ok.txt", "--out", env / "out", *TRAIN, "--val-frac", frac)
    assert_clean_error(r, 1, "validation", "--val-frac")


# ------------------------------------------------------------------------------------ options
OPTION_CASES = [
    ("--hidden", "0"), ("--hidden", "-3"), ("--hidden", "1000000"), ("--layers", "0"), ("--layers", "99"),
    ("--batch", "0"), ("--batch", "-1"), ("--batch", "10000000"), ("--seq-len", "0"), ("--seq-len", "-5"),
    ("--seq-len", "10000000"), ("--lr", "0"), ("--lr", "-1"), ("--lr", "nan"), ("--lr", "inf"), ("--lr", "100"),
    ("--clip", "-1"), ("--clip", "nan"), ("--clip", "1e300"), ("--dropout", "1"), ("--dropout", "-0.1"),
    ("--dropout", "1.5"), ("--forget-bias", "nan"), ("--forget-bias", "50"), ("--val-frac", "0"), ("--val-frac", "1"), ("--val-frac", "-0.2"), ("--val-frac", "1.5"),
    ("--eval-every", "0"), ("--max-steps", "0"), ("--epochs", "0"), ("--epochs", "-1"), ("--patience", "0"),
    ("--momentum", "1"), ("--lr-decay", "0"), ("--lr-decay", "2"), ("--lr-decay-every", "-1"), ("--seed", "-1"),
    ("--dtype", "float16"), ("--time", "soon"), ("--time", "0s"), ("--time", "-5m"), ("--time", "10x"),
    ("--time", ""), ("--time", "1h30"),
]


@pytest.mark.parametrize("option,value", OPTION_CASES, ids=[f"{o}={v}" for o, v in OPTION_CASES])
def test_bad_option_values_are_rejected_before_any_work(env, option, value):
    pairs = dict(zip(TRAIN[:-1:2], TRAIN[1::2]))  # (no option given twice)
    pairs.pop(option, None)
    args = [x for kv in pairs.items() for x in kv]
    r = invoke("train", env / "ok.txt", "--out", env / "out", *args, option, value)
    assert_clean_error(r, 2, option)
    assert not (env / "out").exists()


TYPE_CASES = [("--hidden", "abc"), ("--lr", "fast"), ("--model", "transformer"), ("--optimizer", "adamw"),
              ("--encoding-errors", "bogus"), ("--lr-decay-unit", "week"), ("--batch", "2.5")]


@pytest.mark.parametrize("option,value", TYPE_CASES, ids=[f"{o}={v}" for o, v in TYPE_CASES])
def test_unparseable_options_and_unknown_names(env, option, value):
    r = invoke("train", env / "ok.txt", "--out", env / "out", option, value)
    assert_click_error(r, option)
    assert value in r.stderr or option in ("--batch", "--hidden", "--lr")
    assert not (env / "out").exists()


def test_unparseable_options_are_one_error_line(env):
    assert_clean_error(invoke("train", env / "ok.txt", "--model", "transformer"), 2, "--model")


def test_debug_shows_the_traceback(env):
    r = invoke("--debug", "train", env / "nope.txt")
    assert r.exit_code == 2 and "Traceback" in r.stderr and "error: file " in r.stderr


# -------------------------------------------------------------------------------- checkpoints
class Boom:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):  # unpickling this would create the marker file
        return (open, (self.marker, "w"))


def _meta_bytes(**over):
    return np.frombuffer(json.dumps({"format": "charrnn", "format_version": 1, **over}).encode(), np.uint8)


def _bad_checkpoint(kind, d):
    good = make_checkpoint(d / "good.npz", text=TEXT, hidden=8, layers=1)
    p = d / f"{kind.replace(' ', '_')}.npz"
    data = good.read_bytes()
    if kind == "truncated":
        p.write_bytes(data[: len(data) * 2 // 3])
    elif kind == "corrupted":
        b = bytearray(data)
        for i in range(300, len(b) // 2, 61):  # inside the stored arrays: the CRC check catches it
            b[i] ^= 0xFF
        p.write_bytes(bytes(b))
    elif kind == "not a checkpoint (text)":
        p.write_text("just some text\n")
    elif kind == "npz without __meta__":
        np.savez(p, weights=np.zeros(3))
    elif kind == "newer format version":
        make_checkpoint(p, text=TEXT, hidden=8, layers=1, format_version=99)
    elif kind == "pickled object array":
        np.savez(p, __meta__=_meta_bytes(), evil=np.array([Boom(d / "PWNED")], dtype=object))
    elif kind == "raw pickle":
        p.write_bytes(pickle.dumps(Boom(d / "PWNED")))
    elif kind == "nan weights":
        t = load_trained(good)
        params = {k: v.copy() for k, v in t.params.items()}
        params["Wy"][0, 0] = np.nan
        make_checkpoint(p, text=TEXT, hidden=8, layers=1, params=params)
    elif kind == "wrong parameter shape":
        t = load_trained(good)
        make_checkpoint(p, text=TEXT, hidden=8, layers=1, params={**t.params, "by": np.zeros(3, np.float32)})
    return p


CKPT_CASES = [
    ("missing", ["does not exist"]), ("truncated", ["truncated or corrupted"]),
    ("corrupted", ["truncated or corrupted"]), ("not a checkpoint (text)", ["not a charrnn checkpoint"]),
    ("npz without __meta__", ["not a charrnn checkpoint"]), ("newer format version", ["format 99", "upgrade"]),
    ("pickled object array", ["pickled", "refuses"]), ("raw pickle", ["pickle", "refuses"]),
    ("nan weights", ["NaN"]), ("wrong parameter shape", ["parameter by"]),
]


@pytest.mark.parametrize("how", ["--resume", "--init-from"])
@pytest.mark.parametrize("kind,needles", CKPT_CASES, ids=[c[0] for c in CKPT_CASES])
def test_bad_checkpoints_are_refused(env, kind, needles, how):
    p = env / "missing.npz" if kind == "missing" else _bad_checkpoint(kind, env)
    r = invoke("train", env / "ok.txt", "--out", env / "out", *TRAIN, how, p)
    assert_clean_error(r, 2 if kind == "missing" else 1, str(p), *needles)
    assert not (env / "PWNED").exists(), "a pickled object was executed"
    assert not (env / "out" / "latest.npz").exists()


def test_crafted_pickle_really_runs_code_when_unpickled(env):
    """Control for the rows above: the raw-pickle file would create the marker if it were unpickled."""
    p = _bad_checkpoint("raw pickle", env)
    pickle.loads(p.read_bytes()).close()
    assert (env / "PWNED").exists()


def test_checkpoint_with_malformed_model_metadata(env):
    p = make_checkpoint(env / "m.npz", text=TEXT, hidden=8, layers=1, model=[1, 2])
    with pytest.raises(CheckpointError):
        load_trained(p)


@pytest.fixture
def trained_run(env):
    r = invoke("train", env / "ok.txt", "--out", env / "run", *TRAIN)
    assert r.exit_code == 0, r.stderr
    return env / "run" / "latest.npz"


def test_resume_with_a_different_model_is_a_usage_error(env, trained_run):
    r = invoke("train", env / "ok.txt", "--out", env / "run", "--resume", trained_run, "--hidden", "16",
               "--max-steps", "3", "--quiet")
    assert_clean_error(r, 2, "--hidden 16", "does not match")
    r = invoke("train", env / "ok.txt", "--out", env / "run", "--resume", trained_run, "--model", "gru",
               "--max-steps", "3", "--quiet")
    assert_clean_error(r, 2, "--model")
    assert load_trained(trained_run).meta["step"] == 2


def test_init_from_with_an_incompatible_vocabulary(env, trained_run):
    korean = env / "ko.txt"
    korean.write_text("안녕하세요 세계\n" * 100, encoding="utf-8")
    r = invoke("train", korean, "--out", env / "ft", *TRAIN, "--init-from", trained_run)
    assert_clean_error(r, 1, "does not know", "'안'")


def test_resume_and_init_from_together(env, trained_run):
    r = invoke("train", env / "ok.txt", "--out", env / "x", "--resume", trained_run, "--init-from", trained_run)
    assert_clean_error(r, 2, "--resume and --init-from")


# ------------------------------------------------------------------- a checkpoint of the wrong kind
@pytest.mark.parametrize("command", [["sample"], ["sample", "--temp", "0"], ["inspect-cells"],
                                     ["inspect-memory"]])  # (compare shows seq2seq runs: test_compare)
def test_seq2seq_checkpoint_in_lm_commands_is_a_usage_error(s2s, command):
    args = [s2s if a == "SELF" else a for a in command]
    out = invoke(args[0], s2s, *args[1:])
    assert out.exit_code == 2, out.output
    assert out.stderr.startswith("error: ") and "seq2seq" in out.stderr and "hint: " in out.stderr
    assert out.stdout == "" and "seed" not in out.stderr  # nothing before the error


def test_seq2seq_checkpoint_as_init_from_is_a_usage_error(s2s, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("hello world, hello there. " * 200, encoding="utf-8")
    out = invoke("train", text, "--init-from", s2s, "--out", tmp_path / "o", "--max-steps", "1")
    assert out.exit_code == 2 and "seq2seq" in out.stderr and "hint: " in out.stderr, out.output


# ------------------------------------------------------------------------------------- output
def test_output_path_under_a_file(env):
    (env / "afile").write_text("x")
    assert_clean_error(invoke("train", env / "ok.txt", "--out", env / "afile" / "sub", *TRAIN), 1,
                       "cannot use", "--out")


def test_output_is_an_existing_file(env):
    (env / "afile").write_text("x")
    assert_clean_error(invoke("train", env / "ok.txt", "--out", env / "afile", *TRAIN), 2, "--out", "is a file, not a directory")


@pytest.mark.skipif(IS_ROOT, reason="root can write into a read-only directory")
def test_output_directory_not_writable(env):
    ro = env / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert_clean_error(invoke("train", env / "ok.txt", "--out", ro / "run", *TRAIN), 1,
                           "permission denied", "--out")
    finally:
        ro.chmod(0o755)


def test_output_directory_not_writable_simulated(env, monkeypatch):
    from charrnn.engine import rundir as run_mod

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(run_mod.os, "open", denied)  # the lock file cannot be created
    assert_clean_error(invoke("train", env / "ok.txt", "--out", env / "out", *TRAIN), 1,
                       "permission denied", "--out")


def test_disk_full_while_saving_keeps_the_previous_checkpoint(env, monkeypatch):
    real, calls = np.savez, []

    def savez(f, **payload):
        calls.append(1)
        if len(calls) > 2:  # step 1 writes latest + best; the next save finds the disk full
            f.write(b"PK\x03\x04 partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(f, **payload)
    monkeypatch.setattr(np, "savez", savez)
    r = invoke("train", env / "ok.txt", "--out", env / "out", *TRAIN, "--max-steps", "5")
    assert_clean_error(r, 1, "disk is full", "previous checkpoint is intact", "free some space")
    monkeypatch.undo()
    t = load_trained(env / "out" / "latest.npz")
    assert t.meta["step"] == 1
    # (.lock stays: an OS lock's file is never removed, see runlock.py)
    assert sorted(p.name for p in (env / "out").iterdir()) == [".lock", "best.npz", "latest.npz", "metrics.jsonl"]


@pytest.mark.parametrize("cleanup_fails", [False, True])
def test_a_checkpoint_that_cannot_be_written_is_the_error_shown(env, monkeypatch, cleanup_fails):
    """The output directory turns read-only after the first checkpoint: every write and removal
    there fails with EROFS. The user sees the checkpoint message, not the clean-up's OSError."""
    out = (env / "run").resolve()
    real_mkstemp, real_unlink, saves = tempfile.mkstemp, os.unlink, []

    def read_only():
        return len(saves) >= 2  # latest.npz and best.npz of step 1 were written

    def mkstemp(*a, dir=None, **k):
        if read_only() and os.path.abspath(dir).startswith(str(out)):
            raise OSError(errno.EROFS, "Read-only file system")
        saves.append(1)
        return real_mkstemp(*a, dir=dir, **k)

    def unlink(path, *a, **k):
        if read_only() and str(os.path.abspath(path)).startswith(str(out)):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_unlink(path, *a, **k)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "unlink", unlink)
    if cleanup_fails:  # releasing the lock itself fails too: one more line, the same error first
        def broken(self):
            raise OSError(errno.EROFS, "Read-only file system", str(self.path))
        monkeypatch.setattr(RunLock, "release", broken)
    r = invoke("train", "ok.txt", "--out", "run", *TRAIN, "--max-steps", "4")
    lines = [x for x in r.stderr.splitlines() if not x.startswith("warning:")]
    assert r.exit_code == 1 and "Traceback" not in r.stderr
    assert lines[0].startswith("error: could not write checkpoint") and "previous checkpoint is intact" in lines[0]
    assert lines[1].startswith("hint:")
    if cleanup_fails:
        assert len(lines) == 3 and lines[2].startswith("note: also: could not release the lock")
    else:
        assert len(lines) == 2


# --------------------------------------------------------------------------------------- sample
# ------------------------------------------------------------------------------------- sample
SAMPLE_CASES = [
    ("temperature < 0", ["--temp", "-0.5"], 2, ["--temp"]),
    ("top-k < 1", ["--top-k", "0"], 2, ["--top-k"]),
    ("top-p = 0", ["--top-p", "0"], 2, ["--top-p"]),
    ("top-p < 0", ["--top-p", "-0.1"], 2, ["--top-p"]),
    ("top-p > 1", ["--top-p", "1.5"], 2, ["--top-p"]),
    ("length < 0", ["--length", "-1"], 2, ["--length"]),
    ("prime outside the vocabulary", ["--prime", "def 한"], 2, ["U+D55C"]),
]


@pytest.mark.parametrize("args,code,needles", [c[1:] for c in SAMPLE_CASES], ids=[c[0] for c in SAMPLE_CASES])
def test_bad_sample_options(env, args, code, needles):
    make_checkpoint(env / "m.npz", text=TEXT)
    assert_clean_error(invoke("sample", env / "m.npz", "--length", "5", *args), code, *needles)


def test_sample_without_any_checkpoint_says_to_train_first(env):
    assert_clean_error(invoke("sample"), 1, "no checkpoint found", "charrnn train")


@pytest.mark.parametrize("content", [b"PK\x03\x04 truncated", pickle.dumps({"a": 1})], ids=["corrupt", "pickle"])
def test_sample_refuses_bad_checkpoints(env, content):
    (env / "bad.npz").write_bytes(content)
    assert_clean_error(invoke("sample", env / "bad.npz"), 1, "bad.npz")


def test_exploding_gradients_stop_training_with_a_message_and_no_numpy_warnings(env, monkeypatch, recwarn):
    from charrnn.tasks import lm as model

    real = model.loss_and_grads

    def exploding(*args, **kwargs):  # gradients near float32's limit: their squared norm overflows
        loss, grads, state = real(*args, **kwargs)
        return loss, {k: g + np.float32(1e30) for k, g in grads.items()}, state
    monkeypatch.setattr(model, "loss_and_grads", exploding)
    r = invoke("train", env / "ok.txt", "--out", env / "run", *TRAIN)
    assert_clean_error(r, 1, "diverged", "gradient norm", "--lr")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in recwarn]
