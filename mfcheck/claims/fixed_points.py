"""Noiseless fixed points (docs/theory.md §5): the long-time limit and exponential contraction to a Dirac.

**Claims.** (a) ρ is a fixed point of the noiseless dynamics iff supp(ρ) ⊆ {θ : ∇_θΨ(θ; ρ) = 0};
the flow's long-time limit is one, so the residual r(t) = ∫ ||∇_θΨ(θ; ρ_t)||² ρ_t(dθ) → 0.
(b) Near θ* with ∇Ψ(θ*; δ_θ*) = ∇V(θ*) + ∇₁U(θ*, θ*) = 0 and A = Hess_θΨ(θ*; δ_θ*) ≻ 0, ρ_t → δ_θ*
exponentially fast.

**Linearisation (the predicted rate).** With B = ∇₁∇₂U(θ*, θ*) (symmetric) and m_t the mean of ρ_t,
for ρ_t concentrated near θ*:
∇Ψ(θ; ρ_t) ≈ A(θ − θ*) + B(m_t − θ*), so a particle moves by θ' = −2ξ[A(θ − θ*) + B(m_t − θ*)],
the mean by m' = −2ξ(A + B)(m − θ*) and the deviation u = θ − m by u' = −2ξAu. Started at
ρ_0 = N(θ* + δ, κ² I), with τ = ∫_0^t ξ,

    ∫||θ − θ*||² dρ_t ≈ κ² tr e^{−4Aτ} + ||e^{−2(A+B)τ} δ||²,

so the second moment about θ* decays at the asymptotic rate r*_2 = 4 min(λ_min(A), λ_min(A + B))
per unit τ, and the spread ∫||θ − m_t||² dρ_t at r*_s = 4 λ_min(A) (the hypothesis A ≻ 0 is
exactly what makes the spread contract). On a finite window the faster modes still contribute,
so the window fit of the linearised curve itself, not r*_2, is what a window fit is compared with.

**The memory of a particle** (what SGD is judged on). Let v be the unit eigenvector of A for
λ = λ_min(A) and u_i = θ_i − θ̄ a particle's deviation from the mean. In the linear regime each
deviation follows u' = −2ξAu, so v·u_i(τ) = e^{−2λτ} v·u_i(0), and

    Y(τ) = Σ_i (v·u_i(τ))(v·u_i(0)) / Σ_i (v·u_i(0))² = e^{−2λτ}   (so −2 log Y/τ = r*_s).

For SGD the conditional mean of a step is E[Δθ_i | θ] = −2 s ∇Ψ(θ_i; ρ̂) ≈ −2s[A(θ_i − θ*) + B(θ̄ − θ*)],
so E[Δu_i | θ] = −2sA u_i and E[Y(τ_k) | θ^0] = Π_{j<k} (1 − 2 s_j λ): the data noise of the steps,
and any further zero-mean noise, is independent of u_i(0) and leaves the mean of Y untouched (it
only adds variance), unlike the spread, which such noise lifts to a floor of order ε. Y is a
property of the limit: the McKean–Vlasov particles obey the same linearisation. What is left
at finite (N, ε) is a bias of order O(1/N + ε) whose constant depends on the implementation:
the Euler product (1 − 2sλ)^k = e^{−2λτ}(1 + O(ε)); an implementation that drops the particle's
own term from ŷ (ŷ_{−i} = (Σ_j σ*(x; θ_j) − σ*(x; θ_i))/(N − 1), covered by the theorem) moves the
deviations by −2s(A − B/(N − 1))u, an O(1/N) change of the rate; the nonlinear corrections of a
finite population are O(1/N) too. The theorem does not fix these constants, so the test removes
them: it measures Y at two levels on the path h = 1/N ∝ ε, (N, ε) and (qN, ε/q) with
q = :data:`LEVEL_RATIO`, and extrapolates linearly in h (Richardson),
Y_∞ = (q Ȳ(qN, ε/q) − Ȳ(N, ε))/(q − 1), which cancels every bias of order h and leaves O(h²).

**Where θ* comes from.** The Dirac ODE θ' = −2[∇V(θ) + ∇₁U(θ, θ)] (the flow of ρ = δ_θ; since
R(δ_θ) = R_# + 2V(θ) + U(θ, θ) and U is symmetric, it is θ' = −∇_θ R(δ_θ)) is run (RK4, step 1/4)
to ||·|| < 1e-6 and polished by Newton with the finite-difference Jacobian A + B; A and B are
central differences (step ``FD_STEP``) of the exact ∇Ψ in the first argument and in the location
of the Dirac. The experiment's population is tried first (Dirac ODE from ρ_0's mean + its scale
along (1, …, 1)/√D) and used when θ* is stable (:attr:`FixedPoint.stable`: λ_min(A) ≥
``MIN_CONDITION`` · max(||A||, ||A + B||), A + B ≻ 0 and ||∇Ψ(θ*; δ_θ*)|| ≤ 1e-9). A label that
depends on one direction of Gaussian inputs, as in the default experiment, leaves no stable θ*:
for erf, σ'' = −2tσ' (t = <θ, x>), so when x_⊥ ⊥ θ is independent of (t, y) the
curvature across θ* is −2 E[(σ − y)σ'(t) t] E[x_⊥²], and the first-order condition along θ*
sets E[(σ − y)σ'(t) t] = 0: only sampling noise is left in A. The check then uses
:func:`dedicated_population`: in a rotated orthonormal frame (q_1, …, q_d) (rotation from the
stream "population" of ``Streams(seed).child("fixed_points")``), two points per axis, a far one 2q_k
and a near one q_k/2, with labels (1, −0.2) on axis 1 and (2, −1) on the others. The single erf
neuron then under-shoots the far points and over-shoots the near ones, which makes the residual-
weighted curvature positive in every direction. Its θ*, A and B (rotation-invariant spectra) are
in ``reports/fixed_points/report.md``.

**(a) is reported, not tested.** The experiment's reference (2^long_log2_M Sobol nodes of ρ_0,
RK4 step ``long_h``, horizon ``long_T``) is "settled" iff r(T) + e < r(T/2) − e, e the largest
change of r at those times when the step is halved; the power-law exponent of r over [T/2, T]
(OLS of log r on log t) and r(T) are reported too. r(t) → 0 is a statement about t → ∞: on a
finite horizon the residual of a correct flow may rise, e.g. while the flow passes a saddle.

**Tests of (b)** (H0: the claim holds):

1. *Reference contraction rate* (``role="precondition"``: it checks the harness's flow and the
   linearisation, not the implementation). Nodes θ* + δ + κ z_m with the tensor Gauss–Hermite rule
   of N(0, I) (3 points per axis, so the weighted covariance is exactly κ² I), flow by RK4 step h to
   the horizon where the predicted second moment has fallen by e^{−contraction}; OLS of the log
   second moment on τ over the last 3/4 of the horizon (HC3 errors): rate r̂. Run twice, at
   (κ, δ, h) and (κ/2, δ/2, h/2); the second is judged and |r̂_1 − r̂_2| is its reference error e
   (linearisation + integrator). The prediction r_lin is the same OLS fit of the linearised curve
   κ² tr e^{−4Aτ} + ||e^{−2(A+B)τ}δ||² (at κ/2, δ/2) over the same window, so the faster modes are in
   both. Two-sided: p = 2 Φ(−|r̂_2 − r_lin| / sqrt(se² + e²)); a drift at half speed or at twice the
   speed moves r̂ by a factor 2 and is rejected. A rejection makes the claim unresolved.
2. *SGD memory, extrapolated to the limit* (the implementation under test). ``context.rule`` is
   started at θ_i^0 = θ* + δ + κ g_i (g_i ~ N(0, I) i.i.d., stream ("init", r) of
   ``Streams(seed).child("fixed_points", "sgd", N_ℓ)``) at the two levels (N, ε) and (qN, ε/q), R
   replicates each, to the horizon T_m where the linearised memory e^{−2λτ} has fallen by
   e^{−memory_efolds}; per replicate Y_r(T_m) (above). The prediction is the limit's own Y at T_m,
   Y_ref, computed on the reference flow from the same start (Gauss–Hermite, 3 points per axis, step h)
   — it carries the nonlinearity of the limit at this κ — with reference error e_Y = |Y_ref − Y_ref'|,
   Y_ref' from 5 points per axis and step h/2. With se_ℓ the replicate standard errors,
   t = (Y_∞ − Y_ref) / sqrt((q² se_1² + se_0²)/(q − 1)² + e_Y²) on Welch–Satterthwaite degrees of freedom,
   two-sided p = 2 P(t_df ≥ |t|). A step twice too large contracts twice as fast (Y ≈ Y_ref²), one
   half too small half as fast (Y ≈ sqrt(Y_ref)): both are far outside. The report gives every Y as
   the rate −2 log Y/τ_m beside r*_s.

**Broken implementations.** The reference: :func:`reference_contraction` with ``drift_scale``
(the nodes follow −2·drift_scale·ξ∇Ψ via :class:`mfcheck.claims.energy.ScaledDrift`): at 1/2 every
rate halves. SGD: the ``no_factor_two`` rule of :mod:`mfcheck.dynamics.broken` (time runs at half
speed) and the mean-field step at 2s. Implementations the theorem covers and the test passes:
ŷ without the particle's own term, extra zero-mean noise c·ε·g per step, float32 state
(tests/test_claims_fixed_points_variants.py).

**False-alarm rate.** Test 1 is a z-test whose error term includes the reference error measured
by the halving; its level under the claim is α up to that error estimate, and it spends no α (a
precondition). Test 2 is a t-test at level α up to the O(h²) remainder of the extrapolation and
the normal approximation of the replicate means; it is the claim's one member of the Holm family,
with its power in the run against the nearer of a step at s/2 and at 2s stated (:func:`power`;
below the power floor it leaves the family).
The check does not read ``context.reference``: it solves its own flows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import statsmodels.api as sm
from scipy import stats

from mfcheck._validation import check_array, check_positive_int, check_real
from mfcheck.claims.base import Check, CheckContext
from mfcheck.claims.energy import flow_with_positions
from mfcheck.errors import InvalidArgument
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import Neuron
from mfcheck.model.problems.finite import FinitePopulation
from mfcheck.reference.flow import require_finite_population
from mfcheck.claims.injection import POWER_FLOOR
from mfcheck.stats.power import t_test_power
from mfcheck.stats.results import ClaimResult, Test
from mfcheck.model.schedules import Schedule, constant
from mfcheck.seeds import Streams
from mfcheck.dynamics.broken import BROKEN
from mfcheck.dynamics.rules import Rule
from mfcheck.dynamics.sgd import StandardRecord, run_sgd

__all__ = [
    "CLAIM", "NAME", "TITLE", "SIZES", "Sizes", "MIN_CONDITION", "T_MAX", "LEVEL_RATIO", "FixedPoint", "dedicated_population", "dirac_gradient",
    "dirac_fixed_point", "hessians", "fixed_point_of", "find_fixed_point", "tau_of", "linearised_second_moment", "fit_rate",
    "long_time_residual", "reference_contraction", "sgd_spread", "sgd_memory", "memory", "extrapolate", "memory_rate", "horizon",
    "evaluate",
]

NAME = "fixed_points"
TITLE = "Noiseless fixed points: ∇Ψ = 0 on the support, exponential contraction to a stable Dirac"
MIN_CONDITION = 0.02
"""The experiment's θ* is used when λ_min(A) ≥ MIN_CONDITION · max(||A||₂, ||A + B||₂) (else the dedicated population)."""
T_MAX = 200.0
"""Largest horizon of the contraction runs; a slower predicted rate leaves (b) unresolved."""
FD_STEP = 1e-5
LEVEL_RATIO = 4
"""q: the SGD memory is measured at (N, ε) and (qN, ε/q). The variance of a replicate's Y is
proportional to ε, so the extrapolation's variance (q² se_1² + se_0²)/(q − 1)² is smallest near
q = 4 for the steps it costs (q = 2 would give three times a single level's variance, q = 4 about
half of it)."""
REFERENCE_RESOLUTION = 0.1
"""(b) is judged only when the reference error of the rate is ≤ REFERENCE_RESOLUTION · r*."""
_REFERENCE_RATE = "(b) reference rate of ∫||θ−θ*||²dρ_t"
_MEMORY = "(b) SGD memory Y(τ_m), extrapolated to N → ∞, ε → 0"
"""The estimates tests 1 and 2 of (b) judge (each test's ``statistic``): the fitted rate against the
linearised one, the extrapolated memory against the limit's."""


