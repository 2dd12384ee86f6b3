"""Unit tests of mfcheck.claims.gronwall: the bound, the statistic, the fits, the exponent test, the broken rules, run and report."""

from __future__ import annotations

import dataclasses
import json
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
from mfcheck.stats.power import t_test_power
from mfcheck.stats.results import decide
from mfcheck.dynamics.broken import ANTI_DECAY, BROKEN
from mfcheck.dynamics.rules import MEAN_FIELD
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


# -- the exponent test ---------------------------------------------------------------------------
def _at_rate(rng, R, t, K, noise=0.05):
    """S(T) = T · e^{a + K T + walk}: log(S/T) grows at rate K exactly (dependent prefixes)."""
    return t[None, :] * _synthetic(rng, R, t, K, noise=noise)


def test_exponent_test_has_its_level_at_the_null_boundary(rng):
    """At K_env = λ_bound + δ the test rejects at about α (cluster-robust t on R − 1 df); 400 data sets."""
    t = np.arange(1, 65) / 16
    bound = 0.4
    p = np.array([G.fit_growth(t, _at_rate(rng, 10, t, bound), 100.0, exponent_bound=bound)["exponent"]["p_value"]
                  for _ in range(400)])
    rate = float(np.mean(p < 0.05))
    assert 0.02 <= rate <= 0.09  # binomial 99.9 % range around 0.05 is about [0.022, 0.087]
    assert np.mean(p < 0.5) == pytest.approx(0.5, abs=0.1)


def test_exponent_test_rejects_faster_growth_and_passes_slower(rng):
    t = np.arange(1, 65) / 16
    fast = G.fit_growth(t, _at_rate(rng, 10, t, 0.8), 100.0, exponent_bound=0.4)["exponent"]
    assert fast["p_value"] < 1e-6 and fast["upper"] > 0.4
    slow = G.fit_growth(t, _at_rate(rng, 10, t, 0.1), 100.0, exponent_bound=0.4)["exponent"]
    assert slow["p_value"] > 0.999 and slow["upper"] < 0.4
    assert slow["halfwidth"] == pytest.approx(slow["upper"] - slow["estimate"])
    assert "exponent" not in G.fit_growth(t, _at_rate(rng, 10, t, 0.1), 100.0)


def test_power_by_formula_is_the_rejection_rate_of_the_injected_violation(rng):
    """Injecting a violation into log S (a rate larger by Δ; a local rate rising by Δ over the prefixes)
    moves the estimate by exactly that and leaves se, so the power of a run is the noncentral-t
    power at its se. Checked against the rejection rate of 400 data sets at each null boundary with
    the violation injected (level 0.01, violations near the detection threshold), the formula taken
    at the spread of the estimates over the data sets, which the run's se estimates."""
    t = np.arange(1, 65) / 16
    bound, level, R = 0.4, 0.01, 10
    pilot = G.fit_growth(t, _at_rate(rng, R, t, bound), 100.0, exponent_bound=bound)
    crit = float(G.stats.t.isf(level, R - 1))
    shift_rate, shift_c = 1.2 * crit * pilot["exponent"]["se"], 1.2 * crit * pilot["curvature"]["se"]
    S0 = _at_rate(rng, R, t, bound)
    f0 = G.fit_growth(t, S0, 100.0, exponent_bound=bound)
    f1 = G.fit_growth(t, S0 * np.exp(shift_rate * t + shift_c * (t - t.mean()) ** 2), 100.0, exponent_bound=bound)
    assert f1["exponent"]["estimate"] - f0["exponent"]["estimate"] == pytest.approx(shift_rate, rel=1e-9)
    assert f1["curvature"]["estimate"] - f0["curvature"]["estimate"] == pytest.approx(shift_c, rel=1e-9)
    assert f1["exponent"]["se"] == pytest.approx(f0["exponent"]["se"], rel=1e-9)
    assert f1["curvature"]["se"] == pytest.approx(f0["curvature"]["se"], rel=1e-9)
    rate = [G.fit_growth(t, _at_rate(rng, R, t, bound + shift_rate), 100.0, exponent_bound=bound)["exponent"] for _ in range(400)]
    curv = [G.fit_growth(t, _synthetic(rng, R, t, K=bound, c=shift_c), 100.0)["curvature"] for _ in range(400)]
    for fits, shift in ((rate, shift_rate), (curv, shift_c)):
        rejected = np.mean([f["p_value"] <= level for f in fits])
        predicted = t_test_power(shift, float(np.std([f["estimate"] for f in fits], ddof=1)), R - 1, level)
        assert 0.2 < predicted < 0.9 and abs(rejected - predicted) < 0.1, (rejected, predicted)  # binomial sd ≤ 0.025


