"""The exact power of binomial exceedance tests and the per-run power rule of the tail tests of
mcdiarmid and azuma (mfcheck.stats.power.exceedance_power / grid_power, mfcheck.claims.injection.violating)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mfcheck.claims.injection import POWER_FLOOR, TAIL_VIOLATION, violating, without_powerless
from mfcheck.stats.power import exceedance_power, grid_power, t_test_power, z_test_power
from mfcheck.stats.results import ClaimResult, Test, decide, family_size


@pytest.mark.parametrize("n, bound, level", [(8192, 0.00067, 1e-4), (1024, 0.088, 0.01), (200, 0.02, 0.05)])
def test_exceedance_power_is_the_rejection_probability_of_the_exact_binomial_test(n, bound, level):
    """At the critical count the binomial test's p-value is ≤ level, one below it is > level; the
    power is the probability of reaching that count, which at the bound itself is at most level
    (its size) and rises to 1 as the exceedance probability grows. By simulation (4000 binomial
    draws, fixed seed) the rejection rate matches it within 0.03, about 3.8 standard errors of a
    proportion (α ≈ 2e-4 for this comparison); its companion below: a grid without power leaves the family."""
    c = int(stats.binom.isf(level, n, bound)) + 1
    assert stats.binomtest(c, n, bound, alternative="greater").pvalue <= level
    assert stats.binomtest(c - 1, n, bound, alternative="greater").pvalue > level
    assert exceedance_power(n, bound, bound, level) <= level
    powers = [exceedance_power(n, q, bound, level) for q in (bound, 1.5 * bound, 2 * bound, 4 * bound, 10 * bound)]
    assert powers == sorted(powers) and powers[-1] > 0.99
    # by simulation: the fraction of binomial draws the test rejects
    rng = np.random.default_rng(np.random.SeedSequence(20261203))
    q = 2 * bound
    counts = rng.binomial(n, q, size=4000)
    rejected = np.mean(stats.binom.sf(counts - 1, n, bound) <= level)
    assert rejected == pytest.approx(exceedance_power(n, q, bound, level), abs=0.03)


def test_grid_power_splits_the_level_and_takes_the_strongest_test():
    one = {"n": 1000, "bound": 0.01, "frequency": 0.03}
    none = {"n": 1000, "bound": 0.01, "frequency": 0.0}
    assert grid_power([one], 0.01) == pytest.approx(exceedance_power(1000, 0.03, 0.01, 0.01))
    assert grid_power([one, none, none], 0.01) == pytest.approx(exceedance_power(1000, 0.03, 0.01, 0.01 / 3))
    assert grid_power([], 0.01) == 0.0


def test_violating_rescales_each_column_to_the_stated_multiple_of_the_proxy():
    rng = np.random.default_rng(np.random.SeedSequence(7))
    values = rng.normal(size=(500, 3)) * np.array([0.1, 1.0, 3.0])
    v = violating(values, 0.5)
    assert np.sqrt(np.mean(v**2, axis=0)) == pytest.approx(TAIL_VIOLATION * 0.5)
    assert np.all(np.sign(v) == np.sign(values))  # a rescaling: the shape of the law is the run's own
    assert np.all(violating(np.zeros((4, 2)), 1.0) == 0)


def test_a_tail_test_without_power_leaves_the_family():
    """With few observations the binomial grid cannot see a violation twice the proxy: its power
    is below the floor, and the test is reported but not counted; with many it is counted."""
    rng = np.random.default_rng(np.random.SeedSequence(11))
    z = rng.normal(size=20000)
    bound = 2 * np.exp(-9 / 2)  # Azuma's tail at z = 3
    frequency = float(np.mean(np.abs(violating(z, 1.0)) >= 3.0))

    def found(n):
        return {"test_power": {"tail": grid_power([{"n": n, "bound": bound, "frequency": frequency}], 0.05 / 40)},
                "level": 0.05 / 40, "power_floor": POWER_FLOOR, "against": "a violation twice the proxy"}

    result = ClaimResult(claim="c", verdict="unresolved", alpha=0.05, tests=(Test("tail", 1.0), Test("other", 0.001)))
    few, many = without_powerless(result, found(5)), without_powerless(result, found(500))
    assert found(5)["test_power"]["tail"] < POWER_FLOOR <= found(500)["test_power"]["tail"]
    assert [t.counted for t in few.tests] == [False, True] and "no power" in few.tests[0].note
    assert [t.counted for t in many.tests] == [True, True]
    assert family_size(decide([few])) == 1 and family_size(decide([many])) == 2


@pytest.mark.parametrize("two_sided", [False, True])
def test_z_test_power_is_the_rejection_rate_of_a_shifted_normal_statistic(two_sided):
    rng = np.random.default_rng(np.random.SeedSequence(2026, spawn_key=(int(two_sided),)))
    level, nc = 0.01, 3.0
    z = rng.standard_normal(20000) + nc
    p = 2 * stats.norm.sf(np.abs(z)) if two_sided else stats.norm.sf(z)
    assert np.mean(p <= level) == pytest.approx(z_test_power(nc, level, two_sided), abs=0.015)  # binomial sd 0.0035
    assert z_test_power(0.0, level, two_sided) == pytest.approx(level)


@pytest.mark.parametrize("two_sided", [False, True])
def test_t_test_power_is_the_rejection_rate_of_a_shifted_t_statistic(two_sided):
    """Normal means with an estimated se on df = 5: the noncentral t is the law of the statistic."""
    rng = np.random.default_rng(np.random.SeedSequence(2027, spawn_key=(int(two_sided),)))
    level, shift, sigma, n = 0.01, 2.0, 1.0, 6
    x = rng.normal(shift, sigma, size=(20000, n))
    t = x.mean(axis=1) / (x.std(axis=1, ddof=1) / np.sqrt(n))
    p = 2 * stats.t.sf(np.abs(t), n - 1) if two_sided else stats.t.sf(t, n - 1)
    predicted = t_test_power(shift, sigma / np.sqrt(n), n - 1, level, two_sided)
    assert 0.3 < predicted < 0.95 and np.mean(p <= level) == pytest.approx(predicted, abs=0.015)  # binomial sd ≤ 0.0035
    assert t_test_power(0.0, 1.0, n - 1, level, two_sided) == pytest.approx(level)
    assert t_test_power(60.0, 1.0, 5.8, level, two_sided) == 1.0  # far out, where scipy's noncentral t alone gives NaN