@dataclass(frozen=True)
class Sizes:
    """(a): ``long_T``, ``long_h``, ``long_log2_M``, ``long_record_dt``. (b): start width ``kappa`` and offset
    ``delta``, RK4 step ``h``, ``record_dt``, ``contraction`` (horizon: predicted second moment down by
    e^{−contraction}); SGD: the levels (``N``, ``eps``) and (qN, ε/q), ``replicates`` each, horizon where the
    linearised memory has fallen by e^{−memory_efolds}."""

    long_T: float
    long_h: float
    long_log2_M: int
    long_record_dt: float
    kappa: float
    delta: float
    h: float
    record_dt: float
    contraction: float
    N: int
    eps: float
    replicates: int
    memory_efolds: float = 1.0


SIZES = {
    "smoke": Sizes(long_T=20.0, long_h=1 / 8, long_log2_M=5, long_record_dt=0.5, kappa=0.05, delta=0.05, h=1 / 8, record_dt=0.25,
                   contraction=8.0, N=16, eps=1 / 256, replicates=16),
    "ci": Sizes(long_T=40.0, long_h=1 / 8, long_log2_M=6, long_record_dt=0.5, kappa=0.05, delta=0.05, h=1 / 8, record_dt=0.25,
                contraction=8.0, N=16, eps=1 / 512, replicates=32),
    "full": Sizes(long_T=50.0, long_h=1 / 16, long_log2_M=8, long_record_dt=0.5, kappa=0.05, delta=0.05, h=1 / 16, record_dt=0.25,
                  contraction=10.0, N=32, eps=1 / 1024, replicates=64),
}


