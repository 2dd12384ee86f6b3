"""Tests of mfcheck.reference.radial.reduction: v, u, ψ, R on radial laws, and the exact finite-N risk.

The reduction is checked against two independent references: the d-dimensional Gauss–Hermite
oracle of :class:`~mfcheck.model.problems.TwoGaussians` (smooth σ only: it refuses kinks) and the
direct route of the reduction itself (Gauss–Jacobi in the angle of the conditional 1-D pair
integral). The single Monte Carlo comparison uses a 5σ CLT band (false alarm ≈ 5.7e-7) and
has a companion showing it rejects a wrong value.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfcheck.model.activations import PAPER_SIGMA, tanh_sum
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems import TwoGaussians
from mfcheck.reference.radial import forms
from mfcheck.reference.radial.reduction import RadialReduction, angle_moments, angle_rule, finite_risk

SMOOTH = tanh_sum(amplitudes=(1.5,), slopes=(1.0,), shifts=(-0.5,))
R_TEST = np.array([0.0, 0.05, 0.4, 0.9, 1.3, 2.2, 4.0])


@pytest.fixture(scope="module")
def paper40():
    return RadialReduction(PAPER_SIGMA, 0.8, 40)


def test_angle_moments_match_the_jacobi_rule():
    for d in (1, 2, 3, 7, 40):
        c, w = angle_rule(d, 40)
        assert w.sum() == pytest.approx(1.0, abs=1e-14)
        e = angle_moments(d, 12)
        np.testing.assert_allclose([w @ c ** (2 * m) for m in range(12)], e, atol=1e-14)
        np.testing.assert_allclose([w @ c ** (2 * m + 1) for m in range(12)], 0.0, atol=1e-14)
    assert angle_moments(3, 3)[1] == pytest.approx(1 / 3)  # uniform cosine on [-1, 1] in d = 3
    np.testing.assert_array_equal(angle_moments(math.inf, 4), [1, 0, 0, 0])


@pytest.mark.parametrize("d", [3, 10, 40, 320])
def test_series_kernel_equals_the_direct_angle_quadrature(d):
    """u = Φ·Φ (Mehler, truncated) against Gauss–Jacobi of the direct pair integral.

    The difference must be within the stated truncation bound plus the quadrature error of the
    direct route, the latter estimated as the change from 48 to 96 angle nodes (for d = 3 the
    cosine integrand has a (1 − c)^{3/2} endpoint singularity, so that change is not negligible).
    """
    red = RadialReduction(PAPER_SIGMA, 0.8, d)
    r = R_TEST[1:6]
    series = red.u(r, r)
    q48 = red.u_quadrature(r[:, None], r[None, :], n_angles=48)
    q96 = red.u_quadrature(r[:, None], r[None, :], n_angles=96)
    allowed = red.truncation_bound(r, r) + np.abs(q96 - q48) + 1e-12
    assert np.all(np.abs(series - q96) <= allowed)


def test_infinite_d_kernel_is_the_product_form():
    red = RadialReduction(PAPER_SIGMA, 0.5, math.inf)
    assert red.n_terms == 1
    qp, qm = (forms.q(PAPER_SIGMA, s * R_TEST) for s in (1.5, 0.5))
    np.testing.assert_allclose(red.u(R_TEST, R_TEST), 0.5 * (np.outer(qp, qp) + np.outer(qm, qm)), atol=1e-13)


def test_finite_d_kernel_tends_to_the_infinite_d_one_like_one_over_d():
    r = R_TEST[1:]
    inf = RadialReduction(PAPER_SIGMA, 0.5, math.inf).u(r, r)
    gaps = [np.abs(RadialReduction(PAPER_SIGMA, 0.5, d).u(r, r) - inf).max() for d in (40, 160, 640)]
    # the first correction is e_1 μ_2 μ_2 / 2 with e_1 = 1/d: each quadrupling of d divides it by ≈ 4
    assert 3.5 < gaps[0] / gaps[1] < 4.5 and 3.5 < gaps[1] / gaps[2] < 4.5


def test_derivatives_are_the_derivatives(paper40):
    r = R_TEST[1:]
    h = 1e-6
    np.testing.assert_allclose(paper40.v_prime(r), (paper40.v(r + h) - paper40.v(r - h)) / (2 * h), atol=1e-8)
    fd = (paper40.u(r + h, r) - paper40.u(r - h, r)) / (2 * h)
    np.testing.assert_allclose(paper40.u_prime(r, r), fd, atol=1e-7)
    nodes, weights = np.array([0.3, 1.1, 2.0]), np.array([0.2, 0.5, 0.3])
    fd = (paper40.psi(r + h, nodes, weights) - paper40.psi(r - h, nodes, weights)) / (2 * h)
    np.testing.assert_allclose(paper40.psi_prime(r, nodes, weights), fd, atol=1e-7)


def test_risk_is_the_quadratic_form(paper40):
    nodes, weights = np.array([0.3, 1.1, 2.0]), np.array([0.2, 0.5, 0.3])
    expected = 1 + 2 * weights @ paper40.v(nodes) + weights @ paper40.u(nodes, nodes) @ weights
    assert paper40.risk(nodes, weights) == pytest.approx(expected, abs=1e-13)
    assert paper40.risk_single_radius(np.array([1.1]))[0] == pytest.approx(paper40.risk([1.1], [1.0]), abs=1e-13)
    # R(δ_0) = E(y − σ(0))² exactly
    assert paper40.risk([0.0], [1.0]) == pytest.approx(0.5 * ((1 + 2.5) ** 2 + (-1 + 2.5) ** 2), abs=1e-12)


def _sphere_pairs(r1, r2, c):
    """w = r1 e1 and w' = r2 (c e1 + √(1 − c²) e2) in R^3."""
    w1 = np.array([[r1, 0.0, 0.0]])
    w2 = np.array([[r2 * c, r2 * math.sqrt(1 - c * c), 0.0]])
    return w1, w2


