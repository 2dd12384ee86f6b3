"""Tests of mfcheck.reference.radial.stationary: the self-consistent noisy stationary law of r = ||w||.

Deterministic checks: the fixed-point equation holds on an independent evaluation of ψ (the
reduction's own ψ at the law's grid nodes), the law is normalised, its grid error is stated
and shrinks, and an exactly solvable case (σ constant ⇒ ψ constant ⇒ a scaled χ_d law) is
reproduced.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mfcheck.model.activations import PAPER_SIGMA, piecewise_linear
from mfcheck.errors import InvalidArgument
from mfcheck.reference.radial.reduction import RadialReduction
from mfcheck.reference.radial.stationary import stationary_law


@pytest.fixture(scope="module")
def red40():
    return RadialReduction(PAPER_SIGMA, 0.8, 40)


@pytest.fixture(scope="module")
def law40(red40):
    return stationary_law(PAPER_SIGMA, 0.8, 40, beta=10.0, lam=1.0, K=2001, reduction=red40)


def test_the_law_solves_its_fixed_point_equation(law40, red40):
    """log ρ̄ − (d − 1) log r + β(ψ + λr²/2) must be constant on the support, with ψ recomputed
    by the reduction from the law itself (Simpson weights as the law's quadrature)."""
    L = law40
    assert L.residual < 1e-12 and L.density_residual < 1e-10
    g, p = L.grid, L.density
    h = g[1] - g[0]
    w = np.ones(g.size)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    w *= h / 3
    keep = (g > 0) & (p > 1e-12 * p.max())
    psi = red40.psi(g[keep], g, w * p / (w @ p))
    c = np.log(p[keep]) - 39 * np.log(g[keep]) + 10.0 * (psi + 0.5 * g[keep] ** 2)
    assert np.ptp(c) < 1e-8
    np.testing.assert_allclose(L.psi[keep], psi, atol=1e-10)


def test_the_law_is_normalised_and_its_summaries_agree(law40, red40):
    L = law40
    assert L.mean(lambda r: np.ones_like(r)) == pytest.approx(1.0, abs=1e-12)
    assert L.cdf_values[0] == 0.0 and L.cdf_values[-1] == pytest.approx(1.0)
    assert np.all(np.diff(L.cdf_values) >= 0)
    assert L.mean(lambda r: r * r) == pytest.approx(L.mean_r2, abs=1e-12)
    assert L.quantile(L.cdf(2.0)) == pytest.approx(2.0, abs=1e-3)
    # R from the law's nodes by the reduction (an independent assembly of the quadratic form)
    g = L.grid
    w = np.ones(g.size)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    w *= (g[1] - g[0]) / 3
    assert red40.risk(g, w * L.density / (w @ L.density)) == pytest.approx(L.risk, abs=1e-10)


def test_grid_error_is_stated_and_small(law40):
    # the CDF is a trapezoid cumulative (O(h²)); ψ and R converge much faster (Simpson, smooth ψ)
    assert law40.grid_error["cdf"] < 1e-5
    assert law40.grid_error["psi"] < 1e-10 and law40.grid_error["risk"] < 1e-10


def test_constant_sigma_gives_a_scaled_chi_law():
    """σ ≡ const ⇒ ψ is constant ⇒ ρ̄* ∝ r^{d−1} e^{−βλr²/2}: r √(βλ) ~ χ_d exactly.
    (A ramp with a tiny slope far away stands in for a constant: its effect is below 1e-12.)"""
    flat = piecewise_linear(t1=1e3, t2=1e3 + 1.0, s1=0.7, s2=0.7 + 1e-12)
    law = stationary_law(flat, 0.5, 7, beta=3.0, lam=2.0, K=2001)
    r = np.array([0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(law.cdf(r), stats.chi.cdf(r * math.sqrt(6.0), 7), atol=2e-6)


def test_a_wrong_temperature_is_detected(law40, red40):
    """Companion: the law at β = 11 differs from the β = 10 one by far more than the grid error."""
    other = stationary_law(PAPER_SIGMA, 0.8, 40, beta=11.0, lam=1.0, K=2001, reduction=red40, refine=False)
    assert np.max(np.abs(other.cdf_values - law40.cdf_values)) > 100 * law40.grid_error["cdf"]


def test_bad_input_is_refused(red40):
    with pytest.raises(InvalidArgument, match="lam"):
        stationary_law(PAPER_SIGMA, 0.8, 40, beta=1.0, lam=0.0, reduction=red40)
    with pytest.raises(InvalidArgument, match="`K`"):
        stationary_law(PAPER_SIGMA, 0.8, 40, beta=1.0, lam=1.0, K=100, reduction=red40)
    with pytest.raises(InvalidArgument, match="finite"):
        stationary_law(PAPER_SIGMA, 0.8, math.inf, beta=1.0, lam=1.0)
