"""Noiseless fixed points (docs/theory.md §5) as a regression property: the reference's residual
∫||∇Ψ||²dρ_t decays and, near a stable Dirac fixed point θ*, the reference flow contracts at the
rate of its linearisation and the correct SGD's particles, extrapolated to N → ∞, ε → 0, keep the
limit's memory along the slowest mode of Hess_θΨ(θ*; δ_θ*); a reference drift with the wrong
factor (−ξ∇Ψ) fails the reference precondition, and the SGD missing the factor 2 (``no_factor_two``
of ``mfcheck.dynamics.broken``) or at twice the step contracts at half or twice the rate and fails.

False-alarm rate: the reference test is a two-sided z-test with its refinement error, a
precondition (no α spent); the SGD test a two-sided Welch t-test, the claim's one member of the
Holm family at α = 0.05 (the long-time residual is reported, not tested); seeds are fixed, so the
outcome is deterministic. The check does not read
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
from mfcheck.dynamics.rules import MEAN_FIELD, Rule, mean_field_step
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
    assert len(r.tests) == 2 and not any(t.rejected for t in r.tests)
    assert min(t.p_adjusted for t in r.tests if t.in_family) > ALPHA


@pytest.mark.parametrize("broken", ["no_factor_two_step", "double_step"])
def test_a_wrong_sgd_step_fails(tier, broken):
    rule = BROKEN["no_factor_two"].rule if broken == "no_factor_two_step" else Rule(
        "double_step", lambda theta, x, y, s, neuron: mean_field_step(theta, x, y, 2.0 * s, neuron))
    [r] = decide([CLAIM.run(_context(tier, rule))], ALPHA)
    assert r.verdict == "fail", r.message
    assert [t.name.startswith("(b) SGD") for t in r.tests if t.rejected] == [True]


def test_a_half_speed_reference_fails_its_precondition(tier):
    """The SGD test's prediction is the reference's own memory, so a broken reference also moves it;
    the claim is not passed either way."""
    [r] = decide([evaluate(_context(tier), drift_scale=0.5)], ALPHA)
    assert r.verdict != "pass", r.message
    assert r.tests[0].role == "precondition" and r.tests[0].rejected


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
