"""Test functions f: R^D -> R, bounded and Lipschitz with declared constants (Theorem 1).

Each :class:`TestFunction` evaluates on arrays of particles (..., D) -> (...) and carries
``sup_norm`` = sup|f| and ``lipschitz`` = Lip(f); ``K`` = max of the two is the K of the
theorem for f. Builders: :func:`tanh_ridge`, :func:`cosine_ridge`, :func:`gaussian_bump`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mfcheck._validation import check_array, check_positive_int, check_real

__all__ = ["TestFunction", "tanh_ridge", "cosine_ridge", "gaussian_bump", "default_test_functions"]


@dataclass(frozen=True, eq=False)
class TestFunction:
    """A bounded Lipschitz f with its constants."""

    __test__ = False  # not a pytest class

    name: str
    fn: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    sup_norm: float
    lipschitz: float

    def __post_init__(self):
        for attr in ("sup_norm", "lipschitz"):
            object.__setattr__(self, attr, check_real(getattr(self, attr), attr, nonnegative=True))

    def __repr__(self):
        return self.name

    def _repr_pretty_(self, printer, cycle) -> None:
        """How hypothesis (and IPython) print a failing example: the constructor call."""
        printer.text(repr(self))

    def __call__(self, theta):
        return self.fn(np.asarray(theta, dtype=np.float64))

    @property
    def K(self) -> float:
        return max(self.sup_norm, self.lipschitz)


def _direction(u, name):
    return check_array(u, name, ndim=1)


def tanh_ridge(u) -> TestFunction:
    """f(θ) = tanh(<u, θ>): sup 1, Lipschitz ||u||."""
    u = _direction(u, "u")
    return TestFunction(f"tanh_ridge(u={np.round(u, 4).tolist()})", lambda th: np.tanh(th @ u), 1.0, float(np.linalg.norm(u)))


def cosine_ridge(v, phase: float = 0.0) -> TestFunction:
    """f(θ) = cos(<v, θ> + c): sup 1, Lipschitz ||v||."""
    v = _direction(v, "v")
    c = check_real(phase, "phase")
    return TestFunction(
        f"cosine_ridge(v={np.round(v, 4).tolist()}, phase={c})", lambda th: np.cos(th @ v + c), 1.0, float(np.linalg.norm(v))
    )


def gaussian_bump(center, width: float = 1.0) -> TestFunction:
    """f(θ) = exp(-||θ - c||² / (2h²)): sup 1, Lipschitz e^{-1/2} / h."""
    c = _direction(center, "center")
    h = check_real(width, "width", positive=True)
    return TestFunction(
        f"gaussian_bump(center={np.round(c, 4).tolist()}, width={h})",
        lambda th: np.exp(-np.sum((th - c) ** 2, axis=-1) / (2 * h * h)),
        1.0,
        math.exp(-0.5) / h,
    )


def default_test_functions(D: int) -> tuple[TestFunction, ...]:
    """Three fixed test functions on R^D used by the Theorem 1 claim."""
    D = check_positive_int(D, "D")
    e = np.zeros(D)
    e[0] = 1.0
    ones = np.ones(D) / math.sqrt(D)
    alt = np.array([(-1.0) ** i for i in range(D)]) / math.sqrt(D)
    return (tanh_ridge(1.5 * e), cosine_ridge(ones, phase=0.3), gaussian_bump(0.5 * alt, width=1.0))
