"""Free-energy decay (docs/theory.md §3) as a regression property: along the noisy DD in D = 1, F_β is
non-increasing and d/dt F_β = −2ξ∫ρ|∂(Ψ_λ + β⁻¹ log ρ)|² to discretisation accuracy for the project's
Fokker–Planck solver; a solver with the wrong diffusion coefficient (2β⁻¹, the c = 2 / c = 4 confusion
read the other way, or β⁻¹/2) is rejected.

False-alarm rate: both tests are deterministic (p ∈ {0, 1}; under the claim the discrepancy is near
the order-2 Richardson estimate, q → 1, against a threshold of 3, observed order 2). A wrong
diffusion breaks the identity (test 2) whichever way it errs.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from mfcheck.claims.base import CheckContext
from mfcheck.claims.free_energy import CLAIM, evaluate
from mfcheck.model.experiment import default_experiment
from mfcheck.stats.results import decide
from mfcheck.app.strategies import seeds
from mfcheck.claims.tiers import get_tier
from mfcheck.app.verify import verify
from properties._drawn import drawn_settings, level

ALPHA = 0.05


@pytest.fixture(scope="module")
def context(mfcheck_tier):
    return CheckContext(experiment=default_experiment(log2_M=6), tier=get_tier(mfcheck_tier), reference=None)


def test_correct_solver_passes(context):
    [r] = decide([CLAIM.run(context)], ALPHA)
    assert r.verdict == "pass", r.message
    assert not any(t.rejected for t in r.tests)


@pytest.mark.parametrize("diffusion_scale", [2.0, 0.5])
def test_wrong_diffusion_is_rejected(context, diffusion_scale):
    """The identity is a self-check of the solver: a wrong diffusion rejects it and leaves the claim unresolved."""
    [r] = decide([evaluate(context, diffusion_scale=diffusion_scale)], ALPHA)
    assert r.verdict == "unresolved" and r.decided_by.startswith("precondition"), r.message
    assert r.tests[1].rejected


def test_free_energy_holds_for_drawn_seeds(mfcheck_tier):
    """The free energy decreases along the noisy reference for drawn root seeds (the check runs on its own
    D = 1 setting; the seed draws its population). α' = 0.05 / examples (see properties/_drawn.py)."""
    tier = get_tier(mfcheck_tier)

    @drawn_settings(mfcheck_tier)
    @given(seed=seeds())
    def holds(seed):
        experiment = default_experiment(seed=seed, log2_M=6)
        [r] = verify(tier, experiment=experiment, alpha=level(mfcheck_tier), progress=False, claims=["free_energy"]).results
        assert r.verdict == "pass", r.message

    holds()
