"""energy_decay at the smoke tier: implementations the theorem covers pass, wrong step sizes fail.

The SGD test is two-sided (module docstring of :mod:`mfcheck.claims.energy`): a step twice too
large (Z < 0) is rejected as surely as one half too small (Z > 0), while the exact second-order
term of each rule's own step keeps the correct step, and the covered variants, unrejected.
"""

from __future__ import annotations

import math

import pytest
from rule_variants import correct_variants, wrong_steps

from mfcheck.claims import tests_in_family as family_size
from mfcheck.claims.base import CheckContext
from mfcheck.claims.energy import evaluate
from mfcheck.claims.tiers import get_tier
from mfcheck.model.experiment import default_experiment
from mfcheck.stats.results import DEFAULT_ALPHA, decide


def _judge(rule, drift_scale=1.0):
    context = CheckContext(experiment=default_experiment(), tier=get_tier("smoke"), reference=None, rule=rule)
    return decide([evaluate(context, drift_scale=drift_scale)], DEFAULT_ALPHA)[0]


@pytest.mark.parametrize("name", list(correct_variants()))
def test_an_implementation_the_theorem_covers_passes(name):
    r = _judge(correct_variants()[name])
    assert r.verdict == "pass", r.message
    assert [t.role for t in r.tests] == ["precondition", "precondition", "implementation"]
    assert r.tests[2].p_value > DEFAULT_ALPHA / family_size()
    ratio, ci = r.estimates["SGD: decrease ratio (−ΣΔR_N + Ĉ) / Σ 4 s G"]["estimate"], \
        r.estimates["SGD: decrease ratio (−ΣΔR_N + Ĉ) / Σ 4 s G"]["ci"]
    assert ci[0] < 1.0 < ci[1] and abs(ratio - 1) < 0.1


@pytest.mark.parametrize("name, ratio", [("double_step", 2.0), ("half_step", 0.5)])
def test_a_wrong_step_size_fails_in_either_direction(name, ratio):
    r = _judge(wrong_steps()[name])
    assert r.verdict == "fail" and r.tests[2].rejected and r.tests[2].p_value < 1e-6
    assert not r.tests[0].rejected and not r.tests[1].rejected
    z = r.details["sgd"]["z"]
    assert math.copysign(1.0, z) == (-1.0 if ratio > 1 else 1.0)
    est = r.estimates["SGD: decrease ratio (−ΣΔR_N + Ĉ) / Σ 4 s G"]
    assert est["ci"][0] < ratio < est["ci"][1]


def test_a_broken_reference_leaves_the_claim_unresolved():
    """A reference drift at half speed fails the identity precondition; the correct SGD is not failed for it."""
    r = _judge(correct_variants()["paper"], drift_scale=0.5)
    assert r.tests[1].role == "precondition" and r.tests[1].rejected
    assert not r.tests[2].rejected
    assert r.verdict == "unresolved" and "precondition" in r.decided_by
