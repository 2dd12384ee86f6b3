"""Energy decay (docs/theory.md §3) as a regression property: d/dt R(ρ_t) = −4ξ∫||∇Ψ||²dρ_t ≤ 0 holds
for the project's reference flow and, per unit time, for the correct SGD; it is rejected for a
reference drift with the wrong factor (−ξ∇Ψ), for an ascent (+2ξ∇Ψ), for the SGD missing
the factor 2 (``no_factor_two`` of ``mfcheck.dynamics.broken``) and for an SGD step twice too large.

False-alarm rate: the two reference tests are deterministic (p ∈ {0, 1}; under the claim the
discrepancy is near the order-2 Richardson estimate, q → 1, against a threshold of 3) and are
preconditions (a rejection leaves the claim unresolved, spending no α); the SGD test is a
two-sided martingale-CLT z-test, the claim's one member of the Holm family at α = 0.05.
Seeds are fixed, so the outcome is deterministic. A drift at half the factor breaks the identity
(test 2), an ascent also the monotonicity (test 1): the claim is unresolved; the SGD without the
factor 2, or at twice the step, breaks the SGD identity (test 3): the claim fails. The check does not read ``context.reference`` (it solves its own flows), so
none is built here.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from mfcheck.claims.base import CheckContext
from mfcheck.claims.energy import CLAIM, evaluate
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
    assert min(t.p_adjusted for t in r.tests if t.in_family) > ALPHA and not any(t.rejected for t in r.tests)


def _double_step():
    return Rule("double_step", lambda theta, x, y, s, neuron: mean_field_step(theta, x, y, 2.0 * s, neuron))


@pytest.mark.parametrize("broken", ["no_factor_two_step", "double_step"])
def test_a_wrong_sgd_step_fails(tier, broken):
    rule = BROKEN["no_factor_two"].rule if broken == "no_factor_two_step" else _double_step()
    [r] = decide([CLAIM.run(_context(tier, rule))], ALPHA)
    assert r.verdict == "fail", r.message
    assert [t.name.startswith("SGD") for t in r.tests if t.rejected] == [True]


@pytest.mark.parametrize("broken", ["drift_factor_half", "ascent"])
def test_a_broken_reference_fails_a_precondition(tier, broken):
    [r] = decide([evaluate(_context(tier), drift_scale=0.5 if broken == "drift_factor_half" else -1.0)], ALPHA)
    assert r.verdict == "unresolved", r.message
    assert any(t.rejected for t in r.tests if t.role == "precondition")
    assert not any(t.rejected for t in r.tests if t.role == "implementation")


def test_energy_holds_on_drawn_experiments(mfcheck_tier):
    """R(ρ_t) decreases along the reference and the energy identities hold on drawn experiments. α' = 0.05 / examples (see properties/_drawn.py)."""
    tier = get_tier(mfcheck_tier)

    @drawn_settings(mfcheck_tier)
    @given(experiment=DRAWN)
    def holds(experiment):
        [r] = verify(tier, experiment=experiment, alpha=level(mfcheck_tier), progress=False, claims=["energy_decay"]).results
        assert r.verdict == "pass", r.message

    holds()
