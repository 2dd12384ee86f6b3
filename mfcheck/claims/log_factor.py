"""The log factor of Theorem 1's bound, estimated on the hinge's grid: its strength γ, and whether the grid can tell it.

Theorem 1 bounds S by C e^{CT} √max(1/N, ε) (√(D + log(N/ε)) + z). The rate claims and the
hinge's region fits divide the factor √(D + log(N/ε)) out; this module estimates it. Write
ℓ = log √(D + log(N/ε)), with D the parameter dimension of the experiment: the theorem's own
factor (the column ``log_theorem`` of :func:`mfcheck.claims.hinge.cell_table`, the one the hinge's
tests divide out), so that γ keeps the theorem's meaning. (A different D only bends ℓ differently
in log(N/ε); with the theorem's D, γ = 1 is the factor exactly as stated.)

**Why the hinge's regions are the design.** In the N-region max(1/N, ε) = 1/N, so at fixed N the
scale √(1/N) does not move with ε while log(N/ε) grows as ε → 0: every ε-dependence the bound
allows there is the log factor's. The model, on the N-region's resolved cells,

    m_c = k + α · log(1/N_c) + γ · ℓ_c,

is the region fit with its free slope in ε replaced by the log factor's: α is read across N, γ
along ε at fixed N. In the ε-region the roles swap (at fixed ε, log(N/ε) grows with N):

    m_c = k + β · log ε_c + γ · ℓ_c,

and a **joint** fit shares one γ between the two regions (the theorem has one log factor), each
region keeping its own constant and its own exponent in its dominant variable (5 parameters):

    m_c = k_r + a_r · log(scale_r) + γ · ℓ_c,   scale_N = 1/N, scale_ε = ε.

m_c and v_c are the cell means of log S and their variances (the region fits' data); weighted least
squares with weights 1/v_c, covariance (XᵀWX)⁻¹ · φ, φ = max(1, χ²/(G − p)) (the region fits' rule),
and normal 95 % intervals γ̂ ± 1.96 se. γ = 1 is the factor at full strength, γ = 0 no log factor;
the theorem is an upper bound, so any γ ≤ 1 is allowed by it, and a γ̂ below 0 says that S falls
where ℓ rises faster than the log factor can account for (near the kink, the other term of the
scale still moves S).

**Identifiability.** γ is *identified* when se(γ̂) ≤ ``SE_IDENTIFIED`` = 1/(2 · 1.96): then the
95 % interval is at most 1 wide, the distance between γ = 1 and γ = 0, so at γ = 1 it excludes 0
with probability Φ(1/se − 1.96) ≥ 97.5 % (and at γ = 0 it excludes 1 as often). Otherwise the
verdict is *not identifiable at this tier*. The criterion is one of the design (se), not of the
estimate: a γ̂ whose interval misses 0 on a design that cannot tell γ = 1 from γ = 0 is a misfit
of the model (see above), not a measured log factor.

**What it would take.** The sampling standard error se₁ (φ = 1: the best case, the model fitting
its cells) scales like 1/√R through v_c = s_c²/R, so R* = ⌈R · (se₁ / SE_IDENTIFIED)²⌉ replicates
per cell would identify γ on the same cells, at R*/R times the cost. The other way is range:
ℓ grows like ½ log log(1/ε), so its spread over a region is small and grows slowly. Projected
designs (:func:`project_se`) put every cell's variance at the region's pooled per-replicate
variance s² = Σ (R_c − 1) s_c² / Σ (R_c − 1) of the measured cells, over R replicates, and compute
se₁ = √[(XᵀWX)⁻¹]_γγ directly: :func:`extend_to_identify` adds levels of ε below the grid's (the
grid's ratio between levels; N-region), or of N above it (ε-region), until se₁ ≤ ``SE_IDENTIFIED``,
and reports the smallest ε (steps per run T/ε) or largest N, and the particle updates R · Σ N T/ε of
the region's cells relative to those of the whole measured grid. These are projections, not
measurements: they hold the variances of log S and the model fixed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from mfcheck.errors import InvalidArgument

__all__ = ["Z95", "SE_IDENTIFIED", "MAX_EXTRA_LEVELS", "FITS", "log_term", "design", "GammaFit", "fit_gamma", "pooled_variance",
           "replicates_to_identify", "grid_cells", "project_se", "extend_to_identify", "log_factor"]

Z95 = float(stats.norm.ppf(0.975))
SE_IDENTIFIED = 1.0 / (2.0 * Z95)
"""γ is identified when its standard error is at most this: a 95 % interval at most 1 wide (γ = 1 and γ = 0 apart)."""
MAX_EXTRA_LEVELS = 200
"""The projections add at most this many levels (of ε below the grid, of N above it) before reporting that none suffice."""
FITS = {"N": "N-region: m = k + α log(1/N) + γ ℓ", "eps": "ε-region: m = k + β log ε + γ ℓ",
        "joint": "both regions: m = k_r + a_r log(scale_r) + γ ℓ"}
VERDICTS = ("identified", "not identifiable at this tier")


def log_term(N, eps, D: float) -> np.ndarray:
    """ℓ = log √(D + log(N/ε)), the theorem's log factor in log scale; needs D + log(N/ε) > 0."""
    N, eps = np.asarray(N, dtype=float), np.asarray(eps, dtype=float)
    if np.any(N <= 0) or np.any(eps <= 0):
        raise InvalidArgument("N and ε must be > 0.")
    inner = D + np.log(N) - np.log(eps)
    if np.any(inner <= 0):
        raise InvalidArgument("The log factor needs D + log(N/ε) > 0 on every cell.")
    return 0.5 * np.log(inner)


