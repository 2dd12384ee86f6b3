"""Term E2 of the coupling lemma closed by Gronwall: the coupling grows at most like e^{K_drift T}.

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
``schedule.bound``. This generic form is the one tested. For an InnerNeuron on a finite
population, ``grad_U_lipschitz`` is sup|σ|·Lip(σ')·max|x|² + (sup|σ'|·max|x|)², which is exactly
Lip₁ + Lip₂, so 2ξ̄(grad_V_lipschitz + grad_U_lipschitz) is also a valid rate; replacing max|x|²
by the population average (1/n) Σ_j |x_j|² (and sup|y| by |y_j| inside the average) gives a
third, sharper rigorous rate. Both are reported, not tested.

**Tests** (one-sided, H0 "the claim holds"; raw p-values, Holm in :func:`mfcheck.stats.results.decide`),
on the prefixes T ≥ record_dt that the reference resolves (its coupling error at most
``RESOLUTION_RATIO`` × the median S(T)):

1. *Rate.* The OLS slope of log(S(T)/T) on T, all replicates pooled; H0: K ≤ K_drift,
   H1: K > K_drift; p = P(t_{R−1} ≥ (slope − K_drift)/se). The slope is that of log(S(T)/T),
   not of log S, because the prefactor a(T) grows too (E1 ∝ εT, E3 ∝ sqrt(εT)): a(T)/T is
   non-increasing for both shapes, so S(T) ≤ a(T) e^{KT} implies that log(S(T)/T) grows at rate
   at most K, whereas the slope of log S also carries the onset of a(T), which can exceed a weak
   drift's K_drift on its own. Standard errors are cluster-robust by replicate with t inference
   on R − 1 df: the prefixes of one replicate are strongly dependent (S is a running maximum of
   one path), so HC3, which treats them as independent observations, understates the standard
   error; replicates are independent, so clustering by replicate is valid. (With the same time
   grid in every replicate the pooled slope equals the mean of the per-replicate slopes, whose
   t-interval is reported as a cross-check, as is the raw slope K̂ of log S.)
2. *At most exponential.* Pooled OLS of log S(T) = a + b (T − T̄) + c (T − T̄)², same
   cluster-robust errors; H0: c ≤ 0 (log S is linear or concave in T), H1: c > 0 (the local
   growth rate increases: super-exponential growth). p = P(t_{R−1} ≥ ĉ/se). A quadratic term
   rather than local slopes over T windows: it is one test (no multiplicity), uses every
   prefix, and a smooth acceleration of the rate is what a super-exponential blow-up looks like
   on a finite horizon.

**False-alarm rate.** Each test has level α at the boundary of its null (K = K_drift, c = 0),
up to the t_{R−1} approximation of the cluster-robust statistic; Holm over all tests of a
verification keeps the family-wise rate ≤ α. Two caveats: (1) test 1 removes the steepest
admissible onset (a ∝ T), twice the slope of the martingale's ½ log T (reported as
``onset_slope``), so for a correct SGD it errs on the side of passing; (2) test 2 tests the §7
shape "log-error at most linear in T", which is stronger than the Gronwall inequality (a bound
a(T)e^{KT} allows a convex log S on a finite horizon, e.g. a flow that crosses an unstable
region mid-run), so it could fail a correct SGD on such a flow; the fitted curvature of the
default experiment is in ``reports/gronwall/report.md``.

**How loose the bound is, and the horizon.** K_drift bounds the worst case of the oracle
constants; the coupling of a correct SGD is dominated by the martingale onset and then
saturates (K̂/K_drift and the slope of log S − ½ log T are in ``reports/gronwall/report.md``).
Because e^{K_drift T} is astronomically large, the rate test can only be violated by growth
that approaches float64 overflow: SGD raises (non-finite particles) once |<θ, x>|² overflows,
i.e. |<θ, x>| ≳ e^{354} (``FLOAT64_LOG_LIMIT``), so a rate K is observable on [0, T_max] only if
K · T_max ≲ 354. The window of detectable rates is (K_drift, 354/T_max); with K_drift ≈ 105 on
:func:`mfcheck.model.experiment.default_experiment` it is (105, ≈ 177) for T_max = 2 and empty for
T_max ≳ 3.4, which is why ``T_max`` = 2 at every tier. A run that overflows is reported
*unresolved* (knob: ``SIZES[tier]['T_max']``).

**Broken rule.** With bounded σ' (assumption A2) every SGD increment is bounded,
||Δθ|| ≤ 2 s_k (sup|y| + sup|ŷ|) sup||∇σ*||, so any bug that changes only the gradient term or the
step size (missing factor 2, NTK output scaling, a step size growing with k) moves particles at
most linearly in the elapsed step sum: it cannot produce exponential growth, let alone a rate
above K_drift. Such bugs are left to the Theorem 1 rate claims (the coupling does not shrink
along N ↑, ε ↓). Only a multiplicative term can, e.g. weight decay with the wrong sign:
``anti_weight_decay`` (:mod:`mfcheck.dynamics.broken`) is θ ← e^{+2λs} θ + (mean-field step) (the exact decay factor
e^{−2λs} with its sign flipped), with λ = ``ANTI_DECAY`` = 60 (:mod:`mfcheck.dynamics.broken`), rate 2λ = 120 > K_drift. That
coefficient is not plausible (practical weight decay is 1e-4–1e-1); it is the smallest bug of
this kind the bound can see. A finite-time blow-up is convex in log S only in its last steps
before overflow, so the curvature test sees it only when those steps fall inside the horizon
and the run has not overflowed yet.

`mfcheck calibrate gronwall` measures the power against λ = ``ANTI_DECAY``.
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
from mfcheck.claims.fit import RESOLUTION_RATIO
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems.base import TheoremConstants
from mfcheck.model.problems.finite import FinitePopulation
from mfcheck.reference import build_reference, couple
from mfcheck.stats.results import ClaimResult, Test
from mfcheck.seeds import Streams
from mfcheck.dynamics.broken import BROKEN
from mfcheck.dynamics.sgd import StandardRecord, run_sgd

__all__ = [
    "NAME", "TITLE", "SIZES", "Sizes", "MIN_PREFIXES", "CLAIM",
    "drift_lipschitz", "population_drift_lipschitz",
    "coupling_statistic", "fit_growth", "run",
]

NAME = "gronwall"
TITLE = "Gronwall: the coupling S(T) grows at most like e^{K T}"
_ENVELOPE = "rate of log(S(T)/T)"
_CURVATURE = "curvature c"
"""The estimates tests 1 and 2 judge (each test's ``statistic``): the slope of log(S(T)/T), not K̂
(the slope of log S, which carries the onset of a(T)), and the curvature."""



@dataclass(frozen=True)
class Sizes:
    """``N``, ``eps``, ``replicates``, horizon ``T_max``, and the reference built for that horizon
    (2^log2_M Sobol nodes, RK4 step h; refined with h/2 and twice the nodes to measure its error)."""

    N: int
    eps: float
    replicates: int
    T_max: float
    log2_M: int
    h: float


SIZES = {
    "smoke": Sizes(N=64, eps=1 / 64, replicates=8, T_max=2.0, log2_M=9, h=1 / 16),
    "ci": Sizes(N=256, eps=1 / 256, replicates=20, T_max=2.0, log2_M=11, h=1 / 16),
    "full": Sizes(N=1024, eps=1 / 1024, replicates=32, T_max=2.0, log2_M=12, h=1 / 32),
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


def fit_growth(times, S, K_drift: float) -> dict:
    """Fit log S(T) on T (rate) and on T, T² (curvature); test the rate of log(S/T) ≤ K_drift and curvature ≤ 0.

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
                "p_value": _t_upper(eb, K_drift, ese, df), "bound": K_drift}
    return {"rate": rate, "rate_replicates": rate_rep, "curvature": curvature, "envelope": envelope,
            "net_of_onset": {"estimate": nb, "ci": [nb - q * nse, nb + q * nse], "se": nse, "df": df},
            "onset_slope": onset}


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


