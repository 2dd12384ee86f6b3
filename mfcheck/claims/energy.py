"""Energy decay along the noiseless dynamics (docs/theory.md §3, "Exact consequences").

**Claim.** Along the noiseless distributional dynamics ∂_t ρ_t = 2ξ(t) ∇·(ρ_t ∇Ψ(θ; ρ_t)),

    d/dt R(ρ_t) = ∫ 2Ψ(θ; ρ_t) ∂_t ρ_t(dθ) = −4 ξ(t) ∫ ||∇_θ Ψ(θ; ρ_t)||² ρ_t(dθ) ≤ 0,

since δR/δρ = 2Ψ. The identity is exact for *any* weighted discrete measure moved by the flow
(ρ_t = Σ_m w_m δ_{ϑ_m(t)}, dϑ_m/dt = −2ξ ∇Ψ(ϑ_m; ρ_t)), so the number of nodes is irrelevant to
it; only the time integrator is approximate. Its particle form holds for SGD too: with the
gradient identity ∂R_N/∂θ_i = (2/N) ∇Ψ(θ_i; ρ̂^N) and E[θ_i^{k+1} − θ_i^k | θ^k] = −2 s_k ∇Ψ(θ_i^k; ρ̂^{N,k}),

    E[R_N(θ^{k+1}) − R_N(θ^k) | θ^k] = −4 s_k G_k + C_k,   G_k = (1/N) Σ_i ||∇Ψ(θ_i^k; ρ̂^{N,k})||²,

where C_k = O(s_k²) is the curvature (second-order) term of one step.

**Three tests** (H0: the claim holds): two preconditions on the reference, one test of the implementation:

1. *Reference, monotone* (deterministic, p ∈ {0, 1}). The reference flow of the experiment
   (:func:`mfcheck.reference.flow.solve_flow`, RK4 step h/2 where h = ``experiment.h``, record
   grid = the step) on 2^log2_M scrambled Sobol nodes of ρ_0. p = 0 iff the largest increment
   max_j R(ρ_{t_{j+1}}) − R(ρ_{t_j}) exceeds the integrator-and-round-off bound
   2 (max_t |R_h(t) − R_{h/2}(t)| / 15 + e_fl): the first term is the Richardson estimate of the
   RK4 (order 4) error of R at step h/2, e_fl = u (n + M)(R + 2√R·max(1, |ŷ|_∞)) is a floating-point
   bound on one evaluation of R (u the unit round-off).
2. *Reference, identity* (deterministic, p ∈ {0, 1}). At each interior time t of the coarse
   grid, c_h(t) = [R(t+h) − R(t−h)]/(2h) is the centred difference of the recorded risk and
   D(t) = 4ξ(t) Σ_m w_m ||∇Ψ(ϑ_m(t); ρ_t)||² the dissipation computed from the nodes'
   positions (the nodes coupled in the stored field with :func:`mfcheck.reference.coupled.couple`).
   The discrepancy δ_h = c_h + D is, under the claim, the centred-difference error
   (h²/6) R''' + O(h⁴): order 2 in h. Under a false identity it does not vanish (order 0). The
   Richardson estimate of the error of c_{h/2} for an order-p method is |c_h − c_{h/2}|/(2^p − 1).
   p = 0 iff max_t |δ_{h/2}(t)| > max_t |c_h(t) − c_{h/2}(t)| / (2^1 − 1) + 2 e_fl / (h/2): the
   discrepancy exceeds the Richardson error estimate of the *weakest* order one could call a
   discretisation error (p = 1, three times the order-2 estimate). Equivalently the observed
   order of the discrepancy, log2(|δ_h|/|δ_{h/2}|), is at least 1 (expected 2; a wrong identity
   gives 0). The ratio q = max|δ_{h/2}| / (order-2 Richardson estimate) is reported: → 1 under
   the claim, against the threshold 3.
3. *SGD, identity* (two-sided, martingale CLT). ``context.rule`` runs R replicates of N particles, one
   pass with step ε, to ``T_sgd``; d_k = R_N(θ^{k+1}) − R_N(θ^k) + 4 s_k G_k per step. *The second-order
   term.* Write Δθ_i = E[Δθ_i | θ^k] + ζ_i (ζ the data noise of the step). A second-order Taylor
   expansion of R_N about θ^k, with the gradient identity ∂R_N/∂θ_i = (2/N)∇Ψ(θ_i^k; ρ̂^{N,k}), gives
   E[ΔR_N | θ^k] = Σ_i (2/N)∇Ψ(θ_i^k)·E[Δθ_i | θ^k] + C_k, where C_k (the curvature of R_N along the
   step, its mean *and* the variance of ζ) is O(s_k²). For the paper's SGD E[Δθ_i | θ^k] = −2 s_k ∇Ψ(θ_i^k),
   so the first term is exactly −4 s_k G_k and E[d_k | θ^k] = C_k, which is not zero: summed over
   K = T/ε steps it is O(T ε), beside a noise sd O(sqrt(T ε)) of Σ d_k, so a two-sided test that
   ignored it would reject the correct step once T ε R (the replicates) grows. So C_k is computed
   exactly on the finite population at ``curvature_steps`` sampled steps per replicate,
   C_k = E[ΔR_N | θ^k] − Σ_i (2/N) ∇Ψ(θ_i^k)·E[Δθ_i | θ^k] (both expectations are exact averages
   over the n population points, with the rule under test, so C_k is the second-order remainder of
   *that* rule), and its total Ĉ = Σ_r mean(C_k/s_k²) Σ_k s_k² is removed; the sampling error of the
   sampled steps, se(Ĉ), enters the denominator. Under the claim Σ (d_k − C_k) is a martingale, so
   (martingale CLT, self-normalised) Z = (Σ d_k − Ĉ) / sqrt(Σ d_k² + se(Ĉ)²) ≈ N(0, 1), and
   p = 2 P(N(0,1) ≥ |Z|). Both directions are errors of the identity: a step at s/2 (the
   ``no_factor_two`` rule: first-order term −2 s G, Z > 0) and a step at 2s (first-order term
   −8 s G, Z < 0); a rule's own curvature is removed whatever its step, so neither hides behind Ĉ.
   An implementation the theorem covers but whose finite-N drift differs from the paper's by O(1/N)
   (ŷ without the particle's own term) shifts E[d_k] by O(s_k/N), i.e. Z by
   O(sqrt(R T/ε)/N) times the relative size of that drift change; the tiers keep sqrt(R T/ε)/N ≤ 1, so
   the shift does not grow from tier to tier (tests/test_claims_energy_variants.py runs such variants,
   and extra zero-mean noise and float32 state, whose effects are second order and land in C_k). The "decrease ratio"
   (−Σ ΔR_N + Ĉ)/Σ 4 s_k G_k (→ 1) is reported with a 95 % CI, and so is the shift of Z that
   ignoring Ĉ would cause.

**Which tests spend α.** Tests 1–2 check the harness's own reference flow (its integrator and the
dissipation formula): they have ``role="precondition"`` — when one rejects, the claim is
unresolved (the harness cannot judge it) and they take no part in the Holm family. Test 3 judges
the implementation under test and is the claim's one member of the family; its power in the run
against the step at s/2 is stated (:func:`power`), and below the power floor it leaves the family.

**Broken implementations.** A broken reference: :func:`flow_with_positions` with ``drift_scale``
runs :func:`solve_flow` on :class:`ScaledDrift`, whose ∇Ψ is multiplied by the scale, so the
nodes follow −2·scale·ξ∇Ψ while D still uses the true ∇Ψ. ``drift_scale = 1/2`` (drift −ξ∇Ψ)
gives d/dt R = −2ξ∫||∇Ψ||², half of D; ``drift_scale = −1`` (ascent) makes R increase. A broken
SGD: ``context.rule`` = the ``no_factor_two`` rule of :mod:`mfcheck.dynamics.broken` (E[ΔR_N] = −2 s G).

**False-alarm rate.** Tests 1–2 are deterministic: under the claim they pass unless the
integrator is outside its asymptotic range (q, the observed order and the margin of R's
decrease over its tolerance are in ``reports/energy_decay/report.md``); a failure makes the claim
unresolved, never failed. Test 3 has level α (two-sided) up to the CLT approximation and the
sampling error of Ĉ (in the denominator). Holm over the implementation tests of all claims
keeps the family-wise false-alarm rate ≤ α. The check does not read ``context.reference``: it
solves its own flows.

`mfcheck calibrate energy_decay` measures the power against the stated alternative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
from scipy import stats

from mfcheck._validation import check_array, check_positive_int, check_real
from mfcheck.claims.base import Check, CheckContext
from mfcheck.errors import InvalidArgument
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import Neuron
from mfcheck.model.problems.finite import FinitePopulation
from mfcheck.reference import field as population_field
from mfcheck.reference.coupled import couple
from mfcheck.reference.flow import ReferenceFlow, require_finite_population, solve_flow
from mfcheck.claims.injection import POWER_FLOOR
from mfcheck.stats.power import z_test_power
from mfcheck.stats.results import ClaimResult, Test
from mfcheck.model.schedules import Schedule, constant
from mfcheck.seeds import Streams
from mfcheck.dynamics.broken import BROKEN
from mfcheck.dynamics.rules import Rule
from mfcheck.dynamics.sgd import InitSampler, Run, run_sgd

__all__ = [
    "CLAIM", "NAME", "TITLE", "SIZES", "Sizes", "ScaledDrift", "flow_with_positions", "dissipation", "centred_difference",
    "roundoff_bound", "ReferenceIdentity", "reference_identity", "SGDIdentity", "sgd_identity", "curvature_term",
    "evaluate",
]

NAME = "energy_decay"
TITLE = "Energy decay: d/dt R(ρ_t) = −4ξ ∫||∇Ψ||² dρ_t ≤ 0"
_U = float(np.finfo(np.float64).eps) / 2.0
_PLOT_POINTS = 65
_INCREMENT = "reference: max increment of R"
_Q = "reference: discrepancy / Richardson estimate (q)"
_RATIO = "SGD: decrease ratio (−ΣΔR_N + Ĉ) / Σ 4 s G"
"""The estimates tests 1–3 judge (each test's ``statistic``). Test 3's Z is (1 − ratio)·Σ4sG over its
denominator, so the ratio's 95 % interval excludes 1 exactly when the raw p of test 3 is below 0.05."""


@dataclass(frozen=True)
class Sizes:
    """``log2_M``: Sobol nodes of the reference; SGD: ``N`` particles, step ``eps``, horizon ``T_sgd``,
    ``replicates``, and ``curvature_steps`` sampled steps per replicate for the exact curvature term."""

    log2_M: int
    N: int
    eps: float
    T_sgd: float
    replicates: int
    curvature_steps: int


SIZES = {
    "smoke": Sizes(log2_M=8, N=32, eps=1 / 1024, T_sgd=0.25, replicates=4, curvature_steps=4),
    "ci": Sizes(log2_M=10, N=128, eps=1 / 2048, T_sgd=0.5, replicates=8, curvature_steps=8),
    "full": Sizes(log2_M=12, N=256, eps=1 / 4096, T_sgd=1.0, replicates=16, curvature_steps=16),
}


# --------------------------------------------------------------------------- a broken reference


class ScaledDrift(FinitePopulation):
    """The population of ``base`` whose ∇Ψ is multiplied by ``drift_scale``: a flow solved on it
    moves with drift −2·drift_scale·ξ∇Ψ (a broken reference when drift_scale ≠ 1). Risk and
    predictor are those of ``base``."""

    def __init__(self, base: FinitePopulation, drift_scale: float):
        base = require_finite_population(base)
        self.drift_scale = check_real(drift_scale, "drift_scale")
        super().__init__(base.X, base.y, name=f"ScaledDrift({base!r}, drift_scale={self.drift_scale})")

    def grad_Psi_of_prediction(self, neuron, Theta, yhat):
        return self.drift_scale * super().grad_Psi_of_prediction(neuron, Theta, yhat)


def flow_with_positions(problem: FinitePopulation, neuron: Neuron, nodes, weights, *, T: float, h: float, record_dt: float,
                        schedule: Schedule = constant(1.0), drift_scale: float = 1.0) -> tuple[ReferenceFlow, np.ndarray]:
    """Solve the reference flow (RK4, step ``h``) and return it with the nodes' positions ϑ_m(t_j), shape (J, M, D).

    ``drift_scale`` ≠ 1 integrates the broken drift −2·drift_scale·ξ∇Ψ (:class:`ScaledDrift`)."""
    problem = require_finite_population(problem)
    drift_scale = check_real(drift_scale, "drift_scale")
    moving = problem if drift_scale == 1.0 else ScaledDrift(problem, drift_scale)
    flow = solve_flow(moving, neuron, nodes, weights, T=T, h=h, record_dt=record_dt, schedule=schedule)
    return flow, couple(flow, moving, neuron, nodes)


def dissipation(problem: FinitePopulation, neuron: Neuron, positions, yhat, weights, xi) -> np.ndarray:
    """D(t_j) = 4 ξ(t_j) Σ_m w_m ||∇Ψ(ϑ_m(t_j); ρ_{t_j})||² from positions (J, M, D), ŷ (J, n), weights (M,), ξ (J,)."""
    positions = check_array(positions, "positions", ndim=3)
    J, M, _ = positions.shape
    yhat = check_array(yhat, "yhat", shape=(J, problem.n))
    weights = check_array(weights, "weights", shape=(M,))
    xi = check_array(xi, "xi", shape=(J,))
    g = problem.grad_Psi_of_prediction(neuron, positions, yhat)  # (J, M, D)
    return 4.0 * xi * (np.sum(g * g, axis=-1) @ weights)


def centred_difference(values, dt: float) -> np.ndarray:
    """[v_{j+1} − v_{j−1}] / (2 dt) at the interior points j = 1..J−2."""
    v = check_array(values, "values", ndim=1)
    dt = check_real(dt, "dt", positive=True)
    if v.size < 3:
        raise InvalidArgument(f"`values` needs at least 3 points for a centred difference, got {v.size}.")
    return (v[2:] - v[:-2]) / (2.0 * dt)


def roundoff_bound(risk, yhat, n: int, M: int) -> float:
    """e_fl = u (n + M) (R + 2√R·max(1, |ŷ|_∞)): a floating-point bound on one evaluation of R
    (ŷ a weighted sum of M terms, R a mean of n squares), at the largest R recorded."""
    R = float(np.max(np.abs(risk)))
    s = max(1.0, float(np.max(np.abs(yhat))))
    return _U * (n + M) * (R + 2.0 * math.sqrt(R) * s)


# --------------------------------------------------------------------------- reference identity


@dataclass(frozen=True)
class ReferenceIdentity:
    """Both levels of the reference identity. Arrays on the coarse interior times ``times``."""

    h: float
    times: np.ndarray
    c_coarse: np.ndarray
    c_fine: np.ndarray
    D_fine: np.ndarray
    delta_coarse: np.ndarray
    delta_fine: np.ndarray
    richardson2: np.ndarray
    floor: float
    fine_times: np.ndarray
    fine_risk: np.ndarray
    max_increment: float
    increment_bound: float
    risk_error: float

    @property
    def threshold(self) -> float:
        """max_t |c_h − c_{h/2}| / (2^1 − 1) + floor: the Richardson estimate at the weakest order p = 1."""
        return float(3.0 * np.max(self.richardson2) + self.floor)

    @property
    def ratio(self) -> float:
        """q = max|δ_{h/2}| / max(order-2 Richardson estimate + floor): → 1 under the claim."""
        return float(np.max(np.abs(self.delta_fine)) / (np.max(self.richardson2) + self.floor))

    @property
    def observed_order(self) -> float:
        """log2(max|δ_h| / max|δ_{h/2}|): 2 under the claim, 0 for a wrong identity."""
        a, b = float(np.max(np.abs(self.delta_coarse))), float(np.max(np.abs(self.delta_fine)))
        return math.log2(a / b) if a > 0 and b > 0 else math.nan

    @property
    def relative_discrepancy(self) -> float:
        """max|δ_{h/2}| / max D."""
        return float(np.max(np.abs(self.delta_fine)) / max(np.max(np.abs(self.D_fine)), np.finfo(float).tiny))

    @property
    def slope(self) -> tuple[float, float]:
        """Least-squares slope of the Richardson-extrapolated derivative c* = (4c_{h/2} − c_h)/3 on −D,
        and its half-width from the order-2 Richardson estimate (→ 1 under the claim)."""
        c_star = (4.0 * self.c_fine - self.c_coarse) / 3.0
        denom = float(np.sum(self.D_fine**2))
        if denom <= 0:
            return math.nan, math.nan
        return float(-np.sum(c_star * self.D_fine) / denom), float((np.max(self.richardson2) + self.floor) / math.sqrt(denom / len(self.D_fine)))

    @property
    def monotone(self) -> bool:
        return self.max_increment <= self.increment_bound

    @property
    def identity_holds(self) -> bool:
        return float(np.max(np.abs(self.delta_fine))) <= self.threshold


def reference_identity(problem: FinitePopulation, neuron: Neuron, nodes, weights, *, T: float, h: float,
                       schedule: Schedule = constant(1.0), drift_scale: float = 1.0) -> ReferenceIdentity:
    """Solve the flow at steps h and h/2 (record grid = step) and compare the centred derivative
    of the recorded risk with −D from the nodes' positions (module docstring, tests 1–2)."""
    problem = require_finite_population(problem)
    h = check_real(h, "h", positive=True)
    T = check_real(T, "T", positive=True)
    J = T / h
    if abs(J - round(J)) > 1e-9 * J or round(J) < 2:
        raise InvalidArgument(f"`h`={h} must divide `T`={T} at least twice.")
    nodes = check_array(nodes, "nodes", ndim=2)
    weights = check_array(weights, "weights", shape=(nodes.shape[0],))
    levels = []
    for step in (h, h / 2):
        flow, pos = flow_with_positions(problem, neuron, nodes, weights, T=T, h=step, record_dt=step, schedule=schedule,
                                        drift_scale=drift_scale)
        D = dissipation(problem, neuron, pos, flow.yhat, weights, schedule(flow.times))
        levels.append((flow, D))
    (fc, Dc), (ff, Df) = levels
    c_coarse = centred_difference(fc.risk, h)
    c_fine_all = centred_difference(ff.risk, h / 2)
    c_fine = c_fine_all[1::2]  # fine interior index 2j-1 ↔ coarse interior j
    D_coarse, D_fine = Dc[1:-1], Df[2:-2:2]
    e_fl = max(roundoff_bound(fc.risk, fc.yhat, problem.n, nodes.shape[0]), roundoff_bound(ff.risk, ff.yhat, problem.n, nodes.shape[0]))
    risk_error = float(np.max(np.abs(fc.risk - ff.risk[::2]))) / 15.0
    return ReferenceIdentity(
        h=h, times=fc.times[1:-1], c_coarse=c_coarse, c_fine=c_fine, D_fine=D_fine,
        delta_coarse=c_coarse + D_coarse, delta_fine=c_fine + D_fine,
        richardson2=np.abs(c_coarse - c_fine) / 3.0, floor=2.0 * e_fl / (h / 2),
        fine_times=ff.times, fine_risk=ff.risk, max_increment=float(np.max(np.diff(ff.risk))),
        increment_bound=2.0 * (risk_error + e_fl), risk_error=risk_error,
    )


# --------------------------------------------------------------------------- SGD identity


def curvature_term(problem: FinitePopulation, neuron: Neuron, rule: Rule, theta, grad_psi, s: float, risk_now: float) -> float:
    """C = E[ΔR_N | θ] − Σ_i (2/N) ∇Ψ(θ_i; ρ̂)·E[Δθ_i | θ] for one replicate θ (N, D), exact on the
    finite population (the expectation is the average over its n points) with the noiseless ``rule``."""
    n = problem.n
    batch = np.repeat(theta[None], n, axis=0)  # (n, N, D)
    nxt = np.asarray(rule(batch, problem.X, problem.y, s, neuron), dtype=np.float64)
    if nxt.shape != batch.shape or not np.all(np.isfinite(nxt)):
        raise FloatingPointError(f"The update rule returned shape {nxt.shape} or non-finite values for one step of size {s}.")
    mean_risk = float(np.mean(problem.risk_of_prediction(problem.predict(neuron, nxt))))
    mean_step = nxt.mean(axis=0) - theta
    first = 2.0 / theta.shape[0] * float(np.sum(grad_psi * mean_step))
    return mean_risk - risk_now - first


@dataclass(frozen=True)
class SGDIdentity:
    """Per-replicate sums and the self-normalised statistic of test 3."""

    N: int
    eps: float
    T: float
    replicates: int
    sum_d: float
    sum_d2: float
    curvature: float
    curvature_se: float
    predicted_decrease: float
    measured_decrease: float
    curve_times: np.ndarray
    curve_risk_change: np.ndarray  # (R, P): R_N(θ^k) − R_N(θ^0)
    curve_predicted: np.ndarray  # (R, P): −Σ_{j<k} 4 s_j G_j
    curvature_samples: np.ndarray  # C_k / s_k² at the sampled steps, (R, S)

    @property
    def z(self) -> float:
        den = math.sqrt(self.sum_d2 + self.curvature_se**2)
        num = self.sum_d - self.curvature
        if den > 0:
            return num / den
        return 0.0 if num == 0 else math.copysign(math.inf, num)

    @property
    def p_value(self) -> float:
        """Two-sided: 2 P(N(0, 1) ≥ |Z|) (a step too large gives Z < 0, one too small Z > 0)."""
        return float(2.0 * stats.norm.sf(abs(self.z)))

    @property
    def decrease_ratio(self) -> tuple[float, list[float]]:
        """(−Σ ΔR_N + Ĉ) / Σ 4 s G with a 95 % CI (→ 1 under the claim, 1/2 for the no-factor-two mutant)."""
        P = self.predicted_decrease
        est = (self.measured_decrease + self.curvature) / P
        half = stats.norm.ppf(0.975) * math.sqrt(self.sum_d2 + self.curvature_se**2) / P
        return float(est), [float(est - half), float(est + half)]

    @property
    def z_shift_from_curvature(self) -> float:
        """How far the uncorrected statistic would be shifted by the O(ε) curvature term (in sd units)."""
        return float(self.curvature / math.sqrt(self.sum_d2)) if self.sum_d2 > 0 else 0.0


def sgd_identity(problem: FinitePopulation, neuron: Neuron, rho0: GaussianInit, rule: Rule, init: InitSampler, *, N: int,
                 eps: float, T: float, replicates: int, streams: Streams, schedule: Schedule = constant(1.0),
                 curvature_steps: int = 8, progress: bool = False) -> SGDIdentity:
    """Run the SGD rule ``rule`` (R replicates, streams ("init", r) and ("data", r)) and collect
    d_k = ΔR_N + 4 s_k G_k and the exact curvature term at ``curvature_steps`` steps per replicate."""
    record = _IdentityRecord(check_real(T, "T", positive=True), check_positive_int(curvature_steps, "curvature_steps"))
    return run_sgd(require_finite_population(problem), neuron, rho0, rule, N=N, eps=eps, T=T, replicates=replicates, streams=streams,
                   record=record, schedule=schedule, init=init, backend="numpy", progress=progress)


@dataclass(frozen=True)
class _IdentityRecord:
    """The record of test 3 for :func:`mfcheck.dynamics.sgd.run_sgd` (grid {0, T}; it sees every step)."""

    dt: float
    curvature_steps: int
    every_step: ClassVar[bool] = True

    def start(self, run: Run) -> _IdentityRecorder:
        return _IdentityRecorder(run, self.dt, self.curvature_steps)


class _IdentityRecorder:
    """Per step k: G_k = mean_i ||∇Ψ(θ_i^k)||², d_k = R_N(θ^{k+1}) − R_N(θ^k) + 4 s_k G_k, the curvature
    term C_k at the sampled steps, and the curves of R_N(θ^k) − R_N(θ^0) and −Σ_{j<k} 4 s_j G_j."""

    def __init__(self, run: Run, T: float, S: int):
        self.run, self.T = run, T
        K, R = int(run.steps[-1]), run.shape[0]
        self.sampled = np.unique(np.linspace(0, K - 1, S).round().astype(int))
        self.plot_at = np.unique(np.linspace(0, K, min(_PLOT_POINTS, K + 1)).round().astype(int))
        self.cum_pred = np.zeros(R)
        self.sum_d = self.sum_d2 = 0.0
        self.curv = np.empty((R, len(self.sampled)))
        self.curve_change, self.curve_pred = [np.zeros(R)], [np.zeros(R)]
        self.si = 0

    def record(self, j: int, k: int, Theta: np.ndarray) -> None:
        if j == 0:
            self.yhat = population_field.predict(self.run.problem, self.run.neuron, Theta)
            self.risk0 = self.risk = self.run.problem.risk_of_prediction(self.yhat)

    def step(self, k: int, s: float, Theta: np.ndarray, new: np.ndarray) -> None:
        problem, neuron, R = self.run.problem, self.run.neuron, self.run.shape[0]
        g = population_field.grad_Psi(problem, neuron, Theta, self.yhat)  # (R, N, D), compiled where it can be
        G = np.mean(np.sum(g * g, axis=-1), axis=-1)  # (R,)
        if self.si < len(self.sampled) and k == self.sampled[self.si]:
            for r in range(R):
                self.curv[r, self.si] = curvature_term(problem, neuron, self.run.rule, Theta[r], g[r], s, float(self.risk[r])) / (s * s)
            self.si += 1
        if not np.all(np.isfinite(new)):
            raise FloatingPointError(f"SGD diverged at step {k} with N={self.run.shape[1]}, eps={self.run.eps}.")
        self.yhat = population_field.predict(problem, neuron, new)
        risk = problem.risk_of_prediction(self.yhat)
        d = risk - self.risk + 4.0 * s * G
        self.sum_d += float(d.sum())
        self.sum_d2 += float(np.sum(d * d))
        self.cum_pred -= 4.0 * s * G
        self.risk = risk
        if k + 1 in self.plot_at:
            self.curve_change.append(self.risk - self.risk0)
            self.curve_pred.append(self.cum_pred.copy())

    def result(self) -> SGDIdentity:
        run, curv = self.run, self.curv
        K = int(run.steps[-1])
        s_all = run.eps * np.asarray(run.schedule(np.arange(K) * run.eps), dtype=np.float64)
        sum_s2 = float(np.sum(s_all**2))
        per_rep = curv.mean(axis=1) * sum_s2
        se_rep = (curv.std(axis=1, ddof=1) / math.sqrt(curv.shape[1]) if curv.shape[1] > 1 else np.abs(curv[:, 0])) * sum_s2
        return SGDIdentity(
            N=run.shape[1], eps=run.eps, T=self.T, replicates=run.shape[0], sum_d=self.sum_d, sum_d2=self.sum_d2,
            curvature=float(per_rep.sum()), curvature_se=float(math.sqrt(np.sum(se_rep**2))),
            predicted_decrease=float(-self.cum_pred.sum()), measured_decrease=float(-(self.risk - self.risk0).sum()),
            curve_times=self.plot_at * run.eps, curve_risk_change=np.stack(self.curve_change, axis=1),
            curve_predicted=np.stack(self.curve_pred, axis=1), curvature_samples=curv,
        )


# --------------------------------------------------------------------------- the check



def evaluate(context: CheckContext, drift_scale: float = 1.0, sizes: Sizes | None = None) -> ClaimResult:
    """The check; ``drift_scale`` ≠ 1 judges a broken reference drift instead of :func:`solve_flow`'s."""
    exp = context.experiment
    size = sizes or CLAIM.sizes_for(context)
    problem = require_finite_population(exp.problem)
    streams = Streams(exp.seed).child(NAME)
    nodes, weights = exp.rho0.sobol(size.log2_M, streams.seed_sequence("reference", 0))
    ref = reference_identity(problem, exp.neuron, nodes, weights, T=exp.T, h=exp.h, schedule=exp.schedule, drift_scale=drift_scale)
    sgd_streams = streams.child("sgd", size.N)
    sgd = sgd_identity(problem, exp.neuron, exp.rho0, context.rule, context.init, N=size.N, eps=size.eps, T=size.T_sgd,
                       replicates=size.replicates, streams=sgd_streams, schedule=exp.schedule,
                       curvature_steps=size.curvature_steps, progress=context.progress)
    tests = (
        Test(f"reference: max increment of R(ρ_t) ({ref.max_increment:.3g}) ≤ integrator + round-off bound "
             f"({ref.increment_bound:.3g}) [deterministic: p ∈ {{0, 1}}]", 1.0 if ref.monotone else 0.0, role="precondition",
             statistic=_INCREMENT),
        Test(f"reference: max_t |dR/dt + 4ξ∫||∇Ψ||²| at h/2 ({np.max(np.abs(ref.delta_fine)):.3g}) ≤ Richardson estimate at "
             f"order 1 ({ref.threshold:.3g}) [deterministic: p ∈ {{0, 1}}]", 1.0 if ref.identity_holds else 0.0, role="precondition",
             statistic=_Q),
        Test(f"SGD `{context.rule.label}`: E[ΔR_N] = −4 s_k G_k + C_k, C_k the exact second-order term "
             f"(two-sided martingale CLT, Z = {sgd.z:.3g})", sgd.p_value, statistic=_RATIO),
    )
    slope, slope_half = ref.slope
    ratio, ratio_ci = sgd.decrease_ratio
    estimates = {
        "reference: slope of dR/dt on −4ξ∫||∇Ψ||²": {"estimate": slope, "ci": [slope - slope_half, slope + slope_half], "predicted": 1.0,
                                                      "note": "Richardson-extrapolated derivative; interval ± order-2 Richardson estimate"},
        _Q: {"estimate": ref.ratio, "ci": [ref.ratio, ref.ratio], "predicted": 1.0, "threshold": 3.0, "note": "deterministic"},
        "reference: observed order of the discrepancy": {"estimate": ref.observed_order, "ci": [ref.observed_order, ref.observed_order],
                                                         "predicted": 2.0, "note": "deterministic; 0 for a wrong identity"},
        "reference: relative discrepancy at h/2": {"estimate": ref.relative_discrepancy, "ci": [ref.relative_discrepancy] * 2},
        _INCREMENT: {"estimate": ref.max_increment, "ci": [ref.max_increment] * 2, "bound": ref.increment_bound},
        _RATIO: {"estimate": ratio, "ci": ratio_ci, "predicted": 1.0},
        "SGD: curvature term Ĉ (total)": {"estimate": sgd.curvature, "ci": [sgd.curvature - 1.96 * sgd.curvature_se,
                                                                             sgd.curvature + 1.96 * sgd.curvature_se],
                                          "z_shift_if_ignored": sgd.z_shift_from_curvature},
    }
    details = {
        "reference": {
            "h": ref.h, "h_fine": ref.h / 2, "T": exp.T, "nodes": f"2^{size.log2_M} scrambled Sobol", "drift_scale": drift_scale,
            "times": ref.times.tolist(), "c_coarse": ref.c_coarse.tolist(), "c_fine": ref.c_fine.tolist(), "D_fine": ref.D_fine.tolist(),
            "delta_coarse": ref.delta_coarse.tolist(), "delta_fine": ref.delta_fine.tolist(), "richardson2": ref.richardson2.tolist(),
            "floor": ref.floor, "threshold": ref.threshold, "fine_times": ref.fine_times.tolist(), "fine_risk": ref.fine_risk.tolist(),
            "max_increment": ref.max_increment, "increment_bound": ref.increment_bound, "risk_error": ref.risk_error,
        },
        "sgd": {
            "update": context.rule.label, "N": sgd.N, "eps": sgd.eps, "T": sgd.T,
            "replicates": sgd.replicates, "sum_d": sgd.sum_d, "sd": math.sqrt(sgd.sum_d2), "z": sgd.z, "p_value": sgd.p_value,
            "curvature": sgd.curvature, "curvature_se": sgd.curvature_se, "curvature_over_s2": sgd.curvature_samples.tolist(),
            "predicted_decrease": sgd.predicted_decrease, "measured_decrease": sgd.measured_decrease,
            "curve_times": sgd.curve_times.tolist(), "curve_risk_change": sgd.curve_risk_change.tolist(),
            "curve_predicted": sgd.curve_predicted.tolist(),
        },
        "seeds": {
            "entropy": int(exp.seed),
            "reference_nodes": f"Streams({exp.seed}).child({NAME!r}): role 'reference', replicate 0 (Sobol scramble)",
            "sgd": f"Streams({exp.seed}).child({NAME!r}, 'sgd', {sgd.N}): roles 'init', 'data', replicate r = 0..{sgd.replicates - 1}",
            "streams": sgd_streams.describe(),
        },
        "sizes": {k: getattr(size, k) for k in size.__dataclass_fields__},
    }
    return ClaimResult(claim=NAME, verdict="unresolved", alpha=math.nan, tests=tests, unresolved="",
                       reference_error=float(np.max(ref.richardson2) / max(np.max(np.abs(ref.D_fine)), np.finfo(float).tiny)),
                       estimates=estimates, details=details)


def power(result: ClaimResult, level: float) -> dict | None:
    """The SGD identity test's power at ``level`` against its declared alternative, the step at s/2
    (``no_factor_two``): the first-order term −2 s_k G_k in place of −4 s_k G_k moves Σ d_k by half
    the predicted decrease P = Σ 4 s_k G_k, so Z by (P/2)/sqrt(Σ d_k² + se(Ĉ)²), two-sided normal
    power at the run's own path and denominator (a step at 2s moves it twice as far the other way).
    None when the run recorded no SGD part."""
    sgd = result.details.get("sgd")
    if not sgd:
        return None
    test = next(t for t in result.tests if t.role == "implementation")
    den = math.hypot(sgd["sd"], sgd["curvature_se"])
    shift = 0.5 * abs(sgd["predicted_decrease"])
    nc = shift / den if den > 0 else (math.inf if shift > 0 else 0.0)
    return {"test_power": {test.name: z_test_power(nc, level, two_sided=True)}, "level": level, "power_floor": POWER_FLOOR,
            "against": "the step at s/2 (decrease ratio 1/2: Z moved by half the predicted decrease over its denominator, "
                       "two-sided normal)"}


CLAIM = Check(
    name=NAME, title=TITLE, order=40, sizes=SIZES, parts=frozenset({"step", "init"}), reads_reference=False,
    statement="d/dt R(ρ_t) = −4 ξ(t) ∫ ||∇_θ Ψ(θ; ρ_t)||² ρ_t(dθ) ≤ 0; "
              "E[R_N(θ^{k+1}) − R_N(θ^k) | θ^k] = −4 s_k (1/N) Σ_i ||∇Ψ(θ_i^k; ρ̂^{N,k})||² + O(s_k²)",
    test_count=1,  # the identity on SGD (monotone and identity on the reference are preconditions)
    alternative="the update without its factor 2", inject=lambda c: replace(c, rule=BROKEN["no_factor_two"].rule), compute=evaluate,
    power=power,
)
