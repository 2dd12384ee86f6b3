"""Tests of mfcheck.reference.radial.solver (the radial flow) and mfcheck.reference.radial.agreement (vs d = 3).

All checks are deterministic (quantile nodes, no sampling). Tolerances come from the solver's
own refinement (``error``) or from an independent integration, as stated in each test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from mfcheck.model.activations import PAPER_SIGMA, bounded_sine
from mfcheck.errors import InvalidArgument
from mfcheck.reference.radial.agreement import ddim_agreement, sphere_rule
from mfcheck.reference.radial.reduction import RadialReduction
from mfcheck.reference.radial.solver import initial_law, solve_radial


@pytest.fixture(scope="module")
def red40():
    return RadialReduction(PAPER_SIGMA, 0.8, 40)


@pytest.fixture(scope="module")
def flow40(red40):
    """Δ = 0.8, d = 40, κ = 0.8 up to t = 3 (R falls from 1.70 to 0.96), with refinement."""
    return solve_radial(PAPER_SIGMA, 0.8, 40, kappa=0.8, T=3.0, n_times=121, M=4000, K=512, reduction=red40,
                        test_functions={"r": lambda r: r, "r2": lambda r: r * r}, refine=True)


def test_initial_law_is_the_norm_of_a_gaussian():
    r, w = initial_law(0.8, 40, 20000)
    assert np.all(np.diff(r) > 0) and w.sum() == pytest.approx(1.0, abs=1e-12)
    assert w @ r**2 == pytest.approx(0.64, rel=1e-4)  # E|w|² = κ²; midpoint rule error O(1/M)


def test_mass_is_conserved_and_risk_does_not_increase(flow40):
    np.testing.assert_allclose(flow40.mass, 1.0, atol=1e-12)
    assert flow40.risk[0] > 1.7 and flow40.risk[-1] < 1.0
    # R(ρ̄_t) is exactly non-increasing; the computed one may rise by at most its own error
    assert np.max(np.diff(flow40.risk)) <= flow40.error["risk"]
    assert np.all(flow40.dissipation >= 0)


def test_risk_decrease_equals_the_integrated_dissipation(flow40):
    """R(0) − R(T) = ∫_0^T D dt, D = 4ξ∫(∂_rψ)² dρ̄_t. Simpson on 121 times; its error is
    estimated by Simpson on every second time (difference ≈ 15× the finer rule's error)."""
    drop = flow40.risk[0] - flow40.risk[-1]
    fine = integrate.simpson(flow40.dissipation, x=flow40.times)
    coarse = integrate.simpson(flow40.dissipation[::2], x=flow40.times[::2])
    assert abs(drop - fine) <= abs(fine - coarse) + 2 * flow40.error["risk"] + 1e-12


def test_refinement_errors_are_stated_and_small(flow40, red40):
    """The refinement difference is dominated by M and falls like 1/M.

    The quantile midpoint rule is first order for a law with unbounded support (its end cells
    carry the error), so doubling M about halves the difference; K and the tolerances contribute
    much less at the default settings.
    """
    err = flow40.error
    assert set(err) >= {"risk", "quantile_sup", "quantile_w1", "f_means"}
    assert err["risk"] < 1e-5 and err["quantile_w1"] < 1e-5 and err["f_means"]["r2"] < 1e-5
    assert err["refined_settings"]["M"] == 8000
    half = solve_radial(PAPER_SIGMA, 0.8, 40, kappa=0.8, T=3.0, n_times=121, M=2000, K=512, reduction=red40,
                        refine=True)
    assert 1.5 < half.error["risk"] / err["risk"] < 3.0


def test_laws_are_consistent(flow40):
    j = 60
    bins = np.linspace(0.0, 4.0, 81)
    dens = flow40.density(j, bins)
    assert np.sum(dens * np.diff(bins)) == pytest.approx(1.0, abs=1e-3)  # no mass beyond r = 4 at t = 1.5
    # ∫ r² dρ̄ from the stored quantiles matches the recorded test-function mean (quantile grid 1/2000)
    q = flow40.quantiles[j]
    assert np.mean(q**2) == pytest.approx(flow40.mean("r2")[j], abs=2e-3)


def test_point_mass_follows_the_scalar_ode(red40):
    """From δ_{r0} the law stays a point mass whose radius solves dr/dt = −2 ∂_rψ(r; δ_r)
    (docs/theory.md §6 caution); checked against scipy's DOP853 on that scalar ODE (rtol 1e-11)."""
    times = np.linspace(0.0, 2.0, 11)
    flow = solve_radial(PAPER_SIGMA, 0.8, 40, rho0=([0.9], [1.0]), T=2.0, times=times, K=1024, rtol=1e-10,
                        atol=1e-12, reduction=red40)
    assert np.ptp(flow.quantiles, axis=1).max() == 0.0
    sol = integrate.solve_ivp(lambda t, r: -2 * red40.psi_prime(r, r, [1.0]), (0, 2), [0.9], method="DOP853",
                              t_eval=times, rtol=1e-11, atol=1e-13)
    # the tabulated field errs by O(h⁴) (h = 4e-3 here), far below the tolerance
    np.testing.assert_allclose(flow.quantiles[:, 0], sol.y[0], atol=1e-8)
    np.testing.assert_allclose(flow.risk, red40.risk_single_radius(sol.y[0]), atol=1e-8)


def test_a_constant_xi_is_a_time_change(red40):
    a = solve_radial(PAPER_SIGMA, 0.8, 40, kappa=0.8, T=1.0, n_times=3, M=500, xi=2.0, reduction=red40)
    b = solve_radial(PAPER_SIGMA, 0.8, 40, kappa=0.8, T=2.0, n_times=3, M=500, reduction=red40)
    c = solve_radial(PAPER_SIGMA, 0.8, 40, kappa=0.8, T=1.0, n_times=3, M=500, xi=lambda t: 2.0, reduction=red40)
    np.testing.assert_allclose(a.risk, b.risk, atol=1e-9)
    np.testing.assert_allclose(a.risk, c.risk, atol=1e-9)
    np.testing.assert_allclose(a.dissipation, 2 * b.dissipation, rtol=1e-6)


def test_infinite_d_needs_the_dimension_of_the_start():
    with pytest.raises(InvalidArgument, match="init_d"):
        solve_radial(PAPER_SIGMA, 0.5, math.inf, kappa=0.4, T=1.0)
    flow = solve_radial(PAPER_SIGMA, 0.5, math.inf, kappa=0.4, init_d=320, T=1.0, n_times=5, M=1000)
    assert flow.risk[-1] < flow.risk[0]


def test_bad_input_is_refused(red40):
    with pytest.raises(InvalidArgument, match="exactly one"):
        solve_radial(PAPER_SIGMA, 0.8, 40, T=1.0)
    with pytest.raises(InvalidArgument, match="times"):
        solve_radial(PAPER_SIGMA, 0.8, 40, kappa=0.8, T=1.0, times=[0.0, 2.0], reduction=red40)
    with pytest.raises(InvalidArgument, match="rho0"):
        solve_radial(PAPER_SIGMA, 0.8, 40, rho0=([1.0], [0.5]), T=1.0, reduction=red40)
    with pytest.raises(InvalidArgument, match="`T`"):
        solve_radial(PAPER_SIGMA, 0.8, 40, kappa=0.8, T=-1.0, reduction=red40)


def test_sphere_rule_is_exact_to_its_degree():
    E, w = sphere_rule(3, 6)  # exact for degree ≤ 5
    a = np.array([0.3, 0.4, math.sqrt(0.75)])
    assert w @ (E @ a) ** 4 == pytest.approx(1 / 5, abs=1e-14)
    assert w @ (E @ a) ** 2 == pytest.approx(1 / 3, abs=1e-14)


@pytest.fixture(scope="module")
def agreement():
    # σ = sin(t + 0.7): entire, so the oracle's Gauss–Hermite rule converges fastest (mfcheck.model.problems._bivariate)
    return ddim_agreement(bounded_sine(1.0, 1.0, 0.7), 0.5, [0.3, 0.6], [0.5, 0.5], T=0.6, dt=0.2, n_polar=3,
                          n_az=6, n_gh=12)


def test_radial_flow_agrees_with_the_three_dimensional_flow(agreement):
    """|radial − 3-d (refined)| ≤ 2 × (3-d coarse-vs-refined + radial refinement difference),
    on a run along which R moves by far more than the allowance."""
    ag = agreement
    assert ag.risk_radial[0] - ag.risk_radial[-1] > 5e-3
    assert ag.gap_risk <= 2 * (ag.ddim_error_risk + ag.radial_error_risk) + 1e-12
    assert ag.gap_m2 <= 2 * (ag.ddim_error_m2 + ag.radial_error_m2) + 1e-12


def test_agreement_detects_a_wrong_angle_law(agreement):
    """Companion: the same radial flow with the d = 40 angle law (a wrong u) misses the 3-d flow
    by far more than the allowance above."""
    sig = bounded_sine(1.0, 1.0, 0.7)
    wrong = solve_radial(sig, 0.5, 40, rho0=([0.3, 0.6], [0.5, 0.5]), T=0.6, times=agreement.times, rtol=1e-10,
                         atol=1e-12, K=512)
    allowance = 2 * (agreement.ddim_error_risk + agreement.radial_error_risk) + 1e-12
    assert np.max(np.abs(wrong.risk - agreement.risk_ddim)) > 100 * allowance
