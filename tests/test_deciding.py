"""The statistic that decided a claim (mfcheck.stats.results.deciding) and where it is shown: the
reports index, the gate's table and summary.json.

A claim's first estimates need not belong to the test that decided it: energy_decay lists the
reference's slope first (a self-check that holds), while its one implementation test is on SGD.
Tables must show the statistic of the test that decided, printed so that its interval contains it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import numpy as np
import pandas as pd

from mfcheck.app.gate.gate import _statistic_rows
from mfcheck.claims import get_claim
from mfcheck.claims.fit import fit_claim
from mfcheck.claims.tiers import get_tier
from mfcheck.report.format import fmt_deciding, fmt_estimate
from mfcheck.report.index import write_index
from mfcheck.stats.results import ClaimResult, Test, decide, deciding

REFERENCE_SLOPE = "reference: slope"
RATIO = "SGD: decrease ratio"
ESTIMATES = {
    REFERENCE_SLOPE: {"estimate": 1.0000002, "ci": [0.99968, 1.00032], "predicted": 1.0},
    RATIO: {"estimate": 0.589, "ci": [0.4435, 0.7350], "predicted": 1.0},
    "tiny": {"estimate": 1.23456e-9, "ci": [1.23451e-9, 1.23461e-9]},
    "huge": {"estimate": 4.56789e12, "ci": [4.56781e12, 4.56797e12]},
}


def _decided(*tests, unresolved=""):
    return decide([ClaimResult(claim="c", verdict="unresolved", alpha=0.05, tests=tuple(tests), estimates=ESTIMATES,
                               unresolved=unresolved)])[0]


def _contains(text: str) -> None:
    """Every ``estimate [lo, hi]`` printed in ``text`` has lo ≤ estimate ≤ hi as printed."""
    found = re.findall(r"(\S+) \[(\S+), (\S+)\]", text)
    assert found, text
    for est, lo, hi in found:
        assert float(lo) <= float(est) <= float(hi), text


def test_a_fail_shows_the_rejected_test_with_the_smallest_adjusted_p():
    r = _decided(Test("reference", 1.0, role="precondition", statistic=REFERENCE_SLOPE), Test("sgd", 1e-8, statistic=RATIO),
                 Test("other", 1e-3, statistic="huge"))
    assert r.verdict == "fail"
    d = deciding(r)
    assert (d.why, d.test, [s["name"] for s in d.statistics]) == ("rejected", "sgd", [RATIO])
    text = fmt_deciding(asdict(d))
    assert text.startswith(f"rejected: {RATIO}: 0.589 [0.444, 0.735]") and "predicted 1" in text
    _contains(text)


def test_a_pass_shows_the_test_closest_to_rejecting():
    r = _decided(Test("far", 0.8, statistic="huge"), Test("near", 0.2, statistic="tiny"), Test("not counted", 1e-9, counted=False))
    assert r.verdict == "pass" and r.decided_by == "no rejection"
    d = deciding(r)
    assert (d.why, d.test) == ("closest to rejecting", "near")
    text = fmt_deciding(asdict(d))
    assert text == "closest to rejecting: tiny: 1.23456e-09 [1.23451e-09, 1.23461e-09]"
    _contains(text)


def test_an_unresolved_claim_shows_its_failing_self_check():
    r = _decided(Test("identity", 0.0, role="precondition", statistic="huge"), Test("sgd", 1e-8, statistic=RATIO))
    assert r.verdict == "unresolved" and r.decided_by.startswith("precondition")
    d = deciding(r)
    assert (d.why, d.test, d.statistics[0]["name"]) == ("failing self-check", "identity", "huge")
    _contains(fmt_deciding(asdict(d)))


def test_no_statistic_is_a_dash_that_says_why():
    r = _decided(Test("sgd", 1e-8))  # the test names no estimate
    assert fmt_deciding(asdict(deciding(r))) == "— (rejected; the claim records no estimate for this test)"
    assert fmt_deciding(asdict(deciding(_decided(Test("sgd", 0.5), unresolved="not equilibrated")))) == "— (not judged)"
    assert fmt_deciding(asdict(deciding(_decided()))) == "— (no test)"
    assert _statistic_rows(_decided(Test("sgd", 0.5), unresolved="x")) == [("—", "not judged")]


def _rate_result(growth: float):
    """theorem1_risk fitted on S = c · shape · (N/16)^growth on the N-path (growth 0: the claim holds)."""
    claim, D, T, J = get_claim("theorem1_risk"), 3, 1.0, 17
    rng = np.random.default_rng(5)
    rows = []
    for path, N, eps in get_tier("ci").cells():
        shape = np.sqrt(max(1.0 / N, eps)) * float(claim.log_factor(np.array([float(N)]), eps, D, J)[0])
        for r in range(24):
            s = 0.3 * shape * np.exp(0.2 * rng.standard_normal()) * ((N / 16) ** growth if path == "N" else 1.0)
            rows.append({"path": path, "N": N, "eps": eps, "replicate": r, claim.statistic: s})
    return fit_claim(claim, pd.DataFrame(rows), D=D, T=T, J=J, reference_error=1e-6)


def test_a_rate_claim_passes_on_its_exponents_and_fails_on_its_rejected_test():
    good = _rate_result(0.0)
    assert good.verdict == "pass"
    d = deciding(good)
    assert d.why == "evidence" and [s["name"] for s in d.statistics] == ["exponent in 1/N", "exponent in ε"]
    assert [s["estimate"] for s in d.statistics] == [e.estimate for e in good.exponents.values()]
    _contains(fmt_deciding(asdict(d)))
    assert [row[0] for row in _statistic_rows(good)[:2]] == ["exponent 1/N (pred. 0.5)", "exponent ε (pred. 0.5)"]
    # every test of a rate claim names an estimate of the claim
    assert all(t.statistic in good.estimates for t in good.tests)

    bad = _rate_result(0.3)
    assert bad.verdict == "fail"
    d = deciding(bad)
    assert d.why == "rejected" and d.statistics[0]["name"] == "growth slope in 1/N against the theorem's scale"
    assert d.statistics[0]["ci"][1] < 0.5 - 0.05  # the slope the growth test rejected, below its threshold
    _contains(fmt_deciding(asdict(d)))
    rows = _statistic_rows(bad)
    assert rows[0][0] == d.statistics[0]["name"] and any(r[0].startswith("exponent 1/N") for r in rows)  # the exponents follow


def test_energy_decay_shows_the_sgd_statistic_when_its_sgd_test_rejects(tmp_path):
    """The rule without its factor 2 at tiny sizes: the SGD test rejects while the reference's
    self-checks hold. The index row, the gate's first row and summary.json show the SGD decrease
    ratio (its interval excludes the predicted 1), not the reference's slope, the claim's first
    estimate, whose interval contains 1 and which the index used to show."""
    from mfcheck.claims.base import CheckContext
    from mfcheck.claims.energy import CLAIM, Sizes, evaluate
    from mfcheck.dynamics.broken import BROKEN
    from mfcheck.model.experiment import default_experiment
    from mfcheck.report import write_report

    ctx = CheckContext(experiment=default_experiment(log2_M=6), tier=get_tier("smoke"), reference=None,
                       rule=BROKEN["no_factor_two"].rule)
    tiny = Sizes(log2_M=6, N=16, eps=1 / 512, T_sgd=1 / 16, replicates=2, curvature_steps=2)
    result = decide([evaluate(ctx, sizes=tiny)])[0]
    assert result.verdict == "fail" and result.decided_by.startswith("SGD")
    assert all(t.statistic in result.estimates for t in result.tests)

    ratio_name = next(k for k in result.estimates if k.startswith("SGD: decrease ratio"))
    first_name, first = next(iter(result.estimates.items()))
    assert first_name.startswith("reference: slope") and first["ci"][0] <= 1.0 <= first["ci"][1]  # the old, misleading number
    ratio = result.estimates[ratio_name]
    assert not ratio["ci"][0] <= 1.0 <= ratio["ci"][1]

    summary = write_report(CLAIM, result, ctx, tmp_path, command="test")
    stored = json.loads((tmp_path / "energy_decay" / "summary.json").read_text())
    assert stored["deciding"]["statistics"][0]["name"] == ratio_name and stored["deciding"]["why"] == "rejected"
    write_index([summary], tmp_path, 0.05)
    row = next(line for line in (tmp_path / "README.md").read_text().splitlines() if line.startswith("| [energy_decay]"))
    shown = fmt_estimate(ratio["estimate"], ratio["ci"])
    assert f"rejected: {ratio_name}: {shown}" in row
    assert first_name not in row and fmt_estimate(first["estimate"], first["ci"]) not in row
    _contains(row)
    assert _statistic_rows(result)[0] == (ratio_name, shown)
