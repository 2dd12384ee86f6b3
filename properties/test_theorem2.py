"""Theorem 2 (noisy SGD): the rate claims pass on the correct noisy SGD (c = 4) and the
claim family is rejected for noise sqrt(s/β) g (c = 1). Family-wise α = 0.05 (Holm over the
three claims' tests); fixed seeds, so the outcome is deterministic."""

from __future__ import annotations

import pytest

from mfcheck.checks.base import CheckContext
from mfcheck.checks.theorem2 import CHECKS
from mfcheck.experiment import default_experiment
from mfcheck.noisy import sqrt_s_over_beta_noise
from mfcheck.results import decide
from mfcheck.tiers import get_tier


def _run(tier_name, noisy_update):
    ctx = CheckContext(experiment=default_experiment(log2_M=8), tier=get_tier(tier_name), reference=None, noisy_update=noisy_update)
    return decide([c.run(ctx) for c in CHECKS.values()], 0.05)


def test_correct_noisy_sgd_passes(mfcheck_tier):
    results = _run(mfcheck_tier, None)
    assert [r.verdict for r in results] == ["pass"] * 3, [(r.claim, r.message) for r in results]


@pytest.mark.parametrize("mutant", [sqrt_s_over_beta_noise])
def test_wrong_noise_scale_is_rejected(mfcheck_tier, mutant):
    results = _run(mfcheck_tier, mutant)
    assert "fail" in [r.verdict for r in results]
    assert {r.claim: r.verdict for r in results}["theorem2_coupling"] == "fail"
