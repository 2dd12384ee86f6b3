"""Unit tests of mfcheck.model.neurons: σ*(x; θ), ∇_θ σ*, the pull-back Σ_j c_j ∇_θ σ*(x_j; θ_m)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfcheck.model.activations import bounded_sine, erf_sigmoid, piecewise_linear, tanh_sum
from mfcheck.errors import InvalidArgument, OutsideAssumptions
from mfcheck.model.neurons import AffineNeuron, InnerNeuron

ACT = tanh_sum(amplitudes=(1.2, -0.4), slopes=(1.0, 2.0), shifts=(0.1, -0.3))
NEURONS = [InnerNeuron(ACT), InnerNeuron(erf_sigmoid(1.5, 0.8)), AffineNeuron(ACT), AffineNeuron(bounded_sine(0.7, 1.3, 0.2))]


def _data(rng, neuron, n=7, M=5, d=3, lead=()):
    X = rng.standard_normal(lead + (n, d))
    Theta = 0.8 * rng.standard_normal(lead + (M, neuron.dim(d)))
    return X, Theta


def _direct_value(neuron, x, theta):
    """σ*(x; θ) for one data point and one particle, written from the definition."""
    act = neuron.activation
    if isinstance(neuron, InnerNeuron):
        return float(act(np.dot(theta, x)))
    a, w, b = theta[0], theta[1:-1], theta[-1]
    return a * float(act(np.dot(w, x) + b))


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_value_matches_definition(neuron, rng):
    X, Theta = _data(rng, neuron)
    expected = np.array([[_direct_value(neuron, x, th) for th in Theta] for x in X])
    np.testing.assert_allclose(neuron.value(X, Theta), expected, rtol=1e-14, atol=1e-15)


def test_dims():
    assert InnerNeuron(ACT).dim(4) == 4
    assert AffineNeuron(ACT).dim(4) == 6


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_grad_matches_finite_differences(neuron, rng):
    X, Theta = _data(rng, neuron)
    G = neuron.grad(X, Theta)
    n, M, D = G.shape
    assert (n, M, D) == (X.shape[0], Theta.shape[0], neuron.dim(X.shape[1]))
    h = 1e-6
    fd = np.empty_like(G)
    for k in range(D):
        E = np.zeros_like(Theta)
        E[:, k] = h  # σ*(x; θ_m) depends on θ_m only, so all particles can move at once
        fd[:, :, k] = (neuron.value(X, Theta + E) - neuron.value(X, Theta - E)) / (2 * h)
    # truncation h² |∂³σ*| / 6 ~ 1e-12 times |x|³, round-off ~ 1e-16 / h ~ 1e-10
    np.testing.assert_allclose(G, fd, rtol=0, atol=1e-8)


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_pullback_is_weighted_sum_of_grads(neuron, rng):
    X, Theta = _data(rng, neuron)
    c = rng.standard_normal(X.shape[0])
    expected = np.einsum("jmD,j->mD", neuron.grad(X, Theta), c)
    np.testing.assert_allclose(neuron.pullback(X, Theta, c), expected, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_batched_leading_axes_agree_with_loop(neuron, rng):
    R = 4
    X, Theta = _data(rng, neuron, lead=(R,))
    c = rng.standard_normal((R, X.shape[-2]))
    V, P, G = neuron.value(X, Theta), neuron.pullback(X, Theta, c), neuron.grad(X, Theta)
    assert V.shape == (R, X.shape[-2], Theta.shape[-2])
    assert P.shape == (R,) + Theta.shape[-2:]
    assert G.shape == (R, X.shape[-2]) + Theta.shape[-2:]
    for r in range(R):
        np.testing.assert_allclose(V[r], neuron.value(X[r], Theta[r]), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(P[r], neuron.pullback(X[r], Theta[r], c[r]), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(G[r], neuron.grad(X[r], Theta[r]), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_shared_data_broadcasts_over_replicates(neuron, rng):
    X, _ = _data(rng, neuron)
    _, Theta = _data(rng, neuron, lead=(3,))
    V = neuron.value(X, Theta)
    for r in range(3):
        np.testing.assert_allclose(V[r], neuron.value(X, Theta[r]), rtol=1e-14, atol=1e-15)


def test_affine_gradient_components(rng):
    """∇_a σ* = σ(z), ∇_w σ* = a σ'(z) x, ∇_b σ* = a σ'(z)."""
    neuron = AffineNeuron(ACT)
    x = rng.standard_normal(3)
    theta = np.array([0.7, 0.2, -0.5, 1.1, 0.3])
    z = theta[1:4] @ x + theta[4]
    g = neuron.grad(x[None, :], theta[None, :])[0, 0]
    np.testing.assert_allclose(g, np.r_[ACT(z), theta[0] * ACT.prime(z) * x, theta[0] * ACT.prime(z)], rtol=1e-14)


@pytest.mark.parametrize("neuron", [InnerNeuron(ACT), AffineNeuron(ACT)], ids=repr)
@pytest.mark.parametrize(
    "X_shape, Theta_shape",
    [
        ((5, 3), (4, 7)),  # wrong D
        ((5, 3), (4, 1)),
        ((3,), (4, 3)),  # 1-D X
        ((5, 3), (3,)),  # 1-D Theta
        ((), (4, 3)),
    ],
)
def test_shape_mismatch_raises(neuron, X_shape, Theta_shape):
    X, Theta = np.ones(X_shape), np.ones(Theta_shape)
    for call in (lambda: neuron.value(X, Theta), lambda: neuron.grad(X, Theta), lambda: neuron.pullback(X, Theta, np.ones(5))):
        with pytest.raises(InvalidArgument, match="Theta"):
            call()


@pytest.mark.parametrize("cls", [InnerNeuron, AffineNeuron])
@pytest.mark.parametrize("bad", [np.tanh, math.tanh, None, "tanh"])
def test_non_activation_is_refused(cls, bad):
    with pytest.raises(InvalidArgument, match="activation"):
        cls(bad)


def test_theorem_1_requirements():
    inner = InnerNeuron(erf_sigmoid())
    assert inner.require_theorem_1() is inner
    with pytest.raises(OutsideAssumptions, match="unbounded in a"):
        AffineNeuron(erf_sigmoid()).require_theorem_1()
    with pytest.raises(OutsideAssumptions, match="not Lipschitz"):
        InnerNeuron(piecewise_linear()).require_theorem_1()


def test_repr():
    assert repr(InnerNeuron(erf_sigmoid())) == "InnerNeuron(erf_sigmoid(amplitude=1.0, slope=1.0))"
    assert repr(AffineNeuron(erf_sigmoid())).startswith("AffineNeuron(erf_sigmoid(")
