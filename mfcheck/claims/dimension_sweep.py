"""The dimension: a D-sweep of Theorem 1 at fixed N and ε, against MMN18's √(D + log(N/ε)) and MMM19's dimension-free bound.

Theorem 1 (MMN18) bounds the error of SGD against the limit ρ_t by

    S ≤ K e^{K T³} √max(1/N, ε) · (√(D + log(N/ε)) + z),

with K depending only on the constants of its assumptions, not on D. The rate claims run in one
dimension (D = 3) and cannot see how S moves with D. This claim holds N and ε fixed and moves D
alone, on experiments of one form in every dimension, and fits the exponent of D
(docs/methods.md, "The dimension: a D-sweep at fixed N and ε").

**The experiments** (:func:`dimension_experiment`). For each D in the tier's list, the default
experiment's form in d = D: n = 128 points x ~ N(0, I_D), y = tanh(2 x_1) + U(−0.2, 0.2) (the same
teacher on x_1), σ*(x; w) = erf(<w, x>), ξ ≡ 1, T = 1, and ρ_0 = N(0, (0.75/D) I_D). The variance
0.75/D is the default's 0.25 = 0.75/3 carried to every D so that <w, x> = Σ_j w_j x_j, w ~ ρ_0, has
the law N(0, 0.75 ||x||²/D), D-free since ||x||²/D → 1: each neuron starts in the same regime of erf
whatever D (a fixed per-coordinate variance would saturate erf as D grows), and D = 3 is exactly
:func:`mfcheck.model.experiment.default_experiment`. The constants of MMN18's assumptions do not move
with D either: σ* is bounded by 1; ∇_w σ* = erf'(<w, x>) x is sub-Gaussian with a D-free constant
(every projection <v, x>, ||v|| = 1, is N(0, 1)); the derivatives of V(w) = E[y σ*] and
U(w, w') = E[σ* σ*'] are E[g(<w, x>, <w', x>) x] and E[h(·) x xᵀ], which Stein's identity turns into
combinations of w, w' and I_D with D-free coefficients; ρ_0 is sub-Gaussian with variance proxy
0.75/D ≤ 0.375. So D is the only thing that moves along the sweep, and the √D of the bound is the
norm of a sub-Gaussian vector in R^D (the SGD increment 2ε(y − ŷ) erf'(<w, x>) x has norm ∝ √D).
What the finite population adds: the population is a draw of n = 128 points, so its second moment
XᵀX/n has largest eigenvalue near (1 + √(D/n))², which bounds the Lipschitz constant of the
population's field; the run records it per D (``details["population"]``).

**Reference.** Each D has its own solved reference (:func:`mfcheck.reference.refinement.build_reference`
on 2^log2_M nodes of the tier, with its refinement). A cell is judged when the reference error of
the statistic is at most ``RESOLUTION_RATIO`` × its median S, as in the rate claims; unresolved
cells are dropped from the fits and listed.

**Cells.** Cell (D, N, ε) for D in the tier's ``dims`` and (N, ε) in its ``settings``, the same
settings at every D, ``replicates`` replicates from its own seed subtree
``Streams(seed).child("dimension_sweep", D, N, repr(ε))``. The settings have Nε < 1, so
max(1/N, ε) = 1/N on every cell, at two distances from the kink: Nε = 1/4, where the ε-term of MMM19
takes over at large D, and Nε = 1/64, where MMM19's 1/N term dominates up to D = 32 (at N = 64:
√(ε(D + log N)) ≤ 0.1 < √(log N / N) ≈ 0.26).

**Statistics** (:mod:`mfcheck.claims.statistics`): the coupling max_i sup_k ||θ_i^k − θ̄_i^{kε}||
(the norm of a D-vector: where the √D shows) and the test-function statistic
max_f sup_k |(1/N) Σ f(θ_i^k) − ∫ f dρ_{kε}| / K_f (an average over particles of bounded Lipschitz
functions of fixed directions: D reaches it only through the dynamics).

**Fit** (:func:`fit_dimension`). Per cell c, m_c = the mean over replicates of log S and v_c = their
variance / R. On the resolved cells, weighted least squares (weights 1/v_c) of

    m_c = k_{s(c)} + b_D · log D_c,

one intercept per setting s = (N, ε) (so N and ε enter only as fixed levels) and one exponent b_D of
D. Covariance (XᵀWX)⁻¹ · φ, φ = max(1, χ²/(G − p)) (the overdispersion rule of the hinge claim: a
D-dependence that is not a power, or the per-D draw of the population, widens the interval instead
of being ignored). Inference is normal. The same regression with the same weights applied to
log shape(N_c, ε_c, D_c) gives the exponent each predicted shape implies on the same cells, so the
logarithmic factors are computed, not guessed:

- **MMN18** (Theorem 1): √max(1/N, ε) · √(D + log(N/ε)): exponent b_MMN18, between 0 and 1/2;
- **MMM19** (Mei, Misiakiewicz, Montanari, COLT 2019, "Mean-field theory of two-layers neural
  networks: dimension-free bounds and kernel limit"; noiseless case, z = 0, *as recalled*, the form
  of :func:`mfcheck.app.reproduce.dimension.shape_mmm19`): √(log N / N) + √ε · √(D + log N) (its
  K e^{K T³} prefactor is D-free and cancels in the exponent): D only in the ε term, so b_MMM19 ≈ 0
  where the 1/N term dominates.

Each setting's own exponent b_s (m_c = k_s + b_s log D_c, every setting with its own intercept and
slope, fitted together with φ pooled over the settings: :func:`fit_slopes`) is reported beside its
b_MMN18 and b_MMM19, over the whole sweep and over its top ``UPPER_OCTAVES`` octaves (D ≥ D_max/4).

**Test** (counted, one-sided, H0 the theorem holds), per statistic: *the error grows no faster in
D than the bound allows*: at every setting s, H0 b_s ≤ 1/2 + δ_fail (δ_fail = ``DELTA_FAIL`` of the
rate claims), b_s fitted on the top octaves, p_s = Φ((1/2 + δ_fail − b̂_s)/se_s); the statistic's test
is their Bonferroni combination p = min(1, S · min_s p_s). Why 1/2 and not b_MMN18: the theorem's
constant K absorbs any weights of the two terms under its square root,
√(aD + b log(N/ε)) ≤ max(a, b)^{1/2} √(D + log(N/ε)), so every error K'√(aD + b log(N/ε)) is inside
it, and the exponent of D of such an error on any cells lies in (0, 1/2]: 1/2 is what the bound's
factor allows, whatever its weights. b_MMN18 is the exponent at weights 1:1 only; an error whose
D-term outweighs its log term (the coupling: the max over N particles of a D-vector norm is
≈ √(D + 2 log N), a log term lighter than log(N/ε)) has a larger exponent and is still inside the
bound. Why per setting and on the top octaves: the bound holds at each fixed (N, ε), and the local
exponent of √(aD + b log(N/ε)) grows with D, so a correct error is nearest the envelope at the top of
the sweep, and an error that outgrows it shows there first (a pooled slope over settings or over the
whole range averages it away). The comparisons of the common exponent with b_MMN18
(H0 b_D ≤ b_MMN18 + δ_fail) and with b_MMM19 are reported as tests that are not counted.

**Evidence for a pass**: per statistic and setting the upper 95 % bound b̂_s + z_{0.95} se_s ≤ 1/2 + δ
on the top octaves (δ = ``DELTA``); else unresolved, with the replicates per cell that would clear it
(:func:`mfcheck.claims.fit.replicates_to_clear`).

**The broken rule it rejects** (:func:`fan_in_step`): the mean-field step at s · D/3, a learning rate
scaled with the input dimension. It is exact at D = 3, the dimension of every other Theorem 1 claim,
so none of them can see it; along the sweep its time runs D/3 times too fast, and its error grows
with D faster than D^{1/2}.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from mfcheck._validation import check_positive_int
from mfcheck.claims.base import Check, CheckContext
from mfcheck.claims.fit import DELTA, DELTA_FAIL, EVIDENCE_LEVEL, RESOLUTION_RATIO, replicates_to_clear
from mfcheck.claims.statistics import theorem1_statistics
from mfcheck.dynamics.rules import Rule, mean_field_step
from mfcheck.dynamics.sgd import StandardRecord, run_sgd
from mfcheck.errors import InvalidArgument
from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.model.experiment import Experiment
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems.finite import teacher_population
from mfcheck.reference.coupled import couple
from mfcheck.reference.refinement import build_reference
from mfcheck.runtime.executors import map_cells
from mfcheck.seeds import Streams
from mfcheck.stats.results import ClaimResult, Evidence, Test

__all__ = ["NAME", "TITLE", "STATISTICS", "Sweep", "SIZES", "ENVELOPE", "UPPER_OCTAVES", "N_POINTS", "INIT_VARIANCE", "dimension_experiment",
           "shape_mmn18", "shape_mmm19", "fan_in_step", "FAN_IN", "DimensionFit", "cell_table", "fit_dimension", "fit_slopes",
           "judge", "run",
           "CLAIM"]

NAME = "dimension_sweep"
TITLE = "Theorem 1: the dimension D at fixed N and ε"
STATISTICS = ("coupling", "test_functions")
N_POINTS = 128
"""n, the points of the finite population, the default experiment's at every D."""
INIT_VARIANCE = 0.75
"""ρ_0 = N(0, (INIT_VARIANCE/D) I_D): the default experiment's 0.25 at D = 3, and <w, x> has a D-free law."""
ENVELOPE = 0.5
"""The largest exponent of D that √(aD + b log(N/ε)) has on any cells, whatever a, b ≥ 0: the growth MMN18's factor allows."""
UPPER_OCTAVES = 2
"""The test and the evidence read the exponent of D over the top UPPER_OCTAVES octaves of the sweep (D ≥ D_max/4)."""
FAN_IN_D0 = 3
"""The dimension at which :func:`fan_in_step` is exact: the default experiment's."""


