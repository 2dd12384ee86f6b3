"""Noiseless fixed points (docs/theory.md §5) as a regression property: the reference's residual
∫||∇Ψ||²dρ_t decays and, near a stable Dirac fixed point θ*, both the reference flow and the
correct SGD contract at the rate of the linearisation (4 λ_min of Hess_θΨ(θ*; δ_θ*)); a
reference drift with the wrong factor (−ξ∇Ψ) and the SGD missing the factor 2
(``no_factor_two`` of ``mfcheck.dynamics.broken``) contract at half the rate and are rejected.

False-alarm rate: Holm at α = 0.05 over the check's two tests (a z-test on the reference rate
with its refinement error, a t-test over SGD replicates; the long-time residual is reported, not
tested); seeds are fixed, so the outcome is deterministic. The check does not read
``context.reference``, so none is built here.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from mfcheck.claims.base import CheckContext
from mfcheck.claims.fixed_points import CLAIM, evaluate
from mfcheck.model.experiment import default_experiment
from mfcheck.dynamics.broken import BROKEN
from mfcheck.stats.results import decide
from mfcheck.dynamics.rules import MEAN_FIELD
from mfcheck.claims.tiers import get_tier
from mfcheck.app.verify import verify
from properties._drawn import DRAWN, drawn_settings, level

ALPHA = 0.05


@pytest.fixture(scope="module")
def tier(mfcheck_tier):
    return get_tier(mfcheck_tier)


def _context(tier, rule=MEAN_FIELD):
    return CheckContext(experiment=default_experiment(log2_M=6), tier=tier, reference=None, rule=rule)


def test_correct_flow_and_sgd_pass(tier):
    [r] = decide([CLAIM.run(_context(tier))], ALPHA)
    assert r.verdict == "pass", r.message
    assert len(r.tests) == 2 and min(t.p_adjusted for t in r.tests) > ALPHA


@pytest.mark.parametrize("broken", ["drift_factor_half", "no_factor_two_step"])
def test_half_speed_drift_or_sgd_is_rejected(tier, broken):
    if broken == "no_factor_two_step":
        result, rejected = CLAIM.run(_context(tier, BROKEN["no_factor_two"].rule)), "(b) SGD"
    else:
        result, rejected = evaluate(_context(tier), drift_scale=0.5), "(b) reference"
    [r] = decide([result], ALPHA)
    assert r.verdict == "fail", r.message
    assert [t.name for t in r.tests if t.rejected] and all(t.name.startswith(rejected) for t in r.tests if t.rejected)


def test_fixed_point_claims_hold_on_drawn_experiments(mfcheck_tier):
    """On drawn experiments the correct SGD is never rejected. The verdict may be *unresolved*: a
    drawn problem need not have a non-degenerate stationary point for the contraction tests
    (the check then says so). α' = 0.05 / examples."""
    tier = get_tier(mfcheck_tier)

    @drawn_settings(mfcheck_tier, slow=True)
    @given(experiment=DRAWN)
    def holds(experiment):
        [r] = verify(tier, experiment=experiment, alpha=level(mfcheck_tier, slow=True), progress=False, claims=["fixed_points"]).results
        assert r.verdict != "fail", r.message

    holds()
