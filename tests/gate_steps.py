"""Module-level protocol steps that fail the gate's first call, for tests that name them as
``gate_steps:<name>`` (``mfcheck gate --impl``, markers of the pytest plugin): the tests' folder
is on ``sys.path`` while they run, as for :mod:`rule_variants`."""

from __future__ import annotations

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
