r"""The radial reduction of the two-Gaussians problem: v, u, ψ, R on laws of r = ||w||.

For y = ±1 with x ~ N(0, s_±² I_d), s_± = 1 ± Δ, σ*(x; w) = σ(<w, x>) and q, μ_n, pair as in
:mod:`mfcheck.reference.radial.forms` (docs/theory.md §6):

    v(r)      = V(w) = −(1/2)[q(s_+ r) − q(s_− r)],                      ||w|| = r,
    u(r, r')  = (1/2) Σ_± E_c pair(s_± r, s_± r', c),   c = cos∠(w, w'),
    ψ(r; ρ̄)   = v(r) + ∫ u(r, r') ρ̄(dr'),    R(ρ̄) = 1 + 2∫ v dρ̄ + ∫∫ u dρ̄ dρ̄.

For w, w' independent and uniform in direction in R^d, c has density ∝ (1 − c²)^{(d−3)/2} on
[−1, 1] (d ≥ 2; c = ±1 with probability 1/2 each for d = 1), whose moments are
e_m = E c^{2m} = Π_{i<m} (2i + 1)/(d + 2i) (odd moments vanish). Mehler's formula then makes u a
sum of products, a finite-rank kernel:

    u(r, r') = Σ_± Σ_m (e_m/2) μ_{2m}(s_± r) μ_{2m}(s_± r') = Φ(r) · Φ(r'),
    Φ(r) = ( √(e_m/2) μ_{2m}(s_± r) )_{±, m},

so ψ(r; ρ̄) = v(r) + Φ(r)·A and R(ρ̄) = 1 + 2∫v dρ̄ + |A|², with A = ∫ Φ dρ̄: a law enters the
dynamics only through the feature mean A. As d → ∞, e_m → 0 for m ≥ 1 and
u(r, r') = (1/2) Σ_± q(s_± r) q(s_± r') (only m = 0; ``d=math.inf``).

**Truncation.** Keeping m < M, the neglected part of u is at most
e_M · (1/2) Σ_± √(T(s_± r) T(s_± r')) with T(a) = E σ(aG)² − Σ_{k < 2M} μ_k(a)² (Cauchy–Schwarz
and Parseval; :meth:`RadialReduction.truncation_bound`). M is the least value with
e_M sup|σ|² ≤ ``tol``, capped at ``max_terms``; for small d and a kinked σ the cap binds (e_m
decays like m^{−(d−1)/2}) and the bound states the error. The direct route
(:meth:`RadialReduction.u_quadrature`: Gauss–Jacobi nodes in c and :func:`~mfcheck.reference.radial.forms.pair`)
is independent of the series and checks it.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy import special
from threadpoolctl import threadpool_limits

from mfcheck._validation import check_array, check_positive_int, check_real
from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument
from mfcheck.reference.radial import forms

__all__ = ["RadialReduction", "angle_moments", "angle_rule", "finite_risk"]

_CHUNK = 4096  # radii per block of features (a block is _CHUNK × 2M doubles)


def row_space(Phi, rel: float = 1e-13, max_rows: int = 1025) -> np.ndarray:
    """V (F, k): orthonormal directions carrying Φ (K, F) up to singular values below ``rel`` s_0.

    From the eigenvectors of the Gram matrix Φ_s^T Φ_s of at most ``max_rows`` evenly spaced rows
    (eigenvalues above rel² of the largest). Any Σ_k m_k Φ(r_k) then equals V V^T of itself up to
    that level, so Φ V, Φ' V and V^T A replace Φ, Φ', A in ψ, ∂ψ and |A|². Identity when F ≤ 64.
    """
    F = Phi.shape[1]
    if F <= 64:
        return np.eye(F)
    step = max(1, (Phi.shape[0] - 1) // (max_rows - 1))
    sub = Phi[::step]
    with threadpool_limits(limits=1, user_api="blas"):  # small products: BLAS threads cost more than they give
        lam, vec = np.linalg.eigh(sub.T @ sub)
    keep = lam > rel * rel * lam[-1]
    return vec[:, keep]


def _check_d(d):
    if isinstance(d, float) and math.isinf(d) and d > 0:
        return math.inf
    return check_positive_int(d, "d")


def angle_moments(d, n: int) -> np.ndarray:
    """e_m = E c^{2m}, m = 0..n−1, for the cosine c between two uniform directions in R^d.

    e_{m+1} = e_m (2m + 1)/(d + 2m); ``d=math.inf`` gives (1, 0, 0, ...).
    """
    d = _check_d(d)
    n = check_positive_int(n, "n")
    e = np.zeros(n)
    e[0] = 1.0
    if math.isinf(d):
        return e
    for m in range(n - 1):
        e[m + 1] = e[m] * (2 * m + 1) / (d + 2 * m)
    return e


def angle_rule(d: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes c_k and weights ω_k (Σ ω_k = 1) with Σ ω_k f(c_k) ≈ E f(c) for the cosine in R^d.

    Gauss–Jacobi with α = β = (d − 3)/2 (``scipy.special.roots_jacobi``), exact for polynomials
    of degree ≤ 2n − 1; d = 1 is the two-point law c = ±1.
    """
    d = _check_d(d)
    n = check_positive_int(n, "n")
    if math.isinf(d):
        raise InvalidArgument("`d` must be finite for an angle rule (as d → ∞, c = 0).")
    if d == 1:
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    c, w = special.roots_jacobi(n, (d - 3) / 2, (d - 3) / 2)
    return c, w / w.sum()


