"""Claims beyond the Theorem 1 rate fits, each a :class:`~mfcheck.checks.base.Check`.

``CHECKS`` lists those that ``mfcheck verify`` runs, in order.
"""

from mfcheck.checks.base import Check, CheckContext

CHECKS: dict[str, Check] = {}

__all__ = ["Check", "CheckContext", "CHECKS"]