# --------------------------------------------------------------------------- the Dirac fixed point


def dedicated_population(d: int, seed: int) -> FinitePopulation:
    """Two points per axis of a rotated orthonormal frame (q_k): 2q_k and q_k/2, labels (1, −0.2) on
    axis 1 and (2, −1) on the others (module docstring). The rotation comes from the stream
    ("population", 0) of ``Streams(seed).child("fixed_points")``."""
    d = check_positive_int(d, "d")
    g = Streams(seed).child(NAME).generator("population", 0)
    Q, Rm = np.linalg.qr(g.standard_normal((d, d)))
    Q = Q * np.sign(np.diag(Rm))
    X, y = [], []
    for k in range(d):
        far, near = (1.0, -0.2) if k == 0 else (2.0, -1.0)
        X += [2.0 * Q[:, k], 0.5 * Q[:, k]]
        y += [far, near]
    return FinitePopulation(np.array(X), np.array(y), name=f"fixed_points.dedicated_population(d={d}, seed={seed})")


def dirac_gradient(problem: FinitePopulation, neuron: Neuron, theta) -> np.ndarray:
    """F(θ) = ∇_θΨ(θ; δ_θ) = ∇V(θ) + ∇₁U(θ, θ), shape (D,)."""
    th = np.asarray(theta, dtype=np.float64)[None]
    return problem.grad_Psi_of_prediction(neuron, th, problem.predict(neuron, th))[0]


def hessians(problem: FinitePopulation, neuron: Neuron, theta, step: float = FD_STEP) -> tuple[np.ndarray, np.ndarray]:
    """A = Hess_θΨ(θ; δ_θ) (first argument, the measure held at δ_θ) and B = ∇₁∇₂U(θ, θ) (the
    measure's location moved), by central differences of the exact ∇Ψ; both symmetrised."""
    theta = check_array(theta, "theta", ndim=1)
    step = check_real(step, "step", positive=True)
    D = theta.size
    yhat = problem.predict(neuron, theta[None])
    A = np.empty((D, D))
    B = np.empty((D, D))
    for k in range(D):
        e = np.zeros(D)
        e[k] = step
        A[:, k] = (problem.grad_Psi_of_prediction(neuron, (theta + e)[None], yhat)
                   - problem.grad_Psi_of_prediction(neuron, (theta - e)[None], yhat))[0] / (2 * step)
        B[:, k] = (problem.grad_Psi_of_prediction(neuron, theta[None], problem.predict(neuron, (theta + e)[None]))
                   - problem.grad_Psi_of_prediction(neuron, theta[None], problem.predict(neuron, (theta - e)[None])))[0] / (2 * step)
    return (A + A.T) / 2, (B + B.T) / 2


def dirac_fixed_point(problem: FinitePopulation, neuron: Neuron, theta_start, *, h: float = 0.25, max_time: float = 400.0,
                      tol: float = 1e-12) -> tuple[np.ndarray, float]:
    """Run θ' = −2F(θ) (RK4, step ``h``) until ||F|| < 1e-6 or ``max_time``, then Newton with the
    Jacobian A + B until ||F|| ≤ ``tol``. Returns θ* and ||F(θ*)||."""
    th = check_array(theta_start, "theta_start", ndim=1).copy()
    h = check_real(h, "h", positive=True)

    def f(t):
        return -2.0 * dirac_gradient(problem, neuron, t)

    for _ in range(int(max_time / h)):
        if np.linalg.norm(dirac_gradient(problem, neuron, th)) < 1e-6:
            break
        k1 = f(th)
        k2 = f(th + 0.5 * h * k1)
        k3 = f(th + 0.5 * h * k2)
        k4 = f(th + h * k3)
        th = th + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    for _ in range(20):
        F = dirac_gradient(problem, neuron, th)
        if np.linalg.norm(F) <= tol:
            break
        A, B = hessians(problem, neuron, th)
        try:
            th = th - np.linalg.solve(A + B, F)
        except np.linalg.LinAlgError:
            break
    return th, float(np.linalg.norm(dirac_gradient(problem, neuron, th)))