def test_power_leaves_a_test_that_cannot_see_the_violation_out_of_the_family():
    """A run whose standard errors are far above the bound's own rate has no power: ``power`` says so
    and :func:`mfcheck.claims.injection.without_powerless` marks the tests not counted."""
    from mfcheck.claims.injection import without_powerless
    from mfcheck.stats.results import ClaimResult, Test

    fit = {"exponent": {"bound": 0.4, "se": 5.0, "df": 9}, "curvature": {"se": 5.0, "df": 9}}
    details = {"fit": fit, "prefixes": [{"T": 0.5, "resolved": True}, {"T": 4.0, "resolved": True}]}
    tests = (Test("rate", 0.9), Test("curvature", 0.9))
    result = ClaimResult(claim="gronwall", verdict="unresolved", alpha=math.nan, tests=tests, details=details)
    found = G.power(result, 0.001)
    assert all(p < 0.05 for p in found["test_power"].values())
    assert [t.counted for t in without_powerless(result, found).tests] == [False, False]
    fit["exponent"]["se"] = fit["curvature"]["se"] = 1e-3
    assert [t.counted for t in without_powerless(result, G.power(result, 0.001)).tests] == [True, True]
    assert G.power(ClaimResult(claim="gronwall", verdict="unresolved", alpha=math.nan, tests=tests, details={}), 0.001) is None


def test_fit_against_a_cumulative_exponent(rng):
    t = np.arange(1, 33) / 16
    Lam = 0.8 * t - 0.1 * t**2
    S = np.exp(rng.normal(-2.0, 0.3, size=(8, 1)) + 1.0 * Lam + rng.normal(0, 0.01, size=(8, len(t))))
    f = G.fit_against(Lam, S)
    assert f["ci"][0] < 1.0 < f["ci"][1] and f["df"] == 7
    with pytest.raises(InvalidArgument):
        G.fit_against(np.ones_like(t), S)


