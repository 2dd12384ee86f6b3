"""Unit tests of mfcheck.dynamics.rules and mfcheck.dynamics.sgd: the mean-field step and the one driver.

The key identity (docs/theory.md §2): for a fresh sample (x, y) ~ P,
E[θ_i^{k+1} - θ_i^k | θ^k] = -2 s_k ∇_θ Ψ(θ_i^k; ρ̂^{N,k}).
For a finite population the expectation is an exact average over the n points; for any P it
is checked by Monte Carlo. A mutant (missing factor 2) must fail both checks; every broken rule of
the registry breaks the exact identity.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfcheck.model import functionals as F
from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.errors import InvalidArgument
from mfcheck.model.initial import GaussianInit
from mfcheck.dynamics.broken import BROKEN, LATE_BUDGET, mean_squared_weight
from mfcheck.model.neurons import AffineNeuron, InnerNeuron
from mfcheck.model.observables import default_test_functions
from mfcheck.model.problems import TeacherStudent, teacher_population
from mfcheck.model.schedules import constant, exponential_decay
from mfcheck.seeds import Streams
from mfcheck.dynamics.rules import MEAN_FIELD, mean_field_step
from mfcheck.dynamics.sgd import SGDResult, StandardRecord, initial_particles, record_steps, run_sgd

TEACHER = tanh_sum(amplitudes=(2.0,), slopes=(1.5,))
INNER = InnerNeuron(erf_sigmoid())

# CLT tolerance: |mean - expected| <= Z_TOL standard errors per coordinate. For a normal
# statistic P(|Z| > 5) ≈ 5.7e-7, so the false-alarm rate is ≈ 5.7e-7 per coordinate
# (≤ 5.7e-7 · N·D ≈ 1.4e-5 for the 24 coordinates below, by a union bound).
Z_TOL = 5.0


@pytest.fixture(scope="module")
def pop():
    return teacher_population(n=50, d=3, teacher=TEACHER, seed=3, noise=0.2)


# -- the conditional mean of one step ----------------------------------------------------


def exact_conditional_mean_holds(update, pop, neuron, Theta, s) -> bool:
    """E over the n population points of one increment == -2 s ∇Ψ(θ_i; ρ̂^N), to 1e-12."""
    n = pop.n
    batch = np.broadcast_to(Theta, (n,) + Theta.shape)  # one "replicate" per population point
    increments = update(batch, pop.X, pop.y, s, neuron) - Theta
    expected = -2.0 * s * F.grad_Psi(pop, neuron, Theta, Theta)
    return bool(np.allclose(increments.mean(axis=0), expected, rtol=0, atol=1e-12))


def monte_carlo_z(update, problem, neuron, Theta, s, rng, draws) -> np.ndarray:
    """Per-coordinate z-scores of the sample mean of `draws` increments against -2 s ∇Ψ."""
    x, y = problem.sample(rng, draws)
    increments = update(np.broadcast_to(Theta, (draws,) + Theta.shape), x, y, s, neuron) - Theta
    mean = increments.mean(axis=0)
    se = increments.std(axis=0, ddof=1) / math.sqrt(draws)
    expected = -2.0 * s * F.grad_Psi(problem, neuron, Theta, Theta)
    return (mean - expected) / se


def monte_carlo_mean_holds(update, problem, neuron, Theta, s, rng, draws=40_000) -> bool:
    # false-alarm rate ≈ 5.7e-7 per coordinate (see Z_TOL)
    return bool(np.all(np.abs(monte_carlo_z(update, problem, neuron, Theta, s, rng, draws)) <= Z_TOL))


@pytest.mark.parametrize("neuron", [INNER, AffineNeuron(tanh_sum())], ids=repr)
def test_conditional_mean_exact(pop, neuron, rng):
    Theta = 0.5 * rng.standard_normal((8, neuron.dim(pop.d)))
    for s in (0.01, 0.3):
        assert exact_conditional_mean_holds(mean_field_step, pop, neuron, Theta, s)


def test_conditional_mean_monte_carlo_finite(pop, rng):
    Theta = 0.5 * rng.standard_normal((8, 3))
    assert monte_carlo_mean_holds(mean_field_step, pop, INNER, Theta, 0.05, rng)


def test_conditional_mean_monte_carlo_gaussian_inputs(rng):
    """The same with continuous P (x ~ N(0, I), quadrature oracle; its error ≪ one standard error)."""
    problem = TeacherStudent(3, TEACHER, noise=0.2)
    Theta = 0.5 * rng.standard_normal((8, 3))
    assert monte_carlo_mean_holds(mean_field_step, problem, INNER, Theta, 0.05, rng)


def test_mutant_no_factor_two_fails_both_checks(pop, rng):
    """The check can fail: the step without the factor 2 has conditional mean -s ∇Ψ."""
    no_factor_two_step = BROKEN["no_factor_two"].rule
    Theta = 0.5 * rng.standard_normal((8, 3))
    assert not exact_conditional_mean_holds(no_factor_two_step, pop, INNER, Theta, 0.05)
    z = monte_carlo_z(no_factor_two_step, pop, INNER, Theta, 0.05, rng, 40_000)
    assert np.max(np.abs(z)) > 4 * Z_TOL  # power: the bias is many standard errors, not a borderline miss
    assert not monte_carlo_mean_holds(no_factor_two_step, pop, INNER, Theta, 0.05, rng)


@pytest.mark.parametrize("name", sorted(n for n, b in BROKEN.items() if b.replaces == "step"))
def test_every_broken_step_breaks_the_exact_mean(pop, name, rng):
    Theta = 0.5 * rng.standard_normal((8, 3))
    if name == "late_instability":  # the correct step below its weight budget (tests/test_broken.py): judge it above
        Theta *= 2.0 * np.sqrt(LATE_BUDGET / mean_squared_weight(Theta))
    assert not exact_conditional_mean_holds(BROKEN[name].rule, pop, INNER, Theta, 0.05)


def test_step_matches_formula(pop, rng):
    """θ_i + 2 s (y - (1/N) Σ_l σ(<θ_l, x>)) σ'(<θ_i, x>) x, written out for two replicates."""
    act = INNER.activation
    Theta = 0.5 * rng.standard_normal((2, 4, 3))
    x, y = pop.X[:2], pop.y[:2]
    s = 0.07
    got = mean_field_step(Theta, x, y, s, INNER)
    for r in range(2):
        yhat = np.mean([float(act(th @ x[r])) for th in Theta[r]])
        for i in range(4):
            expected = Theta[r, i] + 2 * s * (y[r] - yhat) * float(act.prime(Theta[r, i] @ x[r])) * x[r]
            np.testing.assert_allclose(got[r, i], expected, rtol=1e-14, atol=1e-15)


