"""mfcheck.reference: the RK4 flow, its coupled particles and the refinement error."""

from __future__ import annotations

import numpy as np
import pytest

from mfcheck.model.activations import bounded_sine, erf_sigmoid, piecewise_linear, relu, tanh_sum
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import Experiment
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import AffineNeuron, InnerNeuron
from mfcheck.model.observables import default_test_functions
from mfcheck.model.problems import FinitePopulation, teacher_population
from mfcheck.reference import build_reference, couple, solve_flow
from mfcheck.model.schedules import exponential_decay


@pytest.fixture(scope="module")
def small():
    problem = teacher_population(24, 2, tanh_sum((1.0,), (2.0,)), seed=3, noise=0.1)
    neuron = InnerNeuron(erf_sigmoid())
    rho0 = GaussianInit(2, 0.6)
    nodes, weights = rho0.quadrature(6)
    return problem, neuron, rho0, nodes, weights


def _flow(small, h, record_dt=0.25, T=1.0):
    problem, neuron, _, nodes, weights = small
    return solve_flow(problem, neuron, nodes, weights, T=T, h=h, record_dt=record_dt)


def test_rk4_converges_at_fourth_order(small):
    flows = [_flow(small, h) for h in (1 / 8, 1 / 16, 1 / 32, 1 / 64)]
    err = [np.max(np.abs(f.yhat - flows[-1].yhat)) for f in flows[:-1]]
    # Richardson: with e(h) = C h^4, e(h) - e(h/2)... use successive differences
    d1 = np.max(np.abs(flows[0].yhat - flows[1].yhat))
    d2 = np.max(np.abs(flows[1].yhat - flows[2].yhat))
    assert np.log2(d1 / d2) > 3.5, (d1, d2, err)


def test_coupled_nodes_reproduce_the_flow(small):
    problem, neuron, _, nodes, weights = small
    flow = _flow(small, 1 / 16)
    theta_bar = couple(flow, problem, neuron, nodes)  # (J, M, D)
    for j in range(len(flow.times)):
        assert np.allclose(problem.predict(neuron, theta_bar[j], weights), flow.yhat[j], atol=1e-13)
    assert np.allclose(theta_bar[0], nodes)


def test_coupling_is_batched_over_replicates(small):
    problem, neuron, rho0, _, _ = small
    flow = _flow(small, 1 / 16)
    theta0 = rho0.sample(np.random.default_rng(np.random.SeedSequence(1)), 10).reshape(2, 5, 2)
    batched = couple(flow, problem, neuron, theta0)
    assert batched.shape == (2, 5, 5, 2)
    for r in range(2):
        assert np.allclose(batched[r], couple(flow, problem, neuron, theta0[r]), atol=1e-14)


def test_energy_decay_matches_dissipation(small):
    """d/dt R(ρ_t) = −4 ξ ∫ ||∇Ψ||² dρ_t ≤ 0 (docs/theory.md §3), to the accuracy of a centred difference."""
    problem, neuron, _, nodes, weights = small
    h = 1 / 64
    flow = _flow(small, h, record_dt=h)
    assert np.all(np.diff(flow.risk) <= 1e-15)
    theta_bar = couple(flow, problem, neuron, nodes)
    dissipation = np.array([
        weights @ np.sum(problem.grad_Psi_of_prediction(neuron, theta_bar[j], flow.yhat[j]) ** 2, axis=-1)
        for j in range(len(flow.times))
    ])
    dRdt = (flow.risk[2:] - flow.risk[:-2]) / (2 * h)
    assert np.allclose(dRdt, -4.0 * dissipation[1:-1], rtol=2e-3, atol=1e-6)


def test_flow_refuses_bad_input(small):
    problem, neuron, _, nodes, weights = small
    with pytest.raises(InvalidArgument, match="divide"):
        solve_flow(problem, neuron, nodes, weights, T=1.0, h=0.3, record_dt=0.25)
    with pytest.raises(InvalidArgument, match="nodes"):
        solve_flow(problem, neuron, nodes * np.nan, weights, T=1.0, h=0.25, record_dt=0.25)
    with pytest.raises(InvalidArgument, match="weights"):
        solve_flow(problem, neuron, nodes, weights[:-1], T=1.0, h=0.25, record_dt=0.25)
    with pytest.raises(InvalidArgument, match="FinitePopulation"):
        solve_flow(object(), neuron, nodes, weights, T=1.0, h=0.25, record_dt=0.25)


def test_refinement_measures_a_small_error(small):
    problem, neuron, rho0, _, _ = small
    experiment = Experiment(problem=problem, neuron=neuron, rho0=rho0, log2_M=9, h=1 / 16)
    ref = build_reference(experiment)
    assert set(ref.error) == {"yhat", "risk", "test_functions", "coupling"}
    assert all(0 < v < 0.05 for v in ref.error.values()), ref.error
    # the refined flow is a different (finer) rule: the errors are real differences, not zero
    assert ref.refined.M == 2 * ref.flow.M and ref.refined.h == ref.flow.h / 2


