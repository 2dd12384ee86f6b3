"""Options and help text shared by the commands of ``mfcheck`` and ``mfcheck reproduce``.

One spelling per idea across the commands: ``--quiet`` turns progress output off everywhere, with
``--no-progress`` accepted as its alias (the spelling ``mfcheck reproduce`` had first); and each
command's ``--help`` ends with its exit codes (:func:`exit_codes`), which scripts and CI read.
"""

from __future__ import annotations

import argparse
import textwrap

__all__ = ["TIER_NAMES", "add_quiet", "exit_codes"]

TIER_NAMES = ("smoke", "ci", "full")
"""The names of the sweep tiers (:data:`mfcheck.claims.tiers.TIERS`; a test checks they agree), here so
that a parser can offer them without importing the claims, whose imports (scipy, statsmodels) would
delay every usage error."""


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """``--quiet`` (alias ``--no-progress``): the boolean ``args.quiet``."""
    parser.add_argument("--quiet", "--no-progress", dest="quiet", action="store_true",
                        help="no progress output (--no-progress is the same option)")


def exit_codes(codes: dict[int, str]) -> dict:
    """Keywords of ``add_parser`` / ``ArgumentParser`` for a help that ends with ``codes`` (exit code:
    meaning), one code a paragraph, as written (argparse would otherwise join them into one)."""
    lines = "\n".join(textwrap.fill(meaning, width=79, initial_indent=f"  {code:<4d}", subsequent_indent=" " * 6)
                      for code, meaning in codes.items())
    return {"epilog": f"exit codes:\n{lines}", "formatter_class": argparse.RawDescriptionHelpFormatter}