@dataclass(frozen=True)
class FixedPoint:
    """θ*, A, B and where they come from (``source`` "experiment" or "dedicated", ``reason``)."""

    problem: FinitePopulation
    source: str
    reason: str
    theta_star: np.ndarray
    residual: float
    A: np.ndarray
    B: np.ndarray

    @property
    def eig_A(self) -> np.ndarray:
        return np.linalg.eigvalsh(self.A)

    @property
    def eig_AB(self) -> np.ndarray:
        return np.linalg.eigvalsh(self.A + self.B)

    @property
    def stable(self) -> bool:
        """A ≻ 0 and A + B ≻ 0, well above the finite-difference error, and F(θ*) ≈ 0."""
        return bool(self.eig_A[0] >= MIN_CONDITION * max(abs(self.eig_AB[-1]), abs(self.eig_A[-1])) and self.eig_AB[0] > 0
                    and self.residual <= 1e-9)

    @property
    def slow_mode(self) -> np.ndarray:
        """v: the unit eigenvector of A with eigenvalue λ_min(A) (sign fixed by its largest entry)."""
        v = np.linalg.eigh(self.A)[1][:, 0]
        return v * np.sign(v[np.argmax(np.abs(v))])

    @property
    def rate_spread(self) -> float:
        """r*_s = 4 λ_min(A): the asymptotic rate of ∫||θ − m||² dρ per unit τ = ∫ξ."""
        return float(4.0 * self.eig_A[0])

    @property
    def rate_second_moment(self) -> float:
        """r*_2 = 4 min(λ_min(A), λ_min(A + B)): the asymptotic rate of ∫||θ − θ*||² dρ per unit τ."""
        return float(4.0 * min(self.eig_A[0], self.eig_AB[0]))


def fixed_point_of(problem: FinitePopulation, neuron: Neuron, theta_start, source: str, reason: str = "") -> FixedPoint:
    theta, res = dirac_fixed_point(problem, neuron, theta_start)
    A, B = hessians(problem, neuron, theta)
    return FixedPoint(problem=problem, source=source, reason=reason, theta_star=theta, residual=res, A=A, B=B)


def find_fixed_point(problem, neuron: Neuron, rho0: GaussianInit, seed: int) -> tuple[FixedPoint, FixedPoint | None]:
    """The fixed point (b) uses, and the experiment's candidate when it was rejected (else None)."""
    D = neuron.dim(problem.d)
    candidate = None
    if isinstance(problem, FinitePopulation):
        start = rho0.mean + rho0.scale * np.ones(D) / math.sqrt(D)
        candidate = fixed_point_of(problem, neuron, start, "experiment")
        if candidate.stable:
            return candidate, None
        why = (f"the experiment's θ* has eig(A) = {np.round(candidate.eig_A, 5).tolist()}, eig(A+B) = "
               f"{np.round(candidate.eig_AB, 5).tolist()}, ||F(θ*)|| = {candidate.residual:.2g}: not λ_min(A) ≥ "
               f"{MIN_CONDITION}·||A+B||")
    else:
        why = f"the experiment's problem {problem!r} is not a finite population"
    pop = dedicated_population(problem.d, seed)
    frame = pop.X[1::2] * 2.0  # rows q_k
    start = 0.5 * frame.sum(axis=0)
    return fixed_point_of(pop, neuron, start, "dedicated", why), candidate


# --------------------------------------------------------------------------- dynamics near θ*


def tau_of(schedule: Schedule, times) -> np.ndarray:
    """τ(t) = ∫_0^t ξ at the given increasing times (trapezoid on 64 sub-steps per interval)."""
    times = check_array(times, "times", ndim=1)
    out = np.zeros_like(times)
    for j in range(1, times.size):
        s = np.linspace(times[j - 1], times[j], 65)
        v = np.asarray(schedule(s), dtype=np.float64)
        out[j] = out[j - 1] + float(np.sum((v[1:] + v[:-1]) * np.diff(s)) / 2.0)
    return out


def horizon(schedule: Schedule, rate: float, contraction: float, record_dt: float) -> float | None:
    """The smallest multiple of ``record_dt`` with τ ≥ contraction / rate (None when beyond T_MAX)."""
    target = contraction / rate
    t = np.arange(0.0, T_MAX + record_dt / 2, record_dt)
    tau = tau_of(schedule, t)
    idx = np.nonzero(tau >= target)[0]
    return None if idx.size == 0 else float(t[idx[0]])


def linearised_second_moment(fp: FixedPoint, kappa: float, delta_vec, tau) -> np.ndarray:
    """κ² tr e^{−4Aτ} + ||e^{−2(A+B)τ} δ||² at the given τ."""
    tau = np.asarray(tau, dtype=np.float64)
    la, _ = np.linalg.eigh(fp.A)
    lb, Vb = np.linalg.eigh(fp.A + fp.B)
    spread = kappa**2 * np.sum(np.exp(-4.0 * np.outer(tau, la)), axis=1)
    c = Vb.T @ np.asarray(delta_vec, dtype=np.float64)
    mean = np.sum((c[None] * np.exp(-2.0 * np.outer(tau, lb))) ** 2, axis=1)
    return spread + mean


