"""Unit tests of mfcheck.claims.temperature: the sign-flip sup test, the per-replicate CDFs,
the quantile grid, the temperature estimate, and one smoke run with its report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import binom

from mfcheck.claims.base import CheckContext
from mfcheck.claims.temperature import (
    BETA,
    CLAIM,
    LAM,
    POWER_DRAWS,
    SIZES,
    estimate_beta,
    quantile_points,
    replicate_cdfs,
    run,
    setting,
    shifted_p_values,
    sign_flip_sup_test,
    solve_references,
    stationary_samples,
)
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import default_experiment
from mfcheck.report import write_report
from mfcheck.stats.results import decide
from mfcheck.dynamics.sgd import SGDResult
from mfcheck.claims.tiers import get_tier


def test_sign_flip_level_on_symmetric_rows(rng):
    """Under H0 (independent symmetric rows) P(p ≤ 0.05) ≤ 0.05 (exact test). 300 draws: the count
    of rejections exceeds the binomial(300, 0.05) 0.999 quantile with probability ≤ 0.001."""
    R, M = 12, 24
    L = np.tril(rng.standard_normal((M, M))) / 5
    p = np.array([sign_flip_sup_test(rng.standard_normal((R, M)) @ L.T, 199, rng).p_value for _ in range(300)])
    assert np.count_nonzero(p <= 0.05) <= binom.ppf(0.999, 300, 0.05)
    assert np.all(p >= 1 / 200)


def test_sign_flip_power_and_resolution(rng):
    R, M = 16, 40
    noise = 0.01 * rng.standard_normal((R, M))
    shifted = noise + 0.02
    a = sign_flip_sup_test(shifted, 999, rng)
    assert a.p_value <= 3 / 1000  # only the flips ξ ≡ ±1 (probability 2^-15 each) reach the observed sup
    assert a.statistic == pytest.approx(np.max(np.abs(shifted.mean(axis=0))))
    b = sign_flip_sup_test(noise, 999, rng)
    # the resolution does not depend on the shift (it flips the centred rows), about 3 standard errors of a mean
    assert a.resolution == pytest.approx(b.resolution, rel=0.15)
    assert 0.01 / 4 < b.resolution < 0.01 / 4 * 5


def test_shifted_p_values_match_the_rejection_rate_on_fresh_data(rng):
    """The resampled power of one run agrees with the test's rejection rate on fresh runs with the
    same shift (Monte Carlo over 200 runs), within binomial error: the resamples carry the run's noise."""
    R, M, level = 24, 30, 0.02
    L = np.tril(rng.standard_normal((M, M))) / 6
    shift = np.zeros(M)
    shift[M // 2] = 0.55  # an intermediate power at this level
    p_fresh = np.array([sign_flip_sup_test(rng.standard_normal((R, M)) @ L.T + shift, 199, rng).p_value for _ in range(200)])
    rate = np.mean(p_fresh <= level)
    assert 0.2 < rate < 0.8, rate  # the shift is intermediate, so the comparison has teeth
    estimates = [np.mean(shifted_p_values(rng.standard_normal((R, M)) @ L.T, shift, 199, rng, draws=100) <= level) for _ in range(8)]
    # the mean of 8 run estimates: its spread (run-to-run and resampling) is below 0.1; 0.2 leaves twice that
    assert abs(np.mean(estimates) - rate) < 0.2, (estimates, rate)


def test_shifted_p_values_without_a_shift_stay_at_the_level(rng):
    """No shift: the resamples reject at about the level. α = 0.001 (the count is held to the
    binomial(200, 0.05) 0.999 quantile); the test above is its companion, where a shift is rejected."""
    p = shifted_p_values(rng.standard_normal((20, 16)), np.zeros(16), 199, rng, draws=200)
    assert np.mean(p <= 0.05) <= binom.ppf(0.999, 200, 0.05) / 200


def test_shifted_p_values_validate(rng):
    with pytest.raises(InvalidArgument, match="shift"):
        shifted_p_values(np.zeros((4, 3)), np.zeros(2), 9, rng)
    with pytest.raises(InvalidArgument, match="draws"):
        shifted_p_values(np.zeros((4, 3)), np.zeros(3), 9, rng, draws=0)


@pytest.mark.parametrize("dev, flips, match", [(np.zeros((1, 3)), 9, "deviations"), (np.zeros(5), 9, "deviations"),
                                               (np.full((3, 2), np.nan), 9, "NaN"), (np.zeros((3, 2)), 0, "flips")])
def test_sign_flip_validates(dev, flips, match, rng):
    with pytest.raises(InvalidArgument, match=match):
        sign_flip_sup_test(dev, flips, rng)


def test_replicate_cdfs_counts():
    samples = np.array([[[0.0, 1.0], [2.0, 3.0]], [[-1.0, -1.0], [5.0, 0.5]]])  # (R=2, J=2, N=2)
    got = replicate_cdfs(samples, np.array([-2.0, 0.0, 1.0, 10.0]))
    np.testing.assert_allclose(got, [[0, 0.25, 0.5, 1.0], [0, 0.5, 0.75, 1.0]])


def test_stationary_samples_keeps_replicate_axis_first():
    """Regression: boolean time mask plus an integer index must not move the time axis first."""
    R, J, N = 3, 7, 5
    theta = np.arange(R * J * N, dtype=float).reshape(R, J, N, 1)
    res = SGDResult(times=np.arange(J) * 0.5, steps=np.arange(J), theta=theta, f_means=np.zeros((R, J, 0)), risk=np.zeros((R, J)), N=N, eps=0.5)
    x = stationary_samples(res, 1.0)
    assert x.shape == (R, J - 2, N)
    np.testing.assert_array_equal(x, theta[:, 2:, :, 0])
    with pytest.raises(InvalidArgument, match="burn"):
        stationary_samples(res, 10.0)


@pytest.fixture(scope="module")
def refs():
    problem, neuron, _ = setting(default_experiment().seed)
    return solve_references(problem, neuron, (BETA, 2 * BETA))


def test_references_and_quantile_points(refs):
    sols, err = refs
    assert err < 1e-8
    sol = sols[BETA]
    t = quantile_points(sol, 64)
    np.testing.assert_allclose(sol.cdf(t), (np.arange(64) + 0.5) / 64, atol=1e-5)  # linear inverse interpolation
    assert sols[2 * BETA].summary()["variance"] < sol.summary()["variance"]


def test_estimate_beta_inverts_the_table():
    bs = 4.0 * 2.0 ** np.linspace(-3, 4, 29)
    table = (bs, 1.0 / bs)  # Var = 1/β'
    est = estimate_beta(np.array([0.25 - 0.01, 0.25 + 0.01, 0.25, 0.25]), table)
    assert est["estimate"] == pytest.approx(4.0, rel=1e-9)
    assert est["ci"][0] < 4.0 < est["ci"][1]
    assert est["in_table_range"]


def test_sizes_cover_the_tiers():
    assert set(SIZES) == {"smoke", "ci", "full"}
    for size in SIZES.values():
        per = size.thin / size.eps
        assert abs(per - round(per)) < 1e-9  # the thinning is a multiple of ε
    assert CLAIM.name == "temperature" and CLAIM.sizes is SIZES and CLAIM.own_setting
    assert LAM > 0 and BETA > 0


@pytest.fixture(scope="module")
def smoke_result():
    context = CheckContext(experiment=default_experiment(), tier=get_tier("smoke"), reference=None)
    return context, decide([run(context)], 0.05)[0]


def test_smoke_result_is_complete(smoke_result):
    _, r = smoke_result
    assert r.claim == "temperature" and len(r.tests) == 1
    pairs = {(p["run"], p["reference"]): p for p in r.details["pairs"]}
    assert set(pairs) == {("c=4", "β"), ("c=4", "2β"), ("c=2", "β"), ("c=2", "2β")}
    expected = {("c=4", "β"): True, ("c=4", "2β"): False, ("c=2", "β"): False, ("c=2", "2β"): True}
    assert {k: p["expected_to_agree"] for k, p in pairs.items()} == expected
    for k, p in pairs.items():
        assert p["agrees"] == p["expected_to_agree"], (k, p)
    assert r.estimates["β'/β [c=4]"]["ci"][0] < 1.0 < r.estimates["β'/β [c=4]"]["ci"][1]
    assert r.estimates["β'/β [c=2]"]["ci"][0] < 2.0 < r.estimates["β'/β [c=2]"]["ci"][1]
    assert r.reference_error < 1e-8 and not r.unresolved
    assert r.tests[0].statistic == "sup|F−F*| [c=4 vs ρ*_β]" and r.tests[0].statistic in r.estimates
    json.dumps(r.to_dict())  # JSON-able


def test_power_against_twice_the_temperature(smoke_result):
    """The c = 2 run vs ρ*_β is the violation itself, run for real: the test rejects it (its pair
    does not agree, above), and the resampled power against it is high at a level of the order of the
    gate's α/m (a few times the smallest p-value the flips reach: with 16 replicates, flips with nearly
    all signs equal reach a shift's own sup now and then)."""
    _, r = smoke_result
    flips = r.details["setting"]["flips"]
    d = CLAIM.detection(None, r, 5 / (1 + flips))
    assert d["test_power"][r.tests[0].name] >= 0.9
    assert CLAIM.detection(None, r, 0.5 / (1 + flips))["test_power"][r.tests[0].name] == 0.0  # out of the flips' reach
    assert len(r.details["power_p_values"]) == POWER_DRAWS


def test_render_writes_report_and_plots(smoke_result, tmp_path):
    context, r = smoke_result
    write_report(CLAIM, r, context, tmp_path)
    text = (tmp_path / "temperature" / "report.md").read_text()
    for needle in ("Verdict: PASS", "ρ*_β", "Holm-adjusted p", "Reference error", "root entropy", "histograms.png"):
        assert needle in text
    for png in ("histograms.png", "diagnostics.png"):
        assert (tmp_path / "temperature" / png).stat().st_size > 10_000
    assert math.isfinite(r.tests[0].p_adjusted)
