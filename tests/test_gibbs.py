"""Unit tests of mfcheck.reference.gibbs: the Gibbs fixed point ρ* = Z⁻¹ exp(−βΨ_λ(·; ρ*)) on a grid.

Checks: a closed form (Ψ ≡ 0 gives N(0, 1/(βλ))); the fixed-point equation re-evaluated with
mfcheck.model.functionals; the oracle route equals the predictor route; grid refinement; ρ* minimises
the free energy F_β along segments; D = 2; input validation.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from mfcheck.model import functionals as F
from mfcheck.model.activations import erf_sigmoid, relu, tanh_sum
from mfcheck.errors import InvalidArgument, OutsideAssumptions
from mfcheck.reference.gibbs import gibbs_box, psi_bound, solve_gibbs
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems import teacher_population
from mfcheck.model.problems.base import Problem
from mfcheck.model.problems.finite import FinitePopulation

ERF = InnerNeuron(erf_sigmoid())
BETA, LAM = 4.0, 0.5


@pytest.fixture(scope="module")
def pop():
    return teacher_population(n=32, d=1, teacher=tanh_sum((1.0,), (2.0,)), seed=9, noise=0.2)


@pytest.fixture(scope="module")
def sol(pop):
    return solve_gibbs(pop, ERF, beta=BETA, lam=LAM, points=1201)


def test_closed_form_without_interaction():
    """x_j = 0 makes σ*(x; w) = erf(0) = 0, Ψ ≡ 0, ρ* = N(0, 1/(βλ)) exactly."""
    flat = FinitePopulation(np.zeros((3, 1)), np.array([0.5, -0.2, 0.1]))
    s = solve_gibbs(flat, ERF, beta=2.0, lam=0.8, points=801)
    sd = 1 / np.sqrt(2.0 * 0.8)
    np.testing.assert_allclose(s.density, norm.pdf(s.axis, scale=sd), rtol=0, atol=1e-12)
    np.testing.assert_allclose(s.cdf_nodes(), norm.cdf(s.axis, scale=sd), rtol=0, atol=1e-9)  # O(h⁴), h = 0.016
    t = np.linspace(-2, 2, 37)
    np.testing.assert_allclose(s.cdf(t), norm.cdf(t, scale=sd), rtol=0, atol=1e-9)
    assert s.summary()["variance"] == pytest.approx(sd**2, rel=1e-10)


def test_fixed_point_equation_holds(pop, sol):
    """ρ = Z⁻¹ exp(−βΨ_λ(·; ρ)) with Ψ recomputed by mfcheck.model.functionals on the grid-weighted nodes."""
    assert sol.residual <= 1e-10
    w = sol.weights * sol.density
    psi = F.Psi(pop, ERF, sol.nodes, sol.nodes, w / w.sum()) + 0.5 * LAM * sol.nodes[:, 0] ** 2
    q = np.exp(-BETA * (psi - psi.min()))
    np.testing.assert_allclose(sol.density, q / (sol.weights @ q), rtol=0, atol=1e-9)
    np.testing.assert_allclose(sol.Psi_lam, psi, rtol=0, atol=1e-12)
    assert sol.risk == pytest.approx(float(F.risk(pop, ERF, sol.nodes, w / w.sum())), abs=1e-12)


def test_interaction_matters(pop, sol):
    """ρ* differs from the non-interacting exp(−βV_λ): the fixed point is not trivial."""
    V = pop.V(ERF, sol.nodes) + 0.5 * LAM * sol.nodes[:, 0] ** 2
    q = np.exp(-BETA * (V - V.min()))
    q /= sol.weights @ q
    assert np.max(np.abs(q - sol.density)) > 0.05


class _OracleOnly(Problem):
    """The same population seen only through V and U (no predictor)."""

    def __init__(self, pop):
        self.pop, self.d, self.y_bound = pop, pop.d, pop.y_bound

    def V(self, neuron, Theta):
        return self.pop.V(neuron, Theta)

    def U(self, neuron, Theta1, Theta2):
        return self.pop.U(neuron, Theta1, Theta2)

    @property
    def R_sharp(self):
        return self.pop.R_sharp

    def constants(self, neuron):
        return self.pop.constants(neuron)


def test_oracle_route_equals_predictor_route(pop):
    a = solve_gibbs(pop, ERF, beta=BETA, lam=LAM, points=401)
    b = solve_gibbs(_OracleOnly(pop), ERF, beta=BETA, lam=LAM, points=401)
    np.testing.assert_allclose(a.density, b.density, rtol=0, atol=1e-9)
    assert a.risk == pytest.approx(b.risk, abs=1e-10)
    assert np.all(np.isnan(b.dPsi_lam))


def test_grid_refinement_and_cdf(pop, sol):
    fine = solve_gibbs(pop, ERF, beta=BETA, lam=LAM, points=2401, box=float(sol.axis[-1]))
    assert np.max(np.abs(sol.cdf_nodes() - fine.cdf(sol.axis))) < 1e-9
    Fn = sol.cdf_nodes()
    assert Fn[0] == 0.0 and Fn[-1] == pytest.approx(1.0, abs=1e-15) and np.all(np.diff(Fn) >= -1e-15)
    assert sol.cdf(-1e3) == 0.0 and sol.cdf(1e3) == 1.0
    # slopes: the CDF's derivative is the density
    t, h = sol.axis[200:-200:80], 1e-6
    np.testing.assert_allclose((sol.cdf(t + h) - sol.cdf(t - h)) / (2 * h), sol.density_at(t), rtol=1e-6, atol=1e-8)


def test_box_holds_the_mass(pop, sol):
    L = gibbs_box(pop, ERF, BETA, LAM)
    assert sol.axis[-1] == pytest.approx(L)
    assert sol.density[0] < 1e-12 and sol.density[-1] < 1e-12
    assert psi_bound(pop, ERF) == pytest.approx(pop.y_bound + 1.0)


def _free_energy(pop, s, rho):
    """F_β(ρ) = ½R(ρ) + (λ/2)∫θ²dρ + β⁻¹∫ρ log ρ on the grid."""
    w = s.weights * rho
    R = float(pop.risk_of_prediction(pop.predict(ERF, s.nodes, w)))
    ent = float(s.weights @ np.where(rho > 0, rho * np.log(np.where(rho > 0, rho, 1.0)), 0.0))
    return 0.5 * R + 0.5 * LAM * float(w @ s.nodes[:, 0] ** 2) + ent / BETA


def test_fixed_point_minimises_free_energy(pop, sol):
    f0 = _free_energy(pop, sol, sol.density)
    others = [norm.pdf(sol.axis, loc=0.5, scale=0.6), norm.pdf(sol.axis, loc=-0.3, scale=1.0)]
    for q in others:
        q = q / (sol.weights @ q)
        for t in (1e-3, 0.05, 0.3):
            assert _free_energy(pop, sol, (1 - t) * sol.density + t * q) > f0


def test_variance_decreases_with_beta(pop):
    v = [solve_gibbs(pop, ERF, beta=b, lam=LAM, points=601).summary()["variance"] for b in (1.0, 2.0, 4.0, 8.0)]
    assert np.all(np.diff(v) < 0)


def test_two_dimensions():
    pop2 = teacher_population(n=16, d=2, teacher=tanh_sum((1.0,), (2.0,)), seed=2, noise=0.1)
    s = solve_gibbs(pop2, ERF, beta=2.0, lam=1.0, points=81)
    assert s.D == 2 and s.nodes.shape == (81 * 81, 2)
    assert s.residual <= 1e-10
    for coord in (0, 1):
        m = s.marginal(coord)
        assert float(s.h * (m.sum() - 0.5 * (m[0] + m[-1]))) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(InvalidArgument, match="D = 1"):
        s.cdf(0.0)
    with pytest.raises(InvalidArgument, match="coordinate"):
        s.marginal(2)


@pytest.mark.parametrize("kwargs, name", [(dict(beta=0.0, lam=1.0), "beta"), (dict(beta=1.0, lam=0.0), "lam"), (dict(beta=1.0, lam=-1.0), "lam"),
                                          (dict(beta=1.0, lam=1.0, points=2), "points"), (dict(beta=1.0, lam=1.0, damping=1.5), "damping"),
                                          (dict(beta=1.0, lam=1.0, tol=0.0), "tol")])
def test_validation(pop, kwargs, name):
    with pytest.raises(InvalidArgument, match=f"`{name}`"):
        solve_gibbs(pop, ERF, **kwargs)


def test_refuses_large_d_and_unbounded_sigma():
    pop3 = teacher_population(n=8, d=3, teacher=tanh_sum(), seed=1)
    with pytest.raises(InvalidArgument, match="D in"):
        solve_gibbs(pop3, ERF, beta=1.0, lam=1.0)
    pop1 = teacher_population(n=8, d=1, teacher=tanh_sum(), seed=1)
    with pytest.raises(OutsideAssumptions):
        solve_gibbs(pop1, InnerNeuron(relu()), beta=1.0, lam=1.0)


def test_non_convergence_raises(pop):
    with pytest.raises(RuntimeError, match="max_iter"):
        solve_gibbs(pop, ERF, beta=BETA, lam=LAM, points=201, max_iter=2)
