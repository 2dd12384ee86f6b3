"""Time limits (mfcheck.app.limits): a call of the implementation that does not return is stopped
at the per-call limit (exit 125), a run at the overall limit (exit 124), with one line on stderr
and no worker process left behind; a step's own ``except Exception:`` cannot swallow either.

The step that hangs is :func:`gate_steps.sleepy` (a minute, so every test that waits for less
shows a limit at work)."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import gate_steps
import mfcheck
from mfcheck.app.cli import main
from mfcheck.app.gate.protocol import CallTimeLimitExceeded, as_rule, checked
from mfcheck.app.interrupts import exit_code, stopped_by
from mfcheck.app.limits import CALL_TIME_LIMIT_EXCEEDED, TIME_LIMIT_EXCEEDED, TimeLimitExceeded, limited, time_limit
from mfcheck.runtime.cache import fingerprint
from mfcheck.runtime.executors import Execution, map_cells, started

ROOT = Path(mfcheck.__file__).resolve().parent.parent
GATE = ["gate", "--tier", "smoke", "--claims", "azuma", "--executor", "serial", "--quiet", "--no-cache"]


def _call(step):
    """One protocol call of ``step`` on zeros, θ of shape (2, 3, 1) (``sleepy`` never looks at them)."""
    return step(np.zeros((2, 3, 1)), np.zeros((2, 1)), np.zeros(2), 0.1, None)


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs (one that ended but is not yet reaped, a zombie, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    if not os.path.isdir("/proc"):
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # ended meanwhile
        return False


def _none_running(folders, timeout: float = 10.0) -> list[int]:
    """Of the pids that :func:`gate_steps.step_cell` left in ``folders``, those still running after ``timeout`` seconds."""
    pids = [int(p.name) for folder in folders for p in folder.iterdir()]
    assert pids, "no cell started"
    deadline = time.monotonic() + timeout
    while any(map(_running, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if _running(p)]


def test_a_call_over_the_limit_is_stopped_and_the_alarm_restored():
    step = checked(gate_steps.sleepy, call_time_limit=0.5)
    previous = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    with pytest.raises(CallTimeLimitExceeded) as info:
        _call(step)
    assert time.monotonic() - start < 5  # sleepy swallows every Exception: only the BaseException of the limit ends it
    message = str(info.value)
    assert message.startswith("sleepy did not return within 0.5 s (called with theta (2, 3, 1), x (2, 1), s=0.1, noise None")
    assert "--call-time-limit SECONDS" in message and "call_time_limit=" in message
    assert signal.getsignal(signal.SIGALRM) is previous and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_running_alarm_is_left_as_it_was():
    """A timer set by someone else (pytest-timeout's, say) keeps its handler and what it had left."""
    def handler(signum, frame):
        raise AssertionError("the previous alarm fired during the test")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 30.0)
    try:
        assert _call(checked(gate_steps.still, call_time_limit=5.0)).shape == (2, 3, 1)
        assert signal.getsignal(signal.SIGALRM) is handler
        assert 20.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_no_limit_is_armed_outside_a_main_thread():
    """As in a dask worker's task thread: there only the overall limit applies."""
    outcome = []

    def run():
        with limited(0.1, lambda: AssertionError("armed in a thread")):
            time.sleep(0.3)
        outcome.append("returned")

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert outcome == ["returned"]


def test_the_limit_is_not_part_of_the_cache_key():
    """A run with a raised limit reads the cells an earlier run cached."""
    keys = {fingerprint(as_rule(gate_steps.still, limit)) for limit in (1.0, 60.0, None)}
    assert len(keys) == 1 and fingerprint(as_rule(gate_steps.sleepy)) not in keys


def test_a_call_over_the_limit_in_a_joblib_worker_reaches_the_caller_and_no_worker_survives(tmp_path):
    fn = functools.partial(gate_steps.step_cell, str(tmp_path), checked(gate_steps.sleepy, call_time_limit=0.5))
    with pytest.raises(CallTimeLimitExceeded, match=r"sleepy did not return within 0\.5 s \(called with theta \(2, [34], 1\)"):
        map_cells(fn, [3, 4], execution=Execution("joblib", workers=2), progress=False)
    assert _none_running([tmp_path]) == []


