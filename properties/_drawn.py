"""Drawn experiments for the claim properties: hypothesis searches the space the theorems cover.

Each claim module in ``properties/`` runs its check on experiments drawn by
:func:`mfcheck.app.strategies.experiments`: the data law (a finite population), σ (a bounded
Lipschitz activation with its constants), ρ_0, the test functions and the **root seed** of every
random choice the check makes (initial particles, data, noise, tail splits). So a failing example
replays exactly and shrinks: hypothesis prints the constructor calls of the experiment and, under
the ``ci`` profile, a ``@reproduce_failure`` blob.

**Regime.** The theorems are asymptotic: S ≤ C e^{CT} err_{N,D}. A check can only see the rate
where the statistic is already small at the tier's sizes. With the default caps of the
strategies (sup|σ| and Lip(σ) up to 4, labels up to 2, input scale up to 2, ρ_0 scale up to 1)
some drawn experiments have coupling distances of order 1 at N = 256 (particles spread by the
flow faster than 1/sqrt(N) shrinks): pre-asymptotic, and the coupling claim rejects them. The
properties therefore draw from :data:`DRAWN`: sup|σ| ≤ 1, Lip(σ), Lip(σ') ≤ 1.5, |y| ≤ 1, input
scale ≤ 1, ρ_0 scale ≤ 1/2 (the default experiment lies inside it).

**False-alarm rate.** A property that asserts "pass" on k examples fails a correct
implementation with probability up to k·α' when each example is judged at level α'. Each example
is therefore judged at α' = :data:`ALPHA` / k (Bonferroni over the examples; Holm inside each
verification), so a property's false-alarm rate is at most ALPHA = 0.05. Under the ``ci``
profile (``CI=true``) the examples are derandomised and the outcome is fixed.

**Tiers.** ``--mfcheck-tier`` sets the sweep sizes and the number of drawn examples
(:data:`EXAMPLES`, :data:`SLOW_EXAMPLES`); the hypothesis profile (``dev``, ``ci``, ``full``) sets derandomisation.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mfcheck.app import strategies as ms

ALPHA = 0.05
"""The false-alarm rate of one property (over all its examples)."""

EXAMPLES = {"smoke": 3, "ci": 8, "full": 50}
"""Drawn experiments per property at each ``--mfcheck-tier``."""

SLOW_EXAMPLES = {"smoke": 1, "ci": 3, "full": 20}
"""The same for the slowest checks (Theorem 2's three noisy sweeps with their Fokker–Planck
reference; the fixed points' long-time flows)."""

DRAWN = ms.experiments(
    data=ms.finite_populations(n=st.integers(4, 16), d=st.integers(1, 3), max_label=1.0, max_scale=1.0),
    activations=ms.lipschitz_activations(max_sup=1.0, max_lipschitz=1.5, max_lipschitz_prime=1.5),
    max_init_scale=0.5,
    log2_M=12,
)
"""Experiments inside the theorems and inside the regime the tiers resolve (see the module docstring)."""


def examples(tier: str, slow: bool = False) -> int:
    """The number of drawn examples at ``tier`` (:data:`SLOW_EXAMPLES` for the slowest checks)."""
    return (SLOW_EXAMPLES if slow else EXAMPLES)[tier]


def level(tier: str, slow: bool = False) -> float:
    """α' = ALPHA / k: the level each of the k examples is judged at."""
    return ALPHA / examples(tier, slow)


def drawn_settings(tier: str, slow: bool = False) -> settings:
    """Hypothesis settings for a property over drawn experiments: ``examples(tier, slow)`` examples.

    Derandomisation and printing come from the loaded hypothesis profile. Each example is a whole
    statistical check, so the deadline and the too-slow health check are off.
    """
    return settings(max_examples=examples(tier, slow), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
