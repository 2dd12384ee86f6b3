"""The smallest violations a rate claim detects at a run's sizes, measured by injecting them.

The run's own statistic is first moved to the **predicted exponent**: on each path, with
x = log(1/N) (N-path) or log ε (ε-path), x_lim its value at the cell nearest the limit and b̂ the
fitted exponent (:mod:`mfcheck.claims.fit`, the statistic's own log factor),

    S₀ = S · exp(−(b̂ − predicted)(x − x_lim)),

so that S₀ decays at exactly the predicted exponent, with the run's own noise, and the cell
nearest the limit is unchanged. Into S₀ are injected

- an **exponent deficit** d: S_d = S₀ · exp(−d (x − x_lim)) (S decays at predicted − d);
- a **plateau** b = f · (median S₀ at the cell nearest the limit): S_b = S₀ + b.

Each injected table is resampled (replicates drawn with replacement within each cell,
``RESAMPLES`` times, from a seed stream of the run) and judged by the claim's own tests
(:func:`mfcheck.claims.fit.judge`). The **power** at an injected size is the fraction of
resamples in which a test of the claim rejects at ``level`` (the run's Bonferroni level α/m, the
first level Holm's procedure compares to: the claim's least favourable case); the **minimum
detectable effect** is the smallest injected size on the grid with power ≥ ``TARGET_POWER``.
The **power of each test** is its own rejection rate at ``level`` under the largest injected
violations (an exponent short by ``DEFICITS[-1]``, a plateau ``PLATEAU_FRACTIONS[-1]`` times the
statistic at the limit; the larger of the two rates). A test below ``POWER_FLOOR`` there has **no
power** at the run's sizes: it cannot see even a gross violation of its kind, and it is reported
but not counted in the Holm family (:func:`without_powerless`), so that it does not lower the
level the tests that can fail are judged at.
The **size at the null boundary** is the rejection rate of the growth and plateau tests, each
alone at α, on the statistic moved the same way to the boundary of its null hypothesis: for the
growth test, the exponent fitted against the theorem's scale (its log factor included, which the
test allows) equal to the predicted one minus its margin ``DELTA_FAIL``; for the plateau test,
the same exponent equal to the predicted one (S proportional to the theorem's scale, b = 0).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mfcheck.claims.fit import DELTA_FAIL, PATHS, TEST_NAMES, Design, judge, resample_within_cells
from mfcheck.stats.results import ClaimResult

__all__ = ["DEFICITS", "PLATEAU_FRACTIONS", "RESAMPLES", "TARGET_POWER", "POWER_FLOOR", "TAIL_VIOLATION", "detection", "violating", "without_powerless"]

DEFICITS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4)
PLATEAU_FRACTIONS = (0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0)
RESAMPLES = 200
TARGET_POWER = 0.9
POWER_FLOOR = 0.5
"""A test whose power against the largest injected violation is below this is not counted."""
TAIL_VIOLATION = 2.0
"""The gross violation a tail test of a sub-Gaussian bound is asked to see (the claims other than
the rate claims that test one: mcdiarmid, azuma): the run's own statistic rescaled so that its root
mean square is ``TAIL_VIOLATION`` times the bound's variance proxy. A sub-Gaussian variable's
standard deviation is at most its proxy, so the rescaled statistic breaks the bound at every
threshold far enough out; the test's exact binomial power against it, at the run's level α/m
(:func:`mfcheck.stats.power.grid_power`), decides whether it is counted, as for the rate claims."""


def _to_boundary(S: np.ndarray, design: Design, j: dict, predicted, fit: str, short: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """S moved so that the slope of ``fit`` (``exp`` or ``growth_fit``) equals the predicted one minus ``short``, and x − x_lim."""
    S0, dx = S.copy(), np.zeros_like(S)
    for p in PATHS:
        m = design.path == p
        x_lim = design.x[m & design.at_limit][0]
        dx[m] = design.x[m] - x_lim
        S0[m] = S[m] * np.exp(-(float(j[f"{fit}_{p}"].params[1]) - predicted[p] + short) * dx[m])
    return S0, dx


def detection(S: np.ndarray, design: Design, predicted, *, level: float, alpha: float, rng: np.random.Generator,
              resamples: int = RESAMPLES) -> dict:
    """Power curves, minimum detectable effects and the size at the null boundary (module docstring)."""
    j = judge(S, design, predicted)
    S0, dx = _to_boundary(S, design, j, predicted, "exp")
    idx = resample_within_cells(design, rng, resamples)
    base = S0[idx]
    plateau_unit = np.array([float(j[f"at_limit_{p}"]) for p in design.path])  # S₀ = S at the cell nearest the limit

    j0 = judge(base, design, predicted)
    jg = judge(_to_boundary(S, design, j, predicted, "growth_fit", DELTA_FAIL)[0][idx], design, predicted)
    jb = judge(_to_boundary(S, design, j, predicted, "growth_fit")[0][idx], design, predicted)
    size = {f"growth along the {p}-path": float(np.mean(jg[f"growth_{p}"] <= alpha)) for p in PATHS}
    size |= {f"plateau along the {p}-path": float(np.mean(jb[f"plateau_p_{p}"] <= alpha)) for p in PATHS}
    deficit_runs = [judge(base * np.exp(-d * dx[idx]), design, predicted) for d in DEFICITS]
    plateau_runs = [judge(base + f * plateau_unit, design, predicted) for f in PLATEAU_FRACTIONS]
    deficit_power = [float(np.mean(jd["smallest_p"] <= level)) for jd in deficit_runs]
    plateau_power = [float(np.mean(jp["smallest_p"] <= level)) for jp in plateau_runs]
    test_power = {key: max(float(np.mean(deficit_runs[-1][key] <= level)), float(np.mean(plateau_runs[-1][key] <= level)))
                  for key in TEST_NAMES}

    def smallest(grid, power):
        return next((g for g, pw in zip(grid, power) if pw >= TARGET_POWER), None)

    return {
        "level": level, "alpha": alpha, "resamples": resamples, "target_power": TARGET_POWER,
        "size_at_null_boundary": size, "claim_rejection_at_null_boundary": float(np.mean(j0["smallest_p"] <= level)),
        "deficits": list(DEFICITS), "deficit_power": deficit_power, "min_detectable_deficit": smallest(DEFICITS, deficit_power),
        "plateau_fractions": list(PLATEAU_FRACTIONS), "plateau_power": plateau_power,
        "min_detectable_plateau": smallest(PLATEAU_FRACTIONS, plateau_power),
        "test_power": {TEST_NAMES[k]: v for k, v in test_power.items()}, "power_floor": POWER_FLOOR,
        "against": f"an exponent short by {DEFICITS[-1]:g} or a plateau {PLATEAU_FRACTIONS[-1]:g}× S at the limit "
                   "(its rejection rate over the resamples)",
    }


def without_powerless(result: ClaimResult, found: dict) -> ClaimResult:
    """``result`` with each test whose power in ``found`` (a claim's ``detection``: :func:`detection`
    for a rate claim) is below ``POWER_FLOOR`` marked not counted, its note saying why (module docstring)."""
    power = found.get("test_power", {})
    tests = []
    for t in result.tests:
        if t.name in power and power[t.name] < POWER_FLOOR:
            t = replace(t, counted=False, note=f"no power at this run's sizes: power {power[t.name]:.2f} against {found['against']} "
                                               f"(level {found['level']:.2g}; counted from {POWER_FLOOR:g})")
        tests.append(t)
    return replace(result, tests=tuple(tests))


def violating(values: np.ndarray, proxy: float) -> np.ndarray:
    """``values`` (observations along axis 0) rescaled, column by column, so that the root mean
    square of each column is ``TAIL_VIOLATION`` × ``proxy``: the run's own statistic breaking a
    sub-Gaussian bound of variance proxy ``proxy`` (:data:`TAIL_VIOLATION`)."""
    values = np.asarray(values, dtype=np.float64)
    rms = np.sqrt(np.mean(np.square(values), axis=0))
    return values * (TAIL_VIOLATION * proxy / np.where(rms > 0, rms, np.inf))