@dataclass(frozen=True)
class Sweep:
    """The D-sweep of one tier: every D of ``dims`` at every (N, ε) of ``settings``, ``replicates``
    per cell; each D's reference on 2^``log2_M`` nodes."""

    dims: tuple[int, ...]
    settings: tuple[tuple[int, float], ...]
    replicates: int
    log2_M: int

    def cells(self) -> list[tuple[int, int, float]]:
        """(D, N, ε) for every cell."""
        return [(D, N, eps) for D in self.dims for N, eps in self.settings]


SIZES = {
    "smoke": Sweep(dims=(2, 8, 32), settings=((64, 2.0**-8), (64, 2.0**-12)), replicates=16, log2_M=9),
    "ci": Sweep(dims=(2, 4, 8, 16, 32), settings=((64, 2.0**-8), (64, 2.0**-12)), replicates=32, log2_M=10),
    "full": Sweep(dims=(2, 4, 8, 16, 32), settings=((64, 2.0**-8), (64, 2.0**-12), (256, 2.0**-10), (256, 2.0**-14)),
                  replicates=64, log2_M=12),
}
"""The cost of a cell grows like N/ε and hardly with D, the cost of a reference not at all; so the smoke tier keeps three D
an octave pair apart (2, 8, 32: the fan-in bug is 2/3, 8/3 and 32/3 times the step there, while at D = 2 and 4 it is off by
the same factor 1/3 either way) rather than two adjacent ones, and the tiers differ in replicates, settings and reference
nodes. Every ε is a power of 2 at most 1/16, so the record grid of spacing 1/16 falls on SGD steps."""


