"""The result of judging one claim, and the decision over the claims of a run: three verdicts.

A claim reports two kinds of evidence (docs/methods.md, "Decision: α, Holm and the verdicts"):

- **tests**, each with a raw p-value of a test whose null hypothesis is "the claim holds". A
  test has a ``role``: ``"implementation"`` tests judge the implementation under test;
  ``"precondition"`` tests are the harness's self-checks (the reference's own identities, the
  Fokker–Planck solver's dissipation). Only implementation tests that are ``counted`` (the test has power at
  the run's sizes) form the family over which Holm's step-down procedure controls the
  family-wise error: the probability that any correct claim is failed is at most ``alpha``.
- **evidence** for the claim: statements the data must support before a ``pass`` is granted
  (a fitted exponent's lower confidence bound at least the predicted one minus δ; a plateau
  bias bounded below a fraction of the statistic).

:func:`decide` sets each claim's verdict:

- ``unresolved`` when a precondition fails: the harness cannot judge the implementation, so no
  rejection of it is trusted;
- ``fail``: one of its counted implementation tests is rejected by Holm at family-wise ``alpha``;
- ``unresolved``: no rejection, but the claim could not be judged, or an item of evidence does
  not hold (the claim is underpowered; ``replicates`` says how many
  would resolve it, where the claim can compute it);
- ``pass``: no rejection, every precondition holds and every item of evidence holds.

``decided_by`` names the tests or evidence that decided; :func:`deciding` gives the statistic
behind it, read from ``estimates`` through the ``statistic`` each test names.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from statsmodels.stats.multitest import multipletests

from mfcheck._validation import check_real
from mfcheck.errors import InvalidArgument

__all__ = ["Test", "Evidence", "ClaimResult", "Deciding", "decide", "deciding", "family_size", "combined", "DEFAULT_ALPHA", "VERDICTS",
           "ROLES"]

DEFAULT_ALPHA = 0.05
VERDICTS = ("pass", "fail", "unresolved")
ROLES = ("implementation", "precondition")


@dataclass(frozen=True)
class Test:
    """One test of a claim: H0 the claim holds.

    - ``role``: ``"implementation"`` (judges the implementation under test) or ``"precondition"``
      (a self-check of the harness; when it rejects at ``alpha`` the claim is unresolved, and it
      spends no part of the family-wise α).
    - ``counted``: False for a test with no power at the run's sizes (``note`` says why): it is
      reported, never counted in the Holm family, never decides.
    - ``statistic``: the key in the claim's ``estimates`` of the quantity the test judges (its
      estimate with a 95 % CI, e.g. the SGD decrease ratio the energy identity's Z is a function
      of); empty when the claim records none. Tables show it beside the verdict the test decides
      (:func:`deciding`).
    - ``p_adjusted`` and ``rejected`` are set by :func:`decide` (Holm-adjusted for counted
      implementation tests; the raw p against ``alpha`` for preconditions; NaN and False otherwise).
    """

    __test__ = False  # not a pytest class

    name: str
    p_value: float
    role: str = "implementation"
    counted: bool = True
    note: str = ""
    statistic: str = ""
    p_adjusted: float = math.nan
    rejected: bool = False

    def __post_init__(self):
        if self.role not in ROLES:
            raise InvalidArgument(f"`role` must be one of {ROLES}, got {self.role!r}.")
        if not isinstance(self.statistic, str):
            raise InvalidArgument(f"`statistic` must be the name of an estimate (a string), got {self.statistic!r}.")

    @property
    def in_family(self) -> bool:
        """Whether the test is one of the family over which Holm controls the error."""
        return self.role == "implementation" and self.counted


@dataclass(frozen=True)
class Evidence:
    """One statement the data must support for a ``pass``: ``estimate`` (with its one-sided 95 %
    confidence ``bound``) against ``threshold``; ``holds`` says whether the bound clears it."""

    name: str
    holds: bool
    estimate: float = math.nan
    bound: float = math.nan
    threshold: float = math.nan


@dataclass(frozen=True)
class ClaimResult:
    """Everything a report, a pytest assertion or the gate needs about one claim.

    - ``tests``: the claim's tests (raw p-values); ``verdict``, ``alpha``, ``message`` and
      ``decided_by`` come from :func:`decide`.
    - ``evidence``: what a ``pass`` requires beyond the absence of a rejection (empty: nothing more).
    - ``unresolved``: non-empty when the claim cannot be judged (says why and which knob to turn).
    - ``replicates``: the replicates per cell that would let the evidence hold, where the claim
      can compute it (0: not computed).
    - ``estimates``: named estimates, each a dict with at least ``estimate`` and ``ci``.
    - ``details``: JSON-able tables for the report.
    - ``exponents``, ``plateaus``, ``C_hat``, ``tail``, ``cells``: the fields of the rate claims
      (:mod:`mfcheck.claims.fit`).
    """

    claim: str
    verdict: str
    alpha: float
    tests: tuple
    message: str = ""
    decided_by: str = ""
    evidence: tuple = ()
    unresolved: str = ""
    replicates: int = 0
    reference_error: float = math.nan
    estimates: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    exponents: dict = field(default_factory=dict)
    plateaus: dict = field(default_factory=dict)
    C_hat: float = math.nan
    tail: tuple = ()
    cells: tuple = ()

    @property
    def min_p(self) -> float:
        """The smallest raw p-value of the claim's tests in the Holm family (NaN: none)."""
        return min((t.p_value for t in self.tests if t.in_family), default=math.nan)

    @property
    def min_p_adjusted(self) -> float:
        """The smallest Holm-adjusted p-value of the claim's tests in the family (NaN: none)."""
        return min((t.p_adjusted for t in self.tests if t.in_family), default=math.nan)

    def to_dict(self) -> dict:
        """The JSON-able fields, and under ``deciding`` the statistic that decided (:func:`deciding`)."""
        d = asdict(self)
        for key in ("exponents", "plateaus"):
            d[key] = {k: asdict(v) if hasattr(v, "__dataclass_fields__") else v for k, v in getattr(self, key).items()}
        d["deciding"] = asdict(deciding(self))
        return d


