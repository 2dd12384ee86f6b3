"""Unit tests of mfcheck.claims.azuma: the Azuma bound, the martingale record with its exact compensator,
the tail and scale statistics, and run/render on a tiny sweep."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mfcheck.model import functionals as F
from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.claims import azuma as A
from mfcheck.claims.base import CheckContext
from mfcheck.errors import InvalidArgument, OutsideAssumptions
from mfcheck.model.experiment import Experiment
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import AffineNeuron, InnerNeuron
from mfcheck.model.problems import teacher_population
from mfcheck.report import write_report
from mfcheck.stats.results import decide
from mfcheck.seeds import Streams
from mfcheck.dynamics.broken import BROKEN
from mfcheck.dynamics.rules import MEAN_FIELD
from mfcheck.dynamics.sgd import StandardRecord, run_sgd
from mfcheck.claims.tiers import get_tier

INNER = InnerNeuron(erf_sigmoid())


@pytest.fixture(scope="module")
def pop():
    return teacher_population(n=40, d=3, teacher=tanh_sum((1.0,), (2.0,)), seed=5, noise=0.2)


@pytest.fixture(scope="module")
def rho0():
    return GaussianInit(3, 0.5)


def _run(pop, rho0, rule=MEAN_FIELD, eps=1 / 16, T=0.5, record_dt=1 / 16, R=3, N=8):
    return run_sgd(pop, INNER, rho0, rule, N=N, eps=eps, T=T, replicates=R, streams=Streams(7).child("t"),
                   record=A.MartingaleRecord(record_dt))


# -- the bound -------------------------------------------------------------------------------------


def test_increment_bound_matches_constants(pop):
    c = pop.constants(INNER)
    assert A.azuma_increment_bound(pop, INNER) == pytest.approx((c.y_bound + c.sigma_star_bound) * c.grad_sigma_star_bound)


def test_increment_bound_refuses_unbounded_neuron(pop):
    with pytest.raises(OutsideAssumptions):
        A.azuma_increment_bound(pop, AffineNeuron(erf_sigmoid()))


def test_proxy_is_cumulative_and_sqrt_eps_t():
    eps, B = 1 / 32, 3.0
    prox = A.azuma_proxy(np.full(64, eps), B)
    k = np.arange(65)
    assert prox[0] == 0.0
    np.testing.assert_allclose(prox, 2 * B * np.sqrt(eps * (k * eps)), rtol=1e-12)


@pytest.mark.parametrize("bad", [np.array([-0.1]), np.array([np.nan]), np.ones((2, 2))])
def test_proxy_rejects_bad_steps(bad):
    with pytest.raises(InvalidArgument, match="step_sizes"):
        A.azuma_proxy(bad, 1.0)


def test_tail_values_and_cap():
    assert A.azuma_tail(0.0) == 1.0
    assert A.azuma_tail(2.0) == pytest.approx(2 * math.exp(-2.0))
    assert A.azuma_tail(40.0) == 0.0  # underflow is fine
    with pytest.raises(InvalidArgument, match="z"):
        A.azuma_tail(-1.0)


# -- the martingale record ---------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [MEAN_FIELD, BROKEN["sqrt_step"].rule], ids=lambda r: r.name)
def test_martingale_record_theta_equals_the_standard_record(pop, rho0, rule):
    """Two records of the same loop: the martingale record's θ is the standard record's, bit for bit,
    on the numpy backend (which a record of every step takes), and the compiled path's to rounding."""
    m = _run(pop, rho0, rule)
    kw = dict(N=8, eps=1 / 16, T=0.5, replicates=3, record=StandardRecord(1 / 16))
    ref = run_sgd(pop, INNER, rho0, rule, streams=Streams(7).child("t"), backend="numpy", **kw)
    np.testing.assert_array_equal(m.theta, ref.theta)
    np.testing.assert_array_equal(m.times, ref.times)
    if rule is MEAN_FIELD:
        fast = run_sgd(pop, INNER, rho0, rule, streams=Streams(7).child("t"), **kw)
        np.testing.assert_allclose(m.theta, fast.theta, rtol=1e-12, atol=1e-14)
        with pytest.raises(InvalidArgument, match="every step"):
            run_sgd(pop, INNER, rho0, rule, N=8, eps=1 / 16, T=0.5, replicates=3, streams=Streams(7), backend="numba",
                    record=A.MartingaleRecord(1 / 16))


