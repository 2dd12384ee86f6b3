"""Fit a rate claim's statistic against its predicted shape and decide it (:mod:`mfcheck.stats.regression`, scipy.stats).

For a claim S ≤ C e^{CT} · scale(N, ε, z) w.p. ≥ 1 − e^{−z²} (docs/methods.md, "Fits"):

1. **Resolution.** A cell is judged only if the reference error of the statistic is at most
   ``RESOLUTION_RATIO`` times the cell's median S; otherwise it is *unresolved*.
2. **The predicted shape of the statistic.** shape(N, ε) = √max(1/N, ε) · L, L = √(D + log n),
   where n counts the events the statistic's sup runs over: the J recorded times, times the N
   particles for a maximum over particles (:meth:`mfcheck.claims.rate.RateClaim.log_factor`).
   The theorem's bound takes its sup over every step, n = N·T/ε; a statistic recorded on a
   fixed grid of J times does not grow with T/ε, so dividing it by the theorem's factor would add
   the growth of √log(1/ε) to the fitted exponent. With the statistic's own L, a statistic equal
   to c · shape fits the predicted exponent exactly (tests/test_fit.py shows it). The tests that
   can fail the claim judge the theorem's scale as stated (its own log factor included, which it
   allows the statistic); the observed exponent and the evidence for a pass use the shape.
3. **Exponents.** On each path, ordinary least squares (HC3 standard errors, t inference) of
   log S − log L on log(1/N) (N-path) or log ε (ε-path), one observation per replicate: the
   observed exponent. **Evidence for a pass:** its one-sided 95 % lower bound is at least
   predicted − ``delta``. **Growth test**: the same fit with the theorem's log factor in place
   of L; H0 slope ≥ predicted − ``delta_fail`` (the claim is an upper bound), p = P(t_df ≤ t̂),
   t̂ = (slope − predicted + delta_fail)/se. Why a margin: the theorem fixes the log factor only
   up to its constant C, so √(D + log n) and √(a + log n) (any a ≥ 0) are the same bound, and a
   statistic that is a maximum of n independent errors grows like √(2 log n + (D − 1) log log n),
   whose ratio to √(D + log n) rises towards its limit on every range a run can reach: a correct
   implementation whose particles carry independent errors (``vanishing_noise`` of the gate's
   self-test) fits a local exponent below the predicted one, by an amount that shrinks as the
   range grows. ``delta_fail`` is the resolution of the growth test in the exponent; it stays
   below ``delta`` so that an exponent short by ``delta`` is still rejected (docs/methods.md,
   "Fits", gives the measurements behind it).
4. **Plateau** (a bias that does not vanish along the limit). On each path, OLS of S on
   [1, scale(z = 0)]: S = c · scale + b, with standard errors clustered by cell (a cell's
   replicates share its N and ε, so any misfit of the line at a cell is common to them) and t
   inference with G − 1 degrees of freedom, G the number of cells. **Test** H0 b ≤ 0,
   p = P(t_{G−1} ≥ b̂/se). **Evidence for a pass:** the one-sided 95 % upper bound of b is at
   most ``plateau_fraction`` × the median S of the cell nearest the limit.
5. **Tail.** Ĉ is calibrated on the cells away from the limit and the tail is tested on the
   ``TAIL_CELLS`` cells of each path nearest the limit, which Ĉ never saw: Ĉ is the smallest
   constant with #{S > Ĉ scale(z)} ≤ e^{−z²} n in every calibration cell for every z in
   ``Z_GRID``; on the test cells, the pooled count of S > Ĉ scale(z) is tested against e^{−z²}
   (exact binomial, one-sided), each z shown with its Clopper–Pearson 95 % interval. An
   implementation whose S / scale grows along the limit exceeds Ĉ there: the test can fail.
   One test enters the family: the smallest p over z, Bonferroni-corrected (× len(Z_GRID)).
6. **Decision** (:func:`mfcheck.stats.results.decide`): a rejected test fails the claim; else
   a path with fewer than ``MIN_CELLS`` resolved cells, or an item of evidence that does not
   hold, leaves it unresolved, with the replicates per cell that would make the evidence hold
   (``ClaimResult.replicates``); else it passes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from mfcheck._validation import check_real
from mfcheck.errors import InvalidArgument
from mfcheck.stats.regression import LineFit, fit_line
from mfcheck.stats.results import DEFAULT_ALPHA, ClaimResult, Evidence, Test, decide

if TYPE_CHECKING:
    from mfcheck.claims.rate import RateClaim

__all__ = ["Exponent", "Plateau", "TailCheck", "Design", "judge", "resolved_table", "resample_within_cells", "Test", "ClaimResult", "fit_claim", "decide", "Z_GRID", "RESOLUTION_RATIO",
           "MIN_CELLS", "TAIL_CELLS", "TEST_NAMES", "DELTA", "DELTA_FAIL", "PLATEAU_FRACTION", "EVIDENCE_LEVEL", "DEFAULT_ALPHA",
           "replicates_to_clear"]

Z_GRID = (0.5, 1.0, 1.5, 2.0)
RESOLUTION_RATIO = 0.1
MIN_CELLS = 3
TAIL_CELLS = 2
DELTA = 0.1
"""A pass needs each exponent's lower confidence bound at least the predicted exponent minus DELTA."""
DELTA_FAIL = 0.05
"""The growth test rejects when the exponent against the theorem's scale is below the predicted one minus DELTA_FAIL."""
PLATEAU_FRACTION = 0.5
"""A pass needs the upper confidence bound of the plateau at most this fraction of the statistic nearest the limit."""
EVIDENCE_LEVEL = 0.95
"""The one-sided confidence level of the bounds a pass is judged on."""
PATHS = {"N": ("1/N", "N-path: ε = 1/(kink·N)"), "eps": ("ε", "ε-path: N = kink/ε")}
TEST_NAMES = {
    **{f"growth_{p}": f"growth along the {PATHS[p][1]}" for p in PATHS},
    **{f"plateau_p_{p}": f"plateau along the {PATHS[p][1]} (H1 b > 0)" for p in PATHS},
    "tail": f"tail beyond Ĉ·scale(z) on the {TAIL_CELLS} cells nearest the limit per path "
            f"(smallest p over z = {', '.join(f'{z:g}' for z in Z_GRID)}, Bonferroni)",
}
"""The name of each test of a rate claim, by the key of its p-value in :func:`judge`'s output."""


