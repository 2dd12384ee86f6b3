r"""The two-Gaussians problem with an exact risk for a kinked σ (the paper's piecewise-linear σ).

:class:`~mfcheck.model.problems.gaussians.TwoGaussians` evaluates V and U by Gauss–Hermite quadrature
and refuses σ with kinks, for which that quadrature does not converge usefully. Here the risk of
N particles w_1, …, w_N (equal weights) is exact up to rounding and a Gauss–Legendre rule on
smooth pieces:

    R_N(w) = 1 + (2/N) Σ_i v(|w_i|) + (1/N²) Σ_{i,j} (1/2) Σ_± pair(s_± |w_i|, s_± |w_j|, cos∠(w_i, w_j)),

with s_± = 1 ± Δ, v(r) = −(1/2)[q(s_+ r) − q(s_− r)], q(a) = E σ(aG) and
pair(a, b, c) = E[σ(aG) σ(bG')] for standard normals of correlation c (the closed forms of
:mod:`mfcheck.reference.radial`). :func:`monte_carlo_risk` is an independent unbiased estimate of the same
number from fresh samples, with its standard error, used to cross-check it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfcheck._validation import check_array, check_positive_int
from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import InnerNeuron, Neuron
from mfcheck.model.problems.gaussians import TwoGaussians

__all__ = ["ExactRiskGaussians", "ParticleMeasure", "monte_carlo_risk"]


@dataclass(frozen=True)
class ParticleMeasure:
    """Equal-weight particles (..., N, d) and the activation they carry."""

    Theta: np.ndarray
    sigma: Activation


class ExactRiskGaussians(TwoGaussians):
    r"""Two isotropic Gaussians whose risk R(ρ̂^N) is exact for piecewise-linear σ.

    **Arguments:**

    - ``d``, ``delta``: as for :class:`~mfcheck.model.problems.gaussians.TwoGaussians`.

    Sampling is that of :class:`TwoGaussians`. :func:`mfcheck.model.functionals.risk` reaches the
    exact risk through the ``predict`` / ``risk_of_prediction`` pair (here the "prediction" is
    the particle measure itself, from which :func:`mfcheck.reference.radial.reduction.finite_risk`
    computes R_N); particles may carry leading replicate axes. Only equal weights are
    supported, and the gradient oracles are not provided (SGD needs none).
    """

    def __repr__(self):
        return f"ExactRiskGaussians(d={self.d}, delta={self.delta})"

    def predict(self, neuron: Neuron, Theta, weights=None) -> ParticleMeasure:
        if not isinstance(neuron, InnerNeuron):
            raise InvalidArgument(f"`neuron` must be an InnerNeuron (σ*(x; w) = σ(<w, x>)), got {neuron!r}.")
        Theta = check_array(Theta, "Theta")
        if Theta.ndim < 2 or Theta.shape[-1] != self.d:
            raise InvalidArgument(f"`Theta` must have shape (..., N, {self.d}), got {Theta.shape}.")
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            if not np.allclose(w, 1.0 / Theta.shape[-2], rtol=0, atol=1e-15):
                raise InvalidArgument("`weights`: ExactRiskGaussians supports equal weights only.")
        return ParticleMeasure(Theta, neuron.activation)

    def risk_of_prediction(self, measure: ParticleMeasure) -> np.ndarray:
        """R_N for each leading index of the particles: shape (...)."""
        from mfcheck.reference.radial.reduction import finite_risk

        Theta = measure.Theta
        flat = Theta.reshape((-1,) + Theta.shape[-2:])
        out = np.array([finite_risk(W, measure.sigma, self.delta) for W in flat], dtype=np.float64)
        return out.reshape(Theta.shape[:-2])

    def grad_Psi_of_prediction(self, neuron, theta, measure):
        raise InvalidArgument(f"{self!r} provides the exact risk only; it has no gradient oracle.")


def monte_carlo_risk(problem: TwoGaussians, sigma: Activation, W, n_samples: int, rng: np.random.Generator, chunk: int = 8192):
    r"""An unbiased estimate of R_N(w) = E (y − (1/N) Σ_i σ(<w_i, x>))² from ``n_samples`` fresh draws.

    Returns (estimate, standard error), the latter the sample standard deviation of the squared
    residuals over √n. Cost n·N·d.
    """
    W = check_array(W, "W", ndim=2)
    n = check_positive_int(n_samples, "n_samples")
    if W.shape[1] != problem.d:
        raise InvalidArgument(f"`W` must have shape (N, {problem.d}), got {W.shape}.")
    sq = np.empty(n)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        x, y = problem.sample(rng, hi - lo)
        sq[lo:hi] = (y - sigma(x @ W.T).mean(axis=1)) ** 2
    return float(sq.mean()), float(sq.std(ddof=1) / np.sqrt(n))