def fit_rate(tau, values, start: float) -> dict:
    """OLS (HC3, t inference) of log ``values`` on τ over τ ≥ ``start``: rate = −slope with se, 95 % CI, df, intercept."""
    tau = check_array(tau, "tau", ndim=1)
    values = check_array(values, "values", shape=(tau.size,))
    sel = tau >= start
    if sel.sum() < 3 or np.any(values[sel] <= 0):
        raise InvalidArgument(f"`values` must be > 0 on at least 3 points with τ ≥ {start}.")
    model = sm.OLS(np.log(values[sel]), sm.add_constant(tau[sel])).fit(cov_type="HC3", use_t=True)
    lo, hi = (float(v) for v in model.conf_int(0.05)[1])
    return {"rate": float(-model.params[1]), "se": float(model.bse[1]), "ci": [-hi, -lo], "df": float(model.df_resid),
            "intercept": float(model.params[0]), "start": float(start), "points": int(sel.sum())}


def _delta_vector(D: int, delta: float) -> np.ndarray:
    v = np.array([(-1.0) ** k * (1.0 if k % 3 else 0.5) for k in range(D)])
    return delta * v / np.linalg.norm(v)


def memory(deviations, weights, mode) -> np.ndarray:
    """Y(t_j) = Σ_i w_i (v·u_i(t_j))(v·u_i(0)) / Σ_i w_i (v·u_i(0))² for deviations u (..., J, M, D) from the
    mean, weights w (M,) and the direction v = ``mode``: shape (..., J). Near θ* its conditional mean is
    e^{−2λτ} when v is an eigenvector of A with eigenvalue λ (module docstring)."""
    p = np.asarray(deviations, dtype=np.float64) @ np.asarray(mode, dtype=np.float64)  # (..., J, M)
    w = np.asarray(weights, dtype=np.float64)
    return (p * p[..., :1, :]) @ w / ((p[..., :1, :] ** 2) @ w)


def reference_contraction(fp: FixedPoint, neuron: Neuron, schedule: Schedule, *, kappa: float, delta_vec, h: float, T: float,
                          record_dt: float, drift_scale: float = 1.0, points: int = 3) -> dict:
    """The flow from θ* + δ + κ·(Gauss–Hermite nodes of N(0, I), ``points`` per axis): times, τ,
    second moment about θ*, spread about the mean and the memory Y along the slowest eigenvector
    of A (:func:`memory`) at the record times."""
    kappa = check_real(kappa, "kappa", positive=True)
    D = fp.theta_star.size
    z, w = GaussianInit(D, 1.0).quadrature(check_positive_int(points, "points"))
    nodes = fp.theta_star + np.asarray(delta_vec) + kappa * z
    flow, pos = flow_with_positions(fp.problem, neuron, nodes, w, T=T, h=h, record_dt=record_dt, schedule=schedule,
                                    drift_scale=drift_scale)
    mean = np.einsum("m,jmD->jD", w, pos)
    m2 = np.sum((pos - fp.theta_star) ** 2, axis=-1) @ w
    spread = np.sum((pos - mean[:, None]) ** 2, axis=-1) @ w
    return {"times": flow.times, "tau": tau_of(schedule, flow.times), "second_moment": m2, "spread": spread,
            "memory": memory(pos - mean[:, None], w, fp.slow_mode)}


def long_time_residual(problem: FinitePopulation, neuron: Neuron, nodes, weights, *, T: float, h: float, record_dt: float,
                       schedule: Schedule = constant(1.0), drift_scale: float = 1.0) -> dict:
    """r(t_j) = Σ_m w_m ||∇Ψ(ϑ_m(t_j); ρ_{t_j})||² and R(ρ_{t_j}) along the flow to T."""
    flow, pos = flow_with_positions(problem, neuron, nodes, weights, T=T, h=h, record_dt=record_dt, schedule=schedule,
                                    drift_scale=drift_scale)
    g = problem.grad_Psi_of_prediction(neuron, pos, flow.yhat)
    return {"times": flow.times, "residual": np.sum(g * g, axis=-1) @ np.asarray(weights), "risk": flow.risk}


def sgd_spread(fp: FixedPoint, neuron: Neuron, rule: Rule, *, kappa: float, delta_vec, N: int, eps: float, T: float,
               replicates: int, streams: Streams, record_dt: float, schedule: Schedule = constant(1.0), progress: bool = False) -> dict:
    """Noiseless SGD with ``rule`` from θ_i^0 = θ* + δ + κ g_i: times, τ_k = Σ_{j<k} s_j, the spread
    (1/N) Σ_i ||θ_i − θ̄||² and the memory Y along the slowest eigenvector of A (:func:`memory`, equal
    weights) at the record times, each of shape (J, R)."""
    if check_positive_int(N, "N") < 2:
        raise InvalidArgument(f"`N` must be ≥ 2 for a spread, got {N}.")
    start = fp.theta_star + np.asarray(delta_vec)
    sgd = run_sgd(fp.problem, neuron, GaussianInit(fp.theta_star.size, kappa), rule, N=N, eps=eps, T=T, replicates=replicates, streams=streams,
                  record=StandardRecord(record_dt), schedule=schedule, init=lambda rho0, rng, n: start + rho0.sample(rng, n),
                  backend="numpy", progress=progress)  # θ^0 = θ* + δ + (κ g ~ N(0, κ² I)) from the streams ("init", r)
    s_all = sgd.eps * np.asarray(schedule(np.arange(sgd.steps[-1]) * sgd.eps), dtype=np.float64)
    tau_all = np.concatenate([[0.0], np.cumsum(s_all)])
    u = sgd.theta - sgd.theta.mean(axis=2, keepdims=True)
    return {"times": sgd.times, "tau": tau_all[sgd.steps], "spread": np.ascontiguousarray(np.mean(np.sum(u * u, axis=-1), axis=-1).T),
            "memory": np.ascontiguousarray(memory(u, np.full(N, 1.0 / N), fp.slow_mode).T)}