@dataclass(frozen=True)
class Exponent:
    """The observed exponent of S on one path, with the fit behind it (``lower``: the one-sided
    lower confidence bound at ``EVIDENCE_LEVEL``; ``ci``: the two-sided 95 % interval)."""

    path: str
    variable: str
    estimate: float
    ci: tuple[float, float]
    lower: float
    predicted: float
    p_value: float
    cells: int
    observations: int
    params: tuple[float, float]
    cov: tuple[tuple[float, float], tuple[float, float]]
    df: float


@dataclass(frozen=True)
class Plateau:
    """S = c · scale + b on one path (the theorem's scale at z = 0): ``b`` with its cluster-robust ``se``, one-sided upper
    bound ``upper`` at ``EVIDENCE_LEVEL``, ``df`` = cells − 1, the p-value of H0 b ≤ 0, and
    ``at_limit``: the median S of the cell nearest the limit, the scale the bound is judged on."""

    path: str
    b: float
    se: float
    upper: float
    c: float
    df: int
    p_value: float
    at_limit: float


@dataclass(frozen=True)
class TailCheck:
    z: float
    bound: float
    exceedances: int
    n: int
    frequency: float
    ci: tuple[float, float]
    p_value: float


def _cells_summary(df: pd.DataFrame, claim: RateClaim, D: int, T: float, reference_error) -> list[dict]:
    out = []
    for (path, N, eps), g in df.groupby(["path", "N", "eps"], sort=False):
        ref_err = float(reference_error[(int(N), float(eps))]) if isinstance(reference_error, Mapping) else float(reference_error)
        s = np.sort(g[claim.statistic].to_numpy())
        n = len(s)
        med = float(np.median(s))
        # distribution-free 95% CI of the median from binomial order statistics
        lo_k = int(stats.binom.ppf(0.025, n, 0.5))
        hi_k = int(min(n - 1, n - 1 - lo_k))
        scale0 = float(claim.scale(N, eps, D, T, 0.0))
        out.append({
            "path": path, "N": int(N), "eps": float(eps), "replicates": n, "median": med,
            "median_ci": (float(s[max(lo_k - 1, 0)]), float(s[hi_k])), "scale": scale0,
            "ratio_median": med / scale0, "reference_error": ref_err,
            "resolved": bool(ref_err <= RESOLUTION_RATIO * med),
        })
    return out


