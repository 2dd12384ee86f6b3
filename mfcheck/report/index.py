"""The index of a run's reports: ``README.md``, one row per claim with its verdict, what decided it
and the statistic behind that decision (:func:`mfcheck.stats.results.deciding`, stored in each
claim's ``summary.json``)."""

from __future__ import annotations

from pathlib import Path

from mfcheck.claims.fit import DELTA
from mfcheck.report.format import fmt_deciding, md_cell

__all__ = ["OTHER_REPORTS", "write_index"]

OTHER_REPORTS = (
    ("full/README.md", "every claim at the full tier, the reports above on larger grids (`mfcheck verify --tier full --out reports/full`)"),
    ("mmn18/README.md", "the paper's two-Gaussians experiments, SGD beside the radial PDE (`mfcheck reproduce mmn18`)"),
    ("dimension/README.md", "how the Theorem 1 error depends on D = d on the two-Gaussians problem (`mfcheck reproduce dimension`)"),
    ("gate_false_alarm_smoke/README.md", "the gate's measured false-alarm rate at the smoke tier (`mfcheck gate --false-alarm 72 --tier smoke`)"),
    ("gate_false_alarm_ci/README.md", "the gate's measured false-alarm rate at the ci tier (`mfcheck gate --false-alarm N --tier ci`)"),
    ("gate_false_alarm_full/README.md", "the gate's measured false-alarm rate at the full tier "
     "(`mfcheck gate --false-alarm N --tier full --impl builtin`, in shards joined by `--false-alarm-merge`)"),
    ("frameworks/README.md", "the gate on PyTorch mutants and correct rewrites as users write them, at the smoke tier "
     "(`mfcheck reproduce frameworks`)"),
    ("frameworks_ci/README.md", "the correct PyTorch rewrites at the ci tier (`mfcheck reproduce frameworks --tier ci --variants ...`)"),
    ("gate_late_instability/README.md", "the gate on the registry's late_instability, an instability that starts after T = 1: "
     "gronwall is the claim that rejects it (`mfcheck gate --impl mfcheck.app.gate.mutants:late_instability --tier ci --out "
     "reports/gate_late_instability`)"),
    ("gate_late_instability_full/README.md", "the same at the full tier (`mfcheck gate --impl "
     "mfcheck.app.gate.mutants:late_instability --tier full --out reports/gate_late_instability_full`)"),
    ("performance.md", "kernels against the numpy loop, the reference flow against its floor, memory, scale (`python -m benchmarks`)"),
)
"""Reports that other commands write beside the claims' folders; the index links those present."""


def write_index(summaries: list[dict], out: Path, alpha: float, into: Path | None = None) -> None:
    """``README.md`` of the reports in ``out``, written into ``into`` (default ``out``; the staging
    folder of :func:`mfcheck.report.write_reports`). The other commands' reports it links are
    those present in ``out``.

    Each row shows the statistic that decided the claim, not the claim's first estimates: those
    can belong to a self-check that held while another test rejected."""
    lines = ["# mfcheck reports", "",
             f"Family-wise false-alarm rate α = {alpha} over the implementation tests of the run (Holm). A claim passes only when "
             f"no test rejects and the data show it (for the rate claims: each exponent's lower bound within {DELTA} of the predicted "
             "one and the plateau bounded); otherwise it is unresolved. The deciding statistic is the estimate judged by the test "
             "that decided: the rejected one (the smallest Holm-adjusted p), a failing self-check, or, with no rejection, the one "
             "closest to rejecting (the smallest p); for a rate claim judged on its evidence, the exponents.", "",
             "| claim | verdict | decided by | deciding statistic (95 % CI) |", "|---|---|---|---|"]
    for s in summaries:
        lines.append(f"| [{s['claim']}]({s['claim']}/report.md) | {s['verdict']} | {md_cell(s['decided_by'])} | "
                     f"{md_cell(fmt_deciding(s['deciding']))} |")
    if summaries:
        lines += ["", f"Regenerate: `{summaries[0]['command']}`", ""]
    others = [(name, what) for name, what in OTHER_REPORTS if (Path(out) / name).exists()]
    if others:
        lines += ["## Reports written by other commands", ""] + [f"- [{name}]({name}): {what}" for name, what in others] + [""]
    (Path(out if into is None else into) / "README.md").write_text("\n".join(lines))
