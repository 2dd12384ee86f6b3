"""Gronwall (docs/theory.md §4, §7): the coupling S(T) grows at most like e^{K_drift T}; the claim passes on
the correct particle SGD and is rejected for an SGD whose coupling grows faster than K_drift.

False-alarm rate: α = 0.05 (Holm over the check's two one-sided tests, each level α at the
boundary of its null up to the t_{R−1} approximation). Seeds are fixed, so the outcome is
deterministic. The broken rule is weight decay of the wrong sign, λ = 60: its coupling grows at
rate 2λ = 120 > K_drift ≈ 105 (see :mod:`mfcheck.claims.gronwall`). Larger sweep:
``pytest --mfcheck-tier=ci``.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given

from mfcheck.claims.base import CheckContext
from mfcheck.claims.gronwall import CLAIM
from mfcheck.model.experiment import default_experiment
from mfcheck.reference import build_reference
from mfcheck.stats.results import decide
from mfcheck.dynamics.broken import BROKEN
from mfcheck.dynamics.rules import MEAN_FIELD
from mfcheck.claims.tiers import get_tier
from mfcheck.app.verify import verify
from properties._drawn import DRAWN, drawn_settings, level

ALPHA = 0.05


@pytest.fixture(scope="module")
def setting(mfcheck_tier):
    experiment = default_experiment()
    # The Gronwall check builds its own reference for its longer horizon; the context's reference
    # is not used by it, so a tiny one stands in (the full one would only cost time).
    reference = build_reference(dataclasses.replace(experiment, T=experiment.record_dt, log2_M=4))
    return get_tier(mfcheck_tier), experiment, reference


def _run(setting, rule):
    tier, experiment, reference = setting
    context = CheckContext(experiment=experiment, tier=tier, reference=reference, rule=rule, progress=False)
    return decide([CLAIM.run(context)], ALPHA)[0]


def test_correct_sgd_passes(setting):
    r = _run(setting, MEAN_FIELD)
    assert r.verdict == "pass", (r.message, [(t.name, t.p_value) for t in r.tests])
    assert min(t.p_value for t in r.tests) > 0.5


def test_anti_weight_decay_is_rejected(setting):
    r = _run(setting, BROKEN["anti_weight_decay"].rule)
    assert r.verdict == "fail", (r.message, [(t.name, t.p_value) for t in r.tests])
    assert r.tests[0].rejected


def test_gronwall_holds_on_drawn_experiments(mfcheck_tier):
    """The coupling of the correct SGD grows at most at the Gronwall rate on drawn experiments. α' = 0.05 / examples (see properties/_drawn.py)."""
    tier = get_tier(mfcheck_tier)

    @drawn_settings(mfcheck_tier)
    @given(experiment=DRAWN)
    def holds(experiment):
        [r] = verify(tier, experiment=experiment, alpha=level(mfcheck_tier), progress=False, claims=["gronwall"]).results
        assert r.verdict == "pass", r.message

    holds()