def sgd_memory(fp: FixedPoint, neuron: Neuron, rule: Rule, *, kappa: float, delta_vec, N: int, eps: float, T: float, replicates: int,
               streams: Streams, record_dt: float, schedule: Schedule = constant(1.0), progress: bool = False) -> dict:
    """The memory Y of ``rule`` at the two levels (N, ε) and (qN, ε/q), q = :data:`LEVEL_RATIO` (streams
    ``streams.child("sgd", N_ℓ)``): times, τ, the curves Y (J, R) of each level and Y_r at T (R,) of each level."""
    curves, Ys, out = [], [], {}
    for lv in range(2):
        n, e = N * LEVEL_RATIO**lv, eps / LEVEL_RATIO**lv
        sg = sgd_spread(fp, neuron, rule, kappa=kappa, delta_vec=delta_vec, N=n, eps=e, T=T, replicates=replicates,
                        streams=streams.child("sgd", n), record_dt=record_dt, schedule=schedule, progress=progress)
        curves.append(sg["memory"])
        Ys.append(sg["memory"][-1])
        out = {"times": sg["times"], "tau": sg["tau"]}
    return {**out, "curves": curves, "Y": Ys, "levels": [(N, eps), (LEVEL_RATIO * N, eps / LEVEL_RATIO)]}


def extrapolate(y0, y1, N: int | None = None, eps: float | None = None, ratio: int = LEVEL_RATIO) -> dict:
    """Richardson extrapolation of the replicate means of Y on the path h = 1/N ∝ ε, from the levels h (``y0``)
    and h/q (``y1``), q = ``ratio``: Y_∞ = (q Ȳ_1 − Ȳ_0)/(q − 1), variance (q² se_1² + se_0²)/(q − 1)²,
    Welch–Satterthwaite degrees of freedom."""
    q = check_real(ratio, "ratio", positive=True)
    if not q > 1:
        raise InvalidArgument(f"`ratio` must be > 1, got {q}.")
    levels = []
    for y in (y0, y1):
        y = check_array(y, "y", ndim=1)
        if y.size < 2:
            raise InvalidArgument(f"Extrapolation needs at least 2 replicates per level, got {y.size}.")
        levels.append({"mean": float(y.mean()), "se": float(y.std(ddof=1) / math.sqrt(y.size)), "n": int(y.size)})
    a, b = (q * levels[1]["se"]) ** 2 / (q - 1) ** 2, levels[0]["se"] ** 2 / (q - 1) ** 2
    var = a + b
    df = var**2 / (a**2 / (levels[1]["n"] - 1) + b**2 / (levels[0]["n"] - 1)) if var > 0 else float(min(lv["n"] for lv in levels) - 1)
    for lv, h in zip(levels, (1, q)):
        lv["N"] = None if N is None else int(round(N * h))
        lv["eps"] = None if eps is None else eps / h
    return {"estimate": (q * levels[1]["mean"] - levels[0]["mean"]) / (q - 1), "var": float(var), "df": float(df), "levels": levels}


def memory_rate(y: float, tau: float) -> float:
    """−2 log(Y)/τ: the memory Y = e^{−2λτ} as a rate of the spread (4λ); +∞ when Y ≤ 0."""
    return float(-2.0 * math.log(y) / tau) if y > 0 else math.inf


# --------------------------------------------------------------------------- the check



def _part_a(context: CheckContext, size: Sizes, streams: Streams, drift_scale: float) -> tuple[Test, dict, dict]:
    exp = context.experiment
    problem = require_finite_population(exp.problem)
    nodes, weights = exp.rho0.sobol(size.long_log2_M, streams.seed_sequence("reference", 0))
    runs = [long_time_residual(problem, exp.neuron, nodes, weights, T=size.long_T, h=hh, record_dt=size.long_record_dt,
                               schedule=exp.schedule, drift_scale=drift_scale) for hh in (size.long_h, size.long_h / 2)]
    t, r = runs[0]["times"], runs[1]["residual"]
    err = np.abs(runs[0]["residual"] - r)
    J = len(t)
    half = int(np.argmin(np.abs(t - size.long_T / 2)))
    e = float(max(err[half], err[-1]))
    decays = bool(r[-1] + e < r[half] - e)
    sel = t >= t[half]
    model = sm.OLS(np.log(r[sel]), sm.add_constant(np.log(t[sel]))).fit(cov_type="HC3", use_t=True)
    lo, hi = (float(v) for v in model.conf_int(0.05)[1])
    test = Test(f"(a) residual ∫||∇Ψ||²dρ_t decays: r(T={t[-1]:g}) = {r[-1]:.3g} < r(T/2) = {r[half]:.3g} "
                f"(± integrator {e:.2g}) [deterministic: p ∈ {{0, 1}}]", 1.0 if decays else 0.0)
    est = {"(a) residual at T": {"estimate": float(r[-1]), "ci": [float(r[-1] - err[-1]), float(r[-1] + err[-1])], "T": float(t[-1]),
                                 "relative_to_t0": float(r[-1] / r[0])},
           "(a) power-law exponent of the residual over [T/2, T]": {"estimate": float(-model.params[1]), "ci": [-hi, -lo],
                                                                    "note": "OLS of log r on log t (deterministic curve)"}}
    details = {"times": t.tolist(), "residual": r.tolist(), "residual_coarse": runs[0]["residual"].tolist(), "risk": runs[1]["risk"].tolist(),
               "h": size.long_h / 2, "h_coarse": size.long_h, "T": size.long_T, "nodes": f"2^{size.long_log2_M} scrambled Sobol",
               "integrator_error": e, "J": J}
    return test, est, details