def test_reduction_matches_the_d_dimensional_oracle_on_a_smooth_sigma():
    """Static check at d = 3 against TwoGaussians (2-D Gauss–Hermite, 160 nodes).

    V(w) = v(|w|); U(w, w') = (1/2) Σ_± pair(s_± r, s_± r', c); u is the Gauss–Jacobi average of
    the oracle's U over the angle, and ∂_1 u the average of the radial component of ∇₁U. At
    these scales the 160-node oracle errs far less than the tolerance (geometric convergence
    for a smooth σ, :mod:`mfcheck.model.problems._bivariate`); the series' truncation bound
    here is < 1e-12; the 24-node angle rule is exact to degree 47 in c, and the integrand is
    analytic in c for a smooth σ, so the rule converges geometrically.
    """
    d, delta = 3, 0.5
    prob = TwoGaussians(d, delta, n_nodes=160)
    neuron = InnerNeuron(SMOOTH)
    red = RadialReduction(SMOOTH, delta, d)
    rng = np.random.default_rng(np.random.SeedSequence(5))
    W = rng.standard_normal((6, d)) * 0.5
    np.testing.assert_allclose(red.v(np.linalg.norm(W, axis=1)), prob.V(neuron, W), atol=1e-6)
    radial = (prob.grad_V(neuron, W) * W).sum(1) / np.linalg.norm(W, axis=1)
    np.testing.assert_allclose(red.v_prime(np.linalg.norm(W, axis=1)), radial, atol=1e-6)
    c_nodes, c_w = angle_rule(d, 24)
    for r1, r2 in [(0.3, 0.7), (0.8, 0.8), (0.5, 0.2)]:
        U = np.empty(c_nodes.size)
        dU = np.empty(c_nodes.size)
        for k, c in enumerate(c_nodes):
            w1, w2 = _sphere_pairs(r1, r2, c)
            U[k] = prob.U(neuron, w1, w2)[0, 0]
            dU[k] = prob.grad1_U(neuron, w1, w2)[0, 0, 0]
            assert 0.5 * sum(forms.pair(SMOOTH, s * r1, s * r2, c, n_nodes=60) for s in (1.5, 0.5)) == pytest.approx(
                U[k], abs=1e-6
            )
        assert red.u([r1], [r2])[0, 0] == pytest.approx(c_w @ U, abs=1e-6)
        assert red.u_prime([r1], [r2])[0, 0] == pytest.approx(c_w @ dU, abs=1e-6)


def test_finite_risk_against_the_pairwise_definition():
    rng = np.random.default_rng(np.random.SeedSequence(11))
    d, N, delta = 6, 25, 0.8
    W = rng.standard_normal((N, d)) * 0.9
    W[3] = 0.5 * W[2]  # a parallel pair (c = 1 off the diagonal)
    W[4] = -W[1]  # an antiparallel pair
    r = np.linalg.norm(W, axis=1)
    C = np.clip((W / r[:, None]) @ (W / r[:, None]).T, -1, 1)
    np.fill_diagonal(C, 1.0)
    U = 0.5 * sum(forms.pair(PAPER_SIGMA, s * r[:, None], s * r[None, :], C) for s in (1 + delta, 1 - delta))
    v = RadialReduction(PAPER_SIGMA, delta, math.inf).v(r)
    expected = 1 + 2 * v.mean() + U.mean()
    assert finite_risk(W, PAPER_SIGMA, delta) == pytest.approx(expected, abs=1e-10)


