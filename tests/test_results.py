"""The three verdicts of mfcheck.stats.results.decide: which tests spend α, and what a pass needs."""

import math

import pytest

from mfcheck.errors import InvalidArgument
from mfcheck.stats.results import ClaimResult, Evidence, Test, decide, family_size


def _result(*tests, evidence=(), unresolved=""):
    return ClaimResult(claim="c", verdict="unresolved", alpha=0.05, tests=tuple(tests), evidence=tuple(evidence), unresolved=unresolved)


def test_a_rejected_implementation_test_fails_the_claim():
    [r] = decide([_result(Test("t", 0.001), Test("u", 0.9))])
    assert r.verdict == "fail" and r.decided_by == "t"


def test_a_failed_precondition_leaves_the_claim_unresolved_and_spends_no_alpha():
    [r] = decide([_result(Test("identity", 0.0, role="precondition"), Test("t", 0.3))])
    assert r.verdict == "unresolved" and r.decided_by.startswith("precondition")
    assert math.isnan(r.tests[0].p_adjusted)
    # the one implementation test is judged at α itself: the precondition is not in the family
    assert r.tests[1].p_adjusted == pytest.approx(0.3)
    [r] = decide([_result(Test("identity", 0.0, role="precondition"), Test("t", 0.04))])
    assert r.verdict == "unresolved"  # a broken harness cannot reject an implementation either


def test_a_test_that_is_not_counted_never_decides():
    [r] = decide([_result(Test("powerless", 0.0, counted=False, note="no power at this tier"), Test("t", 0.5))])
    assert r.verdict == "pass" and not r.tests[0].rejected
    assert family_size([r]) == 1


def test_a_pass_needs_its_evidence():
    lacking = Evidence("exponent ≥ 0.4", holds=False, estimate=0.45, bound=0.3, threshold=0.4)
    [r] = decide([_result(Test("t", 0.5), evidence=[lacking])])
    assert r.verdict == "unresolved" and "exponent ≥ 0.4" in r.decided_by
    [r] = decide([_result(Test("t", 0.5), evidence=[Evidence("exponent ≥ 0.4", holds=True)])])
    assert r.verdict == "pass" and r.decided_by == "exponent ≥ 0.4"


def test_holm_runs_over_the_family_of_all_claims():
    a, b = decide([_result(Test("a", 0.02)), _result(Test("b", 0.03), Test("pre", 0.5, role="precondition"))])
    assert family_size([a, b]) == 2
    assert a.tests[0].p_adjusted == pytest.approx(0.04) and b.tests[0].p_adjusted == pytest.approx(0.04)
    assert a.verdict == "fail" and b.verdict == "fail"


def test_bad_role_and_alpha_are_refused():
    with pytest.raises(InvalidArgument, match="role"):
        Test("t", 0.5, role="harness")
    with pytest.raises(InvalidArgument, match="alpha"):
        decide([_result(Test("t", 0.5))], alpha=1.0)