def dimension_experiment(D: int, *, seed: int, log2_M: int) -> Experiment:
    """The default experiment's form in dimension D (module docstring): n = 128 points x ~ N(0, I_D),
    y = tanh(2 x_1) + U(−0.2, 0.2), σ* = erf(<w, x>), ρ_0 = N(0, (0.75/D) I_D); at D = 3 it is
    :func:`mfcheck.model.experiment.default_experiment`."""
    D = check_positive_int(D, "D")
    problem = teacher_population(N_POINTS, D, tanh_sum((1.0,), (2.0,)), seed=seed, noise=0.2)
    return Experiment(problem=problem, neuron=InnerNeuron(erf_sigmoid()), rho0=GaussianInit(D, math.sqrt(INIT_VARIANCE / D)),
                      log2_M=log2_M, seed=seed)


def shape_mmn18(N, eps, D):
    """√max(1/N, ε) · √(D + log(N/ε)): Theorem 1's scale at z = 0 (MMN18)."""
    N, eps, D = (np.asarray(v, dtype=np.float64) for v in (N, eps, D))
    return np.sqrt(np.maximum(1.0 / N, eps)) * np.sqrt(D + np.log(N / eps))


def shape_mmm19(N, eps, D):
    """√(log N / N) + √ε · √(D + log N): the dimension-free bound of MMM19 at z = 0, as recalled (the
    form of :func:`mfcheck.app.reproduce.dimension.shape_mmm19`)."""
    N, eps, D = (np.asarray(v, dtype=np.float64) for v in (N, eps, D))
    return np.sqrt(np.log(N) / N) + np.sqrt(eps) * np.sqrt(D + np.log(N))


