"""Theorem 2 (noisy SGD): no rate claim fails the correct noisy SGD (c = 4), they pass it at the
tiers sized to show the rate (ci, full; smoke may leave one unresolved), and the claim family is
rejected for noise sqrt(s/β) g (c = 1). Family-wise α = 0.05 (Holm over the three claims'
tests); fixed seeds, so the outcome is deterministic."""

from __future__ import annotations

import pytest
from hypothesis import given

from mfcheck.claims.base import CheckContext
from mfcheck.claims.theorem2 import CLAIMS, SWEEP
from mfcheck.model.experiment import default_experiment
from mfcheck.dynamics.broken import BROKEN
from mfcheck.dynamics.rules import MEAN_FIELD
from mfcheck.stats.results import decide
from mfcheck.app.strategies import seeds
from mfcheck.claims.tiers import get_tier
from properties._drawn import drawn_settings, level


def _run(tier_name, rule):
    ctx = CheckContext(experiment=default_experiment(log2_M=8), tier=get_tier(tier_name), reference=None, rule=rule)
    sweep = SWEEP.run(ctx)
    return decide([c.fit(sweep) for c in CLAIMS], 0.05)


def test_correct_noisy_sgd_passes(mfcheck_tier):
    results = _run(mfcheck_tier, MEAN_FIELD)
    assert "fail" not in [r.verdict for r in results], [(r.claim, r.message) for r in results]
    if mfcheck_tier != "smoke":
        assert [r.verdict for r in results] == ["pass"] * 3, [(r.claim, r.message) for r in results]


@pytest.mark.parametrize("mutant", ["weak_noise"])
def test_wrong_noise_scale_is_rejected(mfcheck_tier, mutant):
    results = _run(mfcheck_tier, BROKEN[mutant].rule)
    assert "fail" in [r.verdict for r in results]
    assert {r.claim: r.verdict for r in results}["theorem2_coupling"] == "fail"


def test_noisy_rate_claims_hold_for_drawn_seeds(mfcheck_tier):
    """Theorem 2's setting is fixed (D = 1, the temperature problem); hypothesis draws the root seed
    of its data, initial particles and Brownian increments. α' = 0.05 / examples (the slow count of
    properties/_drawn.py: each example is three noisy sweeps with their Fokker–Planck reference)."""
    tier = get_tier(mfcheck_tier)

    @drawn_settings(mfcheck_tier, slow=True)
    @given(seed=seeds())
    def holds(seed):
        ctx = CheckContext(experiment=default_experiment(seed=seed, log2_M=8), tier=tier, reference=None)
        sweep = SWEEP.run(ctx)
        results = decide([c.fit(sweep) for c in CLAIMS], level(mfcheck_tier, slow=True))
        assert "fail" not in [r.verdict for r in results], [(r.claim, r.message) for r in results]

    holds()
