"""Unit tests of mfcheck._validation: each check accepts good values and names the bad parameter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfcheck._validation import check_array, check_choice, check_positive_int, check_real
from mfcheck.errors import InvalidArgument, OutsideAssumptions


def test_error_types():
    assert issubclass(InvalidArgument, ValueError) and issubclass(OutsideAssumptions, ValueError)
    assert not issubclass(InvalidArgument, OutsideAssumptions)


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
def test_positive_int_accepts(value):
    out = check_positive_int(value, "n")
    assert out == value and type(out) is int


@pytest.mark.parametrize("value", [0, -1, 2.0, 2.5, True, False, "3", None, math.nan, np.float64(2.0)])
def test_positive_int_rejects(value):
    with pytest.raises(InvalidArgument, match="`n_particles`"):
        check_positive_int(value, "n_particles")


@pytest.mark.parametrize("value", [0, 1, -2.5, np.float32(0.5), np.int32(-3), 1e300])
def test_real_accepts(value):
    out = check_real(value, "x")
    assert out == float(value) and type(out) is float


@pytest.mark.parametrize(
    "value, kwargs",
    [
        (math.nan, {}),
        (math.inf, {}),
        (-math.inf, {}),
        (True, {}),
        ("1.0", {}),
        (None, {}),
        ([1.0], {}),
        (1 + 0j, {}),
        (0.0, {"positive": True}),
        (-1.0, {"positive": True}),
        (-1e-300, {"nonnegative": True}),
        (math.nan, {"allow_inf": True}),
        (-math.inf, {"nonnegative": True, "allow_inf": True}),
    ],
)
def test_real_rejects(value, kwargs):
    with pytest.raises(InvalidArgument, match="`step`"):
        check_real(value, "step", **kwargs)


def test_real_signs_and_inf():
    assert check_real(0.0, "x", nonnegative=True) == 0.0
    assert check_real(math.inf, "x", positive=True, allow_inf=True) == math.inf


def test_array_accepts_and_converts():
    out = check_array([[1, 2], [3, 4]], "X", ndim=2, shape=(None, 2))
    assert out.dtype == np.float64 and out.shape == (2, 2)
    assert check_array(np.float32(1.5), "x").shape == ()
    assert check_array(np.zeros((0, 3)), "X", shape=(None, 3)).shape == (0, 3)


@pytest.mark.parametrize(
    "value, kwargs, match",
    [
        ([1.0, math.nan, math.inf], {}, "2 NaN or infinite"),
        ([[1.0, 2.0]], {"ndim": 1}, "1 dimension"),
        ([1.0, 2.0], {"shape": (3,)}, r"shape \(3,\)"),
        ([[1.0, 2.0]], {"shape": (None, 3)}, r"shape \('\*', 3\)"),
        ([1.0, 2.0], {"shape": (2, 1)}, "shape"),
        ([[1.0, 2.0], [3.0]], {}, "array of real numbers"),
        (["a"], {}, "array of real numbers"),
        ([None, 1.0], {}, "NaN"),
    ],
)
def test_array_rejects(value, kwargs, match):
    with pytest.raises(InvalidArgument, match=f"`data`.*{match}"):
        check_array(value, "data", **kwargs)


def test_choice():
    assert check_choice("a", "mode", {"a", "b"}) == "a"
    with pytest.raises(InvalidArgument, match=r"`mode` must be one of \['a', 'b'\], got 'c'"):
        check_choice("c", "mode", {"b", "a"})
