"""Formatting shared by every report: the header, intervals, Markdown cells, the tests table, JSON."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from mfcheck.stats.results import ClaimResult

__all__ = ["header", "fmt_ci", "fmt_estimate", "fmt_deciding", "md_cell", "tests_table", "versions", "write_json"]


def header(title: str, result: ClaimResult) -> list[str]:
    """The first lines of every report: the title, the verdict with its family-wise level, what decided it
    and the evidence a pass rests on (docs/methods.md, "Decision: α, Holm and the verdicts")."""
    lines = [f"# {title}", "", f"**Verdict: {result.verdict.upper()}** (family-wise α = {result.alpha}, Holm). {result.message}", "",
             f"Decided by: {result.decided_by}.", ""]
    det = result.details.get("detection") or {}
    if det:
        deficit, plateau = det.get("min_detectable_deficit"), det.get("min_detectable_plateau")
        seen = ([f"an exponent short by {deficit:g} or more"] if deficit is not None else []) + (
            [f"a plateau of {plateau:g}× the statistic at the limit or more"] if plateau is not None else [])
        unseen = ([f"no exponent deficit up to {det['deficits'][-1]:g}"] if deficit is None else []) + (
            [f"no plateau up to {det['plateau_fractions'][-1]:g}× the statistic at the limit"] if plateau is None else [])
        text = f"With power {det['target_power']:g} this run detects " + (" and ".join(seen) if seen else "nothing on its grid")
        text += (f"; it detects {' and '.join(unseen)}" if unseen and seen else "") + "; smaller violations can pass unseen"
        lines += [f"{text} (measured by injection: \"What this run can detect\").", ""]
    if result.evidence:
        lines += ["| evidence a pass needs | estimate | one-sided 95 % bound | threshold | holds |", "|---|---|---|---|---|"]
        for e in result.evidence:
            lines.append(f"| {md_cell(e.name)} | {e.estimate:.4g} | {e.bound:.4g} | {e.threshold:.4g} | {'yes' if e.holds else 'no'} |")
        lines.append("")
    return lines


def fmt_ci(ci, spec: str = ".4g") -> str:
    """An interval as ``[lo, hi]``, each end formatted by ``spec``."""
    return f"[{ci[0]:{spec}}, {ci[1]:{spec}}]"


def fmt_estimate(estimate: float, ci, digits: int = 3) -> str:
    """``estimate [lo, hi]`` with the same number of significant digits for all three: at least
    ``digits``, more (up to 8) until numbers that differ print differently. Rounding to a fixed
    number of significant digits keeps order, so the printed interval contains the printed
    estimate whatever their magnitude (a fixed number of decimals would print a tiny estimate
    beside "[0.000, 0.000]")."""
    values = [float(estimate), float(ci[0]), float(ci[1])]
    for n in range(digits, 9):
        text = [f"{v:.{n}g}" for v in values]
        if all((a == b) == (text[i] == text[j]) for i, a in enumerate(values) for j, b in enumerate(values)):
            break
    return f"{text[0]} [{text[1]}, {text[2]}]"


def fmt_deciding(deciding: dict) -> str:
    """The statistic that decided a claim (the ``deciding`` entry of its ``summary.json``, from
    :func:`mfcheck.stats.results.deciding`) on one line: how it decided, then each statistic as
    ``name: estimate [lo, hi]`` (:func:`fmt_estimate`) with its predicted value where the claim
    states one; "— (why)" when no statistic decided or the test records no estimate."""
    if not deciding["statistics"]:
        return f"— ({deciding['why']})"
    parts = [f"{s['name']}: {fmt_estimate(s['estimate'], s['ci'])}"
             + (f" (predicted {s['predicted']:.4g})" if s["predicted"] is not None else "") for s in deciding["statistics"]]
    return f"{deciding['why']}: " + "; ".join(parts)


def md_cell(text) -> str:
    """A Markdown table cell: numbers to 4 significant digits, pipes escaped."""
    if isinstance(text, float | int) and not isinstance(text, bool):
        text = f"{text:.4g}"
    return str(text).replace("|", "\\|")


def tests_table(result: ClaimResult) -> list[str]:
    """The ``## Tests`` section: each test's role, raw and Holm-adjusted p-values and its outcome.
    Only counted implementation tests are in the Holm family; a precondition is a self-check of
    the harness judged at α alone (its rejection leaves the claim unresolved); a test that is
    not counted has no power at this run's sizes and never decides. A claim other than a rate
    claim that measures its tests' power (``details["power"]``, :meth:`mfcheck.claims.base.Claim.detection`)
    gets a table of it."""
    lines = ["## Tests", "", "| test | role | p | Holm-adjusted p | rejected |", "|---|---|---|---|---|"]
    for t in result.tests:
        role = t.role if t.counted else f"not counted: {t.note}"
        padj = f"{t.p_adjusted:.3g}" if t.in_family else "—"
        lines.append(f"| {md_cell(t.name)} | {md_cell(role)} | {t.p_value:.3g} | {padj} | {'yes' if t.rejected else 'no'} |")
    if not result.tests:
        lines.append("| (none: unresolved) | | | |")
    power = result.details.get("power") or {}
    if power.get("test_power"):
        lines += ["", f"Power of each test against {power['against']}, at level {power['level']:.2g} (α/m over every implementation "
                  f"test of the run, before the tests without power leave the family); a test below {power['power_floor']:g} has no "
                  "power at these sizes and is not counted:", "", "| test | power | counted |", "|---|---|---|"]
        lines += [f"| {md_cell(name)} | {v:.2f} | {'yes' if v >= power['power_floor'] else 'no'} |" for name, v in power["test_power"].items()]
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
