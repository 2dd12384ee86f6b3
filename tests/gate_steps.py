"""Module-level protocol steps that fail the gate's first call (or, :func:`sleepy_beyond_probe`, a
later one), for tests that name them as ``gate_steps:<name>`` (``mfcheck gate --impl``, markers of
the pytest plugin): the tests' folder is on ``sys.path`` while they run, as for :mod:`rule_variants`.
:func:`step_cell` runs a step as a sweep cell in a worker process; this module imports numpy alone,
so that a worker starts at once."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np


def crash(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
    """Raises on every call."""
    raise RuntimeError("boom")


def wrong_shape(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
    """Drops the last particle: shape (R, N - 1, D)."""
    return theta[:, :-1]


def nan(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
    """NaN everywhere."""
    return np.full_like(theta, np.nan)


def noisy_crash(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
    """Correct without noise, raises with it: only the noisy call of the probe fails."""
    if noise is not None:
        raise ValueError("noise not supported")
    from mfcheck.app.gate.examples import reference_step

    return reference_step(theta, x, y, s, neuron)


SLEEP = 60.0
"""Seconds :func:`sleepy` sleeps: far longer than any test waits for it."""


def sleepy(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
    """Sleeps :data:`SLEEP` seconds, then returns θ unchanged; swallows every ``Exception`` on the
    way, as a careless step might, so that only a BaseException (a time limit) ends it sooner."""
    deadline = time.monotonic() + SLEEP
    while time.monotonic() < deadline:
        try:
            time.sleep(deadline - time.monotonic())
        except Exception:  # noqa: BLE001 - the point: a time limit must not be an Exception
            pass
    return theta


def sleepy_beyond_probe(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
    """Correct on the probe's tiny input (:data:`mfcheck.app.gate.protocol.PROBE_SHAPE`), :func:`sleepy`
    on any other: it passes the probe and hangs in the sweep, where the cells run in the workers."""
    from mfcheck.app.gate.examples import reference_step
    from mfcheck.app.gate.protocol import PROBE_SHAPE

    if theta.shape[:2] == PROBE_SHAPE:
        return reference_step(theta, x, y, s, neuron, noise=noise, lam=lam, beta=beta)
    return sleepy(theta, x, y, s, neuron)


def still(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
    """Returns θ unchanged, at once."""
    return theta


def step_cell(folder: str, step, N: int) -> dict:
    """A cell for :func:`mfcheck.runtime.executors.map_cells`: leaves its process's pid in ``folder``
    (a file named by it), then calls ``step`` once on zeros, θ of shape (2, N, 1)."""
    Path(folder, str(os.getpid())).touch()
    step(np.zeros((2, N, 1)), np.zeros((2, 1)), np.zeros(2), 0.1, None)
    return {"N": N}
