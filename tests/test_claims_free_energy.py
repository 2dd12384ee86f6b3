"""mfcheck.claims.free_energy: the pieces of the free-energy check (fast, small sizes)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mfcheck.claims.base import CheckContext
from mfcheck.claims.free_energy import (
    CLAIM, SIZES, Sizes, choose_dt, evaluate, free_energy_identity, gibbs_free_energy, kl_divergence,
)
from mfcheck.claims.temperature import BETA, LAM, setting
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import default_experiment
from mfcheck.reference.gibbs import solve_gibbs
from mfcheck.reference.fokker_planck import default_half_width, max_stable_dt
from mfcheck.report import write_report
from mfcheck.stats.results import decide, deciding
from mfcheck.claims.tiers import get_tier

SMALL = Sizes(cells=60, T=1.5, record_dt=1 / 8)


@pytest.fixture(scope="module")
def problem():
    return setting(20180427)


@pytest.fixture(scope="module")
def context():
    return CheckContext(experiment=default_experiment(log2_M=6), tier=get_tier("smoke"), reference=None)


def test_sizes_cover_every_tier():
    assert set(SIZES) == {"smoke", "ci", "full"}
    assert CLAIM.name == "free_energy"


def test_choose_dt_divides_the_record_spacing_and_is_stable(problem):
    p, nn, r0 = problem
    L = default_half_width(p, nn, r0, lam=LAM, beta=BETA, T=1.0)
    dt = choose_dt(p, nn, lam=LAM, beta=BETA, cells=100, half_width=L, record_dt=1 / 8)
    assert dt <= max_stable_dt(p, nn, lam=LAM, beta=BETA, cells=100, half_width=L) < 2 * dt
    assert (1 / 8) / dt == int((1 / 8) / dt)


def test_identity_holds_for_the_correct_solver_and_not_for_a_wrong_diffusion(problem):
    p, nn, r0 = problem
    good = free_energy_identity(p, nn, r0, lam=LAM, beta=BETA, cells=SMALL.cells, T=SMALL.T, record_dt=SMALL.record_dt)
    assert good.monotone and good.identity_holds
    assert 1.5 < good.observed_order < 2.5
    assert 0.5 < good.ratio < 2.0
    assert abs(good.slope - 1) < 0.1
    bad = free_energy_identity(p, nn, r0, lam=LAM, beta=BETA, cells=SMALL.cells, T=SMALL.T, record_dt=SMALL.record_dt,
                               diffusion_scale=2.0)
    assert not bad.identity_holds
    assert abs(bad.observed_order) < 0.5


def test_kl_and_gibbs_free_energy(problem):
    p, nn, r0 = problem
    ident = free_energy_identity(p, nn, r0, lam=LAM, beta=BETA, cells=SMALL.cells, T=SMALL.T, record_dt=SMALL.record_dt)
    g = solve_gibbs(p, nn, beta=BETA, lam=LAM, points=241, box=ident.fine.half_width)
    kl = kl_divergence(ident.fine, g)
    assert np.all(kl >= -1e-12) and kl[-1] < 0.05 * kl[0]
    F_star = gibbs_free_energy(p, g)
    # F_β(ρ) − F_β(ρ*) = β⁻¹ KL(ρ|ρ*) + ½‖ŷ_ρ − ŷ*‖² ≥ β⁻¹ KL (up to discretisation)
    gap = ident.fine.free_energy - F_star
    excess = gap - kl / BETA - 0.5 * np.mean((ident.fine.yhat[ident.fine.record_index] - g.yhat) ** 2, axis=1)
    assert np.max(np.abs(excess)) < 1e-4


def test_evaluate_and_render(context, tmp_path):
    result = evaluate(context, sizes=SMALL)
    [r] = decide([result], 0.05)
    assert r.verdict == "pass" and [t.p_value for t in r.tests] == [1.0, 1.0]
    assert all(t.statistic in r.estimates for t in r.tests)
    json.dumps(r.to_dict())
    write_report(CLAIM, r, context, tmp_path)
    text = (tmp_path / "free_energy" / "report.md").read_text()
    assert "PASS" in text and "free_energy.png" in text
    assert (tmp_path / "free_energy" / "free_energy.png").stat().st_size > 1000


def test_evaluate_rejects_wrong_diffusion(context):
    """A solver with its diffusion doubled breaks the identity: the self-check rejects, and the
    claim is unresolved (the harness cannot be trusted), spending no α."""
    [r] = decide([evaluate(context, diffusion_scale=2.0, sizes=SMALL)], 0.05)
    assert r.verdict == "unresolved" and r.decided_by.startswith("precondition")
    assert r.tests[1].rejected and not any(t.in_family for t in r.tests)
    d = deciding(r)  # the statistic shown is the failing self-check's
    assert d.why == "failing self-check" and d.statistics[0]["name"] in r.estimates


def test_unknown_tier_is_rejected(context):
    bad = dataclasses.replace(context, tier=dataclasses.replace(context.tier, name="huge"))
    with pytest.raises(InvalidArgument, match="tier"):
        CLAIM.run(bad)
