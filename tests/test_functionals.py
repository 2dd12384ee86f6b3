"""The exact identities of docs/theory.md §1, as unit tests of mfcheck.model.functionals.

- R_N(θ) = R(ρ̂^N) = R_# + (2/N) Σ_i V(θ_i) + (1/N²) Σ_{i,j} U(θ_i, θ_j)
         = mean_j (y_j - (1/N) Σ_i σ*(x_j; θ_i))²                       (to 1e-12);
- ∂R_N/∂θ_i = (2/N) ∇_θ Ψ(θ_i; ρ̂^N)                                    (finite differences);
- δR/δρ(θ) = 2 Ψ(θ; ρ)                                                  (derivative along a mixture);
- the fast route (through ŷ_ρ) equals the oracle route (V, U, ∇V, ∇₁U).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfcheck.model import functionals as F
from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import AffineNeuron, InnerNeuron
from mfcheck.model.problems import teacher_population
from mfcheck.model.problems.base import Problem

D_IN = 3
NEURONS = [InnerNeuron(erf_sigmoid()), AffineNeuron(tanh_sum())]


@pytest.fixture(scope="module")
def pop():
    return teacher_population(n=60, d=D_IN, teacher=tanh_sum(amplitudes=(1.5,), slopes=(1.3,)), seed=2, noise=0.3)


class OracleOnly(Problem):
    """The same law without ``predict``: forces ``risk``/``grad_Psi`` onto the oracle route."""

    def __init__(self, inner):
        self.inner, self.d, self.y_bound = inner, inner.d, inner.y_bound

    R_sharp = property(lambda self: self.inner.R_sharp)

    def V(self, neuron, Theta):
        return self.inner.V(neuron, Theta)

    def grad_V(self, neuron, Theta):
        return self.inner.grad_V(neuron, Theta)

    def U(self, neuron, T1, T2):
        return self.inner.U(neuron, T1, T2)

    def grad1_U(self, neuron, T1, T2):
        return self.inner.grad1_U(neuron, T1, T2)


def _particles(rng, neuron, N, lead=()):
    return 0.9 * rng.standard_normal(lead + (N, neuron.dim(D_IN)))


def _direct_risk(pop, neuron, Theta, w=None):
    """mean_j (y_j - Σ_i w_i σ*(x_j; θ_i))², with σ* written out."""
    act = neuron.activation
    N = len(Theta)
    w = np.full(N, 1.0 / N) if w is None else w
    total = 0.0
    for x, y in zip(pop.X, pop.y):
        if isinstance(neuron, InnerNeuron):
            yhat = sum(wi * float(act(th @ x)) for wi, th in zip(w, Theta))
        else:
            yhat = sum(wi * th[0] * float(act(th[1:-1] @ x + th[-1])) for wi, th in zip(w, Theta))
        total += (y - yhat) ** 2
    return total / pop.n


# -- R_N(θ) = R(ρ̂^N) -------------------------------------------------------------------


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
@pytest.mark.parametrize("N", [1, 2, 7])
def test_risk_identity(pop, neuron, N, rng):
    Theta = _particles(rng, neuron, N)
    direct = _direct_risk(pop, neuron, Theta)
    expansion = pop.R_sharp + 2.0 / N * pop.V(neuron, Theta).sum() + pop.U(neuron, Theta, Theta).sum() / N**2
    fast = F.risk(pop, neuron, Theta)
    oracle = F.risk_from_oracle(pop, neuron, Theta)
    for value in (expansion, fast, oracle, F.risk(OracleOnly(pop), neuron, Theta)):
        assert abs(value - direct) <= 1e-12 * max(1.0, direct)


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_weighted_risk_identity(pop, neuron, rng):
    Theta = _particles(rng, neuron, 5)
    w = rng.dirichlet(np.ones(5))
    direct = _direct_risk(pop, neuron, Theta, w)
    expansion = pop.R_sharp + 2.0 * w @ pop.V(neuron, Theta) + w @ pop.U(neuron, Theta, Theta) @ w
    for value in (expansion, F.risk(pop, neuron, Theta, w), F.risk_from_oracle(pop, neuron, Theta, w)):
        assert abs(value - direct) <= 1e-12 * max(1.0, direct)


def test_duplicated_particles_give_the_same_measure(pop, rng):
    """R depends on θ only through ρ̂^N: repeating every particle twice changes nothing."""
    neuron = NEURONS[0]
    Theta = _particles(rng, neuron, 4)
    assert F.risk(pop, neuron, np.concatenate([Theta, Theta])) == pytest.approx(F.risk(pop, neuron, Theta), rel=1e-13)
    w = np.array([0.5, 0.5, 0.0, 0.0])
    assert F.risk(pop, neuron, Theta, w) == pytest.approx(F.risk(pop, neuron, Theta[:2]), rel=1e-13)


def test_risk_batched_over_replicates(pop, rng):
    neuron = NEURONS[1]
    Theta = _particles(rng, neuron, 6, lead=(3,))
    r = F.risk(pop, neuron, Theta)
    assert r.shape == (3,)
    np.testing.assert_allclose(r, [F.risk_from_oracle(pop, neuron, Theta[i]) for i in range(3)], rtol=1e-12)


# -- ∂R_N/∂θ_i = (2/N) ∇Ψ(θ_i; ρ̂^N) ------------------------------------------------------


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_gradient_identity(pop, neuron, rng):
    N = 5
    Theta = _particles(rng, neuron, N)
    D = Theta.shape[1]
    h = 1e-5
    fd = np.empty_like(Theta)
    for i in range(N):
        for k in range(D):
            E = np.zeros_like(Theta)
            E[i, k] = h
            fd[i, k] = (F.risk(pop, neuron, Theta + E) - F.risk(pop, neuron, Theta - E)) / (2 * h)
    predicted = 2.0 / N * F.grad_Psi(pop, neuron, Theta, Theta)
    # central differences: truncation h² |∂³R_N| / 6 ~ 1e-10, round-off 1e-16 / h ~ 1e-11
    np.testing.assert_allclose(fd, predicted, rtol=0, atol=1e-7)


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_grad_Psi_is_gradient_of_Psi(pop, neuron, rng):
    theta, Theta = _particles(rng, neuron, 3), _particles(rng, neuron, 4)
    w = rng.dirichlet(np.ones(4))
    h = 1e-6
    fd = np.stack(
        [
            (F.Psi(pop, neuron, theta + h * e, Theta, w) - F.Psi(pop, neuron, theta - h * e, Theta, w)) / (2 * h)
            for e in np.eye(theta.shape[1])
        ],
        axis=-1,
    )
    np.testing.assert_allclose(F.grad_Psi(pop, neuron, theta, Theta, w), fd, rtol=0, atol=1e-8)


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_Psi_is_half_the_first_variation(pop, neuron, rng):
    """d/dt R((1-t)ρ + t δ_θ) at t = 0 equals 2 (Ψ(θ; ρ) - ∫Ψ(·; ρ) dρ).

    t -> R((1-t)ρ + t δ_θ) is a quadratic, so the one-sided 3-point rule is exact.
    """
    Theta = _particles(rng, neuron, 4)
    w = rng.dirichlet(np.ones(4))
    theta = _particles(rng, neuron, 1)
    both = np.concatenate([Theta, theta])

    def R(t):
        return F.risk(pop, neuron, both, np.r_[(1 - t) * w, t])

    h = 0.125
    slope = (-3 * R(0.0) + 4 * R(h) - R(2 * h)) / (2 * h)
    psi_theta = F.Psi(pop, neuron, theta, Theta, w)[0]
    psi_mean = w @ F.Psi(pop, neuron, Theta, Theta, w)
    assert slope == pytest.approx(2 * (psi_theta - psi_mean), abs=1e-12)


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_Psi_matches_definition(pop, neuron, rng):
    theta, Theta = _particles(rng, neuron, 3), _particles(rng, neuron, 4)
    expected = pop.V(neuron, theta) + pop.U(neuron, theta, Theta).mean(axis=1)
    np.testing.assert_allclose(F.Psi(pop, neuron, theta, Theta), expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
@pytest.mark.parametrize("weighted", [False, True])
def test_grad_Psi_routes_agree(pop, neuron, weighted, rng):
    theta, Theta = _particles(rng, neuron, 3), _particles(rng, neuron, 6)
    w = rng.dirichlet(np.ones(6)) if weighted else None
    fast = F.grad_Psi(pop, neuron, theta, Theta, w)
    oracle = F.grad_Psi_from_oracle(pop, neuron, theta, Theta, w)
    assert fast.shape == theta.shape
    np.testing.assert_allclose(fast, oracle, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(F.grad_Psi(OracleOnly(pop), neuron, theta, Theta, w), oracle, rtol=0, atol=0)


def test_grad_Psi_batched(pop, rng):
    neuron = NEURONS[0]
    Theta = _particles(rng, neuron, 5, lead=(2,))
    g = F.grad_Psi(pop, neuron, Theta, Theta)
    assert g.shape == Theta.shape
    for r in range(2):
        np.testing.assert_allclose(g[r], F.grad_Psi_from_oracle(pop, neuron, Theta[r], Theta[r]), rtol=1e-12, atol=1e-14)


# -- bad inputs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weights",
    [
        [0.5, 0.4, 0.05],  # sums to 0.95
        [0.5, 0.5, 0.5],
        [1.5, -0.25, -0.25],  # sums to 1 but negative
        [1.0, 0.0, math.nan],
        [0.5, 0.5],  # wrong length
    ],
)
def test_bad_weights_raise(pop, weights, rng):
    neuron = NEURONS[0]
    Theta = _particles(rng, neuron, 3)
    calls = [
        lambda: F.risk(pop, neuron, Theta, weights),
        lambda: F.risk_from_oracle(pop, neuron, Theta, weights),
        lambda: F.Psi(pop, neuron, Theta, Theta, weights),
        lambda: F.grad_Psi(pop, neuron, Theta, Theta, weights),
        lambda: F.grad_Psi_from_oracle(pop, neuron, Theta, Theta, weights),
        lambda: F.weights_of(Theta, weights),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument, match="weights"):
            call()


def test_weights_of_default_is_uniform():
    np.testing.assert_array_equal(F.weights_of(np.zeros((4, 2))), np.full(4, 0.25))


@pytest.mark.parametrize("Theta, name", [(np.ones(3), "Theta"), (np.full((2, 3), math.nan), "Theta")])
def test_bad_particles_raise(pop, Theta, name):
    neuron = NEURONS[0]
    with pytest.raises(InvalidArgument, match=name):
        F.risk(pop, neuron, Theta)
    with pytest.raises(InvalidArgument, match="theta"):
        F.grad_Psi(pop, neuron, Theta, np.ones((2, 3)))