def design(fit: str, N, eps, region, D: float) -> np.ndarray:
    """The design matrix of ``fit`` ("N", "eps" or "joint"; module docstring) on cells of the given
    regions ("N" or "eps" each); γ is the last column."""
    N, eps, region = np.asarray(N, dtype=float), np.asarray(eps, dtype=float), np.asarray(region)
    ell = log_term(N, eps, D)
    if fit == "N":
        return np.stack([np.ones_like(N), np.log(1.0 / N), ell], axis=1)
    if fit == "eps":
        return np.stack([np.ones_like(N), np.log(eps), ell], axis=1)
    if fit == "joint":
        inN, ine = (region == "N").astype(float), (region == "eps").astype(float)
        return np.stack([inN, ine, inN * np.log(1.0 / N), ine * np.log(eps), ell], axis=1)
    raise InvalidArgument(f"`fit` must be one of {sorted(FITS)}, got {fit!r}.")


def _cells_of(cells: pd.DataFrame, fit: str) -> pd.DataFrame:
    """The resolved cells a fit reads: its region's, or both regions' for the joint fit."""
    regions = ("N", "eps") if fit == "joint" else (fit,)
    keep = cells["region"].isin(regions)
    if "resolved" in cells:
        keep &= cells["resolved"].astype(bool)
    return cells[keep]


