"""The main job: run the selected claims (each sweep once), decide them together, optionally report."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from threadpoolctl import threadpool_limits

from mfcheck.claims import CheckContext, Claim, select, theorem1
from mfcheck.claims.injection import without_powerless
from mfcheck.claims.rate import RateClaim
from mfcheck.runtime.executors import Execution, beside, current_execution, using
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
    whole = [i for i, claim in enumerate(selected) if not isinstance(claim, RateClaim) and not claim.maps_cells]
    solved, sources, results = {}, [], [None] * len(selected)
    with _whole_checks([selected[i] for i in whole], context) as whole_results:
        for k, claim in enumerate(selected):
            if isinstance(claim, RateClaim):  # each sweep is solved once and read by every claim of its theorem
                if claim.sweep.name not in solved:
                    solved[claim.sweep.name] = claim.sweep.run(context)
                sources.append(solved[claim.sweep.name])
                results[k] = claim.fit(sources[-1])
            else:
                sources.append(context)
                if claim.maps_cells:
                    results[k] = claim.run(context)
        for i, r in zip(whole, whole_results()):
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


@contextlib.contextmanager
def _whole_checks(checks: list[Claim], context: CheckContext) -> Iterator[Callable[[], list[ClaimResult]]]:
    """The checks without cells of their own (``Claim.maps_cells`` False), each run whole; yields the
    function that returns their results. They draw from their own seed streams and depend on no
    sweep, so in parallel executions they run beside the sweeps, on the workers a sweep's last cells
    leave idle (:func:`mfcheck.runtime.executors.beside`); serially they run in this process, in order,
    when asked for. Not cached: a check reads its context whole. In a worker a check shows no bars
    of its own; the bar counts the checks."""
    if current_execution().executor in (None, "serial"):
        yield lambda: [c.run(context) for c in checks]
        return
    with beside(partial(_run_check, replace(context, progress=False)), [c.name for c in checks], desc="checks",
                progress=context.progress) as running:
        yield running.results


def _run_check(context: CheckContext, name: str) -> ClaimResult:
    """The registered check ``name`` run on ``context`` (a task of :func:`_whole_checks`)."""
    return select([name])[0].run(context)
