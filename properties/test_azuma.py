"""Term E3 (docs/theory.md §2, §4) as a regression property: the SGD martingale M_i^k is sub-Gaussian
within the Azuma–Hoeffding bound and its scale grows like sqrt(εT) for the correct particle SGD;
rules whose martingale does not shrink with ε are rejected.

False-alarm rate: the claim's tests are decided together at family-wise α = 0.05 (Holm). Seeds are
fixed (the experiment's root entropy), so the outcome is deterministic; the p-values of the
correct SGD are in ``reports/azuma/report.md``.
Run a larger sweep with ``pytest --mfcheck-tier=ci``.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from mfcheck.claims.azuma import CLAIM
from mfcheck.claims.base import CheckContext
from mfcheck.model.experiment import default_experiment
from mfcheck.stats.results import decide
from mfcheck.dynamics.broken import BROKEN
from mfcheck.dynamics.rules import MEAN_FIELD
from mfcheck.claims.tiers import get_tier
from mfcheck.app.verify import verify
from properties._drawn import DRAWN, drawn_settings, level

ALPHA = 0.05


@pytest.fixture(scope="module")
def experiment():
    return default_experiment()


def _decide(experiment, tier, rule):
    # The check compensates with the exact ∇Ψ of the finite population: it needs no reference flow.
    context = CheckContext(experiment=experiment, tier=get_tier(tier), reference=None, rule=rule)
    return decide([CLAIM.run(context)], ALPHA)[0]


def test_correct_sgd_passes(experiment, mfcheck_tier):
    r = _decide(experiment, mfcheck_tier, MEAN_FIELD)
    assert r.verdict == "pass", (r.message, [(t.name, t.p_value) for t in r.tests])


@pytest.mark.parametrize("mutant", ["extra_noise", "sqrt_step"])
def test_broken_sgd_is_rejected(experiment, mfcheck_tier, mutant):
    r = _decide(experiment, mfcheck_tier, BROKEN[mutant].rule)
    assert r.verdict == "fail", (r.message, [(t.name, t.p_value) for t in r.tests])


def test_azuma_holds_on_drawn_experiments(mfcheck_tier):
    """The martingale part of the correct SGD obeys Azuma and its √ε scale on drawn experiments. α' = 0.05 / examples (see properties/_drawn.py)."""
    tier = get_tier(mfcheck_tier)

    @drawn_settings(mfcheck_tier)
    @given(experiment=DRAWN)
    def holds(experiment):
        [r] = verify(tier, experiment=experiment, alpha=level(mfcheck_tier), progress=False, claims=["azuma"]).results
        assert r.verdict == "pass", r.message

    holds()
