"""Neurons σ*(x; θ) and their parameter gradients ∇_θ σ*(x; θ).

Two forms (docs/theory.md §1):

* :class:`InnerNeuron`:  σ*(x; w) = σ(<w, x>),               θ = w ∈ R^d,        D = d;
* :class:`AffineNeuron`: σ*(x; (a, w, b)) = a σ(<w, x> + b),  θ = (a, w, b),      D = d + 2.

All evaluations are batched matrix products. Shapes: ``X`` is ``(..., n, d)`` (n data points),
``Theta`` is ``(..., M, D)`` (M particles); leading axes broadcast (replicates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument, OutsideAssumptions

__all__ = ["Neuron", "InnerNeuron", "AffineNeuron"]


def _check_shapes(X, Theta, D_of_d):
    X = np.asarray(X, dtype=np.float64)
    Theta = np.asarray(Theta, dtype=np.float64)
    if X.ndim < 2 or Theta.ndim < 2:
        raise InvalidArgument(f"`X` and `Theta` must be at least 2-D (n, d) and (M, D); got {X.shape} and {Theta.shape}.")
    for name, arr in (("X", X), ("Theta", Theta)):
        if not np.isfinite(arr).all():
            raise InvalidArgument(f"`{name}` contains NaN or infinite values.")
    if Theta.shape[-1] != D_of_d(X.shape[-1]):
        raise InvalidArgument(
            f"Shape mismatch: `X` has d={X.shape[-1]} so `Theta` needs D={D_of_d(X.shape[-1])} columns, got {Theta.shape}."
        )
    return X, Theta


@dataclass(frozen=True)
class Neuron:
    """Base class: a neuron built on a scalar :class:`~mfcheck.model.activations.Activation`."""

    activation: Activation

    def __post_init__(self):
        if not isinstance(self.activation, Activation):
            raise InvalidArgument(
                f"`activation` must be an mfcheck Activation carrying its constants, got {type(self.activation).__name__}."
            )

    def dim(self, d: int) -> int:
        """The parameter dimension D for inputs in R^d."""
        raise NotImplementedError

    def value(self, X, Theta) -> np.ndarray:
        """σ*(x_j; θ_m) as an array of shape (..., n, M)."""
        raise NotImplementedError

    def pullback(self, X, Theta, c) -> np.ndarray:
        """Σ_j c_j ∇_θ σ*(x_j; θ_m), shape (..., M, D), for weights ``c`` of shape (..., n)."""
        raise NotImplementedError

    def grad(self, X, Theta) -> np.ndarray:
        """∇_θ σ*(x_j; θ_m) for every pair, shape (..., n, M, D) (for tests and small sizes)."""
        raise NotImplementedError

    def violations(self) -> list[str]:
        """The hypotheses of Theorem 1 that σ* breaks whatever the data (empty when none)."""
        return self.activation.violations()

    def require_theorem_1(self) -> "Neuron":
        problems = self.violations()
        if problems:
            raise OutsideAssumptions(f"Neuron {self!r} is outside the hypotheses of Theorem 1: " + "; ".join(problems) + ".")
        return self


@dataclass(frozen=True)
class InnerNeuron(Neuron):
    """σ*(x; w) = σ(<w, x>), with ∇_w σ* = σ'(<w, x>) x. D = d."""

    def __repr__(self):
        return f"InnerNeuron({self.activation!r})"

    def dim(self, d: int) -> int:
        return d

    def _z(self, X, Theta):
        X, Theta = _check_shapes(X, Theta, self.dim)
        return X, Theta, X @ np.swapaxes(Theta, -1, -2)

    def value(self, X, Theta):
        _, _, Z = self._z(X, Theta)
        return self.activation.fn(Z)

    def pullback(self, X, Theta, c):
        X, Theta, Z = self._z(X, Theta)
        G = self.activation.prime(Z) * np.asarray(c, dtype=np.float64)[..., :, None]
        return np.swapaxes(G, -1, -2) @ X

    def grad(self, X, Theta):
        X, Theta, Z = self._z(X, Theta)
        return self.activation.prime(Z)[..., None] * X[..., :, None, :]


@dataclass(frozen=True)
class AffineNeuron(Neuron):
    """σ*(x; (a, w, b)) = a σ(<w, x> + b), θ = (a, w, b) with a = θ[0], w = θ[1:d+1], b = θ[d+1].

    ∇_a σ* = σ(z), ∇_w σ* = a σ'(z) x, ∇_b σ* = a σ'(z), z = <w, x> + b. Since |σ*| grows
    with |a|, σ* is unbounded over R^D: this neuron is outside assumption A2 and claims
    refuse it (its identities are still exact and tested).
    """

    def __repr__(self):
        return f"AffineNeuron({self.activation!r})"

    def dim(self, d: int) -> int:
        return d + 2

    def _parts(self, X, Theta):
        X, Theta = _check_shapes(X, Theta, self.dim)
        a = Theta[..., 0]
        W = Theta[..., 1:-1]
        b = Theta[..., -1]
        Z = X @ np.swapaxes(W, -1, -2) + b[..., None, :]
        return X, a, Z

    def value(self, X, Theta):
        _, a, Z = self._parts(X, Theta)
        return a[..., None, :] * self.activation.fn(Z)

    def pullback(self, X, Theta, c):
        X, a, Z = self._parts(X, Theta)
        c = np.asarray(c, dtype=np.float64)[..., :, None]
        S = self.activation.fn(Z) * c
        P = self.activation.prime(Z) * c
        out_a = S.sum(axis=-2)
        out_w = a[..., :, None] * (np.swapaxes(P, -1, -2) @ X)
        out_b = a * P.sum(axis=-2)
        return np.concatenate([out_a[..., None], out_w, out_b[..., None]], axis=-1)

    def grad(self, X, Theta):
        X, a, Z = self._parts(X, Theta)
        sp = self.activation.prime(Z)
        ga = self.activation.fn(Z)[..., None]
        gw = (a[..., None, :] * sp)[..., None] * X[..., :, None, :]
        gb = (a[..., None, :] * sp)[..., None]
        return np.concatenate([ga, gw, gb], axis=-1)

    def violations(self) -> list[str]:
        return self.activation.violations() + ["σ*(x; (a, w, b)) = a σ(...) is unbounded in a (A2 needs σ* bounded)"]
