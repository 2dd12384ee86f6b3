"""Tests of mfcheck.reference.radial.landscape: the best single radius and the best radial law.

Deterministic: the QP solution is checked against scipy's SLSQP on a small grid, against the
first-order optimality conditions, and against closed forms in the d = ∞ case, where
R = (1/2)(Q_+ − 1)² + (1/2)(Q_− + 1)² with Q_± = ∫ q(s_± r) dρ̄.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from mfcheck.model.activations import PAPER_SIGMA
from mfcheck.errors import InvalidArgument
from mfcheck.reference.radial.landscape import best_single_radius, global_minimum, project_simplex
from mfcheck.reference.radial.reduction import RadialReduction


@pytest.fixture(scope="module")
def red():
    return RadialReduction(PAPER_SIGMA, 0.5, 40)


def test_simplex_projection():
    rng = np.random.default_rng(np.random.SeedSequence(3))
    for _ in range(20):
        y = rng.standard_normal(7) * 2
        p = project_simplex(y)
        assert p.min() >= 0 and p.sum() == pytest.approx(1.0, abs=1e-12)
        # optimality of the projection: <y − p, q − p> ≤ 0 for the vertices q
        assert np.all((y - p) @ (np.eye(7) - p).T <= 1e-12)


def test_best_single_radius_is_a_minimum(red):
    best = best_single_radius(PAPER_SIGMA, 0.5, 40, r_max=6.0, reduction=red)
    r = np.linspace(0, 6.0, 6001)
    assert best.risk <= red.risk_single_radius(r).min() + 1e-12
    assert red.risk_single_radius(np.array([best.r]))[0] == pytest.approx(best.risk, abs=1e-14)
    assert not best.at_boundary
    # a regression value of this setting (Δ = 0.5, d = 40), from the grid-and-Brent search itself
    assert best.r == pytest.approx(1.80528, abs=1e-4)


def test_global_minimum_matches_slsqp_on_a_small_grid(red):
    opt = global_minimum(PAPER_SIGMA, 0.5, 40, r_max=4.0, K=41, tol=1e-12, refine=False, reduction=red)
    g = opt.grid
    v, F = red.v(g), red.features(g)

    def f(p):
        a = F.T @ p
        return 1 + 2 * v @ p + a @ a

    res = optimize.minimize(f, np.full(g.size, 1 / g.size), jac=lambda p: 2 * v + 2 * F @ (F.T @ p),
                            method="SLSQP", bounds=[(0, 1)] * g.size,
                            constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1, "jac": lambda p: np.ones_like(p)}],
                            options={"ftol": 1e-15, "maxiter": 2000})
    assert opt.gap < 1e-10
    assert opt.risk <= res.fun + 1e-9  # SLSQP can only be worse, and by its own tolerance
    assert opt.risk == pytest.approx(res.fun, abs=1e-7)
    # KKT: the gradient is minimal (= the multiplier) on the support
    grad = 2 * v + 2 * F @ (F.T @ opt.weights)
    support = opt.weights > 1e-6
    assert np.ptp(grad[support]) < 1e-4 and grad.min() >= grad[support].min() - 1e-4


def test_global_minimum_is_below_the_best_single_radius(red):
    best = best_single_radius(PAPER_SIGMA, 0.5, 40, r_max=6.0, reduction=red)
    opt = global_minimum(PAPER_SIGMA, 0.5, 40, r_max=6.0, K=121, refine=False, reduction=red)
    assert opt.risk <= best.risk + opt.gap
    assert opt.gap < 1e-8


def test_infinite_d_minimum_is_zero_and_the_identity_holds():
    red = RadialReduction(PAPER_SIGMA, 0.8, math.inf)
    opt = global_minimum(PAPER_SIGMA, 0.8, math.inf, r_max=8.0, K=81, refine=False, reduction=red)
    assert opt.risk < 1e-8
    from mfcheck.reference.radial import forms

    g = opt.grid
    Qp, Qm = (forms.q(PAPER_SIGMA, s * g) @ opt.weights for s in (1.8, 0.2))
    assert opt.risk == pytest.approx(0.5 * (Qp - 1) ** 2 + 0.5 * (Qm + 1) ** 2, abs=1e-12)


def test_far_point_lowers_a_boundary_minimum(red):
    """With Δ = 0.5, d = 40 the best law puts mass at r_max; the point standing for r = ∞
    lowers R, and moving it from 1e5 to 1e6 changes R by less than 1e-5 (features ~ 1/r)."""
    near = global_minimum(PAPER_SIGMA, 0.5, 40, r_max=4.0, K=81, refine=False, reduction=red)
    far5 = global_minimum(PAPER_SIGMA, 0.5, 40, r_max=4.0, K=81, refine=False, far_point=1e5, reduction=red)
    far6 = global_minimum(PAPER_SIGMA, 0.5, 40, r_max=4.0, K=81, refine=False, far_point=1e6, reduction=red)
    assert near.at_boundary and not far6.at_boundary
    assert far6.risk < near.risk - 1e-3
    assert abs(far5.risk - far6.risk) < 1e-5 + far5.gap + far6.gap


def test_bad_input_is_refused(red):
    with pytest.raises(InvalidArgument, match="far_point"):
        global_minimum(PAPER_SIGMA, 0.5, 40, r_max=4.0, far_point=2.0, reduction=red)
    with pytest.raises(InvalidArgument, match="r_max"):
        best_single_radius(PAPER_SIGMA, 0.5, 40, r_max=-1.0, reduction=red)
