"""Tests of mfcheck.reference.fokker_planck: the noisy DD in D = 1 on a grid."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.claims.temperature import BETA, LAM, setting
from mfcheck.errors import InvalidArgument
from mfcheck.reference.gibbs import solve_gibbs
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems.finite import FinitePopulation, teacher_population
from mfcheck.reference.fokker_planck import (
    FPSolution, cell_averages_of_gaussian, default_half_width, max_stable_dt, refine_fokker_planck, scharfetter_gummel_B,
    solve_fokker_planck,
)

SEED = 20180427


@pytest.fixture(scope="module")
def problem():
    return setting(SEED)


def _dt(p, nn, cells, L, record_dt, lam=LAM, beta=BETA):
    limit = max_stable_dt(p, nn, lam=lam, beta=beta, cells=cells, half_width=L)
    dt = record_dt
    while dt > limit:
        dt /= 2
    return dt


def _solve(problem, cells, T, record_dt, refine=0, **kw):
    p, nn, r0 = problem
    L = default_half_width(p, nn, r0, lam=LAM, beta=BETA, T=T)
    dt = _dt(p, nn, cells, L, record_dt) / 4**refine
    return solve_fokker_planck(p, nn, r0, lam=LAM, beta=BETA, T=T, dt=dt, record_dt=record_dt, cells=cells * 2**refine, half_width=L, **kw)


def test_B_function():
    z = np.array([-30.0, -1.0, -1e-9, 0.0, 1e-9, 1.0, 30.0])
    B = scharfetter_gummel_B(z)
    np.testing.assert_allclose(B, [-30 / (math.exp(-30) - 1), 1 / (1 - math.e ** -1), 1, 1, 1, 1 / (math.e - 1), 30 / math.expm1(30)], rtol=1e-8)
    # B(z) − B(−z) = −z (the SG flux reduces to the exact drift–diffusion balance)
    np.testing.assert_allclose(scharfetter_gummel_B(z) - scharfetter_gummel_B(-z), -z, atol=1e-12)


def test_initial_cell_averages_are_exact():
    edges = np.linspace(-4, 4, 81)
    rho = cell_averages_of_gaussian(edges, 0.3, 0.7)
    dx = edges[1] - edges[0]
    assert abs(rho.sum() * dx - 1) < 1e-14
    exact = np.diff(norm.cdf(edges, 0.3, 0.7)) / dx
    np.testing.assert_allclose(rho, exact / (exact.sum() * dx), rtol=1e-8, atol=1e-300)


def test_mass_conservation_and_positivity(problem):
    s = _solve(problem, 100, 2.0, 1 / 8)
    assert isinstance(s, FPSolution)
    np.testing.assert_allclose(s.mass, 1.0, atol=1e-13)
    assert np.all(s.density >= 0)
    assert s.yhat.shape == (len(s.times), problem[0].n)
    assert s.density.shape == (len(s.record_times), 100)
    np.testing.assert_allclose(s.times[s.record_index], s.record_times)
    np.testing.assert_allclose(s.record_times, np.arange(17) / 8)


def test_free_energy_non_increasing(problem):
    s = _solve(problem, 100, 3.0, 1 / 16)
    assert np.max(np.diff(s.free_energy)) <= 1e-13
    assert np.all(s.dissipation >= 0)


def test_convergence_order_two_in_dx(problem):
    """Richardson on three levels (cells, dt/4 each): observed order of ŷ, R, F and ∫θ dρ > 1.5."""
    levels = [_solve(problem, 50, 0.5, 1 / 8, refine=k, test_functions=(lambda th: th[:, 0],)) for k in range(3)]
    for attr in ("risk", "free_energy", "f_integrals"):
        a, b, c = (np.asarray(getattr(s, attr)) for s in levels)
        e1, e2 = np.max(np.abs(a - b)), np.max(np.abs(b - c))
        assert math.log2(e1 / e2) > 1.5, (attr, e1, e2)
    y = [s.yhat[s.record_index] for s in levels]
    e1, e2 = np.max(np.abs(y[0] - y[1])), np.max(np.abs(y[1] - y[2]))
    assert math.log2(e1 / e2) > 1.5


def test_long_time_limit_is_the_gibbs_fixed_point(problem):
    """ŷ_T against solve_gibbs's ŷ*: the gap is at most the discretisation error (order-2 Richardson estimate
    4/3·|coarse − fine|) plus the remaining transient (estimated by the last change |ŷ_T − ŷ_{T−1}|: an
    exponential transient of rate κ leaves a remainder 1/(e^κ − 1) times that change, smaller than it once
    κ > log 2), with a factor 2 of margin."""
    p, nn, r0 = problem
    coarse, fine = _solve(problem, 80, 10.0, 1.0), _solve(problem, 80, 10.0, 1.0, refine=1)
    g = solve_gibbs(p, nn, beta=BETA, lam=LAM, points=801, box=coarse.half_width)
    y = coarse.yhat[coarse.record_index]
    err_coarse = 4 / 3 * np.max(np.abs(coarse.yhat[-1] - fine.yhat[-1])) + np.max(np.abs(y[-1] - y[-2]))
    gap = np.max(np.abs(coarse.yhat[-1] - g.yhat))
    assert gap <= 2 * err_coarse, (gap, err_coarse)
    assert gap < 1e-6
    assert abs(fine.risk[-1] - g.risk) < 1e-7


def _zero_problem():
    return FinitePopulation(np.zeros((4, 1)), np.zeros(4)), InnerNeuron(erf_sigmoid())


def test_no_data_is_ornstein_uhlenbeck():
    """Ψ ≡ 0 (x = 0, y = 0): ρ_t = N(m e^{−2λt}, s² e^{−4λt} + (βλ)^{-1}(1 − e^{−4λt})) (cell averages), order 2."""
    p, nn = _zero_problem()
    lam, beta, m, sd = 0.5, 2.0, 1.0, 0.3
    r0 = GaussianInit(1, sd, m)
    T, rec = 1.0, 1 / 4
    errs = []
    for cells in (100, 200):
        L = default_half_width(p, nn, r0, lam=lam, beta=beta, T=T)
        dt = _dt(p, nn, cells, L, rec, lam=lam, beta=beta) / (4 if cells == 200 else 1)
        s = solve_fokker_planck(p, nn, r0, lam=lam, beta=beta, T=T, dt=dt, record_dt=rec, cells=cells, half_width=L)
        edges = np.linspace(-L, L, cells + 1)
        t = s.record_times[:, None]
        mean = m * np.exp(-2 * lam * t)
        var = sd**2 * np.exp(-4 * lam * t) + (1 - np.exp(-4 * lam * t)) / (beta * lam)
        exact = np.diff(norm.cdf((edges[None, :] - mean) / np.sqrt(var)), axis=1) / s.dx
        errs.append(np.max(np.abs(s.density - exact)))
        np.testing.assert_allclose(s.risk, 0.0)
    assert errs[1] < 5e-3
    assert math.log2(errs[0] / errs[1]) > 1.5, errs


def test_dissipation_identity_order(problem):
    """δ = dF/dt + D (centred difference of the recorded F) shrinks at observed order > 1.5 under refinement of dx, dt, r."""
    coarse, fine = _solve(problem, 100, 2.0, 1 / 8), _solve(problem, 100, 2.0, 1 / 16, refine=1)
    c_c = (coarse.free_energy[2:] - coarse.free_energy[:-2]) / (2 / 8)
    idx = 2 * np.arange(1, len(coarse.record_times) - 1)
    c_f = (fine.free_energy[idx + 1] - fine.free_energy[idx - 1]) / (2 / 16)
    d_c = np.max(np.abs(c_c + coarse.dissipation[1:-1]))
    d_f = np.max(np.abs(c_f + fine.dissipation[idx]))
    assert math.log2(d_c / d_f) > 1.5, (d_c, d_f)
    assert d_f < 0.05 * np.max(fine.dissipation)


def test_wrong_diffusion_breaks_the_identity(problem):
    """Diffusion 2β⁻¹: the law relaxes to the Gibbs measure at β/2, where dF_β/dt → 0 but the β-dissipation does not."""
    coarse = _solve(problem, 100, 2.0, 1 / 8, diffusion_scale=2.0)
    c = (coarse.free_energy[2:] - coarse.free_energy[:-2]) / (2 / 8)
    assert abs(c[-1] + coarse.dissipation[-2]) > 0.5 * coarse.dissipation[-2]


def test_refine_reports_errors(problem):
    p, nn, r0 = problem
    L = default_half_width(p, nn, r0, lam=LAM, beta=BETA, T=0.5)
    dt = _dt(p, nn, 60, L, 1 / 8)
    coarse, fine, err = refine_fokker_planck(p, nn, r0, lam=LAM, beta=BETA, T=0.5, dt=dt, record_dt=1 / 8, cells=60,
                                             test_functions=(lambda th: np.tanh(th[:, 0]),))
    assert fine.grid.size == 120 and fine.dt == dt / 4 and fine.half_width == pytest.approx(coarse.half_width)
    assert set(err) == {"yhat", "risk", "f_integrals", "free_energy"}
    assert all(0 < v < 0.05 for v in err.values())


def test_input_validation(problem):
    p, nn, r0 = problem
    kw = dict(lam=LAM, beta=BETA, T=1.0, dt=1 / 1024, record_dt=1 / 8, cells=50)
    with pytest.raises(InvalidArgument, match="dt"):
        solve_fokker_planck(p, nn, r0, **{**kw, "dt": 0.5, "record_dt": 0.5})
    with pytest.raises(InvalidArgument, match="record_dt"):
        solve_fokker_planck(p, nn, r0, **{**kw, "record_dt": 0.3})
    with pytest.raises(InvalidArgument, match="dt"):
        solve_fokker_planck(p, nn, r0, **{**kw, "dt": 3 / 1024})
    with pytest.raises(InvalidArgument, match="lam"):
        solve_fokker_planck(p, nn, r0, **{**kw, "lam": -1.0})
    with pytest.raises(InvalidArgument, match="beta"):
        solve_fokker_planck(p, nn, r0, **{**kw, "beta": 0.0})
    with pytest.raises(InvalidArgument, match="cells"):
        solve_fokker_planck(p, nn, r0, **{**kw, "cells": 2})
    with pytest.raises(InvalidArgument, match="diffusion_scale"):
        solve_fokker_planck(p, nn, r0, **kw, diffusion_scale=0.0)
    with pytest.raises(InvalidArgument, match="rho0"):
        solve_fokker_planck(p, nn, GaussianInit(2, 0.5), **kw)
    p3 = teacher_population(8, 3, tanh_sum((1.0,), (2.0,)), seed=1)
    with pytest.raises(InvalidArgument, match="d = 1"):
        solve_fokker_planck(p3, nn, r0, **kw)
    with pytest.raises(InvalidArgument, match="test_functions"):
        solve_fokker_planck(p, nn, r0, **kw, test_functions=(3,))
