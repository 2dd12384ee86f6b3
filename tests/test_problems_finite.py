"""Unit tests of mfcheck.model.problems.finite: the exact oracle of a finite population P = (1/n) Σ δ_(x_j, y_j)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.errors import InvalidArgument, OutsideAssumptions
from mfcheck.model.neurons import AffineNeuron, InnerNeuron, Neuron
from mfcheck.model.problems import FinitePopulation, teacher_population

TEACHER = tanh_sum(amplitudes=(1.5,), slopes=(1.2,))
INNER = InnerNeuron(erf_sigmoid(1.0, 0.9))
AFFINE = AffineNeuron(tanh_sum(amplitudes=(0.8, 0.3), slopes=(1.0, 2.5), shifts=(0.0, 0.5)))
NEURONS = [INNER, AFFINE]


@pytest.fixture
def pop():
    return teacher_population(n=40, d=3, teacher=TEACHER, seed=11, noise=0.2)


def _theta(rng, neuron, M, d=3, scale=0.9):
    return scale * rng.standard_normal((M, neuron.dim(d)))


def _sigma_star(neuron, x, theta):
    act = neuron.activation
    if isinstance(neuron, InnerNeuron):
        return float(act(theta @ x))
    return theta[0] * float(act(theta[1:-1] @ x + theta[-1]))


def _fd_grad(f, Theta, h=1e-6):
    """Central differences of a function f(Theta) -> (M, ...) whose row m depends on Theta[m] only."""
    out = []
    for k in range(Theta.shape[1]):
        E = np.zeros_like(Theta)
        E[:, k] = h
        out.append((f(Theta + E) - f(Theta - E)) / (2 * h))
    return np.stack(out, axis=-1)


# -- the oracle against direct sums ------------------------------------------------------


def test_R_sharp(pop):
    assert pop.R_sharp == pytest.approx(sum(float(v) ** 2 for v in pop.y) / pop.n, rel=1e-14)


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_V_and_U_are_direct_sums(pop, neuron, rng):
    T1, T2 = _theta(rng, neuron, 4), _theta(rng, neuron, 3)
    V = [-sum(pop.y[j] * _sigma_star(neuron, pop.X[j], th) for j in range(pop.n)) / pop.n for th in T1]
    U = [[sum(_sigma_star(neuron, x, a) * _sigma_star(neuron, x, b) for x in pop.X) / pop.n for b in T2] for a in T1]
    np.testing.assert_allclose(pop.V(neuron, T1), V, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(pop.U(neuron, T1, T2), U, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(pop.U(neuron, T1, T1), pop.U(neuron, T1, T1).T, rtol=0, atol=1e-15)


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_gradients_match_finite_differences(pop, neuron, rng):
    T1, T2 = _theta(rng, neuron, 4), _theta(rng, neuron, 3)
    # central differences, h = 1e-6: truncation ~ 1e-12 |∂³|, round-off ~ 1e-16/h = 1e-10
    np.testing.assert_allclose(pop.grad_V(neuron, T1), _fd_grad(lambda T: pop.V(neuron, T), T1), rtol=0, atol=1e-8)
    np.testing.assert_allclose(pop.grad1_U(neuron, T1, T2), _fd_grad(lambda T: pop.U(neuron, T, T2), T1), rtol=0, atol=1e-8)


# -- the mean-field route through the predictor ------------------------------------------


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_predict_and_risk_of_prediction(pop, neuron, rng):
    Theta = _theta(rng, neuron, 6)
    yhat = [np.mean([_sigma_star(neuron, x, th) for th in Theta]) for x in pop.X]
    np.testing.assert_allclose(pop.predict(neuron, Theta), yhat, rtol=1e-13, atol=1e-15)
    w = rng.dirichlet(np.ones(6))
    yhat_w = [sum(wm * _sigma_star(neuron, x, th) for wm, th in zip(w, Theta)) for x in pop.X]
    np.testing.assert_allclose(pop.predict(neuron, Theta, w), yhat_w, rtol=1e-13, atol=1e-15)
    risk = sum((pop.y[j] - yhat[j]) ** 2 for j in range(pop.n)) / pop.n
    assert pop.risk_of_prediction(np.array(yhat)) == pytest.approx(risk, rel=1e-13)


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_predict_batched_over_replicates(pop, neuron, rng):
    Theta = 0.9 * rng.standard_normal((3, 5, neuron.dim(3)))
    yhat = pop.predict(neuron, Theta)
    assert yhat.shape == (3, pop.n)
    for r in range(3):
        np.testing.assert_allclose(yhat[r], pop.predict(neuron, Theta[r]), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(pop.risk_of_prediction(yhat), [pop.risk_of_prediction(yhat[r]) for r in range(3)], rtol=1e-14)


@pytest.mark.parametrize("neuron", NEURONS, ids=repr)
def test_grad_Psi_of_prediction_matches_oracle(pop, neuron, rng):
    """∇Ψ(θ; ρ) = ∇V(θ) + Σ_m w_m ∇₁U(θ, θ_m), computed from ŷ_ρ on the population."""
    theta, Theta = _theta(rng, neuron, 3), _theta(rng, neuron, 5)
    w = rng.dirichlet(np.ones(5))
    expected = pop.grad_V(neuron, theta) + np.einsum("kmD,m->kD", pop.grad1_U(neuron, theta, Theta), w)
    got = pop.grad_Psi_of_prediction(neuron, theta, pop.predict(neuron, Theta, w))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


# -- sampling ----------------------------------------------------------------------------


def test_sample_draws_population_points(pop):
    X, y = pop.sample(np.random.default_rng(np.random.SeedSequence(3)), (50, 2))
    assert X.shape == (50, 2, pop.d) and y.shape == (50, 2)
    X, y = X.reshape(-1, pop.d), y.ravel()
    # each draw is a row of the population, label included
    match = np.all(X[:, None, :] == pop.X[None, :, :], axis=-1)  # (draws, n)
    assert np.all(match.sum(axis=1) >= 1)
    idx = match.argmax(axis=1)
    np.testing.assert_array_equal(y, pop.y[idx])


def test_sample_is_reproducible(pop):
    a = pop.sample(np.random.default_rng(np.random.SeedSequence(7)), 30)
    b = pop.sample(np.random.default_rng(np.random.SeedSequence(7)), 30)
    c = pop.sample(np.random.default_rng(np.random.SeedSequence(8)), 30)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_sample_is_uniform_over_points(pop):
    """Counts of each of the n points in m draws: a chi-square test at false-alarm rate 1e-6."""
    from scipy import stats

    m = 40_000
    X, _ = pop.sample(np.random.default_rng(np.random.SeedSequence(5)), m)
    idx = np.all(X[:, None, :] == pop.X[None], axis=-1).argmax(axis=1)
    counts = np.bincount(idx, minlength=pop.n)
    assert stats.chisquare(counts).pvalue > 1e-6  # false-alarm rate 1e-6


def test_teacher_population_is_reproducible():
    a = teacher_population(n=10, d=2, teacher=TEACHER, seed=4, noise=0.1)
    b = teacher_population(n=10, d=2, teacher=TEACHER, seed=4, noise=0.1)
    c = teacher_population(n=10, d=2, teacher=TEACHER, seed=5, noise=0.1)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)
    assert np.all(np.abs(a.y - TEACHER(a.X[:, 0])) <= 0.1)
    clean = teacher_population(n=10, d=2, teacher=TEACHER, seed=4)
    np.testing.assert_array_equal(clean.y, TEACHER(clean.X[:, 0]))
    assert "seed=4" in repr(a)


def test_population_is_read_only(pop):
    with pytest.raises(ValueError):
        pop.X[0, 0] = 1.0
    with pytest.raises(ValueError):
        pop.y[0] = 1.0


# -- declared constants ------------------------------------------------------------------


def test_constants_never_exceeded(pop, rng):
    neuron = INNER
    c = pop.constants(neuron)
    tol = 1 + 1e-9  # float round-off only: every estimate below is a true lower bound of the constant
    assert np.max(np.abs(pop.y)) <= c.y_bound
    # points at several scales, so that <w, x> covers the flat and the steep parts of σ
    Theta = np.concatenate([s * rng.standard_normal((200, 3)) for s in (0.05, 0.3, 1.0, 3.0)])
    Theta2 = Theta + rng.standard_normal(Theta.shape) * rng.choice([1e-3, 1e-1, 1.0], size=(len(Theta), 1))
    assert np.max(np.abs(neuron.value(pop.X, Theta))) <= c.sigma_star_bound * tol
    assert np.max(np.linalg.norm(neuron.grad(pop.X, Theta), axis=-1)) <= c.grad_sigma_star_bound * tol
    gV, gV2 = pop.grad_V(neuron, Theta), pop.grad_V(neuron, Theta2)
    assert np.max(np.linalg.norm(gV, axis=-1)) <= c.grad_V_bound * tol
    lipV = np.linalg.norm(gV - gV2, axis=-1) / np.linalg.norm(Theta - Theta2, axis=-1)
    assert np.max(lipV) <= c.grad_V_lipschitz * tol
    # ∇₁U on pairs (θ, θ'), moved jointly to (θ2, θ2'): Lipschitz in the pair, Euclidean norm
    A, B = Theta[:200], Theta[200:400]
    A2, B2 = Theta2[:200], Theta2[200:400]
    gU = np.einsum("iiD->iD", pop.grad1_U(neuron, A, B))
    gU2 = np.einsum("iiD->iD", pop.grad1_U(neuron, A2, B2))
    assert np.max(np.linalg.norm(gU, axis=-1)) <= c.grad_U_bound * tol
    dist = np.sqrt(np.sum((A - A2) ** 2, axis=-1) + np.sum((B - B2) ** 2, axis=-1))
    assert np.max(np.linalg.norm(gU - gU2, axis=-1) / dist) <= c.grad_U_lipschitz * tol
    assert c.K == max(c.as_dict().values())
    assert pop.require_theorem_1(neuron) == c


def test_constants_formulas(pop):
    act = INNER.activation
    xmax = max(math.sqrt(sum(v * v for v in x)) for x in pop.X)
    c = pop.constants(INNER)
    ymax = max(abs(v) for v in pop.y)
    assert c.y_bound == ymax
    assert c.grad_sigma_star_bound == pytest.approx(act.sup_prime * xmax, rel=1e-14)
    assert c.grad_V_lipschitz == pytest.approx(ymax * act.lipschitz_prime * xmax**2, rel=1e-14)


def test_affine_constants_are_infinite(pop):
    c = pop.constants(AFFINE)
    assert c.y_bound == pop.y_bound
    assert all(math.isinf(v) for k, v in c.as_dict().items() if k != "y_bound")
    with pytest.raises(OutsideAssumptions):
        pop.require_theorem_1(AFFINE)


def test_unknown_neuron_has_no_constants(pop):
    class Odd(Neuron):
        pass

    with pytest.raises(InvalidArgument, match="constants"):
        pop.constants(Odd(erf_sigmoid()))


# -- bad inputs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "X, y, name",
    [
        ([[0.0, math.nan], [1.0, 2.0]], [1.0, 2.0], "`X`"),
        ([[0.0, math.inf], [1.0, 2.0]], [1.0, 2.0], "`X`"),
        ([[0.0, 1.0], [1.0, 2.0]], [1.0, math.nan], "`y`"),
        ([[0.0, 1.0], [1.0, 2.0]], [1.0, 2.0, 3.0], "`y`"),
        ([[0.0, 1.0], [1.0, 2.0]], [[1.0, 2.0]], "`y`"),
        (np.zeros((0, 2)), np.zeros(0), "`X`"),
        ([], [], "`X`"),
        ([1.0, 2.0], [1.0, 2.0], "`X`"),
        ([["a", "b"]], [1.0], "`X`"),
    ],
)
def test_bad_population_raises(X, y, name):
    with pytest.raises(InvalidArgument, match=name):
        FinitePopulation(X, y)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"n": 0}, "n"), ({"d": -1}, "d"), ({"n": 2.5}, "n"), ({"noise": -0.1}, "noise"), ({"noise": math.nan}, "noise"), ({"scale": 0.0}, "scale")],
)
def test_bad_teacher_population_raises(kwargs, name):
    args = {"n": 5, "d": 2, "teacher": TEACHER, "seed": 0, **kwargs}
    with pytest.raises(InvalidArgument, match=f"`{name}`"):
        teacher_population(**args)


def test_teacher_population_requires_an_int_seed():
    with pytest.raises(InvalidArgument, match="seed"):
        teacher_population(n=5, d=2, teacher=TEACHER, seed=None)