@dataclass(frozen=True)
class Design:
    """The resolved observations of one claim, fixed across resamples: for each observation its
    path, cell, the regressor x of its path (log(1/N) or log ε), the statistic's own log factor L,
    the theorem's scale at z = 0 and at each z of ``Z_GRID``, and whether its cell is one of the
    ``TAIL_CELLS`` nearest the limit (a tail test cell) or the cell nearest the limit."""

    path: np.ndarray
    cell: np.ndarray
    x: np.ndarray
    log_factor: np.ndarray
    root: np.ndarray  # √max(1/N, ε)
    scale: np.ndarray  # the theorem's scale at z = 0
    scale_z: np.ndarray  # (len(Z_GRID), n)
    tail_test: np.ndarray
    at_limit: np.ndarray

    @classmethod
    def of(cls, table: pd.DataFrame, claim: RateClaim, D: int, T: float, J: int) -> Design:
        N = table["N"].to_numpy(dtype=float)
        eps = table["eps"].to_numpy(dtype=float)
        path = table["path"].to_numpy()
        cell = table.groupby(["path", "N", "eps"], sort=False).ngroup().to_numpy()
        L = claim.log_factor(N, eps, D, J)
        # rank of each cell along its path, from the limit (0: nearest): N ↑ on the N-path, ε ↓ on the ε-path
        rank = np.empty(len(N), dtype=int)
        for p in PATHS:
            m = path == p
            key = -N[m] if p == "N" else eps[m]
            uniq = np.unique(key)
            rank[m] = np.searchsorted(uniq, key)
        return cls(
            path=path, cell=cell, x=np.where(path == "N", np.log(1.0 / N), np.log(eps)), log_factor=L,
            root=np.sqrt(np.maximum(1.0 / N, eps)), scale=claim.scale(N, eps, D, T, 0.0), scale_z=np.stack([claim.scale(N, eps, D, T, z) for z in Z_GRID]),
            tail_test=rank < TAIL_CELLS, at_limit=rank == 0,
        )


