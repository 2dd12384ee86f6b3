"""Unit tests of mfcheck.model.bounds: the error scales and concentration bounds of docs/theory.md §4."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import integrate

from mfcheck.model.bounds import coupling_scale, err_ND, gronwall, mcdiarmid_tail, mcdiarmid_uniform
from mfcheck.errors import InvalidArgument

# -- hand-computed values ----------------------------------------------------------------


def test_err_ND_values():
    # N = 1, ε = 1: sqrt(max(1, 1)) = 1, log(N/ε) = 0, so err = sqrt(D) + z.
    assert err_ND(1, 1.0, 4) == pytest.approx(2.0, rel=1e-15)
    assert err_ND(1, 1.0, 4, 1.0) == pytest.approx(3.0, rel=1e-15)
    # N = 100, ε = 0.01: sqrt(0.01) = 0.1; log(1e4) = 9.210340372; sqrt(3 + 9.210340372) = 3.494329746
    # => 0.1 · (3.494329746 + 1) = 0.4494329746
    assert err_ND(100, 0.01, 3, 1.0) == pytest.approx(0.4494329746, rel=1e-9)
    # the kink: N = 400, ε = 0.01 -> max(1/400, 0.01) = 0.01; N = 25, ε = 0.01 -> max(0.04, 0.01) = 0.04
    assert err_ND(400, 0.01, 1) == pytest.approx(0.1 * math.sqrt(1 + math.log(40_000)), rel=1e-14)
    assert err_ND(25, 0.01, 1) == pytest.approx(0.2 * math.sqrt(1 + math.log(2_500)), rel=1e-14)


def test_coupling_scale_values():
    # N = 100, ε = 0.01, T = 1: log(N · T/ε) = log(1e4); sqrt(2 + 9.210340372) = 3.348184638
    # => 0.1 · (3.348184638 + 0.5) = 0.3848184638
    assert coupling_scale(100, 0.01, 2, 1.0, 0.5) == pytest.approx(0.3848184638, rel=1e-9)
    # T < ε: max(T/ε, 1) = 1, so log(N · 1) = log 1 = 0 for N = 1
    assert coupling_scale(1, 0.5, 9, 0.1) == pytest.approx(3.0, rel=1e-15)


def test_mcdiarmid_values():
    # 2 exp(-N u² / (2K²)) with N = 2, u = 1, K = 1: 2/e = 0.7357588823
    assert mcdiarmid_tail(2, 1.0, 1.0) == pytest.approx(0.7357588823, rel=1e-9)
    assert mcdiarmid_tail(2, 0.0, 1.0) == 1.0  # 2 e^0 = 2, capped at 1
    # K sqrt(2/N) (sqrt(log(2(T/ε + 1))) + z), N = 2, K = 1, T = ε = 1: sqrt(log 4) = 1.1774100225
    assert mcdiarmid_uniform(2, 1.0, 1.0, 1.0) == pytest.approx(1.1774100225, rel=1e-9)
    # N = 8, K = 0.5, T = 1, ε = 0.1, z = 1: 0.5 · 0.5 · (sqrt(log 22) + 1) = 0.25 · 2.758136074 = 0.6895340185
    assert mcdiarmid_uniform(8, 0.5, 1.0, 0.1, 1.0) == pytest.approx(0.6895340185, rel=1e-9)


def test_gronwall_values_and_equality_case():
    assert gronwall(2.0, math.log(3.0)) == pytest.approx(6.0, rel=1e-15)
    assert gronwall(0.0, 5.0) == 0.0
    # u(t) = a e^{bt} solves u = a + ∫_0^t b u ds with equality: check by quadrature
    a, b, t = 0.7, 1.3, 2.0
    rhs = a + integrate.quad(lambda s: b * gronwall(a, b * s), 0.0, t)[0]
    assert gronwall(a, b * t) == pytest.approx(rhs, rel=1e-10)


def test_vectorised():
    N = np.array([10, 100, 1000])
    out = err_ND(N, 0.01, 3)
    assert out.shape == (3,)
    np.testing.assert_allclose(out, [err_ND(n, 0.01, 3) for n in N], rtol=1e-15)
    assert coupling_scale(N[:, None], np.array([0.1, 0.01]), 2, 1.0).shape == (3, 2)
    assert mcdiarmid_tail(N, 0.1, 1.0).shape == (3,)


# -- structural identities and monotonicity ----------------------------------------------

eps_st = st.floats(1e-5, 1.0)
D_st = st.floats(1.0, 200.0)
z_st = st.floats(0.0, 5.0)


@given(eps_st, D_st, z_st, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_err_ND_decreasing_in_N_below_the_kink(eps, D, z, a, b):
    """For 1 ≤ N ≤ 1/ε the 1/N term dominates and err_ND is non-increasing in N (D ≥ 1)."""
    top = 1.0 / eps
    N1, N2 = sorted((1.0 + a * (top - 1.0), 1.0 + b * (top - 1.0)))
    assert err_ND(N2, eps, D, z) <= err_ND(N1, eps, D, z) * (1 + 1e-12)


@given(eps_st, D_st, z_st, st.floats(1.0, 1e6), st.floats(1.0, 1e6))
def test_err_ND_above_the_kink_grows_only_through_the_log(eps, D, z, a, b):
    """For N ≥ 1/ε, err_ND = sqrt(ε)(sqrt(D + log(N/ε)) + z): non-decreasing in N, at most
    logarithmically (the N-dependence then lies only in the union-bound log)."""
    N1, N2 = sorted((a / eps, b / eps))
    e1, e2 = err_ND(N1, eps, D, z), err_ND(N2, eps, D, z)
    assert e1 == pytest.approx(math.sqrt(eps) * (math.sqrt(D + math.log(N1 / eps)) + z), rel=1e-12)
    assert e1 <= e2 * (1 + 1e-12)


@given(st.floats(1.0, 1e6), eps_st, D_st, z_st, st.floats(1.0, 10.0))
def test_err_ND_increasing_in_D_and_z(N, eps, D, z, factor):
    assert err_ND(N, eps, D, z) <= err_ND(N, eps, D * factor, z) * (1 + 1e-12)
    assert err_ND(N, eps, D, z) <= err_ND(N, eps, D, z + factor)


@given(st.floats(1.0, 1e6), eps_st, D_st, z_st)
def test_coupling_scale_at_T_1_is_err_ND(N, eps, D, z):
    """With T = 1 ≥ ε, log(N · T/ε) = log(N/ε): the two scales coincide."""
    assert coupling_scale(N, eps, D, 1.0, z) == pytest.approx(err_ND(N, eps, D, z), rel=1e-12)


@given(st.floats(1.0, 1e6), eps_st, D_st, z_st, st.floats(1e-3, 100.0), st.floats(1.0, 10.0))
def test_coupling_scale_nondecreasing_in_T(N, eps, D, z, T, factor):
    assert coupling_scale(N, eps, D, T, z) <= coupling_scale(N, eps, D, T * factor, z) * (1 + 1e-12)


@given(st.floats(1.0, 1e6), st.floats(0.01, 10.0), st.floats(0.01, 100.0), eps_st, z_st)
def test_mcdiarmid_uniform_is_the_union_bound(N, K, T, eps, z):
    """(T/ε + 1) one-time tails at u = mcdiarmid_uniform(...) sum to at most e^{-z²}."""
    assume(T / eps < 1e7)
    u = mcdiarmid_uniform(N, K, T, eps, z)
    total = (T / eps + 1) * 2.0 * math.exp(-N * u**2 / (2 * K**2))
    assert total <= math.exp(-(z**2)) * (1 + 1e-9)


@given(st.floats(1.0, 1e4), st.floats(0.0, 3.0), st.floats(0.0, 3.0), st.floats(0.01, 10.0))
def test_mcdiarmid_tail_is_a_probability_decreasing_in_u(N, u1, u2, K):
    lo, hi = sorted((u1, u2))
    p_lo, p_hi = mcdiarmid_tail(N, lo, K), mcdiarmid_tail(N, hi, K)
    assert 0.0 <= p_hi <= p_lo <= 1.0


# -- bad inputs --------------------------------------------------------------------------

nan, inf = math.nan, math.inf


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: err_ND(0, 0.1, 1), "`N`"),
        (lambda: err_ND(-5, 0.1, 1), "`N`"),
        (lambda: err_ND(nan, 0.1, 1), "`N`"),
        (lambda: err_ND(inf, 0.1, 1), "`N`"),
        (lambda: err_ND([10, 0], 0.1, 1), "`N`"),
        (lambda: err_ND(10, 0.0, 1), "`eps`"),
        (lambda: err_ND(10, -0.1, 1), "`eps`"),
        (lambda: err_ND(10, nan, 1), "`eps`"),
        (lambda: err_ND(10, 0.1, 0), "`D`"),
        (lambda: err_ND(10, 0.1, 1, -1.0), "`z`"),
        (lambda: err_ND(10, 0.1, 1, nan), "`z`"),
        (lambda: coupling_scale(10, 0.1, 1, 0.0), "`T`"),
        (lambda: coupling_scale(10, 0.1, 1, nan), "`T`"),
        (lambda: coupling_scale(0, 0.1, 1, 1.0), "`N`"),
        (lambda: mcdiarmid_tail(10, -0.1, 1.0), "`u`"),
        (lambda: mcdiarmid_tail(10, 0.1, 0.0), "`K`"),
        (lambda: mcdiarmid_tail(0, 0.1, 1.0), "`N`"),
        (lambda: mcdiarmid_uniform(10, 1.0, 1.0, 0.0), "`eps`"),
        (lambda: mcdiarmid_uniform(10, 1.0, -1.0, 0.1), "`T`"),
        (lambda: mcdiarmid_uniform(10, 1.0, 1.0, 0.1, -2.0), "`z`"),
        (lambda: gronwall(-1.0, 1.0), "`a`"),
        (lambda: gronwall(1.0, nan), "`b_integral`"),
        (lambda: gronwall(1.0, -0.5), "`b_integral`"),
    ],
)
def test_bad_inputs(call, name):
    with pytest.raises(InvalidArgument, match=name):
        call()


def test_err_ND_never_returns_nan_on_accepted_inputs():
    with np.errstate(invalid="raise"):
        try:
            value = err_ND(1, 10.0, 1)
        except InvalidArgument:
            return
    assert np.isfinite(value)
