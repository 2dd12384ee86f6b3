"""Wall time of the two long commands, idle and beside busy processes: how much a loaded machine slows them.

Each command runs twice in a child process: alone, then beside ``busy`` processes that each spin one
core (``while True: pass``, at the default priority). On c cores a command that keeps w cores busy
shares them with ``busy`` spinners, so a fair scheduler gives it about min(w, c)/(w + busy) of a core
each; on 2 cores with 2 workers beside 2 spinners that is half the machine, and the slowdown should be
near 2. Much more than that means the command's threads wait on each other while descheduled (a
parallel region's barrier, a spinning BLAS thread), which is what one thread per worker process
prevents (docs/methods.md, "Performance").
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

__all__ = ["busy_processes", "load_times"]

_REPO = Path(__file__).resolve().parent.parent


def _commands(out_dir: str) -> dict[str, list[str]]:
    exe = str(Path(sys.executable).with_name("mfcheck"))
    return {
        "mfcheck verify --tier ci --no-cache": [exe, "verify", "--tier", "ci", "--out", out_dir, "--no-cache", "--quiet"],
        "make test (its pytest run; the venv exists)": ["make", "-s", "test"],
    }


@contextmanager
def busy_processes(n: int):
    """``n`` child processes spinning one core each, killed on leaving the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(1.0)  # let them reach the scheduler's steady state
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _timed(cmd: list[str]) -> tuple[float, int]:
    env = {**os.environ, "CI": "true"}  # as CI runs `make test`: the derandomised hypothesis profile
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=_REPO, capture_output=True, text=True, env=env)
    return time.perf_counter() - t0, proc.returncode


def load_times(busy: int = 2, out_dir: str = "/tmp/mfcheck-load-timing", echo=None) -> list[dict]:
    """For each command: wall time and exit code alone, then beside ``busy`` spinning processes, and their ratio."""
    rows = []
    for name, cmd in _commands(out_dir).items():
        idle, code_idle = _timed(cmd)
        if echo:
            echo(f"{name}: idle {idle:.0f} s (exit {code_idle})")
        with busy_processes(busy):
            loaded, code_loaded = _timed(cmd)
        if echo:
            echo(f"{name}: beside {busy} busy processes {loaded:.0f} s (exit {code_loaded})")
        rows.append({"command": name, "idle_s": idle, "loaded_s": loaded, "ratio": loaded / idle, "busy": busy,
                     "returncode_idle": code_idle, "returncode_loaded": code_loaded})
    return rows
