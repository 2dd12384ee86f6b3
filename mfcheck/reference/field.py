"""The population field at many particles, compiled where it can be: ŷ_ρ and ∇_θ Ψ(θ; ρ).

On a plain :class:`~mfcheck.model.problems.finite.FinitePopulation` the law ρ enters the drift only
through ŷ on the n population points (docs/theory.md §3):

    ŷ_ρ(x_j) = Σ_m w_m σ(<θ_m, x_j>),   ∇_θ Ψ(θ; ρ) = −(1/n) Σ_j (y_j − ŷ_ρ(x_j)) σ'(<θ, x_j>) x_j.

The coupled references integrate R·N twin particles in that field for every SGD step, and the
Azuma check evaluates it at every SGD particle, so these two sums dominate a gate run. For an
:class:`~mfcheck.model.neurons.InnerNeuron` on an activation family of :mod:`mfcheck.dynamics.kernels` they
run compiled (:func:`mfcheck.dynamics.kernels.pullback`, :func:`mfcheck.dynamics.kernels.predict`: one pass per
particle, no (n, M) matrix; SGD runs record their risk through the same compiled ŷ); otherwise, and for any subclass of the problem (a subclass may
change the drift, as the mutants do), through the problem's own oracle. Same numbers to rounding.
"""

from __future__ import annotations

import numpy as np

from mfcheck.model.neurons import Neuron

__all__ = ["compiled", "grad_Psi", "predict"]


def compiled(problem, neuron: Neuron) -> bool:
    """Whether the field of ``problem`` at ``neuron`` runs compiled."""
    from mfcheck.dynamics import kernels

    return kernels.field_compiled(problem, neuron)


def grad_Psi(problem, neuron: Neuron, Theta, yhat) -> np.ndarray:
    """∇_θ Ψ(θ_m; ρ) given ŷ_ρ on the population, shape (..., M, D): ``problem.grad_Psi_of_prediction``."""
    if not compiled(problem, neuron):
        return problem.grad_Psi_of_prediction(neuron, Theta, yhat)
    from mfcheck.dynamics import kernels

    return -kernels.pullback(neuron, problem.X, Theta, (problem.y - np.asarray(yhat, dtype=np.float64)) / problem.n)


def predict(problem, neuron: Neuron, Theta, weights=None) -> np.ndarray:
    """ŷ_ρ(x_j) for ρ = Σ_m w_m δ_{θ_m} (uniform when ``weights`` is None), shape (..., n): ``problem.predict``."""
    if not compiled(problem, neuron):
        return problem.predict(neuron, Theta, weights)
    from mfcheck.dynamics import kernels

    return kernels.predict(neuron, problem.X, Theta, weights)

