"""A finite population: P uniform over n fixed points (x_j, y_j). Every oracle is an exact sum.

V(θ) = -(1/n) Σ_j y_j σ*(x_j; θ),   U(θ, θ') = (1/n) Σ_j σ*(x_j; θ) σ*(x_j; θ'),
and for a (weighted) measure ρ = Σ_m w_m δ_{θ_m} the whole law enters through the predictor
ŷ_ρ(x_j) = Σ_m w_m σ*(x_j; θ_m):

R(ρ) = (1/n) Σ_j (y_j - ŷ_ρ(x_j))²,   ∇_θ Ψ(θ; ρ) = -(1/n) Σ_j (y_j - ŷ_ρ(x_j)) ∇_θ σ*(x_j; θ).

This is the default problem of the general claims: it makes the reference exact up to the
integrator and the quadrature of ρ_0 (docs/methods.md).
"""

from __future__ import annotations

import numpy as np

from mfcheck._validation import check_array, check_positive_int, check_real
from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import AffineNeuron, InnerNeuron, Neuron
from mfcheck.model.problems.base import Problem, TheoremConstants

__all__ = ["FinitePopulation", "teacher_population"]

_PREDICT_BLOCK = 1 << 18  # entries of σ*(x_j; θ_m) held at once by `predict` (2 MiB); larger sums run in blocks


class FinitePopulation(Problem):
    """P = (1/n) Σ_j δ_{(x_j, y_j)}.

    **Arguments:**

    - ``X``: the n points, shape (n, d), finite.
    - ``y``: the n labels, shape (n,), finite.
    - ``name``: how the population was built (shown by ``repr``).
    """

    def __init__(self, X, y, name: str | None = None):
        self.X = check_array(X, "X", ndim=2)
        self.y = check_array(y, "y", shape=(self.X.shape[0],))
        if self.X.shape[0] == 0:
            raise InvalidArgument("`X` must hold at least one point, got n=0.")
        self.n, self.d = self.X.shape
        self.y_bound = float(np.max(np.abs(self.y)))
        self.name = name or f"FinitePopulation(n={self.n}, d={self.d})"
        self.X.setflags(write=False)
        self.y.setflags(write=False)

    def __repr__(self):
        return self.name

    # -- sampling ---------------------------------------------------------------------
    def sample(self, rng, size):
        idx = rng.integers(0, self.n, size=size)
        return self.X[idx], self.y[idx]

    # -- mean-field route: the law enters through ŷ on the population ----------------------
    def predict(self, neuron: Neuron, Theta, weights=None) -> np.ndarray:
        """ŷ_ρ(x_j) = Σ_m w_m σ*(x_j; θ_m); uniform weights 1/M when ``weights`` is None.

        ``Theta`` may carry leading replicate axes (..., M, D); the result is (..., n).
        """
        Theta = np.asarray(Theta, dtype=np.float64)
        M = Theta.shape[-2] if Theta.ndim >= 2 else 0
        lead = int(np.prod(Theta.shape[:-2], dtype=np.int64))
        if self.n * M * lead <= _PREDICT_BLOCK:
            S = neuron.value(self.X, Theta)
            if weights is None:
                return S.mean(axis=-1)
            return S @ np.asarray(weights, dtype=np.float64)
        # many particles: the same sum over blocks of particles, so the (n, M) matrix is never held at once
        w = np.full(M, 1.0 / M) if weights is None else np.asarray(weights, dtype=np.float64)
        step = max(1, _PREDICT_BLOCK // (self.n * max(lead, 1)))
        out = np.zeros(Theta.shape[:-2] + (self.n,))
        for start in range(0, M, step):
            out += neuron.value(self.X, Theta[..., start:start + step, :]) @ w[start:start + step]
        return out

    def risk_of_prediction(self, yhat) -> np.ndarray:
        """R = (1/n) Σ_j (y_j - ŷ_j)², over the last axis."""
        return np.mean((self.y - yhat) ** 2, axis=-1)

    def grad_Psi_of_prediction(self, neuron: Neuron, Theta, yhat) -> np.ndarray:
        """∇_θ Ψ(θ_m; ρ) = -(1/n) Σ_j (y_j - ŷ_ρ(x_j)) ∇_θ σ*(x_j; θ_m), shape (..., M, D)."""
        return -neuron.pullback(self.X, Theta, (self.y - yhat) / self.n)

    # -- oracle ---------------------------------------------------------------------------
    @property
    def R_sharp(self):
        return float(np.mean(self.y**2))

    def V(self, neuron, Theta):
        return -(self.y @ neuron.value(self.X, Theta)) / self.n

    def grad_V(self, neuron, Theta):
        return -neuron.pullback(self.X, Theta, self.y / self.n)

    def U(self, neuron, Theta1, Theta2):
        return neuron.value(self.X, Theta1).T @ neuron.value(self.X, Theta2) / self.n

    def grad1_U(self, neuron, Theta1, Theta2):
        G = neuron.grad(self.X, Theta1)  # (n, M1, D)
        S2 = neuron.value(self.X, Theta2)  # (n, M2)
        return np.einsum("jmD,jk->mkD", G, S2) / self.n

    def constants(self, neuron):
        act: Activation = neuron.activation
        if isinstance(neuron, InnerNeuron):
            xmax = float(np.max(np.linalg.norm(self.X, axis=1)))
            grad_bound = act.sup_prime * xmax
            hess_bound = act.lipschitz_prime * xmax**2
        elif isinstance(neuron, AffineNeuron):
            return TheoremConstants(self.y_bound, *([float("inf")] * 6))
        else:
            raise InvalidArgument(f"No constants known for neuron {neuron!r}.")
        return TheoremConstants(
            y_bound=self.y_bound,
            sigma_star_bound=act.sup_norm,
            grad_sigma_star_bound=grad_bound,
            grad_V_bound=self.y_bound * grad_bound,
            grad_V_lipschitz=self.y_bound * hess_bound,
            grad_U_bound=act.sup_norm * grad_bound,
            grad_U_lipschitz=act.sup_norm * hess_bound + grad_bound**2,
        )


def teacher_population(n: int, d: int, teacher: Activation, *, seed: int, noise: float = 0.0, scale: float = 1.0) -> FinitePopulation:
    """A finite population with x_j ~ N(0, scale² I_d) and y_j = teacher(<w*, x_j>) (+ noise).

    ``w*`` is the first basis vector; the points and noise come from
    ``numpy.random.SeedSequence(seed)``, so the same arguments give the same population.
    """
    n = check_positive_int(n, "n")
    d = check_positive_int(d, "d")
    noise = check_real(noise, "noise", nonnegative=True)
    scale = check_real(scale, "scale", positive=True)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidArgument(f"`seed` must be a non-negative int (the population must be reproducible), got {seed!r}.")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    X = scale * rng.standard_normal((n, d))
    y = teacher(X[:, 0]) + noise * rng.uniform(-1.0, 1.0, size=n)
    return FinitePopulation(X, y, name=f"teacher_population(n={n}, d={d}, teacher={teacher!r}, seed={seed}, noise={noise}, scale={scale})")
