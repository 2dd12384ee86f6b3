"""mfcheck.reference.field: the compiled population field equals the problem's oracle."""

from __future__ import annotations

import numpy as np
import pytest

from mfcheck.dynamics import kernels
from mfcheck.model.activations import bounded_sine, erf_sigmoid, piecewise_linear, relu, tanh_sum
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import AffineNeuron, InnerNeuron
from mfcheck.model.problems.finite import FinitePopulation
from mfcheck.reference import field

FAMILIES = [tanh_sum((1.0, -0.5), (1.0, 2.0), (0.0, 0.3)), erf_sigmoid(1.3, 0.7), bounded_sine(1.0, 2.0, 0.3), piecewise_linear(), relu()]


@pytest.fixture
def population():
    rng = np.random.default_rng(np.random.SeedSequence(21))
    X = rng.standard_normal((37, 3))
    return FinitePopulation(X, np.tanh(X[:, 0]) + 0.1 * rng.standard_normal(37)), rng


@pytest.mark.parametrize("activation", FAMILIES, ids=lambda a: a.family)
def test_compiled_field_equals_the_oracle(population, activation):
    """ŷ and ∇Ψ at (R, N, D) particles (more than one particle chunk), per-replicate and shared ŷ."""
    problem, rng = population
    neuron = InnerNeuron(activation)
    assert field.compiled(problem, neuron)
    Theta = rng.standard_normal((3, 2 * kernels._PARTICLE_CHUNK + 5, 3))
    yhat = field.predict(problem, neuron, Theta)
    np.testing.assert_allclose(yhat, problem.predict(neuron, Theta), rtol=1e-13, atol=1e-13)
    w = rng.random(Theta.shape[1])
    np.testing.assert_allclose(field.predict(problem, neuron, Theta, w), problem.predict(neuron, Theta, w), rtol=1e-13, atol=1e-13)
    for y in (yhat, yhat[0]):  # (R, n) and one field shared by all replicates
        np.testing.assert_allclose(field.grad_Psi(problem, neuron, Theta, y), problem.grad_Psi_of_prediction(neuron, Theta, y),
                                   rtol=1e-13, atol=1e-13)
    from mfcheck.dynamics.sgd import _recorded_risk
    from mfcheck.model.functionals import risk

    np.testing.assert_allclose(_recorded_risk(problem, neuron, Theta), risk(problem, neuron, Theta), rtol=1e-13, atol=1e-13)
    one = Theta[0]  # no leading axis
    np.testing.assert_allclose(field.grad_Psi(problem, neuron, one, yhat[0]), problem.grad_Psi_of_prediction(neuron, one, yhat[0]),
                               rtol=1e-13, atol=1e-13)


def test_subclasses_and_other_neurons_use_the_oracle(population):
    """A subclass may change the drift (the mutants do): the compiled field must not replace it."""
    problem, rng = population

    class Doubled(FinitePopulation):
        def grad_Psi_of_prediction(self, neuron, Theta, yhat):
            return 2.0 * super().grad_Psi_of_prediction(neuron, Theta, yhat)

    broken = Doubled(problem.X, problem.y)
    neuron = InnerNeuron(tanh_sum())
    Theta = rng.standard_normal((4, 3))
    yhat = problem.predict(neuron, Theta)
    assert not field.compiled(broken, neuron) and not field.compiled(problem, AffineNeuron(tanh_sum()))
    np.testing.assert_allclose(field.grad_Psi(broken, neuron, Theta, yhat), 2.0 * field.grad_Psi(problem, neuron, Theta, yhat), rtol=1e-12)
    affine = AffineNeuron(tanh_sum())
    T5 = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(field.predict(problem, affine, T5), problem.predict(affine, T5))


def test_compiled_field_refuses_bad_shapes():
    neuron = InnerNeuron(tanh_sum())
    with pytest.raises(InvalidArgument):
        kernels.pullback(neuron, np.zeros((3, 2)), np.zeros((4, 3)), np.zeros(3))
    with pytest.raises(InvalidArgument):
        kernels.predict(neuron, np.zeros((3, 2)), np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(InvalidArgument):
        kernels.pullback(AffineNeuron(tanh_sum()), np.zeros((3, 2)), np.zeros((4, 4)), np.zeros(3))
