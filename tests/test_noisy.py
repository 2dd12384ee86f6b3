"""Noisy (Langevin) SGD: the rule MEAN_FIELD.noisy(λ, β) of mfcheck.dynamics.rules and the driver's noise.

Exact checks (no statistics): the rule is (1 − 2λs)θ + 2s(y − ŷ)∇σ* + sqrt(c s/β) g; its
conditional mean given θ (g averaged out, data averaged over the finite population) is
−2s ∇Ψ_λ(θ_i; ρ̂^N); the driver uses the init/data streams of the noiseless runs and the ("noise", r)
streams in order, so a reference can rebuild every g_i^k.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfcheck.model import functionals as F
from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.errors import InvalidArgument
from mfcheck.model.initial import GaussianInit
from mfcheck.dynamics.broken import BROKEN
from mfcheck.model.neurons import InnerNeuron
from mfcheck.dynamics.rules import DEFAULT_C, MEAN_FIELD, Langevin, Rule, gibbs_inverse_temperature, mean_field_step
from mfcheck.model.problems import teacher_population
from mfcheck.seeds import Streams
from mfcheck.dynamics.sgd import StandardRecord, noise_increments, run_sgd

INNER = InnerNeuron(erf_sigmoid())


@pytest.fixture(scope="module")
def pop():
    return teacher_population(n=20, d=2, teacher=tanh_sum((1.0,), (2.0,)), seed=4, noise=0.1)


@pytest.mark.parametrize("kwargs, name", [(dict(lam=-0.1, beta=1.0), "lam"), (dict(lam=0.1, beta=0.0), "beta"), (dict(lam=0.1, beta=-2.0), "beta"),
                                          (dict(lam=0.1, beta=1.0, c=0.0), "c"), (dict(lam=float("nan"), beta=1.0), "lam"),
                                          (dict(lam=0.1, beta=float("inf")), "beta")])
def test_langevin_validates(kwargs, name):
    with pytest.raises(InvalidArgument, match=f"`{name}`"):
        Langevin(**kwargs)
    with pytest.raises(InvalidArgument, match=f"`{name}`"):
        MEAN_FIELD.langevin(**kwargs)


def test_noisy_rule_needs_the_gaussians(pop, rng):
    Theta = rng.standard_normal((2, 4, 2))
    x, y = pop.sample(rng, 2)
    with pytest.raises(InvalidArgument, match="`g`"):
        MEAN_FIELD.noisy(0.1, 1.0)(Theta, x, y, 0.05, INNER)


def test_update_formula_exact(pop, rng):
    lam, beta, c, s = 0.3, 2.5, 4.0, 0.07
    Theta = rng.standard_normal((3, 5, 2))
    x, y = pop.sample(rng, 3)
    g = rng.standard_normal(Theta.shape)
    got = MEAN_FIELD.langevin(lam, beta, c)(Theta, x, y, s, INNER, g)
    yhat = INNER.value(x[:, None, :], Theta).mean(axis=-1)[:, 0]  # (R,)
    grad = INNER.activation.prime(np.einsum("rnd,rd->rn", Theta, x))[..., None] * x[:, None, :]  # ∇σ*(x; θ_i)
    want = (1 - 2 * lam * s) * Theta + 2 * s * (y - yhat)[:, None, None] * grad + math.sqrt(c * s / beta) * g
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)


def test_zero_noise_zero_ridge_is_mean_field_step(pop, rng):
    Theta = rng.standard_normal((2, 4, 2))
    x, y = pop.sample(rng, 2)
    got = MEAN_FIELD.noisy(0.0, 1.0)(Theta, x, y, 0.05, INNER, np.zeros_like(Theta))
    np.testing.assert_array_equal(got, mean_field_step(Theta, x, y, 0.05, INNER))


def test_conditional_mean_is_minus_grad_psi_lambda(pop, rng):
    """E over the population (g = 0) of the increment == −2s(∇Ψ(θ_i; ρ̂^N) + λθ_i), to 1e-12."""
    lam, s = 0.4, 0.03
    Theta = 0.7 * rng.standard_normal((6, 2))
    batch = np.broadcast_to(Theta, (pop.n,) + Theta.shape)
    inc = MEAN_FIELD.noisy(lam, 3.0)(batch, pop.X, pop.y, s, INNER, np.zeros_like(batch)) - Theta
    want = -2 * s * (F.grad_Psi(pop, INNER, Theta, Theta) + lam * Theta)
    np.testing.assert_allclose(inc.mean(axis=0), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("c", [1.0, 2.0, 4.0])
def test_noise_scale_and_ou_stationary_variance(c):
    """Noise coefficient sqrt(c s/β); with no data term the rule is the AR(1) θ ← aθ + b g with
    stationary variance b²/(1 − a²) → c/(4βλ) as s → 0: the Gibbs variance 1/(βλ) of exp(−βλθ²/2)
    exactly when c = 4 (docs/theory.md §2)."""
    lam, beta, s = 0.5, 4.0, 1e-6
    rule = Rule("identity", lambda Theta, x, y, s, neuron: Theta).langevin(lam, beta, c)
    one = np.ones((1, 1, 1))
    a = rule(one, None, None, s, INNER, np.zeros_like(one))[0, 0, 0]
    b = rule(np.zeros_like(one), None, None, s, INNER, one)[0, 0, 0]
    assert a == pytest.approx(1 - 2 * lam * s, abs=1e-15)
    assert b == pytest.approx(math.sqrt(c * s / beta), rel=1e-12)
    assert b**2 / (1 - a**2) == pytest.approx(c / (4 * beta * lam), rel=1e-5)
    assert (b**2 / (1 - a**2) == pytest.approx(1 / (beta * lam), rel=1e-5)) == (c == 4.0)


def test_gibbs_inverse_temperature():
    assert gibbs_inverse_temperature(3.0) == 3.0
    assert gibbs_inverse_temperature(3.0, 2.0) == 6.0
    assert gibbs_inverse_temperature(3.0, 1.0) == 12.0
    assert DEFAULT_C == 4.0
    with pytest.raises(InvalidArgument, match="`c`"):
        gibbs_inverse_temperature(1.0, -1.0)


def test_weak_noise_is_c_one_and_keeps_drift(pop, rng):
    weak = BROKEN["weak_noise"].rule
    rule = weak.noisy(0.2, 2.0)
    Theta = rng.standard_normal((2, 3, 2))
    x, y = pop.sample(rng, 2)
    g = rng.standard_normal(Theta.shape)
    np.testing.assert_array_equal(rule(Theta, x, y, 0.1, INNER, g), MEAN_FIELD.langevin(0.2, 2.0, 1.0)(Theta, x, y, 0.1, INNER, g))
    np.testing.assert_array_equal(weak.langevin(0.2, 2.0)(Theta, x, y, 0.1, INNER, g), MEAN_FIELD.noisy(0.2, 2.0)(Theta, x, y, 0.1, INNER, g))
    no_factor_two = BROKEN["no_factor_two"].rule
    drifted = no_factor_two.noisy(0.2, 2.0)(Theta, x, y, 0.1, INNER, g)
    np.testing.assert_allclose(drifted, no_factor_two(Theta, x, y, 0.1, INNER) - 0.04 * Theta + math.sqrt(0.2) * g, atol=1e-14)


def test_standard_normal_draws_are_chunk_invariant():
    """The noise convention relies on it: chunked draws equal one long draw."""
    a = np.random.default_rng(np.random.SeedSequence(5)).standard_normal((7, 3, 2))
    g = np.random.default_rng(np.random.SeedSequence(5))
    b = np.concatenate([g.standard_normal((3, 3, 2)), g.standard_normal((4, 3, 2))])
    np.testing.assert_array_equal(a, b)


def _kw(pop, record_dt=0.1, **over):
    kw = dict(N=3, eps=0.01, T=0.5, replicates=2, streams=Streams(11), record=StandardRecord(record_dt))
    kw.update(over)
    return kw


def _noise_only() -> Rule:
    """θ ← θ + g: the harness's Gaussians alone (a rule with a noisy step of its own)."""
    return Rule("noise_only", lambda Th, x, y, s, n: Th, noisy_step=lambda Th, x, y, s, n, g, noise: Th + g).noisy(0.0, 1.0)


