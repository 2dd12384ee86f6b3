"""The log factor's strength γ on the hinge's grid (mfcheck.claims.log_factor): recovery on synthetic cells
of known γ, the standard error against a direct computation and a Monte Carlo, the extrapolations
(replicates, range) against the fits they predict, the identifiability verdict, and the report's section."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mfcheck.claims import get_claim
from mfcheck.claims.hinge import SIZES, cell_table, judge
from mfcheck.claims.log_factor import (SE_IDENTIFIED, Z95, design, extend_to_identify, fit_gamma, grid_cells, log_factor, log_term,
                                       pooled_variance, project_se, replicates_to_identify)
from mfcheck.errors import InvalidArgument
from mfcheck.report.hinge import render_hinge

D, T, R = 3, 1.0, 64
CI = SIZES["ci"]
CI_VARIANCE = 0.2 / R  # a per-replicate variance of log S of the size the ci grid measures, over R replicates


def cells(gamma: float, var_mean: float, rng, grid=CI, alpha: float = 0.5, beta: float = 0.5, noise: bool = True) -> pd.DataFrame:
    """Cell means m_c = k + α log(1/N) + γ ℓ (N-region), k' + β log ε + γ ℓ (ε-region), plus normal noise of variance ``var_mean``."""
    c = grid_cells(grid.N, grid.eps, grid.kink)
    N, eps = c["N"].to_numpy(), c["eps"].to_numpy()
    ell = log_term(N, eps, D)
    m = np.where(c["region"] == "eps", -1.0 + beta * np.log(eps), -2.0 + alpha * np.log(1 / N)) + gamma * ell
    if noise:
        m = m + math.sqrt(var_mean) * rng.standard_normal(len(m))
    return c.assign(R=R, mean_log=m, var_mean=var_mean, resolved=True)


@pytest.fixture
def rng():
    return np.random.default_rng(5)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("fit", ["N", "eps", "joint"])
def test_gamma_is_recovered_within_its_interval(gamma, fit, rng):
    f = fit_gamma(cells(gamma, 1e-4, rng), fit, D=D)
    assert f.ci[0] <= gamma <= f.ci[1], (f.gamma, f.ci)
    assert f.ci == pytest.approx([f.gamma - Z95 * f.se, f.gamma + Z95 * f.se])
    exact = fit_gamma(cells(gamma, 1e-4, rng, noise=False), fit, D=D)
    assert exact.gamma == pytest.approx(gamma, abs=1e-8) and exact.dispersion == 1.0


def test_the_interval_covers_at_its_level(rng):
    """Over many draws at the ci variances the 95 % interval of γ covers γ = 1 about 95 % of the time."""
    hits = [fit_gamma(cells(1.0, CI_VARIANCE, rng), "N", D=D) for _ in range(400)]
    cover = np.mean([f.ci[0] <= 1.0 <= f.ci[1] for f in hits])
    assert 0.9 <= cover <= 0.99, cover


def test_the_standard_error_is_the_direct_one_and_the_spread_of_the_estimate(rng):
    c = cells(1.0, CI_VARIANCE, rng)
    sub = c[c["region"] == "N"]
    X = np.stack([np.ones(len(sub)), np.log(1 / sub["N"]), 0.5 * np.log(D + np.log(sub["N"] / sub["eps"]))], axis=1)
    direct = math.sqrt(np.linalg.inv(X.T @ X / CI_VARIANCE)[2, 2])
    f = fit_gamma(c, "N", D=D)
    assert f.se_sampling == pytest.approx(direct, rel=1e-10)
    assert np.allclose(design("N", sub["N"], sub["eps"], sub["region"], D), X)
    spread = np.std([fit_gamma(cells(1.0, CI_VARIANCE, rng), "N", D=D).gamma for _ in range(2000)], ddof=1)
    assert spread == pytest.approx(direct, rel=0.08)
    assert project_se(CI.N, CI.eps, CI.kink, R, {"N": CI_VARIANCE * R, "eps": CI_VARIANCE * R}, "N", D) == pytest.approx(direct)


def test_the_dispersion_widens_a_misfit(rng):
    c = cells(1.0, 1e-4, rng)
    c.loc[c.index[c["region"] == "N"][1], "mean_log"] += 0.2  # one cell off the model
    f = fit_gamma(c, "N", D=D)
    assert f.dispersion > 1 and f.se == pytest.approx(f.se_sampling * math.sqrt(f.dispersion))


def test_tiny_variances_identify_gamma_and_ci_variances_do_not(rng):
    tiny = fit_gamma(cells(1.0, 1e-6, rng), "N", D=D)
    assert tiny.verdict == "identified" and tiny.se <= SE_IDENTIFIED and tiny.ci[0] > 0
    ci = fit_gamma(cells(1.0, CI_VARIANCE, rng), "N", D=D)
    assert ci.verdict == "not identifiable at this tier" and ci.se > SE_IDENTIFIED
    assert SE_IDENTIFIED == pytest.approx(1 / 3.92, rel=1e-3)


