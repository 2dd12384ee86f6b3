"""Term II (McDiarmid) as a regression property: it passes on the correct i.i.d. initial
sampler and is rejected for a correlated one (each draw repeated m = 16 times, N = 32).

False-alarm rate: Holm over the check's 15 exact binomial tests at α = 0.05; seeds are fixed,
so the outcome is deterministic. Only strong correlation is detectable by this bound (see
:mod:`mfcheck.claims.mcdiarmid`), hence m = 16. The smoke tier uses a reference on 2^9 nodes
(its refinement error stays far below the tested u ≈ 0.5, which the check itself verifies
through its resolution rule) to keep this file fast; other tiers use the tier's ``log2_M``.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from mfcheck.claims.base import CheckContext
from mfcheck.claims.mcdiarmid import CLAIM
from mfcheck.dynamics.broken import ClusteredInit
from mfcheck.model.experiment import default_experiment
from mfcheck.reference import build_reference
from mfcheck.stats.results import decide
from mfcheck.dynamics.sgd import iid_init
from mfcheck.claims.tiers import get_tier
from mfcheck.app.verify import verify
from properties._drawn import DRAWN, drawn_settings, level

ALPHA = 0.05
BROKEN_M = 16


@pytest.fixture(scope="module")
def setting(mfcheck_tier):
    tier = get_tier(mfcheck_tier)
    experiment = default_experiment(log2_M=9 if tier.name == "smoke" else tier.log2_M)
    return tier, experiment, build_reference(experiment)


def _decide(setting, init):
    tier, experiment, reference = setting
    context = CheckContext(experiment=experiment, tier=tier, reference=reference, init=init)
    [result] = decide([CLAIM.run(context)], ALPHA)
    return result


def test_iid_sampler_passes(setting):
    r = _decide(setting, iid_init)
    assert r.verdict == "pass", r.message
    assert r.min_p_adjusted > ALPHA


def test_correlated_sampler_is_rejected(setting):
    r = _decide(setting, ClusteredInit(BROKEN_M))
    assert r.verdict == "fail", r.message
    # the per-time grid carries the power; the union bound over times is much looser
    assert any(t.rejected for t in r.tests if t.name.startswith("McDiarmid at each time"))


def test_mcdiarmid_holds_on_drawn_experiments(mfcheck_tier):
    """McDiarmid's bound holds for i.i.d. initial particles on drawn experiments. α' = 0.05 / examples (see properties/_drawn.py)."""
    tier = get_tier(mfcheck_tier)

    @drawn_settings(mfcheck_tier)
    @given(experiment=DRAWN)
    def holds(experiment):
        [r] = verify(tier, experiment=experiment, alpha=level(mfcheck_tier), progress=False, claims=["mcdiarmid"]).results
        assert r.verdict == "pass", r.message

    holds()