@pytest.mark.parametrize("noise_floats", [1 << 21, 12 * 7])
def test_noise_comes_from_noise_streams_across_chunks(pop, monkeypatch, noise_floats):
    """With the rule θ ← θ + g, θ^k = θ^0 + Σ_{k'<k} g^{k'}: the increments are noise_increments, also past a
    data chunk and whatever the block of steps whose noise is held at once (here 2048 or 7 steps)."""
    import mfcheck.dynamics.sgd

    monkeypatch.setattr(mfcheck.dynamics.sgd, "_NOISE_FLOATS", noise_floats)
    eps, T = 0.001, 2.1  # 2100 steps > one 2048-step chunk
    res = run_sgd(pop, INNER, GaussianInit(2, 0.5), _noise_only(), **_kw(pop, eps=eps, T=T, record_dt=0.1))
    streams = Streams(11)
    for r in range(2):
        g = noise_increments(streams, r, 3, 2, 2100)
        path = res.theta[r, 0] + np.concatenate([np.zeros((1, 3, 2)), np.cumsum(g, axis=0)])
        np.testing.assert_allclose(res.theta[r], path[res.steps], rtol=0, atol=1e-11)


def test_same_init_and_data_as_the_noiseless_run(pop):
    """A noisy rule that ignores g reproduces the noiseless run exactly (same init and data streams; the
    numpy loop is the same, the compiled backend agrees up to rounding)."""
    kw = _kw(pop, T=0.3)
    a = run_sgd(pop, INNER, GaussianInit(2, 0.5), **kw, backend="numpy")
    np.testing.assert_allclose(run_sgd(pop, INNER, GaussianInit(2, 0.5), **kw, backend="numba").theta, a.theta, rtol=0, atol=1e-12)
    ignores_g = Rule("ignores_g", mean_field_step, noisy_step=lambda Th, x, y, s, n, g, noise: mean_field_step(Th, x, y, s, n))
    b = run_sgd(pop, INNER, GaussianInit(2, 0.5), ignores_g.noisy(0.5, 4.0), **kw)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.risk, b.risk)
    np.testing.assert_array_equal(a.times, b.times)


