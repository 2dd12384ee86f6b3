"""The exact identities of docs/theory.md §1 over hypothesis-drawn activations, populations and particles.

R_N(θ) = R(ρ̂^N) = R_# + (2/N) Σ V(θ_i) + (1/N²) Σ U(θ_i, θ_j)   and
∂R_N/∂θ_i = (2/N) ∇_θ Ψ(θ_i; ρ̂^N). Both are exact: tolerances are float round-off and the
truncation error of a central difference.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mfcheck.model.activations import bounded_sine, erf_sigmoid, tanh_sum
from mfcheck.model.functionals import grad_Psi, risk, risk_from_oracle
from mfcheck.model.neurons import AffineNeuron, InnerNeuron
from mfcheck.model.problems import FinitePopulation

activations = st.one_of(
    st.builds(lambda a, b: tanh_sum((a,), (b,)), st.floats(-2, 2), st.floats(0.2, 2)),
    st.builds(erf_sigmoid, st.floats(-2, 2), st.floats(0.2, 2)),
    st.builds(bounded_sine, st.floats(-2, 2), st.floats(0.2, 2)),
)


@st.composite
def settings(draw):
    act = draw(activations)
    neuron = draw(st.sampled_from([InnerNeuron, AffineNeuron]))(act)
    seed = draw(st.integers(0, 2**32 - 1))
    n, d, N = draw(st.integers(1, 12)), draw(st.integers(1, 4)), draw(st.integers(1, 9))
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    problem = FinitePopulation(rng.standard_normal((n, d)), rng.uniform(-1, 1, n))
    Theta = rng.standard_normal((N, neuron.dim(d)))
    return problem, neuron, Theta


@given(settings())
def test_risk_identity(s):
    problem, neuron, Theta = s
    direct = np.mean((problem.y - neuron.value(problem.X, Theta).mean(axis=1)) ** 2)
    assert np.isclose(risk(problem, neuron, Theta), direct, rtol=1e-10, atol=1e-12)
    assert np.isclose(risk_from_oracle(problem, neuron, Theta), direct, rtol=1e-10, atol=1e-12)


@given(settings())
def test_gradient_identity(s):
    problem, neuron, Theta = s
    N = Theta.shape[0]
    g = 2.0 / N * grad_Psi(problem, neuron, Theta, Theta)
    h = 1e-6
    fd = np.zeros_like(Theta)
    for i in range(N):
        for k in range(Theta.shape[1]):
            E = np.zeros_like(Theta)
            E[i, k] = h
            fd[i, k] = (risk(problem, neuron, Theta + E) - risk(problem, neuron, Theta - E)) / (2 * h)
    assert np.allclose(g, fd, rtol=1e-5, atol=1e-6)
