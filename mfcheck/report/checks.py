"""The reports of the claims that are not rate fits: ``summary.json`` here, ``report.md`` and
figures by the claim's renderer.

A renderer is ``render(claim, result, summary, folder)``: it reads the claim's declaration, the
decided result (the numbers and arrays the claim put there) and the summary (what the run was:
tier, experiment, reference), and writes ``report.md`` and its figures into ``folder``.
:data:`RENDERERS` maps a claim's name to its own renderer (:mod:`mfcheck.report.terms`,
:mod:`mfcheck.report.dynamics`, :mod:`mfcheck.report.hinge`,
:mod:`mfcheck.report.dimension_sweep`); a claim without one gets :func:`render_generic`.
"""

from __future__ import annotations

from pathlib import Path

from mfcheck.claims.base import Check, CheckContext
from mfcheck.report.dimension_sweep import render_dimension_sweep
from mfcheck.report.dynamics import render_energy, render_fixed_points, render_free_energy, render_temperature
from mfcheck.report.hinge import render_hinge
from mfcheck.report.format import fmt_ci, header, md_cell, tests_table, versions, write_json
from mfcheck.report.terms import render_azuma, render_gronwall, render_mcdiarmid
from mfcheck.stats.results import ClaimResult

__all__ = ["RENDERERS", "render_generic", "summary", "write"]

RENDERERS = {"mcdiarmid": render_mcdiarmid, "azuma": render_azuma, "gronwall": render_gronwall, "energy_decay": render_energy,
             "fixed_points": render_fixed_points, "free_energy": render_free_energy, "temperature": render_temperature,
             "hinge": render_hinge, "dimension_sweep": render_dimension_sweep}


def render_generic(claim: Check, result: ClaimResult, summary: dict, folder: Path) -> None:
    """``report.md`` from the declaration and the result alone: the statement, the estimates and the tests."""
    lines = header(claim.title, result)
    lines += ["## Claim", "", f"`{claim.statement}`", ""]
    lines += ["## Estimates", "", "| quantity | estimate | 95 % CI |", "|---|---|---|"]
    lines += [f"| {md_cell(k)} | {v['estimate']:.4g} | {fmt_ci(v['ci'])} |" for k, v in result.estimates.items()]
    lines += ["", *tests_table(result), ""]
    (folder / "report.md").write_text("\n".join(lines))


def summary(result: ClaimResult, claim: Check, context: CheckContext, command: str, family: int = 1) -> dict:
    """The JSON document of one claim: its result and what the run was."""
    s = result.to_dict()
    s.update({
        "title": claim.title,
        "tier": {"name": context.tier.name},
        "experiment": context.experiment.describe(),
        "reference_errors_all": context.reference.error if context.reference is not None else {},
        "command": command,
        "family": family,
        "versions": versions(),
    })
    s.setdefault("seeds", {"entropy": context.experiment.seed})
    return s


def write(result: ClaimResult, claim: Check, context: CheckContext, folder: Path, command: str, family: int = 1) -> dict:
    """Write ``folder/summary.json`` and let the claim's renderer write ``report.md`` and its figures; return the summary."""
    s = summary(result, claim, context, command, family)
    write_json(folder / "summary.json", s)
    RENDERERS.get(claim.name, render_generic)(claim, result, s, folder)
    return s
