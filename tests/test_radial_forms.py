"""Tests of mfcheck.reference.radial.forms: q, the Hermite coefficients and pair, by independent routes.

Every check here is deterministic (adaptive scipy quadrature, finite differences, Parseval, and
two independent routes to pair: the Mehler series and the conditional 1-D integral); each
tolerance covers the error of the route it is compared with, with a margin.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy import integrate

from mfcheck.model.activations import PAPER_SIGMA, piecewise_linear, relu, tanh_sum
from mfcheck.errors import InvalidArgument
from mfcheck.reference.radial import forms

SMOOTH = tanh_sum(amplitudes=(1.5,), slopes=(1.0,), shifts=(-0.5,))
A = np.array([0.0, 0.05, 0.3, 0.8, 1.0, 1.7, 3.0, 6.0])


def _gauss(f, kinks=()):
    """E f(G) by adaptive quadrature (scipy.quad) on the pieces between the kinks, within [-12, 12]."""
    edges = sorted({-12.0, 12.0, *[k for k in kinks if -12 < k < 12]})
    with warnings.catch_warnings():  # quad's roundoff notice on tiny pieces; the assertions judge the result
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return sum(
            integrate.quad(lambda g: f(g) * np.exp(-g * g / 2) / np.sqrt(2 * np.pi), lo, hi, limit=200,
                           epsabs=1e-15, epsrel=1e-12)[0]
            for lo, hi in itertools.pairwise(edges)
        )


def _quad(f, a):
    """E f(G) for an integrand with the kinks of the paper's σ(a·)."""
    return _gauss(f, [p / a for p in (0.5, 1.5)] if a > 0 else [])


def test_ramp_form_reproduces_the_activation():
    form = forms.ramp_form(PAPER_SIGMA)
    t = np.linspace(-3, 4, 141)
    np.testing.assert_allclose(form(t), PAPER_SIGMA(t), atol=1e-13)
    np.testing.assert_allclose(forms.ramp_form(relu())(t), np.maximum(t, 0), atol=0)
    assert forms.ramp_form(SMOOTH) is None


@pytest.mark.parametrize("a", A[1:])
def test_q_closed_form_against_quadrature(a):
    # the tolerance covers quad's own error, largest at the smallest a
    assert abs(forms.q(PAPER_SIGMA, a) - _quad(lambda g: PAPER_SIGMA(a * g), a)) < 1e-9


def test_q_at_zero_is_sigma_of_zero_and_q_prime_is_the_derivative():
    assert forms.q(PAPER_SIGMA, 0.0) == pytest.approx(PAPER_SIGMA(0.0), abs=1e-15)
    a = A[1:]
    h = 1e-6
    fd = (forms.q(PAPER_SIGMA, a + h) - forms.q(PAPER_SIGMA, a - h)) / (2 * h)
    np.testing.assert_allclose(forms.q_prime(PAPER_SIGMA, a), fd, atol=1e-8)  # FD error O(h²·q''') ≈ 1e-10
    fd = (forms.q(SMOOTH, a + h) - forms.q(SMOOTH, a - h)) / (2 * h)
    np.testing.assert_allclose(forms.q_prime(SMOOTH, a), fd, atol=1e-8)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 12])
def test_hermite_coefficients_against_quadrature(n):
    from numpy.polynomial.hermite_e import hermeval
    from math import factorial, sqrt

    coef = np.zeros(n + 1)
    coef[n] = 1.0 / sqrt(factorial(n))
    mu = forms.hermite_coefficients(PAPER_SIGMA, A[1:], n + 1)[:, n]
    ref = [_quad(lambda g, a=a: PAPER_SIGMA(a * g) * hermeval(g, coef), a) for a in A[1:]]
    np.testing.assert_allclose(mu, ref, atol=1e-9)


def test_hermite_derivatives_match_finite_differences():
    a = A[1:]
    h = 1e-6
    for sigma in (PAPER_SIGMA, SMOOTH):
        fd = (forms.hermite_coefficients(sigma, a + h, 30) - forms.hermite_coefficients(sigma, a - h, 30)) / (2 * h)
        exact = forms.hermite_coefficients(sigma, a, 30, derivative=True)
        np.testing.assert_allclose(exact, fd, atol=2e-8)