def evaluate(context: CheckContext, drift_scale: float = 1.0, sizes: Sizes | None = None) -> ClaimResult:
    """The check; ``drift_scale`` ≠ 1 judges a broken reference drift ((a) and test 1) instead of the correct one."""
    exp = context.experiment
    size = sizes or CLAIM.sizes_for(context)
    streams = Streams(exp.seed).child(NAME)
    test_a, estimates, details_a = _part_a(context, size, streams, drift_scale)
    # (a) is a measurement, not a test: r(t) → 0 is a statement about t → ∞, and on a finite horizon
    # the residual of a correct flow may rise (e.g. while the flow passes a saddle). Whether it
    # settled is reported; the claim is judged by (b).
    details_a["settled"] = bool(test_a.p_value == 1.0)
    estimates["(a) residual settled on [T/2, T]"] = {"estimate": float(details_a["settled"]), "ci": [float(details_a["settled"])] * 2,
                                                     "note": test_a.name}
    tests = []
    details = {"a": details_a, "drift_scale": drift_scale, "sizes": {k: getattr(size, k) for k in size.__dataclass_fields__}}
    unresolved = []
    fp, rejected = find_fixed_point(exp.problem, exp.neuron, exp.rho0, exp.seed)
    details["fixed_point"] = {
        "source": fp.source, "reason": fp.reason, "problem": repr(fp.problem), "theta_star": fp.theta_star.tolist(),
        "residual": fp.residual, "A": fp.A.tolist(), "B": fp.B.tolist(), "eig_A": fp.eig_A.tolist(), "eig_AB": fp.eig_AB.tolist(),
        "rate_second_moment": fp.rate_second_moment, "rate_spread": fp.rate_spread,
        "experiment_candidate": None if rejected is None else {"theta_star": rejected.theta_star.tolist(), "eig_A": rejected.eig_A.tolist(),
                                                               "eig_AB": rejected.eig_AB.tolist(), "residual": rejected.residual},
    }
    details["seeds"] = {
        "entropy": int(exp.seed),
        "a_nodes": f"Streams({exp.seed}).child({NAME!r}): role 'reference', replicate 0 (Sobol scramble)",
        "population": f"Streams({exp.seed}).child({NAME!r}): role 'population', replicate 0 (rotation of the dedicated population)",
        "sgd": f"Streams({exp.seed}).child({NAME!r}, 'sgd', N_ℓ) for N_ℓ ∈ {{N, {LEVEL_RATIO}N}}: roles 'init', 'data', replicate r",
        "streams": streams.describe(),
    }
    reference_error = details_a["integrator_error"]
    T_b = horizon(exp.schedule, fp.rate_second_moment, size.contraction, size.record_dt) if fp.stable else None
    if not fp.stable:
        unresolved.append(f"(b) not judged: no fixed point with Hess_θΨ(θ*; δ_θ*) ≻ 0 was found ({fp.reason}; dedicated: eig(A) = "
                          f"{np.round(fp.eig_A, 5).tolist()}). Use a population with a stable single-neuron fit.")
    elif T_b is None:
        unresolved.append(f"(b) not judged: ∫ξ does not reach {size.contraction}/r* = {size.contraction / fp.rate_second_moment:.3g} "
                          f"before t = {T_MAX}: lower `contraction` or use a schedule that does not decay.")
    if not unresolved:
        D = fp.theta_star.size
        dvec = _delta_vector(D, size.delta)
        levels = [reference_contraction(fp, exp.neuron, exp.schedule, kappa=size.kappa / f, delta_vec=dvec / f, h=size.h / f, T=T_b,
                                        record_dt=size.record_dt, drift_scale=drift_scale) for f in (1, 2)]
        start = levels[0]["tau"][-1] / 4
        fits = [fit_rate(lv["tau"], lv["second_moment"], start) for lv in levels]
        spread_fits = [fit_rate(lv["tau"], lv["spread"], start) for lv in levels]
        e_ref = abs(fits[0]["rate"] - fits[1]["rate"])
        reference_error = e_ref
        r2 = fp.rate_second_moment
        lin = fit_rate(levels[1]["tau"], linearised_second_moment(fp, size.kappa / 2, dvec / 2, levels[1]["tau"]), start)["rate"]
        den = math.sqrt(fits[1]["se"] ** 2 + e_ref**2)
        z = (fits[1]["rate"] - lin) / den if den > 0 else (0.0 if fits[1]["rate"] == lin else math.copysign(math.inf, fits[1]["rate"] - lin))
        if e_ref > REFERENCE_RESOLUTION * r2:
            unresolved.append(f"(b) reference rate error {e_ref:.3g} > {REFERENCE_RESOLUTION}·r*: lower `kappa`, `delta` or `h`.")
        else:
            tests.append(Test(f"(b) reference: ∫||θ−θ*||²dρ_t contracts at the linearised rate over the window ({lin:.4g}; "
                              f"asymptotic r*₂ = 4 min λ(A, A+B) = {r2:.4g}), fitted {fits[1]['rate']:.4g} "
                              f"(two-sided z with reference error {e_ref:.2g})", float(2.0 * stats.norm.sf(abs(z))), role="precondition",
                              statistic=_REFERENCE_RATE))
        T_m = horizon(exp.schedule, fp.rate_spread / 2, size.memory_efolds, size.record_dt)
        if T_m is None or T_m > T_b:
            unresolved.append(f"(b) SGD not judged: the memory horizon (e^{{−{size.memory_efolds}}}) lies beyond the reference's "
                              f"horizon T = {T_b}: raise `contraction` or lower `memory_efolds`.")
            T_m = T_b
        check = reference_contraction(fp, exp.neuron, exp.schedule, kappa=size.kappa, delta_vec=dvec, h=size.h / 2, T=T_m,
                                      record_dt=size.record_dt, drift_scale=drift_scale, points=5)
        j_m = int(np.argmin(np.abs(levels[0]["times"] - T_m)))
        tau_m = float(levels[0]["tau"][j_m])
        y_ref, e_mem = float(levels[0]["memory"][j_m]), abs(float(levels[0]["memory"][j_m]) - float(check["memory"][-1]))
        mem = sgd_memory(fp, exp.neuron, context.rule, kappa=size.kappa, delta_vec=dvec, N=size.N, eps=size.eps, T=T_m,
                         replicates=size.replicates, streams=streams, record_dt=size.record_dt, schedule=exp.schedule,
                         progress=context.progress)
        ex = extrapolate(mem["Y"][0], mem["Y"][1], size.N, size.eps)
        den = math.sqrt(ex["var"] + e_mem**2)
        diff = ex["estimate"] - y_ref
        t_sgd = diff / den if den > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
        p_sgd = float(2.0 * stats.t.sf(abs(t_sgd), ex["df"]))
        tests.append(Test(f"(b) SGD `{context.rule.label}`: memory along the slowest mode of A at τ = {tau_m:.3g}, extrapolated to "
                          f"N → ∞, ε → 0 ({ex['estimate']:.4g}) = the limit's ({y_ref:.4g}) (two-sided t, df {ex['df']:.3g})", p_sgd,
                          statistic=_MEMORY))
        df = ex["df"]
        q = stats.t.ppf(0.975, df)
        estimates.update({
            "(b) λ_min(Hess_θΨ(θ*; δ_θ*))": {"estimate": float(fp.eig_A[0]), "ci": [float(fp.eig_A[0])] * 2,
                                             "note": f"finite differences, step {FD_STEP}; source {fp.source}"},
            _REFERENCE_RATE: {"estimate": fits[1]["rate"], "ci": fits[1]["ci"], "predicted": lin, "asymptotic": r2,
                              "reference_error": e_ref, "coarse": fits[0]["rate"]},
            "(b) reference rate of the spread ∫||θ−m_t||²dρ_t": {"estimate": spread_fits[1]["rate"], "ci": spread_fits[1]["ci"],
                                                                "predicted": fp.rate_spread, "coarse": spread_fits[0]["rate"]},
            _MEMORY: {
                "estimate": ex["estimate"], "ci": [ex["estimate"] - q * math.sqrt(ex["var"]), ex["estimate"] + q * math.sqrt(ex["var"])],
                "predicted": y_ref, "reference_error": e_mem, "levels": [lv["mean"] for lv in ex["levels"]]},
            "(b) SGD rate 2·(−log Y)/τ_m, extrapolated": {
                "estimate": memory_rate(ex["estimate"], tau_m),
                "ci": [memory_rate(ex["estimate"] + q * math.sqrt(ex["var"]), tau_m), memory_rate(ex["estimate"] - q * math.sqrt(ex["var"]), tau_m)],
                "predicted": memory_rate(y_ref, tau_m), "linearised": fp.rate_spread,
                "levels": [memory_rate(lv["mean"], tau_m) for lv in ex["levels"]]},
        })
        details["b"] = {
            "T": T_b, "start_tau": start, "delta_vec": dvec.tolist(), "kappa": size.kappa, "h": size.h,
            "levels": [{"kappa": size.kappa / f, "delta": size.delta / f, "h": size.h / f, "times": lv["times"].tolist(),
                        "tau": lv["tau"].tolist(), "second_moment": lv["second_moment"].tolist(), "spread": lv["spread"].tolist(),
                        "fit": fit, "spread_fit": sfit}
                       for f, lv, fit, sfit in zip((1, 2), levels, fits, spread_fits)],
            "linearised_second_moment": linearised_second_moment(fp, size.kappa / 2, dvec / 2, levels[1]["tau"]).tolist(),
            "reference_error": e_ref,
            "sgd": {"update": context.rule.label, "levels": [{"N": lv["N"], "eps": lv["eps"], "mean": lv["mean"], "se": lv["se"]}
                                                             for lv in ex["levels"]],
                    "replicates": size.replicates, "T": T_m, "tau_m": tau_m, "efolds": size.memory_efolds, "mode": fp.slow_mode.tolist(),
                    "times": mem["times"].tolist(), "tau": mem["tau"].tolist(), "curves": [c.T.tolist() for c in mem["curves"]],
                    "Y": [y.tolist() for y in mem["Y"]], "extrapolated": ex["estimate"], "se": math.sqrt(ex["var"]), "df": ex["df"],
                    "limit": y_ref, "limit_check": float(check["memory"][-1]), "limit_curve": levels[0]["memory"][: j_m + 1].tolist(),
                    "memory_error": e_mem, "t": t_sgd, "p_value": p_sgd},
        }
    return ClaimResult(claim=NAME, verdict="unresolved", alpha=math.nan, tests=tuple(tests), unresolved=" ".join(unresolved),
                       reference_error=float(reference_error), estimates=estimates, details=details)


