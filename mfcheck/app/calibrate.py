"""Choose the number of replicates that gives a claim a target power against a stated alternative.

Rate claims (:func:`calibrate`) and the other checks (:func:`calibrate_check`, against each
check's matching broken implementation) are handled separately.

**Rate claims.**

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

import importlib
import math
from dataclasses import dataclass, replace

from scipy import stats
from threadpoolctl import threadpool_limits

from mfcheck._validation import check_positive_int, check_real
from mfcheck.claims.rate import CLAIMS
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import Experiment, default_experiment
from mfcheck.claims.fit import fit_claim
from mfcheck.reference.refinement import build_reference
from mfcheck.stats.power import power, replicates_for_power
from mfcheck.stats.results import DEFAULT_ALPHA
from mfcheck.claims.sweep import run_sweep
from mfcheck.claims.tiers import Tier

__all__ = ["power", "replicates_for_power", "Calibration", "calibrate", "family_size", "CheckCalibration", "calibrate_check"]


def family_size() -> int:
    """m: the number of tests of one ``mfcheck verify`` run (Holm's worst case is α/m)."""
    from mfcheck.claims import tests_in_family

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
    from mfcheck.claims.theorem2 import CLAIMS2

    if claim not in CLAIMS and claim not in CLAIMS2:
        raise InvalidArgument(f"`claim` must be a rate claim, one of {sorted(CLAIMS) + sorted(CLAIMS2)}, got {claim!r} "
                              "(the other checks: calibrate_check).")
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
            from mfcheck.claims.base import CheckContext
            from mfcheck.claims.theorem2 import TIERS as TIERS2
            from mfcheck.claims.theorem2 import noisy_sweep

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


# -- the other checks: power against each check's matching broken implementation -----------------


def _alternatives() -> dict:
    """The stated alternative of each check: a description and how to inject it into a context."""
    from dataclasses import replace as _r

    from mfcheck.dynamics.broken import BROKEN, ClusteredInit

    return {
        "mcdiarmid": ("initial particles in clusters of 8 equal draws", lambda c: _r(c, init=ClusteredInit(8))),
        "azuma": ("the step s replaced by sqrt(s)", lambda c: _r(c, rule=BROKEN["sqrt_step"].rule)),
        "gronwall": ("weight decay of the wrong sign, λ = 60", lambda c: _r(c, rule=BROKEN["anti_weight_decay"].rule)),
        "energy_decay": ("the update without its factor 2", lambda c: _r(c, rule=BROKEN["no_factor_two"].rule)),
        "fixed_points": ("the update without its factor 2", lambda c: _r(c, rule=BROKEN["no_factor_two"].rule)),
        "temperature": ("noise sqrt(s/β) g (c = 1)", lambda c: _r(c, rule=BROKEN["weak_noise"].rule)),
    }


DETERMINISTIC = {"free_energy": "a solver with twice the diffusion (its identity fails with p = 0 at every tier)"}


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
    """Recommend replicates for a check that is not a rate claim, against its stated alternative."""
    from dataclasses import replace as _r

    from mfcheck.claims import CHECKS
    from mfcheck.claims.base import CheckContext, sizes_for
    from mfcheck.app.verify import NEEDS_REFERENCE

    alternatives = _alternatives()
    level = alpha / family_size()
    if claim in DETERMINISTIC:
        return CheckCalibration(claim=claim, tier=tier.name, alternative=DETERMINISTIC[claim], pilot_replicates=None, p_pilot=None,
                                z_pilot=None, level=level, tier_replicates=None, power_at_tier_replicates=None, recommended=None,
                                note="deterministic tests: replicates do not apply")
    if claim not in alternatives:
        raise InvalidArgument(f"`claim` must be one of {sorted(CLAIMS) + sorted(alternatives) + sorted(DETERMINISTIC)}, or a theorem2_* claim; got {claim!r}.")
    pilot_replicates = check_positive_int(pilot_replicates, "pilot_replicates")
    target_power = check_real(target_power, "target_power", positive=True)
    if not target_power < 1:
        raise InvalidArgument(f"`target_power` must be in (0, 1), got {target_power}.")
    description, inject = alternatives[claim]
    experiment = experiment or default_experiment(log2_M=tier.log2_M)
    with threadpool_limits(limits=1, user_api="blas"):
        reference = build_reference(experiment) if claim in NEEDS_REFERENCE else None
        context = CheckContext(experiment=experiment, tier=tier, reference=reference, progress=progress)
        size = sizes_for(context, importlib.import_module(CHECKS[claim].run.__module__).SIZES, claim)
        tier_replicates = size["replicates"] if isinstance(size, dict) else size.replicates
        result = CHECKS[claim].run(inject(_r(context, replicates=pilot_replicates)))
    p = min(t.p_value for t in result.tests) if result.tests else 1.0
    z0 = float(stats.norm.isf(max(p, 1e-300)))
    if z0 <= 0:
        return CheckCalibration(claim=claim, tier=tier.name, alternative=description, pilot_replicates=pilot_replicates, p_pilot=p,
                                z_pilot=z0, level=level, tier_replicates=tier_replicates, power_at_tier_replicates=None,
                                recommended=None, note="the pilot shows no effect of the alternative: raise --pilot-replicates")
    zq = stats.norm.isf(level) + stats.norm.ppf(target_power)
    recommended = max(2, math.ceil(pilot_replicates * (zq / z0) ** 2))
    at_tier = float(stats.norm.cdf(z0 * math.sqrt(tier_replicates / pilot_replicates) - stats.norm.isf(level)))
    return CheckCalibration(claim=claim, tier=tier.name, alternative=description, pilot_replicates=pilot_replicates, p_pilot=p,
                            z_pilot=z0, level=level, tier_replicates=tier_replicates, power_at_tier_replicates=at_tier,
                            recommended=recommended)
