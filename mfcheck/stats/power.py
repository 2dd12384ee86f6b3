"""Power of a one-sided growth test on a fitted slope, and the replicates that reach a target.

The alternative: an exponent short of the predicted one by ``deficit``. The test is a one-sided
t-test on the slope, whose standard error scales like 1/√R with R replicates per cell. From a
pilot with R₀ replicates and standard error SE₀, at the test's level ``level``,

    power(R) ≈ Φ( deficit / (SE₀ √(R₀/R)) − z_{1−level} ),

and the smallest R with power(R) ≥ target is ⌈R₀ (SE₀ (z_{1−level} + z_target) / deficit)²⌉.
"""

from __future__ import annotations

import math

from scipy import stats

__all__ = ["power", "replicates_for_power"]


def power(deficit: float, se_pilot: float, pilot_replicates: int, replicates: int, level: float) -> float:
    """Φ(deficit / (SE₀ √(R₀/R)) − z_{1−level})."""
    se = se_pilot * math.sqrt(pilot_replicates / replicates)
    return float(stats.norm.cdf(deficit / se - stats.norm.ppf(1.0 - level)))


def replicates_for_power(deficit: float, se_pilot: float, pilot_replicates: int, target: float, level: float) -> int:
    """The smallest R with power(R) ≥ target: R = ⌈R₀ (SE₀ (z_{1−level} + z_target) / deficit)²⌉."""
    z = stats.norm.ppf(1.0 - level) + stats.norm.ppf(target)
    return max(2, math.ceil(pilot_replicates * (se_pilot * z / deficit) ** 2))