# -- run_sgd -----------------------------------------------------------------------------

SMALL = dict(N=16, eps=1 / 32, T=1.0, record=StandardRecord(0.25))


@pytest.fixture(scope="module")
def setting():
    problem = teacher_population(n=32, d=2, teacher=TEACHER, seed=9, noise=0.1)
    return problem, INNER, GaussianInit(D=2, scale=0.5)


def _run(setting, replicates=3, entropy=123, rule=MEAN_FIELD, record_dt=0.25, test_functions=(), **overrides):
    problem, neuron, rho0 = setting
    kwargs = {**SMALL, "replicates": replicates, "streams": Streams(entropy), "record": StandardRecord(record_dt, test_functions),
              **overrides}
    return run_sgd(problem, neuron, rho0, rule, **kwargs)


def test_result_shapes(setting):
    tfs = default_test_functions(2)
    res = _run(setting, test_functions=tfs)
    assert isinstance(res, SGDResult)
    J = 5  # t = 0, 0.25, 0.5, 0.75, 1
    assert res.times.shape == (J,) and res.steps.shape == (J,)
    assert res.theta.shape == (3, J, 16, 2)
    assert res.f_means.shape == (3, J, len(tfs))
    assert res.risk.shape == (3, J)
    assert res.N == 16 and res.eps == 1 / 32
    assert _run(setting).f_means.shape == (3, J, 0)


def test_recorded_observables_are_those_of_the_particles(setting):
    problem, neuron, rho0 = setting
    tfs = default_test_functions(2)
    res = _run(setting, test_functions=tfs)
    np.testing.assert_array_equal(res.theta[:, 0], initial_particles(rho0, Streams(123), 16, 3))
    for f, tf in enumerate(tfs):
        np.testing.assert_allclose(res.f_means[..., f], tf(res.theta).mean(axis=-1), rtol=1e-14)
    np.testing.assert_allclose(res.risk, F.risk(problem, neuron, res.theta), rtol=1e-14)


