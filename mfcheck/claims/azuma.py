"""Term E3 of the coupling lemma: the martingale part of SGD and the Azuma–Hoeffding bound.

docs/theory.md §2 and §4. One-pass SGD is an *unbiased noisy Euler scheme*: with
Δθ_i^k = θ_i^{k+1} − θ_i^k and F_k the past (θ^0, z_0, …, z_{k−1}),

    E[Δθ_i^k | F_k] = −2 s_k ∇_θ Ψ(θ_i^k; ρ̂^{N,k})        exactly,  s_k = ε ξ(kε).

For a finite population ∇Ψ is an exact sum (``problem.grad_Psi_of_prediction`` at
``problem.predict``), so the martingale part of every particle is computed exactly:

    M_i^k = Σ_{l<k} [Δθ_i^l + 2 s_l ∇_θ Ψ(θ_i^l; ρ̂^{N,l})].

**Bounded increments.** ||Δθ_i^l|| ≤ c_l := 2 s_l B with B = (sup|y| + sup|σ*|) · sup||∇_θσ*||
(``problem.constants(neuron)``). Each coordinate of the increment M_i^{l+1} − M_i^l lies in an
interval of length 2 c_l whose position is F_l-measurable, so by Hoeffding's lemma and
Azuma–Hoeffding, for every particle i, coordinate a, step k and u ≥ 0:

    P(|M_{i,a}^k| ≥ u) ≤ 2 exp(−u² / (2 Σ_{l<k} c_l²)),   Σ_{l<k} c_l² = 4 B² Σ_{l<k} s_l²  (= 4 B² ε t for ξ ≡ 1, t = kε).

So M is sub-Gaussian with variance proxy σ_A² = Σ c_l², and its scale grows like
sqrt(Σ s_l²) = sqrt(εt): E[M_{i,a}^k ²] = Σ_{l<k} s_l² E[v_l] with v_l the conditional variance
of Δθ/s, bounded by 4B².

**Claims and tests** (each one-sided, H0 "the claim holds"; raw p-values, Holm in ``decide``):

(a) *Azuma tail.* Per replicate one observation Z = M_{i,a}^k / σ_A(k), with the particle i,
    coordinate a and record time k fixed by the replicate index (so the observations of all
    replicates and all ε are independent). For z in ``Z_GRID`` the pooled count of |Z| ≥ z is
    tested against 2 exp(−z²/2) (exact binomial, H1: frequency > bound; Clopper–Pearson 95 %).
(b) *Scale.* For each replicate and record time, RMS_r(t) = sqrt(mean_{i,a} (M_{i,a}^{t/ε})²).
    OLS (cluster-robust by replicate, t inference with #clusters − 1 df) of log RMS on
    log Σ_{l<k} s_l² (= log εt): predicted exponent 1/2.
    - *pooled exponent* over the grid ε × t: reported, not tested. It mixes the exponents in ε
      and in t with weights set by the design, and E M² = ε ∫ ξ² E v dt grows faster than εt when
      the gradient noise v rises along the run, so a test of it could fail a correct SGD; the
      theorem bounds M by the Azuma proxy, tested in (a).
    - *ε exponent* from log RMS = a + b_ε log ε + b_t log(Σ s_l²/ε) + c ε (c: the O(ε) weak
      error of E v, a nuisance; see :func:`fit_scale`): H1 b_ε < 1/2, i.e.
      RMS / sqrt(εt) grows along the limit ε ↓ (docs/methods.md, "Upper bounds are tested one-sidedly": an upper bound fails when the ratio
      grows along the limit). This is the sharp part of the claim: at fixed T,
      E M² = ε ∫_0^T ξ² E v dt (1 + O(ε)); the sweep starts at ε = 1/16 to keep the O(ε) part
      small. b_t is reported: for a correct SGD it is ≤ 1/2 when the gradient noise v_l
      decreases along the run, and it is only bounded, not pinned, by theory.
The scale σ̂(ε, t) = sqrt(mean over replicates of mean_{i,a} M²) (t-interval on the
replicate mean squares) is reported beside σ_A: the standard deviation is a lower bound of any
sub-Gaussian variance proxy, so σ_A / σ̂ says how loose Azuma's proxy is.

**Broken rules** (:data:`mfcheck.dynamics.broken.BROKEN`): ``sqrt_step`` (s replaced by sqrt(s): the step is
not scaled by ε) and ``extra_noise`` (noise τ sqrt(s) g left on in a noiseless run,
i.e. noisy SGD with c/β = τ² = 1/4). Both leave a martingale that does not shrink with ε, which
the ε-exponent test sees.

**False-alarm rate and power.** The tail tests are exact binomial tests, the exponent test a
cluster-robust t test (asymptotic). The tail tests enter the family as one test (the smallest
p-value over z times their number, Bonferroni); Holm over the tests of a verification keeps the
family-wise false-alarm rate ≤ α. Azuma's proxy uses the worst-case bound B, so it is loose
(σ_A / σ̂ is in ``reports/azuma/report.md``): the tail tests can only reject a rule whose
martingale reaches the Azuma scale itself, and a rule that merely fails to shrink with ε does
not; such rules are rejected by the ε-exponent test. The tail test's power in the run is computed
against a martingale twice Azuma's proxy (the run's Z rescaled to root mean square 2,
:func:`power`), the ε-exponent test's against an exponent short by 0.4, the largest deficit the
rate claims inject (noncentral t at the run's own standard error); below the power floor a test
is reported but not counted in the Holm family.

`mfcheck calibrate azuma` measures the power of the ε-exponent test against ``sqrt_step``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import ClassVar

import numpy as np
import statsmodels.api as sm
from scipy import stats

from mfcheck._validation import check_real
from mfcheck.claims.base import Check, CheckContext
from mfcheck.claims.injection import DEFICITS, POWER_FLOOR, TAIL_VIOLATION, violating
from mfcheck.errors import InvalidArgument, OutsideAssumptions
from mfcheck.model.neurons import Neuron
from mfcheck.model.problems.base import Problem
from mfcheck.reference import field as population_field
from mfcheck.stats.power import grid_power, t_test_power
from mfcheck.stats.results import ClaimResult, Test, combined
from mfcheck.seeds import Streams
from mfcheck.dynamics.broken import BROKEN
from mfcheck.dynamics.sgd import Run, check_finite_particles, run_sgd

__all__ = [
    "CLAIM", "SIZES", "Sizes", "Z_GRID", "PREDICTED_EXPONENT", "MartingaleRun", "azuma_increment_bound", "azuma_proxy",
    "azuma_tail", "MartingaleRecord", "tail_observations", "tail_tests", "rms_table", "fit_scale", "subgaussian_scales",
    "run", "power",
]

NAME = "azuma"
TITLE = "Term E3: the SGD martingale is sub-Gaussian (Azuma–Hoeffding) with scale ∝ sqrt(εT)"
PREDICTED_EXPONENT = 0.5
TAIL = "Azuma tail"
"""The name of the combined tail test."""
Z_GRID = (1.5, 2.0, 2.5, 3.0)



@dataclass(frozen=True)
class Sizes:
    """``N`` particles (small: ∇Ψ is needed at every step), ``replicates`` per ε, the ε grid ``eps``,
    the record ``times`` at which M is observed (multiples of the experiment's record_dt; the last is T)."""

    N: int
    replicates: int
    eps: tuple[float, ...]
    times: tuple[float, ...]


SIZES = {
    "smoke": Sizes(N=32, replicates=48, eps=(1 / 16, 1 / 32, 1 / 64, 1 / 128), times=(0.25, 0.5, 1.0)),
    "ci": Sizes(N=64, replicates=96, eps=(1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256), times=(0.125, 0.25, 0.5, 1.0)),
    "full": Sizes(N=128, replicates=256, eps=(1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256, 1 / 512), times=(0.125, 0.25, 0.5, 1.0)),
}


# -- the bound ---------------------------------------------------------------------------------


def azuma_increment_bound(problem: Problem, neuron: Neuron) -> float:
    """B = (sup|y| + sup|σ*|) · sup||∇_θ σ*||, so that ||Δθ_i^k|| ≤ 2 s_k B (docs/theory.md §2, A2)."""
    c = problem.constants(neuron)
    B = (c.y_bound + c.sigma_star_bound) * c.grad_sigma_star_bound
    if not math.isfinite(B):
        raise OutsideAssumptions(f"Azuma needs bounded SGD increments: (sup|y| + sup|σ*|)·sup||∇σ*|| is {B} for {neuron!r} on {problem!r} (A2).")
    return float(B)


def azuma_proxy(step_sizes, B: float) -> np.ndarray:
    """σ_A(k) = sqrt(Σ_{l<k} c_l²), c_l = 2 s_l B, for k = 0..len(step_sizes): the cumulative proxy."""
    s = np.asarray(step_sizes, dtype=np.float64)
    if s.ndim != 1 or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise InvalidArgument(f"`step_sizes` must be a 1-D array of finite s_l >= 0, got shape {s.shape}.")
    B = check_real(B, "B", positive=True)
    return np.sqrt(np.concatenate([[0.0], np.cumsum((2.0 * B * s) ** 2)]))


def azuma_tail(z) -> np.ndarray:
    """The Azuma–Hoeffding tail in units of the proxy: P(|M| ≥ z σ_A) ≤ min(1, 2 exp(−z²/2))."""
    z = np.asarray(z, dtype=np.float64)
    if not np.all(np.isfinite(z)) or np.any(z < 0):
        raise InvalidArgument(f"`z` must be finite and >= 0, got {z!r}.")
    return np.minimum(1.0, 2.0 * np.exp(-0.5 * z**2))


# -- the martingale record of an SGD run ------------------------------------------------------------


@dataclass(frozen=True)
class MartingaleRun:
    """One SGD run (R replicates, N particles) with the martingale part of every particle.

    - ``times`` (J,), ``steps`` (J,): record times t_j = k_j ε and steps k_j (``times[0] = 0``).
    - ``M`` (R, J, N, D): M_i^{k_j} = Σ_{l<k_j} [Δθ_i^l + 2 s_l ∇Ψ(θ_i^l; ρ̂^{N,l})].
    - ``theta`` (R, J, N, D): θ^{k_j} (equal to the standard record's for the same streams and backend "numpy").
    - ``sum_s2`` (J,): Σ_{l<k_j} s_l² (= ε t_j for ξ ≡ 1);  ``proxy`` (J,): σ_A = 2B sqrt(sum_s2).
    - ``drift_mismatch`` (J,): on replicate 0, max_{i,a} |mean over the population of the rule's
      increment + 2 s ∇Ψ| / (2 s B) at each record time before the last: 0 up to rounding for an
      unbiased deterministic rule (finite populations only; NaN otherwise).
    """

    times: np.ndarray
    steps: np.ndarray
    M: np.ndarray
    theta: np.ndarray
    sum_s2: np.ndarray
    proxy: np.ndarray
    drift_mismatch: np.ndarray
    N: int
    eps: float
    B: float


def _grad_Psi(problem, neuron, Theta) -> np.ndarray:
    return population_field.grad_Psi(problem, neuron, Theta, population_field.predict(problem, neuron, Theta))


def _drift_mismatch(problem, neuron, rule, Theta1, s, B) -> float:
    """Exact conditional mean of one increment of the rule's (noiseless) step (average over the n population points) vs −2s∇Ψ."""
    X = getattr(problem, "X", None)
    y = getattr(problem, "y", None)
    if X is None or y is None or s <= 0:
        return math.nan
    batch = np.broadcast_to(Theta1, (X.shape[0],) + Theta1.shape)
    mean_inc = (np.asarray(rule.step(batch, X, y, s, neuron)) - Theta1).mean(axis=0)
    return float(np.max(np.abs(mean_inc + 2.0 * s * _grad_Psi(problem, neuron, Theta1))) / (2.0 * s * B))


@dataclass(frozen=True)
class MartingaleRecord:
    """The martingale record of :func:`mfcheck.dynamics.sgd.run_sgd` (a :class:`MartingaleRun`): every
    step adds Δθ_i^k + 2 s_k ∇Ψ(θ_i^k; ρ̂^{N,k}) to M_i (the exact compensator), and M, θ, Σ s² and the
    drift mismatch are kept every ``dt``. The problem must give ∇Ψ exactly (``predict`` and
    ``grad_Psi_of_prediction``, e.g. a :class:`~mfcheck.model.problems.finite.FinitePopulation`)."""

    dt: float
    every_step: ClassVar[bool] = True

    def start(self, run: Run) -> _MartingaleRecorder:
        if not (hasattr(run.problem, "predict") and hasattr(run.problem, "grad_Psi_of_prediction")):
            raise InvalidArgument(f"`problem` must give ∇Ψ exactly (predict and grad_Psi_of_prediction, e.g. a FinitePopulation); got {run.problem!r}.")
        return _MartingaleRecorder(run)


class _MartingaleRecorder:
    def __init__(self, run: Run):
        self.run = run
        self.B = azuma_increment_bound(run.problem, run.neuron)
        eps, schedule, n_steps = run.eps, run.schedule, int(run.steps[-1])
        s_all = np.array([eps * float(schedule(k * eps)) for k in range(n_steps)])
        if not np.all(np.isfinite(s_all)) or np.any(s_all < 0):
            raise InvalidArgument(f"`schedule` must give finite ξ >= 0 on [0, T]; got a step size {s_all[~(np.isfinite(s_all) & (s_all >= 0))][0]!r}.")
        self.s_all = s_all
        self.M = np.zeros(run.shape)
        self.M_rec = np.empty((run.shape[0], len(run.steps)) + run.shape[1:])
        self.theta = np.empty_like(self.M_rec)
        self.mismatch = np.full(len(run.steps), math.nan)

    def record(self, j: int, k: int, Theta: np.ndarray) -> None:
        run = self.run
        check_finite_particles(Theta, k, run.shape[1], run.eps)
        check_finite_particles(self.M, k, run.shape[1], run.eps)
        self.M_rec[:, j] = self.M
        self.theta[:, j] = Theta
        if k < len(self.s_all):
            self.mismatch[j] = _drift_mismatch(run.problem, run.neuron, run.rule, Theta[0], float(self.s_all[k]), self.B)

    def step(self, k: int, s: float, Theta: np.ndarray, new: np.ndarray) -> None:
        self.M += (new - Theta) + 2.0 * s * _grad_Psi(self.run.problem, self.run.neuron, Theta)

    def result(self) -> MartingaleRun:
        run = self.run
        sum_s2 = np.concatenate([[0.0], np.cumsum(self.s_all**2)])[run.steps]
        return MartingaleRun(
            times=run.steps * run.eps, steps=run.steps, M=self.M_rec, theta=self.theta, sum_s2=sum_s2,
            proxy=2.0 * self.B * np.sqrt(sum_s2), drift_mismatch=self.mismatch, N=run.shape[1], eps=run.eps, B=self.B,
        )


# -- (a) the tail ----------------------------------------------------------------------------------


def _pick(r: int, N: int, D: int, n_times: int) -> tuple[int, int, int]:
    """(record-time index among the positive times, particle, coordinate) observed in replicate r."""
    return (r // D) % n_times, (r * 7919 + 13) % N, r % D


def tail_observations(run: MartingaleRun, time_index: np.ndarray) -> np.ndarray:
    """One Z = M_{i,a}^{k} / σ_A(k) per replicate (independent across replicates).

    ``time_index`` are indices into ``run.times`` (all > 0); replicate r observes time
    ``time_index[(r // D) % len]``, particle (7919 r + 13) mod N, coordinate r mod D.
    """
    time_index = np.asarray(time_index, dtype=int)
    if time_index.ndim != 1 or len(time_index) == 0 or np.any(run.proxy[time_index] <= 0):
        raise InvalidArgument(f"`time_index` must be a non-empty list of record indices with t > 0, got {time_index!r}.")
    R, _, N, D = run.M.shape
    out = np.empty(R)
    for r in range(R):
        jt, i, a = _pick(r, N, D, len(time_index))
        jj = time_index[jt]
        out[r] = run.M[r, jj, i, a] / run.proxy[jj]
    return out


def tail_tests(z_obs, z_grid=Z_GRID) -> list[dict]:
    """For each z: exceedances #{|Z| ≥ z}, the bound 2e^{−z²/2}, the frequency with its two-sided
    Clopper–Pearson 95 % interval, and the exact binomial p-value of H1 frequency > bound."""
    z_obs = np.abs(np.asarray(z_obs, dtype=np.float64))
    if z_obs.ndim != 1 or len(z_obs) == 0 or not np.all(np.isfinite(z_obs)):
        raise InvalidArgument("`z_obs` must be a non-empty 1-D array of finite values.")
    n = len(z_obs)
    out = []
    for z in z_grid:
        bound = float(azuma_tail(z))
        k = int(np.sum(z_obs >= z))
        bt = stats.binomtest(k, n, bound, alternative="greater")
        ci = stats.binomtest(k, n, bound).proportion_ci(0.95, method="exact")
        out.append({"z": float(z), "bound": bound, "exceedances": k, "n": n, "frequency": k / n,
                    "ci": [float(ci.low), float(ci.high)], "p_value": float(bt.pvalue),
                    "min_p": float(bound**n)})
    return out


# -- (b) the scale -----------------------------------------------------------------------------------


def rms_table(runs: list[MartingaleRun], time_index: np.ndarray) -> dict[str, np.ndarray]:
    """Columns (one row per ε × replicate × time): eps, t, sum_s2, replicate, cluster, rms, ms.

    rms = sqrt(mean_{i,a} (M_{i,a}^{k})²) of one replicate; ``cluster`` identifies (ε, replicate).
    """
    cols = {k: [] for k in ("eps", "t", "sum_s2", "replicate", "cluster", "rms", "ms")}
    for c, run in enumerate(runs):
        R = run.M.shape[0]
        for j in np.asarray(time_index, dtype=int):
            ms = np.mean(run.M[:, j] ** 2, axis=(1, 2))
            cols["eps"].append(np.full(R, run.eps))
            cols["t"].append(np.full(R, run.times[j]))
            cols["sum_s2"].append(np.full(R, run.sum_s2[j]))
            cols["replicate"].append(np.arange(R))
            cols["cluster"].append(c * 1_000_000 + np.arange(R))
            cols["ms"].append(ms)
            cols["rms"].append(np.sqrt(ms))
    return {k: np.concatenate(v) for k, v in cols.items()}


def _ols(y, X, groups, names) -> dict:
    model = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    df = float(getattr(model, "df_resid_inference", None) or model.df_resid)
    ci = model.conf_int(0.05)
    out = {"df": df, "clusters": int(len(np.unique(groups))), "observations": int(len(y)), "coef": {}}
    for k, name in enumerate(names):
        out["coef"][name] = {"estimate": float(model.params[k]), "se": float(model.bse[k]), "ci": [float(ci[k][0]), float(ci[k][1])]}
    out["cov"] = np.asarray(model.cov_params()).tolist()
    return out


def fit_scale(table: dict[str, np.ndarray]) -> dict:
    """The two OLS fits of (b), cluster-robust by (ε, replicate).

    - ``pooled``: log rms = a + b log Σs² ; p_value for H1 b > 1/2 (reported, not a test:
      E M² = ε ∫ ξ² E v dt grows faster than t when the gradient noise v rises along the run).
    - ``split``: log rms = a + b_ε log ε + b_t log(Σs²/ε) + c ε; p_value_eps for H1 b_ε < 1/2,
      p_value_t (reported, not a test) for H1 b_t > 1/2. The nuisance c ε (fitted when there are
      at least three ε) is the first-order
      weak error of SGD in E v (log E M² = log ε + log ∫ξ² E v₀ dt + O(ε)); without it a
      negative O(ε) correction lowers the fitted b_ε below 1/2 and a correct SGD can be rejected.
    """
    rms = np.asarray(table["rms"], dtype=np.float64)
    if len(rms) < 4 or not np.all(np.isfinite(rms)) or np.any(rms <= 0):
        raise InvalidArgument("`table` rms must hold at least 4 finite positive values (M ≠ 0 at t > 0).")
    y = np.log(rms)
    groups = np.asarray(table["cluster"])
    ls2 = np.log(np.asarray(table["sum_s2"], dtype=np.float64))
    leps = np.log(np.asarray(table["eps"], dtype=np.float64))
    if np.ptp(ls2) <= 0:
        raise InvalidArgument("`table` needs at least two distinct values of Σs² (ε or t) to fit the exponent.")
    pooled = _ols(y, np.column_stack([np.ones_like(y), ls2]), groups, ["const", "exponent"])
    b = pooled["coef"]["exponent"]
    pooled["p_value"] = float(stats.t.sf((b["estimate"] - PREDICTED_EXPONENT) / b["se"], pooled["df"])) if b["se"] > 0 else float(b["estimate"] <= PREDICTED_EXPONENT)
    out = {"pooled": pooled}
    if np.ptp(leps) > 0 and np.ptp(ls2 - leps) > 0:
        eps = np.asarray(table["eps"], dtype=np.float64)
        if len(np.unique(eps)) >= 3:  # the correction c ε needs a third ε to be told from log ε
            split = _ols(y, np.column_stack([np.ones_like(y), leps, ls2 - leps, eps]), groups, ["const", "eps", "t", "correction"])
        else:
            split = _ols(y, np.column_stack([np.ones_like(y), leps, ls2 - leps]), groups, ["const", "eps", "t"])
        be, bt = split["coef"]["eps"], split["coef"]["t"]
        split["p_value_eps"] = float(stats.t.cdf((be["estimate"] - PREDICTED_EXPONENT) / be["se"], split["df"])) if be["se"] > 0 else float(be["estimate"] >= PREDICTED_EXPONENT)
        split["p_value_t"] = float(stats.t.sf((bt["estimate"] - PREDICTED_EXPONENT) / bt["se"], split["df"])) if bt["se"] > 0 else float(bt["estimate"] <= PREDICTED_EXPONENT)
        out["split"] = split
    return out


def subgaussian_scales(runs: list[MartingaleRun], time_index: np.ndarray) -> list[dict]:
    """Per (ε, t): σ̂ = sqrt(mean_r mean_{i,a} M²) with a 95 % CI (t-interval on the R replicate
    mean squares, square-rooted), the Azuma proxy σ_A and the looseness σ_A / σ̂."""
    out = []
    for run in runs:
        R = run.M.shape[0]
        for j in np.asarray(time_index, dtype=int):
            ms = np.mean(run.M[:, j] ** 2, axis=(1, 2))
            m = float(np.mean(ms))
            half = float(stats.t.ppf(0.975, R - 1) * np.std(ms, ddof=1) / math.sqrt(R)) if R > 1 else math.inf
            sig = math.sqrt(m)
            lo, hi = math.sqrt(max(m - half, 0.0)), math.sqrt(m + half)
            prox = float(run.proxy[j])
            out.append({"eps": run.eps, "t": float(run.times[j]), "sigma_hat": sig, "ci": [lo, hi], "azuma_proxy": prox,
                        "looseness": prox / sig if sig > 0 else math.inf, "normalised": sig / math.sqrt(run.sum_s2[j]),
                        "replicates": R})
    return out


# -- the check ----------------------------------------------------------------------------------------


def _tail_estimate(z: float) -> str:
    """The name of the estimate the tail test at ``z`` judges: the frequency of |Z| ≥ z (Clopper–Pearson 95 %)."""
    return f"P(|M| ≥ z σ_A) at z={z:g}"



def run(context: CheckContext) -> ClaimResult:
    """Run the SGD under test on the ε grid of the tier, accumulate M, and test (a) and (b)."""
    exp = context.experiment
    size = asdict(CLAIM.sizes_for(context))
    T = exp.T
    times = tuple(float(t) for t in size["times"])
    if any(t > T + 1e-12 for t in times):
        raise InvalidArgument(f"The record times {times} of tier {context.tier.name!r} must not exceed the experiment's `T`={T}.")
    root = Streams(exp.seed).child(NAME)
    runs = []
    for eps in size["eps"]:
        streams = root.child(size["N"], repr(float(eps)))
        runs.append(run_sgd(
            exp.problem, exp.neuron, exp.rho0, context.rule, N=size["N"], eps=eps, T=max(times), replicates=size["replicates"],
            streams=streams, record=MartingaleRecord(exp.record_dt), schedule=exp.schedule, init=context.init,
            progress=context.progress,
        ))
    time_index = []
    for t in times:
        hits = np.flatnonzero(np.abs(runs[0].times - t) < 1e-9)
        if len(hits) != 1 or t <= 0:
            raise InvalidArgument(f"Tier time {t} must be a positive multiple of the experiment's `record_dt`={exp.record_dt}.")
        time_index.append(int(hits[0]))
    time_index = np.array(time_index)

    # (a) tail: one independent observation per replicate and ε
    z_obs = np.concatenate([tail_observations(r, time_index) for r in runs])
    tail = tail_tests(z_obs)
    z_violating = np.abs(violating(z_obs, 1.0))  # Z is in units of σ_A: the power's alternative (``power``)
    for t in tail:
        t["frequency_violating"] = float(np.mean(z_violating >= t["z"]))
    # (b) scale
    table = rms_table(runs, time_index)
    fits = fit_scale(table)
    scales = subgaussian_scales(runs, time_index)

    tests = combined([Test(f"Azuma tail at z={t['z']} (H1: frequency of abs(M) ≥ z σ_A > 2e^(-z²/2))", t["p_value"],
                           statistic=_tail_estimate(t["z"])) for t in tail], TAIL)
    if "split" in fits:
        tests.append(Test("exponent of RMS(M) in ε at fixed T (H1: < 1/2, RMS/sqrt(εT) grows as ε ↓)", fits["split"]["p_value_eps"],
                          statistic="exponent in ε"))

    notes = []
    if "split" not in fits:
        notes.append("the ε exponent needs at least two ε and two times: widen SIZES[tier].eps / .times.")
    if min(t["min_p"] for t in tail) > 0.05:
        notes.append(f"the tail test cannot reject with {len(z_obs)} observations: raise SIZES[tier].replicates.")

    pooled = fits["pooled"]["coef"]["exponent"]
    estimates = {"pooled exponent (εT)": {**pooled, "predicted": PREDICTED_EXPONENT}}
    if "split" in fits:
        estimates["exponent in ε"] = {**fits["split"]["coef"]["eps"], "predicted": PREDICTED_EXPONENT}
        estimates["exponent in T"] = {**fits["split"]["coef"]["t"], "predicted": PREDICTED_EXPONENT, "note": "≤ 1/2 allowed (bounded, not pinned)"}
    for t in tail:
        estimates[_tail_estimate(t["z"])] = {"estimate": t["frequency"], "ci": t["ci"], "bound": t["bound"],
                                             "note": f"{t['exceedances']} of {t['n']}, Clopper–Pearson"}
    loose = [s["looseness"] for s in scales]
    norm = np.array([s["normalised"] for s in scales])
    estimates["sigma_hat / sqrt(εT) (median over cells)"] = {"estimate": float(np.median(norm)), "ci": [float(norm.min()), float(norm.max())],
                                                             "note": "ci = range over cells"}
    estimates["Azuma looseness σ_A / σ̂ (min over cells)"] = {"estimate": float(min(loose)), "ci": [float(min(loose)), float(max(loose))],
                                                              "note": "ci = range over cells"}
    mism = np.concatenate([r.drift_mismatch for r in runs])
    mism = mism[np.isfinite(mism)]
    details = {
        "sizes": {k: list(v) if isinstance(v, tuple) else v for k, v in size.items()},
        "B": runs[0].B,
        "constants": exp.problem.constants(exp.neuron).as_dict(),
        "tail": tail,
        "tail_observations": len(z_obs),
        "z_abs_sorted": np.sort(np.abs(z_obs)).tolist(),
        "fits": fits,
        "scales": scales,
        "cells": [{"eps": float(e), "t": float(t), "sum_s2": float(s), "mean_log_rms": float(np.mean(np.log(table["rms"][(table["eps"] == e) & (table["t"] == t)])))}
                  for e in np.unique(table["eps"]) for t, s in sorted({(float(a), float(b)) for a, b in zip(table["t"][table["eps"] == e], table["sum_s2"][table["eps"] == e])})],
        "rms_rows": {"eps": table["eps"].tolist(), "t": table["t"].tolist(), "rms": table["rms"].tolist()},
        "drift_mismatch_max": float(np.max(mism)) if len(mism) else math.nan,
        "update": context.rule.label,
    }
    seeds = {"entropy": int(exp.seed), "streams": {repr(float(e)): list(root.child(size["N"], repr(float(e))).key) for e in size["eps"]},
             "roles": "θ^0 from ('init', r) through context.init; data from ('data', r) through mfcheck.dynamics.sgd.data_stream"}
    details["seeds"] = seeds
    return ClaimResult(
        claim=NAME, verdict="unresolved", alpha=math.nan, tests=tuple(tests), unresolved=" ".join(notes),
        estimates=estimates, details=details,
    )


def power(result: ClaimResult, level: float) -> dict:
    """The power of each counted test at ``level``: the combined tail test against the run's Z
    rescaled to root mean square ``TAIL_VIOLATION`` (a martingale that many times Azuma's proxy σ_A:
    :func:`mfcheck.claims.injection.violating`; exact binomial, :func:`mfcheck.stats.power.grid_power`);
    the ε-exponent test against an exponent short of 1/2 by the largest deficit the rate claims
    inject (``DEFICITS[-1]``): RMS multiplied by ε^{−deficit} moves the fitted exponent by exactly
    that and leaves the residuals, so its power is the noncentral t at the run's own standard error
    (:func:`mfcheck.stats.power.t_test_power`)."""
    rows = result.details["tail"]
    test_power = {t.name: grid_power(rows, level, frequency="frequency_violating") for t in result.tests if t.name.startswith(f"{TAIL} (")}
    split = result.details["fits"].get("split")
    against = f"the run's martingale rescaled to {TAIL_VIOLATION:g}× Azuma's proxy σ_A (exact binomial)"
    if split is not None:
        exponent = next(t for t in result.tests if t.statistic == "exponent in ε")
        test_power[exponent.name] = t_test_power(DEFICITS[-1], split["coef"]["eps"]["se"], split["df"], level)
        against += f"; an ε exponent short of {PREDICTED_EXPONENT:g} by {DEFICITS[-1]:g} (noncentral t at the run's se)"
    return {"test_power": test_power, "level": level, "power_floor": POWER_FLOOR, "against": against}


CLAIM = Check(
    name=NAME, title=TITLE, order=31, sizes=SIZES, parts=frozenset({"step", "init"}), reads_reference=False,
    statement="P(|M_{i,a}^k| ≥ u) ≤ 2 exp(−u² / (2 Σ_{l<k} c_l²)), Σ_{l<k} c_l² = 4B² Σ_{l<k} s_l²; the scale of M grows like sqrt(εT)",
    test_count=2,  # the tail z's combined (Bonferroni) into one test, and the ε exponent (the pooled exponent is reported only)
    alternative="the step s replaced by sqrt(s)", inject=lambda c: replace(c, rule=BROKEN["sqrt_step"].rule), compute=run,
    power=power,
)