SHAPES = {"MMN18": shape_mmn18, "MMM19": shape_mmm19}


def fan_in_step(theta, x, y, s, neuron) -> np.ndarray:
    """θ_i + 2 s (D/3) (y − ŷ)∇σ*: the mean-field step at s·D/3, a learning rate scaled with the input
    dimension, exact at D = 3 (time runs D/3 times too fast)."""
    return mean_field_step(theta, x, y, s * np.shape(theta)[-1] / FAN_IN_D0, neuron)


FAN_IN = Rule("fan_in_step", fan_in_step)
"""The broken rule of this claim (:func:`fan_in_step`)."""


def cell_streams(seed: int, D: int, N: int, eps: float) -> Streams:
    """The seed subtree of cell (D, N, ε), apart from every other claim's."""
    return Streams(seed).child(NAME, D, N, repr(float(eps)))


def _key(statistic: str, N: int, eps: float) -> str:
    return f"{statistic}|N={N}|eps={float(eps)!r}"


def dimension_cell(seed: int, log2_M: int, settings: tuple, replicates: int, rule: Rule, init, cell: tuple[str, int]) -> dict:
    """Everything at one D (``cell`` = ("D", D)): the experiment, its reference, and the statistics of
    every setting (N, ε), keyed by :func:`_key`; also the reference errors and the population's
    second-moment eigenvalue (module level, so that a ``functools.partial`` of it reaches worker processes)."""
    _, D = cell
    experiment = dimension_experiment(D, seed=seed, log2_M=log2_M)
    reference = build_reference(experiment)
    X = experiment.problem.X
    out = {f"reference_error|{s}": float(reference.error[s]) for s in STATISTICS}
    out["second_moment_top"] = float(np.linalg.eigvalsh(X.T @ X / X.shape[0])[-1])
    for N, eps in settings:
        sgd = run_sgd(experiment.problem, experiment.neuron, experiment.rho0, rule, N=N, eps=eps, T=experiment.T,
                      replicates=replicates, streams=cell_streams(seed, D, N, eps),
                      record=StandardRecord(experiment.record_dt, experiment.test_functions), schedule=experiment.schedule, init=init)
        theta_bar = couple(reference.flow, experiment.problem, experiment.neuron, sgd.theta[:, 0])
        values = theorem1_statistics(sgd, reference.flow, theta_bar, experiment.test_functions)
        out.update({_key(s, N, eps): np.asarray(values[s], dtype=float) for s in STATISTICS})
    return out


