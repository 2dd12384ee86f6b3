"""Formatting shared by every report: the header, intervals, Markdown cells, the tests table, JSON."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from mfcheck.stats.results import ClaimResult

__all__ = ["header", "fmt_ci", "md_cell", "tests_table", "versions", "write_json"]


def header(title: str, result: ClaimResult) -> list[str]:
    """The first lines of every report: the title and the verdict with its family-wise level."""
    return [f"# {title}", "", f"**Verdict: {result.verdict.upper()}** (family-wise α = {result.alpha}, Holm). {result.message}", ""]


def fmt_ci(ci, spec: str = ".4g") -> str:
    """An interval as ``[lo, hi]``, each end formatted by ``spec``."""
    return f"[{ci[0]:{spec}}, {ci[1]:{spec}}]"


def md_cell(text) -> str:
    """A Markdown table cell: numbers to 4 significant digits, pipes escaped."""
    if isinstance(text, float | int) and not isinstance(text, bool):
        text = f"{text:.4g}"
    return str(text).replace("|", "\\|")


def tests_table(result: ClaimResult) -> list[str]:
    """The ``## Tests`` section: each test's raw and Holm-adjusted p-values and its outcome."""
    lines = ["## Tests", "", "| test | p | Holm-adjusted p | rejected |", "|---|---|---|---|"]
    for t in result.tests:
        lines.append(f"| {md_cell(t.name)} | {t.p_value:.3g} | {t.p_adjusted:.3g} | {'yes' if t.rejected else 'no'} |")
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
