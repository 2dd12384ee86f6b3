"""Initial laws ρ_0 (assumption A4): i.i.d. sampling, weighted quadrature and quasi-random nodes.

:class:`GaussianInit` is ρ_0 = N(μ, κ² I_D). Besides sampling it gives tensor Gauss–Hermite
nodes ϑ_m = μ + κ z_m with product weights w_m, so that Σ_m w_m f(ϑ_m) → ∫ f dρ_0 spectrally
for smooth f. Pushed forward by the (smooth) flow with fixed weights, the nodes carry ρ_t far
more accurately than M i.i.d. particles (docs/methods.md, "Monte Carlo error is the first enemy").
Scrambled Sobol nodes (:meth:`GaussianInit.sobol`) converge more slowly at t = 0 but do not
rely on the smoothness of the flow map, and an independent scramble measures their error
(:mod:`mfcheck.reference.refinement`); they are what the claims use.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import hermite_e
from scipy.stats import norm, qmc

from mfcheck._validation import check_positive_int, check_real
from mfcheck.errors import InvalidArgument

__all__ = ["GaussianInit"]

MAX_NODES = 200_000


@dataclass(frozen=True)
class GaussianInit:
    """ρ_0 = N(mean·1, scale² I_D)."""

    D: int
    scale: float = 1.0
    mean: float = 0.0

    def __post_init__(self):
        check_positive_int(self.D, "D")
        object.__setattr__(self, "scale", check_real(self.scale, "scale", positive=True))
        object.__setattr__(self, "mean", check_real(self.mean, "mean"))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` i.i.d. draws, shape (size, D)."""
        size = check_positive_int(size, "size")
        return self.mean + self.scale * rng.standard_normal((size, self.D))

    def quadrature(self, nodes_per_axis: int) -> tuple[np.ndarray, np.ndarray]:
        """Tensor Gauss–Hermite rule: nodes (q^D, D) and weights (q^D,) summing to 1."""
        q = check_positive_int(nodes_per_axis, "nodes_per_axis")
        if q**self.D > MAX_NODES:
            raise InvalidArgument(f"`nodes_per_axis`={q} gives {q}^{self.D} nodes, more than {MAX_NODES}; lower it.")
        z, w = hermite_e.hermegauss(q)
        w = w / w.sum()
        nodes = np.array(list(itertools.product(z, repeat=self.D)), dtype=np.float64)
        weights = np.prod(np.array(list(itertools.product(w, repeat=self.D))), axis=1)
        return self.mean + self.scale * nodes, weights / weights.sum()

    def sobol(self, log2_M: int, seed: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
        """Scrambled Sobol points pushed through the Gaussian quantile: M = 2^log2_M equal-weight nodes.

        Randomised QMC: each scramble (``seed``) gives an unbiased rule whose error decays close
        to 1/M for smooth integrands; two independent scrambles measure that error.
        """
        m = check_positive_int(log2_M, "log2_M")
        if 2**m > MAX_NODES:
            raise InvalidArgument(f"`log2_M`={m} gives 2^{m} nodes, more than {MAX_NODES}; lower it.")
        u = qmc.Sobol(self.D, scramble=True, seed=np.random.default_rng(seed)).random_base2(m)
        nodes = self.mean + self.scale * norm.ppf(u)
        return nodes, np.full(2**m, 2.0**-m)

    def nodes_per_axis_for(self, M: int) -> int:
        """The smallest q with q^D ≥ M."""
        M = check_positive_int(M, "M")
        q = max(1, int(round(M ** (1.0 / self.D))))
        while q**self.D < M:
            q += 1
        return q
