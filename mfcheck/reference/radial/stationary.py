r"""The stationary law of the noisy radial dynamics, solved self-consistently.

The noisy DD (docs/theory.md §3, §5) has the Gibbs fixed point ρ*(θ) ∝ exp(−β Ψ_λ(θ; ρ*)),
Ψ_λ = Ψ + (λ/2)|θ|². For the two-Gaussians problem ρ* is spherically symmetric, and the law of
r = ||θ|| has the density

    ρ̄*(r) = Z^{-1} r^{d−1} exp(−β [ψ(r; ρ̄*) + λ r²/2]),   ψ(r; ρ̄) = v(r) + Φ(r)·A(ρ̄),

with A(ρ̄) = ∫ Φ dρ̄ (:mod:`mfcheck.reference.radial.reduction`). The law enters only through A, so the
fixed point is sought in A: A ← (1 − α) A + α ∫ Φ dT(A), T(A) the density above with A given,
with damping α halved whenever the residual grows. λ > 0 is required (σ is bounded, so without
confinement r^{d−1} wins and the law is not normalisable).

**Discretisation.** Composite Simpson on a uniform grid of K (odd) points in [0, r_hi]; r_hi
defaults to a first solve on a safe range (where r^{d−1} exp(−βλr²/2) times exp(β·osc ψ) is below
e^{-60} of its peak), trimmed to just beyond where that solution falls below e^{-45} of its
peak. The iteration works on compressed features (an SVD of Φ on the grid, exact for ψ up to
singular values below 1e-13 of the largest, taken on at most 1025 grid points) and is polished by Powell's hybrid method. ``grid_error`` is the largest change of the CDF and of ψ when K is doubled.

**Noise convention.** This is the fixed point of the DD written with 2ξβ^{-1}Δ, i.e. of noisy SGD
with noise sqrt(c s_k/β) g and c = 4 (docs/theory.md §2); with c = 2 compare with the law at 2β.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from threadpoolctl import threadpool_limits

from mfcheck._validation import check_positive_int, check_real
from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument
from mfcheck.reference.radial.reduction import RadialReduction, row_space

__all__ = ["StationaryLaw", "stationary_law"]


@dataclass(frozen=True)
class StationaryLaw:
    """The solved law ρ̄* on a grid.

    - ``grid`` (K,), ``density`` (K,) per unit r, ``cdf_values`` (K,).
    - ``A``: the feature mean ∫Φ dρ̄* in compressed coordinates (Φ on the grid is replaced by
      U_r S_r from its SVD, which keeps Φ Φ^T and hence ψ); ``residual``: |A − ∫Φ dT(A)|_∞;
      ``density_residual``: sup |ρ̄ − T(ρ̄)| / sup ρ̄; ``iterations``.
    - ``risk``: R(ρ̄*); ``mean_r2``: ∫ r² dρ̄*; ``psi`` (K,): ψ(r; ρ̄*) on the grid.
    - ``grid_error``: {"cdf": sup |ΔCDF|, "psi": sup |Δψ|, "risk": |ΔR|} between K and 2K − 1 points
      (empty without refinement). ``settings``.
    """

    grid: np.ndarray
    density: np.ndarray
    cdf_values: np.ndarray
    A: np.ndarray
    residual: float
    density_residual: float
    iterations: int
    risk: float
    mean_r2: float
    psi: np.ndarray
    grid_error: dict
    settings: dict

    def cdf(self, r) -> np.ndarray:
        """P(r* ≤ r) (linear between grid points)."""
        return np.interp(np.asarray(r, dtype=float), self.grid, self.cdf_values, left=0.0, right=1.0)

    def quantile(self, u) -> np.ndarray:
        """The radius at CDF level u ∈ [0, 1]."""
        return np.interp(np.asarray(u, dtype=float), self.cdf_values, self.grid)

    def mean(self, f: Callable) -> float:
        """∫ f dρ̄* by the grid's Simpson rule."""
        return float(_simpson_weights(self.grid) @ (np.asarray(f(self.grid), dtype=float) * self.density))


def _simpson_weights(grid):
    K = grid.size
    h = grid[1] - grid[0]
    w = np.ones(K)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return w * h / 3.0


def _compressed_features(red, grid):
    """Φ V (K, k) with Φ V (Φ V)^T = Φ Φ^T on the grid up to singular values below 1e-13 s_0."""
    Phi = red.features(grid)
    return Phi @ row_space(Phi)


def _solve(red, beta, lam, K, r_hi, damping, tol, max_iter):
    with threadpool_limits(limits=1, user_api="blas"):  # small products in a loop: one thread
        return _solve_pinned(red, beta, lam, K, r_hi, damping, tol, max_iter)


