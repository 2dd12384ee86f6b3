"""mfcheck.reference.noisy_coupled: Brownian bridges and the coupled noisy SDE."""

from __future__ import annotations

import numpy as np
import pytest

from mfcheck.claims.theorem2 import noisy_experiment
from mfcheck.errors import InvalidArgument
from mfcheck.dynamics.rules import MEAN_FIELD
from mfcheck.dynamics.sgd import StandardRecord, noise_increments, run_sgd
from mfcheck.reference.fokker_planck import solve_fokker_planck
from mfcheck.reference.noisy_coupled import bridge_increments, couple_noisy
from mfcheck.seeds import Streams


def test_bridge_increments_sum_and_covariance():
    rng = np.random.default_rng(np.random.SeedSequence(3))
    dW = np.array([[0.7]])
    Z = rng.standard_normal((4, 200_000, 1, 1))
    inc = bridge_increments(np.broadcast_to(dW, (200_000, 1, 1)), Z, eps=0.5)
    assert np.allclose(inc.sum(axis=0), 0.7)
    # given the total, each of the m increments has mean dW/m and variance δ(1 − 1/m), δ = ε/m;
    # 5 standard errors on 2e5 samples (false-alarm rate ≈ 6e-7 each)
    d = 0.5 / 4
    se_mean = np.sqrt(d * 0.75 / 200_000)
    assert np.all(np.abs(inc.mean(axis=1).ravel() - 0.7 / 4) < 5 * se_mean)
    assert np.all(np.abs(inc.var(axis=1).ravel() / (d * 0.75) - 1) < 5 * np.sqrt(2 / 200_000))


@pytest.fixture(scope="module")
def cell():
    ex = noisy_experiment(7)
    field = solve_fokker_planck(ex.problem, ex.neuron, ex.rho0, lam=ex.lam, beta=ex.beta, T=0.25, dt=1 / 4096, record_dt=1 / 16, cells=200)
    st = Streams(7).child("test")
    sgd = run_sgd(ex.problem, ex.neuron, ex.rho0, MEAN_FIELD.noisy(ex.lam, ex.beta), N=16, eps=1 / 64, T=0.25, replicates=3, streams=st,
                  record=StandardRecord(1 / 16))
    g = np.stack([noise_increments(st, r, 16, 1, int(sgd.steps[-1])) for r in range(3)])
    return ex, field, sgd, g, st


def test_heun_converges_at_order_one_on_the_same_path(cell):
    ex, field, sgd, g, st = cell
    errs = []
    for m in (1, 2, 4):
        c, f = couple_noisy(field, ex.problem, ex.neuron, sgd.theta[:, 0], g, eps=1 / 64, lam=ex.lam, beta=ex.beta,
                            record_steps=sgd.steps, bridge_rngs=st.generators("reference", 3), substeps=m)
        errs.append(np.max(np.abs(c - f)))
    assert errs[0] / errs[1] > 1.6 and errs[1] / errs[2] > 1.6, errs


def test_replicates_do_not_depend_on_their_neighbours(cell):
    ex, field, sgd, g, st = cell
    kw = dict(eps=1 / 64, lam=ex.lam, beta=ex.beta, record_steps=sgd.steps, substeps=2)
    _, all3 = couple_noisy(field, ex.problem, ex.neuron, sgd.theta[:, 0], g, bridge_rngs=st.generators("reference", 3), **kw)
    _, one = couple_noisy(field, ex.problem, ex.neuron, sgd.theta[:1, 0], g[:1], bridge_rngs=st.generators("reference", 1), **kw)
    assert np.allclose(all3[:1], one, rtol=1e-12, atol=1e-14)


def test_coupled_particles_track_sgd_closely(cell):
    ex, field, sgd, g, st = cell
    _, f = couple_noisy(field, ex.problem, ex.neuron, sgd.theta[:, 0], g, eps=1 / 64, lam=ex.lam, beta=ex.beta,
                        record_steps=sgd.steps, bridge_rngs=st.generators("reference", 3), substeps=2)
    assert np.allclose(f[:, 0], sgd.theta[:, 0])
    # same noise: the distance is far below the spread of the noise itself (sqrt(4T/β) = 0.5)
    assert np.max(np.abs(f - sgd.theta)) < 0.25


def test_bad_input(cell):
    ex, field, sgd, g, st = cell
    kw = dict(eps=1 / 64, lam=ex.lam, beta=ex.beta, record_steps=sgd.steps)
    with pytest.raises(InvalidArgument, match="bridge_rngs"):
        couple_noisy(field, ex.problem, ex.neuron, sgd.theta[:, 0], g, bridge_rngs=st.generators("reference", 2), **kw)
    with pytest.raises(InvalidArgument, match="Shape"):
        couple_noisy(field, ex.problem, ex.neuron, sgd.theta[:, 0], g[:, :2], bridge_rngs=st.generators("reference", 3), **kw)
    with pytest.raises(InvalidArgument, match="FinitePopulation"):
        couple_noisy(field, object(), ex.neuron, sgd.theta[:, 0], g, bridge_rngs=st.generators("reference", 3), **kw)
