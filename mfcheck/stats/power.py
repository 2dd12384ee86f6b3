"""Power of a one-sided growth test on a fitted slope, and the replicates that reach a target.

The alternative: an exponent short of the predicted one by ``deficit``. The test is a one-sided
t-test on the slope, whose standard error scales like 1/√R with R replicates per cell. From a
pilot with R₀ replicates and standard error SE₀, at the test's level ``level``,

    power(R) ≈ Φ( deficit / (SE₀ √(R₀/R)) − z_{1−level} ),

and the smallest R with power(R) ≥ target is ⌈R₀ (SE₀ (z_{1−level} + z_target) / deficit)²⌉.

For a test whose z-statistic grows like √R (a t-test or an exceedance count over replicates, a
sign-flip mean), a pilot with R₀ replicates and smallest p-value p gives z₀ = Φ⁻¹(1 − p) and

    power(R) ≈ Φ( z₀ √(R/R₀) − z_{1−level} ),   R = ⌈R₀ ((z_{1−level} + z_target) / z₀)²⌉.

For an exact one-sided binomial test of H0 P(exceed) ≤ b with n observations, the test rejects at
``level`` when the count reaches c, the smallest count with P(Bin(n, b) ≥ c) ≤ level; its power
when the exceedance probability is q is exactly P(Bin(n, q) ≥ c) (:func:`exceedance_power`).
A grid of k such tests combined into one (its smallest p times k, Bonferroni) rejects when one of
them rejects at level/k, so its power is at least the largest of theirs there (:func:`grid_power`).

For a one-sided t test of a fitted coefficient on df degrees of freedom, whose standard error se
is the run's own, a violation that moves the coefficient by ``shift`` towards the alternative has
power P(t_df(shift/se) ≥ t_{1−level, df}), the noncentral t with noncentrality shift/se
(:func:`t_test_power`). When the violation enters the fitted response as a multiple of a regressor
(a rate added to log S, an exponent to log RMS), it moves the estimate by exactly ``shift`` and
leaves the residuals, hence se, unchanged: this is then the run's power against it.
"""

from __future__ import annotations

import math

from scipy import stats

__all__ = ["power", "replicates_for_power", "power_from_pilot_z", "replicates_from_pilot_z", "exceedance_power", "grid_power",
           "t_test_power", "z_test_power"]


def power(deficit: float, se_pilot: float, pilot_replicates: int, replicates: int, level: float) -> float:
    """Φ(deficit / (SE₀ √(R₀/R)) − z_{1−level})."""
    se = se_pilot * math.sqrt(pilot_replicates / replicates)
    return float(stats.norm.cdf(deficit / se - stats.norm.ppf(1.0 - level)))


def replicates_for_power(deficit: float, se_pilot: float, pilot_replicates: int, target: float, level: float) -> int:
    """The smallest R with power(R) ≥ target: R = ⌈R₀ (SE₀ (z_{1−level} + z_target) / deficit)²⌉."""
    z = stats.norm.ppf(1.0 - level) + stats.norm.ppf(target)
    return max(2, math.ceil(pilot_replicates * (se_pilot * z / deficit) ** 2))


def power_from_pilot_z(z_pilot: float, pilot_replicates: int, replicates: int, level: float) -> float:
    """Φ(z₀ √(R/R₀) − z_{1−level})."""
    return float(stats.norm.cdf(z_pilot * math.sqrt(replicates / pilot_replicates) - stats.norm.isf(level)))


def replicates_from_pilot_z(z_pilot: float, pilot_replicates: int, target: float, level: float) -> int:
    """The smallest R with power(R) ≥ target: R = ⌈R₀ ((z_{1−level} + z_target) / z₀)²⌉ (at least 2)."""
    zq = stats.norm.isf(level) + stats.norm.ppf(target)
    return max(2, math.ceil(pilot_replicates * (zq / z_pilot) ** 2))


def exceedance_power(n: int, frequency: float, bound: float, level: float) -> float:
    """P(Bin(n, ``frequency``) ≥ c), c the smallest count with P(Bin(n, ``bound``) ≥ c) ≤ ``level``:
    the exact power of the one-sided binomial test of H0 P(exceed) ≤ ``bound`` (module docstring)."""
    critical = stats.binom.isf(level, n, bound) + 1  # P(Bin(n, bound) ≥ critical) ≤ level
    return float(stats.binom.sf(critical - 1, n, frequency))


def grid_power(rows, level: float, frequency: str = "frequency") -> float:
    """A lower bound of the power of a Bonferroni-combined grid of binomial exceedance tests, each
    row a mapping with ``n``, ``bound`` and, under the key ``frequency``, the exceedance probability
    under the alternative: max over rows of :func:`exceedance_power` at ``level`` / len(rows) (module docstring)."""
    rows = list(rows)
    return max((exceedance_power(r["n"], r[frequency], r["bound"], level / len(rows)) for r in rows), default=0.0)


def t_test_power(shift: float, se: float, df: float, level: float, two_sided: bool = False) -> float:
    """P(t_df(shift/se) ≥ t_{1−level, df}): the power at ``level`` of a one-sided t test whose
    parameter lies ``shift`` beyond the null boundary (module docstring); two-sided, the probability
    that |t_df(shift/se)| ≥ t_{1−level/2, df}. With se = 0 the test is exact: power 1 when the
    shift is not 0, else 0."""
    if not se > 0:
        return 1.0 if (abs(shift) if two_sided else shift) > 0 else 0.0
    nc = shift / se
    crit = float(stats.t.isf(level / 2 if two_sided else level, df))
    upper = float(stats.nct.sf(crit, df, nc))
    lower = float(stats.nct.cdf(-crit, df, nc)) if two_sided else 0.0
    # scipy's noncentral t gives NaN far in a tail (|nc| in the tens), where the probability is 0 or 1
    upper = float(nc > crit) if math.isnan(upper) else upper
    lower = float(nc < -crit) if math.isnan(lower) else lower
    return upper + lower


def z_test_power(noncentrality: float, level: float, two_sided: bool = False) -> float:
    """The power at ``level`` of a z test whose statistic is N(``noncentrality``, 1) under the
    alternative: Φ(nc − z_{1−level}) one-sided (rejecting large values), and
    Φ(nc − z_{1−level/2}) + Φ(−nc − z_{1−level/2}) two-sided."""
    if two_sided:
        z = stats.norm.isf(level / 2)
        return float(stats.norm.cdf(noncentrality - z) + stats.norm.cdf(-noncentrality - z))
    return float(stats.norm.cdf(noncentrality - stats.norm.isf(level)))
