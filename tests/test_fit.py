"""mfcheck.claims.fit on synthetic sweep tables with a known truth.

Synthetic statistics S = c · shape(N, ε) · exp(0.2 G) (G standard normal, shape the statistic's
predicted shape √max(1/N, ε)·L) satisfy the claim exactly; S growing along the limit, or
carrying a constant bias, must fail. Seeds are fixed; the correct cases pass at family-wise
α = 0.05 (false-alarm rate ≤ 0.05 by Holm for any seed), and each broken case must be rejected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mfcheck.claims import get_claim
from mfcheck.claims.fit import DELTA_FAIL, TAIL_CELLS, Design, decide, fit_claim, judge
from mfcheck.claims.tiers import get_tier
from mfcheck.errors import InvalidArgument
from mfcheck.seeds import Streams

CLAIM = get_claim("theorem1_risk")
COUPLING = get_claim("coupling_lemma")
D, T, J = 3, 1.0, 17


def _shape(claim, N, eps):
    return np.sqrt(np.maximum(1.0 / N, eps)) * claim.log_factor(np.asarray(N, float), eps, D, J)


def _table(rng, growth=0.0, replicates=24, noise=0.2, eps_growth=0.0, claim=CLAIM, plateau=0.0):
    rows = []
    for path, N, eps in get_tier("ci").cells():
        for r in range(replicates):
            s = 0.3 * _shape(claim, N, eps) * np.exp(noise * rng.standard_normal())
            if path == "N":
                s *= (N / 16) ** growth
            else:
                s *= (1 / (16 * eps)) ** eps_growth
            rows.append({"path": path, "N": N, "eps": eps, "replicate": r, claim.statistic: s + plateau})
    return pd.DataFrame(rows)


def _fit(table, claim=CLAIM, **kw):
    return fit_claim(claim, table, D=D, T=T, J=J, reference_error=kw.pop("reference_error", 1e-6), **kw)


def test_exact_shape_passes_with_its_evidence(rng):
    res = _fit(_table(rng))
    assert res.verdict == "pass", res.message
    assert set(res.exponents) == {"N", "eps"} and set(res.plateaus) == {"N", "eps"}
    assert len(res.evidence) == 4 and all(e.holds for e in res.evidence)
    assert "exponent in 1/N" in res.decided_by


@pytest.mark.parametrize("claim", [CLAIM, COUPLING], ids=["average", "max over particles"])
def test_a_statistic_following_the_predicted_shape_fits_one_half(claim):
    """S = c N^{-1/2} (an average on a fixed grid of times; times √(D + log(J N)) for a maximum over
    particles) fits 0.5 on the N-path: the log factor is the statistic's own, not counted twice."""
    rows = []
    rng = Streams(3).child("fit").generator("data")
    for path, N, eps in get_tier("ci").cells():
        extra = np.sqrt(D + np.log(J * N)) if claim.over_particles else 1.0
        for r in range(24):
            rows.append({"path": path, "N": N, "eps": eps, "replicate": r,
                         claim.statistic: 0.2 * extra * np.sqrt(max(1 / N, eps)) * np.exp(1e-3 * rng.standard_normal())})
    res = _fit(pd.DataFrame(rows), claim)
    for e in res.exponents.values():
        assert e.ci[0] <= 0.5 <= e.ci[1], (e.estimate, e.ci)


def test_exponent_ci_coverage():
    """The 95 % CI of the exponent covers the true 0.5 in about 95 % of 400 seeded tables.

    Acceptance: at least 366 of 400 (P(Binom(400, 0.95) < 366) ≈ 1e-3, the false-alarm rate)."""
    rng = Streams(11).child("coverage").generator("data")
    table = _table(rng, replicates=8)
    design = Design.of(table, CLAIM, D, T, J)
    noise = np.exp(0.2 * rng.standard_normal((400, len(table))))
    S = 0.3 * design.root * design.log_factor * noise
    fit = judge(S, design, CLAIM.predicted)["exp_N"]
    half = 1.9636 * fit.se[:, 1]  # t_{0.975} at the N-path's 46 degrees of freedom
    covered = np.sum(np.abs(fit.params[:, 1] - 0.5) <= half)
    assert covered >= 366


def test_faster_decay_is_not_a_violation(rng):
    # the claim is an upper bound: S decaying faster than the bound must pass
    res = _fit(_table(rng, growth=-0.3, eps_growth=-0.3))
    assert res.verdict == "pass"
    assert res.exponents["N"].estimate > 0.6