def power(result: ClaimResult, level: float) -> dict | None:
    """The SGD memory test's power at ``level``: its declared alternative, the step at s/2, contracts
    half as fast (Y ≈ sqrt(Y_ref)), a step at 2s twice as fast (Y ≈ Y_ref²); the nearer of the two
    is the shift, and the two-sided t test's power against it is the noncentral t at the run's own
    denominator and degrees of freedom (:func:`mfcheck.stats.power.t_test_power`). None when the
    SGD was not judged."""
    sgd = result.details.get("b", {}).get("sgd")
    test = next((t for t in result.tests if t.statistic == _MEMORY), None)
    if sgd is None or test is None:
        return None
    y = sgd["limit"]
    shift = min(math.sqrt(y) - y, y - y * y) if 0 < y < 1 else 0.0
    return {"test_power": {test.name: t_test_power(shift, math.hypot(sgd["se"], sgd["memory_error"]), sgd["df"], level, two_sided=True)},
            "level": level, "power_floor": POWER_FLOOR,
            "against": f"the step at s/2 or at 2s, the nearer (memory sqrt(Y) or Y² against the limit's Y = {y:.3g}; two-sided noncentral t)"}


CLAIM = Check(
    name=NAME, title=TITLE, order=41, sizes=SIZES, parts=frozenset({"step"}), reads_reference=False,
    statement="(a) ∫||∇_θΨ(θ; ρ_t)||² dρ_t → 0; (b) near a stable θ*, ∫||θ − θ*||² dρ_t contracts at rate "
              "r*₂ = 4 min(λ_min(A), λ_min(A+B)); a particle's deviation along the slowest eigenvector of A decays like the "
              "limit's, e^{−2λ_min(A)τ} to first order, as N → ∞, ε → 0",
    test_count=1,  # the SGD memory (the reference's contraction is a precondition; the long-time residual is reported only)
    alternative="the update without its factor 2", inject=lambda c: replace(c, rule=BROKEN["no_factor_two"].rule), compute=evaluate,
    power=power,
)
