"""Free-energy decay along the noisy distributional dynamics (docs/theory.md §3, "Exact consequences").

**Claim.** Along ∂_t ρ_t = 2ξ ∂_θ(ρ_t ∂_θΨ_λ(θ; ρ_t)) + 2ξ β⁻¹ ∂²_θ ρ_t, the free energy
F_β(ρ) = ½R(ρ) + (λ/2)∫θ² dρ + β⁻¹∫ρ log ρ satisfies

    d/dt F_β(ρ_t) = −2ξ(t) ∫ |∂_θ(Ψ_λ(θ; ρ_t) + β⁻¹ log ρ_t(θ))|² ρ_t(dθ) ≤ 0,

(δF_β/δρ = Ψ_λ + β⁻¹(log ρ + 1), then integrate by parts), and ρ_t → ρ*, the Gibbs fixed point
ρ* = Z⁻¹ exp(−βΨ_λ(·; ρ*)), the minimiser of F_β.

**Setting.** The D = 1 problem of :func:`mfcheck.claims.temperature.setting` (population seed =
the experiment's seed: n = 64 points in d = 1, σ* = erf(w x)), λ = 0.5, β = 4, ρ_0 = N(0, 0.5²),
ξ ≡ 1. The reference is :func:`mfcheck.reference.fokker_planck.solve_fokker_planck` (Scharfetter–
Gummel finite volumes, Heun) at two levels: coarse (``cells``, dt, record spacing r) and fine
(2·cells, dt/4, r/2), same box. dt is the largest 2^{-k} fraction of r below the positivity limit.

**Which tests spend α.** None. The claim runs no implementation (its ``parts`` are empty): it
checks the harness's own Fokker–Planck solver against the dissipation identity of the noisy
limit. Its tests are preconditions (``role="precondition"``, docs/methods.md, "Decision"): each
is judged at α alone, spends no part of the family-wise α, and when one rejects the claim is
unresolved (the harness, not an implementation, is wrong; the test suite requires it to pass).

**Tests** (deterministic, p ∈ {0, 1}; H0 the claim holds):

1. *Monotone.* p = 0 iff max_j F_β(t_{j+1}) − F_β(t_j) on the fine record grid exceeds
   2 (e_F + e_fl), with e_F = max_t |F_c − F_f| / 3 the order-2 Richardson estimate of the error of
   F at the fine level and e_fl = u (n + M)(F̄ + 1) a float bound (u unit round-off, M cells).
2. *Identity.* At each interior coarse record time t, c(t) = [F(t+r) − F(t−r)]/(2r) is the centred
   derivative of the recorded F_β and D(t) the dissipation from the PDE's formula (face
   quadrature with the exact ∂Ψ, :mod:`mfcheck.reference.fokker_planck`). The discrepancy
   δ = c + D is, under the claim, a discretisation error O(dx² + r² + dt²), and every term shrinks
   at least 4× from coarse to fine. p = 0 iff max_t |δ_f| > max_t |δ_c − δ_f| / (2^1 − 1) + floor:
   the discrepancy exceeds its Richardson error estimate at the weakest order (1) one could call a
   discretisation error (equivalently an observed order below ≈ 1; expected 2; a wrong identity
   gives 0). q = max|δ_f| / (max|δ_c − δ_f| / 3) → 1 under the claim; floor = 4 e_fl / r.

The approach to ρ* (from :func:`mfcheck.reference.gibbs.solve_gibbs` at the same λ, β, on 4·cells + 1
points of the same box, interpolated to the cell centres) is *reported*, not tested:
KL(ρ_t | ρ*) = Σ ρ_j log(ρ_j/ρ*_j) dx over time and F_β(ρ_t) − F_β(ρ*). A test would need a
decay rate (a log-Sobolev constant) that the theory does not state, and KL itself is not a
Lyapunov function (F_β(ρ) − F_β(ρ*) = β⁻¹ KL(ρ|ρ*) + ½‖ŷ_ρ − ŷ_{ρ*}‖²_n is).

**Broken implementation.** ``diffusion_scale = 2`` runs the solver with diffusion 2β⁻¹ (the
c = 2 vs c = 4 confusion of docs/theory.md §2 read the other way: the law relaxes to the Gibbs
measure at β/2), while F_β and D use the declared β; ``diffusion_scale = 1/2`` (the Gibbs measure
at 2β, what c = 2 gives) likewise. Then, with s = ``diffusion_scale``,
dF_β/dt = −2ξ∫ρ ∂(Ψ_λ + β⁻¹ log ρ)·∂(Ψ_λ + s β⁻¹ log ρ) ≠ −D, a discrepancy that does not
shrink under refinement.

**False-alarm rate.** Both tests are deterministic: under the claim they fail only outside the
asymptotic range of the discretisation (q → 1 under the claim against the order-1 threshold
q = 3; q, the observed order and the slope of −dF_β/dt on D are in
``reports/free_energy/report.md``). Holm over the implementation tests of all claims keeps the
family-wise false-alarm rate ≤ α.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mfcheck.claims.base import Check, CheckContext
from mfcheck.claims.temperature import BETA, LAM, setting
from mfcheck.errors import InvalidArgument
from mfcheck.reference.gibbs import GibbsSolution, solve_gibbs
from mfcheck.reference.fokker_planck import FPSolution, default_half_width, max_stable_dt, solve_fokker_planck
from mfcheck.stats.results import ClaimResult, Test
from mfcheck.seeds import Streams

__all__ = ["CLAIM", "NAME", "TITLE", "SIZES", "Sizes", "FreeEnergyIdentity", "free_energy_identity", "kl_divergence",
           "choose_dt", "evaluate"]

NAME = "free_energy"
TITLE = "Free-energy decay: d/dt F_β(ρ_t) = −2ξ∫ρ|∂(Ψ_λ + β⁻¹ log ρ)|² ≤ 0, ρ_t → ρ*"
_U = float(np.finfo(np.float64).eps) / 2.0
_INCREMENT = "max increment of F_β"
_Q = "discrepancy / Richardson estimate (q)"
"""The estimates tests 1 and 2 judge (each test's ``statistic``); both tests are deterministic, so each
interval is the point itself."""


@dataclass(frozen=True)
class Sizes:
    """``cells`` of the coarse level (the fine one has twice as many), horizon ``T``, coarse record spacing ``record_dt``."""

    cells: int
    T: float
    record_dt: float


SIZES = {
    "smoke": Sizes(cells=100, T=3.0, record_dt=1 / 8),
    "ci": Sizes(cells=200, T=4.0, record_dt=1 / 16),
    "full": Sizes(cells=400, T=6.0, record_dt=1 / 32),
}


def choose_dt(problem, neuron, *, lam: float, beta: float, cells: int, half_width: float, record_dt: float,
              diffusion_scale: float = 1.0) -> float:
    """The largest record_dt / 2^k below :func:`max_stable_dt` (so that dt divides the record spacing)."""
    limit = max_stable_dt(problem, neuron, lam=lam, beta=beta, cells=cells, half_width=half_width, diffusion_scale=diffusion_scale)
    dt = record_dt
    while dt > limit:
        dt /= 2.0
    return dt


def kl_divergence(solution: FPSolution, gibbs: GibbsSolution) -> np.ndarray:
    """KL(ρ_t | ρ*) = Σ_j ρ_j log(ρ_j / ρ*_j) dx at the record times, ρ* interpolated to the cell centres and
    renormalised on the grid."""
    star = gibbs.density_at(solution.grid)
    star = star / (star.sum() * solution.dx)
    rho = np.maximum(solution.density, 0.0)
    pos = (rho > 0) & (star > 0)
    ratio = np.where(pos, rho, 1.0) / np.where(pos, star, 1.0)
    return np.sum(np.where(pos, rho * np.log(ratio), 0.0), axis=1) * solution.dx


def gibbs_free_energy(problem, gibbs: GibbsSolution) -> float:
    """F_β(ρ*) on the Gibbs grid (trapezoid)."""
    rho = gibbs.density
    ent = gibbs.expect(np.log(np.maximum(rho, 1e-300)))
    return float(0.5 * gibbs.risk + 0.5 * gibbs.lam * gibbs.expect(gibbs.nodes[:, 0] ** 2) + ent / gibbs.beta)


@dataclass(frozen=True)
class FreeEnergyIdentity:
    """Both levels and the quantities of tests 1–2 (arrays on the coarse interior record times ``times``)."""

    coarse: FPSolution
    fine: FPSolution
    times: np.ndarray
    c_coarse: np.ndarray
    c_fine: np.ndarray
    D_coarse: np.ndarray
    D_fine: np.ndarray
    delta_coarse: np.ndarray
    delta_fine: np.ndarray
    floor: float
    free_error: float
    max_increment: float
    increment_bound: float

    @property
    def richardson1(self) -> float:
        return float(np.max(np.abs(self.delta_coarse - self.delta_fine)))

    @property
    def threshold(self) -> float:
        return self.richardson1 + self.floor

    @property
    def ratio(self) -> float:
        """q = max|δ_f| / (max|δ_c − δ_f|/3 + floor): → 1 under the claim."""
        return float(np.max(np.abs(self.delta_fine)) / (self.richardson1 / 3.0 + self.floor))

    @property
    def observed_order(self) -> float:
        a, b = float(np.max(np.abs(self.delta_coarse))), float(np.max(np.abs(self.delta_fine)))
        return math.log2(a / b) if a > 0 and b > 0 else math.nan

    @property
    def relative_discrepancy(self) -> float:
        return float(np.max(np.abs(self.delta_fine)) / max(float(np.max(self.D_fine)), np.finfo(float).tiny))

    @property
    def slope(self) -> float:
        """Least-squares slope of −c_f on D_f (→ 1 under the claim)."""
        den = float(np.sum(self.D_fine**2))
        return float(-np.sum(self.c_fine * self.D_fine) / den) if den > 0 else math.nan

    @property
    def monotone(self) -> bool:
        return self.max_increment <= self.increment_bound

    @property
    def identity_holds(self) -> bool:
        return float(np.max(np.abs(self.delta_fine))) <= self.threshold


def free_energy_identity(problem, neuron, rho0, *, lam: float, beta: float, cells: int, T: float, record_dt: float,
                         half_width: float | None = None, diffusion_scale: float = 1.0) -> FreeEnergyIdentity:
    """Solve coarse (cells, dt, r) and fine (2·cells, dt/4, r/2) and compare c = dF/dt with −D (module docstring)."""
    L = default_half_width(problem, neuron, rho0, lam=lam, beta=beta, T=T) if half_width is None else half_width
    dt = choose_dt(problem, neuron, lam=lam, beta=beta, cells=cells, half_width=L, record_dt=record_dt, diffusion_scale=diffusion_scale)
    kw = dict(lam=lam, beta=beta, T=T, half_width=L, diffusion_scale=diffusion_scale, test_functions=(lambda th: th[:, 0],))
    coarse = solve_fokker_planck(problem, neuron, rho0, dt=dt, record_dt=record_dt, cells=cells, **kw)
    fine = solve_fokker_planck(problem, neuron, rho0, dt=dt / 4.0, record_dt=record_dt / 2.0, cells=2 * cells, **kw)
    J = len(coarse.record_times)
    if J < 3:
        raise InvalidArgument(f"`record_dt`={record_dt} must divide `T`={T} at least twice.")
    Fc, Ff = coarse.free_energy, fine.free_energy
    c_coarse = (Fc[2:] - Fc[:-2]) / (2.0 * record_dt)
    idx = 2 * np.arange(1, J - 1)
    c_fine = (Ff[idx + 1] - Ff[idx - 1]) / record_dt
    D_coarse, D_fine = coarse.dissipation[1:-1], fine.dissipation[idx]
    e_fl = _U * (problem.n + fine.grid.size) * (float(np.max(np.abs(Ff))) + 1.0)
    free_error = float(np.max(np.abs(Fc - Ff[::2]))) / 3.0
    return FreeEnergyIdentity(
        coarse=coarse, fine=fine, times=coarse.record_times[1:-1], c_coarse=c_coarse, c_fine=c_fine, D_coarse=D_coarse,
        D_fine=D_fine, delta_coarse=c_coarse + D_coarse, delta_fine=c_fine + D_fine, floor=4.0 * e_fl / record_dt,
        free_error=free_error, max_increment=float(np.max(np.diff(Ff))), increment_bound=2.0 * (free_error + e_fl),
    )



def evaluate(context: CheckContext, diffusion_scale: float = 1.0, sizes: Sizes | None = None) -> ClaimResult:
    """The check; ``diffusion_scale`` ≠ 1 judges a broken reference (diffusion diffusion_scale·β⁻¹)."""
    exp = context.experiment
    size = sizes or CLAIM.sizes_for(context)
    problem, neuron, rho0 = setting(int(exp.seed))
    ident = free_energy_identity(problem, neuron, rho0, lam=LAM, beta=BETA, cells=size.cells, T=size.T, record_dt=size.record_dt,
                                 diffusion_scale=diffusion_scale)
    L = ident.fine.half_width
    gibbs = solve_gibbs(problem, neuron, beta=BETA, lam=LAM, points=4 * size.cells + 1, box=L)
    kl_c, kl_f = kl_divergence(ident.coarse, gibbs), kl_divergence(ident.fine, gibbs)
    F_star = gibbs_free_energy(problem, gibbs)
    gap = ident.fine.free_energy - F_star
    kl_increments = np.diff(kl_f)
    tests = (
        Test(f"reference: max increment of F_β(ρ_t) ({ident.max_increment:.3g}) ≤ discretisation + round-off bound "
             f"({ident.increment_bound:.3g}) [deterministic: p ∈ {{0, 1}}]", 1.0 if ident.monotone else 0.0, role="precondition",
             statistic=_INCREMENT),
        Test(f"reference: max_t |dF_β/dt + 2ξ∫ρ|∂(Ψ_λ + β⁻¹log ρ)|²| on the fine level ({np.max(np.abs(ident.delta_fine)):.3g}) ≤ "
             f"Richardson estimate at order 1 ({ident.threshold:.3g}) [deterministic: p ∈ {{0, 1}}]",
             1.0 if ident.identity_holds else 0.0, role="precondition", statistic=_Q),
    )
    order, q, slope = ident.observed_order, ident.ratio, ident.slope
    estimates = {
        "slope of −dF_β/dt on the dissipation": {"estimate": slope, "ci": [slope, slope], "predicted": 1.0, "note": "fine level"},
        _Q: {"estimate": q, "ci": [q, q], "predicted": 1.0, "threshold": 3.0, "note": "deterministic"},
        "observed order of the discrepancy": {"estimate": order, "ci": [order, order], "predicted": 2.0,
                                              "note": "deterministic; 0 for a wrong identity"},
        "relative discrepancy (fine)": {"estimate": ident.relative_discrepancy, "ci": [ident.relative_discrepancy] * 2},
        _INCREMENT: {"estimate": ident.max_increment, "ci": [ident.max_increment] * 2, "bound": ident.increment_bound},
        "KL(ρ_T | ρ*)": {"estimate": float(kl_f[-1]), "ci": [float(min(kl_f[-1], kl_c[-1])), float(max(kl_f[-1], kl_c[-1]))],
                         "predicted": 0.0, "note": "interval: coarse and fine levels (reported, not tested)"},
        "F_β(ρ_T) − F_β(ρ*)": {"estimate": float(gap[-1]), "ci": [float(gap[-1] - ident.free_error), float(gap[-1] + ident.free_error)],
                               "predicted": 0.0},
    }
    fine, coarse = ident.fine, ident.coarse
    snaps = sorted(set(np.linspace(0, len(fine.record_times) - 1, 5).round().astype(int).tolist()))
    details = {
        "setting": {"problem": repr(problem), "neuron": repr(neuron), "rho0": repr(rho0), "lam": LAM, "beta": BETA, "xi": "constant(1.0)",
                    "diffusion_scale": diffusion_scale, "half_width": L},
        "levels": {"coarse": {"cells": coarse.grid.size, "dx": coarse.dx, "dt": coarse.dt, "record_dt": size.record_dt},
                   "fine": {"cells": fine.grid.size, "dx": fine.dx, "dt": fine.dt, "record_dt": size.record_dt / 2}},
        "times": ident.times.tolist(), "c_coarse": ident.c_coarse.tolist(), "c_fine": ident.c_fine.tolist(),
        "D_coarse": ident.D_coarse.tolist(), "D_fine": ident.D_fine.tolist(),
        "delta_coarse": ident.delta_coarse.tolist(), "delta_fine": ident.delta_fine.tolist(),
        "threshold": ident.threshold, "floor": ident.floor, "free_error": ident.free_error,
        "fine_times": fine.record_times.tolist(), "fine_free_energy": fine.free_energy.tolist(),
        "fine_dissipation": fine.dissipation.tolist(), "fine_risk": fine.risk.tolist(), "mass_error": float(np.max(np.abs(fine.mass - 1))),
        "min_density": float(np.min(fine.density)),
        "kl_fine": kl_f.tolist(), "kl_coarse": kl_c.tolist(), "kl_non_increasing": bool(np.all(kl_increments <= 1e-12)),
        "kl_max_increment": float(np.max(kl_increments)), "F_star": F_star, "gibbs": gibbs.summary(),
        "snapshots": {"grid": fine.grid.tolist(), "times": [float(fine.record_times[j]) for j in snaps],
                      "density": [fine.density[j].tolist() for j in snaps], "gibbs": gibbs.density_at(fine.grid).tolist()},
        "seeds": {"entropy": int(exp.seed), "population": f"teacher_population(seed={int(exp.seed)}) as in mfcheck.claims.temperature.setting",
                  "streams": Streams(exp.seed).child(NAME).describe(), "note": "the check is deterministic: no random draws"},
        "sizes": {"cells": size.cells, "T": size.T, "record_dt": size.record_dt},
    }
    return ClaimResult(claim=NAME, verdict="unresolved", alpha=math.nan, tests=tests, unresolved="",
                       reference_error=float(ident.free_error), estimates=estimates, details=details)


CLAIM = Check(
    name=NAME, title=TITLE, order=42, sizes=SIZES, parts=frozenset(), reads_reference=False,
    own_setting="its own D = 1 population",
    statement="d/dt F_β(ρ_t) = −2 ξ(t) ∫ |∂_θ(Ψ_λ(θ; ρ_t) + β⁻¹ log ρ_t)|² ρ_t(dθ) ≤ 0, ρ_t → ρ* = Z⁻¹ exp(−βΨ_λ(·; ρ*))",
    test_count=0,  # monotone and identity are preconditions: self-checks of the harness's solver
    alternative="a solver with twice the diffusion (its deterministic identity test fails)", deterministic=True,
    compute=evaluate,
)
