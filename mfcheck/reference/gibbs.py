"""The Gibbs fixed point of the noisy distributional dynamics, on a grid (docs/theory.md §5).

ρ*(θ) = Z^{-1} exp(−β Ψ_λ(θ; ρ*)),   Ψ_λ(θ; ρ) = Ψ(θ; ρ) + (λ/2)||θ||²,
Ψ(θ; ρ) = V(θ) + ∫U(θ, θ') ρ(dθ'),

for a parameter dimension D ∈ {1, 2}. ρ is carried by its values on a uniform tensor grid of
[−L, L]^D with trapezoid weights w_g, i.e. as the weighted measure Σ_g w_g ρ(θ_g) δ_{θ_g}.
For a finite population Ψ is exact through the predictor (the whole law enters through the
n-vector ŷ_ρ(x_j) = Σ_g w_g ρ(θ_g) σ*(x_j; θ_g)):
Ψ(θ; ρ) = −(1/n) Σ_j (y_j − ŷ_ρ(x_j)) σ*(x_j; θ); other problems use the oracle V, U.

Solver: damped self-consistent iteration ρ ← (1 − a) ρ + a T(ρ), T(ρ) = Z^{-1} exp(−β Ψ_λ(·; ρ)),
with the damping a halved whenever the residual sup_g |ρ − T(ρ)| grows, until the residual
is at most ``tol`` (default 1e-10). Reported: the residual, the last change sup|Δρ|, the
iterations.

Domain: with B = sup|y| sup|σ*| + sup|σ*|² ≥ sup|Ψ|, ρ* ≤ e^{2βB} N(0, (βλ)^{-1} I_D), so the
mass outside [−L, L]^D is at most D e^{2βB} 2Φ̄(L sqrt(βλ)); L is chosen to make this
≤ ``tail_mass`` (1e-15). This needs λ > 0 (the Gibbs measure of a bounded Ψ is improper at λ = 0).

In D = 1 the CDF is the trapezoid cumulative integral with the Euler–Maclaurin end correction
−h²/12 (ρ'(b) − ρ'(a)), ρ' = −β ∂_θΨ_λ ρ exact, interpolated by cubic Hermite splines with the
exact slopes ρ: both O(h⁴).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicHermiteSpline
from scipy.stats import norm

from mfcheck._validation import check_positive_int, check_real
from mfcheck.errors import InvalidArgument, OutsideAssumptions
from mfcheck.model.neurons import Neuron
from mfcheck.model.problems.base import Problem

__all__ = ["GibbsSolution", "solve_gibbs", "gibbs_box", "psi_bound"]

MAX_NODES = 250_000
MAX_ORACLE_NODES = 5_000


def psi_bound(problem: Problem, neuron: Neuron) -> float:
    """B = sup|y| sup|σ*| + sup|σ*|², a bound on sup_θ |Ψ(θ; ρ)| for every probability ρ."""
    c = problem.constants(neuron)
    B = c.y_bound * c.sigma_star_bound + c.sigma_star_bound**2
    if not math.isfinite(B):
        raise OutsideAssumptions(f"{problem!r} with {neuron!r}: σ* or y is unbounded, so Ψ has no finite bound and the Gibbs grid cannot be sized.")
    return float(B)


def gibbs_box(problem: Problem, neuron: Neuron, beta: float, lam: float, tail_mass: float = 1e-15) -> float:
    """The half-width L of the box [−L, L]^D outside which ρ* has mass ≤ ``tail_mass`` (see module docstring)."""
    beta = check_real(beta, "beta", positive=True)
    lam = check_real(lam, "lam", positive=True)
    tail_mass = check_real(tail_mass, "tail_mass", positive=True)
    D = neuron.dim(problem.d)
    B = psi_bound(problem, neuron)
    log_p = math.log(tail_mass / (2.0 * D)) - 2.0 * beta * B
    z = float(-norm.ppf(math.exp(log_p))) if log_p > -700 else math.sqrt(-2.0 * log_p)
    return z / math.sqrt(beta * lam)


@dataclass(frozen=True)
class GibbsSolution:
    """ρ* on the grid.

    - ``axis`` (G,): the 1-D grid of each coordinate; ``nodes`` (G^D, D); ``weights`` (G^D,) trapezoid.
    - ``density`` (G^D,): ρ*(θ_g), Σ_g w_g ρ*(θ_g) = 1; ``Psi_lam`` (G^D,): Ψ_λ(θ_g; ρ*);
      ``dPsi_lam`` (G^D, D): ∇_θ Ψ_λ(θ_g; ρ*) (finite populations; NaN otherwise).
    - ``yhat`` (n,): ŷ_{ρ*} on the population (finite populations; empty otherwise); ``risk``: R(ρ*).
    - ``residual``: sup_g |ρ − Z^{-1} exp(−βΨ_λ(θ_g; ρ))| at the returned ρ; ``change``: sup|Δρ| of
      the last iteration; ``iterations``; ``damping``: the final damping a.
    """

    beta: float
    lam: float
    axis: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    density: np.ndarray
    Psi_lam: np.ndarray
    dPsi_lam: np.ndarray
    yhat: np.ndarray
    risk: float
    residual: float
    change: float
    iterations: int
    damping: float

    @property
    def D(self) -> int:
        return self.nodes.shape[1]

    @property
    def h(self) -> float:
        return float(self.axis[1] - self.axis[0])

    def expect(self, f) -> float:
        """∫ f dρ* for f evaluated on the nodes (an array (G^D,) or a callable on (G^D, D))."""
        values = f(self.nodes) if callable(f) else np.asarray(f, dtype=np.float64)
        return float(self.weights @ (values * self.density))

    def marginal(self, coordinate: int = 0) -> np.ndarray:
        """The marginal density of θ[coordinate] on ``axis`` (G,)."""
        if coordinate not in range(self.D):
            raise InvalidArgument(f"`coordinate` must be in 0..{self.D - 1}, got {coordinate!r}.")
        if self.D == 1:
            return self.density.copy()
        G = len(self.axis)
        rho = self.density.reshape(G, G)
        w1 = _trapezoid_weights(G, self.h)
        return rho @ w1 if coordinate == 0 else w1 @ rho

    def _cdf_raw(self) -> np.ndarray:
        if self.D != 1:
            raise InvalidArgument(f"`cdf` is defined for D = 1 only, this solution has D={self.D}; use `marginal`.")
        rho, h = self.density, self.h
        drho = -self.beta * self.dPsi_lam[:, 0] * rho
        trap = np.concatenate([[0.0], np.cumsum(0.5 * h * (rho[1:] + rho[:-1]))])
        return trap - h**2 / 12.0 * (drho - drho[0])

    def cdf_nodes(self) -> np.ndarray:
        """F*(θ_g) on the grid (D = 1), Euler–Maclaurin corrected, O(h⁴)."""
        F = self._cdf_raw()
        return F / F[-1]

    def cdf(self, t) -> np.ndarray:
        """F*(t) = ρ*((−∞, t]) for D = 1 (cubic Hermite interpolation with slopes ρ*; 0 / 1 outside the box)."""
        F = self._cdf_raw()
        spline = CubicHermiteSpline(self.axis, F / F[-1], self.density / F[-1])
        t = np.asarray(t, dtype=np.float64)
        inside = spline(np.clip(t, self.axis[0], self.axis[-1]))
        return np.clip(np.where(t <= self.axis[0], 0.0, np.where(t >= self.axis[-1], 1.0, inside)), 0.0, 1.0)

    def density_at(self, t) -> np.ndarray:
        """ρ*(t) for D = 1 by linear interpolation on the grid (for plots)."""
        if self.D != 1:
            raise InvalidArgument(f"`density_at` is defined for D = 1 only, got D={self.D}.")
        return np.interp(np.asarray(t, dtype=np.float64), self.axis, self.density, left=0.0, right=0.0)

    def summary(self) -> dict:
        mean = [self.expect(self.nodes[:, i]) for i in range(self.D)]
        var = [self.expect((self.nodes[:, i] - mean[i]) ** 2) for i in range(self.D)]
        return {"mean": mean[0] if self.D == 1 else mean, "variance": var[0] if self.D == 1 else var,
                "beta": self.beta, "lam": self.lam, "D": self.D, "points_per_axis": len(self.axis), "box": [float(self.axis[0]), float(self.axis[-1])],
                "h": self.h, "residual": self.residual, "change": self.change, "iterations": self.iterations, "risk": self.risk}


def _trapezoid_weights(G: int, h: float) -> np.ndarray:
    w = np.full(G, h)
    w[0] = w[-1] = 0.5 * h
    return w


def solve_gibbs(
    problem: Problem,
    neuron: Neuron,
    *,
    beta: float,
    lam: float,
    points: int = 2001,
    box: float | None = None,
    tol: float = 1e-10,
    damping: float = 0.5,
    max_iter: int = 20_000,
    tail_mass: float = 1e-15,
) -> GibbsSolution:
    """Solve ρ* = Z^{-1} exp(−βΨ_λ(·; ρ*)) on a uniform grid of ``points`` per axis.

    **Arguments:**

    - ``problem``, ``neuron``: P and σ*, with D = neuron.dim(problem.d) ∈ {1, 2}.
    - ``beta`` > 0, ``lam`` > 0: inverse temperature and ridge.
    - ``points``: grid points per axis (odd or even, ≥ 3); ``box``: half-width L (default :func:`gibbs_box`).
    - ``tol``: target of the residual sup|ρ − T(ρ)|; ``damping`` a ∈ (0, 1]; ``max_iter``.

    Raises ``RuntimeError`` when the residual does not reach ``tol`` within ``max_iter`` iterations.
    """
    beta = check_real(beta, "beta", positive=True)
    lam = check_real(lam, "lam", nonnegative=True)
    if lam == 0:
        raise InvalidArgument("`lam` must be > 0: with λ = 0 and a bounded Ψ the Gibbs measure exp(−βΨ) is not normalisable.")
    G = check_positive_int(points, "points")
    if G < 3:
        raise InvalidArgument(f"`points` must be >= 3, got {G}.")
    tol = check_real(tol, "tol", positive=True)
    damping = check_real(damping, "damping", positive=True)
    if damping > 1:
        raise InvalidArgument(f"`damping` must be in (0, 1], got {damping}.")
    max_iter = check_positive_int(max_iter, "max_iter")
    D = neuron.dim(problem.d)
    if D not in (1, 2):
        raise InvalidArgument(f"The Gibbs grid needs D in (1, 2); {neuron!r} on d={problem.d} has D={D}.")
    if G**D > MAX_NODES:
        raise InvalidArgument(f"`points`={G} gives {G}^{D} nodes, more than {MAX_NODES}; lower it.")
    L = gibbs_box(problem, neuron, beta, lam, tail_mass) if box is None else check_real(box, "box", positive=True)

    axis = np.linspace(-L, L, G)
    h = float(axis[1] - axis[0])
    w1 = _trapezoid_weights(G, h)
    if D == 1:
        nodes, weights = axis[:, None].copy(), w1.copy()
    else:
        A, B = np.meshgrid(axis, axis, indexing="ij")
        nodes = np.stack([A.ravel(), B.ravel()], axis=1)
        weights = np.outer(w1, w1).ravel()
    ridge = 0.5 * lam * np.sum(nodes**2, axis=1)

    exact = hasattr(problem, "predict")
    if exact:
        S = neuron.value(problem.X, nodes)  # (n, G^D)
        y, n = problem.y, problem.n

        def psi_and_yhat(rho):
            yhat = S @ (weights * rho)
            return -((y - yhat) @ S) / n, yhat
    else:
        if G**D > MAX_ORACLE_NODES:
            raise InvalidArgument(f"`points`={G}: the oracle route stores a ({G**D})² matrix U; use at most {MAX_ORACLE_NODES} nodes.")
        Vg = problem.V(neuron, nodes)
        Ug = problem.U(neuron, nodes, nodes)

        def psi_and_yhat(rho):
            return Vg + Ug @ (weights * rho), np.empty(0)

    def gibbs_map(rho):
        psi, yhat = psi_and_yhat(rho)
        e = psi + ridge
        q = np.exp(-beta * (e - e.min()))
        return q / (weights @ q), e, yhat

    rho, _, _ = gibbs_map(np.zeros(G**D))
    a = damping
    residual = change = math.inf
    it = 0
    while it < max_iter:
        target, _, _ = gibbs_map(rho)
        r = float(np.max(np.abs(target - rho)))
        if r <= tol:
            residual = r
            break
        if r > residual:
            a = max(0.5 * a, 1e-3)
        residual = r
        new = (1.0 - a) * rho + a * target
        change = float(np.max(np.abs(new - rho)))
        rho = new
        it += 1
    else:
        raise RuntimeError(f"Gibbs iteration did not reach tol={tol} in max_iter={max_iter} iterations (residual {residual:.3e}, damping {a}); raise `max_iter` or lower `damping`.")

    _, e, yhat = gibbs_map(rho)
    if exact:
        dpsi = problem.grad_Psi_of_prediction(neuron, nodes, yhat) + lam * nodes
        risk = float(problem.risk_of_prediction(yhat))
    else:
        dpsi = np.full_like(nodes, np.nan)
        risk = float(problem.R_sharp + 2.0 * (weights * rho) @ Vg + (weights * rho) @ Ug @ (weights * rho))
    return GibbsSolution(beta=beta, lam=lam, axis=axis, nodes=nodes, weights=weights, density=rho, Psi_lam=e, dPsi_lam=dpsi,
                         yhat=yhat, risk=risk, residual=residual, change=0.0 if change == math.inf else change, iterations=it, damping=a)
