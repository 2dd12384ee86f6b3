"""mfcheck.dynamics.rules: the update-rule type (a frozen value), its noisy forms and its declared kernel."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from mfcheck.dynamics.rules import DEFAULT_C, KERNELS, MEAN_FIELD, Langevin, Rule, mean_field_step
from mfcheck.errors import InvalidArgument
from mfcheck.model.activations import erf_sigmoid
from mfcheck.model.neurons import InnerNeuron

NEURON = InnerNeuron(erf_sigmoid())


def _batch(rng, R=2, N=5, D=3):
    return rng.standard_normal((R, N, D)), rng.standard_normal((R, D)), rng.uniform(-1, 1, R), rng.standard_normal((R, N, D))


def test_the_correct_rule_is_a_frozen_value():
    assert MEAN_FIELD.name == "mean_field_step" and MEAN_FIELD.noise is None and MEAN_FIELD.kernel == "mean_field" in KERNELS
    with pytest.raises(dataclasses.FrozenInstanceError):
        MEAN_FIELD.kernel = None
    noisy = MEAN_FIELD.noisy(0.5, 4.0)
    assert noisy.noise == Langevin(0.5, 4.0, DEFAULT_C) and noisy.compiled_kernel == "mean_field" and MEAN_FIELD.noise is None
    assert noisy.label == "langevin_step(lam=0.5, beta=4.0, c=4.0)" and MEAN_FIELD.label == "mean_field_step"


def test_noisy_is_the_step_plus_the_langevin_terms(rng):
    Theta, x, y, g = _batch(rng)
    lam, beta, c, s = 0.3, 2.0, 2.0, 0.05
    want = mean_field_step(Theta, x, y, s, NEURON) - 2 * lam * s * Theta + math.sqrt(c * s / beta) * g
    np.testing.assert_allclose(MEAN_FIELD.langevin(lam, beta, c)(Theta, x, y, s, NEURON, g), want, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(MEAN_FIELD(Theta, x, y, s, NEURON), mean_field_step(Theta, x, y, s, NEURON))
    np.testing.assert_array_equal(mean_field_step(Theta, x, y, s, NEURON, readout=Theta.shape[1]), mean_field_step(Theta, x, y, s, NEURON))


def test_a_noisy_step_of_its_own_runs_unless_set_aside(rng):
    """``noisy`` keeps the rule's own noisy step (a user's implementation); ``langevin`` sets it aside
    for the exact Langevin terms around the rule's noiseless step."""
    Theta, x, y, g = _batch(rng)
    own = Rule("own", mean_field_step, noisy_step=lambda th, x, y, s, n, g, noise: th + noise.lam, kernel="mean_field")
    np.testing.assert_array_equal(own.noisy(0.25, 1.0)(Theta, x, y, 0.1, NEURON, g), Theta + 0.25)
    np.testing.assert_array_equal(own.langevin(0.25, 1.0)(Theta, x, y, 0.1, NEURON, g), MEAN_FIELD.noisy(0.25, 1.0)(Theta, x, y, 0.1, NEURON, g))
    assert own.compiled_kernel == "mean_field" and own.noisy(0.25, 1.0).compiled_kernel is None
    assert own.langevin(0.25, 1.0).compiled_kernel == "mean_field"
    assert own.noisy(0.25, 1.0).label == "own(lam=0.25, beta=1.0)"


@pytest.mark.parametrize("kwargs, word", [
    (dict(name="", step=mean_field_step), "name"),
    (dict(name="r", step=3), "step"),
    (dict(name="r", step=mean_field_step, noise=(0.1, 1.0)), "noise"),
    (dict(name="r", step=mean_field_step, noisy_step="no"), "noisy_step"),
    (dict(name="r", step=mean_field_step, kernel="fortran"), "kernel"),
])
def test_rule_errors_name_the_field(kwargs, word):
    with pytest.raises(InvalidArgument, match=f"`{word}`"):
        Rule(**kwargs)
