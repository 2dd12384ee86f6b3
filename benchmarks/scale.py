"""One large run (N = 10^6 particles, d = 10, T = 1) and the wall time of the `ci` tiers.

Both run in a child process; the run's peak resident memory is the child's ``VmHWM`` (its own
address space: ``ru_maxrss`` would carry the parent's peak across ``exec``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["scale_run", "tier_times", "SCALE_SETTING"]

SCALE_SETTING = dict(N=1_000_000, d=10, n=256, eps=1e-4, T=1.0, record_dt=0.25, replicates=1)

_CHILD = r"""
import json, sys, time
import numpy as np
from threadpoolctl import threadpool_limits
from mfcheck.dynamics import kernels
from mfcheck.model.activations import tanh_sum
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems import teacher_population
from mfcheck.seeds import Streams
from mfcheck.dynamics.sgd import StandardRecord, run_sgd

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0

cfg = json.loads(sys.argv[1])
kernels.warm_up()
problem = teacher_population(cfg["n"], cfg["d"], tanh_sum((2.0,), (1.5,)), seed=7, noise=0.1)
neuron = InnerNeuron(tanh_sum())
rss0 = hwm()
t0 = time.perf_counter()
with threadpool_limits(limits=1, user_api="blas"):
    res = run_sgd(problem, neuron, GaussianInit(cfg["d"], 1.0 / np.sqrt(cfg["d"])), N=cfg["N"], eps=cfg["eps"], T=cfg["T"],
                  replicates=cfg["replicates"], streams=Streams(1), record=StandardRecord(cfg["record_dt"]), backend="numba")
wall = time.perf_counter() - t0
rss = hwm()
particles = cfg["replicates"] * cfg["N"] * cfg["d"] * 8
recorded = res.theta.nbytes + res.f_means.nbytes + res.risk.nbytes
steps = int(round(cfg["T"] / cfg["eps"]))
print(json.dumps({**cfg, "wall_s": wall, "steps": steps, "updates_per_s": particles / 8 * steps / wall, "rss_before": rss0, "peak_rss": rss,
                  "particles_bytes": particles, "recorded_bytes": recorded, "risk": res.risk[0].tolist()}))
"""


def scale_run(setting: dict | None = None) -> dict:
    """Run :data:`SCALE_SETTING` (or ``setting``) with the compiled backend in a child; return its measurements."""
    cfg = {**SCALE_SETTING, **(setting or {})}
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(cfg)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def tier_times(out_dir: str = "/tmp/mfcheck-tier-timing", full: bool = False) -> list[dict]:
    """Wall time and exit code of ``mfcheck verify --tier ci`` and ``mfcheck gate --impl mfcheck.app.gate:reference_step --tier ci``
    (and, with ``full``, of the same gate at the full tier, and of one seed of the full-tier false-alarm
    measurement: the gate's decision procedure on the built-in rule run serially in one process, what each
    seed of that measurement costs on one core), each without the cache, so that every cell is computed."""
    exe = str(Path(sys.executable).with_name("mfcheck"))
    gate = [exe, "gate", "--impl", "mfcheck.app.gate:reference_step", "--no-cache", "--quiet"]
    commands = [[exe, "verify", "--tier", "ci", "--out", out_dir, "--no-cache", "--quiet"], gate + ["--tier", "ci"]]
    if full:
        commands.append(gate + ["--tier", "full"])
        commands.append([exe, "gate", "--false-alarm", "1", "--tier", "full", "--impl", "builtin", "--seed-start", "7", "--no-cache",
                         "--quiet", "--false-alarm-out", f"{out_dir}-full-gate"])
    rows = []
    for cmd in commands:
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
        rows.append({"command": " ".join(["mfcheck"] + cmd[1:]), "wall_s": time.perf_counter() - t0, "returncode": proc.returncode,
                     "tail": proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else proc.stderr.strip().splitlines()[-1:]})
    return rows
