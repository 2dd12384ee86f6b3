"""Unit tests of mfcheck.claims.gronwall: the bound, the statistic, the fits, the broken rule, run and report."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from mfcheck.claims import gronwall as G
from mfcheck.claims.base import CheckContext
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import default_experiment
from mfcheck.model.problems.base import TheoremConstants
from mfcheck.reference import build_reference
from mfcheck.report import write_report
from mfcheck.stats.results import decide
from mfcheck.dynamics.broken import ANTI_DECAY, AntiWeightDecay
from mfcheck.dynamics.rules import MEAN_FIELD, Rule
from mfcheck.claims.tiers import Tier, get_tier

EXPERIMENT = default_experiment()


def _constants(LV, LU):
    return TheoremConstants(y_bound=1.0, sigma_star_bound=1.0, grad_sigma_star_bound=1.0, grad_V_bound=1.0,
                            grad_V_lipschitz=LV, grad_U_bound=1.0, grad_U_lipschitz=LU)


# -- the bound ---------------------------------------------------------------------------------
def test_drift_lipschitz_formula():
    b = G.drift_lipschitz(_constants(2.0, 3.0), 0.5)
    assert b["K_drift"] == pytest.approx(2 * 0.5 * (2.0 + 2 * 3.0))
    assert b["K_structural"] == pytest.approx(2 * 0.5 * (2.0 + 3.0))


def test_drift_lipschitz_rejects_bad_input():
    with pytest.raises(InvalidArgument, match="xi_bound"):
        G.drift_lipschitz(_constants(1.0, 1.0), -1.0)
    with pytest.raises(InvalidArgument, match="constants"):
        G.drift_lipschitz({"grad_V_lipschitz": 1.0}, 1.0)
    with pytest.raises(InvalidArgument, match="grad_U_lipschitz"):
        G.drift_lipschitz(_constants(1.0, math.inf), 1.0)


def test_rates_on_the_default_problem_are_ordered():
    ex = EXPERIMENT
    b = G.drift_lipschitz(ex.problem.constants(ex.neuron), ex.schedule.bound)
    K_pop = G.population_drift_lipschitz(ex.problem, ex.neuron, ex.schedule.bound)
    assert 0 < K_pop < b["K_structural"] < b["K_drift"]
    assert math.isnan(G.population_drift_lipschitz(object(), ex.neuron, 1.0))


def test_drift_is_lipschitz_in_theta_and_in_w1(rng):
    """||2ξ(∇Ψ(θ; ρ) − ∇Ψ(θ'; ρ'))|| ≤ K (||θ − θ'|| + max_m ||ϑ_m − ϑ'_m||) for coupled empirical ρ, ρ'
    (max_m ||ϑ_m − ϑ'_m|| ≥ W1(ρ, ρ')), with K the population-averaged (sharpest) rate."""
    ex = EXPERIMENT
    P, nu = ex.problem, ex.neuron
    K_pop = G.population_drift_lipschitz(P, nu, 1.0)
    for _ in range(20):
        nodes = rng.normal(scale=0.7, size=(50, 3))
        nodes2 = nodes + rng.normal(scale=0.05, size=nodes.shape)
        th = rng.normal(scale=0.7, size=(8, 3))
        th2 = th + rng.normal(scale=0.05, size=th.shape)
        g1 = P.grad_Psi_of_prediction(nu, th, P.predict(nu, nodes))
        g2 = P.grad_Psi_of_prediction(nu, th2, P.predict(nu, nodes2))
        lhs = 2.0 * np.linalg.norm(g1 - g2, axis=-1)
        w1 = np.max(np.linalg.norm(nodes - nodes2, axis=-1))
        assert np.all(lhs <= K_pop * (np.linalg.norm(th - th2, axis=-1) + w1) + 1e-12)


# -- statistic ------------------------------------------------------------------------------------
def test_coupling_statistic_is_a_running_max_of_the_max_over_particles():
    theta = np.zeros((2, 4, 3, 2))
    bar = np.zeros_like(theta)
    theta[0, 1, 2] = [3.0, 4.0]  # distance 5 at j=1
    theta[0, 3, 0] = [1.0, 0.0]  # smaller later: running max keeps 5
    theta[1, 2, 1] = [0.0, 2.0]
    S = G.coupling_statistic(theta, bar)
    assert S.shape == (2, 4)
    assert np.allclose(S[0], [0, 5, 5, 5])
    assert np.allclose(S[1], [0, 0, 2, 2])


def test_coupling_statistic_validates():
    with pytest.raises(InvalidArgument, match="theta_bar"):
        G.coupling_statistic(np.zeros((1, 2, 3, 2)), np.zeros((1, 2, 3, 3)))
    with pytest.raises(InvalidArgument, match="theta"):
        G.coupling_statistic(np.zeros((2, 3, 2)), np.zeros((2, 3, 2)))


# -- fits -----------------------------------------------------------------------------------------
def _synthetic(rng, R, t, K, c=0.0, noise=0.05):
    a = rng.normal(-2.0, 0.3, size=(R, 1))
    walk = np.cumsum(rng.normal(0, noise, size=(R, len(t))), axis=1)  # dependent prefixes
    return np.exp(a + K * t + c * (t - t.mean()) ** 2 + walk)


def test_fit_growth_recovers_the_rate_and_tests_one_sidedly(rng):
    t = np.arange(1, 33) / 16
    S = _synthetic(rng, 16, t, K=1.5)
    f = G.fit_growth(t, S, K_drift=10.0)
    lo, hi = f["rate"]["ci"]
    assert lo < 1.5 < hi
    assert f["rate"]["p_value"] > 0.99
    assert f["rate"]["df"] == 15
    assert f["rate_replicates"]["estimate"] == pytest.approx(f["rate"]["estimate"])  # balanced design
    assert f["rate_replicates"]["se"] == pytest.approx(f["rate"]["se"], rel=0.05)
    assert G.fit_growth(t, S, K_drift=1.0)["rate"]["p_value"] < 1e-6


def test_fit_growth_curvature_detects_convex_and_passes_concave(rng):
    t = np.arange(1, 33) / 16
    assert G.fit_growth(t, _synthetic(rng, 12, t, K=0.5, c=1.0), 100.0)["curvature"]["p_value"] < 1e-4
    concave = np.sqrt(t)[None, :] * np.exp(rng.normal(0, 0.05, size=(12, 1)))
    f = G.fit_growth(t, concave, 100.0)
    assert f["curvature"]["estimate"] < 0 and f["curvature"]["p_value"] > 0.99
    assert f["onset_slope"] == pytest.approx(np.polyfit(t, 0.5 * np.log(t), 1)[0])
    assert abs(f["net_of_onset"]["estimate"]) < 1e-6  # log S − ½ log T is constant


def test_fit_growth_validates(rng):
    t = np.arange(1, 9) / 8
    S = _synthetic(rng, 4, t, K=1.0)
    with pytest.raises(InvalidArgument, match="S"):
        G.fit_growth(t, np.where(np.arange(8) == 0, 0.0, S), 1.0)
    with pytest.raises(InvalidArgument, match="times"):
        G.fit_growth(t[:-1], S, 1.0)
    with pytest.raises(InvalidArgument, match="replicates"):
        G.fit_growth(t, S[:2], 1.0)
    with pytest.raises(InvalidArgument, match="K_drift"):
        G.fit_growth(t, S, -1.0)


# -- the broken rule ------------------------------------------------------------------------------
def test_mutant_rate_is_in_the_detectable_window():
    ex = EXPERIMENT
    K = G.drift_lipschitz(ex.problem.constants(ex.neuron), ex.schedule.bound)["K_drift"]
    for size in G.SIZES.values():
        assert K < 2 * ANTI_DECAY < G.FLOAT64_LOG_LIMIT / size.T_max - 10


# -- run and report -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dummy_reference():
    # the check builds its own reference for its horizon; the context's is not used
    return build_reference(dataclasses.replace(EXPERIMENT, T=EXPERIMENT.record_dt, log2_M=4))


def _context(reference, rule=MEAN_FIELD, tier="smoke"):
    return CheckContext(experiment=EXPERIMENT, tier=get_tier(tier) if isinstance(tier, str) else tier,
                        reference=reference, rule=rule)


def test_run_and_render_on_the_correct_sgd(dummy_reference, tmp_path):
    ctx = _context(dummy_reference)
    r = G.CLAIM.run(ctx)
    assert G.CLAIM.name == "gronwall"
    assert len(r.tests) == 2 and not r.unresolved
    assert r.reference_error == r.details["reference"]["error"]["coupling"] < 0.01
    assert 0 < r.estimates["K_hat"]["estimate"] < r.estimates["K_drift"]["estimate"]
    assert [t.statistic for t in r.tests] == ["rate of log(S(T)/T)", "curvature c"]
    assert all(t.statistic in r.estimates for t in r.tests)
    assert len(r.details["times"]) == int(G.SIZES["smoke"].T_max / EXPERIMENT.record_dt)
    (r,) = decide([r], 0.05)
    write_report(G.CLAIM, r, ctx, tmp_path)
    text = (tmp_path / "gronwall" / "report.md").read_text()
    assert "K_drift" in text and "Holm-adjusted" in text and "PASS" in text
    assert (tmp_path / "gronwall" / "growth.png").stat().st_size > 0


def test_overflowing_rule_is_unresolved(dummy_reference, tmp_path):
    ctx = _context(dummy_reference, rule=Rule("anti_weight_decay_300", AntiWeightDecay(300.0)))  # e^{600·2}: overflows float64
    r = G.CLAIM.run(ctx)
    assert r.tests == () and "overflowed" in r.unresolved and "T_max" in r.unresolved
    (r,) = decide([r], 0.05)
    assert r.verdict == "unresolved"
    write_report(G.CLAIM, r, ctx, tmp_path)
    assert (tmp_path / "gronwall" / "growth.png").exists() and "UNRESOLVED" in (tmp_path / "gronwall" / "report.md").read_text()


def test_coarse_reference_is_unresolved(dummy_reference, monkeypatch):
    monkeypatch.setitem(G.SIZES, "smoke", dataclasses.replace(G.SIZES["smoke"], log2_M=1, T_max=0.5))
    r = G.CLAIM.run(_context(dummy_reference))
    assert r.tests == () and "log2_M" in r.unresolved


def test_unknown_tier_is_refused(dummy_reference):
    tier = Tier("weird", N_path=(16,), eps_path=(1 / 16,), kink=4, replicates=2, log2_M=4)
    with pytest.raises(InvalidArgument, match="tier"):
        G.CLAIM.run(_context(dummy_reference, tier=tier))


def test_coupling_statistic_does_not_overflow_on_huge_distances():
    theta = np.zeros((1, 2, 1, 2))
    theta[0, 1, 0] = [3e200, 4e200]
    assert G.coupling_statistic(theta, np.zeros_like(theta))[0, 1] == pytest.approx(5e200)
