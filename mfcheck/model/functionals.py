"""Functionals of a (weighted) empirical measure ρ = Σ_m w_m δ_{θ_m}, built on a problem's oracle.

R(ρ) = R_# + 2 ∫V dρ + ∫∫U dρ dρ,   Ψ(θ; ρ) = V(θ) + ∫U(θ, θ') ρ(dθ'),
∇_θ Ψ(θ; ρ) = ∇V(θ) + ∫∇₁U(θ, θ') ρ(dθ')   (docs/theory.md §1).

With uniform weights, ``risk`` is the network risk R_N(θ) = R(ρ̂^N) and
∂R_N/∂θ_i = (2/N) ∇_θ Ψ(θ_i; ρ̂^N). Problems with a finite population take the exact
O(n M D) route through the predictor ŷ_ρ; the O(M²) oracle route is kept as
``risk_from_oracle`` / ``grad_Psi_from_oracle`` (the two are tested equal).
"""

from __future__ import annotations

import numpy as np

from mfcheck._validation import check_array
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import Neuron
from mfcheck.model.problems.base import Problem

__all__ = ["weights_of", "risk", "Psi", "grad_Psi", "risk_from_oracle", "grad_Psi_from_oracle"]


def weights_of(Theta: np.ndarray, weights=None) -> np.ndarray:
    """The weights w_m of ρ: uniform 1/M by default; given ones must be >= 0 and sum to 1."""
    M = Theta.shape[-2]
    if weights is None:
        return np.full(M, 1.0 / M)
    w = check_array(weights, "weights", shape=(M,))
    if np.any(w < 0) or not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-12):
        raise InvalidArgument(f"`weights` must be non-negative and sum to 1, got sum {w.sum()!r}, min {w.min()!r}.")
    return w


def _particles(Theta, name="Theta"):
    Theta = check_array(Theta, name)
    if Theta.ndim < 2:
        raise InvalidArgument(f"`{name}` must have shape (..., M, D), got {Theta.shape}.")
    return Theta


def risk(problem: Problem, neuron: Neuron, Theta, weights=None) -> np.ndarray:
    """R(ρ) for ρ = Σ_m w_m δ_{θ_m}; ``Theta`` (..., M, D) gives shape (...)."""
    Theta = _particles(Theta)
    w = weights_of(Theta, weights)
    if hasattr(problem, "predict"):
        return problem.risk_of_prediction(problem.predict(neuron, Theta, w))
    return risk_from_oracle(problem, neuron, Theta, w)


def risk_from_oracle(problem: Problem, neuron: Neuron, Theta, weights=None) -> float:
    """R_# + 2 Σ_m w_m V(θ_m) + Σ_{m,l} w_m w_l U(θ_m, θ_l), for one measure (M, D)."""
    Theta = _particles(Theta)
    w = weights_of(Theta, weights)
    return problem.R_sharp + 2.0 * w @ problem.V(neuron, Theta) + w @ problem.U(neuron, Theta, Theta) @ w


def Psi(problem: Problem, neuron: Neuron, theta, Theta, weights=None) -> np.ndarray:
    """Ψ(θ; ρ) = V(θ) + Σ_l w_l U(θ, θ_l) at the points ``theta`` (K, D)."""
    theta = _particles(theta, "theta")
    Theta = _particles(Theta)
    w = weights_of(Theta, weights)
    return problem.V(neuron, theta) + problem.U(neuron, theta, Theta) @ w


def grad_Psi(problem: Problem, neuron: Neuron, theta, Theta, weights=None) -> np.ndarray:
    """∇_θ Ψ(θ; ρ) at the points ``theta`` (..., K, D) for ρ carried by ``Theta`` (..., M, D)."""
    theta = _particles(theta, "theta")
    Theta = _particles(Theta)
    w = weights_of(Theta, weights)
    if hasattr(problem, "predict"):
        return problem.grad_Psi_of_prediction(neuron, theta, problem.predict(neuron, Theta, w))
    return grad_Psi_from_oracle(problem, neuron, theta, Theta, w)


def grad_Psi_from_oracle(problem: Problem, neuron: Neuron, theta, Theta, weights=None) -> np.ndarray:
    """∇V(θ) + Σ_l w_l ∇₁U(θ, θ_l), for one measure: ``theta`` (K, D), ``Theta`` (M, D)."""
    theta = _particles(theta, "theta")
    Theta = _particles(Theta)
    w = weights_of(Theta, weights)
    return problem.grad_V(neuron, theta) + np.einsum("kmD,m->kD", problem.grad1_U(neuron, theta, Theta), w)
