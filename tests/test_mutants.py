import numpy as np

from mfcheck.model.activations import erf_sigmoid
from mfcheck.dynamics.mutants import MUTANTS, no_factor_two_step, ntk_scaling_step
from mfcheck.model.neurons import InnerNeuron
from mfcheck.dynamics.sgd import mean_field_step

NEURON = InnerNeuron(erf_sigmoid())


def _batch(N):
    rng = np.random.default_rng(np.random.SeedSequence(11))
    return rng.standard_normal((2, N, 3)), rng.standard_normal((2, 3)), rng.uniform(-1, 1, 2)


def test_no_factor_two_takes_half_the_step():
    Theta, x, y = _batch(7)
    good = mean_field_step(Theta, x, y, 0.1, NEURON) - Theta
    bad = no_factor_two_step(Theta, x, y, 0.1, NEURON) - Theta
    assert np.allclose(bad, good / 2)


def test_ntk_scaling_differs_only_through_the_output():
    Theta, x, y = _batch(1)
    assert np.allclose(ntk_scaling_step(Theta, x, y, 0.1, NEURON), mean_field_step(Theta, x, y, 0.1, NEURON))
    Theta, x, y = _batch(9)
    assert not np.allclose(ntk_scaling_step(Theta, x, y, 0.1, NEURON), mean_field_step(Theta, x, y, 0.1, NEURON))


def test_registry():
    assert set(MUTANTS) == {"no_factor_two", "ntk_scaling"}
