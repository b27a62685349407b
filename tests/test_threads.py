"""--threads: parsing, the auto tuner's decisions (with an injected clock: no timing), the BLAS
count set and restored, and the CLI option."""

import numpy as np
import pytest

from helpers import FakeBlas, invoke, TEXT, make_checkpoint
from charrnn.errors import UsageError
from charrnn.nn.threads import AUTO, Blas, ThreadTuner, blas_threads, parse_threads


def test_parse_threads():
    assert parse_threads("auto") == AUTO and parse_threads(" AUTO ") == AUTO
    assert parse_threads("3") == 3 and parse_threads(1) == 1
    for bad in ("0", "-1", "two", "1.5", "", "100000"):
        with pytest.raises(UsageError, match="--threads"):
            parse_threads(bad)


class Machine:
    """A fake clock: each unit of work takes `cost[n]` seconds at n threads (changeable: the load)."""

    def __init__(self, cost):
        self.cost, self.now, self.threads, self.sets = dict(cost), 0.0, None, []

    def clock(self):
        return self.now

    def set_threads(self, n):
        self.threads = n
        self.sets.append(n)

    def run(self, tuner, units):
        used = []
        for _ in range(units):
            with tuner.unit() as n:
                assert n == self.threads
                self.now += self.cost[n]
                used.append(n)
        return used


def test_auto_picks_the_faster_count_quiet_and_busy():
    quiet = Machine({1: 0.050, 2: 0.035})  # 2 threads 1.4x faster
    t = ThreadTuner(2, quiet.set_threads, quiet.clock, probe=3)
    used = quiet.run(t, 50)
    assert used[0] == 1 and used[1:7] == [2, 1, 2, 1, 2, 1]  # warm-up at 1, then alternating probes
    assert t.chosen == 2 and used[7:] == [2] * 43
    assert t.log[0][1] == 2 and t.log[0][2] == {1: 0.050, 2: 0.035}

    busy = Machine({1: 0.050, 2: 0.300})  # a CPU hog on one core: the second thread waits
    t = ThreadTuner(2, busy.set_threads, busy.clock, probe=3)
    used = busy.run(t, 50)
    assert t.chosen == 1 and used[:3] == [1, 2, 1] and used[3:] == [1] * 47  # one slow unit is enough


def test_auto_reprobes_on_schedule_and_follows_the_load():
    m = Machine({1: 0.050, 2: 0.035})
    t = ThreadTuner(2, m.set_threads, m.clock, probe=3, reprobe=1.0, budget=1.0)
    m.run(t, 50)  # about 1.9 s: one scheduled probe 1 s after the first decision
    assert [d[1] for d in t.log] == [2, 2]
    m.cost = {1: 0.050, 2: 0.200}  # the load goes up: units at 2 threads now 5.7x slower than chosen
    used = m.run(t, 10)
    first = used.index(1)  # a probe at once (after 2-3 slow units), not after 1 s
    assert first <= 3 and used[first:first + 2] == [1, 2] and used[first + 2:] == [1] * (8 - first)
    assert t.chosen == 1 and t.log[-1][1] == 1
    m.cost = {1: 0.050, 2: 0.030}  # the load goes away: found at the next scheduled probe
    m.run(t, 60)
    assert t.chosen == 2
    assert len(t.log) <= 6  # a handful of probes, not one per unit


def test_probes_back_off_while_nothing_changes():
    m = Machine({1: 0.050, 2: 0.035})
    t = ThreadTuner(2, m.set_threads, m.clock, probe=3, reprobe=1.0, reprobe_max=8.0, budget=1.0)
    m.run(t, 1500)  # about 53 s
    gaps = np.diff([d[0] for d in t.log])
    assert list(np.round(gaps[:4])) == [1, 2, 4, 8] and np.all(np.round(gaps[3:]) == 8)