def judge(S: np.ndarray, design: Design, predicted: Mapping[str, float], delta_fail: float = DELTA_FAIL) -> dict:
    """The claim's tests on the statistic ``S`` (..., n), every leading index at once (module docstring).

    Returns per path p: ``exp_<p>`` (a :class:`~mfcheck.stats.regression.LineFit` of log S − log L on x,
    L the statistic's own log factor), ``growth_fit_<p>`` (the same with the theorem's log factor)
    and ``growth_<p>`` (p-values of the growth test on it, H0 slope ≥ predicted − ``delta_fail``), ``plateau_<p>`` (the LineFit of S on the theorem's scale), ``plateau_p_<p>``,
    ``at_limit_<p>`` (median S of the cell nearest the limit); ``C_hat``, ``exceedances``
    (len(Z_GRID), ...), ``tail_n``, ``tail_p`` (len(Z_GRID), ...) and ``tail`` (the Bonferroni p);
    ``smallest_p``: the smallest p-value of the claim's tests (growth and plateau per path, tail)."""
    out = {}
    for p in PATHS:
        m = design.path == p
        out[f"exp_{p}"] = fit_line(design.x[m], np.log(S[..., m]) - np.log(design.log_factor[m]), cov="HC3")
        g = out[f"growth_fit_{p}"] = fit_line(design.x[m], np.log(S[..., m]) - np.log(design.scale[m] / design.root[m]), cov="HC3")
        out[f"growth_{p}"] = stats.t.cdf((g.params[..., 1] - predicted[p] + delta_fail) / g.se[..., 1], g.df)
        q = fit_line(design.scale[m], S[..., m], cov="cluster", groups=design.cell[m])
        out[f"plateau_{p}"] = q
        out[f"plateau_p_{p}"] = stats.t.sf(q.params[..., 0] / q.se[..., 0], q.df)
        out[f"at_limit_{p}"] = np.median(S[..., m & design.at_limit], axis=-1)
    C_hat = np.zeros(S.shape[:-1])
    for c in np.unique(design.cell[~design.tail_test]):
        m = design.cell == c
        n = int(m.sum())
        for zi, z in enumerate(Z_GRID):
            allowed = int(math.floor(math.exp(-z * z) * n))
            if allowed < n:
                ratios = -np.sort(-S[..., m] / design.scale_z[zi, m], axis=-1)
                C_hat = np.maximum(C_hat, ratios[..., allowed])
    t = design.tail_test
    bounds = np.exp(-np.square(Z_GRID))
    k = np.stack([np.sum(S[..., t] > C_hat[..., None] * design.scale_z[zi, t], axis=-1) for zi in range(len(Z_GRID))])
    n = int(t.sum())
    tail_p = stats.binom.sf(k - 1, n, bounds.reshape((-1,) + (1,) * (k.ndim - 1)))  # P(Bin(n, e^{−z²}) ≥ k)
    out.update(C_hat=C_hat, exceedances=k, tail_n=n, tail_p=tail_p, tail=np.minimum(1.0, len(Z_GRID) * tail_p.min(axis=0)))
    out["smallest_p"] = np.min(np.stack([out[f"{t}_{p}"] for t in ("growth", "plateau_p") for p in PATHS] + [out["tail"]]), axis=0)
    return out


def resolved_table(table: pd.DataFrame, cells) -> pd.DataFrame:
    """The rows of ``table`` in the resolved ``cells`` (the cell summaries of a fit)."""
    resolved = {(c["path"], int(c["N"]), float(c["eps"])) for c in cells if c["resolved"]}
    return table[[(p, int(n), float(e)) in resolved for p, n, e in zip(table["path"], table["N"], table["eps"])]]


