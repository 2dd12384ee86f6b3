"""mfcheck.claims.fit on synthetic sweep tables with a known truth.

Synthetic statistics S = c · scale(N, ε) · exp(0.2 G) (G standard normal) satisfy the claim
exactly; S = c · scale · (N/16)^0.25 on the N-path grows along the limit and must fail.
Seeds are fixed; the correct case passes at family-wise α = 0.05 (false-alarm rate ≤ 0.05 by
Holm for any seed), and the broken case must be rejected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mfcheck.claims import get_claim
from mfcheck.errors import InvalidArgument
from mfcheck.claims.fit import _fit_path, decide, fit_claim
from mfcheck.claims.tiers import get_tier

CLAIM = get_claim("theorem1_risk")
D, T = 3, 1.0


def _table(rng, growth=0.0, replicates=24, noise=0.2, eps_growth=0.0):
    rows = []
    for path, N, eps in get_tier("ci").cells():
        for r in range(replicates):
            s = 0.3 * CLAIM.scale(N, eps, D, T, 0.0) * np.exp(noise * rng.standard_normal())
            if path == "N":
                s *= (N / 16) ** growth
            else:
                s *= (1 / (16 * eps)) ** eps_growth
            rows.append({"path": path, "N": N, "eps": eps, "replicate": r, "risk": s})
    return pd.DataFrame(rows)


def test_exact_shape_passes(rng):
    res = fit_claim(CLAIM, _table(rng), D=D, T=T, reference_error=1e-6)
    assert res.verdict == "pass", res.message
    assert set(res.exponents) == {"N", "eps"}


def test_exponent_ci_coverage():
    """The 95 % CI of the exponent covers the true 0.5 in about 95 % of 200 seeded tables.

    Acceptance: at least 178 of 200 (P(Binom(200, 0.95) < 178) ≈ 2e-4, the false-alarm rate).
    """
    covered = 0
    for seed in range(200):
        df = _table(np.random.default_rng(np.random.SeedSequence(seed)), replicates=8)
        e = _fit_path(df[df["path"] == "N"], CLAIM, "N", D, T)
        covered += e.ci[0] < 0.5 < e.ci[1]
    assert covered >= 178


def test_faster_decay_is_not_a_violation(rng):
    # the claim is an upper bound: S decaying faster than the bound must pass
    res = fit_claim(CLAIM, _table(rng, growth=-0.3, eps_growth=-0.3), D=D, T=T, reference_error=1e-6)
    assert res.verdict == "pass"
    assert res.exponents["N"].estimate > 0.6


@pytest.mark.parametrize("growth,eps_growth,failing", [(0.25, 0.0, "N-path"), (0.0, 0.25, "ε-path")])
def test_growth_along_either_path_fails(rng, growth, eps_growth, failing):
    res = fit_claim(CLAIM, _table(rng, growth=growth, eps_growth=eps_growth), D=D, T=T, reference_error=1e-6)
    assert res.verdict == "fail"
    assert any(failing in t.name and t.rejected for t in res.tests)


def test_heavy_tail_fails_tail_check(rng):
    df = _table(rng, noise=0.05)
    # one replicate in four is 3x larger, both halves alike: exceedances far above e^{-z^2} at z = 1.5, 2
    df.loc[df["replicate"] % 4 == 1, "risk"] *= 3.0
    res = fit_claim(CLAIM, df, D=D, T=T, reference_error=1e-6)
    assert res.verdict == "fail"
    assert any(t.name.startswith("tail") and t.rejected for t in res.tests)


def test_large_reference_error_is_unresolved(rng):
    res = fit_claim(CLAIM, _table(rng), D=D, T=T, reference_error=1.0)
    assert res.verdict == "unresolved"
    assert "refine the reference" in res.message
    assert not any(c["resolved"] for c in res.cells)


def test_decide_applies_holm_across_claims(rng):
    a = fit_claim(CLAIM, _table(rng), D=D, T=T, reference_error=1e-6)
    b = fit_claim(CLAIM, _table(rng, growth=0.25), D=D, T=T, reference_error=1e-6)
    out = decide([a, b], 0.05)
    assert [r.verdict for r in out] == ["pass", "fail"]
    pvals = [t.p_adjusted for r in out for t in r.tests]
    assert all(p >= t.p_value for r in out for t, p in zip(r.tests, [t.p_adjusted for t in r.tests]))
    assert len(pvals) == len(a.tests) + len(b.tests)


@pytest.mark.parametrize("kwargs,match", [
    ({"alpha": 0.0}, "alpha"),
    ({"alpha": 1.5}, "alpha"),
    ({"alpha": float("nan")}, "alpha"),
])
def test_bad_alpha(rng, kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        fit_claim(CLAIM, _table(rng), D=D, T=T, reference_error=1e-6, **kwargs)


def test_bad_table(rng):
    df = _table(rng)
    with pytest.raises(InvalidArgument, match="column"):
        fit_claim(CLAIM, df.drop(columns=["risk"]), D=D, T=T, reference_error=1e-6)
    df.loc[0, "risk"] = np.nan
    with pytest.raises(InvalidArgument, match="finite"):
        fit_claim(CLAIM, df, D=D, T=T, reference_error=1e-6)
