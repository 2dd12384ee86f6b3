"""Formatting shared by the checks' reports: intervals, Markdown cells, the tests table, figures."""

from __future__ import annotations

from pathlib import Path

from mfcheck.stats.results import ClaimResult

__all__ = ["fmt_ci", "md_cell", "tests_table", "save_figure"]


def fmt_ci(ci, digits: int = 4) -> str:
    """An interval as ``[lo, hi]`` with ``digits`` significant digits."""
    return f"[{ci[0]:.{digits}g}, {ci[1]:.{digits}g}]"


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


def save_figure(fig, path: Path) -> None:
    """Save without a software stamp, so that a regenerated report is byte-identical; close the figure."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