def resample_within_cells(design: Design, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """(resamples, n) indices: each observation replaced by a random replicate of its own cell."""
    idx = np.empty((resamples, len(design.cell)), dtype=int)
    for c in np.unique(design.cell):
        members = np.flatnonzero(design.cell == c)
        idx[:, members] = rng.choice(members, size=(resamples, len(members)), replace=True)
    return idx


def _exponent(fit: LineFit, path: str, predicted: float, p_value: float, sub: pd.DataFrame) -> Exponent:
    a, b = (float(v) for v in fit.params)
    se, df = float(fit.se[1]), fit.df
    q = float(stats.t.ppf(0.975, df))
    return Exponent(
        path=path, variable=PATHS[path][0], estimate=b, ci=(b - q * se, b + q * se), lower=b - float(stats.t.ppf(EVIDENCE_LEVEL, df)) * se,
        predicted=float(predicted), p_value=p_value, cells=int(sub.groupby(["N", "eps"]).ngroups), observations=len(sub),
        params=(a, b), cov=tuple(tuple(float(v) for v in row) for row in fit.cov), df=float(df),
    )


def replicates_to_clear(replicates: int, halfwidth: float, margin: float) -> int:
    """The replicates per cell at which a one-sided bound ``halfwidth`` away from its estimate would
    clear a threshold ``margin`` away, if the estimate stayed put and the standard error shrank like
    1/√R: max(R₀, ⌈R₀ (halfwidth / margin)²⌉); 0 when the estimate is itself on the wrong side
    (``margin`` ≤ 0: more replicates would not help)."""
    if margin <= 0:
        return 0
    return max(replicates, math.ceil(replicates * (halfwidth / margin) ** 2))


def _replicates_for_evidence(exponents: dict, plateaus: dict, replicates: int, delta: float, fraction: float) -> int:
    """The replicates per cell that would let every lacking bound clear its threshold
    (:func:`replicates_to_clear`; margin = estimate − threshold for an exponent, threshold − b̂ for a
    plateau); 0 when one estimate is itself on the wrong side of its threshold."""
    needed = [replicates_to_clear(replicates, e.estimate - e.lower, e.estimate - (e.predicted - delta))
              for e in exponents.values() if e.lower < e.predicted - delta]
    needed += [replicates_to_clear(replicates, p.upper - p.b, fraction * p.at_limit - p.b)
               for p in plateaus.values() if p.upper > fraction * p.at_limit]
    return 0 if 0 in needed else max(needed, default=replicates)


def _tail_estimate(z: float) -> str:
    """The name of the estimate the tail test judges at ``z``: the frequency beyond Ĉ·scale(z) on the test cells."""
    return f"tail frequency beyond Ĉ·scale(z={z:g})"


def fit_claim(claim: RateClaim, table: pd.DataFrame, *, D: int, T: float, J: int, reference_error, alpha: float = DEFAULT_ALPHA,
              delta: float = DELTA, delta_fail: float = DELTA_FAIL, plateau_fraction: float = PLATEAU_FRACTION) -> ClaimResult:
    """Fit one claim on a sweep table (columns path, N, eps, replicate, <statistic>) and decide it alone.

    ``J``: the number of recorded times the statistic's sup runs over; ``reference_error``: one
    number for every cell, or a mapping (N, ε) -> error per cell; ``delta`` and
    ``plateau_fraction``: the thresholds of the evidence a pass needs; ``delta_fail``: the growth
    test's margin, at most ``delta`` (module docstring).

    ``estimates`` holds what each test judges, named by the test's ``statistic``: the growth slope
    against the theorem's scale (not the observed exponent, which uses the statistic's own log
    factor), the plateau b, and the tail frequency at each z (the tail test names the z its
    Bonferroni p comes from), each with a two-sided 95 % interval.
    """
    alpha = check_real(alpha, "alpha", positive=True)
    if not alpha < 1:
        raise InvalidArgument(f"`alpha` must be in (0, 1), got {alpha}.")
    delta = check_real(delta, "delta", positive=True)
    delta_fail = check_real(delta_fail, "delta_fail")
    if not 0 <= delta_fail <= delta:
        raise InvalidArgument(f"`delta_fail` must be in [0, delta = {delta:g}], got {delta_fail}.")
    plateau_fraction = check_real(plateau_fraction, "plateau_fraction", positive=True)
    missing = {"path", "N", "eps", "replicate", claim.statistic} - set(table.columns)
    if missing:
        raise InvalidArgument(f"`table` lacks the column(s) {sorted(missing)}.")
    S = table[claim.statistic].to_numpy(dtype=float)
    if not np.all(np.isfinite(S)) or np.any(S <= 0):
        raise InvalidArgument(f"Statistic {claim.statistic!r} must be finite and > 0 in every replicate.")
    cells = _cells_summary(table, claim, D, T, reference_error)
    max_ref = max(c["reference_error"] for c in cells)
    keep = resolved_table(table, cells)
    notes = []
    for path in PATHS:
        n_cells = keep[keep["path"] == path].groupby(["N", "eps"]).ngroups
        if n_cells < MIN_CELLS:
            notes.append(
                f"only {n_cells} of {sum(1 for c in cells if c['path'] == path)} cells on the {PATHS[path][1]} are resolved "
                f"(reference error {max_ref:.2g} must be ≤ {RESOLUTION_RATIO} × the median statistic): refine the reference "
                "(larger log2_M) or move the path to smaller N / larger ε."
            )
    exponents, plateaus, tests, evidence, C_hat, tail, estimates = {}, {}, [], [], math.nan, [], {}
    if not notes:
        design = Design.of(keep, claim, D, T, J)
        j = judge(keep[claim.statistic].to_numpy(dtype=float), design, claim.predicted, delta_fail)
        for path in PATHS:
            e = exponents[path] = _exponent(j[f"exp_{path}"], path, claim.predicted[path], float(j[f"growth_{path}"]),
                                            keep[keep["path"] == path])
            fit = j[f"plateau_{path}"]
            b, se = float(fit.params[0]), float(fit.se[0])
            q = plateaus[path] = Plateau(path=path, b=b, se=se, upper=b + float(stats.t.ppf(EVIDENCE_LEVEL, fit.df)) * se,
                                         c=float(fit.params[1]), df=fit.df, p_value=float(j[f"plateau_p_{path}"]),
                                         at_limit=float(j[f"at_limit_{path}"]))
            g = j[f"growth_fit_{path}"]
            slope, slope_half = float(g.params[1]), float(stats.t.ppf(0.975, g.df)) * float(g.se[1])
            b_half = float(stats.t.ppf(0.975, fit.df)) * se
            growth, plateau = f"growth slope in {e.variable} against the theorem's scale", f"plateau b on the {path}-path"
            estimates[growth] = {"estimate": slope, "ci": [slope - slope_half, slope + slope_half], "predicted": e.predicted,
                                 "threshold": e.predicted - delta_fail}
            estimates[plateau] = {"estimate": b, "ci": [b - b_half, b + b_half], "at_limit": q.at_limit}
            tests.append(Test(TEST_NAMES[f"growth_{path}"], e.p_value, statistic=growth))
            tests.append(Test(TEST_NAMES[f"plateau_p_{path}"], q.p_value, statistic=plateau))
            evidence.append(Evidence(f"exponent in {e.variable} ≥ {e.predicted - delta:g} (lower bound {e.lower:.3f})",
                                     holds=bool(e.lower >= e.predicted - delta), estimate=e.estimate, bound=e.lower,
                                     threshold=e.predicted - delta))
            evidence.append(Evidence(f"plateau on the {path}-path ≤ {plateau_fraction:g} × S at the limit (upper bound "
                                     f"{q.upper / q.at_limit:.2f} ×)", holds=bool(q.upper <= plateau_fraction * q.at_limit),
                                     estimate=q.b, bound=q.upper, threshold=plateau_fraction * q.at_limit))
        C_hat = float(j["C_hat"])
        for zi, z in enumerate(Z_GRID):
            k, n, bound = int(j["exceedances"][zi]), j["tail_n"], math.exp(-z * z)
            ci = stats.binomtest(k, n, bound).proportion_ci(0.95, method="exact")  # two-sided Clopper–Pearson
            tail.append(TailCheck(z=z, bound=bound, exceedances=k, n=n, frequency=k / n, ci=(float(ci.low), float(ci.high)),
                                  p_value=float(j["tail_p"][zi])))
            estimates[_tail_estimate(z)] = {"estimate": k / n, "ci": [float(ci.low), float(ci.high)], "bound": bound}
        smallest = min(tail, key=lambda t: t.p_value)  # the z the Bonferroni p comes from
        tests.append(Test(TEST_NAMES["tail"], float(j["tail"]), statistic=_tail_estimate(smallest.z)))
    replicates = int(table.groupby(["path", "N", "eps"]).size().min())
    result = ClaimResult(
        claim=claim.name, verdict="unresolved", alpha=alpha, tests=tuple(tests), evidence=tuple(evidence), unresolved=" ".join(notes),
        replicates=_replicates_for_evidence(exponents, plateaus, replicates, delta, plateau_fraction),
        reference_error=max_ref, estimates=estimates, exponents=exponents, plateaus=plateaus, C_hat=C_hat, tail=tuple(tail),
        cells=tuple(cells),
    )
    return decide([result], alpha)[0]
