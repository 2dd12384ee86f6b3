"""mfcheck.claims.injection: the smallest violations a run detects, measured by injecting them.

On a synthetic sweep whose statistic follows the predicted shape, the power must rise with the
injected deficit and plateau, reach 0.9 within the grid when the noise is small, stay out of
reach when it is large, and the growth tests must reject about α of the resamples at their null
boundary. Fixed seeds; the bounds below are wide enough for 400 resamples (binomial sd ≤ 0.025)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mfcheck.claims import get_claim
from mfcheck.claims.fit import Design
from mfcheck.claims.injection import DEFICITS, PLATEAU_FRACTIONS, detection
from mfcheck.claims.tiers import get_tier
from mfcheck.seeds import Streams

CLAIM = get_claim("theorem1_risk")
D, T, J = 3, 1.0, 17


def _detect(noise: float, replicates: int = 24):
    rng = Streams(5).child("injection-test").generator("data")
    rows = []
    for path, N, eps in get_tier("ci").cells():
        shape = np.sqrt(max(1 / N, eps)) * np.sqrt(D + np.log(J))
        for r in range(replicates):
            rows.append({"path": path, "N": N, "eps": eps, "replicate": r, "risk": 0.3 * shape * np.exp(noise * rng.standard_normal())})
    table = pd.DataFrame(rows)
    design = Design.of(table, CLAIM, D, T, J)
    return detection(table["risk"].to_numpy(), design, CLAIM.predicted, level=0.05 / 40, alpha=0.05,
                     rng=Streams(6).child("injection-test").generator("data"), resamples=400)


def test_power_rises_with_the_injected_violation_and_reaches_the_target():
    det = _detect(noise=0.2)
    assert np.all(np.diff(det["deficit_power"]) >= -0.05) and np.all(np.diff(det["plateau_power"]) >= -0.05)
    assert det["deficit_power"][0] < 0.5 < det["deficit_power"][-1]
    assert det["min_detectable_deficit"] in DEFICITS and det["min_detectable_plateau"] in PLATEAU_FRACTIONS


def test_the_growth_tests_reject_about_alpha_at_their_null_boundary():
    det = _detect(noise=0.2)
    for path in ("N", "eps"):
        assert 0.01 <= det["size_at_null_boundary"][f"growth along the {path}-path"] <= 0.11


def test_noisy_runs_detect_less():
    quiet, loud = _detect(noise=0.1), _detect(noise=0.8, replicates=6)
    assert quiet["min_detectable_deficit"] is not None
    assert loud["min_detectable_deficit"] is None or loud["min_detectable_deficit"] > quiet["min_detectable_deficit"]


def test_tests_without_power_leave_the_family():
    """A quiet run: every test sees the largest violations and stays counted. A run with 3 noisy
    replicates per cell: a test below POWER_FLOOR is marked not counted, with its measured power,
    and decide leaves it out of the Holm family (its companion: the counted tests still decide)."""
    from mfcheck.claims.fit import TEST_NAMES
    from mfcheck.claims.injection import POWER_FLOOR, without_powerless
    from mfcheck.stats.results import ClaimResult, Test, decide, family_size

    quiet = _detect(noise=0.1)
    assert set(quiet["test_power"]) == set(TEST_NAMES.values())
    assert all(v >= POWER_FLOOR for v in quiet["test_power"].values()), quiet["test_power"]
    loud = _detect(noise=1.5, replicates=3)
    weak = [name for name, v in loud["test_power"].items() if v < POWER_FLOOR]
    assert weak, loud["test_power"]
    result = ClaimResult(claim="c", verdict="unresolved", alpha=0.05, tests=tuple(Test(name, 0.5) for name in TEST_NAMES.values()))
    marked = without_powerless(result, loud)
    assert [t.name for t in marked.tests if not t.counted] == weak
    assert all("no power" in t.note for t in marked.tests if not t.counted)
    assert family_size(decide([marked])) == len(TEST_NAMES) - len(weak)
