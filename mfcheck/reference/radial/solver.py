r"""The radial distributional dynamics ∂_t ρ̄ = 2ξ(t) ∂_r(ρ̄ ∂_r ψ(r; ρ̄)), by Lagrangian particles.

ρ̄_t = Σ_i w_i δ_{r_i(t)} with fixed weights, each radius following the characteristic
dr_i/dt = −2 ξ(t) ∂_r ψ(r_i; ρ̄_t) (docs/theory.md §6). Mass is conserved exactly (the weights
never change), and since all particles move in one Lipschitz field they never cross, so the
sorted radii are the quantile function of ρ̄_t at the fixed levels of the initial nodes.

**Initial law.** r = ||w^0|| with w^0 ~ N(0, κ²/d I_d), i.e. r = κ √(χ²_d / d), discretised by
its quantiles: r_i = F^{-1}((i − 1/2)/M), w_i = 1/M (a deterministic midpoint rule in the
quantile variable; no Monte Carlo error). Its error is first order in 1/M (the end cells of a
law with unbounded support carry it; ``tests/test_radial_solver.py`` checks the rate). Or any
law given as (nodes, weights).

**Field.** By :mod:`mfcheck.reference.radial.reduction`, ∂_r ψ(r; ρ̄) = v'(r) + Φ'(r)·A with A = ∫ Φ dρ̄.
v', Φ, Φ' are tabulated once on a uniform grid of K points in [0, r_hi]; A is accumulated from
the particles with the 4-point (cubic) Lagrange interpolation weights of each radius, and the
field is read back at the particles with the same weights: both O(h⁴), h = r_hi/(K − 1). The
grid is doubled in length whenever a particle passes 90% of it.

**Time.** The clock τ = ∫_0^t ξ turns the flow into dr/dτ = −2 ∂_r ψ. It is integrated by the
explicit Dormand–Prince 5(4) pair (compiled with numba), with the error of every particle
controlled in the max norm: |local error_i| ≤ ``atol`` + ``rtol`` |r_i|; steps land exactly on
the recording times. The flow contracts fast at first and slowly later, so adaptive steps are
the efficient choice.

**Error by refinement.** With ``refine=True`` a second flow runs with 2M particles, 2K − 1 grid
points and tolerances divided by 32; the largest differences of R(ρ̄_t), of the quantile
function and of each test-function mean over the time grid are stored in ``error``. They
bound the error of the coarse flow up to the usual refinement assumption (the fine flow is
much closer to the truth than the coarse one), which the tests check on their rates; with
the default K and tolerances the particle count M dominates the difference.

Recorded as well: the dissipation D(t) = 4ξ(t) ∫ (∂_r ψ)² dρ̄_t, so that the exact identity
dR(ρ̄_t)/dt = −D(t) ≤ 0 can be checked.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numba
import numpy as np
from scipy import integrate, stats
from threadpoolctl import threadpool_limits

from mfcheck._validation import check_array, check_positive_int, check_real
from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument
from mfcheck.reference.radial.reduction import RadialReduction, row_space

__all__ = ["RadialFlow", "initial_law", "solve_radial", "RadialField"]

_N_LEVELS = 2000


def initial_law(kappa: float, d: int, M: int) -> tuple[np.ndarray, np.ndarray]:
    """Quantile nodes of r = κ √(χ²_d / d) (the law of ||w^0||, w^0 ~ N(0, κ²/d I_d)), weights 1/M."""
    kappa = check_real(kappa, "kappa", positive=True)
    d = check_positive_int(d, "d")
    M = check_positive_int(M, "M")
    u = (np.arange(M) + 0.5) / M
    return kappa * np.sqrt(stats.chi2.ppf(u, d) / d), np.full(M, 1.0 / M)


@numba.njit(cache=True, error_model="numpy")
def _lagrange(x, K):
    """Left index i (1 ≤ i ≤ K − 3) and the 4 cubic Lagrange weights at nodes i−1..i+2 for x = r/h."""
    i = int(math.floor(x))
    i = min(max(i, 1), K - 3)
    t = x - i
    return i, -t * (t - 1.0) * (t - 2.0) / 6.0, (t + 1.0) * (t - 1.0) * (t - 2.0) / 2.0, \
        -(t + 1.0) * t * (t - 2.0) / 2.0, (t + 1.0) * t * (t - 1.0) / 6.0


@numba.njit(cache=True, error_model="numpy")
def _deposit(r, w, h, K):
    """m_k = Σ_i w_i ℓ_k(r_i) (cubic Lagrange weights): Σ_k m_k f(grid_k) ≈ Σ_i w_i f(r_i)."""
    m = np.zeros(K)
    for n in range(r.size):
        i, a, b, c, e = _lagrange(max(r[n], 0.0) / h, K)
        m[i - 1] += w[n] * a
        m[i] += w[n] * b
        m[i + 1] += w[n] * c
        m[i + 2] += w[n] * e
    return m


@numba.njit(cache=True, error_model="numpy")
def _gather(g, r, h):
    """g interpolated at each r_i (cubic Lagrange)."""
    K = g.size
    out = np.empty(r.size)
    for n in range(r.size):
        i, a, b, c, e = _lagrange(max(r[n], 0.0) / h, K)
        out[n] = a * g[i - 1] + b * g[i] + c * g[i + 1] + e * g[i + 2]
    return out


# Dormand–Prince 5(4) tableau (the 5th-order solution is propagated; b − b* estimates the error;
# the flow is autonomous in τ, so the nodes c are not needed)
_A = np.array([
    [0, 0, 0, 0, 0, 0],
    [1 / 5, 0, 0, 0, 0, 0],
    [3 / 40, 9 / 40, 0, 0, 0, 0],
    [44 / 45, -56 / 15, 32 / 9, 0, 0, 0],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0, 0],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
])
_E = np.array([71 / 57600, 0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40])


@numba.njit(cache=True, error_model="numpy")
def _velocity(r, w, h, Phi, dPhi, dv):
    """dr/dτ = −2 ∂_r ψ(r; Σ w δ_r) through the tables (τ = ∫ξ dt)."""
    m = _deposit(r, w, h, Phi.shape[0])
    A = m @ Phi
    g = dv + dPhi @ A
    return -2.0 * _gather(g, r, h)


@numba.njit(cache=True, error_model="numpy")
def _advance(r, w, tau, tau_end, step, h, Phi, dPhi, dv, rtol, atol, r_limit, max_steps, A_, E_):
    """Dormand–Prince 5(4) from tau to tau_end (max-norm error control per particle).

    Returns (r, tau, next step, accepted, rejected, status): status 0 reached tau_end,
    1 a particle passed r_limit (grow the tables), 2 max_steps exceeded.
    """
    n = r.size
    k = np.empty((7, n))
    y = np.empty(n)
    accepted = 0
    rejected = 0
    k[0] = _velocity(r, w, h, Phi, dPhi, dv)
    while tau < tau_end:
        if accepted + rejected >= max_steps:
            return r, tau, step, accepted, rejected, 2
        last = False
        if tau + step >= tau_end:
            step = tau_end - tau
            last = True
        for s in range(1, 7):
            for i in range(n):
                acc = 0.0
                for j in range(s):
                    acc += A_[s, j] * k[j, i]
                y[i] = max(r[i] + step * acc, 0.0)
            k[s] = _velocity(y, w, h, Phi, dPhi, dv)
        err = 0.0
        for i in range(n):
            e = 0.0
            for j in range(7):
                e += E_[j] * k[j, i]
            sc = atol + rtol * max(abs(r[i]), abs(y[i]))
            err = max(err, abs(step * e) / sc)
        if err <= 1.0:
            tau = tau_end if last else tau + step
            r = y.copy()
            k[0] = k[6]
            accepted += 1
            fac = 5.0 if err == 0.0 else min(5.0, max(0.2, 0.9 * err ** -0.2))
            if not last:
                step = step * fac
            if r.max() > r_limit:
                return r, tau, step, accepted, rejected, 1
        else:
            rejected += 1
            step = step * max(0.2, 0.9 * err ** -0.2)
    return r, tau, step, accepted, rejected, 0


class RadialField:
    """v, v', Φ, Φ' of a :class:`RadialReduction` tabulated on K points of [0, r_hi].

    Φ and Φ' are stored compressed, as Φ V and Φ' V with V from
    :func:`~mfcheck.reference.radial.reduction.row_space` (singular values above 1e-13 of the largest):
    the feature mean of any law on the grid lies in that row space, so Φ'·A and |A|² are
    unchanged up to the dropped part.

    ``feature_mean(r, w)`` = Σ_i w_i Φ(r_i), ``drift_grad(r, A)`` = v'(r) + Φ'(r)·A and
    ``mean_v(r, w)`` = Σ_i w_i v(r_i), all through cubic interpolation.
    """

    def __init__(self, reduction: RadialReduction, r_hi: float, K: int):
        self.reduction = reduction
        self.K = check_positive_int(K, "K")
        if self.K < 8:
            raise InvalidArgument(f"`K` (grid points) must be >= 8, got K={K}.")
        self.r_hi = check_real(r_hi, "r_hi", positive=True)
        self.grid = np.linspace(0.0, self.r_hi, self.K)
        self.h = self.grid[1]
        Phi = reduction.features(self.grid)
        V = row_space(Phi)  # A = Σ_k m_k Φ(grid_k) lies in the row space of Φ on the grid
        self.Phi = np.ascontiguousarray(Phi @ V)
        self.dPhi = np.ascontiguousarray(reduction.features(self.grid, derivative=True) @ V)
        self.v = reduction.v(self.grid)
        self.dv = reduction.v_prime(self.grid)

    def deposit(self, r, w) -> np.ndarray:
        """m (K,) with Σ_k m_k f(grid_k) = Σ_i w_i (cubic interpolant of f)(r_i)."""
        return _deposit(np.ascontiguousarray(r, dtype=np.float64), np.ascontiguousarray(w, dtype=np.float64), self.h, self.K)

    def feature_mean(self, r, w, m=None) -> np.ndarray:
        m = self.deposit(r, w) if m is None else m
        return m @ self.Phi

    def drift_grad(self, r, A) -> np.ndarray:
        g = self.dv + self.dPhi @ A
        return _gather(g, np.ascontiguousarray(r, dtype=np.float64), self.h)

    def mean_v(self, r, w, m=None) -> float:
        m = self.deposit(r, w) if m is None else m
        return float(m @ self.v)


@dataclass(frozen=True)
class RadialFlow:
    """A solved radial flow.

    - ``times`` (J,); ``risk`` (J,): R(ρ̄_t); ``dissipation`` (J,): 4ξ ∫(∂_rψ)² dρ̄_t; ``mass`` (J,).
    - ``levels`` (Q,) = (k + 1/2)/Q, Q = 2000; ``quantiles`` (J, Q): the radius at CDF level
      ``levels[k]`` at time j (interpolated between particles).
    - ``f_names`` (F,), ``f_means`` (J, F): ∫ f dρ̄_t of the test functions asked for.
    - ``radii``, ``weights`` (M,): the particles at the final time.
    - ``error``: largest coarse-vs-refined differences (``risk``, ``quantile_sup``,
      ``quantile_w1`` (∫|Δ quantile| dlevel = W1 distance), ``f_means``), empty without refinement.
    - ``settings``: sigma, delta, d, M, K, rtol, atol, r_hi, n_terms, steps, seconds.
    """

    times: np.ndarray
    risk: np.ndarray
    dissipation: np.ndarray
    mass: np.ndarray
    levels: np.ndarray
    quantiles: np.ndarray
    f_names: tuple[str, ...]
    f_means: np.ndarray
    radii: np.ndarray
    weights: np.ndarray
    settings: dict
    error: dict = field(default_factory=dict)

    def cdf(self, j: int, r) -> np.ndarray:
        """P(r_t ≤ r) at time index j (linear in the stored quantiles)."""
        q = self.quantiles[j]
        return np.interp(np.asarray(r, dtype=float), q, self.levels, left=0.0, right=1.0)

    def density(self, j: int, bins) -> np.ndarray:
        """Mass per unit length of ρ̄_t in each bin (len(bins) − 1,), from the CDF."""
        bins = check_array(bins, "bins", ndim=1)
        if bins.size < 2 or np.any(np.diff(bins) <= 0):
            raise InvalidArgument("`bins` must be increasing with at least two edges.")
        return np.diff(self.cdf(j, bins)) / np.diff(bins)

    def mean(self, name: str) -> np.ndarray:
        """∫ f dρ̄_t over the time grid for the test function called ``name``."""
        if name not in self.f_names:
            raise InvalidArgument(f"`name` must be one of {self.f_names}, got {name!r}.")
        return self.f_means[:, self.f_names.index(name)]

    def settled_at(self, tol: float) -> float:
        """The first recorded time after which R(ρ̄_t) stays within ``tol`` of its final value."""
        tol = check_real(tol, "tol", positive=True)
        moving = np.nonzero(np.abs(self.risk - self.risk[-1]) > tol)[0]
        return float(self.times[0] if moving.size == 0 else self.times[min(moving[-1] + 1, self.times.size - 1)])


class _Constant:
    def __init__(self, value):
        self.constant = value

    def __call__(self, t):
        return self.constant


def _xi_fn(xi):
    if callable(xi):
        return xi
    return _Constant(check_real(xi, "xi", positive=True))


def _run(reduction, r0, w0, times, xi, K, rtol, atol, test_functions, max_steps):
    t0 = _time.perf_counter()
    taus = _clock(xi, times)
    fld = RadialField(reduction, max(2.0 * float(r0.max()) + 1.0, 4.0), K)
    names = tuple(test_functions)
    J, F = times.size, len(names)
    levels = (np.arange(_N_LEVELS) + 0.5) / _N_LEVELS  # interior levels: the extreme quantiles are not stored
    cum = np.cumsum(w0) - 0.5 * w0  # mid-CDF level of each particle
    out = {k: np.empty(J) for k in ("risk", "dissipation", "mass")}
    quant = np.empty((J, levels.size))
    fm = np.empty((J, F))
    r = r0.copy()
    tau = taus[0]
    step = 1e-4
    n_acc = n_rej = 0
    for j in range(J):
        while tau < taus[j]:
            r, tau, step, acc, rej, status = _advance(
                r, w0, tau, taus[j], step, fld.h, fld.Phi, fld.dPhi, fld.dv, rtol, atol, 0.9 * fld.r_hi,
                max_steps - n_acc - n_rej, _A, _E,
            )
            n_acc += acc
            n_rej += rej
            if status == 1:
                fld = RadialField(reduction, 2.0 * fld.r_hi, 2 * fld.K - 1)
            elif status == 2:
                raise RuntimeError(f"the radial solver exceeded max_steps={max_steps} before t={times[j]}.")
        m = fld.deposit(r, w0)
        A = m @ fld.Phi
        g = fld.drift_grad(r, A)
        out["risk"][j] = 1.0 + 2.0 * float(m @ fld.v) + A @ A
        out["dissipation"][j] = 4.0 * xi(times[j]) * float(w0 @ (g * g))
        out["mass"][j] = w0.sum()
        quant[j] = np.interp(levels, cum, r)
        for k, name in enumerate(names):
            fm[j, k] = float(w0 @ np.asarray(test_functions[name](r), dtype=float))
    settings = {
        "sigma": repr(reduction.sigma), "delta": reduction.delta, "d": reduction.d, "M": int(r0.size), "K": int(fld.K),
        "rtol": rtol, "atol": atol, "r_hi": fld.r_hi, "n_terms": reduction.n_terms,
        "steps": n_acc, "rejected": n_rej, "seconds": _time.perf_counter() - t0,
    }
    return RadialFlow(
        times=times, risk=out["risk"], dissipation=out["dissipation"], mass=out["mass"], levels=levels,
        quantiles=quant, f_names=names, f_means=fm, radii=r, weights=w0, settings=settings,
    )


def _clock(xi, times):
    """τ(t_j) = ∫_0^{t_j} ξ: the dynamics in τ has ξ ≡ 1."""
    if getattr(xi, "constant", None) is not None:
        return xi.constant * times
    taus = np.empty(times.size)
    acc, prev = 0.0, 0.0
    for j, t in enumerate(times):
        acc += integrate.quad(xi, prev, t, limit=200)[0] if t > prev else 0.0
        taus[j], prev = acc, t
    return taus


def solve_radial(
    sigma: Activation,
    delta: float,
    d,
    *,
    T: float,
    kappa: float | None = None,
    rho0: tuple | None = None,
    init_d: int | None = None,
    times=None,
    n_times: int = 201,
    M: int = 100_000,
    K: int = 1024,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    xi=1.0,
    test_functions: Mapping[str, Callable] | None = None,
    refine: bool = False,
    reduction: RadialReduction | None = None,
    max_steps: int = 200_000,
) -> RadialFlow:
    r"""Solve the radial dynamics from ρ̄_0 up to time T.

    **Arguments:**

    - ``sigma``, ``delta``, ``d``: the problem (``d`` a positive int or ``math.inf``).
    - ``T``: final time (> 0).
    - ``kappa``: start from r = κ √(χ²_{d0}/d0), d0 = ``init_d`` or ``d`` (the law of ||w^0|| for
      w^0 ~ N(0, κ²/d0 I)); ``init_d`` is required when d = ∞. Or ``rho0`` = (nodes, weights),
      weights summing to 1. Exactly one of the two.
    - ``times``: increasing recording times in [0, T]; default ``n_times`` points, uniform in [0, T].
    - ``M``: particles (kappa start); ``K``: grid points of the field tables.
    - ``rtol``, ``atol``: the Dormand–Prince error control on the radii (max norm).
    - ``xi``: ξ, a positive float or a callable of t.
    - ``test_functions``: name → vectorised f(r); their means are recorded.
    - ``refine``: also run with 2M, 2K, tolerances/32 and store the differences in ``error``.
    - ``reduction``: a prebuilt :class:`RadialReduction` (else built from sigma, delta, d).
    - ``max_steps``: cap on accepted steps.
    """
    T = check_real(T, "T", positive=True)
    if reduction is None:
        reduction = RadialReduction(sigma, delta, d)
    elif not isinstance(reduction, RadialReduction):
        raise InvalidArgument(f"`reduction` must be a RadialReduction, got {reduction!r}.")
    M = check_positive_int(M, "M")
    K = check_positive_int(K, "K")
    rtol = check_real(rtol, "rtol", positive=True)
    atol = check_real(atol, "atol", positive=True)
    max_steps = check_positive_int(max_steps, "max_steps")
    xi_fn = _xi_fn(xi)
    test_functions = dict(test_functions or {})
    for name, f in test_functions.items():
        if not callable(f):
            raise InvalidArgument(f"test function {name!r} must be callable.")
    if (kappa is None) == (rho0 is None):
        raise InvalidArgument("Give exactly one of `kappa` (Gaussian start) and `rho0` (nodes, weights).")
    if times is None:
        times = np.linspace(0.0, T, check_positive_int(n_times, "n_times"))
    times = check_array(times, "times", ndim=1)
    if times.size == 0 or np.any(np.diff(times) <= 0) or times[0] < 0 or times[-1] > T * (1 + 1e-12):
        raise InvalidArgument("`times` must be increasing, within [0, T].")

    def start(m):
        if kappa is not None:
            d0 = init_d if init_d is not None else reduction.d
            if isinstance(d0, float) and math.isinf(d0):
                raise InvalidArgument("With d = inf give `init_d` (the dimension of the Gaussian start).")
            return initial_law(kappa, d0, m)
        nodes, weights = rho0
        nodes = check_array(np.ravel(nodes), "rho0 nodes")
        weights = check_array(np.ravel(weights), "rho0 weights", shape=(nodes.size,))
        if np.any(nodes < 0) or np.any(weights < 0) or not abs(weights.sum() - 1.0) <= 1e-9:
            raise InvalidArgument("`rho0` must be (nodes >= 0, weights >= 0 summing to 1).")
        order = np.argsort(nodes, kind="stable")
        return nodes[order], weights[order]

    r0, w0 = start(M)
    with threadpool_limits(limits=1, user_api="blas"):  # small products in a loop: one thread
        flow = _run(reduction, r0, w0, times, xi_fn, K, rtol, atol, test_functions, max_steps)
    if not refine:
        return flow
    if kappa is not None:
        r1, w1 = start(2 * M)
    else:
        r1, w1 = r0, w0  # a given law is not refined in M
    with threadpool_limits(limits=1, user_api="blas"):
        fine = _run(reduction, r1, w1, times, xi_fn, 2 * K - 1, rtol / 32, atol / 32, test_functions, max_steps)
    dq = np.abs(flow.quantiles - fine.quantiles)
    error = {
        "risk": float(np.max(np.abs(flow.risk - fine.risk))),
        "quantile_sup": float(dq.max()),
        "quantile_w1": float(np.max(np.mean(dq, axis=1))),  # midpoint rule in the level: W1 distance
        "f_means": {n: float(np.max(np.abs(flow.f_means[:, k] - fine.f_means[:, k]))) for k, n in enumerate(flow.f_names)},
        "refined_settings": fine.settings,
    }
    return RadialFlow(**{**flow.__dict__, "error": error})
