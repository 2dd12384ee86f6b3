"""mfcheck.app.false_alarm: the binomial interval, the per-seed loop, and a mutant that must alarm."""

from __future__ import annotations

import json

import pytest
from scipy.stats import binom
from scipy import stats

from mfcheck.runtime.cache import code_version
from mfcheck.errors import InvalidArgument
from mfcheck.app.false_alarm import BUILTIN, clopper_pearson, measure_false_alarm, write_report
from mfcheck.app.gate import as_protocol, reference_step
from mfcheck.dynamics.broken import BROKEN
from mfcheck.claims.tiers import get_tier


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
    # Each run is the gate at family-wise α = 0.05 on one claim (gronwall: its loose envelope keeps a
    # correct step's p-values near 1, so the outcome does not hang on a 5 % coin); two fixed seeds.
    r = measure_false_alarm(get_tier("smoke"), 2, impl=reference_step, claims=["gronwall"], progress=False)
    assert [run.seed for run in r.runs] == [0, 1]
    assert r.alarms == 0 and r.rate == 0.0 and r.compatible and not r.shown  # 0/2 cannot show a rate below 0.05
    path = write_report(r, tmp_path / "fa", "mfcheck gate --false-alarm 2 --tier smoke")
    assert "| 2 | 2 | 0 | 0 |" in path.read_text()
    # every run records the raw p-values of its Holm family: gronwall's two tests, less a test without
    # power at the run's sizes (seed 0's curvature test at smoke: gronwall.power)
    assert [len(run.p_values) for run in r.runs] == [1, 2] and (tmp_path / "fa" / "qq.png").stat().st_size > 1000
    # ... each named, with the run's own numbers masked, so that one test has one name over the runs
    assert [len(run.tests) for run in r.runs] == [1, 2] and r.runs[0].tests[0] in r.runs[1].tests
    assert all(name.startswith("gronwall: ") and "#" in name for run in r.runs for name in run.tests)
    assert f"| {r.runs[0].tests[0]} | 2 |" in path.read_text()  # the per-test calibration table
    assert {run.code for run in r.runs} == {code_version()[:12]}  # each run records the sources that ran it
    assert f"- `{code_version()[:12]}`: seeds 0–1" in path.read_text()
    assert json.loads((tmp_path / "fa" / "summary.json").read_text())["alarms"] == 0


def test_a_broken_step_alarms_every_time():
    # the mutant companion: the update without its factor 2 fails the Azuma ε-exponent (p ≈ 1e-57 at smoke)
    r = measure_false_alarm(get_tier("smoke"), [3, 4], impl=as_protocol(BROKEN["no_factor_two"].rule), claims=["azuma"], progress=False)
    assert r.alarms == 2 and r.rate == 1.0 and not r.compatible
    assert all(run.failed_claims == ("azuma",) for run in r.runs)


def test_seed_workers_give_the_same_runs():
    serial = measure_false_alarm(get_tier("smoke"), [5, 6], claims=["gronwall"], progress=False)
    seen = []
    parallel = measure_false_alarm(get_tier("smoke"), [5, 6], claims=["gronwall"], progress=False, seed_workers=2, on_run=seen.append)
    assert serial.runs == parallel.runs
    assert [len(p.runs) for p in seen] == [1, 2]


def test_the_builtin_rule_gets_the_verdicts_of_the_protocol_step():
    """BUILTIN (the built-in rule on the compiled kernels) stands in for reference_step in long
    measurements: same seed tree, same trajectories to rounding, so the same p-values."""
    claims = ["azuma", "gronwall"]
    protocol = measure_false_alarm(get_tier("smoke"), [2], impl=reference_step, claims=claims, progress=False)
    builtin = measure_false_alarm(get_tier("smoke"), [2], impl=BUILTIN, claims=claims, progress=False)
    assert "built-in" in builtin.implementation
    (a,), (b,) = protocol.runs, builtin.runs
    assert a.exit_code == b.exit_code and a.failed_claims == b.failed_claims
    assert b.min_p_adjusted == pytest.approx(a.min_p_adjusted, rel=1e-6)


def test_calibration_counts_small_p_values_of_each_test():
    from mfcheck.app.false_alarm import FalseAlarm, FalseAlarmRun, calibration, test_key

    assert test_key("gronwall", "rate ≤ λ + δ = 0.396 (1e-05, 12 flips)") == "gronwall: rate ≤ λ + δ = # (#, # flips)"
    assert test_key("energy", "Z = -1.3") == test_key("energy", "Z = 0.4") == "energy: Z = #"  # the sign too
    assert test_key("gronwall", "gronwall: rate") == "gronwall: rate" == test_key("gronwall", test_key("gronwall", "rate"))
    runs = tuple(FalseAlarmRun(seed=s, exit_code=0, failed_claims=(), unresolved_claims=(), min_p_adjusted={},
                               p_values=(0.001 if s < 5 else 0.5, 0.3), tests=("a: t", "b: u")) for s in range(20))
    rows = calibration(FalseAlarm(tier="smoke", alpha=0.05, implementation="x", claims=("a", "b"), runs=runs))
    assert [r["test"] for r in rows] == ["a: t", "b: u"] and [r["runs"] for r in rows] == [20, 20]
    assert rows[0]["at_level"] == rows[0]["at_0.01"] == 5 and rows[0]["smallest"] == 0.001
    assert rows[0]["excess_p"] == pytest.approx(binom.sf(4, 20, 0.05)) and rows[0]["excess_p"] < 0.01  # 5 of 20: miscalibrated
    assert rows[1]["at_level"] == 0 and rows[1]["excess_p"] == 1.0


