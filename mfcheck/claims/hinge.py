"""The hinge of Theorem 1's rate: on a factorial N × ε grid, the error follows 1/N where 1/N dominates and ε where ε dominates.

The two paths of the rate claims (:mod:`mfcheck.claims.tiers`) keep Nε fixed, so along both
1/N ∝ ε and their two exponents estimate the same sum: an error S ∝ N^{−0.7} ε^{−0.2}, which grows
as ε → 0, decays like (1/N)^{1/2} along either path and passes them. Theorem 1 says more: with
max(1/N, ε) in its scale, S ≤ C e^{CT} √max(1/N, ε) (√(D + log(N/ε)) + z), so where 1/N ≥ ε the
bound does not move with ε, and where ε ≥ 1/N it does not move with N. This claim runs SGD and
its coupled reference (:func:`mfcheck.claims.sweep.run_cell`) on every cell of a factorial grid
N × ε and fits the two sides of the kink separately (docs/methods.md, "The hinge: a factorial
N × ε grid").

**Statistic.** The Theorem 1 test-function statistic S = max_f sup_k |(1/N) Σ_i f(θ_i^k) −
∫f dρ_{kε}| / K_f (:mod:`mfcheck.claims.statistics`), the claim ``theorem1_test_functions`` on
another set of cells. Its two terms are of the same size at Nε ≈ 1, the kink of max(1/N, ε)
itself, so both sides of the kink lie on a grid of a few octaves around Nε = 1. (The coupling
statistic has its kink far below Nε = 1: its ε term carries a much larger constant, and the
region where its 1/N term dominates is out of reach of a grid of this cost.)

**Cells and regions.** Cell (N, ε) runs ``replicates`` independent replicates from its own seed
subtree (:func:`mfcheck.claims.sweep.cell_streams`). A cell is in the **N-region** when
Nε ≤ 1/kink (there max(1/N, ε) = 1/N), in the **ε-region** when Nε ≥ kink; the cells between
enter only the whole-grid comparison. A cell is judged only when the reference error of the
statistic is at most ``RESOLUTION_RATIO`` × its median S, as in the rate claims.

**Region fits.** Per cell c, m_c = the mean over replicates of log S and v_c = their variance / R
(the variance of m_c). On the resolved cells of one region, weighted least squares (weights 1/v_c)
of

    m_c − log F_c = k + α · log(1/N_c) + β · log ε_c,

where F is a logarithmic factor: the statistic's own L = √(D + log J) for the exponents the
evidence reads (as in the rate claims), the theorem's √(D + log(N/ε)) for the tests that can fail.
The covariance is (XᵀWX)⁻¹ · φ, φ = max(1, χ²/(G − 3)) with χ² = Σ_c (residual_c)² / v_c over the
region's G cells: the within-cell variances are measured, so a region model that fits has
χ²/(G − 3) ≈ 1, and a misfit (a region that reaches too near the kink) widens the intervals
instead of being ignored. Inference is normal (the m_c are means of R ≥ 12 replicates).

- α is the exponent in 1/N at fixed ε, β the exponent in ε at fixed N, and α + β the exponent
  along a diagonal N ∝ 1/ε inside the region (the direction of the rate claims' paths).

**Tests** (H0 the claim holds; one-sided, margin δ_fail = ``DELTA_FAIL`` of the rate claims,
which absorbs the freedom of the log factor's constant, docs/methods.md "Fits"), with the
theorem's log factor:

1. N-region, *no growth as ε → 0*: H0 β ≥ −δ_fail. At fixed N the bound is C√(1/N) times a
   factor that grows like √log(1/ε), and the N-region extends to ε → 0; an error that grows as
   ε → 0 (the alternative the paths cannot see) has β < 0. p = Φ((β̂ + δ_fail)/se).
2. N-region, *diagonal*: H0 α + β ≥ 1/2 − δ_fail (the rate claims' growth test, inside the region).
3. ε-region, *no growth as N → ∞*: H0 α ≥ −δ_fail (at fixed ε the bound is C√ε times a factor
   growing like √log N, and the ε-region extends to N → ∞).
4. ε-region, *diagonal*: H0 α + β ≥ 1/2 − δ_fail.

Why not "α ≥ 1/2" in the N-region as a test: at fixed ε, N ↑ leaves the N-region for the kink,
where the bound lets S stay flat while √(1/N) falls (an error √(a/N + bε) does exactly that), so
a local exponent below 1/2 there does not contradict the theorem. It is evidence, not a test.

**Evidence for a pass** (the statistic's own log factor; docs/methods.md "Decision"):

- N-region: the one-sided 95 % lower bound of α ≥ 1/2 − δ (δ = ``DELTA``), and β flat: its
  two-sided 90 % interval inside [−δ_flat, δ_flat] (two one-sided tests at 5 %, δ_flat =
  ``DELTA_FLAT``);
- ε-region: the lower bound of β ≥ 1/2 − δ, and α flat within ±δ_flat.

**The whole grid.** On every resolved cell, four models of y_c = m_c − log L_c by weighted least
squares: the predicted hinge k + ½ log max(1/N, ε) (1 parameter), the sum k + ½ log(1/N + ε)
(1 parameter), a single power law without a hinge k + α log(1/N) + β log ε (3 parameters) and the
cell means (saturated). Each with χ², its lack-of-fit p against the cell means (χ²_{G−p}) and
AIC = χ² + 2p. The **lack-of-fit test of the predicted hinge** is reported and not counted: the
theorem bounds S by the hinge up to a constant, it does not say that S equals it, and an error
whose two terms add (√(a/N + bε), within √2 of the hinge) is rejected by it once the replicates
are many. The comparison says which shape the data prefer.

**The log factor** (:mod:`mfcheck.claims.log_factor`; reported, not tested): in the N-region the
ε-dependence the bound allows at fixed N is only its log factor's, so m_c = k + α log(1/N_c) +
γ log √(D + log(N_c/ε_c)) on the region's cells estimates the factor's strength γ (1: the theorem's
factor at full strength; 0: none), likewise in the ε-region with β log ε in place of α log(1/N), and
jointly with one γ. The details carry γ̂ with its interval, whether the grid identifies it, and the
replicates or range that would.

**Verdict** (:func:`mfcheck.stats.results.decide`): a rejected test fails the claim; a region
with fewer than 3 resolved cells, or evidence that does not hold, leaves it unresolved (with the
replicates per cell that would let the evidence hold, where more would); else it passes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from mfcheck.claims.base import Check, CheckContext
from mfcheck.claims.fit import DELTA, DELTA_FAIL, EVIDENCE_LEVEL, RESOLUTION_RATIO, replicates_to_clear
from mfcheck.claims.log_factor import log_factor
from mfcheck.claims.rate import recorded_times
from mfcheck.claims.sweep import sweep_cell
from mfcheck.claims.theorem1 import CLAIMS as THEOREM1
from mfcheck.claims.tiers import cell_work
from mfcheck.dynamics.broken import BROKEN
from mfcheck.errors import InvalidArgument
from mfcheck.runtime.executors import map_cells
from mfcheck.stats.results import ClaimResult, Evidence, Test

__all__ = ["NAME", "TITLE", "STATISTIC", "Grid", "SIZES", "DELTA_FLAT", "MIN_REGION_CELLS", "RegionFit", "cell_table",
           "fit_region", "compare_models", "judge", "run", "CLAIM"]

NAME = "hinge"
TITLE = "Theorem 1: the hinge √max(1/N, ε) on a factorial N × ε grid"
STATISTIC = "test_functions"
RATE_CLAIM = next(c for c in THEOREM1 if c.statistic == STATISTIC)
"""The rate claim of the same statistic: its scale (the theorem's) and its own log factor."""

DELTA_FLAT = 0.1
"""A side of the kink is flat in the other variable when the 90 % interval of that exponent lies in [−DELTA_FLAT, DELTA_FLAT]."""
MIN_REGION_CELLS = 3
"""A region fit has 3 parameters: fewer resolved cells leave the claim unresolved."""
REGIONS = {"N": "N-region (Nε ≤ 1/kink: max(1/N, ε) = 1/N)", "eps": "ε-region (Nε ≥ kink: max(1/N, ε) = ε)"}
MODELS = {
    "hinge": ("predicted hinge k·√max(1/N, ε)", 1),
    "sum": ("sum k·√(1/N + ε)", 1),
    "power": ("no hinge: k·N^(−α)·ε^β", 3),
    "cells": ("cell means (saturated)", None),
}


@dataclass(frozen=True)
class Grid:
    """The factorial grid of one tier: every (N, ε) of ``N`` × ``eps``, ``replicates`` per cell;
    ``kink``: a cell is in the N-region when Nε ≤ 1/kink, in the ε-region when Nε ≥ kink."""

    N: tuple[int, ...]
    eps: tuple[float, ...]
    kink: float
    replicates: int

    def cells(self) -> list[tuple[str, int, float]]:
        """("grid", N, ε) for every cell (the cell tuples of :func:`mfcheck.claims.sweep.sweep_cell`)."""
        return [("grid", N, eps) for N in self.N for eps in self.eps]


def _powers(*k) -> tuple[float, ...]:
    return tuple(2.0**-p for p in k)


SIZES = {
    "smoke": Grid(N=(16, 64, 256), eps=_powers(4, 6, 8), kink=4, replicates=24),
    "ci": Grid(N=(16, 64, 256, 1024), eps=_powers(4, 6, 8, 10), kink=4, replicates=128),
    "full": Grid(N=(16, 64, 256, 1024, 4096), eps=_powers(4, 6, 8, 10, 12), kink=16, replicates=128),
}
"""Consecutive levels of N, and of ε, a factor 4 apart over the same number of octaves, so Nε runs over powers of 4 and the diagonal Nε = 1 is the
kink. The regions are the two triangles of cells off that diagonal (3 cells each at smoke, 6 at ci, where the cells next
to the diagonal, Nε = 4^{±1}, belong to them) and, at full, the triangles at least two steps from it (Nε ≤ 1/16 or ≥ 16,
6 cells each): the cost of a cell grows like N/ε, and the corner N_max/ε_min of a grid deep on both sides is what the ci
budget cannot pay."""


def region_of(N, eps, kink: float) -> np.ndarray:
    """"N", "eps" or "" (between the regions) for each cell."""
    x = np.asarray(N, dtype=float) * np.asarray(eps, dtype=float)
    return np.where(x <= 1.0 / kink * (1 + 1e-12), "N", np.where(x >= kink * (1 - 1e-12), "eps", ""))


def cell_table(table: pd.DataFrame, *, D: int, J: int, kink: float, reference_error: float, statistic: str = STATISTIC) -> pd.DataFrame:
    """One row per cell of a replicate table (columns N, eps, <statistic>): ``R``, ``mean_log``
    (m_c), ``var_mean`` (v_c), ``median``, ``log_own`` (log L), ``log_theorem`` (log of the
    theorem's factor √(D + log(N/ε))), ``region`` and ``resolved``."""
    if not {"N", "eps", statistic} <= set(table.columns):
        raise InvalidArgument(f"`table` needs the columns N, eps and {statistic!r}, got {list(table.columns)}.")
    S = table[statistic].to_numpy(dtype=float)
    if not np.all(np.isfinite(S)) or np.any(S <= 0):
        raise InvalidArgument(f"Statistic {statistic!r} must be finite and > 0 in every replicate.")
    logs = table.assign(_log=np.log(S))
    g = logs.groupby(["N", "eps"], sort=True)
    cells = g["_log"].agg(R="count", mean_log="mean", var_log=lambda v: float(np.var(v, ddof=1)))
    cells["median"] = g[statistic].median()
    cells = cells.reset_index()
    if (cells["R"] < 2).any():
        raise InvalidArgument("Every cell needs at least 2 replicates.")
    N, eps = cells["N"].to_numpy(dtype=float), cells["eps"].to_numpy(dtype=float)
    cells["var_mean"] = cells.pop("var_log") / cells["R"]
    cells["log_own"] = np.log(RATE_CLAIM.log_factor(N, eps, D, J))
    cells["log_theorem"] = np.log(RATE_CLAIM.scale(N, eps, D, 1.0, 0.0) / np.sqrt(np.maximum(1.0 / N, eps)))
    cells["region"] = region_of(N, eps, kink)
    cells["resolved"] = reference_error <= RESOLUTION_RATIO * cells["median"]
    return cells


@dataclass(frozen=True)
class RegionFit:
    """WLS of m_c − log F_c on [1, log(1/N), log ε] over one region's cells: ``params`` (k, α, β),
    ``cov`` (scaled by ``dispersion`` φ), ``chi2`` and ``cells``."""

    params: tuple[float, float, float]
    cov: tuple[tuple[float, ...], ...]
    chi2: float
    dispersion: float
    cells: int

    def combination(self, w) -> tuple[float, float]:
        """The estimate and standard error of w · (k, α, β)."""
        w = np.asarray(w, dtype=float)
        return float(w @ np.array(self.params)), float(math.sqrt(max(w @ np.array(self.cov) @ w, 0.0)))


def _wls(X: np.ndarray, y: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """β̂ = (XᵀWX)⁻¹XᵀWy, W = diag(1/v); returns β̂, (XᵀWX)⁻¹ and χ² = Σ (y − Xβ̂)²/v."""
    w = 1.0 / v
    bread = np.linalg.inv(X.T @ (X * w[:, None]))
    beta = bread @ (X.T @ (w * y))
    return beta, bread, float(np.sum(w * (y - X @ beta) ** 2))


def _design(cells: pd.DataFrame) -> np.ndarray:
    N, eps = cells["N"].to_numpy(dtype=float), cells["eps"].to_numpy(dtype=float)
    return np.stack([np.ones_like(N), np.log(1.0 / N), np.log(eps)], axis=1)


def _determined(cells: pd.DataFrame) -> bool:
    """Whether a region's cells determine its three parameters."""
    return len(cells) >= MIN_REGION_CELLS and np.linalg.matrix_rank(_design(cells)) == 3


def fit_region(cells: pd.DataFrame, offset: str) -> RegionFit:
    """The region fit (module docstring) of the rows ``cells`` with the log factor column ``offset``."""
    if len(cells) < MIN_REGION_CELLS:
        raise InvalidArgument(f"A region fit needs at least {MIN_REGION_CELLS} cells, got {len(cells)}.")
    X = _design(cells)
    if np.linalg.matrix_rank(X) < 3:
        raise InvalidArgument("A region fit needs cells that vary N and ε independently.")
    y = cells["mean_log"].to_numpy(dtype=float) - cells[offset].to_numpy(dtype=float)
    beta, bread, chi2 = _wls(X, y, cells["var_mean"].to_numpy(dtype=float))
    dof = len(cells) - 3
    phi = max(1.0, chi2 / dof) if dof > 0 else 1.0
    return RegionFit(params=tuple(float(b) for b in beta), cov=tuple(tuple(float(c) for c in row) for row in bread * phi),
                     chi2=chi2, dispersion=phi, cells=len(cells))


def compare_models(cells: pd.DataFrame) -> dict:
    """The four whole-grid models of y_c = m_c − log L_c (module docstring): per model its
    ``params``, ``chi2``, ``df`` (G − p), ``lack_of_fit_p`` (None without degrees of freedom) and ``aic``, and ``delta_aic`` to the best."""
    N, eps = cells["N"].to_numpy(dtype=float), cells["eps"].to_numpy(dtype=float)
    y = cells["mean_log"].to_numpy(dtype=float) - cells["log_own"].to_numpy(dtype=float)
    v = cells["var_mean"].to_numpy(dtype=float)
    G = len(cells)
    designs = {
        "hinge": (np.ones((G, 1)), 0.5 * np.log(np.maximum(1.0 / N, eps))),
        "sum": (np.ones((G, 1)), 0.5 * np.log(1.0 / N + eps)),
        "power": (np.stack([np.ones(G), np.log(1.0 / N), np.log(eps)], axis=1), np.zeros(G)),
    }
    out = {}
    for name, (X, shape) in designs.items():
        beta, _, chi2 = _wls(X, y - shape, v)
        df = G - X.shape[1]
        out[name] = {"model": MODELS[name][0], "parameters": X.shape[1], "params": [float(b) for b in beta], "chi2": chi2, "df": df,
                     "lack_of_fit_p": float(stats.chi2.sf(chi2, df)) if df > 0 else None, "aic": chi2 + 2 * X.shape[1]}
    out["cells"] = {"model": MODELS["cells"][0], "parameters": G, "params": [], "chi2": 0.0, "df": 0, "lack_of_fit_p": None,
                    "aic": 2.0 * G}
    best = min(m["aic"] for m in out.values())
    for m in out.values():
        m["delta_aic"] = m["aic"] - best
    return out


_Z = stats.norm.ppf(EVIDENCE_LEVEL)  # one-sided 95 % bound; also the half-width of the two-sided 90 % interval
_Z95 = stats.norm.ppf(0.975)
_TESTS = {
    "N_flat": ("N", (0, 0, 1), -DELTA_FAIL, "N-region: no growth as ε → 0 (H1: slope in ε against the theorem's scale < −{m:g})",
               "N-region: slope in ε against the theorem's scale"),
    "N_diagonal": ("N", (0, 1, 1), 0.5 - DELTA_FAIL, "N-region: diagonal exponent (H1: α + β against the theorem's scale < 1/2 − {d:g})",
                   "N-region: α + β against the theorem's scale"),
    "eps_flat": ("eps", (0, 1, 0), -DELTA_FAIL, "ε-region: no growth as N → ∞ (H1: slope in 1/N against the theorem's scale < −{m:g})",
                 "ε-region: slope in 1/N against the theorem's scale"),
    "eps_diagonal": ("eps", (0, 1, 1), 0.5 - DELTA_FAIL,
                     "ε-region: diagonal exponent (H1: α + β against the theorem's scale < 1/2 − {d:g})",
                     "ε-region: α + β against the theorem's scale"),
}
"""Each test: its region, the combination w of (k, α, β) it judges, its null boundary (H0 w·θ ≥ boundary), its name and the
name of its estimate."""
TEST_COUNT = len(_TESTS)


def _interval(estimate: float, se: float) -> list[float]:
    return [estimate - _Z95 * se, estimate + _Z95 * se]


def judge(cells: pd.DataFrame, *, alpha: float = 0.05, delta: float = DELTA, delta_flat: float = DELTA_FLAT,
          claim: str = NAME) -> ClaimResult:
    """The claim's tests, evidence and whole-grid comparison on a :func:`cell_table` (undecided:
    the verdict is left to :func:`mfcheck.stats.results.decide`)."""
    resolved = cells[cells["resolved"]]
    notes = [f"the resolved cells of the {REGIONS[r]} ({int((resolved['region'] == r).sum())} of {int((cells['region'] == r).sum())}) "
             f"do not determine its fit (at least {MIN_REGION_CELLS}, varying N and ε independently): refine the reference or move "
             "the grid." for r in REGIONS if not _determined(resolved[resolved["region"] == r])]
    details = {"cells": cells.to_dict(orient="records"), "delta": delta, "delta_flat": delta_flat, "delta_fail": DELTA_FAIL}
    if notes:
        return ClaimResult(claim=claim, verdict="unresolved", alpha=alpha, tests=(), unresolved=" ".join(notes), details=details)
    theorem, own = {}, {}
    for r in REGIONS:
        sub = resolved[resolved["region"] == r]
        theorem[r], own[r] = fit_region(sub, "log_theorem"), fit_region(sub, "log_own")
    tests, estimates, evidence = [], {}, []
    for key, (r, w, boundary, name, statistic) in _TESTS.items():
        est, se = theorem[r].combination(w)
        p = float(stats.norm.cdf((est - boundary) / se)) if se > 0 else float(est < boundary)
        estimates[statistic] = {"estimate": est, "ci": _interval(est, se), "threshold": boundary}
        tests.append(Test(name.format(m=DELTA_FAIL, d=DELTA_FAIL), p, statistic=statistic))
    R = int(cells["R"].min())
    needed = []  # the replicates each lacking item of evidence would need
    for r, (steep, flat, steep_name, flat_name) in {"N": ((0, 1, 0), (0, 0, 1), "1/N", "ε"),
                                                    "eps": ((0, 0, 1), (0, 1, 0), "ε", "1/N")}.items():
        fit, label = own[r], REGIONS[r].split(" ")[0]
        e, se = fit.combination(steep)
        lower = e - _Z * se
        estimates[f"{label} exponent in {steep_name}"] = {"estimate": e, "ci": _interval(e, se), "predicted": 0.5}
        evidence.append(Evidence(f"{label}: exponent in {steep_name} ≥ {0.5 - delta:g} (lower bound {lower:.3f})",
                                 holds=bool(lower >= 0.5 - delta), estimate=e, bound=lower, threshold=0.5 - delta))
        if lower < 0.5 - delta:
            needed.append(replicates_to_clear(R, _Z * se, e - (0.5 - delta)))
        f, fse = fit.combination(flat)
        far = abs(f) + _Z * fse  # the end of the 90 % interval farthest from 0
        estimates[f"{label} exponent in {flat_name}"] = {"estimate": f, "ci": _interval(f, fse), "predicted": 0.0}
        evidence.append(Evidence(f"{label}: flat in {flat_name}, 90 % interval of its exponent within ±{delta_flat:g} "
                                 f"([{f - _Z * fse:.3f}, {f + _Z * fse:.3f}])", holds=bool(far <= delta_flat), estimate=f,
                                 bound=far, threshold=delta_flat))
        if far > delta_flat:
            needed.append(replicates_to_clear(R, _Z * fse, delta_flat - abs(f)))
    replicates = R if not needed else (0 if min(needed) == 0 else max(needed))
    models = compare_models(resolved)
    hinge = models["hinge"]
    tests.append(Test(f"lack of fit of the {MODELS['hinge'][0]} against the cell means (χ², H0 the hinge holds)",
                      1.0 if hinge["lack_of_fit_p"] is None else hinge["lack_of_fit_p"], counted=False,
                      note="a shape diagnostic: the theorem bounds S by the hinge up to a constant, it does not say S equals it"))
    details.update(models=models, regions={
        r: {"theorem": _fit_dict(theorem[r]), "own": _fit_dict(own[r])} for r in REGIONS})
    return ClaimResult(claim=claim, verdict="unresolved", alpha=alpha, tests=tuple(tests), evidence=tuple(evidence),
                       replicates=replicates, estimates=estimates, details=details,
                       reference_error=float(cells["reference_error"].iloc[0]) if "reference_error" in cells else math.nan)


def _fit_dict(fit: RegionFit) -> dict:
    return {"params": list(fit.params), "cov": [list(row) for row in fit.cov], "chi2": fit.chi2, "dispersion": fit.dispersion,
            "cells": fit.cells}


def run(context: CheckContext) -> ClaimResult:
    """Run the grid of the context's tier (SGD and its coupled reference in every cell, through
    :func:`mfcheck.runtime.executors.map_cells`) and judge it."""
    grid = CLAIM.sizes_for(context)
    experiment, reference = context.experiment, context.reference
    if reference is None:
        raise InvalidArgument("The hinge claim reads the solved Theorem 1 reference: `context.reference` must be given.")
    fn = functools.partial(sweep_cell, experiment, reference, grid.replicates, context.rule, context.init)
    cells = grid.cells()
    results = map_cells(fn, cells, desc=f"{context.tier.name} hinge grid", progress=context.progress, cost=cell_work)
    rows = [{"N": N, "eps": eps, "replicate": r, STATISTIC: float(s[STATISTIC][r])}
            for (_, N, eps), s in zip(cells, results) for r in range(grid.replicates)]
    ref_err = float(reference.error[STATISTIC])
    table = cell_table(pd.DataFrame(rows), D=experiment.D, J=recorded_times(experiment), kink=grid.kink, reference_error=ref_err)
    table["reference_error"] = ref_err
    result = judge(table)
    grid_d = {"N": list(grid.N), "eps": list(grid.eps), "kink": grid.kink, "replicates": grid.replicates}
    full = SIZES["full"]
    gamma = log_factor(table, D=experiment.D, T=experiment.T, kink=grid.kink,
                       full={"N": list(full.N), "eps": list(full.eps), "kink": full.kink, "replicates": full.replicates})
    return replace(result, details={**result.details, "grid": grid_d, "statistic": STATISTIC, "log_factor": gamma,
                                    "seeds": {"entropy": experiment.seed, "cell_key": 'Streams(seed).child("cell", N, repr(eps))',
                                              "replicate_streams": '("init", r) and ("data", r) under the cell key'}})


CLAIM = Check(
    name=NAME, title=TITLE, order=13, sizes=SIZES, parts=frozenset({"step", "init"}), reads_reference=True,
    statement="S ≤ C e^{CT} √max(1/N, ε) (√(D + log(N/ε)) + z): where 1/N ≥ ε, S decays like (1/N)^{1/2} and does not move "
              "with ε; where ε ≥ 1/N, S decays like ε^{1/2} and does not move with N",
    test_count=TEST_COUNT,
    alternative="the step s replaced by sqrt(s): an error that grows as ε → 0",
    inject=lambda c: replace(c, rule=BROKEN["sqrt_step"].rule), compute=run, maps_cells=True,
    outside_gate="at the ci tier its flatness evidence (the other exponent within ±δ_flat in each region) is not shown on "
                 "some seeds for correct implementations, which are then unresolved; until that rate is measured low the claim "
                 "reports the bound's shape in `mfcheck verify` and runs in the gate only when named",
)