def cell_table(table: pd.DataFrame, reference_error: dict, statistic: str) -> pd.DataFrame:
    """One row per cell (D, N, ε) of a replicate table (columns D, N, eps, <statistic>): ``R``,
    ``mean_log`` (m_c), ``var_mean`` (v_c), ``median``, ``reference_error`` (of this D's reference,
    ``reference_error[D]``), ``resolved``, ``log_MMN18`` and ``log_MMM19`` (the logs of the shapes)."""
    if not {"D", "N", "eps", statistic} <= set(table.columns):
        raise InvalidArgument(f"`table` needs the columns D, N, eps and {statistic!r}, got {list(table.columns)}.")
    S = table[statistic].to_numpy(dtype=float)
    if not np.all(np.isfinite(S)) or np.any(S <= 0):
        raise InvalidArgument(f"Statistic {statistic!r} must be finite and > 0 in every replicate.")
    g = table.assign(_log=np.log(S)).groupby(["D", "N", "eps"], sort=True)
    cells = g["_log"].agg(R="count", mean_log="mean", var_log=lambda v: float(np.var(v, ddof=1)))
    cells["median"] = g[statistic].median()
    cells = cells.reset_index()
    if (cells["R"] < 2).any():
        raise InvalidArgument("Every cell needs at least 2 replicates.")
    missing = sorted(set(cells["D"]) - set(reference_error))
    if missing:
        raise InvalidArgument(f"`reference_error` needs the reference error of every D, missing {missing}.")
    cells["var_mean"] = cells.pop("var_log") / cells["R"]
    cells["reference_error"] = [float(reference_error[D]) for D in cells["D"]]
    cells["resolved"] = cells["reference_error"] <= RESOLUTION_RATIO * cells["median"]
    for name, shape in SHAPES.items():
        cells[f"log_{name}"] = np.log(shape(cells["N"], cells["eps"], cells["D"]))
    return cells


@dataclass(frozen=True)
class DimensionFit:
    """WLS of one column of the cells on [one indicator per setting, log D]: ``b`` the exponent of D,
    ``se`` (× √φ), ``dispersion`` φ, ``chi2``, ``cells``, ``settings`` (the (N, ε) of the
    intercepts, in order), ``intercepts``; and ``implied``: the exponent of D of each shape under the
    same regression with the same weights."""

    b: float
    se: float
    dispersion: float
    chi2: float
    cells: int
    settings: tuple[tuple[int, float], ...]
    intercepts: tuple[float, ...]
    implied: dict

    def interval(self, level: float = 0.95) -> list[float]:
        q = stats.norm.ppf(0.5 + level / 2)
        return [self.b - q * self.se, self.b + q * self.se]


def _design(cells: pd.DataFrame) -> tuple[np.ndarray, list[tuple[int, float]]]:
    keys = list(zip(cells["N"].astype(int), cells["eps"].astype(float)))
    settings = sorted(set(keys))
    X = np.zeros((len(cells), len(settings) + 1))
    for i, k in enumerate(keys):
        X[i, settings.index(k)] = 1.0
    X[:, -1] = np.log(cells["D"].to_numpy(dtype=float))
    return X, settings


def _wls(X: np.ndarray, cells: pd.DataFrame, column: str):
    v = cells["var_mean"].to_numpy(dtype=float)
    if np.any(v <= 0) or not np.all(np.isfinite(v)):
        raise InvalidArgument("Every cell's `var_mean` must be finite and > 0.")
    w = 1.0 / v
    bread = np.linalg.inv(X.T @ (X * w[:, None]))

    def solve(y):
        beta = bread @ (X.T @ (w * y))
        return beta, float(np.sum(w * (y - X @ beta) ** 2))

    beta, chi2 = solve(cells[column].to_numpy(dtype=float))
    dof = len(cells) - X.shape[1]
    phi = max(1.0, chi2 / dof) if dof > 0 else 1.0
    implied = {name: solve(cells[f"log_{name}"].to_numpy(dtype=float))[0] for name in SHAPES if f"log_{name}" in cells}
    return beta, bread * phi, chi2, phi, implied