class RadialReduction:
    r"""v, u, ψ, R of the two-Gaussians problem as functions of radii.

    **Arguments:**

    - ``sigma``: the activation (closed forms for ``piecewise_linear``; any smooth σ by
      Gauss–Hermite).
    - ``delta``: Δ, 0 < Δ < 1.
    - ``d``: the dimension, a positive int or ``math.inf``.
    - ``tol``: target of the truncation bound e_M sup|σ|² (default 1e-12).
    - ``max_terms``: cap on M, the number of even Hermite orders kept (default 1500).
    - ``r_max``: radii up to which M is chosen from the data-dependent bound (default 10).

    Attributes: ``scales`` (s_+, s_−), ``moments`` (e_0..e_{M−1}), ``n_terms`` M,
    ``feature_dim`` 2M.
    """

    def __init__(
        self, sigma: Activation, delta: float, d, *, tol: float = 1e-12, max_terms: int = 1500, r_max: float = 10.0
    ):
        if not isinstance(sigma, Activation):
            raise InvalidArgument(f"`sigma` must be an mfcheck Activation, got {sigma!r}.")
        self.sigma = sigma
        self.delta = check_real(delta, "delta")
        if not 0.0 < self.delta < 1.0:
            raise InvalidArgument(f"`delta` must satisfy 0 < delta < 1, got delta={self.delta}.")
        self.d = _check_d(d)
        self.tol = check_real(tol, "tol", positive=True)
        max_terms = check_positive_int(max_terms, "max_terms")
        if forms.ramp_form(sigma) is None:
            max_terms = min(max_terms, 100)  # Gauss–Hermite coefficients: orders ≤ 200
        self.scales = (1.0 + self.delta, 1.0 - self.delta)
        self.r_max = check_real(r_max, "r_max", positive=True)
        if math.isinf(self.d):
            M = 1
        else:
            M = self._choose_terms(max_terms)
        self.n_terms = M
        self.moments = angle_moments(self.d, M)
        self._next_moment = 0.0 if math.isinf(self.d) else float(angle_moments(self.d, M + 1)[-1])
        self.feature_dim = 2 * M

    def _choose_terms(self, max_terms: int) -> int:
        """Least M with e_M sup|σ|² ≤ tol, or else with e_M max_{r ≤ r_max, ±} T_{2M}(s_± r) ≤ tol
        (T as in :meth:`truncation_bound`, probed on 65 radii), capped at ``max_terms``."""
        e = angle_moments(self.d, max_terms + 1)
        if math.isfinite(self.sigma.sup_norm):
            small = np.nonzero(e * self.sigma.sup_norm**2 <= self.tol)[0]
            if small.size and small[0] <= 64:
                return max(int(small[0]), 1)
        probe = np.linspace(0.0, self.r_max, 65)
        worst = np.zeros(max_terms + 1)
        for s in self.scales:
            mu = forms.hermite_coefficients(self.sigma, s * probe, 2 * max_terms)
            cum = np.cumsum(mu * mu, axis=-1)[:, 1::2]  # Σ_{k < 2M} μ_k², M = 1..max_terms
            tail = forms.second_moment(self.sigma, s * probe)[:, None] - cum
            worst[1:] = np.maximum(worst[1:], tail.max(axis=0))
        worst[0] = np.inf
        small = np.nonzero(e * np.maximum(worst, 0.0) <= self.tol)[0]
        return max(int(small[0]), 1) if small.size else max_terms

    def __repr__(self):
        return f"RadialReduction(sigma={self.sigma!r}, delta={self.delta}, d={self.d}, n_terms={self.n_terms})"

    def _r(self, r, name="r"):
        r = check_array(r, name)
        if np.any(r < 0):
            raise InvalidArgument(f"`{name}` must be >= 0 (a radius), got min {name}={r.min()}.")
        return r

    # -- one-body -----------------------------------------------------------------------
    def v(self, r) -> np.ndarray:
        """v(r) = −(1/2)[q(s_+ r) − q(s_− r)] (R_# = 1)."""
        r = self._r(r)
        sp, sm = self.scales
        return -0.5 * (forms.q(self.sigma, sp * r) - forms.q(self.sigma, sm * r))

    def v_prime(self, r) -> np.ndarray:
        """v'(r) = −(1/2)[s_+ q'(s_+ r) − s_− q'(s_− r)]."""
        r = self._r(r)
        sp, sm = self.scales
        return -0.5 * (sp * forms.q_prime(self.sigma, sp * r) - sm * forms.q_prime(self.sigma, sm * r))

    # -- the kernel as features ----------------------------------------------------------
    def features(self, r, *, derivative: bool = False) -> np.ndarray:
        """Φ(r) (or Φ'(r) = dΦ/dr with ``derivative=True``): shape r.shape + (2M,), with
        u(r, r') = Φ(r)·Φ(r') and ∂_r u(r, r') = Φ'(r)·Φ(r'). Columns: M for s_+, then M for s_−."""
        r = self._r(r)
        root = np.sqrt(0.5 * self.moments)
        parts = []
        for s in self.scales:
            mu = forms.hermite_coefficients(self.sigma, s * r, 2 * self.n_terms - 1, derivative=derivative)
            parts.append(mu[..., ::2] * root * (s if derivative else 1.0))
        return np.concatenate(parts, axis=-1)

    def u(self, r1, r2) -> np.ndarray:
        """u(r1_i, r2_j): shape (len r1, len r2) (1-D inputs)."""
        return self.features(np.ravel(r1)) @ self.features(np.ravel(r2)).T

    def u_prime(self, r1, r2) -> np.ndarray:
        """∂_1 u(r1_i, r2_j) (derivative in the first radius): shape (len r1, len r2)."""
        return self.features(np.ravel(r1), derivative=True) @ self.features(np.ravel(r2)).T

    def u_diagonal(self, r) -> np.ndarray:
        """u(r, r) = Φ(r)·Φ(r): the interaction of two *independent* uniform directions on the sphere of
        radius r (the pair term of R(δ_r)). Not the self-energy of one neuron: see :meth:`self_energy`."""
        F = self.features(r)
        return np.sum(F * F, axis=-1)

    def self_energy(self, r) -> np.ndarray:
        """U(w, w) = E σ(<w, x>)² = (1/2) Σ_± E σ(s_± r G)² for ||w|| = r (c = 1: one neuron with itself)."""
        r = self._r(r)
        return 0.5 * sum(forms.second_moment(self.sigma, s * r) for s in self.scales)

    def self_interaction(self, nodes, weights) -> float:
        r"""N (E R_N(w) − R(ρ̄)) for w_1..w_N i.i.d. with ||w_i|| ~ ρ̄ = Σ_k weights_k δ_{nodes_k} and
        uniform directions:

            E R_N = 1 + 2∫v dρ̄ + (1 − 1/N) ∫∫u dρ̄ dρ̄ + (1/N) ∫ U(w, w) dρ̄
                  = R(ρ̄) + (1/N) (∫ self_energy dρ̄ − |A|²),   A = ∫Φ dρ̄,

        since the N diagonal terms of (1/N²) Σ_{i,j} U(w_i, w_j) pair a neuron with itself."""
        nodes, weights = self._law(nodes, weights)
        A = sum(weights[k:k + _CHUNK] @ self.features(nodes[k:k + _CHUNK]) for k in range(0, nodes.size, _CHUNK))
        return float(weights @ self.self_energy(nodes) - A @ A)

    def truncation_bound(self, r1, r2) -> np.ndarray:
        """Bound on |u − Φ·Φ| at (r1_i, r2_j): e_M (1/2) Σ_± √(T(s_± r1) T(s_± r2)) (module docstring)."""
        r1 = self._r(np.ravel(r1), "r1")
        r2 = self._r(np.ravel(r2), "r2")
        if math.isinf(self.d):
            return np.zeros((r1.size, r2.size))
        out = 0.0
        for s in self.scales:
            tails = []
            for r in (r1, r2):
                mu = forms.hermite_coefficients(self.sigma, s * r, 2 * self.n_terms)
                T = forms.second_moment(self.sigma, s * r) - np.sum(mu * mu, axis=-1)
                tails.append(np.sqrt(np.maximum(T, 0.0)))
            out = out + 0.5 * np.outer(*tails)
        return self._next_moment * out

    def u_quadrature(self, r1, r2, *, n_angles: int = 48, n_nodes: int = 32) -> np.ndarray:
        """u(r1, r2) by the direct route: Gauss–Jacobi in c (:func:`angle_rule`) of
        (1/2) Σ_± pair(s_± r1, s_± r2, c) (:func:`~mfcheck.reference.radial.forms.pair`); r1, r2 broadcast."""
        r1 = self._r(r1, "r1")
        r2 = self._r(r2, "r2")
        r1, r2 = np.broadcast_arrays(r1, r2)
        if math.isinf(self.d):
            return 0.5 * sum(forms.q(self.sigma, s * r1) * forms.q(self.sigma, s * r2) for s in self.scales)
        c, w = angle_rule(self.d, n_angles)
        vals = sum(
            0.5 * forms.pair(self.sigma, s * r1[..., None], s * r2[..., None], c, n_nodes=n_nodes) for s in self.scales
        )
        return vals @ w

    # -- laws ------------------------------------------------------------------------------
    def _law(self, nodes, weights):
        nodes = self._r(np.ravel(nodes), "nodes")
        weights = check_array(np.ravel(weights), "weights", shape=(nodes.size,))
        if np.any(weights < 0):
            raise InvalidArgument("`weights` must be >= 0.")
        total = weights.sum()
        if not abs(total - 1.0) <= 1e-9:
            raise InvalidArgument(f"`weights` must sum to 1 (a probability law), got sum={total}.")
        return nodes, weights

    def feature_mean(self, nodes, weights) -> np.ndarray:
        """A = ∫ Φ dρ̄ for ρ̄ = Σ_k weights_k δ_{nodes_k}: shape (2M,)."""
        nodes, weights = self._law(nodes, weights)
        return weights @ self.features(nodes)

    def psi(self, r, nodes, weights) -> np.ndarray:
        """ψ(r; ρ̄) = v(r) + Φ(r)·A for ρ̄ = Σ_k weights_k δ_{nodes_k}."""
        A = self.feature_mean(nodes, weights)
        return self.v(r) + self.features(r) @ A

    def psi_prime(self, r, nodes, weights) -> np.ndarray:
        """∂_r ψ(r; ρ̄) = v'(r) + Φ'(r)·A (analytic derivative)."""
        A = self.feature_mean(nodes, weights)
        return self.v_prime(r) + self.features(r, derivative=True) @ A

    def risk(self, nodes, weights) -> float:
        """R(ρ̄) = 1 + 2 Σ_k weights_k v(nodes_k) + |A|²."""
        nodes, weights = self._law(nodes, weights)
        A = weights @ self.features(nodes)
        return float(1.0 + 2.0 * weights @ self.v(nodes) + A @ A)

    def risk_single_radius(self, r) -> np.ndarray:
        """R(δ_r) = 1 + 2 v(r) + u(r, r): all mass on the sphere of radius r (uniform direction)."""
        return 1.0 + 2.0 * self.v(r) + self.u_diagonal(r)


