"""Formatting shared by every report: the header, intervals, Markdown cells, the tests table, JSON."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from mfcheck.stats.results import ClaimResult

__all__ = ["header", "fmt_ci", "md_cell", "tests_table", "versions", "write_json"]


def header(title: str, result: ClaimResult) -> list[str]:
    """The first lines of every report: the title, the verdict with its family-wise level, what decided it
    and the evidence a pass rests on (docs/methods.md, "Decision: α, Holm and the verdicts")."""
    lines = [f"# {title}", "", f"**Verdict: {result.verdict.upper()}** (family-wise α = {result.alpha}, Holm). {result.message}", "",
             f"Decided by: {result.decided_by}.", ""]
    if result.evidence:
        lines += ["| evidence a pass needs | estimate | one-sided 95 % bound | threshold | holds |", "|---|---|---|---|---|"]
        for e in result.evidence:
            lines.append(f"| {md_cell(e.name)} | {e.estimate:.4g} | {e.bound:.4g} | {e.threshold:.4g} | {'yes' if e.holds else 'no'} |")
        lines.append("")
    return lines


def fmt_ci(ci, spec: str = ".4g") -> str:
    """An interval as ``[lo, hi]``, each end formatted by ``spec``."""
    return f"[{ci[0]:{spec}}, {ci[1]:{spec}}]"


def md_cell(text) -> str:
    """A Markdown table cell: numbers to 4 significant digits, pipes escaped."""
    if isinstance(text, float | int) and not isinstance(text, bool):
        text = f"{text:.4g}"
    return str(text).replace("|", "\\|")


def tests_table(result: ClaimResult) -> list[str]:
    """The ``## Tests`` section: each test's role, raw and Holm-adjusted p-values and its outcome.
    Only counted implementation tests are in the Holm family; a precondition is a self-check of
    the harness judged at α alone (its rejection leaves the claim unresolved); a test that is
    not counted has no power at this run's sizes and never decides."""
    lines = ["## Tests", "", "| test | role | p | Holm-adjusted p | rejected |", "|---|---|---|---|---|"]
    for t in result.tests:
        role = t.role if t.counted else f"not counted: {t.note}"
        padj = f"{t.p_adjusted:.3g}" if t.in_family else "—"
        lines.append(f"| {md_cell(t.name)} | {md_cell(role)} | {t.p_value:.3g} | {padj} | {'yes' if t.rejected else 'no'} |")
    if not result.tests:
        lines.append("| (none: unresolved) | | | |")
    return lines


def versions() -> dict:
    """The versions of mfcheck, Python and the numerical libraries, recorded in every summary."""
    import numpy
    import pandas
    import scipy
    import statsmodels

    from mfcheck import __version__

    return {"mfcheck": __version__, "python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
            "statsmodels": statsmodels.__version__, "pandas": pandas.__version__}


def write_json(path: Path, document: dict) -> None:
    Path(path).write_text(json.dumps(document, indent=2, default=float) + "\n")
