"""train --backend torch: the same step as the NumPy backend (loss and gradients to 1e-4 relative,
dropout included), the same checkpoints (read by sample, resumed by --backend numpy, resumed
exactly by --backend torch), many processes under gloo equal to one, and the one-line errors."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import ERRORS_TEXT, assert_clean_error, invoke, rel_error

import charrnn
from charrnn.engine.checkpoint import load_checkpoint

NO_TORCH = "PyTorch is not installed (pip install 'charrnn[torch]')"
SMALL = dict(hidden=12, layers=2, batch=4, seq_len=10, sample_len=0, val_frac=0.2)


def _runs(cell, corpus, dropout=0.0):
    from charrnn.tasks.lm_task import LMTask
    from charrnn.tasks.lm_torch import TorchLMTask

    train_opts = dict(batch=4, seq_len=10, val_frac=0.2, seed=3)
    model_opts = dict(cell=cell, hidden=12, layers=2, dropout=dropout, bias_init="uniform")
    out = []
    for task in (LMTask(), TorchLMTask("cpu")):
        run, _ = task.prepare(corpus, dict(train_opts), dict(model_opts))
        out.append((task, run))
    return out


@pytest.mark.parametrize("cell,dropout", [("lstm", 0.0), ("gru", 0.0), ("rnn", 0.0), ("lstm", 0.3)])
def test_first_steps_loss_and_gradients_agree_with_numpy(cell, dropout, env):
    pytest.importorskip("torch", reason=NO_TORCH)
    (np_task, np_run), (t_task, t_run) = _runs(cell, env / "ok.txt", dropout)
    for _ in range(2):  # the second step starts from the carried state
        a, b = np_task.train_step(np_run), t_task.train_step(t_run)
        assert abs(a.loss - b.loss) <= 1e-5 * abs(a.loss)
        assert a.grads.keys() == b.grads.keys()
        for name in a.grads:
            assert b.grads[name].shape == a.grads[name].shape, name
            assert rel_error(a.grads[name], b.grads[name]) < 1e-4, name
        np_task.advance(np_run, a)
        t_task.advance(t_run, b)
        for la, lb in zip(np_run.state, t_run.state):
            for x, y in zip(la, lb):
                np.testing.assert_allclose(y, x, atol=1e-5)
    assert np_run.rng.random() == t_run.rng.random()  # the same draws (dropout masks) were taken


def _params(path):
    arrays, _ = load_checkpoint(path)
    return {k: v for k, v in arrays.items() if k.startswith("param/")}


def test_torch_checkpoint_is_read_by_sample_resumed_by_numpy_and_exactly_by_torch(env):
    pytest.importorskip("torch", reason=NO_TORCH)
    corpus = env / "ok.txt"
    charrnn.train(corpus, env / "a", backend="torch", device="cpu", max_steps=6, eval_every=3, **SMALL)
    charrnn.train(corpus, env / "b", backend="torch", device="cpu", max_steps=3, eval_every=3, **SMALL)
    charrnn.train(corpus, env / "b", backend="torch", device="cpu", resume=env / "b" / "latest.npz", max_steps=6)
    whole, resumed = _params(env / "a" / "latest.npz"), _params(env / "b" / "latest.npz")
    assert all(np.array_equal(whole[k], resumed[k]) for k in whole)  # exact resume within the backend
    r = invoke("sample", env / "a" / "latest.npz", "--length", "20", "--seed", "1")
    assert r.exit_code == 0 and len(r.stdout) >= 20, r.stderr
    result = charrnn.train(corpus, env / "a", resume=env / "a" / "latest.npz", max_steps=8)  # --backend numpy
    assert result.step == 8 and result.stopped_by == "max-steps"
    assert len((env / "a" / "metrics.jsonl").read_text().splitlines()) >= 3


def test_backend_torch_without_torch_names_the_extra(env, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    r = invoke("train", "ok.txt", "--backend", "torch", "--max-steps", "1", "--quiet")
    assert_clean_error(r, 2, "PyTorch", "charrnn[torch]")


def test_cuda_without_a_gpu_is_one_line(env):
    torch = pytest.importorskip("torch", reason=NO_TORCH)
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible: --device cuda is not an error here")
    r = invoke("train", "ok.txt", "--backend", "torch", "--device", "cuda", "--max-steps", "1", "--quiet")
    assert_clean_error(r, 2, "--device cuda", "--device cpu")


def test_bad_device_and_device_without_torch_backend(env):
    r = invoke("train", "ok.txt", "--device", "cpu", "--max-steps", "1", "--quiet")
    assert_clean_error(r, 2, "--device", "--backend torch")


def test_numpy_backend_under_torchrun_is_one_line(env, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    r = invoke("train", "ok.txt", "--max-steps", "1", "--quiet")
    assert_clean_error(r, 2, "single-process", "--backend torch")


# ------------------------------------------------------------------ many processes (gloo)
WORKER = """
import json, sys
import charrnn
from charrnn.engine.loop import Reporter
class Losses(Reporter):
    def __init__(self): self.losses = []
    def step(self, run, record): self.losses.append(record["train_loss"])
