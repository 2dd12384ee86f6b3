r"""The optimum landscape of the radial problem: the best single radius and the best radial law.

R(ρ̄) = 1 + 2∫ v dρ̄ + ∫∫ u dρ̄ dρ̄ (:mod:`mfcheck.reference.radial.reduction`) is convex in ρ̄, since
u(r, r') = Φ(r)·Φ(r') is a positive semi-definite kernel.

- **Single radius:** R(δ_r) = 1 + 2v(r) + u(r, r), with δ_r the uniform law on the sphere of
  radius r in R^d (so u(r, r) is the angle-averaged self-interaction). Minimised over
  r ∈ [0, r_max] by a grid of ``K`` points and a bounded Brent refinement around the best one.
- **Radial laws:** on a grid r_1..r_K of [0, r_max], minimise
  f(p) = 1 + 2 v·p + |Φ^T p|² over the simplex {p ≥ 0, Σ p = 1}, a convex quadratic program,
  by accelerated projected gradient (FISTA with the exact simplex projection, step 1/L with
  L = 2 λ_max(Φ^T Φ)) followed by a primal active-set polish (exact KKT solves on the support). The Frank–Wolfe gap g·p − min_k g_k, g = ∇f(p), bounds f(p) − min f
  from above and is returned (``gap``); the grid's own error is the change when K is doubled
  (``grid_error``). Both optima are over radii ≤ r_max: the bounded σ saturates, so where the
  minimiser sits on r_max the infimum over all radii lies beyond (``at_boundary``); a
  ``far_point`` (e.g. r = 1e6, standing for r = ∞) then captures it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from threadpoolctl import threadpool_limits

from mfcheck._validation import check_positive_int, check_real
from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument
from mfcheck.reference.radial.reduction import RadialReduction

__all__ = ["SingleRadius", "RadialOptimum", "best_single_radius", "global_minimum", "project_simplex"]


@dataclass(frozen=True)
class SingleRadius:
    """``r``: the best radius in [0, r_max]; ``risk``: R(δ_r); ``at_boundary``: r = r_max."""

    r: float
    risk: float
    at_boundary: bool
    r_max: float


@dataclass(frozen=True)
class RadialOptimum:
    """The best radial law on a grid.

    ``grid`` (K,) (or K + 1 with ``far_point`` last), ``weights`` the law; ``risk`` its R; ``gap`` the certified bound on
    risk − (minimum on this grid); ``grid_error`` |risk(K) − risk(2K − 1)| (None without
    refinement); ``atoms``: the grid radii carrying mass > 1e-6 (as (radius, mass) pairs);
    ``at_boundary``: mass > 1e-6 at r_max; ``iterations``.
    """

    grid: np.ndarray
    weights: np.ndarray
    risk: float
    gap: float
    grid_error: float | None
    atoms: tuple[tuple[float, float], ...]
    at_boundary: bool
    iterations: int


def _reduction(sigma, delta, d, reduction):
    if reduction is None:
        return RadialReduction(sigma, delta, d)
    if not isinstance(reduction, RadialReduction):
        raise InvalidArgument(f"`reduction` must be a RadialReduction, got {reduction!r}.")
    return reduction


def best_single_radius(
    sigma: Activation, delta: float, d, *, r_max: float = 10.0, K: int = 4001, reduction: RadialReduction | None = None
) -> SingleRadius:
    """min_{0 ≤ r ≤ r_max} R(δ_r) (module docstring). **Arguments:** the problem, ``r_max``, ``K``."""
    r_max = check_real(r_max, "r_max", positive=True)
    K = check_positive_int(K, "K")
    red = _reduction(sigma, delta, d, reduction)
    grid = np.linspace(0.0, r_max, K)
    R = red.risk_single_radius(grid)
    k = int(np.argmin(R))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, K - 1)]
    best_r, best = float(grid[k]), float(R[k])
    if hi > lo:
        res = optimize.minimize_scalar(lambda x: float(red.risk_single_radius(np.array([x]))[0]), bounds=(lo, hi),
                                       method="bounded", options={"xatol": 1e-12})
        if res.fun < best:
            best_r, best = float(res.x), float(res.fun)
    return SingleRadius(r=best_r, risk=best, at_boundary=bool(k == K - 1), r_max=r_max)


def project_simplex(y: np.ndarray) -> np.ndarray:
    """The Euclidean projection of y onto {p ≥ 0, Σ p = 1} (sort-based, exact)."""
    u = np.sort(y)[::-1]
    css = np.cumsum(u) - 1.0
    idx = np.arange(1, y.size + 1)
    rho = np.nonzero(u - css / idx > 0)[0][-1]
    theta = css[rho] / (rho + 1.0)
    return np.maximum(y - theta, 0.0)


def _qp(v, Phi, tol, max_iter):
    with threadpool_limits(limits=1, user_api="blas"):  # small products in a loop: one thread
        return _qp_pinned(v, Phi, tol, max_iter)


def _qp_pinned(v, Phi, tol, max_iter):
    L = 2.0 * float(np.linalg.norm(Phi, 2) ** 2)
    L = max(L, 1e-12)
    K = v.size
    p = np.full(K, 1.0 / K)
    y, t = p.copy(), 1.0

    def grad(x):
        return 2.0 * v + 2.0 * Phi @ (Phi.T @ x)

    gap = np.inf
    it = 0
    for it in range(1, max_iter + 1):
        p_new = project_simplex(y - grad(y) / L)
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        y = p_new + ((t - 1.0) / t_new) * (p_new - p)
        p, t = p_new, t_new
        if it % 50 == 0:
            g = grad(p)
            gap = float(g @ p - g.min())
            if gap <= tol:
                break
    p = _active_set(v, Phi, p, grad)
    g = grad(p)
    gap = float(g @ p - g.min())
    A = Phi.T @ p
    return p, float(1.0 + 2.0 * v @ p + A @ A), gap, it


def _active_set(v, Phi, p, grad, max_rounds=500):
    """Primal active-set polish from a feasible p: on the support S solve the equality-constrained
    QP exactly (KKT, least squares), step back to feasibility when a weight would turn negative,
    and add the index with the most negative reduced gradient until none is left."""
    S = list(np.nonzero(p > 1e-12 * p.max())[0])
    p = p.copy()
    for _ in range(max_rounds):
        idx = np.array(S)
        F = Phi[idx]
        n = idx.size
        KKT = np.zeros((n + 1, n + 1))
        KKT[:n, :n] = 2.0 * F @ F.T
        KKT[:n, n] = -1.0
        KKT[n, :n] = 1.0
        rhs = np.concatenate([-2.0 * v[idx], [1.0]])
        sol = np.linalg.lstsq(KKT, rhs, rcond=1e-13)[0]
        target = sol[:n]
        if np.any(target < 0):
            d = target - p[idx]
            neg = d < 0
            ratios = np.where(neg, p[idx] / np.where(neg, -d, 1.0), np.inf)
            step = min(1.0, float(ratios.min()))
            p[idx] = np.maximum(p[idx] + step * d, 0.0)
            S = [k for k in S if p[k] > 0]
            continue
        p[:] = 0.0
        p[idx] = target
        g = grad(p)
        mu = float(np.mean(g[idx]))
        out = np.setdiff1d(np.arange(v.size), idx)
        if out.size == 0 or g[out].min() >= mu - 1e-13 * max(1.0, abs(mu)):
            break
        S.append(int(out[np.argmin(g[out])]))
    return p / p.sum()


def global_minimum(
    sigma: Activation,
    delta: float,
    d,
    *,
    r_max: float = 10.0,
    K: int = 801,
    tol: float = 1e-9,
    max_iter: int = 20_000,
    refine: bool = True,
    far_point: float | None = None,
    reduction: RadialReduction | None = None,
) -> RadialOptimum:
    r"""min R(ρ̄) over radial laws on a K-point grid of [0, r_max] (module docstring).

    **Arguments:** the problem; ``r_max``; ``K`` grid points; ``tol``: target Frank–Wolfe gap;
    ``max_iter``; ``refine``: also solve on 2K − 1 points and return the change as ``grid_error``;
    ``far_point``: an extra grid radius (> r_max, e.g. 1e6) standing for r = ∞, where σ(s r <e, x>)
    has become the step s1 + (s2 − s1) 1{<e, x> > 0}; the features converge there like 1/r, so
    1e6 represents ∞ to about 1e-6. With it, the result approximates the infimum over all radii.
    """
    r_max = check_real(r_max, "r_max", positive=True)
    K = check_positive_int(K, "K")
    if K < 2:
        raise InvalidArgument(f"`K` must be >= 2, got K={K}.")
    tol = check_real(tol, "tol", positive=True)
    max_iter = check_positive_int(max_iter, "max_iter")
    red = _reduction(sigma, delta, d, reduction)

    if far_point is not None:
        far_point = check_real(far_point, "far_point", positive=True)
        if far_point <= r_max:
            raise InvalidArgument(f"`far_point` must exceed r_max={r_max}, got far_point={far_point}.")

    def solve(k):
        grid = np.linspace(0.0, r_max, k)
        if far_point is not None:
            grid = np.append(grid, far_point)
        return (grid, *_qp(red.v(grid), red.features(grid), tol, max_iter))

    grid, p, risk, gap, it = solve(K)
    grid_error = None
    if refine:
        grid_error = abs(solve(2 * K - 1)[2] - risk)
    atoms = tuple((float(r), float(m)) for r, m in zip(grid, p) if m > 1e-6)
    edge = K - 1  # index of r_max
    return RadialOptimum(grid=grid, weights=p, risk=risk, gap=gap, grid_error=grid_error, atoms=atoms,
                         at_boundary=bool(p[edge] > 1e-6), iterations=it)
