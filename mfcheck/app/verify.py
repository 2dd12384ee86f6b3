"""The main job: run the selected claims (each sweep once), decide them together, optionally report."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from threadpoolctl import threadpool_limits

from mfcheck.claims import CheckContext, Claim, select, theorem1
from mfcheck.claims.injection import without_powerless
from mfcheck.claims.rate import RateClaim
from mfcheck.runtime.executors import Execution, current_execution, map_cells, using
from mfcheck.model.experiment import Experiment, default_experiment
from mfcheck.reference.refinement import Reference, build_reference
from mfcheck.report import write_reports
from mfcheck.stats.results import DEFAULT_ALPHA, ClaimResult, decide, family_size
from mfcheck.dynamics.rules import MEAN_FIELD, Rule
from mfcheck.dynamics.sgd import InitSampler, iid_init
from mfcheck.claims.sweep import SweepResult
from mfcheck.claims.tiers import Tier

__all__ = ["Verification", "verify"]


@dataclass(frozen=True)
class Verification:
    """The decided results, in the registry's order: the rate claims fitted on the Theorem 1
    ``sweep`` (``claims``) first, then the others (``checks``)."""

    results: list[ClaimResult]
    claims: list[RateClaim]
    sweep: SweepResult | None
    alpha: float
    checks: list[Claim]
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

    ``claims`` selects claims by name (default: every claim of :data:`mfcheck.claims.CLAIMS`);
    a claim that runs on a setting of its own refuses an ``experiment`` that is not the default
    one at some seed (:class:`~mfcheck.errors.InvalidArgument`), before anything runs.
    BLAS runs on one thread: the per-step matrix products are small, and threads inside a
    step lose more to synchronisation than they gain (docs/methods.md, "Performance").

    ``execution`` (:class:`mfcheck.runtime.executors.Execution`) says where the cells of the sweeps run
    (the Theorem 1 sweep, the Theorem 2 sweep and the cells of the checks that map their own) and which
    cache they use; the checks without cells of their own run there too, each whole in one cell, uncached; None: the current
    one, serially without a cache unless an enclosing :func:`mfcheck.runtime.executors.using` says
    otherwise (``mfcheck verify`` runs them in parallel processes with a cache). The results
    and reports do not depend on it.

    ``progress``: bars on stderr over the steps of the reference solves (the flow and its refinement,
    the Fokker–Planck field of the noisy claims) and over the cells of the sweeps; the numbers do not
    depend on them (``--quiet`` turns them off).
    """
    with threadpool_limits(limits=1, user_api="blas"), using(execution):
        return _verify(tier, experiment, alpha, rule, init, reference, out, command, progress, claims)


def _verify(tier, experiment, alpha, rule, init, reference, out, command, progress, claims) -> Verification:
    experiment = experiment or default_experiment(log2_M=tier.log2_M)
    selected = select(claims)
    for claim in selected:
        claim.check_experiment(experiment)
    if reference is None and any(claim.reads_reference for claim in selected):
        reference = build_reference(experiment, progress=progress)
    context = CheckContext(experiment=experiment, tier=tier, reference=reference, rule=rule, init=init, progress=progress)
    solved, sources, results = {}, [], []
    for claim in selected:
        if isinstance(claim, RateClaim):  # each sweep is solved once and read by every claim of its theorem
            if claim.sweep.name not in solved:
                solved[claim.sweep.name] = claim.sweep.run(context)
            sources.append(solved[claim.sweep.name])
            results.append(claim.fit(sources[-1]))
        else:
            sources.append(context)
            results.append(claim.run(context) if claim.maps_cells else None)
    whole = [i for i, r in enumerate(results) if r is None]
    for i, r in zip(whole, _run_whole([selected[i] for i in whole], context)):
        results[i] = r
    # power first, at the least favourable level α/m with every test counted; powerless tests leave the family
    level = alpha / max(family_size(results), 1)
    detected = [claim.detection(source, r, level) for claim, r, source in zip(selected, results, sources)]
    results = [r if d is None else without_powerless(r, d) for r, d in zip(results, detected)]
    results = decide(results, alpha)
    # a rate claim's detection (power curves, minimum detectable effects) is read by its report as "detection";
    # another claim's per-test power as "power" (mfcheck.report.format.tests_table)
    results = [r if d is None else replace(r, details={**r.details, "detection" if isinstance(c, RateClaim) else "power": d})
               for c, r, d in zip(selected, results, detected)]
    if out is not None:
        write_reports(list(zip(selected, results, sources)), Path(out), alpha, command)
    on_sweep = [c for c in selected if isinstance(c, RateClaim) and c.sweep is theorem1.SWEEP]
    return Verification(results=results, claims=on_sweep, sweep=solved.get(theorem1.SWEEP.name), alpha=alpha,
                        checks=[c for c in selected if c not in on_sweep], context=context)


def _run_whole(checks: list[Claim], context: CheckContext) -> list[ClaimResult]:
    """Run the checks without cells of their own (``Claim.maps_cells`` False), each whole in one cell of
    the current execution: they draw from their own seed streams, so they are independent and run
    beside one another on the workers the sweeps have left (in this process, in order, when serial).
    Not cached: a check reads its context whole. In a worker a check shows no bars of its own; the
    bar counts the checks."""
    execution = current_execution()
    serial = execution.executor in (None, "serial")
    cells = [c.name for c in checks]
    if serial or len(cells) < 2:
        return [c.run(context) for c in checks]
    quiet = replace(context, progress=False)
    return map_cells(partial(_run_check, quiet), cells, execution=replace(execution, cache=None), desc="checks",
                     progress=context.progress)


def _run_check(context: CheckContext, name: str) -> ClaimResult:
    """The registered check ``name`` run on ``context`` (a cell of :func:`_run_whole`)."""
    return select([name])[0].run(context)
