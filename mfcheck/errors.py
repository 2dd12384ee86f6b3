"""Error types raised by mfcheck.

Two kinds of refusal exist: the input is malformed (``InvalidArgument``), or it is
well formed but lies outside the hypotheses of the theorem being checked
(``OutsideAssumptions``). The second is never silently judged.
"""

from __future__ import annotations

__all__ = ["InvalidArgument", "OutsideAssumptions"]


class InvalidArgument(ValueError):
    """A parameter has a wrong value, type or shape; the message names it."""


class OutsideAssumptions(ValueError):
    """The input violates a hypothesis (A1-A4 of docs/theory.md §4) of the claim asked to judge it."""