def fit_dimension(cells: pd.DataFrame, column: str = "mean_log") -> DimensionFit:
    """The common fit of the module docstring, k_s + b_D log D, on the rows ``cells`` (resolved ones: the caller's choice)."""
    X, settings = _design(cells)
    p = X.shape[1]
    if len(cells) <= p - 1 or np.linalg.matrix_rank(X) < p:
        raise InvalidArgument(f"A D fit needs cells at two D or more within a setting (got {len(cells)} cells over "
                              f"{len(settings)} setting(s) and D ∈ {sorted(set(cells['D']))}).")
    beta, cov, chi2, phi, implied = _wls(X, cells, column)
    return DimensionFit(b=float(beta[-1]), se=float(math.sqrt(cov[-1, -1])), dispersion=phi, chi2=chi2, cells=len(cells),
                        settings=tuple(settings), intercepts=tuple(float(k) for k in beta[:-1]),
                        implied={name: float(b[-1]) for name, b in implied.items()})


def fit_slopes(cells: pd.DataFrame, column: str = "mean_log") -> dict:
    """The exponent of D at each fixed (N, ε): weighted least squares of m_c = k_s + b_s log D_c (an intercept and a
    slope per setting s, fitted together so that the dispersion φ = max(1, χ²/(G − 2S)) is pooled over the settings).
    Only settings with cells at two D or more enter. Returns ``dispersion``, ``chi2`` and ``settings``: (N, ε) ->
    ``b``, ``se``, ``ci``, ``cells`` and ``implied`` (each shape's slope under the same regression)."""
    keys = list(zip(cells["N"].astype(int), cells["eps"].astype(float)))
    settings = [s for s in sorted(set(keys)) if cells[[k == s for k in keys]]["D"].nunique() >= 2]
    if not settings:
        raise InvalidArgument(f"A D fit needs cells at two D or more within a setting (got D ∈ {sorted(set(cells['D']))}).")
    keep = np.array([k in settings for k in keys])
    cells = cells[keep]
    keys = [k for k, kept in zip(keys, keep) if kept]
    S = len(settings)
    X = np.zeros((len(cells), 2 * S))
    logD = np.log(cells["D"].to_numpy(dtype=float))
    for i, k in enumerate(keys):
        X[i, settings.index(k)] = 1.0
        X[i, S + settings.index(k)] = logD[i]
    beta, cov, chi2, phi, implied = _wls(X, cells, column)
    q = stats.norm.ppf(0.975)
    out = {}
    for j, (N, eps) in enumerate(settings):
        b, se = float(beta[S + j]), float(math.sqrt(cov[S + j, S + j]))
        out[(N, eps)] = {"N": N, "eps": eps, "b": b, "se": se, "ci": [b - q * se, b + q * se],
                         "cells": int(sum(k == (N, eps) for k in keys)),
                         "implied": {name: float(v[S + j]) for name, v in implied.items()}}
    return {"dispersion": phi, "chi2": chi2, "settings": out}


_Z = stats.norm.ppf(EVIDENCE_LEVEL)


def _p_above(estimate: float, se: float, boundary: float) -> float:
    """p of H0 b ≤ boundary against b > boundary (normal)."""
    return float(stats.norm.sf((estimate - boundary) / se)) if se > 0 else float(estimate > boundary)


def _fit_dict(fit: DimensionFit) -> dict:
    return {"b": fit.b, "se": fit.se, "ci": fit.interval(), "dispersion": fit.dispersion, "chi2": fit.chi2, "cells": fit.cells,
            "settings": [list(s) for s in fit.settings], "intercepts": list(fit.intercepts), "implied": fit.implied}


def _label(N: int, eps: float) -> str:
    return f"N = {N}, ε = 2^{round(math.log2(eps))}"


