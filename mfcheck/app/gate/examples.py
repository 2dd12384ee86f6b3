"""The built-in examples of the gate protocol: the correct step written three ways, as a user would.

The gate must accept each (:func:`mfcheck.app.gate.self_test.self_test` checks it); the broken rules
it must reject live in :mod:`mfcheck.dynamics.broken`.
"""

from __future__ import annotations

import math

import numpy as np

from mfcheck.app.gate.protocol import Implementation
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import Neuron

__all__ = ["reference_step", "replicate_loop_step", "einsum_step", "CORRECT_STEPS"]


def _noise_and_decay(new, theta, s, noise, lam, beta):
    """new − 2λs θ + sqrt(4 s/β) g (the noisy terms; nothing when ``noise`` is None and λ = 0)."""
    if lam:
        new = new - (2.0 * lam * s) * theta
    if noise is not None:
        if beta is None or not beta > 0:
            raise InvalidArgument(f"`beta` must be > 0 when `noise` is given, got {beta!r}.")
        new = new + math.sqrt(4.0 * s / beta) * noise
    return new


def reference_step(theta, x, y, s, neuron: Neuron, noise=None, lam=0.0, beta=None):
    """Correct: θ_i ← (1 − 2λs)θ_i + 2s(y − ŷ)∇_θσ*(x; θ_i) + sqrt(4s/β) g_i, ŷ = (1/N) Σ_j σ*(x; θ_j)
    (vectorised with ``neuron.pullback``; the built-in rule :data:`mfcheck.dynamics.rules.MEAN_FIELD`
    in the user protocol)."""
    x1 = x[:, None, :]
    yhat = neuron.value(x1, theta).mean(axis=-1)  # (R, 1)
    new = theta + 2.0 * s * neuron.pullback(x1, theta, y[:, None] - yhat)
    return _noise_and_decay(new, theta, s, noise, lam, beta)


def replicate_loop_step(theta, x, y, s, neuron: Neuron, noise=None, lam=0.0, beta=None):
    """Correct, written differently: a Python loop over the replicates r; inside, ŷ_r as an
    explicit sum over particles and the gradient term particle by particle from ``neuron.grad``."""
    R, N, D = theta.shape
    new = np.empty_like(theta)
    for r in range(R):
        xr = x[r][None, :]  # (1, d)
        sig = neuron.value(xr, theta[r])[0]  # (N,)
        yhat = sig.sum() / N
        G = neuron.grad(xr, theta[r])[0]  # (N, D): ∇_θ σ*(x_r; θ_i)
        new[r] = theta[r] + (2.0 * s * (y[r] - yhat)) * G
    return _noise_and_decay(new, theta, s, noise, lam, beta)


def einsum_step(theta, x, y, s, neuron: Neuron, noise=None, lam=0.0, beta=None):
    """Correct, written differently: ∇_θσ* from ``neuron.grad`` on the pairs (x_r, θ_{r,i}) and
    the residual weighting by an explicit ``einsum``; the ridge as a multiplicative factor."""
    x1 = x[:, None, :]
    resid = y - np.einsum("rn->r", neuron.value(x1, theta)[:, 0, :]) / theta.shape[1]  # (R,)
    grads = neuron.grad(x1, theta)  # (R, 1, N, D)
    new = theta + 2.0 * s * np.einsum("rjnd,r->rnd", grads, resid)
    if lam:
        new = new - (2.0 * lam * s) * theta
    if noise is not None:
        if beta is None or not beta > 0:
            raise InvalidArgument(f"`beta` must be > 0 when `noise` is given, got {beta!r}.")
        new = new + np.sqrt(4.0 * s / beta) * noise
    return new


CORRECT_STEPS: dict[str, Implementation] = {
    "reference": reference_step,
    "replicate_loop": replicate_loop_step,
    "einsum": einsum_step,
}
"""Correct protocol steps written differently: the gate must accept each."""
