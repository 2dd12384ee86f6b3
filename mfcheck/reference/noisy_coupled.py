"""Synchronously coupled particles of the noisy nonlinear dynamics (docs/theory.md §3, noisy version).

dθ̄_i = −2ξ(t) [∇_θΨ(θ̄_i; ρ_t) + λ θ̄_i] dt + sqrt(4ξ(t)/β) dW_i,   θ̄_i(0) = θ_i^0,

where ρ_t solves the noisy distributional dynamics (:mod:`mfcheck.reference.fokker_planck`,
through the stored predictor ŷ_t) and the Brownian path of particle i is built from the same
Gaussians g_i^k that drive noisy SGD particle i: over SGD step k (time kε to (k+1)ε) the
increment is W_i((k+1)ε) − W_i(kε) = sqrt(ε) g_i^k (with c = 4, the SGD noise
sqrt(4 s_k/β) g = sqrt(4ξ/β) · sqrt(ε) g). Inside a step the path is refined by a Brownian
bridge with independent Gaussians of the ("reference", r) stream, and the SDE is integrated
by the stochastic Heun scheme (strong order 1 for additive noise) on ``substeps`` equal
sub-steps. The same bridge refined twice (2·substeps) measures the discretisation error.
"""

from __future__ import annotations

import numpy as np

from mfcheck._validation import check_array, check_positive_int, check_real
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import Neuron
from mfcheck.model.problems.finite import FinitePopulation
from mfcheck.reference import field as population_field
from mfcheck.model.schedules import Schedule, constant

__all__ = ["bridge_increments", "couple_noisy"]


def bridge_increments(dW: np.ndarray, Z: np.ndarray, eps: float) -> np.ndarray:
    """Split the increments ``dW`` (..., N, D) over a step of length ε into m sub-increments.

    ``Z`` (m, ..., N, D) are independent N(0, 1): with δ = ε/m and b_j = sqrt(δ) Z_j, the
    bridge increments are b_j − (Σ_l b_l)/m + dW/m; they sum to dW and, given dW, have the law
    of the increments of a Brownian bridge.
    """
    m = Z.shape[0]
    b = np.sqrt(eps / m) * Z
    return b - b.mean(axis=0) + dW / m


def _yhat_at(field, t: float) -> np.ndarray:
    """ŷ_t by linear interpolation in time on the solver grid of ``field``."""
    u = t / field.dt
    k = min(int(np.floor(u)), len(field.times) - 2)
    w = u - k
    return (1.0 - w) * field.yhat[k] + w * field.yhat[k + 1]


def couple_noisy(
    field,
    problem: FinitePopulation,
    neuron: Neuron,
    theta0,
    g,
    *,
    eps: float,
    lam: float,
    beta: float,
    record_steps,
    bridge_rngs,
    substeps: int = 2,
    schedule: Schedule = constant(1.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Integrate the coupled noisy particles; return θ̄ at the record steps with ``substeps`` and
    with 2·``substeps`` sub-steps (same Brownian path), each of shape (..., J, N, D).

    - ``field``: a :class:`~mfcheck.reference.fokker_planck.FPSolution` (``dt``, ``times``, ``yhat``).
    - ``theta0`` (..., N, D): the SGD particles' θ^0; ``g`` (..., K, N, D): the SGD Gaussians of
      steps 0..K−1 (K ≥ the last record step).
    - ``record_steps``: SGD step indices at which θ̄ is recorded.
    - ``bridge_rngs``: one generator per replicate (leading axis of ``theta0``; a single one when
      ``theta0`` is (N, D)) for the bridge Gaussians, so a replicate's path does not depend on
      which other replicates are integrated with it.
    """
    if not isinstance(problem, FinitePopulation):
        raise InvalidArgument(f"`problem` must be a FinitePopulation (the field is ŷ_t on it), got {problem!r}.")
    theta0 = check_array(theta0, "theta0")
    g = np.asarray(g, dtype=np.float64)
    eps = check_real(eps, "eps", positive=True)
    lam = check_real(lam, "lam", nonnegative=True)
    beta = check_real(beta, "beta", positive=True)
    m = check_positive_int(substeps, "substeps")
    record_steps = np.asarray(record_steps, dtype=int)
    K = int(record_steps[-1])
    if g.shape[:-3] != theta0.shape[:-2] or g.shape[-2:] != theta0.shape[-2:] or g.shape[-3] < K:
        raise InvalidArgument(f"Shape mismatch: `g` {g.shape} must be (..., K ≥ {K}, N, D) with (..., N, D) = {theta0.shape}.")
    if K * eps > field.times[-1] * (1 + 1e-12):
        raise InvalidArgument(f"The field ends at t={field.times[-1]}, before the last record time {K * eps}.")

    def drift(t, th):
        return -2.0 * float(schedule(t)) * (population_field.grad_Psi(problem, neuron, th, _yhat_at(field, t)) + lam * th)

    def heun(th, t, dt, dW):
        sigma = np.sqrt(4.0 * float(schedule(t)) / beta)
        b0 = drift(t, th)
        pred = th + dt * b0 + sigma * dW
        return th + 0.5 * dt * (b0 + drift(t + dt, pred)) + sigma * dW

    lead = theta0.shape[:-2]
    if isinstance(bridge_rngs, np.random.Generator):
        bridge_rngs = [bridge_rngs]
    bridge_rngs = list(bridge_rngs)
    if len(lead) > 1 or len(bridge_rngs) != (lead[0] if lead else 1):
        raise InvalidArgument(f"`bridge_rngs` must hold one generator per replicate ({lead[0] if lead else 1}), got {len(bridge_rngs)}.")
    coarse, fine = theta0.copy(), theta0.copy()
    J = len(record_steps)
    out_c = np.empty(theta0.shape[:-2] + (J,) + theta0.shape[-2:])
    out_f = np.empty_like(out_c)
    j = 0
    for k in range(K + 1):
        if j < J and k == record_steps[j]:
            out_c[..., j, :, :] = coarse
            out_f[..., j, :, :] = fine
            j += 1
        if k == K:
            break
        dW = np.sqrt(eps) * g[..., k, :, :]
        Z = np.stack([rng.standard_normal((2 * m,) + theta0.shape[-2:]) for rng in bridge_rngs], axis=1).reshape((2 * m,) + dW.shape)
        inc_f = bridge_increments(dW, Z, eps)
        inc_c = inc_f.reshape((m, 2) + dW.shape).sum(axis=1)
        t0 = k * eps
        for i in range(m):
            coarse = heun(coarse, t0 + i * eps / m, eps / m, inc_c[i])
        for i in range(2 * m):
            fine = heun(fine, t0 + i * eps / (2 * m), eps / (2 * m), inc_f[i])
    return out_c, out_f
