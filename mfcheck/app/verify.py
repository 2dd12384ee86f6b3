"""The main job: sweep, fit every Theorem 1 claim, decide them together, optionally report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from threadpoolctl import threadpool_limits

from mfcheck.claims import CHECKS, Check, CheckContext
from mfcheck.claims.rate import CLAIMS, Claim
from mfcheck.runtime.executors import Execution, using
from mfcheck.model.experiment import Experiment, default_experiment
from mfcheck.claims.fit import fit_claim
from mfcheck.reference.refinement import Reference, build_reference
from mfcheck.report import write_reports
from mfcheck.stats.results import DEFAULT_ALPHA, ClaimResult, decide
from mfcheck.dynamics.rules import MEAN_FIELD, Rule
from mfcheck.dynamics.sgd import InitSampler, iid_init
from mfcheck.claims.sweep import SweepResult, run_sweep
from mfcheck.claims.tiers import Tier

__all__ = ["Verification", "verify"]


@dataclass(frozen=True)
class Verification:
    """The decided results: the rate claims (``claims``) first, then the ``checks``."""

    results: list[ClaimResult]
    claims: list[Claim]
    sweep: SweepResult
    alpha: float
    checks: list[Check]
    context: CheckContext

    def result(self, name: str) -> ClaimResult:
        return next(r for r in self.results if r.claim == name)

    @property
    def exit_code(self) -> int:
        """0 every claim passes, 1 one fails, 3 none fails but one is unresolved."""
        verdicts = {r.verdict for r in self.results}
        return 1 if "fail" in verdicts else (3 if "unresolved" in verdicts else 0)


def verify(
    tier: Tier,
    *,
    experiment: Experiment | None = None,
    alpha: float = DEFAULT_ALPHA,
    rule: Rule = MEAN_FIELD,
    init: InitSampler = iid_init,
    reference: Reference | None = None,
    out: Path | None = None,
    command: str = "mfcheck verify",
    progress: bool = True,
    claims: list[str] | None = None,
    execution: Execution | None = None,
) -> Verification:
    """Run the claims at ``tier`` against the SGD given by ``rule`` (the noisy claims run
    ``rule.noisy(λ, β)``) and ``init``; decide them together (Holm at family-wise ``alpha``); write reports to ``out`` when given.

    ``claims`` selects claims by name (default: all rate claims and all registered checks).
    BLAS runs on one thread: the per-step matrix products are small, and threads inside a
    step lose more to synchronisation than they gain (DESIGN.md, performance notes).

    ``execution`` (:class:`mfcheck.runtime.executors.Execution`) says where the cells of the sweeps run
    (the Theorem 1 sweep and the Theorem 2 sweep) and which cache they use; None: the current
    one, serially without a cache unless an enclosing :func:`mfcheck.runtime.executors.using` says
    otherwise (``mfcheck verify`` runs them in parallel processes with a cache). The results
    and reports do not depend on it.
    """
    with threadpool_limits(limits=1, user_api="blas"), using(execution):
        return _verify(tier, experiment, alpha, rule, init, reference, out, command, progress, claims)


NEEDS_REFERENCE = ("mcdiarmid",)
"""Checks that read the Theorem 1 reference flow (besides the rate claims of Theorem 1)."""


def _verify(tier, experiment, alpha, rule, init, reference, out, command, progress, claims) -> Verification:
    experiment = experiment or default_experiment(log2_M=tier.log2_M)
    names = list(CLAIMS) + list(CHECKS) if claims is None else list(claims)
    unknown = [n for n in names if n not in CLAIMS and n not in CHECKS]
    if unknown:
        from mfcheck.errors import InvalidArgument

        raise InvalidArgument(f"Unknown claim(s) {unknown}; known: {sorted(CLAIMS) + sorted(CHECKS)}.")
    rate_claims = [CLAIMS[n] for n in names if n in CLAIMS]
    if reference is None and (rate_claims or any(n in NEEDS_REFERENCE for n in names)):
        reference = build_reference(experiment)
    checks = [CHECKS[n] for n in names if n in CHECKS]
    sweep = run_sweep(experiment, tier, rule=rule, init=init, reference=reference, progress=progress) if rate_claims else None
    results = [
        fit_claim(c, sweep.table, D=experiment.D, T=experiment.T, reference_error=reference.error[c.statistic], alpha=alpha)
        for c in rate_claims
    ]
    context = CheckContext(experiment=experiment, tier=tier, reference=reference, rule=rule, init=init, progress=progress)
    results += [check.run(context) for check in checks]
    results = decide(results, alpha)
    if out is not None:
        write_reports(results, rate_claims, checks, sweep, context, Path(out), alpha, command)
    return Verification(results=results, claims=rate_claims, sweep=sweep, alpha=alpha, checks=checks, context=context)