def test_probes_stay_within_their_time_budget_on_a_busy_machine():
    """N threads 6x slower: each probe pays one slow unit, so probes are spaced to cost <= 3 %."""
    m = Machine({1: 0.050, 2: 0.300})
    t = ThreadTuner(2, m.set_threads, m.clock, reprobe=1.0, reprobe_max=1.0, budget=0.03)
    used = m.run(t, 20000)  # about 1,000 s
    lost = used.count(2) * (0.300 - 0.050)  # against 1 thread throughout
    assert lost / m.now < 0.03 and used.count(2) >= 5  # it still looks now and then


def test_auto_does_not_flap_on_noise_and_ties_go_to_more_threads():
    rng = np.random.default_rng(0)
    m = Machine({1: 0.05, 2: 0.05})
    t = ThreadTuner(2, m.set_threads, m.clock, probe=3, reprobe=1e9)
    m.run(t, 7)
    assert t.chosen == 2  # equal medians: more threads
    for _ in range(200):  # +-20 % noise never reaches the 1.5x re-probe trigger
        m.cost = {1: 0.05, 2: 0.05 * (1 + rng.uniform(-0.2, 0.2))}
        m.run(t, 1)
    assert len(t.log) == 1


def test_a_busy_start_runs_one_thread_and_probes_later():
    m = Machine({1: 0.050, 2: 0.035})
    t = ThreadTuner(2, m.set_threads, m.clock, probe=3, reprobe=1.0, first_probe_after=1.0)
    used = m.run(t, 40)
    assert used[:20] == [1] * 20 and t.chosen == 2 and len(t.log) == 1  # probed after 1 s, then 2


def test_start_over_probes_at_once_after_a_busy_start():
    """The training loop's handover (charrnn.nn.kernels): the tuner was made while the compiling
    child kept a core busy; once it is done, start_over(0) probes at once instead of in 30 s."""
    m = Machine({1: 0.050, 2: 0.035})
    t = ThreadTuner(2, m.set_threads, m.clock, probe=3, reprobe=30.0, first_probe_after=30.0)
    assert m.run(t, 5) == [1] * 5 and t.log == []
    t.start_over(0.0)
    used = m.run(t, 20)
    assert 2 in used[:8] and t.chosen == 2 and len(t.log) == 1


def test_one_core_means_no_probing():
    m = Machine({1: 0.05})
    t = ThreadTuner(1, m.set_threads, m.clock)
    assert m.run(t, 5) == [1] * 5 and t.log == [] and "1 thread" in t.describe()


def test_tick_and_iterate_time_units_like_unit():
    m = Machine({1: 0.05, 2: 0.15})
    t = ThreadTuner(2, m.set_threads, m.clock, probe=3)
    for _ in range(12):  # a loop with a progress callback: tick after each chunk
        t.tick()
        m.now += m.cost[m.threads]
    assert t.chosen == 1
    m2 = Machine({1: 0.15, 2: 0.05})
    t2 = ThreadTuner(2, m2.set_threads, m2.clock, probe=2)

    def chars():
        for i in range(100):
            m2.now += m2.cost[m2.threads] / 10  # 10 characters per unit
            yield i
    assert list(t2.iterate(chars(), 10)) == list(range(100))
    assert t2.chosen == 2


def test_blas_threads_sets_and_restores():
    b = FakeBlas(4)
    with blas_threads(1, b) as tuner:
        assert tuner is None and b.n == 1
    assert b.n == 4
    with blas_threads("auto", b) as tuner:
        assert isinstance(tuner, ThreadTuner) and tuner.counts == [1, 4]
        with tuner.unit():
            pass
    assert b.n == 4
    with blas_threads(None, b) as tuner:
        assert tuner is None and b.n == 4


def test_real_blas_count_is_set_through_threadpoolctl():
    blas = Blas()
    before = blas.get()
    with blas_threads(1):
        assert Blas().get() == 1
    assert Blas().get() == before