def _measurement(seeds, tier="full", alarms=()):
    from mfcheck.app.false_alarm import FalseAlarm, FalseAlarmRun

    runs = tuple(FalseAlarmRun(seed=s, exit_code=1 if s in alarms else 0, failed_claims=("azuma",) if s in alarms else (),
                               unresolved_claims=(), min_p_adjusted={"azuma": 0.01 if s in alarms else 0.5}) for s in seeds)
    return FalseAlarm(tier=tier, alpha=0.05, implementation="builtin", claims=("azuma",), runs=runs)


def test_shards_merge_into_one_measurement(tmp_path):
    from dataclasses import replace

    from mfcheck.app.false_alarm import load, merge

    a, b = _measurement([0, 1, 2], alarms=(1,)), _measurement([3, 4])
    b = replace(b, runs=tuple(replace(r, code="abc123def456") for r in b.runs))
    write_report(a, tmp_path / "a", "shard a")
    assert load(tmp_path / "a") == a
    m = merge([b, load(tmp_path / "a")])
    assert [r.seed for r in m.runs] == [0, 1, 2, 3, 4] and m.alarms == 1 and len(m.judged) == 5
    text = write_report(m, tmp_path / "m", "merged", note="Shards ran on two machines.").read_text()
    assert "- not recorded: seeds 0–2" in text and "- `abc123def456`: seeds 3–4" in text and "Shards ran on two machines." in text
    assert load(tmp_path / "m") == m
    # a summary written before runs recorded their code loads with code ""
    old = json.loads((tmp_path / "a" / "summary.json").read_text())
    for run in old["per_run"]:
        del run["code"]
    (tmp_path / "a" / "summary.json").write_text(json.dumps(old))
    assert load(tmp_path / "a") == a
    with pytest.raises(InvalidArgument, match="share seeds"):
        merge([a, _measurement([2, 5])])
    with pytest.raises(InvalidArgument, match="different settings"):
        merge([a, _measurement([7], tier="ci")])
    with pytest.raises(InvalidArgument, match="summary.json"):
        load(tmp_path / "missing")


def test_cli_shards_and_merge(tmp_path, capsys):
    from mfcheck.app.cli import main

    base = ["gate", "--tier", "smoke", "--claims", "azuma", "--executor", "serial", "--no-cache", "--quiet"]
    assert main(base + ["--false-alarm", "1", "--seed-start", "3", "--false-alarm-out", str(tmp_path / "s3")]) == 0
    write_report(_measurement([0, 1, 2], tier="smoke"), tmp_path / "s0", "shard")
    merged = json.loads((tmp_path / "s3" / "summary.json").read_text())
    assert merged["seeds"] == [3]
    # the shards' implementations differ (reference_step vs a stand-in): refused, exit 2
    assert main(["gate", "--false-alarm-merge", str(tmp_path / "s0"), str(tmp_path / "s3"), "--false-alarm-out", str(tmp_path / "m")]) == 2
    write_report(_measurement([4], tier="smoke"), tmp_path / "s4", "shard")
    (tmp_path / "note.md").write_text("Shard s0 ran on one machine, s4 on another.\n")
    assert main(["gate", "--false-alarm-merge", str(tmp_path / "s0"), str(tmp_path / "s4"), "--false-alarm-out", str(tmp_path / "m"),
                 "--false-alarm-note", str(tmp_path / "note.md")]) == 0
    assert "Shard s0 ran on one machine, s4 on another." in (tmp_path / "m" / "README.md").read_text()
    assert main(["gate", "--false-alarm-merge", str(tmp_path / "s0"), str(tmp_path / "s4"), "--false-alarm-out", str(tmp_path / "m2"),
                 "--false-alarm-note", str(tmp_path / "missing.md")]) == 2  # a note that cannot be read: bad usage
    assert json.loads((tmp_path / "m" / "summary.json").read_text())["seeds"] == [0, 1, 2, 4]
    assert "false-alarm-merge" in (tmp_path / "m" / "README.md").read_text()  # not contiguous: the merge is the recipe
    assert "(seeds 0–2, 4;" in (tmp_path / "m" / "README.md").read_text()
    assert main(["gate", "--false-alarm-merge", str(tmp_path / "s0")]) == 2
    capsys.readouterr()
