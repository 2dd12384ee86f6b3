"""The interface every data law P implements: sampling and the population oracle.

With R_# = E[y²], V(θ) = -E[y σ*(x; θ)], U(θ, θ') = E[σ*(x; θ) σ*(x; θ')] the risk of a
network is R_N(θ) = R_# + (2/N) Σ_i V(θ_i) + (1/N²) Σ_{i,j} U(θ_i, θ_j) (docs/theory.md §1).
A problem returns V, ∇V, U and ∇₁U (gradient in the first argument) for arrays of
particles, and the constants of assumptions A2-A3 for a given neuron.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mfcheck.errors import OutsideAssumptions
from mfcheck.model.neurons import Neuron

__all__ = ["Problem", "TheoremConstants"]


@dataclass(frozen=True)
class TheoremConstants:
    """The constants of assumptions A2-A3 for one (problem, neuron) pair; ``K`` is their max.

    - ``y_bound``: |y| ≤ K;  ``sigma_star_bound``: |σ*| ≤ K;
    - ``grad_sigma_star_bound``: a bound on ||∇_θ σ*|| (bounded, hence sub-Gaussian);
    - ``grad_V_bound``, ``grad_V_lipschitz``, ``grad_U_bound``, ``grad_U_lipschitz``: A3.
    """

    y_bound: float
    sigma_star_bound: float
    grad_sigma_star_bound: float
    grad_V_bound: float
    grad_V_lipschitz: float
    grad_U_bound: float
    grad_U_lipschitz: float

    @property
    def K(self) -> float:
        return max(self.as_dict().values())

    def as_dict(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in self.__dataclass_fields__}


class Problem:
    """A data law P on R^d x R with its population oracle (abstract).

    Subclasses set ``d`` and ``y_bound`` and implement :meth:`sample`, :attr:`R_sharp`,
    :meth:`V`, :meth:`grad_V`, :meth:`U`, :meth:`grad1_U` and :meth:`constants`.
    Shapes: ``Theta`` (M, D) gives V of shape (M,), ∇V (M, D); U(Theta1, Theta2) has shape
    (M1, M2) and ∇₁U (M1, M2, D).
    """

    d: int
    y_bound: float

    def sample(self, rng: np.random.Generator, size) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``size`` i.i.d. pairs (x, y) ~ P: arrays of shape (*size, d) and (*size,)."""
        raise NotImplementedError

    @property
    def R_sharp(self) -> float:
        """R_# = E[y²]."""
        raise NotImplementedError

    def V(self, neuron: Neuron, Theta) -> np.ndarray:
        raise NotImplementedError

    def grad_V(self, neuron: Neuron, Theta) -> np.ndarray:
        raise NotImplementedError

    def U(self, neuron: Neuron, Theta1, Theta2) -> np.ndarray:
        raise NotImplementedError

    def grad1_U(self, neuron: Neuron, Theta1, Theta2) -> np.ndarray:
        raise NotImplementedError

    def constants(self, neuron: Neuron) -> TheoremConstants:
        raise NotImplementedError

    def require_theorem_1(self, neuron: Neuron) -> TheoremConstants:
        """The constants of A2-A3, or :class:`OutsideAssumptions` if the pair breaks them."""
        neuron.require_theorem_1()
        constants = self.constants(neuron)
        bad = [k for k, v in constants.as_dict().items() if not math.isfinite(v)]
        if bad:
            raise OutsideAssumptions(f"{self!r} with {neuron!r} has no finite constant for: {', '.join(bad)}.")
        return constants