def test_cli_rejects_a_bad_thread_count(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("hello world " * 50)
    r = invoke("train", str(corpus), "--threads", "0", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "--threads" in r.output and "hint:" in r.output
    assert not (tmp_path / "o").exists()
    ckpt = make_checkpoint(tmp_path / "m.npz")
    for args in (["sample", str(ckpt)], ["evaluate", str(ckpt), str(corpus)], ["inspect-cells", str(ckpt)]):
        r = invoke(*args, "--threads", "many")
        assert r.exit_code == 2 and "--threads" in r.output, args


def test_commands_run_with_threads(tmp_path):
    """Each command with --threads: a fixed count and auto; sample's text does not depend on it."""
    text = tmp_path / "t.txt"
    text.write_text(TEXT * 8)
    ckpt = make_checkpoint(tmp_path / "m.npz")
    runs = {n: invoke("sample", str(ckpt), "--seed", "3", "--length", "50", "--threads", n)
            for n in ("1", "2", "auto")}
    assert all(r.exit_code == 0 for r in runs.values()) and len({r.stdout for r in runs.values()}) == 1
    for n in ("2", "auto"):
        r = invoke("evaluate", str(ckpt), str(text), "--json", "--threads", n)
        assert r.exit_code == 0 and '"nats_per_char"' in r.stdout
        r = invoke("inspect-cells", str(ckpt), "--text", str(text), "--json", "--threads", n)
        assert r.exit_code == 0, r.output
    before = Blas().get()
    r = invoke("train", str(text), "--out", str(tmp_path / "o"), "--max-steps", "3", "--hidden", "8",
               "--batch", "2", "--seq-len", "8", "--sample-len", "0", "--threads", "auto")
    assert r.exit_code == 0, r.output
    assert Blas().get() == before  # the BLAS count is restored after the command
    metrics = (tmp_path / "o" / "metrics.jsonl").read_text()
    assert '"val_loss"' in metrics


def test_api_takes_threads(tmp_path):
    import charrnn
    text = tmp_path / "t.txt"
    text.write_text(TEXT * 8)
    m = charrnn.load(make_checkpoint(tmp_path / "m.npz"))
    assert m.evaluate(TEXT, threads=1).nats_per_char == pytest.approx(m.evaluate(TEXT, threads="auto").nats_per_char)
    res = charrnn.train(text, tmp_path / "o", max_steps=2, hidden=8, batch=2, seq_len=8, sample_len=0, threads=1)
    assert res.step == 2
    with pytest.raises(UsageError, match="--threads"):
        charrnn.train(text, tmp_path / "o2", max_steps=2, threads=0)


def test_busy_reads_the_cores_in_use_now_not_the_load_average():
    from charrnn.nn import threads
    stats = iter([(1000, 4000), (1000 + 190, 4000 + 200)])  # 190 of 200 ticks busy on 2 cores: 1.9 in use
    assert threads.cores_in_use(2, 0.1, read=lambda: next(stats), sleep=lambda s: None) == pytest.approx(1.9)
    assert threads.busy(2, in_use=lambda c: 1.9, loadavg=lambda: (0.0,))  # full now
    assert not threads.busy(2, in_use=lambda c: 0.05, loadavg=lambda: (1.9,))  # the load average of a run that ended
    assert not threads.busy(2, in_use=lambda c: 1.0)  # a hog on one core: probe 2 threads at once
    assert threads.busy(2, in_use=lambda c: None, loadavg=lambda: (7.0,))  # no /proc/stat: the load average
    assert not threads.busy(2, in_use=lambda c: None, loadavg=lambda: (0.3,))


def test_cpu_stat_reads_proc_stat_and_tolerates_its_absence(tmp_path):
    from charrnn.nn import threads
    f = tmp_path / "stat"
    f.write_text("cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 1 2 3 4\n")
    assert threads.cpu_stat(str(f)) == (161, 981)  # idle 800 and iowait 20 are free
    assert threads.cpu_stat(str(tmp_path / "absent")) is None
    assert threads.cores_in_use(2, 0, read=lambda: None, sleep=lambda s: None) is None


def test_more_threads_than_cores_warns(capsys, monkeypatch):
    from charrnn.nn import threads
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    with blas_threads(3):
        pass
    assert "warning: --threads 3 is more than the 2 cores" in capsys.readouterr().err
    with blas_threads(2):
        pass
    assert capsys.readouterr().err == ""
