"""Synchronously coupled nonlinear particles θ̄_i in a stored reference field.

θ̄_i^t = θ_i^0 - 2 ∫_0^t ξ(s) ∇_θ Ψ(θ̄_i^s; ρ_s) ds   (docs/theory.md §3): each θ̄_i starts at the
same θ_i^0 as SGD particle i. Since the θ̄_i do not act on ρ_t, replaying the RK4 stages of
:func:`mfcheck.reference.flow.solve_flow` with its stored ŷ vectors is exactly the RK4
solution of the joint system (nodes + coupled particles).
"""

from __future__ import annotations

import numpy as np

from mfcheck._validation import check_array
from mfcheck.model.neurons import Neuron
from mfcheck.model.problems.finite import FinitePopulation
from mfcheck.reference import field
from mfcheck.reference.flow import ReferenceFlow, require_finite_population

__all__ = ["couple"]


def couple(flow: ReferenceFlow, problem: FinitePopulation, neuron: Neuron, theta0) -> np.ndarray:
    """θ̄ at the flow's record times for starting points ``theta0`` (..., N, D) -> (..., J, N, D)."""
    problem = require_finite_population(problem)
    theta = check_array(theta0, "theta0").copy()
    h = flow.h
    out = np.empty(theta.shape[:-2] + (len(flow.record_index),) + theta.shape[-2:])
    j = 0

    def drift(th, yhat, xi):
        return -2.0 * xi * field.grad_Psi(problem, neuron, th, yhat)

    for k in range(flow.steps + 1):
        if j < len(flow.record_index) and k == flow.record_index[j]:
            out[..., j, :, :] = theta
            j += 1
        if k == flow.steps:
            break
        y1, y2, y3, y4 = flow.stage_yhat[k]
        k1 = drift(theta, y1, flow.xi[k, 0])
        k2 = drift(theta + 0.5 * h * k1, y2, flow.xi[k, 1])
        k3 = drift(theta + 0.5 * h * k2, y3, flow.xi[k, 1])
        k4 = drift(theta + h * k3, y4, flow.xi[k, 2])
        theta = theta + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return out
