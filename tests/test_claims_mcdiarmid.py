"""Unit tests of mfcheck.claims.mcdiarmid (small sizes, a coarse reference)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from mfcheck.claims.base import CheckContext
from mfcheck.claims import mcdiarmid as M
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import default_experiment
from mfcheck.reference import build_reference
from mfcheck.report import write_report
from mfcheck.stats.results import decide
from mfcheck.seeds import Streams
from mfcheck.dynamics.broken import ClusteredInit
from mfcheck.dynamics.sgd import iid_init
from mfcheck.claims.tiers import get_tier


@pytest.fixture(scope="module")
def context():
    experiment = default_experiment(log2_M=6)
    return CheckContext(experiment=experiment, tier=get_tier("smoke"), reference=build_reference(experiment))


# ---------------------------------------------------------------- the binomial test


def test_exceedance_test_matches_the_binomial_tail():
    row = M.exceedance_test(7, 100, 0.03)
    assert row["p_value"] == pytest.approx(stats.binom.sf(6, 100, 0.03), rel=1e-9)
    assert row["ci"][0] < 0.07 < row["ci"][1]
    assert row["frequency"] == 0.07 and row["bound"] == 0.03


def test_exceedance_test_zero_count_has_p_one_and_cp_upper_bound():
    row = M.exceedance_test(0, 200, 0.01)
    assert row["p_value"] == 1.0
    assert row["ci"][0] == 0.0
    assert row["ci"][1] == pytest.approx(1 - 0.025 ** (1 / 200), rel=1e-6)


@pytest.mark.parametrize("kw, name", [({"count": -1}, "count"), ({"count": 11}, "count"), ({"n": 0}, "n"),
                                      ({"bound": 1.5}, "bound"), ({"bound": float("nan")}, "bound")])
def test_exceedance_test_rejects_bad_input(kw, name):
    args = {"count": 1, "n": 10, "bound": 0.1} | kw
    with pytest.raises(InvalidArgument, match=f"`{name}`"):
        M.exceedance_test(**args)


# ---------------------------------------------------------------- pieces of the check


def test_select_test_function_maximises_the_worst_spread():
    spread = np.array([[0.5, 0.3, 0.9], [0.4, 0.35, 0.1], [0.45, 0.3, 0.9]])
    assert M.select_test_function(spread, [0, 2]) == 2
    assert M.select_test_function(spread, [0, 1, 2]) == 0
    with pytest.raises(InvalidArgument, match="`spread`"):
        M.select_test_function(np.zeros(3), [0])


def test_time_indices_hit_start_middle_end():
    times = np.arange(17) / 16
    assert M._time_indices(times, 1.0) == [0, 8, 16]


def test_nonlinear_f_means_starts_at_the_sampler_draws(context):
    streams = Streams(1).child("unit")
    X = M.nonlinear_f_means(context, 4, 3, streams, iid_init)
    assert X.shape == (3, len(context.reference.flow.times), len(context.experiment.test_functions))
    th0 = iid_init(context.experiment.rho0, streams.generator("init", 2), 4)
    want = [tf(th0).mean() for tf in context.experiment.test_functions]
    np.testing.assert_allclose(X[2, 0], want, rtol=0, atol=1e-14)


def test_nonlinear_f_means_checks_the_sampler_output(context):
    def bad(rho0, rng, N):
        return np.zeros((N + 1, rho0.D))

    with pytest.raises(InvalidArgument, match="`init`"):
        M.nonlinear_f_means(context, 4, 2, Streams(1), bad)


def test_pilot_spread_is_the_sd_over_sup(context):
    spread = M.pilot_spread(context, 512)
    assert spread.shape == (len(context.reference.flow.times), len(context.experiment.test_functions))
    assert np.all(spread > 0) and np.all(spread <= 1.0 + 1e-12)  # sd ≤ sup|f|


# ---------------------------------------------------------------- the check end to end (tiny)


def test_measure_produces_json_tests_and_estimates(context):
    r = M.measure(context, 8, 64, pilot=256)
    assert r.claim == "mcdiarmid"
    assert len(r.tests) == len(M.TIME_FRACTIONS) * len(M.S_GRID) + len(M.Z_GRID) + 2
    # each grid spends α once: its tests are reported, and one Bonferroni-combined test per grid is counted
    assert sum(t.in_family for t in r.tests) == M.CLAIM.test_count == 2
    assert all(0.0 <= t.p_value <= 1.0 for t in r.tests)
    assert not r.unresolved
    for v in r.estimates.values():
        assert v["ci"][0] <= v["estimate"] <= v["ci"][1]
    assert all(t.statistic in r.estimates for t in r.tests)  # each test names the estimate it judges
    json.dumps(r.to_dict(), default=float)
    # counts at u + δ never exceed counts at u − δ
    assert all(row["count"] <= row["count_at_u_minus_delta"] for row in r.details["per_time"])
    assert r.reference_error == pytest.approx(context.reference.error["test_functions"] * r.details["test_function"]["K"])


def test_fully_correlated_sampler_is_rejected_tiny(context):
    ctx = replace(context, init=ClusteredInit(32))
    [r] = decide([M.measure(ctx, 32, 64, pilot=256)], 0.05)
    assert r.verdict == "fail"
    assert r.details["init"] == "clustered_init_m32"


def test_large_reference_error_makes_the_check_unresolved(context):
    ref = replace(context.reference, error=dict(context.reference.error, test_functions=1.0))
    [r] = decide([M.measure(replace(context, reference=ref), 8, 16, pilot=256)], 0.05)
    assert r.verdict == "unresolved" and "log2_M" in r.unresolved
    assert not r.tests


def test_run_rejects_an_unknown_tier(context):
    from mfcheck.claims.tiers import Tier

    tier = Tier("huge", N_path=(16,), eps_path=(0.1,), kink=4, replicates=2, log2_M=6)
    with pytest.raises(InvalidArgument, match="`tier`"):
        M.run(replace(context, tier=tier))


def test_sizes_cover_every_tier():
    assert set(M.SIZES) == {"smoke", "ci", "full"}
    assert all(s.N > 0 and s.replicates > 0 for s in M.SIZES.values())


def test_render_writes_report_and_plot(context, tmp_path):
    [r] = decide([M.measure(replace(context, init=ClusteredInit(4)), 8, 64, pilot=256)], 0.05)
    write_report(M.CLAIM, r, context, tmp_path)
    text = (tmp_path / "mcdiarmid" / "report.md").read_text()
    assert "Verdict" in text and "2 exp(−N u² / (2 K_f²))" in text and "Holm" in text
    assert (tmp_path / "mcdiarmid" / "exceedance.png").stat().st_size > 1000
    assert math.isfinite(r.reference_error)


def test_claim_object():
    assert M.CLAIM.name == "mcdiarmid" and M.CLAIM.compute is M.run and M.CLAIM.parts == {"init"}
