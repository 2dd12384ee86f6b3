"""mfcheck.claims.energy: the pieces of the energy-decay check (fast, small problems)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.claims.base import CheckContext
from mfcheck.claims.energy import (
    CLAIM, SIZES, ScaledDrift, Sizes, centred_difference, curvature_term, dissipation, evaluate, flow_with_positions,
    reference_identity, roundoff_bound, sgd_identity,
)
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import default_experiment
from mfcheck.model.functionals import grad_Psi
from mfcheck.model.initial import GaussianInit
from mfcheck.dynamics.broken import BROKEN
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems import teacher_population
from mfcheck.reference import couple, solve_flow
from mfcheck.report import write_report
from mfcheck.stats.results import decide
from mfcheck.model.schedules import constant, exponential_decay
from mfcheck.seeds import Streams
from mfcheck.dynamics.rules import MEAN_FIELD, Rule, mean_field_step
from mfcheck.dynamics.sgd import iid_init
from mfcheck.claims.tiers import Tier, get_tier


@pytest.fixture(scope="module")
def small():
    problem = teacher_population(24, 2, tanh_sum((1.0,), (2.0,)), seed=3, noise=0.1)
    neuron = InnerNeuron(erf_sigmoid())
    nodes, weights = GaussianInit(2, 0.6).quadrature(5)
    return problem, neuron, nodes, weights


def test_sizes_cover_every_tier():
    assert set(SIZES) == {"smoke", "ci", "full"}
    assert CLAIM.name == "energy_decay"


def test_scaled_drift_scales_only_the_gradient(small, rng):
    problem, neuron, nodes, _ = small
    broken = ScaledDrift(problem, 0.5)
    yhat = problem.predict(neuron, nodes)
    assert np.allclose(broken.grad_Psi_of_prediction(neuron, nodes, yhat), 0.5 * problem.grad_Psi_of_prediction(neuron, nodes, yhat))
    assert np.allclose(broken.predict(neuron, nodes), yhat)
    assert broken.risk_of_prediction(yhat) == problem.risk_of_prediction(yhat)
    with pytest.raises(InvalidArgument, match="drift_scale"):
        ScaledDrift(problem, float("nan"))
    with pytest.raises(InvalidArgument):
        ScaledDrift("not a population", 1.0)


def test_flow_with_positions_matches_solve_flow(small):
    problem, neuron, nodes, weights = small
    flow, pos = flow_with_positions(problem, neuron, nodes, weights, T=0.5, h=1 / 16, record_dt=1 / 8)
    ref = solve_flow(problem, neuron, nodes, weights, T=0.5, h=1 / 16, record_dt=1 / 8)
    assert np.array_equal(flow.yhat, ref.yhat)
    assert np.array_equal(pos, couple(ref, problem, neuron, nodes))
    assert np.allclose(pos[0], nodes)
    # the positions carry the flow's predictor
    assert np.allclose(problem.predict(neuron, pos, weights), flow.yhat, atol=1e-12)


def test_dissipation_is_four_xi_times_the_mean_squared_gradient(small):
    problem, neuron, nodes, weights = small
    flow, pos = flow_with_positions(problem, neuron, nodes, weights, T=0.25, h=1 / 8, record_dt=1 / 8)
    xi = np.array([1.0, 0.5, 2.0])
    D = dissipation(problem, neuron, pos, flow.yhat, weights, xi)
    for j in range(3):
        g = grad_Psi(problem, neuron, pos[j], pos[j], weights)
        assert np.isclose(D[j], 4 * xi[j] * weights @ np.sum(g * g, axis=1), rtol=1e-12)
    with pytest.raises(InvalidArgument, match="xi"):
        dissipation(problem, neuron, pos, flow.yhat, weights, xi[:2])


def test_centred_difference_is_exact_on_quadratics():
    t = np.linspace(0, 1, 11)
    c = centred_difference(3 * t**2 - t, 0.1)
    assert np.allclose(c, 6 * t[1:-1] - 1)
    with pytest.raises(InvalidArgument, match="values"):
        centred_difference([1.0, 2.0], 0.1)
    with pytest.raises(InvalidArgument, match="dt"):
        centred_difference(t, 0.0)


def test_roundoff_bound_is_tiny_and_positive():
    b = roundoff_bound(np.array([0.5, 0.4]), np.array([[0.3, -2.0]]), 128, 1024)
    assert 0 < b < 1e-11


@pytest.mark.parametrize("schedule", [constant(1.0), exponential_decay(1.5, 1.0)])
def test_reference_identity_holds_for_the_correct_flow(small, schedule):
    problem, neuron, nodes, weights = small
    ref = reference_identity(problem, neuron, nodes, weights, T=1.0, h=1 / 32, schedule=schedule)
    assert ref.monotone and ref.max_increment < 0
    assert ref.identity_holds
    assert abs(ref.ratio - 1) < 0.05
    assert abs(ref.observed_order - 2) < 0.1
    slope, half = ref.slope
    assert abs(slope - 1) < 1e-3 and half < 1e-2


def test_reference_identity_rejects_a_wrong_factor_and_an_ascent(small):
    problem, neuron, nodes, weights = small
    half = reference_identity(problem, neuron, nodes, weights, T=1.0, h=1 / 32, drift_scale=0.5)
    assert half.monotone and not half.identity_holds
    assert abs(half.slope[0] - 0.5) < 1e-3
    assert abs(half.observed_order) < 0.1 and half.ratio > 100
    up = reference_identity(problem, neuron, nodes, weights, T=1.0, h=1 / 32, drift_scale=-1.0)
    assert not up.monotone and not up.identity_holds
    assert abs(up.slope[0] + 1) < 1e-3


def test_reference_identity_validates_the_grid(small):
    problem, neuron, nodes, weights = small
    with pytest.raises(InvalidArgument, match="`h`"):
        reference_identity(problem, neuron, nodes, weights, T=1.0, h=0.3)


def test_curvature_term_is_second_order(small, rng):
    problem, neuron, _, _ = small
    theta = iid_init(GaussianInit(2, 0.6), rng, 16)
    yhat = problem.predict(neuron, theta)
    g = problem.grad_Psi_of_prediction(neuron, theta, yhat)
    R0 = float(problem.risk_of_prediction(yhat))
    c = [curvature_term(problem, neuron, MEAN_FIELD, theta, g, s, R0) for s in (2e-3, 1e-3)]
    assert 3.6 < c[0] / c[1] < 4.4  # C = O(s²)
    # the mutant's first-order term is half the correct one: its curvature stays second order too
    cm = [curvature_term(problem, neuron, BROKEN["no_factor_two"].rule, theta, g, s, R0) for s in (2e-3, 1e-3)]
    assert 3.6 < cm[0] / cm[1] < 4.4


def test_sgd_identity_separates_correct_and_mutant(small):
    problem, neuron, _, _ = small
    rho0 = GaussianInit(2, 0.6)
    kw = dict(N=16, eps=1 / 512, T=0.25, replicates=3, streams=Streams(5).child("t"), curvature_steps=3)
    good = sgd_identity(problem, neuron, rho0, MEAN_FIELD, iid_init, **kw)
    bad = sgd_identity(problem, neuron, rho0, BROKEN["no_factor_two"].rule, iid_init, **kw)
    assert good.p_value > 0.01 and abs(good.decrease_ratio[0] - 1) < 0.15
    assert bad.p_value < 1e-6 and bad.z > 0 and abs(bad.decrease_ratio[0] - 0.5) < 0.15
    # two-sided: a step twice too large (Z < 0) is rejected too
    double = Rule("double_step", lambda th, x, y, s, nn: mean_field_step(th, x, y, 2 * s, nn))
    fast = sgd_identity(problem, neuron, rho0, double, iid_init, **kw)
    assert fast.p_value < 1e-6 and fast.z < 0 and abs(fast.decrease_ratio[0] - 2) < 0.3
    # the power rule's noncentrality, read off the correct run, does not overstate where the step at
    # s/2 puts Z: its shift is that of the correct run's decrease, and the smaller step also has a
    # smaller noise sum in the denominator, so the mutant's Z lies further out
    den = math.hypot(math.sqrt(good.sum_d2), good.curvature_se)
    nc = 0.5 * good.predicted_decrease / den
    assert math.hypot(math.sqrt(bad.sum_d2), bad.curvature_se) < den and bad.z > nc
    assert math.isclose(good.p_value, 2 * stats.norm.sf(abs(good.z)))
    assert good.curve_risk_change.shape == good.curve_predicted.shape == (3, len(good.curve_times))
    with pytest.raises(InvalidArgument, match="eps"):
        sgd_identity(problem, neuron, rho0, MEAN_FIELD, iid_init, **{**kw, "eps": 0.3})


def _tiny_context(rule=MEAN_FIELD):
    exp = default_experiment(log2_M=6)
    return CheckContext(experiment=exp, tier=get_tier("smoke"), reference=None, rule=rule)


TINY = Sizes(log2_M=6, N=16, eps=1 / 512, T_sgd=1 / 16, replicates=2, curvature_steps=2)


def test_evaluate_and_render(tmp_path):
    ctx = _tiny_context()
    result = decide([evaluate(ctx, sizes=TINY)])[0]
    assert [t.p_value for t in result.tests[:2]] == [1.0, 1.0]
    assert [t.role for t in result.tests] == ["precondition", "precondition", "implementation"]
    assert result.verdict == "pass"
    assert list(CLAIM.detection(ctx, result, 0.05)["test_power"]) == [result.tests[2].name]  # the test that spends α states its power
    assert abs(result.estimates["reference: slope of dR/dt on −4ξ∫||∇Ψ||²"]["estimate"] - 1) < 1e-3
    write_report(CLAIM, result, ctx, tmp_path)
    text = (tmp_path / "energy_decay" / "report.md").read_text()
    assert "Verdict: PASS" in text and "Holm-adjusted" in text
    assert (tmp_path / "energy_decay" / "energy.png").stat().st_size > 0


def test_run_refuses_an_unknown_tier():
    ctx = _tiny_context()
    bogus = Tier("bogus", N_path=(16,), eps_path=(1 / 16,), kink=4, replicates=2, log2_M=6)
    with pytest.raises(InvalidArgument, match="tier"):
        CLAIM.run(CheckContext(experiment=ctx.experiment, tier=bogus, reference=None))