def test_reference_bar_only_when_asked(small, capfd):
    problem, neuron, rho0, _, _ = small
    experiment = Experiment(problem=problem, neuron=neuron, rho0=rho0, T=0.25, record_dt=0.125, log2_M=4, h=1 / 16)
    quiet = build_reference(experiment)
    assert "nodes" not in capfd.readouterr().err
    shown = build_reference(experiment, progress=True)
    err = capfd.readouterr().err
    assert "reference (2^4 nodes)" in err and "refinement (2^5 nodes)" in err
    assert shown.error == quiet.error and np.array_equal(shown.refined.yhat, quiet.refined.yhat)


def test_population_only():
    with pytest.raises(InvalidArgument):
        FinitePopulation(np.zeros((0, 2)), np.zeros(0))


# -- the fast stage evaluation (BLAS products + compiled activation) against the numpy oracle ----------

_FAMILIES = [tanh_sum((1.0, -0.5), (1.0, 2.0), (0.0, 0.3)), erf_sigmoid(1.3, 0.7), bounded_sine(1.0, 2.0, 0.3), piecewise_linear(), relu()]


@pytest.mark.parametrize("activation", _FAMILIES, ids=lambda a: a.family)
@pytest.mark.parametrize("neuron_type", [InnerNeuron, AffineNeuron], ids=lambda t: t.__name__)
def test_fast_flow_equals_numpy_flow(small, activation, neuron_type):
    """Same ŷ at every RK4 stage, risk and test-function integrals, to rounding (1e-12)."""
    problem = small[0]
    neuron = neuron_type(activation)
    rho0 = GaussianInit(neuron.dim(problem.d), 0.6)
    nodes, weights = rho0.sobol(7, np.random.SeedSequence(4))
    kw = dict(T=0.5, h=1 / 16, record_dt=0.25, schedule=exponential_decay(1.0, 0.7), test_functions=default_test_functions(neuron.dim(problem.d)))
    a = solve_flow(problem, neuron, nodes, weights, backend="numpy", **kw)
    b = solve_flow(problem, neuron, nodes, weights, backend="fast", **kw)
    for field in ("stage_yhat", "yhat", "risk", "f_integrals"):
        np.testing.assert_allclose(getattr(b, field), getattr(a, field), rtol=0, atol=1e-12)
    assert np.max(np.abs(a.yhat[-1] - a.yhat[0])) > 1e-3  # the flow moved


def test_blocked_stage_is_the_oracle_stage_and_does_not_depend_on_threads(small):
    """More nodes than two column blocks (the last one ragged): the stage equals the numpy oracle
    to rounding, and 1 and 3 threads give the same bits (the blocks and their sum order are fixed)."""
    from mfcheck.reference.flow import BLOCK, StageField

    problem, neuron = small[0], InnerNeuron(tanh_sum((1.0, -0.5), (1.0, 2.0), (0.0, 0.3)))
    rng = np.random.default_rng(np.random.SeedSequence(8))
    M = 2 * BLOCK + 37
    theta, weights = 0.7 * rng.standard_normal((M, problem.d)), rng.random(M) / M
    outs = []
    for threads in (1, 3):
        with StageField(problem, neuron, weights, threads=threads) as stage:
            outs.append(stage(theta))
    (y1, g1), (y3, g3) = outs
    assert np.array_equal(y1, y3) and np.array_equal(g1, g3)
    yhat = problem.predict(neuron, theta, weights)
    np.testing.assert_allclose(y1, yhat, rtol=0, atol=1e-13)
    np.testing.assert_allclose(g1, -problem.grad_Psi_of_prediction(neuron, theta, yhat), rtol=0, atol=1e-13)


def test_fast_flow_comparison_sees_a_broken_drift(small):
    """Companion: a flow with the drift doubled (a subclass, which the fast path never takes) differs."""
    from mfcheck.reference.flow import StageField

    class DoubledDrift(FinitePopulation):
        def grad_Psi_of_prediction(self, neuron, Theta, yhat):
            return 2.0 * super().grad_Psi_of_prediction(neuron, Theta, yhat)

    problem, neuron, _, nodes, weights = small
    broken = DoubledDrift(problem.X, problem.y)
    assert not StageField.applies(broken, neuron) and StageField.applies(problem, neuron)
    a = solve_flow(problem, neuron, nodes, weights, T=0.5, h=1 / 16, record_dt=0.25, backend="fast")
    b = solve_flow(broken, neuron, nodes, weights, T=0.5, h=1 / 16, record_dt=0.25)
    assert np.max(np.abs(a.stage_yhat - b.stage_yhat)) > 1e-6
    with pytest.raises(InvalidArgument, match="backend"):
        solve_flow(broken, neuron, nodes, weights, T=0.5, h=1 / 16, record_dt=0.25, backend="fast")
    with pytest.raises(InvalidArgument, match="backend"):
        solve_flow(problem, neuron, nodes, weights, T=0.5, h=1 / 16, record_dt=0.25, backend="gpu")