@numba.njit(cache=True, error_model="numpy")
def _mehler_sum(mu, C, far):
    """Σ_{i,j not far} Σ_n C_ij^n μ_n(a_i) μ_n(a_j): Horner in n, vectorised over j ≥ i."""
    N, n = mu.shape
    muT = np.ascontiguousarray(mu.T)  # (n, N): rows contiguous in j
    acc = np.empty(N)
    total = 0.0
    for i in range(N):
        for j in range(i, N):
            acc[j] = mu[i, n - 1] * muT[n - 1, j]
        for k in range(n - 2, -1, -1):
            m = mu[i, k]
            for j in range(i, N):
                acc[j] = acc[j] * C[i, j] + m * muT[k, j]
        for j in range(i, N):
            if not far[i, j]:
                total += acc[j] if i == j else 2.0 * acc[j]
    return total


def finite_risk(W, sigma: Activation, delta: float, *, c_cut: float = 0.8, tol: float = 1e-12) -> float:
    r"""The exact risk R_N(W) of N neurons w_i (rows of ``W``, shape (N, d)) on the two-Gaussians problem.

    R_N = 1 + (2/N) Σ_i v(|w_i|) + (1/N²) Σ_{i,j} (1/2) Σ_± pair(s_± |w_i|, s_± |w_j|, c_ij),
    c_ij = cos∠(w_i, w_j) (c_ii = 1). Pairs with |c_ij| ≤ ``c_cut`` use the Mehler series with
    n terms, c_max^n sup|σ|² ≤ ``tol`` (c_max the largest such |c_ij|; the neglected tail is at
    most that by Parseval and Cauchy–Schwarz); the others (the diagonal included) the direct route.

    **Arguments:** ``W`` (N, d) finite; ``sigma``; ``delta`` in (0, 1); ``c_cut`` in (0, 1);
    ``tol`` > 0. A zero row has no direction; its c_ij is taken as 0 (σ(0·G) is constant, so
    any c gives the same value).
    """
    W = check_array(W, "W", ndim=2)
    delta = check_real(delta, "delta")
    if not 0.0 < delta < 1.0:
        raise InvalidArgument(f"`delta` must satisfy 0 < delta < 1, got delta={delta}.")
    c_cut = check_real(c_cut, "c_cut")
    if not 0.0 < c_cut < 1.0:
        raise InvalidArgument(f"`c_cut` must satisfy 0 < c_cut < 1, got c_cut={c_cut}.")
    tol = check_real(tol, "tol", positive=True)
    N = W.shape[0]
    if N == 0:
        raise InvalidArgument("`W` must have at least one row.")
    r = np.linalg.norm(W, axis=1)
    E = np.divide(W, r[:, None], out=np.zeros_like(W), where=r[:, None] > 0)
    C = np.clip(E @ E.T, -1.0, 1.0)
    np.fill_diagonal(C, 1.0)
    far = np.abs(C) > c_cut
    S2 = sigma.sup_norm**2 if math.isfinite(sigma.sup_norm) else 1e6
    Cm = np.where(far, 0.0, C)
    c_max = max(float(np.abs(Cm).max()), 1e-3)
    n = int(min(400, max(2, math.ceil(math.log(tol / max(S2, 1e-300)) / math.log(c_max)))))
    if forms.ramp_form(sigma) is None:
        n = min(n, 200)  # Gauss–Hermite coefficients; c_max^200 ≤ 0.8^200 ≈ 4e-20
    ii, jj = np.nonzero(np.triu(far))  # direct route on the upper triangle (symmetric)
    mult = np.where(ii == jj, 1.0, 2.0)
    total = 0.0
    for s in (1.0 + delta, 1.0 - delta):
        mu = np.ascontiguousarray(forms.hermite_coefficients(sigma, s * r, n))  # (N, n)
        near_sum = _mehler_sum(mu, np.ascontiguousarray(C), far)
        cij = C[ii, jj]
        direct = np.empty(ii.size)
        for sgn in (1.0, -1.0):  # collinear pairs (the diagonal included) in closed form
            line = cij == sgn
            direct[line] = forms.pair_collinear(sigma, s * r[ii[line]], s * r[jj[line]], sgn)
        rest = np.abs(cij) < 1.0
        direct[rest] = forms.pair(sigma, s * r[ii[rest]], s * r[jj[rest]], cij[rest])
        total += 0.5 * (near_sum + mult @ direct)
    sp, sm = 1.0 + delta, 1.0 - delta
    v = -0.5 * (forms.q(sigma, sp * r) - forms.q(sigma, sm * r))
    return float(1.0 + 2.0 * v.mean() + total / N**2)
