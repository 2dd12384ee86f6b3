"""Theorem 1 (MMN18 Thm 3) as a regression property: the claims pass on the correct particle SGD
and are rejected for SGDs with known bugs.

False-alarm rate: each verification controls the family-wise rate over all its tests at
α = 0.05 (Holm). Seeds are fixed (the experiment's root entropy), so the outcome is
deterministic; at the smoke tier the correct SGD's smallest Holm-adjusted p-value is far from α
(see the printed table of ``mfcheck verify --tier smoke``).
Run a larger sweep with ``pytest --mfcheck-tier=ci`` or ``--mfcheck-tier=full``.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from mfcheck.claims.theorem1 import CLAIMS
from mfcheck.model.experiment import default_experiment
from mfcheck.dynamics.broken import BROKEN
from mfcheck.reference import build_reference
from mfcheck.dynamics.rules import MEAN_FIELD
from mfcheck.claims.tiers import get_tier
from mfcheck.app.verify import verify
from properties._drawn import DRAWN, drawn_settings, level

ALPHA = 0.05


@pytest.fixture(scope="module")
def setting(mfcheck_tier):
    tier = get_tier(mfcheck_tier)
    experiment = default_experiment(log2_M=tier.log2_M)
    return tier, experiment, build_reference(experiment)


def _verify(setting, rule):
    tier, experiment, reference = setting
    return verify(tier, experiment=experiment, alpha=ALPHA, rule=rule, reference=reference, progress=False, claims=[c.name for c in CLAIMS])


def test_correct_sgd_passes_every_claim(setting):
    v = _verify(setting, MEAN_FIELD)
    assert [r.verdict for r in v.results] == ["pass"] * len(v.results), [(r.claim, r.message) for r in v.results]
    assert v.exit_code == 0


@pytest.mark.parametrize("mutant", ["no_factor_two", "ntk_scaling"])
def test_broken_sgd_is_rejected(setting, mutant):
    v = _verify(setting, BROKEN[mutant].rule)
    assert [r.verdict for r in v.results] == ["fail"] * len(v.results), [(r.claim, r.verdict, r.message) for r in v.results]
    assert v.exit_code == 1


def test_rate_claims_hold_on_drawn_experiments(mfcheck_tier):
    """The three rate claims pass on the correct SGD for drawn (σ, P, ρ_0, f, seed); α' = 0.05 / examples."""
    tier = get_tier(mfcheck_tier)

    @drawn_settings(mfcheck_tier)
    @given(experiment=DRAWN)
    def holds(experiment):
        v = verify(tier, experiment=experiment, alpha=level(mfcheck_tier), rule=MEAN_FIELD, progress=False, claims=[c.name for c in CLAIMS])
        assert [r.verdict for r in v.results] == ["pass"] * len(v.results), [(r.claim, r.message) for r in v.results]

    holds()
