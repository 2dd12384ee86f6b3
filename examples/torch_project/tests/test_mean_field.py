"""Gate the network of mfnet.model through mfcheck's pytest plugin (loaded by its entry point).

The marker runs mfcheck's gate on the factory ``make``: mfcheck builds the network for each N and
step size it needs, moves its particles (the rows of ``hidden.weight``) in and out, feeds its own
samples, and fails the test unless every claim holds. The smoke tier keeps the run short; it has
too few replicates to show the coupling lemma's rate for any correct implementation (mfcheck's own
step included: the claim is unresolved there, not failed), so this quick check names the other
claims. ``mfcheck gate --torch mfnet.model:make --particles hidden.weight --tier ci`` runs them all.
"""

import pytest

from mfcheck.app.gate import STEP_CLAIMS

SMOKE_CLAIMS = [c for c in STEP_CLAIMS if c != "coupling_lemma"]


@pytest.mark.mfcheck_gate(torch="mfnet.model:make", particles="hidden.weight", tier="smoke", claims=SMOKE_CLAIMS)
def test_the_network_follows_the_mean_field_limit(mfcheck_verification):
    assert {r.claim for r in mfcheck_verification.results} == set(SMOKE_CLAIMS)
