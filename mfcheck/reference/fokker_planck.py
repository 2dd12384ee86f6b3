"""The noisy distributional dynamics in dimension D = 1 on a grid (docs/theory.md §3, "Noisy DD").

PDE, for a finite population P = (1/n) Σ_j δ_{(x_j, y_j)} and a parameter θ ∈ R (D = 1):

    ∂_t ρ = 2ξ(t) ∂_θ(ρ ∂_θ Ψ_λ(θ; ρ)) + 2ξ(t) β⁻¹ ∂²_θ ρ,     Ψ_λ(θ; ρ) = Ψ(θ; ρ) + λθ²/2,
    Ψ(θ; ρ) = −(1/n) Σ_j (y_j − ŷ_ρ(x_j)) σ*(x_j; θ),         ŷ_ρ(x_j) = ∫ σ*(x_j; θ) ρ(dθ).

**Space.** M cells of width dx on [−L, L], centres θ_j; ρ_j is the cell average. ŷ_ρ(x_i) =
Σ_j ρ_j σ*(x_i; θ_j) dx (midpoint rule, O(dx²)), Ψ_λ is evaluated at the centres, and the flux
through the interior face j+½ is the Scharfetter–Gummel flux of the drift–diffusion form
J = −2ξ(β_D⁻¹ ∂ρ + ρ ∂Ψ_λ):

    J_{j+½} = 2ξ β_D⁻¹ / dx · [B(δ) ρ_j − B(−δ) ρ_{j+1}],   δ = β_D (Ψ_λ(θ_{j+1}) − Ψ_λ(θ_j)),   B(z) = z/(e^z − 1),

with zero flux on the two boundary faces, β_D = β / ``diffusion_scale`` (1 for the PDE above).
It is conservative (mass is exact up to round-off), second-order accurate, and its stationary
states are exactly the discrete Gibbs states ρ_j ∝ exp(−β_D Ψ_λ(θ_j; ρ)) (the flux vanishes
face by face). The box half-width L defaults to the larger of ``mfcheck.reference.gibbs.gibbs_box``
(mass of the Gibbs tail outside ≤ 1e-15; λ > 0) and |m| + 8.3 s (ρ_0 = N(m, s²), mass outside
≤ 1e-16); for λ = 0 the box is |m| + 2ξ̄GT + 8.3 sqrt(s² + 4ξ̄T/β) (drift bound G, diffusion
spread).

**Time.** Heun (explicit RK2, strong-stability preserving). The forward Euler step is
a non-negative, mass-preserving matrix when dt · (2 ξ̄ β_D⁻¹ · 2/dx² + 2ξ̄ · 2G/dx) ≤ 1,
G = sup_θ∈box |∂Ψ_λ| ≤ sup|∇V| + sup|∇₁U| + λL (B ≤ 1 + |z|, so a cell's outflow rate is at most
2ξ̄(2β_D⁻¹/dx² + 2G/dx)), so Heun, a convex
combination of Euler steps, keeps ρ ≥ 0 and is L¹-stable; a larger ``dt`` raises
:class:`~mfcheck.errors.InvalidArgument` (see :func:`max_stable_dt`).

**Observables** at the record times: R(ρ) = (1/n)Σ(y − ŷ)², ∫ f dρ = Σ_j f(θ_j) ρ_j dx,
F_β(ρ) = ½R(ρ) + (λ/2) Σ θ_j² ρ_j dx + β⁻¹ Σ ρ_j log ρ_j dx, and the dissipation from the PDE's
formula (not from the scheme's flux), on the interior faces θ_{j+½}:

    D(t) = 2ξ(t) Σ_faces ½(ρ_j + ρ_{j+1}) · |∂_θΨ_λ(θ_{j+½}; ρ) + β⁻¹ (log ρ_{j+1} − log ρ_j)/dx|² dx,

with ∂_θΨ exact through ŷ (``problem.grad_Psi_of_prediction``). Under the PDE with the declared
β, d/dt F_β = −D (docs/theory.md §3); the scheme reproduces it to O(dx² + dt²). A solver run with
``diffusion_scale`` ≠ 1 (a broken reference) does not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from mfcheck._validation import check_positive_int, check_real
from mfcheck.errors import InvalidArgument
from mfcheck.reference.gibbs import gibbs_box
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems.finite import FinitePopulation
from mfcheck.model.schedules import Schedule, constant
from mfcheck.reference._progress import StepBar

__all__ = ["FPSolution", "solve_fokker_planck", "refine_fokker_planck", "max_stable_dt", "default_half_width",
           "cell_averages_of_gaussian", "scharfetter_gummel_B"]

INIT_TAIL_Z = 8.3  # 2Φ̄(8.3) ≈ 1e-16
MAX_CELLS = 200_000


@dataclass(frozen=True)
class FPSolution:
    """The grid solution (module docstring). Arrays:

    - ``grid`` (M,) cell centres, ``dx``; ``dt`` the solver step, ``times`` (S+1,) = s·dt;
    - ``yhat`` (S+1, n): ŷ_t on the population at every solver time;
    - ``record_index`` (J,) into ``times``, ``record_times`` (J,) every ``record_dt``;
    - ``density`` (J, M), ``risk`` (J,), ``f_integrals`` (J, F), ``free_energy`` (J,), ``dissipation`` (J,).
    """

    grid: np.ndarray
    dx: float
    dt: float
    times: np.ndarray
    yhat: np.ndarray
    record_index: np.ndarray
    record_times: np.ndarray
    density: np.ndarray
    risk: np.ndarray
    f_integrals: np.ndarray
    free_energy: np.ndarray
    dissipation: np.ndarray
    lam: float
    beta: float
    diffusion_scale: float = 1.0

    @property
    def half_width(self) -> float:
        return float(self.grid[-1] + 0.5 * self.dx)

    @property
    def mass(self) -> np.ndarray:
        """Σ_j ρ_j dx at the record times (1 up to round-off)."""
        return self.density.sum(axis=1) * self.dx


def scharfetter_gummel_B(z) -> np.ndarray:
    """B(z) = z / (e^z − 1), B(0) = 1 (series 1 − z/2 + z²/12 for |z| < 1e-6)."""
    z = np.asarray(z, dtype=np.float64)
    small = np.abs(z) < 1e-6
    safe = np.where(small, 1.0, z)
    return np.where(small, 1.0 - 0.5 * z + z * z / 12.0, safe / np.expm1(safe))


def cell_averages_of_gaussian(edges: np.ndarray, mean: float, scale: float) -> np.ndarray:
    """(1/dx)·N(mean, scale²)([e_j, e_{j+1}]) for the cells of ``edges``, renormalised to mass 1 on the box
    (lower tail by the CDF, upper tail by the survival function, so the far tails keep their digits)."""
    z = (edges - mean) / scale
    lower = np.diff(norm.cdf(z))
    upper = -np.diff(norm.sf(z))
    centre = 0.5 * (z[1:] + z[:-1])
    mass = np.where(centre < 0, lower, upper)
    mass = np.maximum(mass, 0.0)
    return mass / (mass.sum() * np.diff(edges))


def _validate(problem, neuron, rho0) -> tuple[FinitePopulation, InnerNeuron, GaussianInit]:
    if not isinstance(problem, FinitePopulation):
        raise InvalidArgument(f"`problem` must be a FinitePopulation (Ψ exact through ŷ), got {problem!r}.")
    if not isinstance(neuron, InnerNeuron):
        raise InvalidArgument(f"`neuron` must be an InnerNeuron, got {neuron!r}.")
    D = neuron.dim(problem.d)
    if D != 1:
        raise InvalidArgument(f"`problem` must have d = 1 so that D = 1 (the grid solver is one-dimensional); got d={problem.d}, D={D}.")
    if not isinstance(rho0, GaussianInit) or rho0.D != 1:
        raise InvalidArgument(f"`rho0` must be a GaussianInit with D = 1, got {rho0!r}.")
    return problem, neuron, rho0


def _drift_bound(problem: FinitePopulation, neuron: InnerNeuron, lam: float, L: float) -> float:
    c = problem.constants(neuron)
    return float(c.grad_V_bound + c.grad_U_bound + lam * L)


def default_half_width(problem: FinitePopulation, neuron: InnerNeuron, rho0: GaussianInit, *, lam: float, beta: float, T: float,
                       schedule: Schedule = constant(1.0)) -> float:
    """L (module docstring): max(gibbs_box, |m| + 8.3 s) for λ > 0; |m| + 2ξ̄GT + 8.3 sqrt(s² + 4ξ̄T/β) for λ = 0."""
    init = abs(rho0.mean) + INIT_TAIL_Z * rho0.scale
    if lam > 0:
        return float(max(gibbs_box(problem, neuron, beta, lam), init))
    G = _drift_bound(problem, neuron, 0.0, 0.0)
    xi = schedule.bound
    return float(abs(rho0.mean) + 2.0 * xi * G * T + INIT_TAIL_Z * math.sqrt(rho0.scale**2 + 4.0 * xi * T / beta))


def max_stable_dt(problem: FinitePopulation, neuron: InnerNeuron, *, lam: float, beta: float, cells: int, half_width: float,
                  schedule: Schedule = constant(1.0), diffusion_scale: float = 1.0) -> float:
    """The largest dt for which the Euler stage is non-negative: 1 / (2ξ̄ (2 diffusion_scale/(β dx²) + 2G/dx))."""
    dx = 2.0 * half_width / cells
    G = _drift_bound(problem, neuron, lam, half_width)
    rate = 2.0 * schedule.bound * (2.0 * diffusion_scale / (beta * dx * dx) + 2.0 * G / dx)
    return math.inf if rate == 0 else 1.0 / rate


def _steps(total: float, step: float, name_total: str, name_step: str) -> int:
    k = total / step
    if abs(k - round(k)) > 1e-9 * max(k, 1.0) or round(k) < 1:
        raise InvalidArgument(f"`{name_step}`={step} must divide `{name_total}`={total} a whole number of times (got {k:.6g}).")
    return int(round(k))


def solve_fokker_planck(problem: FinitePopulation, neuron: InnerNeuron, rho0: GaussianInit, *, lam: float, beta: float, T: float,
                        dt: float, record_dt: float, cells: int, half_width: float | None = None,
                        test_functions: Sequence[Callable] = (), schedule: Schedule = constant(1.0),
                        diffusion_scale: float = 1.0, progress: bool = False, desc: str | None = None) -> FPSolution:
    """Solve the noisy DD on ``cells`` cells of [−L, L] to time ``T`` with Heun steps ``dt``.

    **Arguments:** ``lam`` ≥ 0, ``beta`` > 0; ``T`` > 0; ``dt`` dividing ``record_dt``, which divides ``T``, and
    dt ≤ :func:`max_stable_dt`; ``cells`` ≥ 3; ``half_width`` L (default :func:`default_half_width`);
    ``test_functions``: callables f(θ of shape (M, 1)) -> (M,); ``schedule`` ξ; ``diffusion_scale`` multiplies
    the diffusion coefficient β⁻¹ (1 for the PDE; ≠ 1 is a broken reference — the observables still use β);
    ``progress``: a bar on stderr over the T/dt steps, labelled ``desc`` (default "Fokker–Planck (M cells)");
    the numbers do not depend on it.
    """
    problem, neuron, rho0 = _validate(problem, neuron, rho0)
    lam = check_real(lam, "lam", nonnegative=True)
    beta = check_real(beta, "beta", positive=True)
    T = check_real(T, "T", positive=True)
    dt = check_real(dt, "dt", positive=True)
    record_dt = check_real(record_dt, "record_dt", positive=True)
    M = check_positive_int(cells, "cells")
    if M < 3 or M > MAX_CELLS:
        raise InvalidArgument(f"`cells` must be in [3, {MAX_CELLS}], got {M}.")
    diffusion_scale = check_real(diffusion_scale, "diffusion_scale", positive=True)
    if not isinstance(schedule, Schedule):
        raise InvalidArgument(f"`schedule` must be a Schedule, got {schedule!r}.")
    fs = tuple(test_functions)
    for i, f in enumerate(fs):
        if not callable(f):
            raise InvalidArgument(f"`test_functions[{i}]` must be callable, got {f!r}.")
    L = default_half_width(problem, neuron, rho0, lam=lam, beta=beta, T=T, schedule=schedule) if half_width is None \
        else check_real(half_width, "half_width", positive=True)
    per_record = _steps(record_dt, dt, "record_dt", "dt")
    n_records = _steps(T, record_dt, "T", "record_dt")
    S = per_record * n_records
    dt_max = max_stable_dt(problem, neuron, lam=lam, beta=beta, cells=M, half_width=L, schedule=schedule, diffusion_scale=diffusion_scale)
    if dt > dt_max * (1 + 1e-12):
        raise InvalidArgument(f"`dt`={dt} exceeds the positivity/stability limit {dt_max:.4g} of the explicit scheme for "
                              f"cells={M} on [−{L:.4g}, {L:.4g}]; lower `dt` or `cells`.")

    edges = np.linspace(-L, L, M + 1)
    dx = float(edges[1] - edges[0])
    grid = 0.5 * (edges[1:] + edges[:-1])
    faces = edges[1:-1]
    X, y, n = problem.X, problem.y, problem.n
    Sv = neuron.value(X, grid[:, None])  # (n, M)
    ridge = 0.5 * lam * grid**2
    beta_D = beta / diffusion_scale
    fvals = np.stack([np.asarray(f(grid[:, None]), dtype=np.float64).reshape(M) for f in fs], axis=1) if fs else np.zeros((M, 0))
    if not np.all(np.isfinite(fvals)):
        raise InvalidArgument("`test_functions` returned non-finite values on the grid.")

    def predict(rho):
        return Sv @ (rho * dx)

    def rhs(rho, yhat, xi):
        psi = -((y - yhat) @ Sv) / n + ridge
        delta = beta_D * np.diff(psi)
        J = (2.0 * xi / (beta_D * dx)) * (scharfetter_gummel_B(delta) * rho[:-1] - scharfetter_gummel_B(-delta) * rho[1:])
        out = np.zeros(M)
        out[:-1] -= J
        out[1:] += J
        return out / dx

    rho = cell_averages_of_gaussian(edges, rho0.mean, rho0.scale)
    times = np.arange(S + 1) * dt
    yhats = np.empty((S + 1, n))
    densities = np.empty((n_records + 1, M))
    yh = predict(rho)
    yhats[0] = yh
    densities[0] = rho
    with StepBar(S, f"Fokker–Planck ({M} cells)" if desc is None else desc, progress) as bar:
        for s in range(S):
            t = s * dt
            xi0, xi1 = float(schedule(t)), float(schedule(t + dt))
            r1 = rho + dt * rhs(rho, yh, xi0)
            r2 = r1 + dt * rhs(r1, predict(r1), xi1)
            rho = 0.5 * (rho + r2)
            yh = predict(rho)
            yhats[s + 1] = yh
            if (s + 1) % per_record == 0:
                densities[(s + 1) // per_record] = rho
            bar.done(s)
    if not np.all(np.isfinite(densities)):
        raise FloatingPointError("The Fokker–Planck solve produced non-finite values; lower `dt`.")

    record_index = np.arange(n_records + 1) * per_record
    rec_yhat = yhats[record_index]
    risk = problem.risk_of_prediction(rec_yhat)
    rho_pos = np.maximum(densities, 0.0)
    ent = np.where(rho_pos > 0, rho_pos * np.log(np.where(rho_pos > 0, rho_pos, 1.0)), 0.0).sum(axis=1) * dx
    free = 0.5 * risk + (densities @ ridge) * dx + ent / beta
    grad_faces = problem.grad_Psi_of_prediction(neuron, np.broadcast_to(faces[:, None], (len(record_index), M - 1, 1)), rec_yhat)[..., 0]
    logr = np.log(np.maximum(rho_pos, 1e-300))
    mu_grad = grad_faces + lam * faces + np.diff(logr, axis=1) / (beta * dx)
    rho_face = 0.5 * (densities[:, 1:] + densities[:, :-1])
    xi_rec = np.asarray(schedule(times[record_index]), dtype=np.float64)
    diss = 2.0 * xi_rec * np.sum(rho_face * mu_grad**2, axis=1) * dx
    return FPSolution(grid=grid, dx=dx, dt=dt, times=times, yhat=yhats, record_index=record_index, record_times=times[record_index],
                      density=densities, risk=risk, f_integrals=densities @ fvals * dx, free_energy=free, dissipation=diss,
                      lam=lam, beta=beta, diffusion_scale=diffusion_scale)


def refine_fokker_planck(problem: FinitePopulation, neuron: InnerNeuron, rho0: GaussianInit, *, lam: float, beta: float, T: float,
                         dt: float, record_dt: float, cells: int, half_width: float | None = None,
                         test_functions: Sequence[Callable] = (), schedule: Schedule = constant(1.0),
                         diffusion_scale: float = 1.0, progress: bool = False) -> tuple[FPSolution, FPSolution, dict]:
    """Solve at (cells, dt) and at (2·cells, dt/4) on the same box and record grid; ``error`` holds the
    sup-differences (the measured reference error of the coarse solve, ≈ 4/3 of its true error for order 2):
    ``yhat`` (over the coarse solver times), ``risk``, ``f_integrals``, ``free_energy`` (over the record times).
    ``progress``: a bar on stderr over the steps of each solve, "Fokker–Planck reference (M cells)" then
    "Fokker–Planck refinement (2M cells)" (about eight times the work of the first)."""
    kw = dict(lam=lam, beta=beta, T=T, record_dt=record_dt, test_functions=test_functions, schedule=schedule,
              diffusion_scale=diffusion_scale, progress=progress)
    coarse = solve_fokker_planck(problem, neuron, rho0, dt=dt, cells=cells, half_width=half_width,
                                 desc=f"Fokker–Planck reference ({cells} cells)", **kw)
    fine = solve_fokker_planck(problem, neuron, rho0, dt=dt / 4.0, cells=2 * check_positive_int(cells, "cells"),
                               half_width=coarse.half_width, desc=f"Fokker–Planck refinement ({2 * cells} cells)", **kw)
    error = {
        "yhat": float(np.max(np.abs(coarse.yhat - fine.yhat[::4]))),
        "risk": float(np.max(np.abs(coarse.risk - fine.risk))),
        "f_integrals": float(np.max(np.abs(coarse.f_integrals - fine.f_integrals))) if coarse.f_integrals.size else 0.0,
        "free_energy": float(np.max(np.abs(coarse.free_energy - fine.free_energy))),
    }
    return coarse, fine, error