rep = Losses()
charrnn.train(sys.argv[1], sys.argv[2], backend="torch", device="cpu", max_steps=20, eval_every=10, reporter=rep,
              threads=1, hidden=12, layers=2, batch=4, seq_len=10, sample_len=0, val_frac=0.2, seed=5)
json.dump(rep.losses, open(sys.argv[3], "w"))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_with_half_the_batch_equal_one_rank_with_all_of_it(env):
    pytest.importorskip("torch", reason=NO_TORCH)
    corpus, port = env / "ok.txt", str(_free_port())
    base = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(Path(charrnn.__file__).parent.parent)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(corpus), str(env / "two"), str(env / f"r{r}.json")],
                              env={**base, "RANK": str(r), "WORLD_SIZE": "2", "LOCAL_RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for r in range(2)]
    sys_argv = sys.argv
    try:  # one rank with the whole batch, here (torch is imported already) while the two start
        sys.argv = ["-c", str(corpus), str(env / "one"), str(env / "one.json")]
        exec(WORKER, {})
    finally:
        sys.argv = sys_argv
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    losses = [json.loads((env / name).read_text()) for name in ("one.json", "r0.json", "r1.json")]
    assert len(losses[0]) == 20
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    assert losses[1] == losses[2]  # every rank reports the group's loss
    a, b = _params(env / "one" / "latest.npz"), _params(env / "two" / "latest.npz")
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-4, atol=1e-5, err_msg=k)
    assert sorted(p.name for p in (env / "two").iterdir() if not p.name.startswith(".")) == \
        sorted(p.name for p in (env / "one").iterdir() if not p.name.startswith("."))  # rank 0 wrote; 1 did not clash


def test_the_numpy_backend_never_imports_torch(env):
    code = ("import sys, charrnn, charrnn.cli\n"
            "charrnn.train('ok.txt', 'out', max_steps=1, hidden=8, layers=1, batch=2, seq_len=8, sample_len=0)\n"
            "charrnn.load('out').sample(5, seed=1)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(Path(charrnn.__file__).parent.parent)})
    assert r.returncode == 0, r.stderr


def test_a_batch_that_does_not_divide_among_the_ranks_is_one_line(env, monkeypatch):
    pytest.importorskip("torch", reason=NO_TORCH)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    r = invoke("train", "ok.txt", "--backend", "torch", "--device", "cpu", "--batch", "3", "--max-steps", "1", "--quiet")
    assert_clean_error(r, 2, "--batch 3", "2 processes", "--batch 2")


def test_resuming_on_another_number_of_processes_warns(env):
    pytest.importorskip("torch", reason=NO_TORCH)
    from charrnn.engine.checkpoint import save_checkpoint
    from charrnn.engine.loop import Reporter

    class Warnings(Reporter):
        said = []

        def summary(self, run, warnings):
            self.said.extend(warnings)

    charrnn.train(env / "ok.txt", env / "a", backend="torch", device="cpu", max_steps=2, **SMALL)
    arrays, meta = load_checkpoint(env / "a" / "latest.npz")
    assert meta["world_size"] == 1
    save_checkpoint(env / "a" / "latest.npz", arrays, {**meta, "world_size": 2})  # as if 2 ranks had written it
    charrnn.train(env / "ok.txt", env / "a", backend="torch", device="cpu", resume=env / "a" / "latest.npz",
                  max_steps=3, reporter=Warnings())
    assert any("saved by 2 process(es) and continues on 1" in w for w in Warnings.said), Warnings.said


def test_backend_torch_with_another_task_is_one_line(env):
    pytest.importorskip("torch", reason=NO_TORCH)
    (env / "p.tsv").write_text("ab\tba\n" * 20, encoding="utf-8")
    r = invoke("train", "p.tsv", "--task", "seq2seq", "--backend", "torch", "--max-steps", "1", "--quiet")
    assert_clean_error(r, 2, "--backend torch", "language models only")