@pytest.mark.parametrize("growth,eps_growth,failing", [(0.25, 0.0, "N-path"), (0.0, 0.25, "ε-path")])
def test_growth_along_either_path_fails(rng, growth, eps_growth, failing):
    res = _fit(_table(rng, growth=growth, eps_growth=eps_growth))
    assert res.verdict == "fail"
    assert any(failing in t.name and t.rejected for t in res.tests)


@pytest.mark.parametrize("short,rejected", [(0.6 * DELTA_FAIL, False), (DELTA_FAIL + 0.05, True)])
def test_the_growth_test_rejects_beyond_its_margin(short, rejected):
    """Against the theorem's scale, an exponent short of 1/2 by less than DELTA_FAIL (a log factor
    that approaches its √log n growth from below, as a maximum of independent errors does) is not
    rejected; one short by DELTA_FAIL + 0.05 is, at the Bonferroni level 0.05/39 of a gate run."""
    rng = Streams(7).child("margin").generator("data")
    table = _table(rng, replicates=48)
    design = Design.of(table, COUPLING, D, T, J)
    S = 0.3 * design.scale * np.exp(-short * design.x) * np.exp(0.05 * rng.standard_normal(len(table)))
    j = judge(S, design, COUPLING.predicted)
    for p in ("N", "eps"):
        assert abs(float(j[f"growth_fit_{p}"].params[1]) - (0.5 - short)) < 0.01
        assert (float(j[f"growth_{p}"]) <= 0.05 / 39) == rejected


def test_a_plateau_fails_the_plateau_test(rng):
    """A constant bias as large as the statistic at the largest N does not vanish: rejected."""
    at_limit = 0.3 * _shape(CLAIM, 512, 1 / 4096)
    res = _fit(_table(rng, plateau=at_limit))
    assert res.verdict == "fail"
    assert any(t.name.startswith("plateau") and t.rejected for t in res.tests)
    assert res.plateaus["N"].b > 0


def test_too_few_replicates_is_unresolved_with_a_recommendation(rng):
    """Two replicates per cell reject nothing but cannot show the exponent within DELTA: unresolved."""
    res = _fit(_table(rng, replicates=2, noise=0.6))
    assert res.verdict == "unresolved", res.message
    assert res.decided_by.startswith("evidence lacking")
    assert res.replicates > 2


def test_a_tail_that_grows_along_the_limit_fails_the_tail_check(rng):
    """One replicate in three is 4× larger in the cells nearest the limit only: Ĉ, calibrated on the
    other cells, is exceeded there far more often than e^{−z²}."""
    df = _table(rng, noise=0.05)
    near = pd.Series(False, index=df.index)
    for path, key, ascending in (("N", "N", False), ("eps", "eps", True)):
        values = sorted(df.loc[df["path"] == path, key].unique(), reverse=not ascending)[:TAIL_CELLS]
        near |= (df["path"] == path) & df[key].isin(values)
    df.loc[near & (df["replicate"] % 3 == 1), "risk"] *= 4.0
    res = _fit(df)
    assert res.verdict == "fail"
    assert any(t.name.startswith("tail") and t.rejected for t in res.tests)


def test_large_reference_error_is_unresolved(rng):
    res = _fit(_table(rng), reference_error=1.0)
    assert res.verdict == "unresolved"
    assert "refine the reference" in res.message
    assert not any(c["resolved"] for c in res.cells)


def test_decide_applies_holm_across_claims(rng):
    a = _fit(_table(rng))
    b = _fit(_table(rng, growth=0.25))
    out = decide([a, b], 0.05)
    assert [r.verdict for r in out] == ["pass", "fail"]
    assert all(t.p_adjusted >= t.p_value for r in out for t in r.tests)
    assert sum(t.in_family for r in out for t in r.tests) == len(a.tests) + len(b.tests)


@pytest.mark.parametrize("kwargs,match", [
    ({"alpha": 0.0}, "alpha"),
    ({"alpha": 1.5}, "alpha"),
    ({"alpha": float("nan")}, "alpha"),
    ({"delta": -0.1}, "delta"),
    ({"delta_fail": 0.2}, "delta_fail"),
    ({"delta_fail": -0.01}, "delta_fail"),
    ({"plateau_fraction": 0.0}, "plateau_fraction"),
])
def test_bad_arguments(rng, kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        _fit(_table(rng), **kwargs)


def test_bad_table(rng):
    df = _table(rng)
    with pytest.raises(InvalidArgument, match="column"):
        _fit(df.drop(columns=["risk"]))
    df.loc[0, "risk"] = np.nan
    with pytest.raises(InvalidArgument, match="finite"):
        _fit(df)