def judge(tables: dict, *, alpha: float = 0.05, delta: float = DELTA, delta_fail: float = DELTA_FAIL, claim: str = NAME) -> ClaimResult:
    """The tests and evidence of the module docstring on ``tables`` (statistic -> :func:`cell_table`);
    undecided (the verdict is left to :func:`mfcheck.stats.results.decide`)."""
    if not tables:
        raise InvalidArgument("`tables` must hold the cell table of at least one statistic.")
    tests, evidence, estimates, notes, needed = [], [], {}, [], []
    details = {"statistics": {}, "delta": delta, "delta_fail": delta_fail, "envelope": ENVELOPE}
    R = min(int(c["R"].min()) for c in tables.values())
    limit = ENVELOPE + delta_fail
    for statistic, cells in tables.items():
        resolved = cells[cells["resolved"]]
        dropped = cells[~cells["resolved"]]
        entry = {"cells": cells.to_dict(orient="records"),
                 "dropped": [{"D": int(c.D), "N": int(c.N), "eps": float(c.eps)} for c in dropped.itertuples()]}
        details["statistics"][statistic] = entry
        try:
            fit, slopes = fit_dimension(resolved), fit_slopes(resolved)
        except InvalidArgument as e:
            notes.append(f"{statistic}: the resolved cells ({len(resolved)} of {len(cells)}) do not determine the exponent of D ({e}) "
                         "Refine the references or move the settings.")
            continue
        top = resolved[resolved["D"] >= resolved["D"].max() / 2**UPPER_OCTAVES]
        try:
            upper_slopes = fit_slopes(top)
        except InvalidArgument as e:
            notes.append(f"{statistic}: the resolved cells of the top {UPPER_OCTAVES} octaves of D do not determine its exponent ({e}) "
                         "Refine the references or move the settings.")
            continue
        lacking = [s for s in zip(cells["N"].astype(int), cells["eps"].astype(float)) if s not in upper_slopes["settings"]]
        if lacking:
            notes.append(f"{statistic}: too few resolved D at {'; '.join(sorted({_label(*s) for s in lacking}))} to fit its exponent "
                         "of D. Refine the references or move the settings.")
        entry["fit"] = _fit_dict(fit)
        entry["sweep_slopes"] = {"dispersion": slopes["dispersion"], "chi2": slopes["chi2"], "settings": list(slopes["settings"].values())}
        entry["slopes"] = {"dispersion": upper_slopes["dispersion"], "chi2": upper_slopes["chi2"], "settings": [],
                           "D_min": int(top["D"].min()), "D_max": int(top["D"].max())}
        estimates[f"{statistic}: exponent of D (common, whole sweep)"] = {"estimate": fit.b, "ci": fit.interval()}
        for (N, eps), sl in slopes["settings"].items():
            estimates[f"{statistic}: exponent of D at {_label(N, eps)} (whole sweep)"] = {"estimate": sl["b"], "ci": sl["ci"]}
        p_values = []
        for (N, eps), sl in upper_slopes["settings"].items():
            p = _p_above(sl["b"], sl["se"], limit)
            p_values.append(p)
            upper = sl["b"] + _Z * sl["se"]
            entry["slopes"]["settings"].append({**sl, "p_value": p, "upper": upper})
            estimates[f"{statistic}: exponent of D at {_label(N, eps)} (top octaves)"] = {"estimate": sl["b"], "ci": sl["ci"],
                                                                                           "threshold": limit}
            evidence.append(Evidence(f"{statistic} at {_label(N, eps)}: exponent of D in its top octaves ≤ {ENVELOPE + delta:g} (upper bound {upper:.3f})",
                                     holds=bool(upper <= ENVELOPE + delta), estimate=sl["b"], bound=upper, threshold=ENVELOPE + delta))
            if upper > ENVELOPE + delta:
                needed.append(replicates_to_clear(R, _Z * sl["se"], ENVELOPE + delta - sl["b"]))
        tests.append(Test(f"{statistic}: growth in D at fixed (N, ε) within MMN18's factor (H1: at some setting the exponent of D over D ≥ "
                          f"{int(top['D'].min())} > "
                          f"{ENVELOPE:g} + {delta_fail:g}; Bonferroni over {len(p_values)} setting{'s' * (len(p_values) != 1)})",
                          min(1.0, len(p_values) * min(p_values)), statistic=f"{statistic}: exponent of D"))
        for name, why in (("MMN18", "the theorem's constant absorbs the weights of D and log(N/ε) under its square root"),
                          ("MMM19", "MMM19's bound as recalled, not the theorem under test")):
            estimates[f"{statistic}: {name} shape's exponent of D (common fit)"] = {"estimate": fit.implied[name],
                                                                                    "ci": [fit.implied[name]] * 2}
            tests.append(Test(f"{statistic}: common exponent of D against the {name} shape's (H1: > b_{name} + {delta_fail:g})",
                              _p_above(fit.b, fit.se, fit.implied[name] + delta_fail), counted=False,
                              statistic=f"{statistic}: exponent of D (common)", note=f"reported: {why}"))
    if notes:
        return ClaimResult(claim=claim, verdict="unresolved", alpha=alpha, tests=tuple(tests), evidence=tuple(evidence),
                           unresolved=" ".join(notes), estimates=estimates, details=details, replicates=R)
    replicates = R if not needed else (0 if min(needed) == 0 else max(needed))
    ref = max(float(c["reference_error"].max()) for c in tables.values())
    return ClaimResult(claim=claim, verdict="unresolved", alpha=alpha, tests=tuple(tests), evidence=tuple(evidence),
                       replicates=replicates, estimates=estimates, details=details, reference_error=ref)


