"""The result of judging one claim, and the family-wise decision over several (Holm).

Every claim, whatever its statistic, reports raw p-values of one-sided tests whose null
hypothesis is "the claim holds"; :func:`decide` applies Holm's step-down procedure over all
p-values of the claims decided together, so the probability that any correct claim is
failed is at most ``alpha``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from statsmodels.stats.multitest import multipletests

from mfcheck._validation import check_real
from mfcheck.errors import InvalidArgument

__all__ = ["Test", "ClaimResult", "decide", "DEFAULT_ALPHA", "VERDICTS"]

DEFAULT_ALPHA = 0.05
VERDICTS = ("pass", "fail", "unresolved")


@dataclass(frozen=True)
class Test:
    """One test of a claim: H0 the claim holds. ``p_adjusted`` and ``rejected`` are set by :func:`decide`."""

    __test__ = False  # not a pytest class

    name: str
    p_value: float
    p_adjusted: float = math.nan
    rejected: bool = False


@dataclass(frozen=True)
class ClaimResult:
    """Everything a report, a pytest assertion or the gate needs about one claim.

    - ``tests``: the claim's tests (raw p-values); ``verdict`` and ``alpha`` come from :func:`decide`.
    - ``unresolved``: non-empty when the claim cannot be judged (says why and which knob to turn).
    - ``estimates``: named estimates, each a dict with at least ``estimate`` and ``ci``.
    - ``details``: JSON-able tables for the report.
    - ``exponents``, ``C_hat``, ``tail``, ``cells``: the fields of the rate-fit claims (:mod:`mfcheck.claims.fit`).
    """

    claim: str
    verdict: str
    alpha: float
    tests: tuple
    message: str = ""
    unresolved: str = ""
    reference_error: float = math.nan
    estimates: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    exponents: dict = field(default_factory=dict)
    C_hat: float = math.nan
    tail: tuple = ()
    cells: tuple = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["exponents"] = {k: asdict(v) if hasattr(v, "__dataclass_fields__") else v for k, v in self.exponents.items()}
        return d


def decide(results: list[ClaimResult], alpha: float = DEFAULT_ALPHA) -> list[ClaimResult]:
    """Holm over every test of ``results`` together, at family-wise level ``alpha``; set verdicts.

    Any rejected test fails its claim; a claim with no rejection but a non-empty
    ``unresolved`` is ``unresolved``; otherwise it passes.
    """
    alpha = check_real(alpha, "alpha", positive=True)
    if not alpha < 1:
        raise InvalidArgument(f"`alpha` must be in (0, 1), got {alpha}.")
    pvals = [t.p_value for r in results for t in r.tests]
    if pvals:
        reject, adjusted, _, _ = multipletests(pvals, alpha=alpha, method="holm")
    out, i = [], 0
    for r in results:
        tests = []
        for t in r.tests:
            tests.append(replace(t, p_adjusted=float(adjusted[i]), rejected=bool(reject[i])))
            i += 1
        failed = [t.name for t in tests if t.rejected]
        if failed:
            verdict = "fail"
            message = f"Rejected at family-wise α={alpha} (Holm over {len(pvals)} tests): {', '.join(failed)}. {r.unresolved}"
        elif r.unresolved:
            verdict = "unresolved"
            message = r.unresolved
        else:
            verdict = "pass"
            message = f"No test rejects at family-wise α={alpha} (Holm over {len(pvals)} tests)."
        out.append(replace(r, tests=tuple(tests), verdict=verdict, alpha=alpha, message=message.strip()))
    return out