def test_the_time_limit_stops_a_run_waiting_on_its_workers(tmp_path):
    """The watchdog's signal wakes the main thread blocked on the workers; they are killed. The
    workers are started first (``warm``), so that the limit finds them computing."""
    warm, hung = tmp_path / "warm", tmp_path / "hung"
    warm.mkdir()
    hung.mkdir()
    start = time.monotonic()
    with pytest.raises(TimeLimitExceeded), started(Execution("joblib", workers=2)) as running:
        map_cells(functools.partial(gate_steps.step_cell, str(warm), gate_steps.still), [3, 4], execution=running, progress=False)
        with time_limit(2.0):
            map_cells(functools.partial(gate_steps.step_cell, str(hung), gate_steps.sleepy), [3, 4], execution=running, progress=False)
    assert time.monotonic() - start < gate_steps.SLEEP / 2
    assert list(hung.iterdir()) and _none_running([warm, hung]) == []
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_the_time_limit_is_an_interrupt_with_its_own_code_and_words():
    assert (TIME_LIMIT_EXCEEDED, CALL_TIME_LIMIT_EXCEEDED) == (124, 125)
    assert exit_code(TimeLimitExceeded(2.0)) == 124
    assert stopped_by(TimeLimitExceeded(2.0)) == "stopped at the time limit of 2 s (--time-limit)"


def test_gate_exits_125_with_one_line_at_the_call_limit(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([*GATE, "--impl", "gate_steps:sleepy", "--call-time-limit", "0.5"]) == CALL_TIME_LIMIT_EXCEEDED
    out, err = capsys.readouterr()
    assert err.startswith("mfcheck: call time limit exceeded: sleepy did not return within 0.5 s") and err.count("\n") == 1, err
    assert not out and not os.listdir(tmp_path)


def _mfcheck(argv, cwd, timeout=120):
    paths = (str(ROOT), str(Path(__file__).parent), os.environ.get("PYTHONPATH"))  # this mfcheck, gate_steps
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - start


def test_gate_exits_124_with_one_line_at_the_time_limit(tmp_path):
    """Wherever the limit finds the run (still importing, or in the hanging step), one line, exit 124."""
    proc, seconds = _mfcheck(["-m", "mfcheck", *GATE, "--impl", "gate_steps:sleepy", "--time-limit", "2"], tmp_path)
    assert proc.returncode == TIME_LIMIT_EXCEEDED, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mfcheck: stopped at the time limit of 2 s (--time-limit)"), proc.stderr
    assert seconds < gate_steps.SLEEP / 2


STUCK = """
import sys, time
from pathlib import Path
from joblib.externals.loky import get_reusable_executor
import gate_steps
from mfcheck.app.limits import time_limit

workers = get_reusable_executor(max_workers=2)  # joblib's workers, busy in sleepy: they would outlive this process
busy = [workers.submit(gate_steps.step_cell, sys.argv[1], gate_steps.sleepy, N) for N in (3, 4)]
while len(list(Path(sys.argv[1]).iterdir())) < 2:
    time.sleep(0.05)
with time_limit(0.5, grace=0.5, last_words=lambda: "nothing was cached yet"):
    try:
        time.sleep(60)
    except KeyboardInterrupt:  # a main thread that does not stop, as one stuck outside Python code would not
        time.sleep(60)
"""


def test_a_run_that_does_not_stop_is_ended_after_the_grace_and_its_workers_killed(tmp_path):
    proc, seconds = _mfcheck(["-c", STUCK, str(tmp_path)], tmp_path)
    assert proc.returncode == TIME_LIMIT_EXCEEDED, proc.stderr
    # the first line; loky's resource tracker may add warnings as it cleans up after the killed workers
    assert proc.stderr.splitlines()[0] == ("mfcheck: stopped at the time limit of 0.5 s (--time-limit); the run did not stop within "
                                           "0.5 s, so the process ends now; nothing was cached yet.")
    assert seconds < gate_steps.SLEEP / 2
    assert _none_running([tmp_path]) == []
