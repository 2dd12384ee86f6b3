"""The rate claims: a statistic S, its predicted scale, and the sweep it is measured on.

A rate claim reads ``S ≤ C e^{CT} · scale(N, ε, D, T, z)`` with probability ≥ 1 - e^{-z²}; the
fit (:mod:`mfcheck.claims.fit`) tests that S decays along the limit at the predicted exponent,
with no bias left at the limit, and that the tail of S above Ĉ · scale(z) decays like e^{-z²};
a pass needs the data to show the exponent and bound the bias. Theorem 1 (:mod:`mfcheck.claims.theorem1`) and
Theorem 2 (:mod:`mfcheck.claims.theorem2`) are the two instances: three statistics each, read
from one sweep per theorem, which a run solves once and hands to each of its claims.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from mfcheck.claims.base import Claim, CheckContext
from mfcheck.claims.fit import Design, fit_claim, resolved_table
from mfcheck.claims.injection import detection
from mfcheck.claims.sweep import SweepResult
from mfcheck.claims.tiers import TIERS, Tier
from mfcheck.errors import InvalidArgument
from mfcheck.seeds import Streams
from mfcheck.stats.results import DEFAULT_ALPHA, ClaimResult

__all__ = ["RateSweep", "RateClaim", "TESTS_PER_RATE_CLAIM", "RATE_ALTERNATIVE"]

TESTS_PER_RATE_CLAIM = 5
"""A growth test and a plateau test per path, and one tail test."""

RATE_ALTERNATIVE = "the exponent of S along a path falls short of the predicted one by `deficit`"


@dataclass(frozen=True)
class RateSweep:
    """The cells (path, N, ε) × replicates that the rate claims of one theorem are fitted on.

    - ``name``: its key in a run.
    - ``tiers``: tier name -> the cells at that tier; None: the run's tier itself (the tiers of
      ``mfcheck`` are the sizes of the Theorem 1 sweep).
    - ``solve(context, tier) -> SweepResult``: runs the cells, with the reference error of each
      statistic in ``SweepResult.statistic_errors``.
    """

    name: str
    tiers: Mapping[str, Tier] | None
    solve: Callable[[CheckContext, Tier], SweepResult]

    def tier(self, context: CheckContext) -> Tier:
        """The cells at the context's tier, with ``context.replicates`` applied when it is set."""
        tier = context.tier
        if self.tiers is not None:
            if tier.name not in self.tiers:
                raise InvalidArgument(f"`tier` must be one of {sorted(self.tiers)} for the {self.name} sweep, got {tier.name!r}.")
            tier = self.tiers[tier.name]
        return tier if context.replicates is None else replace(tier, replicates=context.replicates)

    def run(self, context: CheckContext) -> SweepResult:
        return self.solve(context, self.tier(context))


@dataclass(frozen=True, kw_only=True)
class RateClaim(Claim):
    """- ``statistic``: column of the sweep table;
    - ``scale(N, eps, D, T, z)``: the predicted error scale;
    - ``predicted``: the exponents of the scale in 1/N (N-path) and in ε (ε-path);
    - ``tightness``: what the report says about how sharp the scale is;
    - ``sweep``: the sweep the statistic is read from;
    - ``over_particles``: the statistic is a maximum over the N particles (else an average),
      which its log factor counts (:meth:`log_factor`)."""

    statistic: str
    scale: Callable[..., np.ndarray]
    predicted: dict
    tightness: str
    sweep: RateSweep
    over_particles: bool = False
    sizes: Mapping[str, Tier] | None = None
    """Derived from ``sweep``: its tiers, or the package's tiers for a sweep on the run's own tier."""

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "sizes", TIERS if self.sweep.tiers is None else self.sweep.tiers)

    def sizes_for(self, context: CheckContext) -> Tier:
        return self.sweep.tier(context)

    def log_factor(self, N, eps, D, J):
        """L = √(D + log n), n the number of events the statistic's sup runs over: its J recorded
        times, times N for a maximum over particles. (The theorem's own factor counts every step,
        n = N·T/ε; the statistic on a fixed grid of times does not, docs/methods.md, "Rate claims".)"""
        N = np.asarray(N, dtype=float)
        del eps  # the recorded times do not depend on ε
        return np.sqrt(D + np.log(J * (N if self.over_particles else np.ones_like(N))))

    def resolved(self, sweep: SweepResult, result: ClaimResult) -> tuple[np.ndarray, Design]:
        """The statistic on the resolved cells of ``sweep`` as fitted in ``result``, and their design."""
        ex = sweep.experiment
        table = resolved_table(sweep.table, result.cells)
        return table[self.statistic].to_numpy(dtype=float), Design.of(table, self, ex.D, ex.T, recorded_times(ex))

    def fit(self, sweep: SweepResult, alpha: float = DEFAULT_ALPHA) -> ClaimResult:
        """Fit the claim on its solved sweep, decided alone at ``alpha`` (a run decides all its claims together)."""
        ex = sweep.experiment
        return fit_claim(self, sweep.table, D=ex.D, T=ex.T, J=recorded_times(ex), reference_error=sweep.statistic_errors[self.statistic],
                         alpha=alpha)

    def detection(self, sweep: SweepResult, result: ClaimResult, level: float) -> dict:
        """The smallest exponent deficit and plateau this run detects with power 0.9 at ``level``, by
        injection into its own statistic (:func:`mfcheck.claims.injection.detection`); empty when unresolved."""
        if not result.exponents:
            return {}
        S, design = self.resolved(sweep, result)
        rng = Streams(sweep.experiment.seed).child("injection", self.name).generator("data")
        return detection(S, design, self.predicted, level=level, alpha=result.alpha, rng=rng)


def recorded_times(experiment) -> int:
    """J, the number of times the statistics' sup runs over: 0, record_dt, …, T."""
    return int(round(experiment.T / experiment.record_dt)) + 1
