r"""The radial flow against the full d-dimensional distributional dynamics (d = 3, smooth σ).

The d-dimensional reference carries ρ_0 = Σ_i w_i (uniform law on the sphere of radius r_i) by
weighted nodes θ = r_i e_k in R^3, with e_k a product rule on the sphere S²: cos ϑ at the
Gauss–Legendre nodes (weights g_j/2) times n_az equally spaced azimuths, exact for spherical
polynomials of degree ≤ min(2 n_polar − 1, n_az − 1). The nodes follow the d-dimensional
dynamics dθ/dt = −2 ∇_θ Ψ(θ; ρ_t) with ∇V and ∇₁U from the Gauss–Hermite oracle of
:class:`~mfcheck.model.problems.TwoGaussians`, by the classical RK4 with step ``dt``; R(ρ_t) is the
oracle's quadratic form. Nothing in it uses the radial reduction.

Its discretisation error is measured by refinement (n_polar + 2, n_az + 4, dt/2); the radial
flow's by its own refinement; :func:`ddim_agreement` returns both and the observed gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.legendre import leggauss

from mfcheck._validation import check_array, check_positive_int, check_real
from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems import TwoGaussians
from mfcheck.reference.radial.reduction import RadialReduction
from mfcheck.reference.radial.solver import solve_radial

__all__ = ["sphere_rule", "ddim_flow", "Agreement", "ddim_agreement"]


def sphere_rule(n_polar: int, n_az: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (n_polar·n_az, 3) and weights (summing to 1) of the product rule on S²."""
    n_polar = check_positive_int(n_polar, "n_polar")
    n_az = check_positive_int(n_az, "n_az")
    x, g = leggauss(n_polar)
    phi = 2 * math.pi * (np.arange(n_az) + 0.5) / n_az
    s = np.sqrt(1 - x * x)
    E = np.stack([np.outer(s, np.cos(phi)), np.outer(s, np.sin(phi)), np.outer(x, np.ones(n_az))], axis=-1)
    W = np.outer(g / 2, np.full(n_az, 1.0 / n_az))
    return E.reshape(-1, 3), W.ravel()


def ddim_flow(sigma, delta, nodes, weights, *, T, dt, n_polar, n_az, n_gh=24):
    """R(ρ_t) and ∫|θ|² dρ_t at t = 0, dt, ..., T for the d = 3 weighted-node flow (module docstring)."""
    prob = TwoGaussians(3, delta, n_nodes=n_gh)
    neuron = InnerNeuron(sigma)
    E, g = sphere_rule(n_polar, n_az)
    theta = (np.asarray(nodes)[:, None, None] * E[None]).reshape(-1, 3)
    omega = (np.asarray(weights)[:, None] * g[None]).ravel()
    steps = round(T / dt)
    if not math.isclose(steps * dt, T, rel_tol=1e-9):
        raise InvalidArgument(f"`T`={T} must be a multiple of `dt`={dt}.")

    def drift(th):
        return -2.0 * (prob.grad_V(neuron, th) + np.einsum("mkd,k->md", prob.grad1_U(neuron, th, th), omega))

    def observe(th):
        R = 1 + 2 * omega @ prob.V(neuron, th) + omega @ prob.U(neuron, th, th) @ omega
        return R, omega @ np.sum(th * th, axis=1)

    risk, m2 = np.empty(steps + 1), np.empty(steps + 1)
    risk[0], m2[0] = observe(theta)
    for k in range(steps):
        k1 = drift(theta)
        k2 = drift(theta + 0.5 * dt * k1)
        k3 = drift(theta + 0.5 * dt * k2)
        k4 = drift(theta + dt * k3)
        theta = theta + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        risk[k + 1], m2[k + 1] = observe(theta)
    return np.linspace(0.0, T, steps + 1), risk, m2


@dataclass(frozen=True)
class Agreement:
    """Radial vs d-dimensional flow on a common time grid.

    ``gap_risk``, ``gap_m2``: max |radial − d-dim (fine)| of R(ρ_t) and of ∫|θ|²;
    ``ddim_error_*``: max |coarse − fine| of the d-dimensional flow; ``radial_error_*``: the radial
    flow's refinement differences; ``times``, ``risk_radial``, ``risk_ddim``.
    """

    times: np.ndarray
    risk_radial: np.ndarray
    risk_ddim: np.ndarray
    gap_risk: float
    gap_m2: float
    ddim_error_risk: float
    ddim_error_m2: float
    radial_error_risk: float
    radial_error_m2: float


def ddim_agreement(
    sigma: Activation, delta: float, nodes, weights, *, T: float = 1.0, dt: float = 0.1, n_polar: int = 4,
    n_az: int = 8, n_gh: int = 24,
) -> Agreement:
    """Run the radial flow and the d = 3 weighted-node flow from the same radial law and compare.

    **Arguments:** ``sigma`` (smooth: the oracle refuses kinks), ``delta``, the radial law
    ``nodes``/``weights``, horizon ``T`` and RK4 step ``dt`` of the d-dimensional flow, its
    sphere rule ``n_polar`` × ``n_az`` (refined to +2, +4 and dt/2), ``n_gh`` oracle nodes.
    """
    T = check_real(T, "T", positive=True)
    dt = check_real(dt, "dt", positive=True)
    nodes = check_array(np.ravel(nodes), "nodes")
    weights = check_array(np.ravel(weights), "weights", shape=(nodes.size,))
    times, r_c, m_c = ddim_flow(sigma, delta, nodes, weights, T=T, dt=dt, n_polar=n_polar, n_az=n_az, n_gh=n_gh)
    _, r_f, m_f = ddim_flow(sigma, delta, nodes, weights, T=T, dt=dt / 2, n_polar=n_polar + 2, n_az=n_az + 4,
                            n_gh=n_gh)
    r_f, m_f = r_f[::2], m_f[::2]
    red = RadialReduction(sigma, delta, 3)
    flow = solve_radial(sigma, delta, 3, T=T, rho0=(nodes, weights), times=times, rtol=1e-10, atol=1e-12, K=512,
                        test_functions={"m2": lambda r: r * r}, refine=True, reduction=red)
    return Agreement(
        times=times, risk_radial=flow.risk, risk_ddim=r_f,
        gap_risk=float(np.max(np.abs(flow.risk - r_f))), gap_m2=float(np.max(np.abs(flow.mean("m2") - m_f))),
        ddim_error_risk=float(np.max(np.abs(r_c - r_f))), ddim_error_m2=float(np.max(np.abs(m_c - m_f))),
        radial_error_risk=flow.error["risk"], radial_error_m2=flow.error["f_means"]["m2"],
    )
