r"""The radial PDE reference on a given time grid, with its measured error (built on :mod:`mfcheck.reference.radial`).

For the law ρ̄_t of r = |w| under ∂_t ρ̄ = 2ξ ∂_r(ρ̄ ∂_r ψ(r; ρ̄)), started from the law of |w^0|,
w^0 ~ N(0, κ²/d I_d) (r ~ κ √(χ²_d / d)), :func:`radial_curves` returns R(ρ̄_t), ∫ g dρ̄_t for radial
test functions g, and optionally the density of ρ̄_t on histogram bins, each at the asked times;
``error`` holds the solver's own refinement estimate of each quantity (sup over the grid).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument

__all__ = ["RadialCurves", "radial_curves"]


@dataclass(frozen=True)
class RadialCurves:
    """- ``times`` (J,); ``risk`` (J,): R(ρ̄_t); ``f_integrals`` (J, F): ∫ g dρ̄_t;
    - ``density`` (S, B): ρ̄_t averaged over each bin at the ``density_times`` (S,) (empty when not asked);
    - ``error``: {"risk": e, "f": e} sup-norm error estimates of the solver (from its refinement);
    - ``solver``: how it was computed (for the report);
    - ``radii``, ``weights``: the solver's particles at the last time, the final law ρ̄_T (empty when not given)."""

    times: np.ndarray
    risk: np.ndarray
    f_integrals: np.ndarray
    error: dict
    density_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bins: np.ndarray = field(default_factory=lambda: np.zeros(0))
    density: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    solver: dict = field(default_factory=dict)
    radii: np.ndarray = field(default_factory=lambda: np.zeros(0))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))


QUALITY = {
    "full": {"M": 100_000, "K": 1024, "rtol": 1e-7, "atol": 1e-9},
    "report": {"M": 20_000, "K": 512, "rtol": 1e-6, "atol": 1e-8},
    "fast": {"M": 4_000, "K": 256, "rtol": 1e-5, "atol": 1e-7},
}
"""Solver settings: ``full`` (the d-dependence report, T = 1), ``report`` (the long MMN18 horizons),
``fast`` (tests). Every one runs with the refinement, so its error is measured, not assumed."""


def _index_of(times: np.ndarray, t: float) -> int:
    j = int(np.argmin(np.abs(times - t)))
    if abs(times[j] - t) > 1e-9 * max(1.0, abs(t)):
        raise InvalidArgument(f"`density_times` must be among `times`; {t} is not.")
    return j


def radial_curves(
    sigma: Activation, delta: float, d: int, kappa: float, times, test_functions: Sequence, *,
    density_times=(), bins=None, quality: str = "full",
) -> RadialCurves:
    """R(ρ̄_t), ∫ g dρ̄_t at ``times`` (and the bin densities at ``density_times``) from the radial solver.

    **Arguments:**

    - ``sigma``, ``delta``, ``d``, ``kappa``: σ, Δ, the dimension and the initial scale (ρ̄_0 = law of κ√(χ²_d/d)).
    - ``times``: increasing record times starting at 0.
    - ``test_functions``: radial g with ``name``, ``fn`` and ``K`` (e.g. :data:`~mfcheck.app.reproduce.trajectory.RADIAL_TEST_FUNCTIONS`).
    - ``density_times``, ``bins``: where to report the mass of ρ̄_t per unit length on each bin.
    - ``quality``: a key of :data:`QUALITY`.

    The solver runs with ``refine=True``: ``error["risk"]`` is the largest difference of R(ρ̄_t)
    against the refined flow, ``error["f"]`` the largest of |∫g dρ̄_t| differences divided by K_g
    (the normalisation of the test-function statistic), over the time grid.
    """
    from mfcheck.reference.radial.solver import solve_radial

    if quality not in QUALITY:
        raise InvalidArgument(f"`quality` must be one of {sorted(QUALITY)}, got {quality!r}.")
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times.size < 2 or times[0] != 0.0 or np.any(np.diff(times) <= 0):
        raise InvalidArgument("`times` must be increasing and start at 0.")
    settings = QUALITY[quality]
    fns = {g.name: g.fn for g in test_functions}
    flow = solve_radial(sigma, delta, d, T=float(times[-1]), kappa=kappa, times=times, test_functions=fns, refine=True, **settings)
    f = np.stack([flow.mean(g.name) for g in test_functions], axis=1)
    err_f = max(float(flow.error["f_means"][g.name]) / g.K for g in test_functions)
    error = {"risk": float(flow.error["risk"]), "f": err_f, "quantile_sup": float(flow.error["quantile_sup"])}
    density_times = np.asarray(density_times, dtype=np.float64)
    if density_times.size:
        if bins is None:
            raise InvalidArgument("`bins` is needed with `density_times`.")
        bins = np.asarray(bins, dtype=np.float64)
        density = np.stack([flow.density(_index_of(flow.times, t), bins) for t in density_times])
    else:
        bins, density = np.zeros(0), np.zeros((0, 0))
    solver = {"scheme": "Lagrangian radial particles, Dormand–Prince 5(4) (mfcheck.reference.radial.solver)", **settings,
              "refined": "2M particles, 2K grid, tolerances / 32"}
    return RadialCurves(times=np.asarray(flow.times, dtype=np.float64), risk=np.asarray(flow.risk, dtype=np.float64), f_integrals=f,
                        error=error, density_times=density_times, bins=bins, density=density, solver=solver,
                        radii=flow.radii, weights=flow.weights)


def landscape_numbers(sigma: Activation, delta: float, d) -> dict:
    """The optimum landscape at (Δ, d) from :mod:`mfcheck.reference.radial.landscape`.

    Returns {"delta", "d" ("inf" for d = ∞), "r_star": the best single radius r* in [0, 10],
    "single_radius_risk": R(δ_{r*}), "global_minimum": min of R over radial laws on a grid of [0, 10]
    plus a far point r = 10⁶ standing for r = ∞, "gap": its certified optimality gap,
    "grid_error": its change when the grid is refined, "atoms": (radius, mass) of the minimising law}.
    """
    import math

    from mfcheck.reference.radial.landscape import best_single_radius, global_minimum

    single = best_single_radius(sigma, delta, d)
    best = global_minimum(sigma, delta, d, far_point=1e6)
    return {
        "delta": float(delta), "d": "inf" if d == math.inf else int(d), "r_star": float(single.r), "single_radius_risk": float(single.risk),
        "single_at_boundary": bool(single.at_boundary), "global_minimum": float(best.risk), "gap": float(best.gap),
        "grid_error": None if best.grid_error is None else float(best.grid_error),
        "atoms": [[float(r), float(m)] for r, m in best.atoms],
    }