def test_finite_risk_against_the_oracle_for_a_smooth_sigma():
    rng = np.random.default_rng(np.random.SeedSequence(12))
    d, N, delta = 3, 12, 0.5
    W = rng.standard_normal((N, d)) * 0.5
    prob = TwoGaussians(d, delta, n_nodes=160)
    neuron = InnerNeuron(SMOOTH)
    expected = 1 + 2 * prob.V(neuron, W).mean() + prob.U(neuron, W, W).mean()
    assert finite_risk(W, SMOOTH, delta) == pytest.approx(expected, abs=1e-6)


def _mc_risk(W, delta, n, seed):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    y = rng.choice([1.0, -1.0], size=n)
    x = (1 + delta * y)[:, None] * rng.standard_normal((n, W.shape[1]))
    return (y - PAPER_SIGMA(x @ W.T).mean(axis=1)) ** 2


def test_finite_risk_against_monte_carlo_and_its_companion():
    """5σ CLT band, false alarm ≈ 5.7e-7; the companion (a 5% error in R_N) must fall outside it."""
    rng = np.random.default_rng(np.random.SeedSequence(13))
    W = rng.standard_normal((40, 20)) * 0.8 / math.sqrt(20) * 2.0
    exact = finite_risk(W, PAPER_SIGMA, 0.8)
    loss = _mc_risk(W, 0.8, 200_000, 14)
    se = loss.std(ddof=1) / math.sqrt(loss.size)
    assert abs(loss.mean() - exact) <= 5 * se
    assert abs(loss.mean() - 1.05 * exact) > 5 * se


def test_self_energy_is_the_pair_of_a_neuron_with_itself(paper40):
    r = R_TEST
    direct = 0.5 * sum(forms.pair(PAPER_SIGMA, s * r, s * r, np.ones_like(r)) for s in paper40.scales)
    np.testing.assert_allclose(paper40.self_energy(r), direct, rtol=1e-12, atol=1e-14)
    assert np.all(paper40.self_energy(r[1:]) > paper40.u_diagonal(r[1:]))  # c = 1 beats independent directions


def test_self_interaction_against_monte_carlo_and_its_companion():
    """E R_N over i.i.d. particles (exact R_N per draw, 300 draws) against R(ρ̄) + self_interaction/N:
    5σ CLT band, false alarm ≈ 5.7e-7. Companion: the diagonal taken as u(r, r) of two independent
    directions (``u_diagonal``, the error this method corrects) must fall outside the band."""
    d, N, delta = 10, 20, 0.8
    red = RadialReduction(PAPER_SIGMA, delta, d)
    nodes, weights = np.array([1.5, 2.5, 3.5]), np.array([0.3, 0.4, 0.3])
    R = red.risk(nodes, weights)
    predicted = R + red.self_interaction(nodes, weights) / N
    A = weights @ red.features(nodes)
    wrong = R + (weights @ red.u_diagonal(nodes) - A @ A) / N
    rng = np.random.default_rng(np.random.SeedSequence(15))
    draws = []
    for _ in range(300):
        r = rng.choice(nodes, size=N, p=weights)
        g = rng.standard_normal((N, d))
        draws.append(finite_risk(g / np.linalg.norm(g, axis=1, keepdims=True) * r[:, None], PAPER_SIGMA, delta))
    draws = np.asarray(draws)
    se = draws.std(ddof=1) / math.sqrt(draws.size)
    assert abs(draws.mean() - predicted) <= 5 * se
    assert abs(draws.mean() - wrong) > 5 * se


def test_bad_input_is_refused():
    with pytest.raises(InvalidArgument, match="delta"):
        RadialReduction(PAPER_SIGMA, 1.2, 3)
    with pytest.raises(InvalidArgument, match="`d`"):
        RadialReduction(PAPER_SIGMA, 0.5, 0)
    red = RadialReduction(PAPER_SIGMA, 0.5, math.inf)
    with pytest.raises(InvalidArgument, match="weights"):
        red.risk([1.0, 2.0], [0.5, 0.6])
    with pytest.raises(InvalidArgument, match="`r`"):
        red.v([-1.0])
    with pytest.raises(InvalidArgument, match="`W`"):
        finite_risk(np.ones(3), PAPER_SIGMA, 0.5)
    with pytest.raises(InvalidArgument, match="`d`"):
        angle_rule(math.inf, 4)