def combined(tests: list[Test], name: str) -> list[Test]:
    """One test in the family for a grid of tests of one statement (thresholds, times, z's):
    the smallest p-value of the grid times its size (Bonferroni), so the grid spends α once.
    The grid's tests are kept, not counted, for the report. The combined test's ``statistic`` is
    that of the grid's test with the smallest p: the one its p-value comes from."""
    if not tests:
        return []
    smallest = min(tests, key=lambda t: t.p_value)
    p = min(1.0, len(tests) * smallest.p_value)
    kept = [replace(t, counted=False, note=f"in the combined test «{name}»") for t in tests]
    return kept + [Test(f"{name} (smallest p of {len(tests)}, Bonferroni)", p, statistic=smallest.statistic)]


def family_size(results) -> int:
    """The number of tests over which Holm controls the family-wise error (counted implementation tests)."""
    return sum(t.in_family for r in results for t in r.tests)


def decide(results: list[ClaimResult], alpha: float = DEFAULT_ALPHA) -> list[ClaimResult]:
    """Holm over the counted implementation tests of ``results`` together, at family-wise level
    ``alpha``; preconditions against ``alpha`` each; then the verdict of each claim (module docstring)."""
    alpha = check_real(alpha, "alpha", positive=True)
    if not alpha < 1:
        raise InvalidArgument(f"`alpha` must be in (0, 1), got {alpha}.")
    family = [t.p_value for r in results for t in r.tests if t.in_family]
    m = len(family)
    if family:
        reject, adjusted, _, _ = multipletests(family, alpha=alpha, method="holm")
    out, i = [], 0
    holm = f"family-wise α={alpha}, Holm over {m} test{'s' * (m != 1)}"
    for r in results:
        tests = []
        for t in r.tests:
            if t.in_family:
                t = replace(t, p_adjusted=float(adjusted[i]), rejected=bool(reject[i]))
                i += 1
            elif t.role == "precondition":
                t = replace(t, p_adjusted=math.nan, rejected=bool(t.p_value <= alpha))
            else:
                t = replace(t, p_adjusted=math.nan, rejected=False)
            tests.append(t)
        failed = [t.name for t in tests if t.rejected and t.role == "implementation"]
        broken = [t.name for t in tests if t.rejected and t.role == "precondition"]
        lacking = [e.name for e in r.evidence if not e.holds]
        if broken:
            verdict, decided_by = "unresolved", "precondition: " + "; ".join(broken)
            message = f"A self-check of the harness fails, so the claim cannot be judged: {'; '.join(broken)}. {r.unresolved}"
        elif failed:
            verdict, decided_by = "fail", "; ".join(failed)
            message = f"Rejected at {holm}: {decided_by}."
        elif r.unresolved:
            verdict, decided_by, message = "unresolved", "not judged", r.unresolved
        elif lacking:
            verdict, decided_by = "unresolved", "evidence lacking: " + "; ".join(lacking)
            more = f" About {r.replicates} replicates per cell would resolve it." if r.replicates else ""
            message = (f"No test rejects ({holm}), but the data do not yet show the claim: {'; '.join(lacking)}.{more}")
        else:
            verdict = "pass"
            shown = [e.name for e in r.evidence]
            checks = any(t.role == "precondition" for t in tests)
            decided_by = "; ".join(shown) if shown else ("no rejection" if any(t.in_family for t in tests) else
                                                         "its self-checks hold" if checks else "no test")
            message = f"No test rejects ({holm})" + (f", and the data show: {decided_by}." if shown else ".")
        out.append(replace(r, tests=tuple(tests), verdict=verdict, alpha=alpha, message=message.strip(), decided_by=decided_by))
    return out