def _bread(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(XᵀWX)⁻¹, W = diag(1/v); InvalidArgument when the cells do not determine the parameters."""
    if len(X) < X.shape[1] or np.linalg.matrix_rank(X) < X.shape[1]:
        raise InvalidArgument(f"The cells ({len(X)}) do not determine the {X.shape[1]} parameters of the fit.")
    if np.any(~np.isfinite(v)) or np.any(v <= 0):
        raise InvalidArgument("Every cell needs a finite variance > 0.")
    return np.linalg.inv(X.T @ (X / v[:, None]))


def _gamma_se(X: np.ndarray, v: np.ndarray) -> float:
    return float(math.sqrt(_bread(X, v)[-1, -1]))


class GammaFit:
    """One fit of γ: ``gamma``, ``se`` (with the dispersion φ), ``se_sampling`` (φ = 1), ``ci``
    (95 %), ``params``/``names``/``cov``, ``chi2``, ``dispersion``, ``cells``, ``replicates`` (the
    smallest R of its cells) and ``verdict``."""

    def __init__(self, fit: str, params, names, cov, chi2: float, dispersion: float, cells: int, replicates: int, se_sampling: float):
        self.fit, self.params, self.names = fit, [float(p) for p in params], list(names)
        self.cov = [[float(c) for c in row] for row in cov]
        self.chi2, self.dispersion, self.cells, self.replicates = float(chi2), float(dispersion), int(cells), int(replicates)
        self.gamma, self.se, self.se_sampling = self.params[-1], float(math.sqrt(self.cov[-1][-1])), float(se_sampling)
        self.ci = [self.gamma - Z95 * self.se, self.gamma + Z95 * self.se]
        self.verdict = VERDICTS[0] if self.se <= SE_IDENTIFIED else VERDICTS[1]

    def to_dict(self) -> dict:
        R_star = replicates_to_identify(self.replicates, self.se_sampling)
        return {"model": FITS[self.fit], "gamma": self.gamma, "se": self.se, "ci": self.ci, "se_sampling": self.se_sampling,
                "verdict": self.verdict, "params": self.params, "names": self.names, "cov": self.cov, "chi2": self.chi2,
                "dispersion": self.dispersion, "cells": self.cells, "replicates": self.replicates,
                "replicates_to_identify": R_star, "cost_to_identify": R_star / self.replicates,
                "ci_excludes_0": bool(self.ci[0] > 0 or self.ci[1] < 0), "ci_excludes_1": bool(self.ci[0] > 1 or self.ci[1] < 1)}


_NAMES = {"N": ["k", "α", "γ"], "eps": ["k", "β", "γ"], "joint": ["k_N", "k_ε", "α (N-region)", "β (ε-region)", "γ"]}


def fit_gamma(cells: pd.DataFrame, fit: str, *, D: float) -> GammaFit:
    """The fit ``fit`` ("N", "eps", "joint") on the resolved cells of a hinge cell table (columns N,
    eps, R, mean_log, var_mean, region and optionally resolved)."""
    if fit not in FITS:
        raise InvalidArgument(f"`fit` must be one of {sorted(FITS)}, got {fit!r}.")
    need = {"N", "eps", "R", "mean_log", "var_mean", "region"}
    if not need <= set(cells.columns):
        raise InvalidArgument(f"`cells` needs the columns {sorted(need)}, got {list(cells.columns)}.")
    sub = _cells_of(cells, fit)
    X = design(fit, sub["N"], sub["eps"], sub["region"], D)
    y, v = sub["mean_log"].to_numpy(dtype=float), sub["var_mean"].to_numpy(dtype=float)
    bread = _bread(X, v)
    beta = bread @ (X.T @ (y / v))
    chi2 = float(np.sum((y - X @ beta) ** 2 / v))
    dof = len(sub) - X.shape[1]
    phi = max(1.0, chi2 / dof) if dof > 0 else 1.0
    return GammaFit(fit, beta, _NAMES[fit], bread * phi, chi2, phi, len(sub), int(sub["R"].min()), math.sqrt(bread[-1, -1]))


def pooled_variance(cells: pd.DataFrame, region: str) -> float:
    """s² = Σ (R_c − 1) s_c² / Σ (R_c − 1) over the region's resolved cells, s_c² = R_c v_c the
    per-replicate variance of log S."""
    sub = _cells_of(cells, region)
    if sub.empty:
        raise InvalidArgument(f"No resolved cell in region {region!r}.")
    R = sub["R"].to_numpy(dtype=float)
    return float(np.sum((R - 1) * R * sub["var_mean"].to_numpy(dtype=float)) / np.sum(R - 1))


def replicates_to_identify(replicates: int, se_sampling: float) -> int:
    """R* = ⌈R (se₁ / SE_IDENTIFIED)²⌉, at least 1: the replicates per cell at which the sampling
    standard error se₁ (measured at R, ∝ 1/√R) reaches ``SE_IDENTIFIED``."""
    if replicates < 1 or not se_sampling > 0:
        raise InvalidArgument("`replicates` must be ≥ 1 and `se_sampling` > 0.")
    return max(1, math.ceil(replicates * (se_sampling / SE_IDENTIFIED) ** 2 - 1e-9))


def grid_cells(N: Sequence[float], eps: Sequence[float], kink: float) -> pd.DataFrame:
    """Every (N, ε) of a factorial grid with its region (the hinge's rule: "N" when Nε ≤ 1/kink,
    "eps" when Nε ≥ kink, "" between)."""
    NN, ee = np.meshgrid(np.asarray(N, dtype=float), np.asarray(eps, dtype=float), indexing="ij")
    NN, ee = NN.ravel(), ee.ravel()
    x = NN * ee
    region = np.where(x <= (1 + 1e-12) / kink, "N", np.where(x >= kink * (1 - 1e-12), "eps", ""))
    return pd.DataFrame({"N": NN, "eps": ee, "region": region})


def project_se(N: Sequence[float], eps: Sequence[float], kink: float, replicates: int, variance: dict, fit: str, D: float) -> float:
    """The sampling standard error of γ̂ (φ = 1) of ``fit`` on the grid N × ε, every cell of region r
    with variance ``variance[r]`` / ``replicates`` (a projection: module docstring)."""
    cells = grid_cells(N, eps, kink)
    cells = cells[cells["region"].isin(("N", "eps") if fit == "joint" else (fit,))]
    v = cells["region"].map(lambda r: variance[r]).to_numpy(dtype=float) / replicates
    return _gamma_se(design(fit, cells["N"], cells["eps"], cells["region"], D), v)


def _updates(cells: pd.DataFrame, T: float, replicates: int) -> float:
    return float(replicates * np.sum(cells["N"] * T / cells["eps"]))


def extend_to_identify(fit: str, N: Sequence[float], eps: Sequence[float], kink: float, replicates: int, variance: dict, D: float,
                       T: float, max_levels: int = MAX_EXTRA_LEVELS) -> dict:
    """Add levels of ε below the grid (``fit`` "N") or of N above it (``fit`` "eps"), at the grid's
    ratio between consecutive levels, until the projected se₁ of γ̂ (:func:`project_se`) is at most
    ``SE_IDENTIFIED``. Returns ``levels`` (None when ``max_levels`` do not suffice), ``se`` (at
    those levels, or at ``max_levels``), ``eps_min``/``steps`` (T/ε_min) or ``N_max``, and
    ``cost_ratio``: the particle updates of the region's cells over those of the whole grid N × ε."""
    if fit not in ("N", "eps"):
        raise InvalidArgument(f"Only a region fit (\"N\", \"eps\") extends, got {fit!r}.")
    if len(N) < 2 or len(eps) < 2:
        raise InvalidArgument("The grid needs at least two levels of N and of ε.")
    N, eps = sorted(float(n) for n in N), sorted(float(e) for e in eps)
    base = _updates(grid_cells(N, eps, kink), T, replicates)
    se, levels = math.nan, None
    for k in range(0, max_levels + 1):
        if fit == "N":
            ratio = eps[1] / eps[0]
            Ns, es = N, [eps[0] / ratio**j for j in range(k, 0, -1)] + eps
        else:
            ratio = N[-1] / N[-2]
            Ns, es = N + [N[-1] * ratio**j for j in range(1, k + 1)], eps
        try:
            se = project_se(Ns, es, kink, replicates, variance, fit, D)
        except InvalidArgument:
            continue  # too few cells yet
        if se <= SE_IDENTIFIED:
            levels = k
            break
    out = {"levels": levels, "se": se, "max_levels": max_levels}
    cells = grid_cells(Ns, es, kink)
    cost = _updates(cells[cells["region"] == fit], T, replicates) / base
    if fit == "N":
        out.update(eps_min=es[0], log2_eps_min=math.log2(es[0]), steps=T / es[0], cost_ratio=cost)
    else:
        out.update(N_max=Ns[-1], log2_N_max=math.log2(Ns[-1]), cost_ratio=cost)
    return out


def log_factor(cells: pd.DataFrame, *, D: float, T: float, kink: float, full: dict | None = None) -> dict:
    """Everything the hinge report says about γ, from its cell table: ``fits`` (N, eps, joint:
    :meth:`GammaFit.to_dict`, or ``{"error": ...}`` where the cells do not determine a fit),
    ``pooled_variance`` per region, ``extension`` (:func:`extend_to_identify` per region),
    ``full`` (the projected se₁ per fit on the grid ``full`` = {"N", "eps", "kink", "replicates"},
    with the replicates it would need) and the criterion ``se_identified``."""
    out: dict = {"D": D, "T": T, "se_identified": SE_IDENTIFIED, "z": Z95, "fits": {}, "pooled_variance": {}, "extension": {},
                 "full": None}
    for fit in FITS:
        try:
            out["fits"][fit] = fit_gamma(cells, fit, D=D).to_dict()
        except InvalidArgument as e:
            out["fits"][fit] = {"model": FITS[fit], "error": str(e)}
    for r in ("N", "eps"):
        try:
            out["pooled_variance"][r] = pooled_variance(cells, r)
        except InvalidArgument:
            pass
    R = int(cells["R"].min())
    Ns, es = sorted(cells["N"].unique()), sorted(cells["eps"].unique())
    for r in out["pooled_variance"]:
        if "error" not in out["fits"][r]:
            out["extension"][r] = extend_to_identify(r, Ns, es, kink, R, out["pooled_variance"], D, T)
    if full is not None and len(out["pooled_variance"]) == 2:
        proj = {}
        for fit in FITS:
            try:
                se1 = project_se(full["N"], full["eps"], full["kink"], full["replicates"], out["pooled_variance"], fit, D)
            except InvalidArgument as e:
                proj[fit] = {"error": str(e)}
                continue
            R_star = replicates_to_identify(full["replicates"], se1)
            proj[fit] = {"se_sampling": se1, "verdict": VERDICTS[0] if se1 <= SE_IDENTIFIED else VERDICTS[1],
                         "replicates_to_identify": R_star}
        out["full"] = {"grid": {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in full.items()}, "fits": proj,
                       "ci_projection": {fit: project_se(Ns, es, kink, R, out["pooled_variance"], fit, D)
                                         for fit in FITS if "error" not in out["fits"][fit]}}
    return out
