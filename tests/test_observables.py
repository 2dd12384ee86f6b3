"""Unit tests of mfcheck.model.observables: test functions never exceed their declared sup and Lipschitz.

Lipschitz estimates are difference quotients |f(a) - f(b)| / ||a - b||, which never exceed
the true constant; on a segment through the steepest point they come within 1e-3 of it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mfcheck.errors import InvalidArgument
from mfcheck.model.observables import TestFunction, cosine_ridge, default_test_functions, gaussian_bump, tanh_ridge

REL = 1e-9

vectors = st.integers(1, 5).flatmap(lambda D: hnp.arrays(np.float64, D, elements=st.floats(-3.0, 3.0)))
nonzero_vectors = vectors.filter(lambda u: np.linalg.norm(u) > 1e-3)


def _check_bounds(tf: TestFunction, D: int, seed: int):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    A = 3.0 * rng.standard_normal((2000, D))
    B = A + rng.standard_normal((2000, D)) * rng.choice([1e-4, 1e-2, 1.0], size=(2000, 1))
    fa, fb = tf(A), tf(B)
    assert fa.shape == (2000,)
    assert np.max(np.abs(fa)) <= tf.sup_norm * (1 + REL)
    assert np.max(np.abs(fa - fb) / np.linalg.norm(A - B, axis=1)) <= tf.lipschitz * (1 + REL) + 1e-300


def _slope_along(tf: TestFunction, point, direction, h=1e-6) -> float:
    e = direction / np.linalg.norm(direction)
    return abs(float(tf(point + h * e) - tf(point - h * e))) / (2 * h)


@given(nonzero_vectors, st.integers(0, 2**32 - 1))
def test_tanh_ridge_bounds(u, seed):
    tf = tanh_ridge(u)
    _check_bounds(tf, len(u), seed)
    # attained: slope ||u|| at θ = 0 along u
    assert _slope_along(tf, np.zeros_like(u), u) == pytest.approx(tf.lipschitz, rel=1e-3)


@given(nonzero_vectors, st.floats(-math.pi, math.pi), st.integers(0, 2**32 - 1))
def test_cosine_ridge_bounds(v, phase, seed):
    tf = cosine_ridge(v, phase)
    _check_bounds(tf, len(v), seed)
    # attained where <v, θ> + c = π/2
    point = (math.pi / 2 - phase) * v / np.dot(v, v)
    assert _slope_along(tf, point, v) == pytest.approx(tf.lipschitz, rel=1e-3)


@given(vectors, st.floats(0.1, 5.0), st.integers(0, 2**32 - 1))
def test_gaussian_bump_bounds(center, width, seed):
    tf = gaussian_bump(center, width)
    _check_bounds(tf, len(center), seed)
    e = np.zeros_like(center)
    e[0] = 1.0
    assert float(tf(center)) == 1.0
    # attained at distance h from the center, radially
    assert _slope_along(tf, center + width * e, e, h=1e-6 * width) == pytest.approx(tf.lipschitz, rel=1e-3)


def test_values_and_constants():
    th = np.array([[0.5, -1.0], [2.0, 0.0]])
    u = np.array([1.0, 2.0])
    np.testing.assert_allclose(tanh_ridge(u)(th), np.tanh([0.5 - 2.0, 2.0]), rtol=1e-15)
    np.testing.assert_allclose(cosine_ridge(u, 0.3)(th), np.cos([0.5 - 2.0 + 0.3, 2.0 + 0.3]), rtol=1e-15)
    np.testing.assert_allclose(gaussian_bump(u, 2.0)(th), np.exp(-np.array([0.25 + 9.0, 1.0 + 4.0]) / 8.0), rtol=1e-15)
    assert tanh_ridge(u).lipschitz == pytest.approx(math.sqrt(5))
    assert gaussian_bump(u, 2.0).lipschitz == pytest.approx(math.exp(-0.5) / 2)
    assert tanh_ridge([3.0, 4.0]).K == 5.0
    assert gaussian_bump([0.0], 10.0).K == 1.0


def test_leading_axes():
    tf = gaussian_bump([0.0, 1.0, 0.0])
    assert tf(np.zeros((4, 5, 3))).shape == (4, 5)


@pytest.mark.parametrize("D", [1, 2, 7])
def test_default_test_functions(D):
    tfs = default_test_functions(D)
    assert len(tfs) == 3
    for i, tf in enumerate(tfs):
        assert isinstance(tf, TestFunction)
        assert math.isfinite(tf.K)
        _check_bounds(tf, D, seed=i)


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: tanh_ridge([1.0, math.nan]), "`u`"),
        (lambda: tanh_ridge([[1.0, 2.0]]), "`u`"),
        (lambda: cosine_ridge([math.inf]), "`v`"),
        (lambda: cosine_ridge([1.0], phase=math.nan), "phase"),
        (lambda: gaussian_bump([0.0], width=0.0), "width"),
        (lambda: gaussian_bump([0.0], width=-1.0), "width"),
        (lambda: gaussian_bump(1.0), "center"),
        (lambda: default_test_functions(0), "`D`"),
        (lambda: TestFunction("f", np.sin, sup_norm=-1.0, lipschitz=1.0), "sup_norm"),
        (lambda: TestFunction("f", np.sin, sup_norm=1.0, lipschitz=math.inf), "lipschitz"),
    ],
)
def test_bad_inputs(build, name):
    with pytest.raises(InvalidArgument, match=name):
        build()


def test_repr():
    assert repr(tanh_ridge([1.0, 0.5])) == "tanh_ridge(u=[1.0, 0.5])"
    assert repr(gaussian_bump([0.0], 2.0)) == "gaussian_bump(center=[0.0], width=2.0)"
