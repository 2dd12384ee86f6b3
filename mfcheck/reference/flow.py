"""The limit law ρ_t of the noiseless distributional dynamics, carried by weighted nodes.

ρ_t = Σ_m w_m δ_{ϑ_m(t)} with fixed weights and nodes following the nonlinear dynamics
dϑ_m/dt = -2 ξ(t) ∇_θ Ψ(ϑ_m; ρ_t)   (THEORY.md §3),
integrated by the classical 4-stage Runge–Kutta scheme with step h. On a finite population
the law enters the drift only through the predictor ŷ_t(x_j) = Σ_m w_m σ*(x_j; ϑ_m(t)), an
n-vector; the flow stores that vector at each of the four stages of every step, so that any
other particle can later be integrated in the same field (:mod:`mfcheck.reference.coupled`)
exactly as if it had been part of the same RK4 system.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mfcheck._validation import check_array, check_real
from mfcheck.errors import InvalidArgument
from mfcheck.neurons import Neuron
from mfcheck.observables import TestFunction
from mfcheck.problems.finite import FinitePopulation
from mfcheck.schedules import Schedule, constant

__all__ = ["ReferenceFlow", "solve_flow", "require_finite_population"]


def require_finite_population(problem) -> FinitePopulation:
    if not isinstance(problem, FinitePopulation):
        raise InvalidArgument(
            f"The particle reference needs a FinitePopulation problem (exact ŷ_t on the population); got {problem!r}. "
            "Gaussian data laws are handled by their own reductions."
        )
    return problem


@dataclass(frozen=True)
class ReferenceFlow:
    """A solved reference flow.

    - ``h``: RK4 step; ``steps``: number of steps (T = steps·h); ``xi`` (steps, 3): ξ at t, t+h/2, t+h.
    - ``stage_yhat`` (steps, 4, n): ŷ at the four RK4 stages of each step.
    - ``record_index`` (J,): steps at which observables are recorded; ``times`` (J,).
    - ``f_integrals`` (J, F): ∫ f dρ_t;  ``risk`` (J,): R(ρ_t);  ``yhat`` (J, n): ŷ_t.
    - ``M``: number of nodes; ``nodes_per_axis``.
    """

    h: float
    steps: int
    xi: np.ndarray
    stage_yhat: np.ndarray
    record_index: np.ndarray
    times: np.ndarray
    f_integrals: np.ndarray
    risk: np.ndarray
    yhat: np.ndarray
    M: int
    nodes_per_axis: int


def _drift(problem: FinitePopulation, neuron: Neuron, theta, yhat, xi):
    """-2 ξ ∇Ψ(θ; ρ) given ŷ_ρ on the population."""
    return -2.0 * xi * problem.grad_Psi_of_prediction(neuron, theta, yhat)


def solve_flow(
    problem: FinitePopulation,
    neuron: Neuron,
    nodes,
    weights,
    *,
    T: float,
    h: float,
    record_dt: float,
    test_functions: Sequence[TestFunction] = (),
    schedule: Schedule = constant(1.0),
    nodes_per_axis: int = 0,
) -> ReferenceFlow:
    """Integrate the weighted nodes to time T with RK4 (step ``h``), recording every ``record_dt``.

    ``record_dt`` must be a multiple of ``h`` and divide ``T``.
    """
    problem = require_finite_population(problem)
    nodes = check_array(nodes, "nodes", ndim=2)
    weights = check_array(weights, "weights", shape=(nodes.shape[0],))
    T = check_real(T, "T", positive=True)
    h = check_real(h, "h", positive=True)
    record_dt = check_real(record_dt, "record_dt", positive=True)
    steps = T / h
    per = record_dt / h
    if abs(steps - round(steps)) > 1e-9 * steps or abs(per - round(per)) > 1e-9 * per:
        raise InvalidArgument(f"`h`={h} must divide both `record_dt`={record_dt} and `T`={T}.")
    steps, per = int(round(steps)), int(round(per))
    record_index = np.arange(0, steps + 1, per)
    n = problem.n
    stage_yhat = np.empty((steps, 4, n))
    xi = np.stack([schedule(np.arange(steps) * h + c * h) for c in (0.0, 0.5, 1.0)], axis=1)
    J = len(record_index)
    f_int = np.empty((J, len(test_functions)))
    risk = np.empty(J)
    yhat_rec = np.empty((J, n))

    def predict(th):
        return problem.predict(neuron, th, weights)

    theta = nodes.copy()
    j = 0
    for k in range(steps + 1):
        if j < J and k == record_index[j]:
            y0 = predict(theta)
            yhat_rec[j] = y0
            risk[j] = problem.risk_of_prediction(y0)
            f_int[j] = [w @ tf(theta) for tf, w in zip(test_functions, [weights] * len(test_functions))]
            j += 1
        if k == steps:
            break
        y1 = predict(theta)
        k1 = _drift(problem, neuron, theta, y1, xi[k, 0])
        y2 = predict(theta + 0.5 * h * k1)
        k2 = _drift(problem, neuron, theta + 0.5 * h * k1, y2, xi[k, 1])
        y3 = predict(theta + 0.5 * h * k2)
        k3 = _drift(problem, neuron, theta + 0.5 * h * k2, y3, xi[k, 1])
        y4 = predict(theta + h * k3)
        k4 = _drift(problem, neuron, theta + h * k3, y4, xi[k, 2])
        stage_yhat[k] = (y1, y2, y3, y4)
        theta = theta + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    if not np.all(np.isfinite(theta)):
        raise FloatingPointError(f"The reference flow diverged with h={h}; lower `h`.")
    return ReferenceFlow(
        h=h, steps=steps, xi=xi, stage_yhat=stage_yhat, record_index=record_index, times=record_index * h,
        f_integrals=f_int, risk=risk, yhat=yhat_rec, M=nodes.shape[0], nodes_per_axis=nodes_per_axis,
    )
