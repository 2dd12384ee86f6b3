"""Unit tests of mfcheck.model.schedules: ξ values and its declared bound and Lipschitz constant (A1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfcheck.errors import InvalidArgument
from mfcheck.model.schedules import Schedule, constant, exponential_decay

T_GRID = np.linspace(0.0, 50.0, 500_001)


def _check_declared(xi: Schedule):
    v = xi(T_GRID)
    assert np.all(v >= 0)
    assert np.max(v) <= xi.bound * (1 + 1e-12)
    slopes = np.abs(np.diff(v)) / np.diff(T_GRID)
    # difference quotients carry a rounding error of a few ulp(ξ) / Δt
    rounding = 4 * np.spacing(np.max(np.abs(v))) / np.min(np.diff(T_GRID))
    assert np.max(slopes) <= xi.lipschitz * (1 + 1e-9) + rounding
    return v, slopes


def test_constant():
    xi = constant(2.5)
    np.testing.assert_array_equal(xi(np.array([0.0, 1.0, 7.5])), [2.5, 2.5, 2.5])
    assert xi(np.zeros((2, 3))).shape == (2, 3)
    assert float(xi(3.0)) == 2.5
    assert xi.bound == 2.5 and xi.lipschitz == 0.0
    _check_declared(xi)
    assert repr(constant()) == "constant(1.0)"


def test_exponential_decay():
    xi = exponential_decay(2.0, 0.5)
    np.testing.assert_allclose(xi(np.array([0.0, 2.0])), [2.0, 2.0 * math.exp(-1.0)], rtol=1e-15)
    assert xi.bound == 2.0 and xi.lipschitz == 1.0
    v, slopes = _check_declared(xi)
    # both constants are attained at t = 0
    assert v[0] == xi.bound
    assert slopes[0] == pytest.approx(xi.lipschitz, rel=1e-4)
    assert repr(xi) == "exponential_decay(value=2.0, rate=0.5)"


@given(st.floats(0.01, 10.0), st.floats(0.0, 5.0))
def test_exponential_decay_constants_property(value, rate):
    _check_declared(exponential_decay(value, rate))


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: constant(0.0), "value"),
        (lambda: constant(-1.0), "value"),
        (lambda: constant(math.nan), "value"),
        (lambda: constant(math.inf), "value"),
        (lambda: exponential_decay(0.0, 1.0), "value"),
        (lambda: exponential_decay(1.0, -0.1), "rate"),
        (lambda: exponential_decay(1.0, math.inf), "rate"),
        (lambda: exponential_decay(1.0, math.nan), "rate"),
        (lambda: Schedule("s", np.exp, bound=-1.0, lipschitz=0.0), "bound"),
        (lambda: Schedule("s", np.exp, bound=1.0, lipschitz=math.nan), "lipschitz"),
    ],
)
def test_bad_inputs(build, name):
    with pytest.raises(InvalidArgument, match=name):
        build()
