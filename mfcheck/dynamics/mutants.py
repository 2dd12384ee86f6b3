"""Broken SGD update rules with known bugs, used to measure the power of the claims.

Each has the signature of :func:`mfcheck.dynamics.sgd.mean_field_step`; a correct harness rejects them.
"""

from __future__ import annotations

import numpy as np

from mfcheck.model.neurons import Neuron

__all__ = ["no_factor_two_step", "ntk_scaling_step", "MUTANTS"]


def no_factor_two_step(Theta, x, y, s, neuron: Neuron) -> np.ndarray:
    """Bug: θ_i + s (y - ŷ) ∇σ* (the factor 2 of the square loss is missing: time runs at half speed)."""
    x1 = x[:, None, :]
    yhat = neuron.value(x1, Theta).mean(axis=-1)
    return Theta + s * neuron.pullback(x1, Theta, y[:, None] - yhat)


def ntk_scaling_step(Theta, x, y, s, neuron: Neuron) -> np.ndarray:
    """Bug: NTK output scaling ŷ = (1/√N) Σ_i σ*(x; θ_i) inside an otherwise mean-field step."""
    x1 = x[:, None, :]
    N = Theta.shape[-2]
    yhat = neuron.value(x1, Theta).sum(axis=-1) / np.sqrt(N)
    return Theta + 2.0 * s * neuron.pullback(x1, Theta, y[:, None] - yhat)


MUTANTS = {"no_factor_two": no_factor_two_step, "ntk_scaling": ntk_scaling_step}
