"""SIGTERM stops ``verify`` and ``gate`` the way Ctrl-C does (mfcheck.app.interrupts): exit 143,
one line on stderr, no worker process left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mfcheck
from mfcheck.app.interrupts import INTERRUPTED, TERMINATED, Terminated, exit_code, sigterm_interrupts, stopped_by


def test_the_exit_codes_are_the_shells():
    assert (INTERRUPTED, TERMINATED) == (130, 143)
    assert exit_code(KeyboardInterrupt()) == 130 and exit_code(Terminated()) == 143
    assert stopped_by(KeyboardInterrupt()) == "interrupted" and stopped_by(Terminated()) == "terminated (SIGTERM)"


def test_sigterm_raises_within_the_block_only():
    previous = signal.getsignal(signal.SIGTERM)
    with sigterm_interrupts():
        with pytest.raises(Terminated):
            signal.raise_signal(signal.SIGTERM)
            time.sleep(1)  # the handler runs at the next bytecode; the sleep is interrupted
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # a second SIGTERM ends the process at once
    assert signal.getsignal(signal.SIGTERM) == previous


def _is_worker(process) -> bool:
    import psutil

    try:
        return "LokyProcess" in " ".join(process.cmdline())
    except psutil.Error:
        return False


def test_sigterm_ends_a_gate_run_with_143_and_no_workers_left(tmp_path):
    """The run is stopped once its joblib workers compute the sweep's cells."""
    psutil = pytest.importorskip("psutil")
    root = Path(mfcheck.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)}
    argv = [sys.executable, "-m", "mfcheck", "gate", "--impl", "mfcheck.app.gate.examples:reference_step", "--tier", "smoke",
            "--claims", "theorem2_risk", "--executor", "joblib", "--workers", "2", "--quiet", "--cache", str(tmp_path / "cache")]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        me = psutil.Process(proc.pid)
        deadline = time.monotonic() + 120
        while not any(_is_worker(p) for p in me.children(recursive=True)):
            assert proc.poll() is None, f"the run ended before its workers started: {proc.communicate()}"
            assert time.monotonic() < deadline, "no joblib worker started"
            time.sleep(0.05)
        descendants = me.children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mfcheck: terminated (SIGTERM); "), err
    _, alive = psutil.wait_procs(descendants, timeout=10)
    assert alive == [], [p.cmdline() for p in alive]
