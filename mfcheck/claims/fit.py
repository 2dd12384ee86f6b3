"""Fit a claim's statistic against its predicted shape and decide (statsmodels, scipy.stats).

For a claim S ≤ C · scale(N, ε, z), scale = √max(1/N, ε) · [L(N, ε) + z]:

1. **Resolution.** A cell is judged only if the reference error of the statistic is at most
   ``RESOLUTION_RATIO`` times the cell's median S; otherwise it is *unresolved*.
2. **Exponents.** On each path, ordinary least squares (HC3 standard errors, t inference) of
   log S − log L on log(1/N) (N-path) or log ε (ε-path), one observation per replicate.
   The slope is the observed exponent, printed with its 95 % CI beside the predicted one.
3. **Growth test** (one-sided, the claim is an upper bound): H0 slope ≥ predicted, i.e.
   S / scale does not grow along the limit; H1 slope < predicted. p = P(t_df ≤ t̂).
   A faster decay (averages in ε) never fails the claim.
4. **Tail.** Replicates split by parity. On the even half Ĉ is the smallest constant with
   #{S > Ĉ scale(z)} ≤ e^{−z²} n in every cell and for every z in ``Z_GRID``; on the odd half
   the pooled exceedance count of each z is tested against e^{−z²} (exact binomial,
   one-sided) and shown with its Clopper–Pearson 95 % interval.
5. **Decision.** Holm's step-down procedure over all p-values of the claims decided together
   keeps the family-wise false-alarm rate at ``alpha``. Any rejection: ``fail``; no rejection
   but a path with fewer than ``MIN_CELLS`` resolved cells: ``unresolved``; else ``pass``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from mfcheck._validation import check_real
from mfcheck.errors import InvalidArgument
from mfcheck.stats.results import DEFAULT_ALPHA, ClaimResult, Test, decide

if TYPE_CHECKING:
    from mfcheck.claims.rate import RateClaim

__all__ = ["Exponent", "TailCheck", "Test", "ClaimResult", "fit_claim", "decide", "Z_GRID", "RESOLUTION_RATIO", "MIN_CELLS", "DEFAULT_ALPHA"]

Z_GRID = (0.5, 1.0, 1.5, 2.0)
RESOLUTION_RATIO = 0.1
MIN_CELLS = 3
PATHS = {"N": ("1/N", "N-path: ε = 1/(kink·N)"), "eps": ("ε", "ε-path: N = kink/ε")}


@dataclass(frozen=True)
class Exponent:
    """The observed exponent of S on one path, with the fit behind it."""

    path: str
    variable: str
    estimate: float
    ci: tuple[float, float]
    predicted: float
    p_value: float
    cells: int
    observations: int
    params: tuple[float, float]
    cov: tuple[tuple[float, float], tuple[float, float]]
    df: float


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


def _fit_path(df: pd.DataFrame, claim: RateClaim, path: str, D: int, T: float) -> Exponent:
    S = df[claim.statistic].to_numpy()
    N = df["N"].to_numpy(dtype=float)
    eps = df["eps"].to_numpy(dtype=float)
    y = np.log(S) - np.log(claim.log_factor(N, eps, D, T))
    x = np.log(1.0 / N) if path == "N" else np.log(eps)
    model = sm.OLS(y, sm.add_constant(x)).fit(cov_type="HC3", use_t=True)
    b, se, dof = float(model.params[1]), float(model.bse[1]), float(model.df_resid)
    lo, hi = (float(v) for v in model.conf_int(0.05)[1])
    predicted = float(claim.predicted[path])
    p = float(stats.t.cdf((b - predicted) / se, dof)) if se > 0 else (0.0 if b < predicted else 1.0)
    cov = model.cov_params()
    return Exponent(
        path=path, variable=PATHS[path][0], estimate=b, ci=(lo, hi), predicted=predicted, p_value=p,
        cells=int(df.groupby(["N", "eps"]).ngroups), observations=len(y),
        params=(float(model.params[0]), b), cov=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))), df=dof,
    )


def _tail(df: pd.DataFrame, claim: RateClaim, D: int, T: float) -> tuple[float, list[TailCheck]]:
    cal = df[df["replicate"] % 2 == 0]
    test = df[df["replicate"] % 2 == 1]
    C_hat = 0.0
    for _, g in cal.groupby(["N", "eps"]):
        S = g[claim.statistic].to_numpy()
        n = len(S)
        for z in Z_GRID:
            allowed = int(math.floor(math.exp(-z * z) * n))
            ratios = np.sort(S / claim.scale(g["N"].iloc[0], g["eps"].iloc[0], D, T, z))[::-1]
            C_hat = max(C_hat, float(ratios[allowed]) if allowed < n else 0.0)
    checks = []
    for z in Z_GRID:
        scale = claim.scale(test["N"].to_numpy(float), test["eps"].to_numpy(float), D, T, z)
        k = int(np.sum(test[claim.statistic].to_numpy() > C_hat * scale))
        n = len(test)
        bound = math.exp(-z * z)
        p = stats.binomtest(k, n, bound, alternative="greater").pvalue
        ci = stats.binomtest(k, n, bound).proportion_ci(0.95, method="exact")  # two-sided Clopper–Pearson
        checks.append(TailCheck(z=z, bound=bound, exceedances=k, n=n, frequency=k / n, ci=(float(ci.low), float(ci.high)), p_value=float(p)))
    return C_hat, checks


def fit_claim(claim: RateClaim, table: pd.DataFrame, *, D: int, T: float, reference_error, alpha: float = DEFAULT_ALPHA) -> ClaimResult:
    """Fit one claim on a sweep table (columns path, N, eps, replicate, <statistic>) and decide it alone.

    ``reference_error`` is one number for every cell, or a mapping (N, ε) -> error per cell.
    """
    alpha = check_real(alpha, "alpha", positive=True)
    if not alpha < 1:
        raise InvalidArgument(f"`alpha` must be in (0, 1), got {alpha}.")
    missing = {"path", "N", "eps", "replicate", claim.statistic} - set(table.columns)
    if missing:
        raise InvalidArgument(f"`table` lacks the column(s) {sorted(missing)}.")
    S = table[claim.statistic].to_numpy(dtype=float)
    if not np.all(np.isfinite(S)) or np.any(S <= 0):
        raise InvalidArgument(f"Statistic {claim.statistic!r} must be finite and > 0 in every replicate.")
    cells = _cells_summary(table, claim, D, T, reference_error)
    max_ref = max(c["reference_error"] for c in cells)
    resolved = {(c["path"], c["N"], c["eps"]) for c in cells if c["resolved"]}
    keep = table[[(p, int(n), float(e)) in resolved for p, n, e in zip(table["path"], table["N"], table["eps"])]]
    exponents, tests, notes = {}, [], []
    for path in ("N", "eps"):
        sub = keep[keep["path"] == path]
        n_cells = sub.groupby(["N", "eps"]).ngroups
        total = sum(1 for c in cells if c["path"] == path)
        if n_cells < MIN_CELLS:
            notes.append(
                f"only {n_cells} of {total} cells on the {PATHS[path][1]} are resolved (reference error "
                f"{max_ref:.2g} must be ≤ {RESOLUTION_RATIO} × the median statistic): refine the reference "
                "(larger log2_M) or move the path to smaller N / larger ε."
            )
            continue
        exponents[path] = _fit_path(sub, claim, path, D, T)
        tests.append(Test(f"growth along the {PATHS[path][1]}", exponents[path].p_value))
    C_hat, tail = (math.nan, [])
    if len(keep):
        C_hat, tail = _tail(keep, claim, D, T)
        tests += [Test(f"tail at z={t.z}", t.p_value) for t in tail]
    result = ClaimResult(
        claim=claim.name, verdict="unresolved", alpha=alpha, tests=tuple(tests), unresolved=" ".join(notes),
        reference_error=max_ref, exponents=exponents, C_hat=C_hat, tail=tuple(tail), cells=tuple(cells),
    )
    return decide([result], alpha)[0]
