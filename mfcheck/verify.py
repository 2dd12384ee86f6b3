"""The main job: sweep, fit every Theorem 1 claim, decide them together, optionally report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mfcheck.claims import CLAIMS, Claim
from mfcheck.experiment import Experiment, default_experiment
from mfcheck.fit import DEFAULT_ALPHA, ClaimResult, decide, fit_claim
from mfcheck.reference.refinement import Reference
from mfcheck.report import write_reports
from mfcheck.sgd import Update, mean_field_step
from mfcheck.sweep import SweepResult, run_sweep
from mfcheck.tiers import Tier

__all__ = ["Verification", "verify"]


@dataclass(frozen=True)
class Verification:
    results: list[ClaimResult]
    claims: list[Claim]
    sweep: SweepResult
    alpha: float

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
    update: Update = mean_field_step,
    reference: Reference | None = None,
    out: Path | None = None,
    command: str = "mfcheck verify",
    progress: bool = True,
) -> Verification:
    """Run the claims of Theorem 1 at ``tier``; write reports to ``out`` when given."""
    experiment = experiment or default_experiment(log2_M=tier.log2_M)
    sweep = run_sweep(experiment, tier, update=update, reference=reference, progress=progress)
    claims = list(CLAIMS.values())
    results = [
        fit_claim(c, sweep.table, D=experiment.D, T=experiment.T, reference_error=sweep.reference.error[c.statistic], alpha=alpha)
        for c in claims
    ]
    results = decide(results, alpha)
    if out is not None:
        write_reports(results, claims, sweep, Path(out), alpha, command)
    return Verification(results=results, claims=claims, sweep=sweep, alpha=alpha)