def test_the_replicates_to_identify_are_those_the_direct_fit_needs(rng):
    c = cells(1.0, CI_VARIANCE, rng)
    f = fit_gamma(c, "N", D=D)
    R_star = replicates_to_identify(R, f.se_sampling)
    assert R_star > R and f.to_dict()["replicates_to_identify"] == R_star
    at = fit_gamma(c.assign(var_mean=CI_VARIANCE * R / R_star, R=R_star), "N", D=D)
    below = fit_gamma(c.assign(var_mean=CI_VARIANCE * R / (R_star - 1), R=R_star - 1), "N", D=D)
    assert at.se_sampling <= SE_IDENTIFIED < below.se_sampling
    assert replicates_to_identify(R, SE_IDENTIFIED / 2) == math.ceil(R / 4)
    with pytest.raises(InvalidArgument):
        replicates_to_identify(0, 1.0)


@pytest.mark.parametrize("fit", ["N", "eps"])
def test_the_range_extension_is_the_first_that_the_direct_projection_accepts(fit):
    variance = {"N": 0.2, "eps": 0.1}
    e = extend_to_identify(fit, CI.N, CI.eps, CI.kink, R, variance, D, T)
    assert e["levels"] is not None and e["levels"] >= 1 and e["se"] <= SE_IDENTIFIED

    def se_at(k):
        if fit == "N":
            return project_se(CI.N, [CI.eps[-1] / 4.0**j for j in range(k, 0, -1)] + sorted(CI.eps), CI.kink, R, variance, fit, D)
        return project_se(list(CI.N) + [CI.N[-1] * 4.0**j for j in range(1, k + 1)], CI.eps, CI.kink, R, variance, fit, D)

    assert se_at(e["levels"]) == pytest.approx(e["se"]) and se_at(e["levels"] - 1) > SE_IDENTIFIED
    if fit == "N":
        assert e["eps_min"] == pytest.approx(CI.eps[-1] / 4.0 ** e["levels"]) and e["steps"] == pytest.approx(T / e["eps_min"])
    assert e["cost_ratio"] > 0
    none = extend_to_identify(fit, CI.N, CI.eps, CI.kink, R, {"N": 1e6, "eps": 1e6}, D, T, max_levels=3)
    assert none["levels"] is None and none["se"] > SE_IDENTIFIED


def test_pooled_variance_and_the_details(rng):
    c = cells(1.0, CI_VARIANCE, rng)
    assert pooled_variance(c, "N") == pytest.approx(CI_VARIANCE * R)
    full = SIZES["full"]
    out = log_factor(c, D=D, T=T, kink=CI.kink, full={"N": full.N, "eps": full.eps, "kink": full.kink, "replicates": full.replicates})
    assert set(out["fits"]) == {"N", "eps", "joint"} and set(out["extension"]) == {"N", "eps"}
    assert out["full"]["ci_projection"]["N"] == pytest.approx(out["fits"]["N"]["se_sampling"])
    assert all(p["verdict"] in ("identified", "not identifiable at this tier") for p in out["full"]["fits"].values())
    few = c[(c["region"] != "N") | (c["N"] == 16)]  # the N-region's cells all at one N: γ and α not separable
    assert "error" in log_factor(few, D=D, T=T, kink=CI.kink)["fits"]["N"]


def test_arguments(rng):
    c = cells(1.0, CI_VARIANCE, rng)
    with pytest.raises(InvalidArgument, match="fit"):
        fit_gamma(c, "diagonal", D=D)
    with pytest.raises(InvalidArgument, match="columns"):
        fit_gamma(c.drop(columns="var_mean"), "N", D=D)
    with pytest.raises(InvalidArgument, match="determine"):
        fit_gamma(c.iloc[:2].assign(region="N"), "N", D=D)
    with pytest.raises(InvalidArgument, match="variance"):
        fit_gamma(c.assign(var_mean=0.0), "N", D=D)
    with pytest.raises(InvalidArgument, match="log factor"):
        log_term([1], [10.0], 0.5)
    with pytest.raises(InvalidArgument, match="region fit"):
        extend_to_identify("joint", CI.N, CI.eps, CI.kink, R, {"N": 1, "eps": 1}, D, T)


def test_the_report_has_the_section(rng, tmp_path):
    """From a replicate table through cell_table and judge to the rendered section and its plot."""
    r = rng
    rows = [{"N": N, "eps": e, "replicate": i,
             "test_functions": 0.1 * math.sqrt(max(1 / N, e)) * math.sqrt(D + math.log(N / e)) * math.exp(0.4 * r.standard_normal())}
            for N in CI.N for e in CI.eps for i in range(R)]
    table = cell_table(pd.DataFrame(rows), D=D, J=17, kink=CI.kink, reference_error=1e-6)
    result = judge(table)
    lf = log_factor(table, D=D, T=T, kink=CI.kink)
    assert lf["fits"]["N"]["ci"][0] <= 1 <= lf["fits"]["N"]["ci"][1]
    result = replace(result, details={**result.details, "log_factor": lf, "statistic": "test_functions",
                                      "grid": {"N": list(CI.N), "eps": list(CI.eps), "kink": CI.kink, "replicates": R}})
    summary = {"experiment": {"problem": "p", "neuron": "n", "D": D, "rho0": "r", "T": T, "record_dt": 0.0625}, "command": "c"}
    render_hinge(get_claim("hinge"), result, summary, tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "## The log factor" in text and "Excluding γ = 0 at γ = 1 would need R ≈" in text
    assert (tmp_path / "logfactor.png").stat().st_size > 10_000