def test_martingale_increments_are_compensated_and_bounded(pop, rho0):
    """M^{k+1} − M^k = Δθ^k + 2 s ∇Ψ(θ^k; ρ̂^{N,k}); ||Δθ|| ≤ c = 2sB, so ||ΔM|| ≤ 2c."""
    eps = 1 / 16
    m = _run(pop, rho0, eps=eps, record_dt=eps)  # every step recorded
    B = m.B
    assert np.all(m.M[:, 0] == 0)
    for k in range(len(m.steps) - 1):
        th = m.theta[:, k]
        dtheta = m.theta[:, k + 1] - th
        grad = np.stack([F.grad_Psi(pop, INNER, th[r], th[r]) for r in range(th.shape[0])])
        np.testing.assert_allclose(m.M[:, k + 1] - m.M[:, k], dtheta + 2 * eps * grad, atol=1e-13)
        assert np.max(np.linalg.norm(dtheta, axis=-1)) <= 2 * eps * B * (1 + 1e-12)
        assert np.max(np.linalg.norm(m.M[:, k + 1] - m.M[:, k], axis=-1)) <= 4 * eps * B * (1 + 1e-12)
    np.testing.assert_allclose(m.sum_s2, eps * m.times, rtol=1e-12)
    np.testing.assert_allclose(m.proxy, 2 * B * np.sqrt(eps * m.times), rtol=1e-12)


def test_drift_mismatch_zero_for_correct_and_large_for_sqrt_step(pop, rho0):
    good = _run(pop, rho0)
    bad = _run(pop, rho0, BROKEN["sqrt_step"].rule)
    assert np.nanmax(good.drift_mismatch) < 1e-12
    assert np.nanmax(bad.drift_mismatch) > 0.01
    assert np.isnan(good.drift_mismatch[-1])  # no step after the last record


def test_martingale_record_rejects_problems_without_exact_grad_psi(pop, rho0):
    class NoOracle:
        d = 3

        def sample(self, rng, n):
            return pop.sample(rng, n)

    with pytest.raises(InvalidArgument, match="problem"):
        run_sgd(NoOracle(), INNER, rho0, N=4, eps=0.25, T=0.5, replicates=1, streams=Streams(1), record=A.MartingaleRecord(0.25))


def test_martingale_record_rejects_bad_eps(pop, rho0):
    with pytest.raises(InvalidArgument, match="eps"):
        _run(pop, rho0, eps=0.0, record_dt=0.25)


# -- the statistics ------------------------------------------------------------------------------------------


def test_tail_observations_are_one_per_replicate(pop, rho0):
    m = _run(pop, rho0, R=6, N=8)
    z = A.tail_observations(m, np.array([4, 8]))
    assert z.shape == (6,)
    picks = {A._pick(r, 8, 3, 2) for r in range(6)}
    assert len(picks) == 6
    with pytest.raises(InvalidArgument, match="time_index"):
        A.tail_observations(m, np.array([0]))


def test_tail_tests_accept_small_and_reject_large(rng):
    small = A.tail_tests(rng.normal(scale=0.3, size=300))
    assert all(t["exceedances"] == 0 and t["p_value"] == 1.0 for t in small)
    large = A.tail_tests(rng.normal(scale=3.0, size=300))
    assert min(t["p_value"] for t in large) < 1e-6
    for t in large:
        assert t["ci"][0] <= t["frequency"] <= t["ci"][1]
    with pytest.raises(InvalidArgument, match="z_obs"):
        A.tail_tests([])


def _synthetic_table(rng, b_eps, b_t, R=40):
    rows = {k: [] for k in ("eps", "t", "sum_s2", "replicate", "cluster", "rms", "ms")}
    for ci, eps in enumerate((1 / 16, 1 / 32, 1 / 64, 1 / 128)):
        u = rng.normal(scale=0.1, size=R)  # a replicate effect shared by its times
        for t in (0.25, 0.5, 1.0):
            rms = eps**b_eps * t**b_t * np.exp(u + rng.normal(scale=0.1, size=R))
            rows["eps"].append(np.full(R, eps))
            rows["t"].append(np.full(R, t))
            rows["sum_s2"].append(np.full(R, eps * t))
            rows["replicate"].append(np.arange(R))
            rows["cluster"].append(ci * 1000 + np.arange(R))
            rows["rms"].append(rms)
            rows["ms"].append(rms**2)
    return {k: np.concatenate(v) for k, v in rows.items()}


def test_fit_scale_recovers_half(rng):
    fits = A.fit_scale(_synthetic_table(rng, 0.5, 0.5))
    b = fits["pooled"]["coef"]["exponent"]
    assert b["ci"][0] < 0.5 < b["ci"][1]
    assert fits["pooled"]["p_value"] > 0.01 and fits["split"]["p_value_eps"] > 0.01
    assert fits["pooled"]["df"] == 4 * 40 - 1


def test_fit_scale_detects_growth(rng):
    flat_eps = A.fit_scale(_synthetic_table(rng, 0.0, 0.5))  # noise not shrinking with ε
    assert flat_eps["split"]["p_value_eps"] < 1e-6
    fast = A.fit_scale(_synthetic_table(rng, 0.8, 0.8))  # grows faster than sqrt(εT)
    assert fast["pooled"]["p_value"] < 1e-6