@dataclass(frozen=True)
class Deciding:
    """The statistic behind a claim's verdict (:func:`deciding`).

    - ``why``: how it decided: ``"rejected"``, ``"failing self-check"``, ``"evidence"``,
      ``"closest to rejecting"``; or, with no ``statistics``, why none is shown.
    - ``test``: the name of the test it belongs to (empty for evidence, or when there is none).
    - ``statistics``: each a dict with ``name`` (the test's key in ``estimates``, or "exponent in
      1/N" / "exponent in ε" for the evidence), ``estimate``, ``ci`` (95 %) and ``predicted``
      (None when the claim states none). Empty: no statistic is shown, and ``why`` says why.
    """

    why: str
    test: str = ""
    statistics: tuple = ()


def _statistic(name: str, estimate, ci, predicted=None) -> dict:
    predicted = float(predicted) if isinstance(predicted, int | float) and not isinstance(predicted, bool) else None
    return {"name": name, "estimate": float(estimate), "ci": [float(ci[0]), float(ci[1])], "predicted": predicted}


def _of_test(result: ClaimResult, why: str, test: Test) -> Deciding:
    e = result.estimates.get(test.statistic) if test.statistic else None
    if not (isinstance(e, dict) and "estimate" in e and "ci" in e):
        return Deciding(f"{why}; the claim records no estimate for this test", test=test.name)
    return Deciding(why, test.name, (_statistic(test.statistic, e["estimate"], e["ci"], e.get("predicted")),))


def deciding(result: ClaimResult) -> Deciding:
    """The statistic that decided a decided ``result``, in the order :func:`decide` reads them.

    - a self-check of the harness fails (``unresolved``): the failing precondition with the
      smallest p, since it is why the implementation was not judged;
    - ``fail``: the rejected implementation test with the smallest Holm-adjusted p, the strongest
      of the rejections that fail it;
    - the claim was not judged (its ``unresolved`` note): nothing, no statistic decided;
    - a rate claim (its evidence is the exponents): the exponents on each path, whether the
      evidence holds (``pass``) or not (``unresolved``), as the verdict rests on their bounds;
    - otherwise no test rejects: the counted implementation test with the smallest raw p, the
      one closest to rejecting (the self-checks when the claim has no implementation test).

    A claim's first estimates need not belong to the test that decided (``energy_decay``'s first
    is the reference's slope, its one implementation test is on SGD), so the link is each test's
    ``statistic``."""
    tests = result.tests
    broken = [t for t in tests if t.rejected and t.role == "precondition"]
    if broken:
        return _of_test(result, "failing self-check", min(broken, key=lambda t: t.p_value))
    failed = [t for t in tests if t.rejected and t.role == "implementation"]
    if failed:
        return _of_test(result, "rejected", min(failed, key=lambda t: t.p_adjusted))
    if result.unresolved:
        return Deciding("not judged")
    if result.evidence and result.exponents:
        return Deciding("evidence", statistics=tuple(_statistic(f"exponent in {e.variable}", e.estimate, e.ci, e.predicted)
                                                     for e in result.exponents.values()))
    family = [t for t in tests if t.in_family] or [t for t in tests if t.role == "precondition"]
    if not family:
        return Deciding("no test")
    return _of_test(result, "closest to rejecting", min(family, key=lambda t: t.p_value))
