"""Term E2 of the coupling lemma closed by Gronwall: the coupling grows no faster than the reference's
Lyapunov exponent allows, beside the theorem's e^{K_drift T}.

docs/theory.md §4 and the §7 row "Gronwall". With θ̄_i the nonlinear particle started at the same
θ_i^0 as SGD particle i (synchronous coupling), the coupling statistic of one replicate is

    S(T) = max_{i ≤ N} sup_{kε ≤ T} ||θ_i^k − θ̄_i^{kε}||_2        (k on the record grid),

and the coupling lemma bounds it by a(T) e^{K_drift T} with a(T) the discretisation (E1 ≤ K T ε),
martingale (E3, ∝ sqrt(εT)) and i.i.d. terms. One SGD run per replicate to a horizon ``T_max``
gives S(T) for every prefix T of the record grid (S is a running maximum, non-decreasing in T).

**The Gronwall rate from the oracle constants.** The drift of both particles is
b(θ, ρ) = −2ξ(t) ∇_θ Ψ(θ; ρ), ∇_θΨ(θ; ρ) = ∇V(θ) + ∫ ∇₁U(θ, θ') ρ(dθ'). Then

    ||∇Ψ(θ; ρ) − ∇Ψ(θ'; ρ')|| ≤ (Lip ∇V + Lip₁ ∇₁U) ||θ − θ'|| + Lip₂ ∇₁U · W1(ρ, ρ')

(the second term by Kantorovich–Rubinstein duality: θ' ↦ ∇₁U(θ, θ') is Lip₂-Lipschitz).
In the coupling, ρ = ρ̂^{N,k} (SGD particles) and ρ' = ρ_t;
W1(ρ̂^{N,k}, ρ_t) ≤ W1(ρ̂^{N,k}, ρ̄^N_t) + W1(ρ̄^N_t, ρ_t) ≤ max_i ||θ_i^k − θ̄_i|| + (an i.i.d. term
that goes into a(T)), with ρ̄^N_t the empirical law of the θ̄_i. So Δ(t) = max_i ||θ_i − θ̄_i||
obeys Δ(t) ≤ a(t) + ∫_0^t K_drift Δ(s) ds, and Gronwall gives Δ(t) ≤ a(t) e^{K_drift t} with

    K_drift = 2 sup ξ · (Lip ∇V + Lip₁ ∇₁U + Lip₂ ∇₁U) ≤ 2 ξ̄ (grad_V_lipschitz + 2 grad_U_lipschitz),

where ``problem.constants(neuron)`` gives Lip ∇V (``grad_V_lipschitz``) and a Lipschitz constant
of ∇₁U (``grad_U_lipschitz``, assumption A3), which bounds each of Lip₁ and Lip₂; ξ̄ is
``schedule.bound``. This generic form is the theorem's constant, reported beside the exponent test
(test 3). For an InnerNeuron on a finite population, ``grad_U_lipschitz`` is sup|σ|·Lip(σ')·max|x|² + (sup|σ'|·max|x|)², which is exactly
Lip₁ + Lip₂, so 2ξ̄(grad_V_lipschitz + grad_U_lipschitz) is also a valid rate; replacing max|x|²
by the population average (1/n) Σ_j |x_j|² (and sup|y| by |y_j| inside the average) gives a
third, sharper rigorous rate. Both are reported, not tested.

**The exponent of the reference.** K_drift bounds the worst case of the oracle constants and is
far above the growth of a correct coupling, so a test against it has no
power on any horizon that float64 can hold (see below). The growth the flow itself allows is its
finite-time Lyapunov exponent (:mod:`mfcheck.reference.lyapunov`): the tangent dynamics of the coupled
particles along the stored reference, dδ_m/dt = −2ξ[∇²Ψ(ϑ_m; ρ_t) δ_m + Σ_l w_l ∇₂∇₁U(ϑ_m, ϑ_l) δ_l],
with propagator Φ(0, T) and

    λ_top(T) = (1/T) log σ_1(Φ(0, T))   (largest growth over all initial perturbations, w-norm),
    λ_frozen(T) = (1/T) max_m log σ_1(Φ_m(0, T))   (one particle moved in a law that does not respond),
    λ_upper(T) = (1/T) ∫_0^T μ̄(t) dt,   μ̄(t) = max_m λ_max(−2ξ∇²Ψ(ϑ_m; ρ_t)) ≥ λ_max(L(t)),

with λ_top ≤ λ_upper (logarithmic norm) bracketing the power iteration's λ_top from above.
Linearising the coupling, θ_i − θ̄_i = δ_i obeys the tangent dynamics forced by the SGD noise and
discretisation (a(T)), so S(T) ≲ a(T) sup ||Φ||, i.e. log(S(T)/T) grows at a rate at most the
exponent of Φ in the norm of S (max over particles). SGD perturbs the particles one at a time (each
step moves each particle by its own noise; the law feels it with weight 1/N), which is the
frozen-law mode; the collective mode is λ_top. The bound tested is the larger of the two,

    λ_bound = max(λ_top(T_max), λ_frozen(T_max)),

computed at T_max (the finite-time exponent over the fitted horizon); λ_top comes from a flow of
2^``lyapunov_log2_M`` nodes (the power iteration's cost is O(n M D) per stage and vector), λ_frozen
from the claim's reference nodes and from that flow (the larger is used: a maximum over more nodes
reaches further into the tails of ρ_0, where the SGD particles also are).

**Tests** (one-sided, H0 "the claim holds"; raw p-values, Holm in :func:`mfcheck.stats.results.decide`),
on the prefixes T ≥ record_dt that the reference resolves (its coupling error at most
``RESOLUTION_RATIO`` × the median S(T)):

1. *Rate against the exponent* (counted). The OLS slope K̂_env of log(S(T)/T) on T, all replicates
   pooled; H0: K ≤ λ_bound + ``MARGIN``, H1: K > λ_bound + ``MARGIN``;
   p = P(t_{R−1} ≥ (K̂_env − λ_bound − MARGIN)/se). The slope is that of log(S(T)/T),
   not of log S, because the prefactor a(T) grows too (E1 ∝ εT, E3 ∝ sqrt(εT)): a(T)/T is
   non-increasing for both shapes, so S(T) ≤ a(T) e^{KT} implies that log(S(T)/T) grows at rate
   at most K, whereas the slope of log S also carries the onset of a(T). Standard errors are
   cluster-robust by replicate with t inference on R − 1 df: the prefixes of one replicate are
   strongly dependent (S is a running maximum of one path), so HC3, which treats them as
   independent observations, understates the standard error; replicates are independent, so
   clustering by replicate is valid. (With the same time grid in every replicate the pooled slope
   equals the mean of the per-replicate slopes, whose t-interval is reported as a cross-check, as
   is the raw slope K̂ of log S.) *The margin* ``MARGIN`` is the fit's own resolution: the width of
   the one-sided 95 % interval of K̂_env at the ci tier, measured on correct SGD at experiment seeds
   that no test or report uses (``MARGIN_SEEDS``), rounded up; it absorbs what the linearisation
   leaves out (finite, not infinitesimal, S; the sup over particles against the w-norm; the
   finite-time exponent as an average over [0, T_max]) at the scale the fit can see at all.
2. *At most exponential* (counted). Pooled OLS of log S(T) = a + b (T − T̄) + c (T − T̄)², same
   cluster-robust errors; H0: c ≤ 0 (log S is linear or concave in T), H1: c > 0 (the local
   growth rate increases: super-exponential growth). p = P(t_{R−1} ≥ ĉ/se). A quadratic term
   rather than local slopes over T windows: it is one test (no multiplicity), uses every
   prefix, and a smooth acceleration of the rate is what a super-exponential blow-up looks like
   on a finite horizon.
3. *Rate against K_drift* (reported, not counted). The same slope against the theorem's own
   constant, H0: K ≤ K_drift. It has no power at T_max = 4 (the window below is empty), so by the
   project's rule it is reported, never counted in the Holm family (it was counted while T_max was 2).

**False-alarm rate.** Each counted test has level α at the boundary of its null (K = λ_bound + MARGIN,
c = 0), up to the t_{R−1} approximation of the cluster-robust statistic; Holm over all tests of a
verification keeps the family-wise rate ≤ α. Caveats: (1) test 1 removes the steepest admissible
onset (a ∝ T), twice the slope of the martingale's ½ log T (reported as ``onset_slope``), so for a
correct SGD it errs on the side of passing; (2) test 2 tests the §7 shape "log-error at most
linear in T", which is stronger than the Gronwall inequality (a bound a(T)e^{KT} allows a convex
log S on a finite horizon, e.g. a flow that crosses an unstable region mid-run), so it could fail a
correct SGD on such a flow; (3) λ_bound is the exponent of the *reference's* flow, so an experiment
whose flow expands late after contracting early has a late growth above the average λ_top(T_max):
the exponents at every sweep horizon are reported beside the fit for that reason.

**Power** (:func:`power`, the rule of docs/methods.md "Which tests spend α"). Each counted test is a
one-sided t test, so its power at the run's own standard error is that of the noncentral t: at
level ℓ against a shift Δ of the tested parameter, P(t_{R−1}(Δ/se) ≥ t_{1−ℓ, R−1})
(:func:`mfcheck.stats.power.t_test_power`). The stated
violation is a coupling whose growth exceeds the bound by Δ = max(λ_bound + MARGIN, MARGIN), the
bound's own rate (a coupling growing twice as fast as the flow allows): in test 1 a rate K̂_env
larger by Δ; in test 2 a local rate that rises by Δ across the fitted prefixes [T_0, T_max],
c = Δ / (2 (T_max − T_0)). Adding Δ·T (or c (T − T̄)²) to the run's log S moves its estimate by
exactly that and leaves its residuals, hence se, unchanged, so the formula is the rejection rate
of the run's own data with the violation injected. A test below ``POWER_FLOOR`` leaves the family.

**Evidence for a pass.** The upper one-sided 95 % bound of K̂_env at most λ_bound + MARGIN (the
coupling is shown to grow no faster than the exponent allows); otherwise unresolved, with the
replicates that would clear it (:func:`mfcheck.claims.fit.replicates_to_clear`).

**The sweep in T.** One SGD run per replicate to T_max = 4 gives S(T) at every prefix; the report
fits K̂ and K̂_env on the prefixes up to each T ∈ ``T_SWEEP`` = {0.5, 1, 2, 4} beside λ_top(T),
λ_frozen(T) and λ_upper(T) at that T, and fits log S(T) against the cumulative exponent
Λ(T) = T λ_frozen(T) (= log max_m σ_1(Φ_m(0, T))) and against ∫_0^T μ̄: a coupling governed by
the exponent has slope at most 1 against Λ once a(T) has set in.

**Overflow.** SGD raises (non-finite particles) once |<θ, x>|² overflows, i.e. |<θ, x>| ≳ e^{354}
(``FLOAT64_LOG_LIMIT``). With bounded σ' (assumption A2) every increment of an SGD the theorem
covers is bounded, ||Δθ|| ≤ 2 s_k (sup|y| + sup|ŷ|) sup||∇σ*||, so its particles move at most
linearly in time and cannot overflow: an overflow before T_max shows growth at a rate above
354/T_max ≫ λ_bound + MARGIN, and test 1 rejects it with p = 0 (test 2 and the K_drift test are
not run). K_drift could not judge it: e^{K_drift T_max} allows it.

**Broken rule.** Any bug that changes only the gradient term or the step size (missing factor 2,
NTK output scaling, a step size growing with k) moves particles at most linearly in the elapsed
step sum: it cannot produce exponential growth; such bugs are left to the Theorem 1 rate claims.
A multiplicative term can: weight decay with the wrong sign, θ ← e^{+2λs} θ + (mean-field step)
(:class:`mfcheck.dynamics.broken.AntiWeightDecay`), adds an unstable linear drift +2λθ. The claim's
alternative is λ = ``UNSTABLE_DECAY`` = 1 (a rate 2λ = 2 on top of the flow's, the order of
practical weight decays times a learning-rate schedule gone wrong, far below what K_drift sees);
the registry's ``anti_weight_decay`` (λ = 60) overflows on this horizon and is rejected by overflow.

**What only this claim sees: an instability that starts late.** A drift +2λθ switched on from t = 0
also moves the limit: the SGD particles leave their reference twins by about 2λ t |θ| before any
growth shows, a bias that does not shrink with N or ε, and the rate claims see it at T = 1 as a
plateau, at a λ far below the one that lifts the rate of log(S(T)/T) of a correct run (well below
zero) to λ_bound + δ; for such a drift the rate claims are the stronger test. What the rate
claims cannot see is an instability whose onset comes after their horizon: the registry's
``late_instability`` (:class:`mfcheck.dynamics.broken.LateInstability`, anti weight decay switched on
once the mean squared weight crosses a budget that the flow reaches between T = 1 and T_max) is the
correct step up to its onset, so a claim whose horizon ends before the onset, or whose own setting
stays below the budget, sees the correct step; here log S(T) turns upwards after the onset, which
the curvature test and the rate test judge. ``reports/gate_late_instability`` (ci tier) and
``reports/gate_late_instability_full`` run the gate on it: this claim is the one that fails.

`mfcheck calibrate gronwall` measures the power against λ = ``UNSTABLE_DECAY``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import statsmodels.api as sm
from scipy import stats

from mfcheck._validation import check_array, check_real
from mfcheck.claims.base import Check, CheckContext
from mfcheck.errors import InvalidArgument
from mfcheck.claims.fit import RESOLUTION_RATIO, replicates_to_clear
from mfcheck.claims.injection import POWER_FLOOR
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems.base import TheoremConstants
from mfcheck.model.problems.finite import FinitePopulation
from mfcheck.reference import build_reference, couple
from mfcheck.stats.power import t_test_power
from mfcheck.stats.results import ClaimResult, Evidence, Test
from mfcheck.seeds import Streams
from mfcheck.dynamics.broken import AntiWeightDecay
from mfcheck.dynamics.rules import Rule
from mfcheck.dynamics.sgd import StandardRecord, run_sgd

__all__ = [
    "NAME", "TITLE", "SIZES", "Sizes", "MIN_PREFIXES", "CLAIM",
    "drift_lipschitz", "population_drift_lipschitz",
    "coupling_statistic", "fit_growth", "fit_against", "exponents", "measure_margin", "run",
    "MARGIN", "MARGIN_SEEDS", "T_SWEEP", "UNSTABLE_DECAY",
]

NAME = "gronwall"
TITLE = "Gronwall: the coupling S(T) grows at most like e^{K T}"
_ENVELOPE = "rate of log(S(T)/T)"
_CURVATURE = "curvature c"
_BOUND = "lambda_bound + margin"
"""The estimates tests 1–3 judge (each test's ``statistic``): the slope K̂_env of log(S(T)/T), not K̂
(the slope of log S, which carries the onset of a(T)), and the curvature."""

MARGIN = 0.04
"""δ of test 1: H0 K_env ≤ λ_bound + δ. The fit's resolution at the ci tier: the largest one-sided 95 %
half-width of K̂_env, t_{0.95, R−1}·se, of correct SGD over the seeds :data:`MARGIN_SEEDS`, rounded up to
one significant digit (:func:`measure_margin` recomputes it)."""
MARGIN_SEEDS = (9001, 9002, 9003, 9004)
"""Experiment seeds of the margin's measurement; no test or report runs on them."""
T_SWEEP = (0.5, 1.0, 2.0, 4.0)
"""The horizons at which the exponents and the fitted rates are reported side by side (those ≤ T_max)."""
UNSTABLE_DECAY = 1.0
"""λ of the claim's alternative: weight decay of the wrong sign, an unstable drift +2λθ of rate 2."""
EVIDENCE_LEVEL = 0.95



@dataclass(frozen=True)
class Sizes:
    """``N``, ``eps``, ``replicates``, horizon ``T_max``, the reference built for that horizon
    (2^log2_M Sobol nodes, RK4 step h; refined with h/2 and twice the nodes to measure its error), and
    the 2^lyapunov_log2_M nodes of the flow whose top exponent is computed by power iteration."""

    N: int
    eps: float
    replicates: int
    T_max: float
    log2_M: int
    h: float
    lyapunov_log2_M: int = 8


SIZES = {
    "smoke": Sizes(N=64, eps=1 / 64, replicates=8, T_max=4.0, log2_M=9, h=1 / 16, lyapunov_log2_M=7),
    "ci": Sizes(N=256, eps=1 / 256, replicates=20, T_max=4.0, log2_M=11, h=1 / 16, lyapunov_log2_M=8),
    "full": Sizes(N=1024, eps=1 / 1024, replicates=32, T_max=4.0, log2_M=12, h=1 / 32, lyapunov_log2_M=9),
}
#: Fewer resolved prefixes than this: the claim is unresolved.
MIN_PREFIXES = 8
#: |<θ, x>| beyond about e^{354} overflows σ'(t) = c·exp(−t²) in float64.
FLOAT64_LOG_LIMIT = 354.0


# --------------------------------------------------------------------------------------------
# the bound
# --------------------------------------------------------------------------------------------
def drift_lipschitz(constants: TheoremConstants, xi_bound: float) -> dict:
    """Gronwall rate of the coupling from the oracle constants (see the module docstring).

    K_drift = 2 ξ̄ (Lip ∇V + Lip₁ ∇₁U + Lip₂ ∇₁U) with Lip₁, Lip₂ ≤ grad_U_lipschitz:
    ``K_drift`` = 2 ξ̄ (grad_V_lipschitz + 2 grad_U_lipschitz) (tested), and ``K_structural`` =
    2 ξ̄ (grad_V_lipschitz + grad_U_lipschitz) (valid when grad_U_lipschitz = Lip₁ + Lip₂).
    """
    if not isinstance(constants, TheoremConstants):
        raise InvalidArgument(f"`constants` must be TheoremConstants, got {type(constants).__name__}.")
    xi = check_real(xi_bound, "xi_bound", nonnegative=True)
    LV = check_real(constants.grad_V_lipschitz, "constants.grad_V_lipschitz", nonnegative=True)
    LU = check_real(constants.grad_U_lipschitz, "constants.grad_U_lipschitz", nonnegative=True)
    return {
        "K_drift": 2.0 * xi * (LV + 2.0 * LU),
        "K_structural": 2.0 * xi * (LV + LU),
        "xi_bound": xi, "grad_V_lipschitz": LV, "grad_U_lipschitz": LU,
        "formula": "K_drift = 2·sup ξ·(Lip ∇V + Lip₁ ∇₁U + Lip₂ ∇₁U) ≤ 2ξ̄(grad_V_lipschitz + 2·grad_U_lipschitz)",
    }


def population_drift_lipschitz(problem, neuron, xi_bound: float) -> float:
    """The sharper rigorous rate of a finite population with an InnerNeuron, NaN otherwise:

    2 ξ̄ · (1/n) Σ_j |x_j|² · (|y_j| Lip σ' + sup|σ| Lip σ' + sup|σ'| Lip σ)
    (Lip ∇V, Lip₁ ∇₁U and Lip₂ ∇₁U with the data average in place of the worst point).
    """
    xi = check_real(xi_bound, "xi_bound", nonnegative=True)
    if not (isinstance(problem, FinitePopulation) and isinstance(neuron, InnerNeuron)):
        return math.nan
    act = neuron.activation
    x2 = np.sum(problem.X**2, axis=1)
    LV = float(np.mean(np.abs(problem.y) * x2)) * act.lipschitz_prime
    LU1 = act.sup_norm * act.lipschitz_prime * float(np.mean(x2))
    LU2 = act.sup_prime * act.lipschitz * float(np.mean(x2))
    return 2.0 * xi * (LV + LU1 + LU2)


# --------------------------------------------------------------------------------------------
# statistic and fits
# --------------------------------------------------------------------------------------------
def coupling_statistic(theta, theta_bar) -> np.ndarray:
    """S(T_j) = max_i max_{l ≤ j} ||θ_i^{(l)} − θ̄_i^{(l)}|| for arrays (R, J, N, D) -> (R, J)."""
    theta = check_array(theta, "theta", ndim=4)
    theta_bar = check_array(theta_bar, "theta_bar", ndim=4)
    if theta.shape != theta_bar.shape:
        raise InvalidArgument(f"`theta` {theta.shape} and `theta_bar` {theta_bar.shape} must have the same shape.")
    diff = theta - theta_bar
    scale = np.max(np.abs(diff), axis=-1, keepdims=True)  # scaled norm: no overflow for |diff| up to ~1e308
    safe = np.where(scale > 0, scale, 1.0)
    dist = (scale[..., 0] * np.sqrt(np.sum((diff / safe) ** 2, axis=-1))).max(axis=-1)
    return np.maximum.accumulate(dist, axis=1)


def _t_upper(estimate: float, bound: float, se: float, df: float) -> float:
    """P(t_df ≥ (estimate − bound)/se): one-sided p of H0 parameter ≤ bound."""
    if se > 0:
        return float(stats.t.sf((estimate - bound) / se, df))
    return 0.0 if estimate > bound else 1.0


def _cluster_ols(y, X, groups):
    """OLS with cluster-robust covariance: (params, standard errors, covariance).

    The standard errors are read from the covariance with round-off negatives clipped to 0
    (an exact fit, e.g. a deterministic growth, gives a covariance of order 1e-30).
    """
    model = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    cov = np.asarray(model.cov_params())
    return np.asarray(model.params, dtype=float), np.sqrt(np.clip(np.diag(cov), 0.0, None)), cov


def fit_growth(times, S, K_drift: float, exponent_bound: float | None = None) -> dict:
    """Fit log S(T) on T (rate) and on T, T² (curvature); test the rate of log(S/T) ≤ K_drift and curvature ≤ 0.

    With ``exponent_bound`` (λ_bound + MARGIN) also ``exponent``: the same slope of log(S(T)/T) against it,
    H0 K ≤ exponent_bound, with its one-sided upper 95 % bound (``upper``) for the evidence.

    ``times`` (J,) > 0, ``S`` (R, J) > 0 with R ≥ 3 replicates and J ≥ 4 prefixes. Returns
    plain dicts: ``envelope`` (the tested rate: slope of log(S(T)/T), pooled OLS, cluster-robust
    by replicate, t_{R−1}, with its p-value against K_drift), ``rate`` (the raw slope K̂ of
    log S, same inference, reported), ``rate_replicates``
    (mean of per-replicate slopes, t-interval), ``curvature``, ``net_of_onset`` (slope of
    log S − ½ log T) and ``onset_slope`` (OLS slope of ½ log T on the grid).
    """
    t = check_array(times, "times", ndim=1)
    S = check_array(S, "S", ndim=2)
    K_drift = check_real(K_drift, "K_drift", nonnegative=True)
    R, J = S.shape
    if t.shape[0] != J:
        raise InvalidArgument(f"`times` has {t.shape[0]} entries but `S` has {J} columns.")
    if np.any(t <= 0) or np.any(S <= 0):
        raise InvalidArgument("`times` and `S` must be > 0 (log S(T) on prefixes T > 0).")
    if R < 3 or J < 4:
        raise InvalidArgument(f"`S` needs at least 3 replicates and 4 prefixes, got shape {S.shape}.")
    L = np.log(S)
    y = L.ravel()
    tv = np.tile(t, R)
    g = np.repeat(np.arange(R), J)
    df = R - 1
    q = float(stats.t.ppf(0.975, df))

    params, bse, cov = _cluster_ols(y, sm.add_constant(tv), g)
    K_hat, se = float(params[1]), float(bse[1])
    rate = {
        "estimate": K_hat, "ci": [K_hat - q * se, K_hat + q * se], "se": se, "df": df,
        "intercept": float(params[0]), "cov": cov.tolist(),
        "p_value": _t_upper(K_hat, K_drift, se, df), "bound": K_drift,
    }

    slopes = np.polyfit(t, L.T, 1)[0]
    b_se = float(np.std(slopes, ddof=1) / math.sqrt(R))
    rate_rep = {"estimate": float(slopes.mean()), "ci": [float(slopes.mean() - q * b_se), float(slopes.mean() + q * b_se)],
                "se": b_se, "df": df, "p_value": _t_upper(float(slopes.mean()), K_drift, b_se, df)}

    tc = tv - t.mean()
    qparams, qbse, _ = _cluster_ols(y, np.stack([np.ones_like(tc), tc, tc**2], axis=1), g)
    c_hat, c_se = float(qparams[2]), float(qbse[2])
    curvature = {"estimate": c_hat, "ci": [c_hat - q * c_se, c_hat + q * c_se], "se": c_se, "df": df,
                 "params": [float(v) for v in qparams], "t_center": float(t.mean()),
                 "p_value": _t_upper(c_hat, 0.0, c_se, df)}

    nparams, nbse, _ = _cluster_ols(y - 0.5 * np.log(tv), sm.add_constant(tv), g)
    nb, nse = float(nparams[1]), float(nbse[1])
    onset = float(np.polyfit(t, 0.5 * np.log(t), 1)[0])
    eparams, ebse, _ = _cluster_ols(y - np.log(tv), sm.add_constant(tv), g)
    eb, ese = float(eparams[1]), float(ebse[1])
    envelope = {"estimate": eb, "ci": [eb - q * ese, eb + q * ese], "se": ese, "df": df,
                "p_value": _t_upper(eb, K_drift, ese, df), "bound": K_drift, "intercept": float(eparams[0])}
    out = {}
    if exponent_bound is not None:
        bound = check_real(exponent_bound, "exponent_bound")
        q1 = float(stats.t.ppf(EVIDENCE_LEVEL, df))
        out["exponent"] = {"estimate": eb, "bound": bound, "se": ese, "df": df, "p_value": _t_upper(eb, bound, ese, df),
                           "upper": eb + q1 * ese, "halfwidth": q1 * ese}
    return {**out, "rate": rate, "rate_replicates": rate_rep, "curvature": curvature, "envelope": envelope,
            "net_of_onset": {"estimate": nb, "ci": [nb - q * nse, nb + q * nse], "se": nse, "df": df},
            "onset_slope": onset}


def fit_against(x, S) -> dict:
    """Pooled OLS slope of log S on a regressor ``x`` (J,) shared by the R replicates of ``S`` (R, J),
    cluster-robust by replicate with t_{R−1}: the growth of the coupling per unit of cumulative exponent."""
    x = check_array(x, "x", ndim=1)
    S = check_array(S, "S", ndim=2)
    R, J = S.shape
    if x.shape[0] != J or R < 3 or J < 4 or np.any(S <= 0) or np.ptp(x) <= 0:
        raise InvalidArgument(f"`x` ({x.shape}) must vary and match `S` {S.shape} (≥ 3 replicates, ≥ 4 prefixes, S > 0).")
    params, bse, _ = _cluster_ols(np.log(S).ravel(), sm.add_constant(np.tile(x, R)), np.repeat(np.arange(R), J))
    q = float(stats.t.ppf(0.975, R - 1))
    b, se = float(params[1]), float(bse[1])
    return {"estimate": b, "ci": [b - q * se, b + q * se], "se": se, "df": R - 1, "intercept": float(params[0])}


# --------------------------------------------------------------------------------------------
# the check
# --------------------------------------------------------------------------------------------

def _median_ci(values) -> list[float]:
    """Distribution-free 95 % CI of the median from binomial order statistics (as :mod:`mfcheck.claims.fit`)."""
    v = np.sort(np.asarray(values, dtype=float))
    n = len(v)
    lo_k = int(stats.binom.ppf(0.025, n, 0.5))
    hi_k = int(min(n - 1, n - 1 - lo_k))
    return [float(v[max(lo_k - 1, 0)]), float(v[hi_k])]


def exponents(ex, sizes: dict, flow, streams: Streams) -> dict:
    """The exponents of the reference flow ``flow`` of experiment ``ex`` (horizon sizes["T_max"]):
    the frozen-law exponent and the log-norm bound on the flow's own 2^log2_M nodes at every record
    time, and λ_top (power iteration), λ_frozen and λ_upper on a flow of 2^lyapunov_log2_M nodes at
    each horizon of :data:`T_SWEEP` up to T_max and at T_max (:mod:`mfcheck.reference.lyapunov`)."""
    from mfcheck.reference import lyapunov as ly
    from mfcheck.reference.flow import solve_flow

    T_max = sizes["T_max"]
    nodes, weights = ly.reference_nodes(ex)
    path = ly.node_path(flow, ex.problem, ex.neuron, nodes, weights)
    frozen_ref = ly.frozen_exponents(path)
    mu_ref = ly.log_norms(path)
    cum_ref = np.concatenate([[0.0], np.cumsum(0.5 * (mu_ref[1:] + mu_ref[:-1]) * np.diff(path.times))])
    small_nodes, small_w = ly.reference_nodes(ex, sizes["lyapunov_log2_M"])
    small = solve_flow(ex.problem, ex.neuron, small_nodes, small_w, T=T_max, h=flow.h, record_dt=ex.record_dt, schedule=ex.schedule)
    horizons = sorted({float(T) for T in T_SWEEP if T <= T_max + 1e-12} | {float(T_max)})
    lyap = ly.lyapunov(small, ex.problem, ex.neuron, small_nodes, small_w, horizons, rng=streams.child("lyapunov").generator("init"))
    times = np.asarray(path.times, dtype=float)
    sweep = []
    for T in horizons:
        j = int(np.argmin(np.abs(times - T)))
        top = lyap.top[T]
        sweep.append({"T": T, "lambda_top": top["lambda_top"], "lambda_frozen_small": top["lambda_frozen"],
                      "lambda_frozen": float(max(frozen_ref[j] / T, top["lambda_frozen"])),
                      "lambda_upper": float(max(cum_ref[j] / T, top["lambda_upper"])),
                      "iterations": top["iterations"], "converged": top["converged"], "residual": top["residual"],
                      "sigma2_over_sigma1": top["sigma2_over_sigma1"]})
    last = sweep[-1]
    return {"times": times.tolist(), "frozen_log_growth": frozen_ref.tolist(), "log_norm": mu_ref.tolist(),
            "cumulative_log_norm": cum_ref.tolist(), "sweep": sweep, "small": lyap.as_dict(),
            "lambda_top": last["lambda_top"], "lambda_frozen": last["lambda_frozen"], "lambda_upper": last["lambda_upper"],
            "lambda_bound": float(max(last["lambda_top"], last["lambda_frozen"])),
            "nodes": {"reference": int(nodes.shape[0]), "power_iteration": int(small_nodes.shape[0])}}


def run(context: CheckContext) -> ClaimResult:
    """One SGD run per replicate to T_max, coupled to a reference built for that horizon; the exponents of
    that reference; fit and test."""
    from tqdm.auto import tqdm

    ex = context.experiment
    size = asdict(CLAIM.sizes_for(context))
    N, eps, R, T_max = size["N"], size["eps"], size["replicates"], size["T_max"]
    h = size["h"]
    per = ex.record_dt / h
    if abs(per - round(per)) > 1e-9 * per or round(per) < 1:
        h = ex.h  # the tier's step does not divide this experiment's record grid
    constants = ex.problem.require_theorem_1(ex.neuron)
    bounds = drift_lipschitz(constants, ex.schedule.bound)
    K_drift = bounds["K_drift"]
    K_pop = population_drift_lipschitz(ex.problem, ex.neuron, ex.schedule.bound)
    streams = Streams(ex.seed).child(NAME, N, int(round(1.0 / eps)))
    ref_ex = replace(ex, T=T_max, log2_M=size["log2_M"], h=h)
    details = {
        "sizes": {**size, "h": h, "record_dt": ex.record_dt},
        "update": context.rule.label,
        "constants": constants.as_dict(),
        "bounds": {**bounds, "K_population": K_pop},
        "seeds": {**streams.describe(), "reference": Streams(ex.seed).child("reference").describe()["spawn_key_prefix"],
                  "replicate_streams": "('init', r) and ('data', r) for r < replicates; ('lyapunov', 0) for the power iteration"},
        "resolution_ratio": RESOLUTION_RATIO,
        "margin": {"value": MARGIN, "seeds": list(MARGIN_SEEDS)},
        "float64_window": {"max_detectable_rate": FLOAT64_LOG_LIMIT / T_max, "K_drift_times_T_max": K_drift * T_max},
    }
    base = {"claim": NAME, "verdict": "unresolved", "alpha": math.nan, "tests": ()}

    with tqdm(total=4, desc=f"{NAME} [{context.tier.name}]", disable=not context.progress, leave=False) as bar:
        bar.set_postfix_str(f"reference T={T_max}, 2^{size['log2_M']} nodes")
        ref = build_reference(ref_ex)
        ref_err = float(ref.error["coupling"])
        details["reference"] = {"T_max": T_max, "log2_M": size["log2_M"], "h": h, "error": dict(ref.error)}
        bar.update()
        bar.set_postfix_str("Lyapunov exponents of the reference")
        try:
            lyap = exponents(ref_ex, {**size, "h": h}, ref.flow, streams)
        except InvalidArgument as exc:  # e.g. an activation without σ'': no tangent dynamics
            return ClaimResult(**base, unresolved=f"The exponent of the reference cannot be computed: {exc}", reference_error=ref_err,
                               details=details, estimates={"K_drift": {"estimate": K_drift, "ci": [K_drift, K_drift]}})
        details["lyapunov"] = lyap
        lam_bound = lyap["lambda_bound"]
        bound = lam_bound + MARGIN
        estimates = {
            "lambda_top": {"estimate": lyap["lambda_top"], "ci": [lyap["lambda_top"], lyap["lambda_upper"]],
                           "note": f"(1/T) log σ_1(Φ(0, T_max)), power iteration (a lower bound); interval up to λ_upper"},
            "lambda_frozen": {"estimate": lyap["lambda_frozen"], "ci": [lyap["lambda_frozen"]] * 2,
                              "note": "(1/T) max_m log σ_1(Φ_m(0, T_max)): one particle, law frozen"},
            "lambda_upper": {"estimate": lyap["lambda_upper"], "ci": [lyap["lambda_upper"]] * 2,
                             "note": "(1/T) ∫ max_m λ_max(−2ξ∇²Ψ): log-norm bound of λ_top"},
            _BOUND: {"estimate": bound, "ci": [bound, bound], "note": f"max(λ_top, λ_frozen) + δ, δ = {MARGIN:g}"},
        }
        bar.update()
        bar.set_postfix_str(f"SGD N={N}, eps={eps:.4g}, {R} replicates")
        try:
            with np.errstate(over="raise", invalid="raise"):
                sgd = run_sgd(ex.problem, ex.neuron, ex.rho0, context.rule, N=N, eps=eps, T=T_max, replicates=R, streams=streams,
                              record=StandardRecord(ex.record_dt), schedule=ex.schedule, init=context.init)
        except FloatingPointError as exc:
            details["overflow"] = str(exc)
            estimates["K_drift"] = {"estimate": K_drift, "ci": [K_drift, K_drift]}
            test = Test(f"{NAME}: rate of log(S(T)/T) ≤ λ_bound + δ = {bound:.3g} (H1 faster): SGD overflowed float64", 0.0,
                        statistic=_BOUND,
                        note=f"the SGD under test overflowed float64 before T_max={T_max} ({exc}): its coupling grew past "
                             f"e^{FLOAT64_LOG_LIMIT:.0f}, a rate above {FLOAT64_LOG_LIMIT / T_max:.0f}, which no SGD with bounded "
                             "increments reaches (p = 0)")
            return ClaimResult(claim=NAME, verdict="unresolved", alpha=math.nan, tests=(test,), reference_error=ref_err,
                               details=details, estimates=estimates)
        bar.update()
        bar.set_postfix_str("coupled particles")
        theta_bar = couple(ref.flow, ex.problem, ex.neuron, sgd.theta[:, 0])
        bar.update()

    S_all = coupling_statistic(sgd.theta, theta_bar)[:, 1:]
    times = sgd.times[1:]
    med = np.median(S_all, axis=0)
    resolved = np.all(S_all > 0, axis=0) & (ref_err <= RESOLUTION_RATIO * med)
    details["prefixes"] = [
        {"T": float(t), "median": float(m), "q10": float(np.quantile(S_all[:, j], 0.1)), "q90": float(np.quantile(S_all[:, j], 0.9)),
         "resolved": bool(r)}
        for j, (t, m, r) in enumerate(zip(times, med, resolved))
    ]
    details["S"] = S_all.tolist()
    details["times"] = times.tolist()
    estimates.update({"K_drift": {"estimate": K_drift, "ci": [K_drift, K_drift], "note": bounds["formula"]},
                      "S(T_max) median": {"estimate": float(med[-1]), "ci": _median_ci(S_all[:, -1]),
                                          "note": "distribution-free CI of the median (binomial order statistics)"}})
    n_res = int(resolved.sum())
    if n_res < MIN_PREFIXES:
        msg = (f"Only {n_res} of {len(times)} prefixes are resolved (reference coupling error {ref_err:.2e} > "
               f"{RESOLUTION_RATIO} × median S(T)); need {MIN_PREFIXES}: raise SIZES['{context.tier.name}'].log2_M.")
        return ClaimResult(**base, unresolved=msg, reference_error=ref_err, estimates=estimates, details=details)

    tr, Sr = times[resolved], S_all[:, resolved]
    fit = fit_growth(tr, Sr, K_drift, exponent_bound=bound)
    details["fit"] = fit
    details["resolved_from"] = float(tr[0])
    sweep = []
    for row in lyap["sweep"]:
        keep = tr <= row["T"] + 1e-12
        entry = dict(row, median_S=float(med[int(np.argmin(np.abs(times - row["T"])))]), prefixes=int(keep.sum()))
        if keep.sum() >= 4:
            f = fit_growth(tr[keep], Sr[:, keep], K_drift)
            entry.update(K_hat=f["rate"]["estimate"], K_hat_ci=f["rate"]["ci"], K_env=f["envelope"]["estimate"], K_env_ci=f["envelope"]["ci"])
        sweep.append(entry)
    details["sweep"] = sweep
    lyap_times = np.asarray(lyap["times"])
    idx = np.array([int(np.argmin(np.abs(lyap_times - t))) for t in tr])
    Lam = np.asarray(lyap["frozen_log_growth"])[idx]
    Cum = np.asarray(lyap["cumulative_log_norm"])[idx]
    against = {}
    for key, x in (("cumulative exponent Λ(T)", Lam), ("∫ μ̄", Cum)):
        try:
            against[key] = fit_against(x, Sr)
        except InvalidArgument:
            pass
    details["against"] = against
    r, envelope, expo = fit["rate"], fit["envelope"], fit["exponent"]
    estimates.update({
        _ENVELOPE: {"estimate": envelope["estimate"], "ci": envelope["ci"], "se": envelope["se"], "df": envelope["df"],
                    "bound": bound, "upper95": expo["upper"],
                    "note": "the tested rate K̂_env: OLS slope of log(S(T)/T) on T, cluster-robust by replicate"},
        "K_hat": {"estimate": r["estimate"], "ci": r["ci"], "se": r["se"], "df": r["df"],
                  "note": "OLS slope of log S(T) on T, cluster-robust by replicate"},
        "K_hat (replicate-level)": {"estimate": fit["rate_replicates"]["estimate"], "ci": fit["rate_replicates"]["ci"],
                                    "note": "mean of per-replicate slopes, t-interval"},
        "K_hat / K_drift": {"estimate": r["estimate"] / K_drift, "ci": [v / K_drift for v in r["ci"]]},
        _CURVATURE: {"estimate": fit["curvature"]["estimate"], "ci": fit["curvature"]["ci"],
                     "note": "log S = a + b(T−T̄) + c(T−T̄)²"},
        "slope of log S − ½ log T": {"estimate": fit["net_of_onset"]["estimate"], "ci": fit["net_of_onset"]["ci"],
                                    "note": f"growth beyond the √T martingale onset (onset slope {fit['onset_slope']:.3g})"},
        **{f"slope of log S on {k}": {"estimate": v["estimate"], "ci": v["ci"], "note": "per unit of cumulative exponent (reported)"}
           for k, v in against.items()},
        "K_structural": {"estimate": bounds["K_structural"], "ci": [bounds["K_structural"]] * 2, "note": "not tested"},
        "K_population": {"estimate": K_pop, "ci": [K_pop, K_pop], "note": "not tested"},
    })
    first = (_ENVELOPE, _BOUND, "lambda_top", "lambda_frozen", "K_hat", _CURVATURE, "K_drift", "K_hat / K_drift")
    estimates = {**{k: estimates[k] for k in first}, **{k: v for k, v in estimates.items() if k not in first}}
    window_empty = K_drift >= FLOAT64_LOG_LIMIT / T_max
    tests = (
        Test(f"{NAME}: rate of log(S(T)/T) ≤ λ_bound + δ = {bound:.3g} (H1 K > λ_bound + δ)", expo["p_value"], statistic=_ENVELOPE),
        Test(f"{NAME}: log S(T) at most linear in T (H1 curvature c > 0)", fit["curvature"]["p_value"], statistic=_CURVATURE),
        Test(f"{NAME}: rate of log(S(T)/T) ≤ K_drift = {K_drift:.4g} (H1 K > K_drift)", envelope["p_value"], statistic=_ENVELOPE,
             counted=not window_empty,
             note=(f"no power: a rate above K_drift overflows float64 before T_max = {T_max:g} (K_drift·T_max = "
                   f"{K_drift * T_max:.0f} > {FLOAT64_LOG_LIMIT:.0f}); the theorem's own constant, reported") if window_empty else ""),
    )
    halfwidth, room = expo["halfwidth"], bound - envelope["estimate"]
    holds = bool(expo["upper"] <= bound)
    evidence = (Evidence(f"upper {EVIDENCE_LEVEL:.0%} bound of K̂_env {expo['upper']:.3g} ≤ λ_bound + δ = {bound:.3g}", holds=holds,
                         estimate=envelope["estimate"], bound=expo["upper"], threshold=bound),)
    replicates = R if holds else replicates_to_clear(R, halfwidth, room)
    return ClaimResult(claim=NAME, verdict="unresolved", alpha=math.nan, tests=tests, reference_error=ref_err, evidence=evidence,
                       replicates=replicates, estimates=estimates, details=details)


def power(result: ClaimResult, level: float) -> dict | None:
    """The power of the two counted tests at ``level`` against a coupling that outgrows the bound by
    the bound's own rate (module docstring, "Power"); None when the run fitted nothing (too few
    resolved prefixes, or an overflow, which is itself a rejection)."""
    fit = result.details.get("fit")
    if fit is None:
        return None
    bound = fit["exponent"]["bound"]
    shift = max(bound, MARGIN)
    fitted = [p["T"] for p in result.details["prefixes"] if p["resolved"]]
    span = fitted[-1] - fitted[0]
    rate, curvature = result.tests[0], result.tests[1]
    return {"test_power": {rate.name: t_test_power(shift, fit["exponent"]["se"], fit["exponent"]["df"], level),
                           curvature.name: t_test_power(shift / (2 * span), fit["curvature"]["se"], fit["curvature"]["df"], level)},
            "level": level, "power_floor": POWER_FLOOR,
            "against": f"a growth faster than the bound by its own rate Δ = {shift:.3g} (rate +Δ; local rate rising by Δ over "
                       f"T ∈ [{fitted[0]:g}, {fitted[-1]:g}]), noncentral t at the run's se"}


def measure_margin(seeds=MARGIN_SEEDS, tier: str = "ci") -> dict:
    """The fit's resolution behind :data:`MARGIN`: the one-sided 95 % half-width t_{0.95, R−1}·se of K̂_env
    of a correct SGD at ``tier``, per experiment seed (``seeds``: none a test or a report runs on)."""
    from mfcheck.claims.tiers import get_tier
    from mfcheck.model.experiment import default_experiment

    t = get_tier(tier)
    rows = []
    for seed in seeds:
        r = run(CheckContext(experiment=default_experiment(seed=int(seed), log2_M=t.log2_M), tier=t, reference=None))
        f = r.details["fit"]
        rows.append({"seed": int(seed), "halfwidth": f["exponent"]["halfwidth"], "K_env": f["envelope"]["estimate"],
                     "lambda_bound": r.details["lyapunov"]["lambda_bound"]})
    return {"rows": rows, "max_halfwidth": max(r["halfwidth"] for r in rows)}


CLAIM = Check(
    name=NAME, title=TITLE, order=32, sizes=SIZES, parts=frozenset({"step", "init"}), reads_reference=False,
    statement="S(T) = max_i sup_{kε ≤ T} ||θ_i^k − θ̄_i^{kε}|| grows no faster than e^{(λ_bound + δ) T} "
              "(λ_bound = max(λ_top, λ_frozen) of the reference's linearised flow), "
              "beside the theorem's a(T) e^{K_drift T}, K_drift = 2 sup ξ · (Lip ∇V + Lip₁ ∇₁U + Lip₂ ∇₁U)",
    test_count=2,  # rate ≤ λ_bound + δ, no curvature (rate ≤ K_drift is reported, and counted only where K_drift·T_max stays in float64)
    alternative=f"weight decay of the wrong sign, λ = {UNSTABLE_DECAY:g} (an unstable drift +2λθ)",
    inject=lambda c: replace(c, rule=Rule(f"anti_weight_decay_{UNSTABLE_DECAY:g}", AntiWeightDecay(UNSTABLE_DECAY))), compute=run,
    power=power,
)