def test_the_eps_exponent_test_has_the_noncentral_t_power_of_an_injected_deficit(rng):
    """RMS·ε^{−Δ} moves the fitted ε exponent by exactly −Δ and leaves its se, so the test's power is
    the noncentral t at the run's se; over 300 tables with the exponent short by Δ (near the detection
    threshold at level 0.01) the rejection rate matches it, the formula taken at the spread of the
    estimates over the tables."""
    from mfcheck.stats.power import t_test_power

    table = _synthetic_table(rng, 0.5, 0.5, R=12)
    before = A.fit_scale(table)["split"]
    shift = 1.2 * float(stats.t.isf(0.01, before["df"])) * before["coef"]["eps"]["se"]
    after = A.fit_scale({**table, "rms": table["rms"] * table["eps"] ** (-shift)})["split"]
    assert before["coef"]["eps"]["estimate"] - after["coef"]["eps"]["estimate"] == pytest.approx(shift, rel=1e-9)
    assert after["coef"]["eps"]["se"] == pytest.approx(before["coef"]["eps"]["se"], rel=1e-9)
    fits = [A.fit_scale(_synthetic_table(rng, 0.5 - shift, 0.5, R=12))["split"] for _ in range(300)]
    rejected = np.mean([f["p_value_eps"] <= 0.01 for f in fits])
    predicted = t_test_power(shift, float(np.std([f["coef"]["eps"]["estimate"] for f in fits], ddof=1)), before["df"], 0.01)
    assert 0.2 < predicted < 0.9 and abs(rejected - predicted) < 0.1, (rejected, predicted)  # binomial sd ≤ 0.03


def test_fit_scale_rejects_degenerate_input(rng):
    table = _synthetic_table(rng, 0.5, 0.5)
    table["rms"][0] = 0.0
    with pytest.raises(InvalidArgument, match="rms"):
        A.fit_scale(table)


def test_subgaussian_scales(pop, rho0):
    m = _run(pop, rho0, R=4)
    out = A.subgaussian_scales([m], np.array([4, 8]))
    assert len(out) == 2
    for s in out:
        assert s["ci"][0] <= s["sigma_hat"] <= s["ci"][1]
        assert s["looseness"] > 1  # Azuma's proxy is an upper bound of the scale


# -- run and render ------------------------------------------------------------------------------------------


def test_run_and_render_tiny(monkeypatch, tmp_path, pop, rho0):
    monkeypatch.setitem(A.SIZES, "smoke", A.Sizes(N=6, replicates=12, eps=(1 / 16, 1 / 32), times=(0.25, 0.5)))
    exp = Experiment(problem=pop, neuron=INNER, rho0=rho0, T=0.5, seed=11)
    ctx = CheckContext(experiment=exp, tier=get_tier("smoke"), reference=None)  # the check needs no reference flow
    r1 = A.run(ctx)
    r2 = A.run(ctx)
    assert [t.p_value for t in r1.tests] == [t.p_value for t in r2.tests]  # fixed seeds
    assert len(r1.tests) == len(A.Z_GRID) + 2  # the tails, their Bonferroni combination, the ε exponent
    assert sum(t.in_family for t in r1.tests) == A.CLAIM.test_count == 2
    assert all(0 <= t.p_value <= 1 for t in r1.tests)
    assert "pooled exponent (εT)" in r1.estimates and "exponent in ε" in r1.estimates
    assert all(t.statistic in r1.estimates for t in r1.tests)  # each test names the estimate it judges
    assert r1.details["drift_mismatch_max"] < 1e-12
    found = A.power(r1, 0.025)  # both counted tests state their power
    assert set(found["test_power"]) == {t.name for t in r1.tests if t.in_family} and "short of 0.5 by 0.4" in found["against"]
    decided = decide([r1], 0.05)[0]
    write_report(A.CLAIM, decided, ctx, tmp_path)
    folder = tmp_path / "azuma"
    text = (folder / "report.md").read_text()
    assert "Verdict" in text and "Holm-adjusted" in text and "Reference error" in text
    assert (folder / "scale.png").stat().st_size > 0 and (folder / "tail.png").stat().st_size > 0
    import json

    json.dumps(decided.to_dict())  # JSON-able details


def test_run_rejects_unknown_tier(pop, rho0):
    from mfcheck.claims.tiers import Tier

    exp = Experiment(problem=pop, neuron=INNER, rho0=rho0, T=0.5)
    ctx = CheckContext(experiment=exp, tier=Tier("weird", (4,), (0.1,), 2, 2, 8), reference=None)
    with pytest.raises(InvalidArgument, match="tier"):
        A.run(ctx)


def test_run_rejects_times_beyond_T(monkeypatch, pop, rho0):
    monkeypatch.setitem(A.SIZES, "smoke", A.Sizes(N=4, replicates=2, eps=(1 / 16, 1 / 32), times=(0.25, 1.0)))
    exp = Experiment(problem=pop, neuron=INNER, rho0=rho0, T=0.5)
    with pytest.raises(InvalidArgument, match="T"):
        A.run(CheckContext(experiment=exp, tier=get_tier("smoke"), reference=None))


def test_claim_object():
    assert A.CLAIM.name == "azuma" and A.CLAIM.compute is A.run and A.CLAIM.sizes is A.SIZES
