"""mfcheck.claims.fixed_points: the pieces of the fixed-point check (fast, small problems)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfcheck.model.activations import erf_sigmoid
from mfcheck.claims.base import CheckContext
from mfcheck.claims.fixed_points import (
    CLAIM, SIZES, Sizes, dedicated_population, dirac_fixed_point, dirac_gradient, find_fixed_point, fit_rate, fixed_point_of,
    hessians, horizon, linearised_second_moment, reference_contraction, sgd_spread, tau_of, evaluate,
)
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import default_experiment
from mfcheck.model.neurons import InnerNeuron
from mfcheck.report import write_report
from mfcheck.stats.results import decide
from mfcheck.model.schedules import constant, exponential_decay
from mfcheck.seeds import Streams
from mfcheck.dynamics.rules import MEAN_FIELD
from mfcheck.claims.tiers import get_tier

NEURON = InnerNeuron(erf_sigmoid())


@pytest.fixture(scope="module")
def fp():
    pop = dedicated_population(3, 11)
    start = 0.5 * (2.0 * pop.X[1::2]).sum(axis=0)
    return fixed_point_of(pop, NEURON, start, "dedicated")


def test_sizes_cover_every_tier():
    assert set(SIZES) == {"smoke", "ci", "full"}
    assert CLAIM.name == "fixed_points"


def test_dedicated_population_is_reproducible_and_orthonormal():
    a, b = dedicated_population(3, 11), dedicated_population(3, 11)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    Q = 2.0 * a.X[1::2]
    assert np.allclose(Q @ Q.T, np.eye(3), atol=1e-12)
    assert np.allclose(a.X[0::2], 2.0 * Q)
    assert a.y.tolist() == [1.0, -0.2, 2.0, -1.0, 2.0, -1.0]
    with pytest.raises(InvalidArgument, match="d"):
        dedicated_population(0, 11)


def test_hessians_match_the_exact_formulas(fp):
    """For σ*(x; w) = σ(<w, x>): A = (1/n) Σ (σ(t) − y) σ''(t) x xᵀ and B = (1/n) Σ σ'(t)² x xᵀ at t = <θ, x>."""
    X, y, th = fp.problem.X, fp.problem.y, fp.theta_star
    act = NEURON.activation
    t = X @ th
    A = (X.T * ((act(t) - y) * act.second(t))) @ X / len(y)
    B = (X.T * act.prime(t) ** 2) @ X / len(y)
    A_fd, B_fd = hessians(fp.problem, NEURON, th)
    assert np.allclose(A_fd, A, atol=1e-8)
    assert np.allclose(B_fd, B, atol=1e-8)


def test_dirac_fixed_point_of_the_dedicated_population(fp):
    assert fp.residual < 1e-12
    assert np.linalg.norm(dirac_gradient(fp.problem, NEURON, fp.theta_star)) < 1e-12
    assert np.allclose(fp.eig_A, [0.128, 0.4862, 0.4862], atol=1e-3)  # rotation-invariant
    assert fp.stable
    assert math.isclose(fp.rate_spread, 4 * fp.eig_A[0]) and math.isclose(fp.rate_second_moment, fp.rate_spread)


def test_dirac_fixed_point_validates(fp):
    with pytest.raises(InvalidArgument, match="theta_start"):
        dirac_fixed_point(fp.problem, NEURON, [[0.1, 0.2, 0.3]])


def test_default_experiment_falls_back_to_the_dedicated_population():
    exp = default_experiment(log2_M=6)
    chosen, rejected = find_fixed_point(exp.problem, exp.neuron, exp.rho0, exp.seed)
    assert chosen.source == "dedicated" and chosen.stable
    assert rejected is not None and not rejected.stable and rejected.residual < 1e-12
    assert rejected.eig_A[0] < 0 < rejected.eig_AB[0]  # θ* minimises R(δ_θ) but A is indefinite
    assert "eig(A)" in chosen.reason


def test_tau_and_horizon():
    t = np.linspace(0, 2, 9)
    assert np.allclose(tau_of(constant(2.0), t), 2 * t)
    assert np.allclose(tau_of(exponential_decay(1.0, 1.0), t), 1 - np.exp(-t), atol=1e-5)
    assert horizon(constant(1.0), 0.5, 8.0, 0.25) == 16.0
    assert horizon(constant(1.0), 0.3, 8.0, 0.25) == 26.75
    assert horizon(exponential_decay(1.0, 1.0), 0.5, 8.0, 0.25) is None