def run(context: CheckContext) -> ClaimResult:
    """One SGD run per replicate to T_max, coupled to a reference built for that horizon; fit and test."""
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
                  "replicate_streams": "('init', r) and ('data', r) for r < replicates"},
        "resolution_ratio": RESOLUTION_RATIO,
        "float64_window": {"max_detectable_rate": FLOAT64_LOG_LIMIT / T_max, "K_drift_times_T_max": K_drift * T_max},
    }
    base = {"claim": NAME, "verdict": "unresolved", "alpha": math.nan, "tests": ()}

    with tqdm(total=3, desc=f"{NAME} [{context.tier.name}]", disable=not context.progress, leave=False) as bar:
        bar.set_postfix_str(f"reference T={T_max}, 2^{size['log2_M']} nodes")
        ref = build_reference(ref_ex)
        ref_err = float(ref.error["coupling"])
        details["reference"] = {"T_max": T_max, "log2_M": size["log2_M"], "h": h, "error": dict(ref.error)}
        bar.update()
        bar.set_postfix_str(f"SGD N={N}, eps={eps:.4g}, {R} replicates")
        try:
            with np.errstate(over="raise", invalid="raise"):
                sgd = run_sgd(ex.problem, ex.neuron, ex.rho0, context.rule, N=N, eps=eps, T=T_max, replicates=R, streams=streams,
                              record=StandardRecord(ex.record_dt), schedule=ex.schedule, init=context.init)
        except FloatingPointError as exc:
            details["overflow"] = str(exc)
            msg = (f"The SGD under test overflowed float64 before T_max={T_max} ({exc}). Its coupling grew past "
                   f"e^{FLOAT64_LOG_LIMIT:.0f}, but e^(K_drift·T_max) = e^{K_drift * T_max:.0f} allows that, so the rate "
                   f"cannot be judged on this horizon: lower SIZES['{context.tier.name}'].T_max.")
            return ClaimResult(**base, unresolved=msg, reference_error=ref_err, details=details,
                               estimates={"K_drift": {"estimate": K_drift, "ci": [K_drift, K_drift]}})
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
    estimates = {"K_drift": {"estimate": K_drift, "ci": [K_drift, K_drift], "note": bounds["formula"]},
                 "S(T_max) median": {"estimate": float(med[-1]), "ci": _median_ci(S_all[:, -1]),
                                     "note": "distribution-free CI of the median (binomial order statistics)"}}
    n_res = int(resolved.sum())
    if n_res < MIN_PREFIXES:
        msg = (f"Only {n_res} of {len(times)} prefixes are resolved (reference coupling error {ref_err:.2e} > "
               f"{RESOLUTION_RATIO} × median S(T)); need {MIN_PREFIXES}: raise SIZES['{context.tier.name}'].log2_M.")
        return ClaimResult(**base, unresolved=msg, reference_error=ref_err, estimates=estimates, details=details)

    fit = fit_growth(times[resolved], S_all[:, resolved], K_drift)
    details["fit"] = fit
    details["resolved_from"] = float(times[resolved][0])
    r, envelope = fit["rate"], fit["envelope"]
    estimates.update({
        _ENVELOPE: {"estimate": envelope["estimate"], "ci": envelope["ci"], "se": envelope["se"], "df": envelope["df"],
                    "bound": K_drift, "note": "the tested rate: OLS slope of log(S(T)/T) on T, cluster-robust by replicate"},
        "K_hat": {"estimate": r["estimate"], "ci": r["ci"], "se": r["se"], "df": r["df"],
                  "note": "OLS slope of log S(T) on T, cluster-robust by replicate"},
        "K_hat (replicate-level)": {"estimate": fit["rate_replicates"]["estimate"], "ci": fit["rate_replicates"]["ci"],
                                    "note": "mean of per-replicate slopes, t-interval"},
        "K_hat / K_drift": {"estimate": r["estimate"] / K_drift, "ci": [v / K_drift for v in r["ci"]]},
        _CURVATURE: {"estimate": fit["curvature"]["estimate"], "ci": fit["curvature"]["ci"],
                     "note": "log S = a + b(T−T̄) + c(T−T̄)²"},
        "slope of log S − ½ log T": {"estimate": fit["net_of_onset"]["estimate"], "ci": fit["net_of_onset"]["ci"],
                                    "note": f"growth beyond the √T martingale onset (onset slope {fit['onset_slope']:.3g})"},
        "K_structural": {"estimate": bounds["K_structural"], "ci": [bounds["K_structural"]] * 2, "note": "not tested"},
        "K_population": {"estimate": K_pop, "ci": [K_pop, K_pop], "note": "not tested"},
    })
    first = (_ENVELOPE, "K_hat", "K_hat / K_drift", _CURVATURE)
    estimates = {**{k: estimates[k] for k in first}, **{k: v for k, v in estimates.items() if k not in first}}
    tests = (
        Test(f"{NAME}: rate of log(S(T)/T) ≤ K_drift = {K_drift:.4g} (H1 K > K_drift)", envelope["p_value"], statistic=_ENVELOPE),
        Test(f"{NAME}: log S(T) at most linear in T (H1 curvature c > 0)", fit["curvature"]["p_value"], statistic=_CURVATURE),
    )
    return ClaimResult(claim=NAME, verdict="unresolved", alpha=math.nan, tests=tests, reference_error=ref_err,
                       estimates=estimates, details=details)


CLAIM = Check(
    name=NAME, title=TITLE, order=32, sizes=SIZES, parts=frozenset({"step", "init"}), reads_reference=False,
    statement="S(T) = max_i sup_{kε ≤ T} ||θ_i^k − θ̄_i^{kε}|| ≤ a(T) · e^{K_drift T}, "
              "K_drift = 2 sup ξ · (Lip ∇V + Lip₁ ∇₁U + Lip₂ ∇₁U)",
    test_count=2,  # rate ≤ K_drift, no curvature
    alternative="weight decay of the wrong sign, λ = 60", inject=lambda c: replace(c, rule=BROKEN["anti_weight_decay"].rule), compute=run,
)