def test_parseval_tail_is_nonnegative_and_shrinks():
    """Σ_n μ_n² ≤ E σ² with the deficit falling in n (kinked σ: slowly, about n^{-3/2})."""
    deficits = []
    for n in (50, 200, 800):
        mu = forms.hermite_coefficients(PAPER_SIGMA, A, n)
        deficits.append(forms.second_moment(PAPER_SIGMA, A) - np.sum(mu**2, axis=-1))
    deficits = np.array(deficits)
    assert np.all(deficits > -1e-12)
    assert np.all(deficits[2] <= deficits[1] + 1e-15) and np.all(deficits[1] <= deficits[0] + 1e-15)
    # the tail of a kinked σ falls like n^{-3/2} (μ_n² ~ n^{-5/2}): quadrupling n divides it by ≈ 8
    big = deficits[1] > 1e-8
    ratio = deficits[2][big] / deficits[1][big]
    # (the ratio oscillates with a: each is bounded, their geometric mean is tested against 1/8)
    assert np.all(ratio < 0.3)
    assert 1 / 16 < np.exp(np.mean(np.log(ratio))) < 1 / 4
    mu = forms.hermite_coefficients(SMOOTH, A[:5], 100)
    np.testing.assert_allclose(np.sum(mu**2, axis=-1), forms.second_moment(SMOOTH, A[:5]), atol=1e-12)
    dmu = forms.hermite_coefficients(PAPER_SIGMA, A, 800, derivative=True)
    assert np.all(forms.second_moment_prime(PAPER_SIGMA, A) - np.sum(dmu**2, axis=-1) > -1e-10)


@pytest.mark.parametrize("c", [0.0, 0.35, -0.6, 0.9])
def test_pair_direct_route_equals_mehler_series(c):
    # 400 terms: the Mehler tail is ≤ 0.9^400 · 56 ≈ 3e-17 for |c| ≤ 0.9; the tolerance covers rounding
    mu = forms.hermite_coefficients(PAPER_SIGMA, A, 400)
    direct = forms.pair(PAPER_SIGMA, A[:, None], A[None, :], c)
    np.testing.assert_allclose(direct, forms.pair_mehler(mu[:, None], mu[None], c), atol=1e-12)


def test_pair_limits_and_symmetries():
    a, b = A[:, None], A[None, :]
    qa = forms.q(PAPER_SIGMA, A)
    np.testing.assert_allclose(forms.pair(PAPER_SIGMA, a, b, 0.0), np.outer(qa, qa), atol=1e-12)
    p = forms.pair(PAPER_SIGMA, a, b, 0.7)
    np.testing.assert_allclose(p, p.T, atol=1e-12)
    # c = 1: E σ(aG) σ(bG) against adaptive quadrature
    for x, y in [(1.0, 2.0), (0.3, 0.8), (3.0, 0.05)]:
        ref = _gauss(lambda g, x=x, y=y: PAPER_SIGMA(x * g) * PAPER_SIGMA(y * g), [0.5 / x, 1.5 / x, 0.5 / y, 1.5 / y])
        assert forms.pair(PAPER_SIGMA, x, y, 1.0) == pytest.approx(ref, abs=1e-12)
    # c = -1: σ(bG') = σ(-bG)
    ref = _gauss(lambda g: PAPER_SIGMA(g) * PAPER_SIGMA(-2.0 * g), [-0.75, -0.25, 0.5, 1.5])
    assert forms.pair(PAPER_SIGMA, 1.0, 2.0, -1.0) == pytest.approx(ref, abs=1e-12)
    # near c = 1 the conditional mean has sharp (smoothed) kinks; a doubled rule moves it by ≤ 1e-5
    near = forms.pair(PAPER_SIGMA, a, b, 0.999)
    np.testing.assert_allclose(near, forms.pair(PAPER_SIGMA, a, b, 0.999, n_nodes=64), atol=1e-7)


def test_pair_smooth_sigma_by_both_routes():
    mu = forms.hermite_coefficients(SMOOTH, A[:5], 120)
    for c in (0.0, 0.5, -0.8):
        np.testing.assert_allclose(
            forms.pair(SMOOTH, A[:5, None], A[None, :5], c, n_nodes=60), forms.pair_mehler(mu[:, None], mu[None], c),
            atol=1e-10,
        )


def test_a_wrong_kink_is_detected():
    """Companion: moving one kink by 0.01 changes q by far more than the tolerances above."""
    other = piecewise_linear(t1=0.51)
    assert np.max(np.abs(forms.q(other, A[1:]) - forms.q(PAPER_SIGMA, A[1:]))) > 1e-4


def test_bad_input_is_refused():
    with pytest.raises(InvalidArgument, match="`a`"):
        forms.q(PAPER_SIGMA, -0.1)
    with pytest.raises(InvalidArgument, match="`c`"):
        forms.pair(PAPER_SIGMA, 1.0, 1.0, 1.5)
    with pytest.raises(InvalidArgument, match="`sigma`"):
        forms.ramp_form(np.tanh)
    with pytest.raises(InvalidArgument, match="n_terms"):
        forms.hermite_coefficients(SMOOTH, 1.0, 500)
    with pytest.raises(InvalidArgument, match="NaN"):
        forms.q(PAPER_SIGMA, np.nan)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_collinear_closed_form_equals_the_direct_route(sign):
    # both routes are exact up to rounding and the Gauss–Legendre rule on smooth pieces
    np.testing.assert_allclose(
        forms.pair_collinear(PAPER_SIGMA, A[:, None], A[None, :], sign),
        forms.pair(PAPER_SIGMA, A[:, None], A[None, :], sign), atol=1e-11,
    )
