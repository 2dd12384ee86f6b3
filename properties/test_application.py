"""The application (docs/theory.md §6) as a regression property.

On the two-Gaussians problem a spherically symmetric ρ_0 stays spherically symmetric, and the
distributional dynamics reduces to the one-dimensional PDE for the law of r = ||w|| that the
reproductions compare SGD with (``mfcheck reproduce mmn18``). The property checks that reduction
on drawn settings: for σ(t) = a sin(bt + c) with drawn (a, b, c), a drawn separation Δ and a drawn
two-point radial law, the radial flow (:func:`mfcheck.reference.radial.solver.solve_radial`) agrees with
the d = 3 weighted-node flow of the full dynamics (:func:`mfcheck.reference.radial.agreement.ddim_agreement`:
a sphere rule × the radial law, Gauss–Hermite oracle, no radial reduction) to within twice the
sum of both flows' refinement errors, in R(ρ_t) and in ∫||θ||² dρ_t.

σ is drawn from the sine family because the oracle's Gauss–Hermite rule (24 nodes) integrates it
to rounding at these scales (|b|·(1+Δ)·r ≤ 2.2); tanh-like σ converge geometrically but slowly
there, and kinks are refused by the oracle.

False-alarm rate: the comparison is deterministic (no sampling), so the only way a correct
implementation fails is a discretisation error above its refinement estimate. The companion
swaps in the d = 40 angle law (a wrong u(r, r')) and must miss by more than 100× the
allowance. The SGD half of the row (SGD's risk and ||w|| histograms against this PDE, N = 800)
is measured in ``reports/mmn18/`` and ``tests/test_reproduce_mmn18.py``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mfcheck.model.activations import bounded_sine
from mfcheck.reference.radial.agreement import ddim_agreement
from mfcheck.reference.radial.solver import solve_radial
from properties._drawn import drawn_settings

SETTINGS = st.fixed_dictionaries({
    "a": st.floats(0.5, 1.0), "b": st.floats(0.5, 1.2), "c": st.floats(0.0, 3.0),
    "delta": st.floats(0.2, 0.8), "radii": st.lists(st.floats(0.2, 0.7), min_size=2, max_size=2, unique=True),
    "w1": st.floats(0.2, 0.8),
})


def _agreement(s):
    sigma = bounded_sine(s["a"], s["b"], s["c"])
    weights = [s["w1"], 1.0 - s["w1"]]
    return sigma, weights, ddim_agreement(sigma, s["delta"], s["radii"], weights, T=0.6, dt=0.2, n_polar=3, n_az=6, n_gh=24)


def _allowance(ag):
    return 2 * (ag.ddim_error_risk + ag.radial_error_risk) + 1e-12, 2 * (ag.ddim_error_m2 + ag.radial_error_m2) + 1e-12


def test_radial_pde_is_the_distributional_dynamics_on_drawn_settings(mfcheck_tier):
    @given(s=SETTINGS)
    @drawn_settings(mfcheck_tier)
    def run(s):
        _, _, ag = _agreement(s)
        allow_risk, allow_m2 = _allowance(ag)
        assert ag.gap_risk <= allow_risk, (s, ag.gap_risk, allow_risk)
        assert ag.gap_m2 <= allow_m2, (s, ag.gap_m2, allow_m2)

    run()


def test_a_wrong_angle_law_is_detected():
    """Companion: the radial flow with the d = 40 angle law misses the 3-d flow by > 100× the allowance."""
    s = {"a": 1.0, "b": 1.0, "c": 0.7, "delta": 0.5, "radii": [0.3, 0.6], "w1": 0.5}
    sigma, weights, ag = _agreement(s)
    wrong = solve_radial(sigma, s["delta"], 40, rho0=(s["radii"], weights), T=0.6, times=ag.times, rtol=1e-10, atol=1e-12, K=512)
    assert np.max(np.abs(wrong.risk - ag.risk_ddim)) > 100 * _allowance(ag)[0]