def _solve_pinned(red, beta, lam, K, r_hi, damping, tol, max_iter):
    grid = np.linspace(0.0, r_hi, K)
    sw = _simpson_weights(grid)
    Phi = _compressed_features(red, grid)  # ψ needs only Φ Φ^T on the grid
    v = red.v(grid)
    with np.errstate(divide="ignore"):
        logr = (red.d - 1) * np.log(np.where(grid > 0, grid, 1.0)) if red.d > 1 else np.zeros(K)
    base = logr - beta * (v + 0.5 * lam * grid**2)
    alive = grid > 0 if red.d > 1 else np.ones(K, dtype=bool)

    def law(A):
        logp = base - beta * (Phi @ A)
        logp = np.where(alive, logp - logp[alive].max(), -np.inf)
        p = np.exp(logp)
        return p / (sw @ p)

    def image(A):
        return (law(A) * sw) @ Phi

    A = image(np.zeros(Phi.shape[1]))
    alpha = damping
    res_prev = np.inf
    it = 0
    for it in range(1, max_iter + 1):
        G = image(A)
        res = float(np.max(np.abs(G - A)))
        if res <= max(tol, 1e-9):
            break
        if res > res_prev:
            alpha = max(alpha / 2, 1e-4)
        res_prev = res
        A = (1 - alpha) * A + alpha * G
    # polish with Powell's hybrid method (MINPACK) on the compressed unknowns
    sol = optimize.root(lambda x: image(x) - x, A, method="hybr", options={"xtol": 1e-15})
    if np.all(np.isfinite(sol.x)) and np.max(np.abs(image(sol.x) - sol.x)) < np.max(np.abs(image(A) - A)):
        A = sol.x
    p = law(A)
    G = (p * sw) @ Phi
    p_next = law(G)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(grid))])
    cdf = cdf / cdf[-1]
    risk = float(1.0 + 2.0 * (p * sw) @ v + G @ G)
    return {
        "grid": grid, "density": p, "cdf_values": cdf, "A": G, "residual": float(np.max(np.abs(G - A))),
        "density_residual": float(np.max(np.abs(p_next - p)) / p.max()), "iterations": it, "risk": risk,
        "mean_r2": float((p * sw) @ grid**2), "psi": v + Phi @ G,
    }


def _trim(sol, r_hi):
    """A grid end just beyond where the density has fallen below e^{-45} of its peak."""
    p, grid = sol["density"], sol["grid"]
    big = np.nonzero(p > math.exp(-45.0) * p.max())[0]
    return min(r_hi, 1.05 * grid[big[-1]] + 2 * (grid[1] - grid[0]))


def stationary_law(
    sigma: Activation,
    delta: float,
    d,
    *,
    beta: float,
    lam: float,
    K: int = 4001,
    r_hi: float | None = None,
    damping: float = 0.5,
    tol: float = 1e-12,
    max_iter: int = 20_000,
    refine: bool = True,
    reduction: RadialReduction | None = None,
) -> StationaryLaw:
    r"""Solve ρ̄*(r) ∝ r^{d−1} exp(−β[ψ(r; ρ̄*) + λr²/2]) by damped fixed-point iteration in A.

    **Arguments:**

    - ``sigma``, ``delta``, ``d``: the problem (d a finite positive int).
    - ``beta``: inverse temperature β > 0; ``lam``: λ > 0.
    - ``K``: grid points (odd, for Simpson); ``r_hi``: grid end (default: automatic).
    - ``damping``: initial α ∈ (0, 1]; ``tol``: target of |A − ∫Φ dT(A)|_∞; ``max_iter``.
    - ``refine``: also solve on 2K − 1 points and store the differences in ``grid_error``.
    - ``reduction``: a prebuilt :class:`RadialReduction`.
    """
    beta = check_real(beta, "beta", positive=True)
    lam = check_real(lam, "lam", positive=True)
    K = check_positive_int(K, "K")
    if K < 5 or K % 2 == 0:
        raise InvalidArgument(f"`K` must be odd and >= 5 (Simpson's rule), got K={K}.")
    damping = check_real(damping, "damping", positive=True)
    if damping > 1:
        raise InvalidArgument(f"`damping` must be in (0, 1], got damping={damping}.")
    tol = check_real(tol, "tol", positive=True)
    max_iter = check_positive_int(max_iter, "max_iter")
    red = reduction if reduction is not None else RadialReduction(sigma, delta, d)
    if not isinstance(red, RadialReduction):
        raise InvalidArgument(f"`reduction` must be a RadialReduction, got {red!r}.")
    if math.isinf(red.d):
        raise InvalidArgument("`d` must be finite: the stationary law of ||w|| needs the factor r^{d-1}.")
    if r_hi is None:
        # ψ varies by at most osc ≤ 2 sup|σ| + 2 sup|σ|² (|v| ≤ sup|σ|, |u| ≤ sup|σ|²): beyond the
        # point where r^{d-1} e^{-βλr²/2} has fallen by e^{-60 - β osc}, the law is negligible
        S = red.sigma.sup_norm if math.isfinite(red.sigma.sup_norm) else 10.0
        osc = 2 * S + 2 * S * S
        r_pk = math.sqrt(max(red.d - 1, 1) / (beta * lam))
        drop = 60.0 + beta * osc
        r_hi = r_pk
        while (red.d - 1) * math.log(r_hi / r_pk) - 0.5 * beta * lam * (r_hi**2 - r_pk**2) > -drop:
            r_hi *= 1.25
        r_hi = _trim(_solve(red, beta, lam, K, r_hi, damping, 1e-8, max_iter), r_hi)
    r_hi = check_real(r_hi, "r_hi", positive=True)
    sol = _solve(red, beta, lam, K, r_hi, damping, tol, max_iter)
    grid_error = {}
    if refine:
        fine = _solve(red, beta, lam, 2 * K - 1, r_hi, damping, tol, max_iter)
        grid_error = {
            "cdf": float(np.max(np.abs(fine["cdf_values"][::2] - sol["cdf_values"]))),
            "psi": float(np.max(np.abs(fine["psi"][::2] - sol["psi"]))),
            "risk": abs(fine["risk"] - sol["risk"]),
        }
    settings = {"sigma": repr(red.sigma), "delta": red.delta, "d": red.d, "beta": beta, "lam": lam, "K": K,
                "r_hi": r_hi, "n_terms": red.n_terms, "tol": tol}
    return StationaryLaw(grid_error=grid_error, settings=settings, **sol)
