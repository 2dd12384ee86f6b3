"""The CI gate as a regression property: at the ``ci`` tier it rejects every built-in mutant and
accepts every correct variant (:mod:`mfcheck.app.gate`).

Runs only with ``--mfcheck-tier=ci`` or ``full`` (one gate per implementation, eleven claims each,
a shared reference). False-alarm rate: each gate run controls the family-wise rate of its claims
at α = 0.05 (Holm); with three correct variants the chance that some correct variant is
rejected is at most 1 − 0.95³ ≈ 0.14 in general, but seeds are fixed and the three variants
agree with the built-in step to rounding, so they reproduce its p-values (deterministic outcome).
Which claims can see which mutant follows from the claims' designs: the bugs of the noisy terms
only (weak_noise, wrong_sign_decay) are invisible to the noiseless claims and left to Theorem 2
and temperature; correlated_init is the mcdiarmid claim's; late_instability, an instability that
starts after the rate claims' horizon T = 1, is gronwall's alone (the claim that follows the coupling
to T_max = 4 against the flow's own exponent). The gate's false-alarm rate on a correct
implementation is measured in ``reports/gate_false_alarm_smoke/`` and
``reports/gate_false_alarm_full/``.
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


def test_late_instability_is_rejected_by_gronwall_alone(setting):
    """The one mutant that only gronwall sees: the gate (Holm at α = 0.05, fixed seeds) fails gronwall and no other
    claim, each of which sees the correct step until the onset. The other claims' power is shown on the other
    mutants (test_gate_rejects_mutant_step)."""
    v = _gate(setting, impl=G.as_protocol(BROKEN["late_instability"].rule))
    failed = [r.claim for r in v.results if r.verdict == "fail"]
    assert failed == ["gronwall"], v.table()


@pytest.mark.parametrize("name", [n for n in G.MUTANTS if BROKEN[n].replaces == "init"])
def test_gate_rejects_mutant_init(setting, name):
    v = _gate(setting, impl=None, init=BROKEN[name].rule)
    assert v.exit_code == 1, v.table()


@pytest.mark.parametrize("name", sorted(G.CORRECT_STEPS))
def test_gate_accepts_correct_variant(setting, name):
    v = _gate(setting, impl=G.CORRECT_STEPS[name])
    assert v.exit_code == 0, v.table()
