"""Choose the number of replicates per cell that gives a rate claim a target power.

The stated alternative: the statistic's exponent along a path falls short of the predicted one
by ``deficit`` (S / scale grows like (1/√max(1/N, ε))^{2·deficit} along the limit). The
growth test is a one-sided t-test on the fitted slope; its standard error scales like
1/√R with the replicates R per cell (the cells are fixed by the tier). From a pilot sweep
with R₀ replicates and standard error SE₀,

    power(R) ≈ Φ( deficit / (SE₀ √(R₀/R)) − z_{1−α/m} ),

where α/m is the level of the test in the worst case of Holm's procedure over the m tests of
a ``mfcheck verify`` family (conservative). The recommendation is the smallest R with
power(R) ≥ the target on both paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scipy import stats
from threadpoolctl import threadpool_limits

from mfcheck._validation import check_positive_int, check_real
from mfcheck.claims import CLAIMS
from mfcheck.errors import InvalidArgument
from mfcheck.experiment import Experiment, default_experiment
from mfcheck.fit import fit_claim
from mfcheck.reference.refinement import build_reference
from mfcheck.results import DEFAULT_ALPHA
from mfcheck.sweep import run_sweep
from mfcheck.tiers import Tier

__all__ = ["power", "replicates_for_power", "Calibration", "calibrate", "family_size"]


def family_size() -> int:
    """m: the number of tests of one ``mfcheck verify`` run (Holm's worst case is α/m)."""
    from mfcheck.checks import tests_in_family

    return tests_in_family()


def power(deficit: float, se_pilot: float, pilot_replicates: int, replicates: int, level: float) -> float:
    """Φ(deficit / (SE₀ √(R₀/R)) − z_{1−level})."""
    se = se_pilot * math.sqrt(pilot_replicates / replicates)
    return float(stats.norm.cdf(deficit / se - stats.norm.ppf(1.0 - level)))


def replicates_for_power(deficit: float, se_pilot: float, pilot_replicates: int, target: float, level: float) -> int:
    """The smallest R with power(R) ≥ target: R = ⌈R₀ (SE₀ (z_{1−level} + z_target) / deficit)²⌉."""
    z = stats.norm.ppf(1.0 - level) + stats.norm.ppf(target)
    return max(2, math.ceil(pilot_replicates * (se_pilot * z / deficit) ** 2))


@dataclass(frozen=True)
class Calibration:
    claim: str
    tier: str
    pilot_replicates: int
    deficit: float
    target_power: float
    level: float
    rows: tuple  # per path: se_pilot, power at the tier's replicates, recommended replicates

    @property
    def recommended(self) -> int:
        return max(r["recommended_replicates"] for r in self.rows)


def calibrate(
    claim: str,
    tier: Tier,
    *,
    pilot_replicates: int = 8,
    target_power: float = 0.9,
    deficit: float = 0.1,
    alpha: float = DEFAULT_ALPHA,
    experiment: Experiment | None = None,
    progress: bool = True,
) -> Calibration:
    """Run a pilot of ``pilot_replicates`` per cell of ``tier`` and recommend replicates for ``claim``."""
    from mfcheck.checks.theorem2 import CLAIMS2

    if claim not in CLAIMS and claim not in CLAIMS2:
        raise InvalidArgument(
            f"`claim` must be a rate claim, one of {sorted(CLAIMS) + sorted(CLAIMS2)}, got {claim!r}; the other checks "
            "state in their reports the power measured on their broken implementation.")
    c = CLAIMS[claim] if claim in CLAIMS else CLAIMS2[claim]
    pilot_replicates = check_positive_int(pilot_replicates, "pilot_replicates")
    if pilot_replicates < 4:
        raise InvalidArgument(f"`pilot_replicates` must be >= 4 (an even/odd split and a slope need them), got {pilot_replicates}.")
    target_power = check_real(target_power, "target_power", positive=True)
    deficit = check_real(deficit, "deficit", positive=True)
    alpha = check_real(alpha, "alpha", positive=True)
    if not (target_power < 1 and alpha < 1):
        raise InvalidArgument(f"`target_power` and `alpha` must be in (0, 1), got {target_power} and {alpha}.")
    experiment = experiment or default_experiment(log2_M=tier.log2_M)
    with threadpool_limits(limits=1, user_api="blas"):
        if claim in CLAIMS:
            pilot = replace(tier, replicates=pilot_replicates)
            sweep = run_sweep(experiment, pilot, reference=build_reference(experiment), progress=progress)
            ref_err = sweep.reference.error[c.statistic]
            tier_replicates = tier.replicates
        else:  # Theorem 2: its own D = 1 sweep on the cells of its tier of the same name
            from mfcheck.checks.base import CheckContext
            from mfcheck.checks.theorem2 import TIERS as TIERS2
            from mfcheck.checks.theorem2 import noisy_sweep

            sweep, errors = noisy_sweep(CheckContext(experiment=experiment, tier=tier, reference=None, progress=progress), pilot_replicates)
            ref_err = errors[c.statistic]
            tier_replicates = TIERS2[tier.name].replicates
    result = fit_claim(c, sweep.table, D=sweep.experiment.D, T=sweep.experiment.T, reference_error=ref_err, alpha=alpha)
    if len(result.exponents) < 2:
        raise InvalidArgument(f"The pilot could not fit {claim!r}: {result.message}")
    level = alpha / family_size()
    rows = []
    for path, e in result.exponents.items():
        se = math.sqrt(e.cov[1][1])
        rows.append({
            "path": path, "se_pilot": se, "exponent_pilot": e.estimate,
            "power_at_tier_replicates": power(deficit, se, pilot_replicates, tier_replicates, level),
            "tier_replicates": tier_replicates,
            "recommended_replicates": replicates_for_power(deficit, se, pilot_replicates, target_power, level),
        })
    return Calibration(claim=claim, tier=tier.name, pilot_replicates=pilot_replicates, deficit=deficit,
                       target_power=target_power, level=level, rows=tuple(rows))
