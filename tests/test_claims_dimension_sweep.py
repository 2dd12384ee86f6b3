"""The dimension-sweep claim (mfcheck.claims.dimension_sweep): the fits recover known exponents of D on
synthetic cells, the test rejects growth faster than D^{1/2} and not slower growth, the experiments
are the default's form in every D, and on SGD at smoke sizes the correct rule is not rejected while
the fan-in step (exact at D = 3) is."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mfcheck.app.reproduce.dimension import shape_mmm19 as reproduce_mmm19
from mfcheck.app.reproduce.dimension import shape_mmn18 as reproduce_mmn18
from mfcheck.claims import CLAIMS, get_claim
from mfcheck.claims.base import CheckContext
from mfcheck.claims.dimension_sweep import (ENVELOPE, SIZES, STATISTICS, cell_table, dimension_experiment, fit_dimension, fit_slopes,
                                            judge, shape_mmm19, shape_mmn18)
from mfcheck.claims.tiers import get_tier
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import default_experiment
from mfcheck.report import write_report
from mfcheck.stats.results import decide

DIMS = (2, 4, 8, 16, 32)
SETTINGS = ((64, 2.0**-8), (64, 2.0**-12))


def _table(surface, rng, statistic="coupling", dims=DIMS, R=48, sd=0.3) -> pd.DataFrame:
    """Replicates S = surface(D, N, ε) · exp(sd · g) on every cell."""
    return pd.DataFrame([{"D": D, "N": N, "eps": eps, "replicate": r, statistic: surface(D, N, eps) * math.exp(sd * rng.standard_normal())}
                         for D in dims for N, eps in SETTINGS for r in range(R)])


def _cells(surface, rng, statistic="coupling", reference_error=1e-6, **kwargs):
    table = _table(surface, rng, statistic, **kwargs)
    return cell_table(table, {D: reference_error for D in table["D"].unique()}, statistic)


def _judged(surface, rng, **kwargs):
    return decide([judge({"coupling": _cells(surface, rng, **kwargs)})])[0]


@pytest.fixture
def rng():
    return np.random.default_rng(5)


def power(b):
    return lambda D, N, eps: 0.1 * math.sqrt(max(1 / N, eps)) * D**b


def test_the_fits_recover_a_known_exponent_of_D(rng):
    cells = _cells(power(0.3), rng)
    fit = fit_dimension(cells)
    assert abs(fit.b - 0.3) < 3 * fit.se and fit.se < 0.03
    assert fit.interval()[0] < 0.3 < fit.interval()[1] and fit.dispersion < 3
    slopes = fit_slopes(cells)
    assert set(slopes["settings"]) == set(SETTINGS)
    for s in slopes["settings"].values():
        assert abs(s["b"] - 0.3) < 3 * s["se"]


def test_the_implied_exponents_are_the_shapes_own_regression(rng):
    cells = _cells(lambda D, N, eps: float(shape_mmn18(N, eps, D)), rng, sd=0.05)
    fit = fit_dimension(cells)
    assert abs(fit.b - fit.implied["MMN18"]) < 3 * fit.se
    assert 0 < fit.implied["MMM19"] < fit.implied["MMN18"] < ENVELOPE


def test_growth_faster_than_the_envelope_fails(rng):
    r = _judged(power(0.5 + 0.3), rng)
    assert r.verdict == "fail", r.message
    assert any(t.rejected and t.counted and "growth in D" in t.name for t in r.tests)


def test_slow_growth_passes_with_its_evidence(rng):
    r = _judged(power(0.1), rng)
    assert r.verdict == "pass", r.message
    assert all(e.holds for e in r.evidence) and len(r.evidence) == len(SETTINGS)
    assert not any(t.rejected for t in r.tests)


def test_growth_like_the_bound_itself_passes(rng):
    """√D (the envelope) and √(D + 2 log N) (a log term lighter than the theorem's) are inside the bound."""
    for surface in (power(0.5), lambda D, N, eps: 0.1 * math.sqrt(eps * (D + 2 * math.log(N)))):
        r = _judged(surface, rng, R=24)
        assert r.verdict != "fail", r.message


def test_few_replicates_near_the_envelope_are_unresolved_with_a_recommendation(rng):
    r = _judged(power(0.5), rng, R=4, sd=0.6)
    assert r.verdict == "unresolved" and r.replicates > 4, (r.message, r.replicates)


def test_unresolved_cells_are_dropped_and_said(rng):
    cells = _cells(power(0.1), rng)
    cells.loc[cells["D"] == 32, "resolved"] = False
    r = decide([judge({"coupling": cells})])[0]
    assert len(r.details["statistics"]["coupling"]["dropped"]) == len(SETTINGS)
    assert r.verdict == "pass" and r.details["statistics"]["coupling"]["slopes"]["D_max"] == 16
    r = decide([judge({"coupling": _cells(power(0.1), rng, reference_error=1.0)})])[0]
    assert r.verdict == "unresolved" and "Refine the references" in r.unresolved


def test_arguments(rng):
    cells = _cells(power(0.1), rng)
    with pytest.raises(InvalidArgument, match="two D"):
        fit_dimension(cells[cells["D"] == 2])
    with pytest.raises(InvalidArgument, match="columns"):
        cell_table(pd.DataFrame({"D": [2]}), {2: 0.0}, "coupling")
    with pytest.raises(InvalidArgument, match="every D"):
        cell_table(_table(power(0.1), rng), {2: 0.0}, "coupling")
    with pytest.raises(InvalidArgument, match="at least one"):
        judge({})


def test_the_shapes_are_those_of_the_dimension_report():
    N, eps, D = np.array([64, 256]), np.array([2.0**-8, 2.0**-14]), np.array([2, 32])
    assert np.allclose(shape_mmn18(N, eps, D), reproduce_mmn18(N, eps, D))
    assert np.allclose(shape_mmm19(N, eps, D), reproduce_mmm19(N, eps, D))


def test_the_experiment_is_the_default_form_in_every_dimension():
    assert dimension_experiment(3, seed=7, log2_M=9).describe() == default_experiment(seed=7, log2_M=9).describe()
    ex = dimension_experiment(16, seed=7, log2_M=9)
    assert ex.D == 16 and math.isclose(ex.rho0.scale**2 * 16, 0.75)


def test_the_declaration():
    claim = get_claim("dimension_sweep")
    assert claim is CLAIMS["dimension_sweep"] and claim.outside_gate and not claim.reads_reference
    assert claim.parts == {"step", "init"} and claim.test_count == len(STATISTICS) and claim.own_setting.startswith("its own")
    assert SIZES["full"].dims == (2, 4, 8, 16, 32) and set(SIZES["ci"].dims) >= {2, 8, 32}
    for size in SIZES.values():
        assert all(1 / 16 / eps == round(1 / 16 / eps) for _, eps in size.settings)


# -- on SGD, smoke sizes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_context():
    return CheckContext(experiment=default_experiment(log2_M=6), tier=get_tier("smoke"), reference=None)


@pytest.fixture(scope="module")
def correct(smoke_context):
    return decide([get_claim("dimension_sweep").run(smoke_context)])[0]


def test_the_correct_rule_is_not_rejected_at_smoke(correct):
    assert correct.verdict in ("pass", "unresolved"), correct.message
    for statistic in STATISTICS:
        assert not correct.details["statistics"][statistic]["dropped"]


def test_the_fan_in_step_is_rejected_at_smoke(smoke_context):
    claim = get_claim("dimension_sweep")
    r = decide([claim.run(claim.inject(smoke_context))])[0]
    assert r.verdict == "fail", r.message


def test_the_report(correct, smoke_context, tmp_path):
    write_report(get_claim("dimension_sweep"), correct, smoke_context, tmp_path)
    text = (tmp_path / "dimension_sweep" / "report.md").read_text()
    assert text.startswith("# Theorem 1: the dimension D") and "## Exponent of D" in text and "MMM19" in text
    assert (tmp_path / "dimension_sweep" / "dimension.png").stat().st_size > 0


def test_a_user_experiment_is_refused(smoke_context):
    custom = replace(dimension_experiment(3, seed=1, log2_M=6), T=2.0)
    with pytest.raises(InvalidArgument, match="dimension_sweep runs on its own"):
        get_claim("dimension_sweep").run(replace(smoke_context, experiment=custom))
