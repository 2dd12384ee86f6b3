"""Unit tests of mfcheck.app.reproduce.dimension: cells, shapes, the D-exponent fit and the report.

The fit is checked on synthetic tables with a known exponent of D (it must be recovered, and a
table built without D-dependence must exclude it), and the model comparison must prefer the shape
a table was generated from.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mfcheck.errors import InvalidArgument
from mfcheck.app.reproduce import dimension as dim
from mfcheck.app.reproduce.reference import RadialCurves

TIER = dim.DimensionTier("synthetic", dims=(10, 40, 160, 320), N_path=(32, 64, 128, 256), kink=2.0, eps_path=(1e-4, 3e-5, 1e-5),
                         eps_N=256, replicates=12, T=1.0, records=8)


def _synthetic(shape, seed, noise=0.15):
    """A replicate table S = c · shape(N, ε, D) · exp(noise · Z) on the cells of TIER."""
    rng = np.random.default_rng(seed)
    rows = []
    for path, d, N, eps in dim.dimension_cells(TIER):
        for r in range(TIER.replicates):
            s = 0.3 * float(shape(N, eps, d)) * math.exp(noise * rng.standard_normal())
            rows.append({"path": path, "d": d, "N": N, "eps": eps, "replicate": r, "risk": s, "test_functions": s})
    return pd.DataFrame(rows)


def test_cells_fall_on_the_record_grid():
    for path, d, N, eps in dim.dimension_cells(TIER):
        steps = TIER.T / eps
        assert abs(steps - round(steps)) < 1e-6 and round(steps) % TIER.records == 0
        if path == "N":
            assert eps <= 1.0 / (TIER.kink * N * d) * (1 + 1e-12)
    assert len(dim.dimension_cells(TIER)) == 4 * (4 + 3)
    assert dim.DIMENSION_TIERS["full"].dims == (10, 40, 160, 320)


def test_shapes():
    N, eps, D = 100.0, 1e-3, 40.0
    assert dim.shape_mmn18(N, eps, D) == pytest.approx(math.sqrt(max(1 / N, eps)) * math.sqrt(D + math.log(N / eps)))
    assert dim.shape_mmm19(N, eps, D) == pytest.approx(math.sqrt(math.log(N) / N) + math.sqrt(eps) * math.sqrt(D + math.log(N)))


@pytest.mark.parametrize("true_exponent", [0.0, 0.5])
def test_fit_recovers_the_exponent_of_D(true_exponent):
    """S = N^{-1/2} D^{a}·noise on both paths; the 95 % CI of the D exponent must contain a
    (false-alarm rate 5 % per CI by construction of the t interval; fixed seed)."""
    table = _synthetic(lambda N, eps, D: N**-0.5 * D**true_exponent, seed=1)
    fit = dim.fit_dimension(table, "risk")
    for path in ("N", "eps"):
        lo, hi = fit["paths"][path]["exponent_D"]["ci"]
        assert lo <= true_exponent <= hi, (path, lo, hi)
    lo, hi = fit["paths"]["N"]["exponent_x"]["ci"]
    assert lo <= 0.5 <= hi


def test_fit_rejects_a_wrong_exponent_of_D():
    """Companion: a table without D-dependence excludes the exponent 0.5 (and vice versa)."""
    flat = dim.fit_dimension(_synthetic(lambda N, eps, D: N**-0.5, seed=2), "risk")
    steep = dim.fit_dimension(_synthetic(lambda N, eps, D: N**-0.5 * D**0.5, seed=2), "risk")
    assert flat["paths"]["N"]["exponent_D"]["ci"][1] < 0.5
    assert steep["paths"]["N"]["exponent_D"]["ci"][0] > 0.0


@pytest.mark.parametrize("truth, other", [("MMN18", "MMM19"), ("MMM19", "MMN18")])
def test_model_comparison_prefers_the_generating_shape(truth, other):
    fit = dim.fit_dimension(_synthetic(dim.SHAPES[truth], seed=3), "test_functions")
    assert fit["models"][truth]["aic"] < fit["models"][other]["aic"]
    lo, hi = fit["models"][truth]["slope"]["ci"]
    assert lo <= 1.0 <= hi
    # the predicted D exponent of the true shape lies in the measured CI on the N-path
    assert fit["paths"]["N"]["consistent_D"][truth]


def test_predicted_exponents_separate_the_models_on_the_n_path():
    fit = dim.fit_dimension(_synthetic(dim.shape_mmn18, seed=4), "risk")
    pred = fit["paths"]["N"]["predicted_D"]
    assert pred["MMN18"] > 0.3 and abs(pred["MMM19"]) < 0.1


def test_fit_refuses_bad_tables():
    table = _synthetic(dim.shape_mmn18, seed=5)
    with pytest.raises(InvalidArgument, match="statistic"):
        dim.fit_dimension(table, "nope")
    bad = table.copy()
    bad.loc[0, "risk"] = 0.0
    with pytest.raises(InvalidArgument, match="finite and > 0"):
        dim.fit_dimension(bad, "risk")


def test_statistics_and_time_check():
    class T:
        times = np.array([0.0, 0.5, 1.0])
        risk = np.array([[1.0, 0.9, 0.8], [1.1, 0.8, 0.8]])
        f_means = np.zeros((2, 3, 3))

    ref = RadialCurves(times=T.times, risk=np.array([1.0, 0.85, 0.8]), f_integrals=np.full((3, 3), 0.1), error={"risk": 0.0, "f": 0.0})
    s = dim.statistics(T, ref)
    np.testing.assert_allclose(s["risk"], [0.05, 0.1])
    np.testing.assert_allclose(s["test_functions"], [0.1, 0.1])  # max over g of 0.1 / K_g, K_g ∈ {1, 1, 2}
    bad = RadialCurves(times=np.array([0.0, 0.4, 1.0]), risk=ref.risk, f_integrals=ref.f_integrals, error=ref.error)
    with pytest.raises(InvalidArgument, match="times"):
        dim.statistics(T, bad)


def test_reference_initial_law_matches_the_sgd_initialisation():
    """At t = 0 the PDE's ∫ g dρ̄_0 is the mean of g(|w^0|), w^0 ~ N(0, κ²/d I_d): a CLT check on
    4000 draws, |diff| ≤ 4.5 standard errors per g (false-alarm rate ≤ 3 · 6.8e-6). A reference
    built with the wrong κ (0.9 for 0.8) must fail it (companion)."""
    from mfcheck.model.activations import PAPER_SIGMA
    from mfcheck.model.initial import GaussianInit
    from mfcheck.app.reproduce.reference import radial_curves
    from mfcheck.app.reproduce.trajectory import RADIAL_TEST_FUNCTIONS

    d, kappa, n = 40, 0.8, 4000
    r = np.linalg.norm(GaussianInit(d, kappa / math.sqrt(d)).sample(np.random.default_rng(11), n), axis=1)
    times = np.array([0.0, 0.01])
    for k, ok in ((kappa, True), (0.9, False)):
        ref = radial_curves(PAPER_SIGMA, dim.DELTA, d, k, times, RADIAL_TEST_FUNCTIONS, quality="fast")
        z = [abs(g(r).mean() - ref.f_integrals[0, i]) / (g(r).std(ddof=1) / math.sqrt(n)) for i, g in enumerate(RADIAL_TEST_FUNCTIONS)]
        assert (max(z) <= 4.5) == ok, z


def test_reproduce_dimension_fast_tier(tmp_path):
    """End to end on the fast tier: real SGD, exact risk and the radial PDE."""
    s = dim.reproduce_dimension(tmp_path, tier="fast", progress=False)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"README.md", "summary.json", "paths.png", "ratios.png", "cells.csv", "replicates.csv"}
    cells = pd.read_csv(tmp_path / "cells.csv")
    assert len(cells) == len(dim.dimension_cells(dim.DIMENSION_TIERS["fast"]))
    assert (cells["median_risk"] > 0).all() and (cells["median_test_functions"] > 0).all()
    for r in s["references"].values():
        assert r["error"]["risk"] < 1e-3 and r["error"]["f"] < 1e-3
    assert "mfcheck reproduce dimension --tier fast" in (tmp_path / "README.md").read_text()
