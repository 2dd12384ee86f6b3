"""Tests of mfcheck.model.problems.teacher_student.TeacherStudent.

Monte Carlo comparisons use the CLT band |mean - oracle| ≤ 5 · (sample std) / √n. For one
comparison the false-alarm rate is the two-sided normal tail at 5σ, P(|Z| > 5) ≈ 5.7e-7;
this file makes fewer than 100 such comparisons, so fewer than 6e-5 in all. Seeds are fixed
(``numpy.random.default_rng(numpy.random.SeedSequence(<int>))``, never global state), so the
outcome is reproducible.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from mfcheck.model.activations import bounded_sine, erf_sigmoid, piecewise_linear, relu, tanh_sum
from mfcheck.errors import InvalidArgument, OutsideAssumptions
from mfcheck.model.functionals import risk_from_oracle
from mfcheck.model.neurons import AffineNeuron, InnerNeuron
from mfcheck.model.problems import TeacherStudent

N_MC = 200_000
Z_BAND = 5.0
# Exact-value checks (finite differences, dense grid, scipy.quad) use 160 nodes at argument
# scales |w| · slope ≤ 2 (the tests keep |w| ≤ 1.2 and slopes ≤ 1.5), where Gauss–Hermite
# converges geometrically for smooth σ (mfcheck/model/problems/_bivariate.py) and errs far
# less than the tolerances below.
N_NODES_CHECK = 160

TEACHER = erf_sigmoid(1.0, 1.0)
W_STAR = np.array([0.6, -0.72, 0.3])  # |w*| ≈ 0.985, not a basis vector
SMOOTH = {
    "tanh_sum": tanh_sum(amplitudes=(1.0, 0.5), slopes=(1.0, 1.5), shifts=(0.5, -1.0)),
    "erf_sigmoid": erf_sigmoid(1.0, 1.0),
    "bounded_sine": bounded_sine(1.0, 1.0, 0.7),
}


def rng_for(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed))


def clt_agrees(samples: np.ndarray, oracle) -> np.ndarray:
    """Elementwise |mean - oracle| ≤ 5 std/√n over axis 0 (false alarm ≈ 5.7e-7 each).

    The band is widened by n·eps·max|sample|, the worst-case rounding of the sum, which
    matters only where the sample is constant (std = 0, e.g. σ(0)² at w = 0).
    """
    n = samples.shape[0]
    se = samples.std(axis=0, ddof=1) / math.sqrt(n)
    rounding = n * np.finfo(np.float64).eps * np.abs(samples).max(axis=0)
    return np.abs(samples.mean(axis=0) - oracle) <= Z_BAND * se + rounding


def particles(d: int, M: int, seed: int, r_max: float = 1.2) -> np.ndarray:
    """M directions with norms spread in [0.2, r_max], plus a parallel copy and the origin."""
    rng = rng_for(seed)
    W = rng.standard_normal((M, d))
    W *= (np.linspace(0.2, r_max, M) / np.linalg.norm(W, axis=1))[:, None]
    return np.vstack([W, 0.5 * W[-1], -W[0], np.zeros(d)])


@pytest.fixture(params=list(SMOOTH), ids=list(SMOOTH))
def neuron(request):
    return InnerNeuron(SMOOTH[request.param])


# -- sampling and R_# ---------------------------------------------------------------------------
@pytest.mark.parametrize("noise", [0.0, 0.4])
def test_R_sharp_and_labels_against_monte_carlo(noise):
    problem = TeacherStudent(3, TEACHER, W_STAR, noise=noise)
    x, y = problem.sample(rng_for(11), N_MC)
    assert x.shape == (N_MC, 3) and y.shape == (N_MC,)
    assert np.abs(y).max() <= problem.y_bound == TEACHER.sup_norm + noise
    assert clt_agrees(y**2, problem.R_sharp)
    residual = y - TEACHER(x @ W_STAR)
    assert np.abs(residual).max() <= noise
    assert clt_agrees(residual, 0.0) and clt_agrees(residual**2, noise**2 / 3)
    assert np.all(clt_agrees(x[:, :, None] * x[:, None, :], np.eye(3)))


def test_sample_shape_with_leading_axes_and_default_w_star():
    problem = TeacherStudent(4, TEACHER)
    np.testing.assert_array_equal(problem.w_star, [1.0, 0.0, 0.0, 0.0])
    x, y = problem.sample(rng_for(12), (2, 5))
    assert x.shape == (2, 5, 4) and y.shape == (2, 5)
    np.testing.assert_array_equal(y, TEACHER(x[..., 0]))


def test_R_sharp_against_scipy_quad():
    problem = TeacherStudent(3, TEACHER, W_STAR, noise=0.4, n_nodes=N_NODES_CHECK)
    r = np.linalg.norm(W_STAR)
    tau2 = integrate.quad(lambda z: float(TEACHER(r * z)) ** 2 * stats.norm.pdf(z), -12, 12, epsabs=1e-13, epsrel=1e-13)[0]
    assert problem.R_sharp == pytest.approx(tau2 + 0.4**2 / 3, abs=1e-10)


# -- oracle against Monte Carlo -----------------------------------------------------------------
def test_V_and_U_against_monte_carlo(neuron):
    problem = TeacherStudent(3, TEACHER, W_STAR, noise=0.3)
    W = np.vstack([particles(3, 3, seed=21), W_STAR])
    x, y = problem.sample(rng_for(22), N_MC)
    S = neuron.value(x, W)  # (n, M)
    assert np.all(clt_agrees(-y[:, None] * S, problem.V(neuron, W)))
    assert np.all(clt_agrees(S[:, :, None] * S[:, None, :], problem.U(neuron, W, W)))


def test_risk_from_oracle_against_monte_carlo(neuron):
    problem = TeacherStudent(3, TEACHER, W_STAR, noise=0.3)
    W = particles(3, 3, seed=31)[:3]
    x, y = problem.sample(rng_for(32), N_MC)
    yhat = neuron.value(x, W).mean(axis=1)
    assert clt_agrees((y - yhat) ** 2, risk_from_oracle(problem, neuron, W))


# -- the comparison can fail: mutants ---------------------------------------------------------
class _SignFlippedV(TeacherStudent):
    def V(self, neuron, Theta):
        return -super().V(neuron, Theta)


class _NoiselessRSharp(TeacherStudent):
    @property
    def R_sharp(self):
        return super().R_sharp - self.noise**2 / 3.0


def test_mutants_are_rejected_by_the_monte_carlo_comparison():
    neuron = InnerNeuron(SMOOTH["tanh_sum"])
    W = np.vstack([particles(3, 3, seed=41)[:3], W_STAR])
    args = (3, TEACHER, W_STAR)
    correct = TeacherStudent(*args, noise=0.5)
    x, y = correct.sample(rng_for(42), N_MC)
    samples_V = -y[:, None] * neuron.value(x, W)
    assert np.all(clt_agrees(samples_V, correct.V(neuron, W)))
    assert not np.all(clt_agrees(samples_V, _SignFlippedV(*args, noise=0.5).V(neuron, W)))
    rotated = TeacherStudent(3, TEACHER, W_STAR[[1, 2, 0]], noise=0.5)  # the wrong teacher direction
    assert not np.all(clt_agrees(samples_V, rotated.V(neuron, W)))
    assert clt_agrees(y**2, correct.R_sharp)
    assert not clt_agrees(y**2, _NoiselessRSharp(*args, noise=0.5).R_sharp)


# -- gradients against finite differences ----------------------------------------------------
H_FD = 1e-5
ATOL_FD = 1e-6  # central differences err by O(h² |∂³|) + O(eps |V| / h) ≈ 1e-10, far below


def _fd_grad(fun, W):
    """Central differences of fun(W) -> (M, ...) in each row of W: shape (M, ..., d)."""
    out = []
    for j in range(W.shape[1]):
        E = np.zeros_like(W)
        E[:, j] = H_FD
        out.append((fun(W + E) - fun(W - E)) / (2 * H_FD))
    return np.stack(out, axis=-1)


def test_grad_V_against_finite_differences(neuron):
    problem = TeacherStudent(3, TEACHER, W_STAR, noise=0.2, n_nodes=N_NODES_CHECK)
    W = np.vstack([particles(3, 4, seed=51)[:-1], W_STAR, -0.5 * W_STAR])
    np.testing.assert_allclose(problem.grad_V(neuron, W), _fd_grad(lambda T: problem.V(neuron, T), W), rtol=0, atol=ATOL_FD)


def test_grad1_U_against_finite_differences(neuron):
    problem = TeacherStudent(3, TEACHER, W_STAR, n_nodes=N_NODES_CHECK)
    W1 = particles(3, 3, seed=52)[:-1]
    W2 = np.vstack([particles(3, 3, seed=53), W1[1]])  # includes the origin and a pair (w, w)
    fd = _fd_grad(lambda T: problem.U(neuron, T, W2), W1)
    np.testing.assert_allclose(problem.grad1_U(neuron, W1, W2), fd, rtol=0, atol=ATOL_FD)


# -- cross-check against an independent dense grid (d = 2) and scipy.integrate.quad (d = 1) ---
_GRID = np.linspace(-9.0, 9.0, 721)  # step 0.025; the mass beyond ±9 is 2e-19
_WGRID = (_GRID[1] - _GRID[0]) * stats.norm.pdf(_GRID)
_G = np.stack(np.meshgrid(_GRID, _GRID, indexing="ij"), axis=-1)  # (721, 721, 2)
_WEIGHT2 = np.outer(_WGRID, _WGRID)


def _grid_cross(F, H, weight=_WEIGHT2):
    """E[F_m(g) H_k(g)] for g ~ N(0, I_2), trapezoid rule on the grid, F, H (grid, grid, M)."""
    return (weight[..., None] * F).reshape(-1, F.shape[-1]).T @ H.reshape(-1, H.shape[-1])


def test_oracle_against_dense_grid(neuron):
    w_star = np.array([0.8, -0.6])
    problem = TeacherStudent(2, TEACHER, w_star, noise=0.25, n_nodes=N_NODES_CHECK)
    W = np.array([[0.5, 0.0], [0.3, -0.6], [0.15, 0.0], [-0.5, 0.0], [0.0, 0.0], [0.8, -0.6], [0.7, 0.7]])
    Z = _G @ W.T
    S, Sp = neuron.activation.fn(Z), neuron.activation.prime(Z)
    T = TEACHER(_G @ w_star)[..., None]
    ref_V = -_grid_cross(S, T)[:, 0]
    ref_gV = -np.stack([_grid_cross(Sp, T, _WEIGHT2 * _G[..., c])[:, 0] for c in (0, 1)], axis=-1)
    ref_U = _grid_cross(S, S)
    ref_gU = np.stack([_grid_cross(Sp, S, _WEIGHT2 * _G[..., c]) for c in (0, 1)], axis=-1)
    np.testing.assert_allclose(problem.V(neuron, W), ref_V, rtol=0, atol=1e-7)
    np.testing.assert_allclose(problem.grad_V(neuron, W), ref_gV, rtol=0, atol=1e-6)
    np.testing.assert_allclose(problem.U(neuron, W, W), ref_U, rtol=0, atol=1e-6)
    np.testing.assert_allclose(problem.grad1_U(neuron, W, W), ref_gU, rtol=0, atol=1e-6)
    assert problem.R_sharp == pytest.approx(_grid_cross(T, T)[0, 0] + 0.25**2 / 3, abs=1e-10)


def test_V_against_scipy_quad_in_one_dimension(neuron):
    problem = TeacherStudent(1, TEACHER, [0.9], n_nodes=N_NODES_CHECK)
    W = np.array([[-1.2], [-0.4], [0.0], [0.7], [1.2]])
    sigma = neuron.activation.fn

    def V(w):
        f = lambda z: float(TEACHER(0.9 * z) * sigma(w * z)) * stats.norm.pdf(z)  # noqa: E731
        return -integrate.quad(f, -12, 12, epsabs=1e-13, epsrel=1e-13, limit=200)[0]

    np.testing.assert_allclose(problem.V(neuron, W), [V(w) for (w,) in W], rtol=0, atol=1e-7)


# -- constants --------------------------------------------------------------------------------
def test_constants_bound_the_oracle_gradients(neuron):
    problem = TeacherStudent(3, TEACHER, W_STAR, noise=0.3)
    c = problem.constants(neuron)
    assert all(math.isfinite(v) for v in c.as_dict().values())
    assert problem.require_theorem_1(neuron) == c
    assert c.y_bound == pytest.approx(1.3) and c.sigma_star_bound == neuron.activation.sup_norm
    assert c.grad_sigma_star_bound == pytest.approx(neuron.activation.sup_prime * math.sqrt(8 / 3))
    W = particles(3, 6, seed=71, r_max=3.0)
    gV = problem.grad_V(neuron, W)
    assert np.linalg.norm(gV, axis=-1).max() <= c.grad_V_bound
    assert np.linalg.norm(problem.grad1_U(neuron, W, W), axis=-1).max() <= c.grad_U_bound
    dW = np.linalg.norm(W[:, None] - W[None], axis=-1)
    assert np.all(np.linalg.norm(gV[:, None] - gV[None], axis=-1) <= c.grad_V_lipschitz * dW + 1e-12)


def test_constants_are_infinite_outside_the_assumptions():
    problem = TeacherStudent(3, TEACHER)
    c = problem.constants(InnerNeuron(piecewise_linear()))
    assert math.isinf(c.grad_V_lipschitz) and math.isinf(c.grad_U_lipschitz)
    with pytest.raises(OutsideAssumptions):
        problem.require_theorem_1(InnerNeuron(piecewise_linear()))
    assert math.isinf(problem.constants(InnerNeuron(relu())).sigma_star_bound)


def test_a_zero_teacher_has_zero_V_and_finite_constants():
    problem = TeacherStudent(2, erf_sigmoid(0.0, 1.0))
    np.testing.assert_array_equal(problem.V(InnerNeuron(tanh_sum()), np.ones((2, 2))), 0.0)
    n = InnerNeuron(piecewise_linear())
    assert problem.constants(n).grad_V_lipschitz == 0.0  # y ≡ 0, so ∇V ≡ 0


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"d": 0, "teacher": TEACHER}, "d"),
        ({"d": 2.5, "teacher": TEACHER}, "d"),
        ({"d": None, "teacher": TEACHER}, "d"),
        ({"d": 2, "teacher": np.tanh}, "teacher"),
        ({"d": 2, "teacher": relu()}, "teacher"),
        ({"d": 2, "teacher": TEACHER, "w_star": [1.0, 0.0, 0.0]}, "w_star"),
        ({"d": 2, "teacher": TEACHER, "w_star": [1.0, np.nan]}, "w_star"),
        ({"d": 2, "teacher": TEACHER, "w_star": [[1.0, 0.0]]}, "w_star"),
        ({"d": 2, "teacher": TEACHER, "w_star": ["a", "b"]}, "w_star"),
        ({"d": 2, "teacher": TEACHER, "noise": -0.1}, "noise"),
        ({"d": 2, "teacher": TEACHER, "noise": math.inf}, "noise"),
        ({"d": 2, "teacher": TEACHER, "noise": math.nan}, "noise"),
        ({"d": 2, "teacher": TEACHER, "n_nodes": 0}, "n_nodes"),
        ({"d": 2, "teacher": TEACHER, "n_nodes": 301}, "n_nodes"),
    ],
)
def test_bad_construction_is_refused(kwargs, name):
    with pytest.raises(InvalidArgument, match=f"`{name}`"):
        TeacherStudent(**kwargs)


@pytest.mark.parametrize(
    "method, args, match",
    [
        ("V", (InnerNeuron(tanh_sum()), np.zeros((2, 3))), "Theta"),
        ("grad_V", (InnerNeuron(tanh_sum()), np.zeros((3,))), "Theta"),
        ("V", (InnerNeuron(tanh_sum()), np.array([[np.inf, 0.0]])), "Theta"),
        ("V", (AffineNeuron(tanh_sum()), np.zeros((2, 4))), "AffineNeuron"),
        ("U", (InnerNeuron(tanh_sum()), np.zeros((2, 2)), np.zeros((2, 1))), "Theta2"),
        ("grad1_U", (AffineNeuron(tanh_sum()), np.zeros((2, 4)), np.zeros((2, 4))), "AffineNeuron"),
        ("constants", (AffineNeuron(tanh_sum()),), "AffineNeuron"),
    ],
)
def test_bad_oracle_input_is_refused(method, args, match):
    problem = TeacherStudent(2, TEACHER)
    with pytest.raises(InvalidArgument, match=match):
        getattr(problem, method)(*args)