def test_record_times_are_exact_multiples(setting):
    res = _run(setting, eps=1 / 64, record_dt=1 / 8)
    np.testing.assert_array_equal(res.steps, np.arange(9) * 8)
    np.testing.assert_array_equal(res.times, res.steps * (1 / 64))
    np.testing.assert_allclose(res.times, np.arange(9) / 8, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(record_steps(1.0, 0.1, 0.2), [0, 2, 4, 6, 8, 10])


@pytest.mark.parametrize("schedule", [constant(1.0), exponential_decay(1.5, 0.7)], ids=repr)
def test_run_replays_the_recursion(setting, schedule):
    """Replicate r = θ^0 from ("init", r), data from ("data", r), s_k = ε ξ(kε), then the step.

    The runner draws its data in chunks; with T/ε + 1 ≤ the chunk size the whole stream is one
    draw of T/ε + 1 samples, which the replay repeats.
    """
    problem, neuron, rho0 = setting
    eps, T, N = 1 / 32, 0.5, 8
    res = _run(setting, replicates=2, N=N, eps=eps, T=T, record_dt=eps, schedule=schedule)
    streams = Streams(123)
    n_steps = 16
    for r in range(2):
        Theta = rho0.sample(streams.generator("init", r), N)
        X, y = problem.sample(streams.generator("data", r), n_steps + 1)
        for k in range(n_steps):
            np.testing.assert_allclose(res.theta[r, k], Theta, rtol=1e-13, atol=1e-15)
            s = eps * float(schedule(k * eps))
            Theta = mean_field_step(Theta[None], X[k : k + 1], y[k : k + 1], s, neuron)[0]
        np.testing.assert_allclose(res.theta[r, n_steps], Theta, rtol=1e-13, atol=1e-15)


def test_reproducible(setting):
    a, b = _run(setting), _run(setting)
    for field in ("times", "steps", "theta", "f_means", "risk"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = _run(setting, entropy=124)
    assert not np.array_equal(a.theta, c.theta)


def test_replicate_does_not_depend_on_how_many_run(setting):
    three, five = _run(setting, replicates=3), _run(setting, replicates=5)
    for r in range(3):
        np.testing.assert_array_equal(three.theta[r], five.theta[r])
        np.testing.assert_array_equal(three.risk[r], five.risk[r])
    # and replicates are different chains
    assert not np.array_equal(five.theta[0, -1], five.theta[1, -1])


def test_mutant_runs_at_half_speed(setting):
    """no_factor_two with ξ ≡ 1 is exactly the correct rule with ξ ≡ 1/2 on the same data (an exact
    identity of the numpy rules; the compiled backend gives it up to rounding)."""
    slow = _run(setting, rule=BROKEN["no_factor_two"].rule)
    half = _run(setting, schedule=constant(0.5), backend="numpy")
    np.testing.assert_array_equal(slow.theta, half.theta)
    np.testing.assert_allclose(_run(setting, schedule=constant(0.5), backend="numba").theta, half.theta, rtol=0, atol=1e-12)
    assert not np.array_equal(slow.theta, _run(setting).theta)


def test_risk_decreases_on_average(setting):
    """A sanity check, not a theorem test: 64 steps of SGD lower the mean risk over 8 replicates."""
    res = _run(setting, replicates=8, eps=1 / 64, T=2.0, record_dt=1.0)
    assert res.risk[:, -1].mean() < res.risk[:, 0].mean()


@pytest.mark.parametrize("N", [0, -1, 2.5, True, "16"])
def test_invalid_N(setting, N):
    with pytest.raises(InvalidArgument, match="`N`"):
        _run(setting, N=N)


@pytest.mark.parametrize("eps", [0, -1.0, math.nan, math.inf, True])
def test_invalid_eps(setting, eps):
    with pytest.raises(InvalidArgument, match="eps"):
        _run(setting, eps=eps)


@pytest.mark.parametrize("replicates", [0, -2, 1.5, True])
def test_invalid_replicates(setting, replicates):
    with pytest.raises(InvalidArgument, match="`replicates`"):
        _run(setting, replicates=replicates)


@pytest.mark.parametrize(
    "eps, T, record_dt, what",
    [
        (0.1, 1.0, 0.15, "multiple of `eps`"),
        (0.1, 1.0, 0.05, "multiple of `eps`"),
        (1 / 32, 1.0, 0.3125 * 1.5, "divide `T`"),
        (1 / 32, 1.0, 0.0, "record_dt"),
        (1 / 32, 0.0, 0.25, "`T`"),
        (1 / 32, -1.0, 0.25, "`T`"),
    ],
)
def test_invalid_record_grid(setting, eps, T, record_dt, what):
    with pytest.raises(InvalidArgument, match=what):
        _run(setting, eps=eps, T=T, record_dt=record_dt)


def test_rho0_of_wrong_dimension(setting):
    problem, neuron, _ = setting
    with pytest.raises(InvalidArgument, match="rho0"):
        run_sgd(problem, neuron, GaussianInit(D=3), replicates=1, streams=Streams(0), **SMALL)
    with pytest.raises(InvalidArgument, match="rho0"):
        run_sgd(problem, AffineNeuron(tanh_sum()), GaussianInit(D=2), replicates=1, streams=Streams(0), **SMALL)
