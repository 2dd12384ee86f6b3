"""The reports of a run: per claim a folder with ``summary.json``, ``report.md`` and figures, and
the index ``README.md``. Claims compute, the report presents: every number in a report comes
from the claim's result and its ``summary.json``.

- :mod:`mfcheck.report.rate`: the six rate claims (Theorems 1 and 2);
- :mod:`mfcheck.report.checks`: the other claims, each by its renderer in :mod:`mfcheck.report.terms`
  or :mod:`mfcheck.report.dynamics` (or the generic one);
- :mod:`mfcheck.report.index`: the index; :mod:`mfcheck.report.format` and
  :mod:`mfcheck.report.figures`: the header, tables and the one figure helper they share;
- :mod:`mfcheck.report.atomic`: a reports folder written all at once (the run's reports replace
  the previous ones only when every one is written).
"""

from __future__ import annotations

from pathlib import Path

from mfcheck.claims.base import Claim
from mfcheck.claims.rate import RateClaim
from mfcheck.report import checks, rate
from mfcheck.report.atomic import staged
from mfcheck.report.index import write_index
from mfcheck.stats.results import ClaimResult, family_size

__all__ = ["write_report", "write_reports"]


def write_report(claim: Claim, result: ClaimResult, source, out: Path, command: str = "", family: int = 1) -> dict:
    """Write ``out/<claim>/``: the summary, the report and the figures of one decided claim; return the summary.

    ``source`` is what the claim ran on: a rate claim's solved sweep (a
    :class:`~mfcheck.claims.sweep.SweepResult`), another claim's :class:`~mfcheck.claims.base.CheckContext`.
    The files go straight into ``out``: :func:`write_reports` gives it a staging folder."""
    folder = Path(out) / claim.name
    folder.mkdir(parents=True, exist_ok=True)
    write = rate.write if isinstance(claim, RateClaim) else checks.write
    return write(result, claim, source, folder, command, family)


def write_reports(runs: list[tuple[Claim, ClaimResult, object]], out: Path, alpha: float, command: str) -> list[dict]:
    """The reports of every (claim, decided result, source) of a run, and the index, written
    into ``out`` all at once (:func:`~mfcheck.report.atomic.staged`): a run that fails or is
    interrupted while writing leaves the previous reports as they were. Entries of ``out`` that
    this run does not write (other commands' reports) stay."""
    family = family_size([result for _, result, _ in runs])
    with staged(out) as stage:
        summaries = [write_report(claim, result, source, stage, command, family) for claim, result, source in runs]
        write_index(summaries, out, alpha, into=stage)
    return summaries