def test_run_shapes_reproducible_and_replicate_independent(pop):
    rule = MEAN_FIELD.noisy(0.5, 4.0)
    a = run_sgd(pop, INNER, GaussianInit(2, 0.5), rule, **_kw(pop))
    b = run_sgd(pop, INNER, GaussianInit(2, 0.5), rule, **_kw(pop))
    c = run_sgd(pop, INNER, GaussianInit(2, 0.5), rule, **_kw(pop, replicates=3))
    assert a.theta.shape == (2, 6, 3, 2) and a.risk.shape == (2, 6) and a.f_means.shape == (2, 6, 0)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.theta, c.theta[:2])  # replicate r does not depend on how many run beside it
    assert not np.allclose(a.theta[0], a.theta[1])


def test_noise_changes_the_path(pop):
    quiet = run_sgd(pop, INNER, GaussianInit(2, 0.5), MEAN_FIELD.noisy(0.5, 1e12), **_kw(pop))
    loud = run_sgd(pop, INNER, GaussianInit(2, 0.5), MEAN_FIELD.noisy(0.5, 1.0), **_kw(pop))
    assert np.max(np.abs(loud.theta[:, -1] - quiet.theta[:, -1])) > 0.1


@pytest.mark.parametrize("over, name", [(dict(N=0), "N"), (dict(replicates=0), "replicates"), (dict(eps=-1.0), "eps"), (dict(record_dt=0.013), "record_dt")])
def test_run_validates(pop, over, name):
    with pytest.raises(InvalidArgument, match=f"`{name}`"):
        run_sgd(pop, INNER, GaussianInit(2, 0.5), MEAN_FIELD.noisy(0.5, 4.0), **_kw(pop, **over))


def test_run_rejects_bad_rule_and_shape(pop):
    with pytest.raises(InvalidArgument, match="rule"):
        run_sgd(pop, INNER, GaussianInit(2, 0.5), mean_field_step, **_kw(pop))
    with pytest.raises(InvalidArgument, match="rho0"):
        run_sgd(pop, INNER, GaussianInit(3, 0.5), MEAN_FIELD.noisy(0.5, 4.0), **_kw(pop))


def test_noise_increments_validates():
    with pytest.raises(InvalidArgument, match="n_steps"):
        noise_increments(Streams(1), 0, 2, 1, 0)
