"""mfcheck.report.format: estimates and intervals print so that the interval contains the estimate
at any magnitude, and numbers that differ print differently."""

from __future__ import annotations

import pytest

from mfcheck.report.format import fmt_estimate


def _parse(text: str) -> tuple[float, float, float]:
    est, rest = text.split(" [")
    lo, hi = rest.rstrip("]").split(", ")
    return float(est), float(lo), float(hi)


@pytest.mark.parametrize("estimate,ci", [
    (3.178e-06, (3.1e-06, 3.25e-06)),  # tiny: a fixed number of decimals would print [0.000, 0.000]
    (1.0, (0.99999, 1.00002)),  # an interval narrower than 3 significant digits
    (2.5e12, (2.4e12, 2.61e12)),  # huge
    (-4.2e-9, (-5e-9, -3e-9)),
    (0.4645, (0.449, 0.480)),
])
def test_the_printed_interval_contains_the_printed_estimate(estimate, ci):
    est, lo, hi = _parse(fmt_estimate(estimate, ci))
    assert lo <= est <= hi
    assert lo < hi  # ends that differ print differently
    assert est == pytest.approx(estimate, rel=1e-2)


def test_equal_values_print_once_and_three_digits_suffice_when_they_do():
    assert fmt_estimate(1.0, (1.0, 1.0)) == "1 [1, 1]"
    assert fmt_estimate(0.4645, (0.449, 0.480)) == "0.465 [0.449, 0.48]"


def test_the_old_fixed_decimals_fail_on_a_tiny_estimate():
    """The companion: the fixed-decimals format this replaces prints an interval that seems to exclude
    its own estimate."""
    est, lo, hi = 3.178e-06, 3.1e-06, 3.25e-06
    assert f"[{lo:.3f}, {hi:.3f}]" == "[0.000, 0.000]" and f"{est:.4g}" == "3.178e-06"
