"""mfcheck.false_alarm: the binomial interval, the per-seed loop, and a mutant that must alarm."""

from __future__ import annotations

import json

import pytest
from scipy import stats

from mfcheck.errors import InvalidArgument
from mfcheck.false_alarm import clopper_pearson, measure_false_alarm, write_report
from mfcheck.gate import no_factor_two_step, reference_step
from mfcheck.tiers import get_tier


def test_clopper_pearson_matches_the_beta_quantiles():
    lo, hi = clopper_pearson(3, 50)
    assert lo == pytest.approx(stats.beta.ppf(0.025, 3, 48))
    assert hi == pytest.approx(stats.beta.ppf(0.975, 4, 47))
    assert clopper_pearson(0, 72)[1] < 0.05 < clopper_pearson(0, 71)[1]  # the "n >= 72 when k = 0" of the docstring
    assert clopper_pearson(5, 5)[1] == 1.0


@pytest.mark.parametrize("k, n", [(-1, 5), (6, 5), (0, 0), (1.5, 4)])
def test_clopper_pearson_refuses_bad_counts(k, n):
    with pytest.raises(InvalidArgument):
        clopper_pearson(k, n)


def test_bad_seeds_are_refused():
    for seeds in ([], [1, 1], [-2], 0):
        with pytest.raises(InvalidArgument):
            measure_false_alarm(get_tier("smoke"), seeds, claims=["azuma"], progress=False)


def test_correct_step_does_not_alarm_and_the_report_is_written(tmp_path):
    # Each run is the gate at family-wise α = 0.05 on one claim; two fixed seeds.
    r = measure_false_alarm(get_tier("smoke"), 2, impl=reference_step, claims=["azuma"], progress=False)
    assert [run.seed for run in r.runs] == [0, 1]
    assert r.alarms == 0 and r.rate == 0.0 and r.compatible and not r.shown  # 0/2 cannot show a rate below 0.05
    path = write_report(r, tmp_path / "fa", "mfcheck gate --false-alarm 2 --tier smoke")
    assert "| 2 | 2 | 0 | 0 |" in path.read_text()
    assert json.loads((tmp_path / "fa" / "summary.json").read_text())["alarms"] == 0


def test_a_broken_step_alarms_every_time():
    # the mutant companion: the update without its factor 2 fails the Azuma ε-exponent (p ≈ 1e-57 at smoke)
    r = measure_false_alarm(get_tier("smoke"), [3, 4], impl=no_factor_two_step, claims=["azuma"], progress=False)
    assert r.alarms == 2 and r.rate == 1.0 and not r.compatible
    assert all(run.failed_claims == ("azuma",) for run in r.runs)


def test_seed_workers_give_the_same_runs():
    serial = measure_false_alarm(get_tier("smoke"), [5, 6], claims=["gronwall"], progress=False)
    seen = []
    parallel = measure_false_alarm(get_tier("smoke"), [5, 6], claims=["gronwall"], progress=False, seed_workers=2, on_run=seen.append)
    assert serial.runs == parallel.runs
    assert [len(p.runs) for p in seen] == [1, 2]
