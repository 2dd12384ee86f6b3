"""The CI gate as a regression property: at the ``ci`` tier it rejects every built-in mutant and
accepts every correct variant (:mod:`mfcheck.app.gate`).

Runs only with ``--mfcheck-tier=ci`` or ``full`` (one gate per implementation, eleven claims each,
a shared reference). False-alarm rate: each gate run controls the family-wise rate of its claims
at α = 0.05 (Holm); with three correct variants the chance that some correct variant is
rejected is at most 1 − 0.95³ ≈ 0.14 in general, but seeds are fixed and the three variants
agree with the built-in step to 1e-12, so they reproduce its p-values (deterministic outcome).
Measured power at the smoke tier (``self_test(get_tier("smoke"))``, 2 cores, 219 s in all with
the 35 s reference): every mutant rejected, no correct variant rejected (every claim's smallest
Holm-adjusted p = 1.0 for all three). Claims failing each mutant (smallest adjusted p):
ntk_scaling, no_factor_two, unscaled_lr, gradient_ascent: 10 of 11 (all but gronwall; e.g.
theorem1_test_functions 1e-45 / 2e-14 / 1e-45 / 4e-76, temperature ≈ 0.007); weak_noise and
wrong_sign_decay: 3 of 11 (theorem2_test_functions 1e-18 / 3e-31, theorem2_coupling 3e-24 /
8e-29, temperature 0.009; the noiseless claims cannot see them, by design); correlated_init:
mcdiarmid 2e-89. gronwall rejects none of them (it targets growth faster than K_drift).
At the ci tier all ten tests pass (measured: 576 s on 2 shared cores, ~56 s per step gate,
83 s for the per-replicate loop variant, 10 s for correlated_init); e.g. wrong_sign_decay fails
theorem2_test_functions (p 7e-92), theorem2_risk (5e-4), theorem2_coupling (9e-90) and
temperature (1e-4), while the reference step's smallest raw p over its claims is 0.22.
"""

from __future__ import annotations

import pytest

from mfcheck.app import gate as G
from mfcheck.dynamics.broken import BROKEN
from mfcheck.model.experiment import default_experiment
from mfcheck.reference import build_reference
from mfcheck.claims.tiers import get_tier

ALPHA = 0.05


@pytest.fixture(scope="module")
def setting(mfcheck_tier):
    if mfcheck_tier not in ("ci", "full"):
        pytest.skip("the gate's self-test runs at --mfcheck-tier=ci or full")
    tier = get_tier(mfcheck_tier)
    experiment = default_experiment(log2_M=tier.log2_M)
    return tier, experiment, build_reference(experiment)


def _gate(setting, **kwargs):
    tier, experiment, reference = setting
    return G.gate(tier=tier, alpha=ALPHA, experiment=experiment, reference=reference, progress=False, **kwargs)


@pytest.mark.parametrize("name", [n for n in G.MUTANTS if BROKEN[n].replaces != "init"])
def test_gate_rejects_mutant_step(setting, name):
    v = _gate(setting, impl=G.as_protocol(BROKEN[name].rule))
    assert v.exit_code == 1, v.table()


@pytest.mark.parametrize("name", [n for n in G.MUTANTS if BROKEN[n].replaces == "init"])
def test_gate_rejects_mutant_init(setting, name):
    v = _gate(setting, impl=None, init=BROKEN[name].rule)
    assert v.exit_code == 1, v.table()


@pytest.mark.parametrize("name", sorted(G.CORRECT_STEPS))
def test_gate_accepts_correct_variant(setting, name):
    v = _gate(setting, impl=G.CORRECT_STEPS[name])
    assert v.exit_code == 0, v.table()
