"""Choose the number of replicates that gives a claim a target power against a stated alternative.

Rate claims (:func:`calibrate`): the alternative is an exponent short of the predicted one by
``deficit`` along a path; a pilot sweep gives the standard error of the fitted slope, and
:func:`mfcheck.stats.power.replicates_for_power` the replicates. The growth test rejects an
exponent below the predicted one minus its margin ``DELTA_FAIL`` (:mod:`mfcheck.claims.fit`), so
its distance to the alternative is ``deficit − DELTA_FAIL``. The other claims
(:func:`calibrate_check`): a pilot run on the broken implementation each declares
(``alternative``, ``inject``) gives the smallest p-value, and
:func:`mfcheck.stats.power.replicates_from_pilot_z` the replicates. Both use the level α/m of the
worst case of Holm's procedure over the m tests of a ``mfcheck verify`` family (conservative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scipy import stats
from threadpoolctl import threadpool_limits

from mfcheck._validation import check_positive_int, check_real
from mfcheck.claims import CLAIMS, get_claim, tests_in_family
from mfcheck.claims.base import CheckContext
from mfcheck.claims.fit import DELTA_FAIL
from mfcheck.claims.rate import RateClaim
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import Experiment, default_experiment
from mfcheck.reference.refinement import build_reference
from mfcheck.stats.power import power, power_from_pilot_z, replicates_for_power, replicates_from_pilot_z
from mfcheck.stats.results import DEFAULT_ALPHA
from mfcheck.claims.tiers import Tier

__all__ = ["power", "replicates_for_power", "Calibration", "calibrate", "family_size", "CheckCalibration", "calibrate_check"]


def family_size() -> int:
    """m: the number of tests of one ``mfcheck verify`` run (Holm's worst case is α/m)."""
    return tests_in_family()


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



def _pilot_context(claim, tier: Tier, experiment: Experiment | None, progress: bool) -> tuple[CheckContext, int]:
    """The context a pilot of ``claim`` runs in (its reference solved when the claim reads it) and
    the claim's replicates at ``tier``."""
    experiment = experiment or default_experiment(log2_M=tier.log2_M)
    claim.check_experiment(experiment)
    reference = build_reference(experiment, progress=progress) if claim.reads_reference else None
    context = CheckContext(experiment=experiment, tier=tier, reference=reference, progress=progress)
    return context, claim.sizes_for(context).replicates


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
    rate_claims = sorted(n for n, c in CLAIMS.items() if isinstance(c, RateClaim))
    if claim not in rate_claims:
        raise InvalidArgument(f"`claim` must be a rate claim, one of {rate_claims}, got {claim!r} (the other claims: calibrate_check).")
    c = CLAIMS[claim]
    pilot_replicates = check_positive_int(pilot_replicates, "pilot_replicates")
    if pilot_replicates < 4:
        raise InvalidArgument(f"`pilot_replicates` must be >= 4 (an even/odd split and a slope need them), got {pilot_replicates}.")
    target_power = check_real(target_power, "target_power", positive=True)
    deficit = check_real(deficit, "deficit", positive=True)
    if not deficit > DELTA_FAIL:
        raise InvalidArgument(f"`deficit` must exceed the growth test's margin DELTA_FAIL = {DELTA_FAIL:g}, got {deficit}.")
    alpha = check_real(alpha, "alpha", positive=True)
    if not (target_power < 1 and alpha < 1):
        raise InvalidArgument(f"`target_power` and `alpha` must be in (0, 1), got {target_power} and {alpha}.")
    with threadpool_limits(limits=1, user_api="blas"):
        context, tier_replicates = _pilot_context(c, tier, experiment, progress)
        sweep = c.sweep.run(replace(context, replicates=pilot_replicates))
    result = c.fit(sweep, alpha)
    if len(result.exponents) < 2:
        raise InvalidArgument(f"The pilot could not fit {claim!r}: {result.message}")
    level = alpha / family_size()
    rows = []
    for path, e in result.exponents.items():
        se = math.sqrt(e.cov[1][1])
        rows.append({
            "path": path, "se_pilot": se, "exponent_pilot": e.estimate,
            "power_at_tier_replicates": power(deficit - DELTA_FAIL, se, pilot_replicates, tier_replicates, level),
            "tier_replicates": tier_replicates,
            "recommended_replicates": replicates_for_power(deficit - DELTA_FAIL, se, pilot_replicates, target_power, level),
        })
    return Calibration(claim=claim, tier=tier.name, pilot_replicates=pilot_replicates, deficit=deficit,
                       target_power=target_power, level=level, rows=tuple(rows))


# -- the other claims: power against the broken implementation each declares ------------------


@dataclass(frozen=True)
class CheckCalibration:
    """Power of a check's most sensitive test against its stated alternative.

    The pilot runs the check on the alternative with R₀ replicates; its smallest raw p-value
    gives z₀ = Φ⁻¹(1 − p). For tests whose statistic is an average over replicates (t-tests,
    binomial exceedance counts, sign-flip means), z grows like √R, so
    power(R) ≈ Φ(z₀ √(R/R₀) − z_{1−α/m}). ``recommended`` is the smallest R with power ≥ target
    (at least 2); None for a deterministic check. Exact and randomisation tests have a floor on
    their p-value at small R (a sign-flip test over R replicates cannot go below 2^{1−R}), so a
    small pilot understates z₀ and the recommendation errs on the large side.
    """

    claim: str
    tier: str
    alternative: str
    pilot_replicates: int | None
    p_pilot: float | None
    z_pilot: float | None
    level: float
    tier_replicates: int | None
    power_at_tier_replicates: float | None
    recommended: int | None
    note: str = ""


def calibrate_check(
    claim: str,
    tier: Tier,
    *,
    pilot_replicates: int = 8,
    target_power: float = 0.9,
    alpha: float = DEFAULT_ALPHA,
    experiment: Experiment | None = None,
    progress: bool = True,
) -> CheckCalibration:
    """Recommend replicates for a claim that is not a rate claim, against its stated alternative."""
    c = get_claim(claim)
    level = alpha / family_size()
    if c.deterministic:
        return CheckCalibration(claim=claim, tier=tier.name, alternative=c.alternative, pilot_replicates=None, p_pilot=None,
                                z_pilot=None, level=level, tier_replicates=None, power_at_tier_replicates=None, recommended=None,
                                note="deterministic tests: replicates do not apply")
    if c.inject is None:
        raise InvalidArgument(f"`claim` {claim!r} declares no broken implementation to run (its alternative: {c.alternative}); "
                              "rate claims are calibrated by `calibrate`.")
    pilot_replicates = check_positive_int(pilot_replicates, "pilot_replicates")
    target_power = check_real(target_power, "target_power", positive=True)
    if not target_power < 1:
        raise InvalidArgument(f"`target_power` must be in (0, 1), got {target_power}.")
    with threadpool_limits(limits=1, user_api="blas"):
        context, tier_replicates = _pilot_context(c, tier, experiment, progress)
        result = c.run(c.inject(replace(context, replicates=pilot_replicates)))
    p = result.min_p if math.isfinite(result.min_p) else 1.0  # the tests in the Holm family
    z0 = float(stats.norm.isf(max(p, 1e-300)))
    if z0 <= 0:
        return CheckCalibration(claim=claim, tier=tier.name, alternative=c.alternative, pilot_replicates=pilot_replicates, p_pilot=p,
                                z_pilot=z0, level=level, tier_replicates=tier_replicates, power_at_tier_replicates=None,
                                recommended=None, note="the pilot shows no effect of the alternative: raise --pilot-replicates")
    recommended = replicates_from_pilot_z(z0, pilot_replicates, target_power, level)
    at_tier = power_from_pilot_z(z0, pilot_replicates, tier_replicates, level)
    return CheckCalibration(claim=claim, tier=tier.name, alternative=c.alternative, pilot_replicates=pilot_replicates, p_pilot=p,
                            z_pilot=z0, level=level, tier_replicates=tier_replicates, power_at_tier_replicates=at_tier,
                            recommended=recommended)
