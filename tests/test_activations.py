"""Unit tests of mfcheck.model.activations: values, derivatives and declared constants.

Every declared constant is an upper bound (or, where the docstring says "=", the exact value)
on a quantity we estimate numerically: sup|σ| on a dense grid, Lip(σ) and Lip(σ') by
difference quotients (which by the mean-value theorem never exceed the true Lipschitz
constant, whatever the grid), sup|σ'| on the grid. The estimate must never exceed the
declared value (up to float round-off, 1e-9 relative).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from mfcheck.model import activations
from mfcheck.model.activations import (
    PAPER_SIGMA,
    Activation,
    bounded_sine,
    erf_sigmoid,
    piecewise_linear,
    relu,
    tanh_sum,
)
from mfcheck.errors import InvalidArgument, OutsideAssumptions

REL = 1e-9  # round-off allowance on "estimate <= declared"


def _estimates(act: Activation, grid: np.ndarray) -> dict[str, float]:
    """Numerical estimates of the four declared constants on a sorted grid."""
    v = act(grid)
    p = act.prime(grid)
    dt = np.diff(grid)
    return {
        "sup_norm": float(np.max(np.abs(v))),
        "lipschitz": float(np.max(np.abs(np.diff(v)) / dt)),
        "sup_prime": float(np.max(np.abs(p))),
        "lipschitz_prime": float(np.max(np.abs(np.diff(p)) / dt)),
    }


def _assert_never_exceeded(act: Activation, grid: np.ndarray) -> dict[str, float]:
    est = _estimates(act, grid)
    for name, value in est.items():
        declared = getattr(act, name)
        assert value <= declared * (1 + REL) + 1e-300, f"{act!r}: estimated {name}={value!r} > declared {declared!r}"
    return est


def _central_difference(f, t, h):
    return (f(t + h) - f(t - h)) / (2 * h)


SMOOTH = [
    tanh_sum(),
    tanh_sum(amplitudes=(1.5, -0.7), slopes=(2.0, 0.5), shifts=(0.3, -1.0)),
    erf_sigmoid(),
    erf_sigmoid(amplitude=-2.0, slope=0.7),
    bounded_sine(),
    bounded_sine(amplitude=0.5, frequency=3.0, phase=1.1),
]


# -- values against closed forms ---------------------------------------------------------


def test_tanh_sum_value():
    t = np.linspace(-4, 4, 101)
    act = tanh_sum(amplitudes=(1.5, -0.7), slopes=(2.0, 0.5), shifts=(0.3, -1.0))
    np.testing.assert_allclose(act(t), 1.5 * np.tanh(2.0 * t + 0.3) - 0.7 * np.tanh(0.5 * t - 1.0), rtol=0, atol=1e-15)


def test_erf_sigmoid_value():
    t = np.linspace(-4, 4, 101)
    np.testing.assert_allclose(erf_sigmoid(-2.0, 0.7)(t), [-2.0 * math.erf(0.7 * s) for s in t], rtol=0, atol=1e-15)


def test_bounded_sine_value():
    t = np.linspace(-4, 4, 101)
    np.testing.assert_allclose(bounded_sine(0.5, 3.0, 1.1)(t), [0.5 * math.sin(3.0 * s + 1.1) for s in t], rtol=0, atol=1e-15)


def test_piecewise_linear_value():
    act = piecewise_linear()  # t1=0.5, t2=1.5, s1=-2.5, s2=7.5: slope 10
    assert act(np.array([-3.0, 0.5, 1.0, 1.5, 9.0])).tolist() == [-2.5, -2.5, 2.5, 7.5, 7.5]
    assert repr(PAPER_SIGMA) == repr(act)


def test_relu_value():
    assert relu()(np.array([-1.0, 0.0, 2.5])).tolist() == [0.0, 0.0, 2.5]


@pytest.mark.parametrize("act", SMOOTH, ids=repr)
def test_shape_is_preserved(act):
    t = np.linspace(-1, 1, 12).reshape(3, 4)
    for f in (act.fn, act.prime, act.second):
        assert f(t).shape == (3, 4)
    assert np.shape(act(0.3)) == ()


# -- derivatives against finite differences ----------------------------------------------


@pytest.mark.parametrize("act", SMOOTH, ids=repr)
def test_derivatives_match_finite_differences(act):
    t = np.linspace(-5, 5, 401)
    h = 1e-5
    # central differences: truncation ~ h² sup|σ'''| / 6 ~ 1e-10, round-off ~ 1e-16 sup|σ| / h ~ 1e-11
    np.testing.assert_allclose(act.prime(t), _central_difference(act.fn, t, h), rtol=0, atol=1e-8)
    np.testing.assert_allclose(act.second(t), _central_difference(act.prime, t, h), rtol=0, atol=1e-8)


def test_piecewise_linear_derivative_away_from_kinks():
    act = piecewise_linear(t1=-1.0, t2=2.0, s1=3.0, s2=-3.0)  # slope -2
    t = np.array([-4.0, -1.5, -0.5, 0.0, 1.9, 2.2, 5.0])
    np.testing.assert_allclose(act.prime(t), _central_difference(act.fn, t, 1e-6), rtol=0, atol=1e-8)
    assert act.prime(t).tolist() == [0.0, 0.0, -2.0, -2.0, -2.0, 0.0, 0.0]
    assert np.all(act.second(t) == 0.0)


# -- declared constants ------------------------------------------------------------------


@pytest.mark.parametrize("act", SMOOTH + [piecewise_linear(), piecewise_linear(-1.0, 2.0, 3.0, -3.0)], ids=repr)
def test_declared_constants_never_exceeded(act):
    _assert_never_exceeded(act, np.linspace(-30, 30, 600_001))


@pytest.mark.parametrize(
    "act, exact",
    [
        (erf_sigmoid(-2.0, 0.7), ("sup_norm", "lipschitz", "sup_prime", "lipschitz_prime")),
        (bounded_sine(0.5, 3.0, 1.1), ("sup_norm", "lipschitz", "sup_prime", "lipschitz_prime")),
        (tanh_sum(amplitudes=(1.3,), slopes=(0.8,), shifts=(0.4,)), ("sup_norm", "lipschitz", "sup_prime", "lipschitz_prime")),
        (piecewise_linear(), ("sup_norm", "lipschitz", "sup_prime")),
    ],
    ids=lambda v: repr(v) if isinstance(v, Activation) else "",
)
def test_declared_constants_are_attained(act, exact):
    """Where the docstring states an equality, the estimate reaches the declared value."""
    est = _assert_never_exceeded(act, np.linspace(-30, 30, 600_001))
    for name in exact:
        assert est[name] >= getattr(act, name) * (1 - 1e-6), (name, est[name], getattr(act, name))


amplitude = st.floats(-3.0, 3.0, allow_subnormal=False).filter(lambda a: a == 0.0 or abs(a) > 1e-6)
positive = st.floats(0.1, 4.0)
shift = st.floats(-3.0, 3.0)
GRID = np.linspace(-60, 60, 240_001)


@given(st.lists(st.tuples(amplitude, positive, shift), min_size=1, max_size=4))
def test_tanh_sum_constants_property(terms):
    a, b, c = zip(*terms)
    _assert_never_exceeded(tanh_sum(amplitudes=a, slopes=b, shifts=c), GRID)


@given(amplitude, positive)
def test_erf_sigmoid_constants_property(a, b):
    _assert_never_exceeded(erf_sigmoid(a, b), GRID)


@given(amplitude, positive, shift)
def test_bounded_sine_constants_property(a, b, c):
    _assert_never_exceeded(bounded_sine(a, b, c), GRID)


# -- outside the assumptions -------------------------------------------------------------


def test_piecewise_linear_is_outside_theorem_1():
    act = piecewise_linear()
    assert act.lipschitz_prime == math.inf
    assert act.bounded
    assert act.sup_norm == 7.5 and act.lipschitz == 10.0 and act.sup_prime == 10.0
    with pytest.raises(OutsideAssumptions, match="σ' is not Lipschitz"):
        act.require_theorem_1()


def test_relu_is_unbounded_and_refused():
    act = relu()
    assert not act.bounded
    assert act.sup_norm == math.inf
    with pytest.raises(OutsideAssumptions, match="unbounded"):
        act.require_theorem_1()


@pytest.mark.parametrize("act", SMOOTH, ids=repr)
def test_smooth_activations_satisfy_theorem_1(act):
    assert act.violations() == []
    assert act.require_theorem_1() is act


# -- construction errors -----------------------------------------------------------------


def _fn(t):
    return np.tanh(t)


def test_activation_without_sup_norm_is_refused():
    with pytest.raises(InvalidArgument, match="sup_norm"):
        Activation(name="no_sup", fn=_fn, prime=_fn, second=None, sup_norm=None, lipschitz=1.0, sup_prime=1.0, lipschitz_prime=1.0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"lipschitz": -1.0}, "lipschitz"),
        ({"sup_prime": math.nan}, "sup_prime"),
        ({"lipschitz_prime": "big"}, "lipschitz_prime"),
        ({"fn": 3.0}, "fn"),
        ({"prime": None}, "prime"),
    ],
)
def test_activation_bad_fields(kwargs, name):
    base = dict(name="x", fn=_fn, prime=_fn, second=None, sup_norm=1.0, lipschitz=1.0, sup_prime=1.0, lipschitz_prime=1.0)
    with pytest.raises(InvalidArgument, match=name):
        Activation(**{**base, **kwargs})


def test_activation_accepts_inf_constants():
    act = Activation(name="x", fn=_fn, prime=_fn, second=None, sup_norm=math.inf, lipschitz=1, sup_prime=1, lipschitz_prime=math.inf)
    assert act.sup_norm == math.inf and isinstance(act.lipschitz, float)


nan, inf = math.nan, math.inf


@pytest.mark.parametrize(
    "builder, kwargs, name",
    [
        (tanh_sum, {"amplitudes": (nan,)}, "amplitudes"),
        (tanh_sum, {"amplitudes": (inf,)}, "amplitudes"),
        (tanh_sum, {"slopes": (0.0,)}, "slopes"),
        (tanh_sum, {"slopes": (-1.0,)}, "slopes"),
        (tanh_sum, {"slopes": (nan,)}, "slopes"),
        (tanh_sum, {"shifts": (inf,)}, "shifts"),
        (tanh_sum, {"amplitudes": ()}, "amplitudes"),
        (tanh_sum, {"amplitudes": (1.0, 2.0), "slopes": (1.0,)}, "equal lengths"),
        (tanh_sum, {"amplitudes": (1.0, 2.0), "slopes": (1.0, 1.0), "shifts": (0.0,)}, "equal lengths"),
        (erf_sigmoid, {"amplitude": nan}, "amplitude"),
        (erf_sigmoid, {"amplitude": inf}, "amplitude"),
        (erf_sigmoid, {"slope": 0.0}, "slope"),
        (erf_sigmoid, {"slope": -2.0}, "slope"),
        (erf_sigmoid, {"slope": inf}, "slope"),
        (erf_sigmoid, {"amplitude": True}, "amplitude"),
        (bounded_sine, {"amplitude": nan}, "amplitude"),
        (bounded_sine, {"frequency": 0.0}, "frequency"),
        (bounded_sine, {"frequency": -1.0}, "frequency"),
        (bounded_sine, {"phase": inf}, "phase"),
        (piecewise_linear, {"t1": 1.0, "t2": 1.0}, "t2"),
        (piecewise_linear, {"t1": 2.0, "t2": 1.0}, "t2"),
        (piecewise_linear, {"t1": nan}, "t1"),
        (piecewise_linear, {"t2": inf}, "t2"),
        (piecewise_linear, {"s1": nan}, "s1"),
        (piecewise_linear, {"s2": -inf}, "s2"),
    ],
)
def test_bad_parameters_raise(builder, kwargs, name):
    with pytest.raises(InvalidArgument, match=name):
        builder(**kwargs)


# -- repr --------------------------------------------------------------------------------


def test_repr_shows_how_it_was_built():
    assert repr(erf_sigmoid(2, 0.5)) == "erf_sigmoid(amplitude=2.0, slope=0.5)"
    assert repr(bounded_sine(1, 2, 0.25)) == "bounded_sine(amplitude=1.0, frequency=2.0, phase=0.25)"
    assert repr(piecewise_linear()) == "piecewise_linear(t1=0.5, t2=1.5, s1=-2.5, s2=7.5)"
    assert repr(relu()) == "relu()"
    assert repr(tanh_sum((1, 2), (3, 4))) == "tanh_sum(amplitudes=(1.0, 2.0), slopes=(3.0, 4.0), shifts=(0.0, 0.0))"


@pytest.mark.parametrize("act", SMOOTH + [piecewise_linear(0.1, 0.2, 1.0, -1.0), relu()], ids=repr)
def test_repr_rebuilds_the_same_activation(act):
    rebuilt = eval(repr(act), vars(activations))  # noqa: S307 - the repr is the constructor call
    t = np.linspace(-3, 3, 61)
    assert repr(rebuilt) == repr(act)
    np.testing.assert_array_equal(rebuilt(t), act(t))
    for name in ("sup_norm", "lipschitz", "sup_prime", "lipschitz_prime"):
        assert getattr(rebuilt, name) == getattr(act, name)


def test_erf_uses_scipy_erf_convention():
    # σ(t) = a erf(bt), erf(x) = 2/√π ∫_0^x e^{-s²} ds; so σ'(0) = a b 2/√π.
    act = erf_sigmoid(1.0, 1.0)
    assert act.prime(np.array(0.0)) == pytest.approx(2 / math.sqrt(math.pi), rel=1e-15)
    assert act(np.array(10.0)) == pytest.approx(special.erf(10.0))


def test_non_numeric_amplitudes_named():
    with pytest.raises(InvalidArgument, match="amplitudes"):
        tanh_sum(amplitudes="abc")