def run(context: CheckContext) -> ClaimResult:
    """Run the sweep of the context's tier (one :func:`dimension_cell` per D through
    :func:`mfcheck.runtime.executors.map_cells`) and judge it. The experiments take only the seed of
    ``context.experiment``; the implementation under test is ``context.rule`` and ``context.init``."""
    sweep = CLAIM.sizes_for(context)
    seed = context.experiment.seed
    fn = functools.partial(dimension_cell, seed, sweep.log2_M, sweep.settings, sweep.replicates, context.rule, context.init)
    results = map_cells(fn, [("D", D) for D in sweep.dims], desc=f"{context.tier.name} dimension sweep", progress=context.progress)
    by_D = dict(zip(sweep.dims, results))
    tables = {}
    for statistic in STATISTICS:
        rows = [{"D": D, "N": N, "eps": eps, "replicate": r, statistic: float(v)}
                for D, N, eps in sweep.cells() for r, v in enumerate(by_D[D][_key(statistic, N, eps)])]
        tables[statistic] = cell_table(pd.DataFrame(rows), {D: by_D[D][f"reference_error|{statistic}"] for D in sweep.dims}, statistic)
    result = judge(tables)
    details = {**result.details,
               "sweep": {"dims": list(sweep.dims), "settings": [list(s) for s in sweep.settings], "replicates": sweep.replicates,
                         "log2_M": sweep.log2_M},
               "population": {str(D): {"second_moment_top": by_D[D]["second_moment_top"],
                                       "marchenko_pastur_edge": (1 + math.sqrt(D / N_POINTS)) ** 2} for D in sweep.dims},
               "experiments": {str(D): dimension_experiment(D, seed=seed, log2_M=sweep.log2_M).describe() for D in sweep.dims},
               "seeds": {"entropy": seed, "cell_key": f'Streams(seed).child("{NAME}", D, N, repr(eps))',
                         "replicate_streams": '("init", r) and ("data", r) under the cell key',
                         "reference_key": 'Streams(seed).child("reference") of each D\'s experiment'}}
    return replace(result, details=details)


CLAIM = Check(
    name=NAME, title=TITLE, order=14, sizes=SIZES, parts=frozenset({"step", "init"}), reads_reference=False,
    own_setting="its own experiments in D ∈ {2, …, 32} (the default experiment's form in each dimension)",
    statement="at fixed N and ε, S ≤ K e^{KT³} √max(1/N, ε) (√(D + log(N/ε)) + z) with K free of D: the coupling and "
              "test-function errors grow with D no faster than D^{1/2}",
    test_count=len(STATISTICS),
    alternative="the step at s·D/3 (a learning rate scaled with the input dimension, exact at D = 3)",
    inject=lambda c: replace(c, rule=FAN_IN), compute=run, maps_cells=True,
    outside_gate="it runs on experiments of its own in every D (the gate's implementations are exercised at D = 3) and its "
                 "rate of leaving correct implementations unresolved is not yet measured; it reports how the error moves with D "
                 "in `mfcheck verify` and runs in the gate only when named",
)