def test_fit_rate_recovers_an_exponential():
    tau = np.linspace(0, 10, 41)
    f = fit_rate(tau, 3 * np.exp(-0.7 * tau) * (1 + 1e-9 * np.sin(tau)), 2.0)
    assert abs(f["rate"] - 0.7) < 1e-8 and f["ci"][0] <= 0.7 <= f["ci"][1] and f["points"] == 33
    with pytest.raises(InvalidArgument, match="values"):
        fit_rate(tau, -np.ones_like(tau), 0.0)


def test_linearisation_predicts_the_flow_near_theta_star(fp):
    dvec = np.array([0.01, -0.01, 0.005])
    kappa = 0.01
    out = reference_contraction(fp, NEURON, constant(1.0), kappa=kappa, delta_vec=dvec, h=1 / 8, T=4.0, record_dt=0.5)
    lin = linearised_second_moment(fp, kappa, dvec, out["tau"])
    assert math.isclose(lin[0], 3 * kappa**2 + dvec @ dvec)
    assert np.allclose(out["second_moment"][0], lin[0], rtol=1e-12)
    assert np.allclose(out["second_moment"], lin, rtol=0.02)
    # a drift at half speed is the same curve at half the time
    slow = reference_contraction(fp, NEURON, constant(1.0), kappa=kappa, delta_vec=dvec, h=1 / 8, T=4.0, record_dt=0.5, drift_scale=0.5)
    assert np.allclose(slow["second_moment"], linearised_second_moment(fp, kappa, dvec, out["tau"] / 2), rtol=0.02)


def test_sgd_spread_contracts_and_validates(fp):
    dvec = np.zeros(3)
    out = sgd_spread(fp, NEURON, MEAN_FIELD, kappa=0.05, delta_vec=dvec, N=8, eps=1 / 128, T=4.0, replicates=2,
                     streams=Streams(3).child("t"), record_dt=0.5)
    assert out["spread"].shape == (9, 2) and np.all(out["spread"][-1] < out["spread"][0] * 0.5)
    assert np.allclose(out["tau"], out["times"])
    with pytest.raises(InvalidArgument, match="N"):
        sgd_spread(fp, NEURON, MEAN_FIELD, kappa=0.05, delta_vec=dvec, N=1, eps=1 / 128, T=4.0, replicates=2,
                   streams=Streams(3), record_dt=0.5)
    with pytest.raises(InvalidArgument, match="eps"):
        sgd_spread(fp, NEURON, MEAN_FIELD, kappa=0.05, delta_vec=dvec, N=4, eps=0.3, T=4.0, replicates=2,
                   streams=Streams(3), record_dt=0.5)


TINY = Sizes(long_T=4.0, long_h=1 / 4, long_log2_M=4, long_record_dt=0.5, kappa=0.05, delta=0.05, h=1 / 8, record_dt=0.5,
             contraction=4.0, N=8, eps=1 / 128, replicates=4)


def test_evaluate_and_render(tmp_path):
    exp = default_experiment(log2_M=6)
    ctx = CheckContext(experiment=exp, tier=get_tier("smoke"), reference=None)
    result = decide([evaluate(ctx, sizes=TINY)])[0]
    assert len(result.tests) == 2 and result.verdict == "pass", result.message
    assert [t.role for t in result.tests] == ["precondition", "implementation"]
    assert all(t.statistic in result.estimates for t in result.tests)
    assert result.details["fixed_point"]["source"] == "dedicated"
    power = CLAIM.detection(ctx, result, 0.05)["test_power"]  # the test that spends α states its power
    assert list(power) == [result.tests[1].name] and 0 <= power[result.tests[1].name] <= 1
    write_report(CLAIM, result, ctx, tmp_path)
    text = (tmp_path / "fixed_points" / "report.md").read_text()
    assert "Verdict: PASS" in text and "dedicated" in text
    assert (tmp_path / "fixed_points" / "fixed_points.png").stat().st_size > 0


def test_evaluate_is_unresolved_when_the_schedule_dies_out(tmp_path):
    exp = default_experiment(log2_M=6)
    from dataclasses import replace

    exp = replace(exp, schedule=exponential_decay(1.0, 2.0))
    ctx = CheckContext(experiment=exp, tier=get_tier("smoke"), reference=None)
    result = decide([evaluate(ctx, sizes=TINY)])[0]
    assert result.verdict == "unresolved" and "schedule" in result.unresolved
    write_report(CLAIM, result, ctx, tmp_path)
    assert (tmp_path / "fixed_points" / "report.md").exists()