def test_margin_and_sizes():
    assert 0 < G.MARGIN < 0.2
    assert not set(G.MARGIN_SEEDS) & {EXPERIMENT.seed, 0, 1, 2, 3, 4, 5, 6}  # not the seeds the tests and reports run on
    for name, size in G.SIZES.items():
        assert size.T_max == 4.0 and size.lyapunov_log2_M <= size.log2_M
        assert set(G.T_SWEEP) <= {k * EXPERIMENT.record_dt for k in range(1, int(size.T_max / EXPERIMENT.record_dt) + 1)}
    K = G.drift_lipschitz(EXPERIMENT.problem.constants(EXPERIMENT.neuron), EXPERIMENT.schedule.bound)["K_drift"]
    assert K * G.SIZES["ci"].T_max > G.FLOAT64_LOG_LIMIT  # the K_drift test has no power at T_max = 4: reported only
    assert 2 * ANTI_DECAY * G.SIZES["ci"].T_max > G.FLOAT64_LOG_LIMIT  # the registry's mutant overflows: rejected by overflow


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
    assert len(r.tests) == 3 and not r.unresolved
    assert [t.counted for t in r.tests] == [True, True, False] and G.CLAIM.test_count == 2
    assert r.reference_error == r.details["reference"]["error"]["coupling"] < 0.01
    assert 0 < r.estimates["K_hat"]["estimate"] < r.estimates["K_drift"]["estimate"]
    assert [t.statistic for t in r.tests] == ["rate of log(S(T)/T)", "curvature c", "rate of log(S(T)/T)"]
    assert all(t.statistic in r.estimates for t in r.tests)
    ly = r.details["lyapunov"]
    assert 0 < ly["lambda_top"] <= ly["lambda_upper"] and 0 < ly["lambda_frozen"] <= ly["lambda_upper"]
    assert ly["lambda_bound"] == max(ly["lambda_top"], ly["lambda_frozen"])
    assert r.estimates["lambda_bound + margin"]["estimate"] == pytest.approx(ly["lambda_bound"] + G.MARGIN)
    assert [row["T"] for row in r.details["sweep"]] == list(G.T_SWEEP) and all("K_env" in row for row in r.details["sweep"])
    assert r.evidence and r.evidence[0].holds and r.tests[0].p_value > 0.5
    assert len(r.details["times"]) == int(G.SIZES["smoke"].T_max / EXPERIMENT.record_dt)
    (r,) = decide([r], 0.05)
    write_report(G.CLAIM, r, ctx, tmp_path)
    assert r.verdict == "pass"
    text = (tmp_path / "gronwall" / "report.md").read_text()
    assert "K_drift" in text and "Holm-adjusted" in text and "PASS" in text and "λ_top" in text and "λ_frozen" in text
    assert (tmp_path / "gronwall" / "growth.png").stat().st_size > 0 and (tmp_path / "gronwall" / "exponent.png").stat().st_size > 0
    summary = json.loads((tmp_path / "gronwall" / "summary.json").read_text())
    assert {"lambda_top", "lambda_frozen", "K_hat", "rate of log(S(T)/T)"} <= set(summary["estimates"])


def test_the_unstable_drift_is_rejected(dummy_reference):
    """The claim's alternative (weight decay of the wrong sign, λ = 1: a drift +2θ) grows faster than the exponent allows."""
    ctx = G.CLAIM.inject(_context(dummy_reference))
    r = G.CLAIM.run(ctx)
    (r,) = decide([r], 0.05)
    assert r.verdict == "fail" and r.tests[0].rejected and r.tests[0].p_value < 1e-8
    assert not r.tests[2].rejected  # the K_drift test cannot see it
    assert r.estimates["rate of log(S(T)/T)"]["ci"][0] > r.estimates["lambda_bound + margin"]["estimate"]


def test_overflowing_rule_is_rejected(dummy_reference, tmp_path):
    """The registry's anti_weight_decay (λ = 60, e^{120·4}) overflows float64: no SGD with bounded increments does."""
    ctx = _context(dummy_reference, rule=BROKEN["anti_weight_decay"].rule)
    r = G.CLAIM.run(ctx)
    assert len(r.tests) == 1 and r.tests[0].p_value == 0.0 and "overflowed" in r.tests[0].note and "overflow" in r.details
    (r,) = decide([r], 0.05)
    assert r.verdict == "fail"
    write_report(G.CLAIM, r, ctx, tmp_path)
    assert (tmp_path / "gronwall" / "growth.png").exists() and "FAIL" in (tmp_path / "gronwall" / "report.md").read_text()


def test_late_instability_is_rejected(dummy_reference, tmp_path):
    """The registry's late_instability (anti weight decay switched on past a weight budget that the flow reaches
    after T = 1): the correct step up to the onset, so log S(T) turns upwards late; Holm at α = 0.05 rejects it.
    The correct SGD on the same seeds passes (test_run_and_render_on_the_correct_sgd), and
    tests/test_broken.py checks that the onset lies between T = 1 and T_max."""
    r = G.CLAIM.run(_context(dummy_reference, rule=BROKEN["late_instability"].rule))
    (r,) = decide([r], 0.05)
    assert r.verdict == "fail" and min(t.p_value for t in r.tests[:2]) < 1e-4
    assert not r.tests[2].rejected  # the K_drift test cannot see it
    write_report(G.CLAIM, r, _context(dummy_reference), tmp_path)
    text = (tmp_path / "gronwall" / "report.md").read_text()
    assert "log S is convex here" in text and "shows no Gronwall amplification" not in text


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
