"""Step-size profiles ξ: [0, ∞) -> [0, ∞), bounded and Lipschitz (assumption A1).

SGD uses s_k = ε ξ(kε); the limit dynamics carry the factor ξ(t).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mfcheck._validation import check_real
from mfcheck.errors import InvalidArgument

__all__ = ["Schedule", "constant", "exponential_decay"]


@dataclass(frozen=True, eq=False)
class Schedule:
    """ξ with its declared ``bound`` (sup ξ) and ``lipschitz`` constant."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    bound: float
    lipschitz: float

    def __post_init__(self):
        for attr in ("bound", "lipschitz"):
            object.__setattr__(self, attr, check_real(getattr(self, attr), attr, nonnegative=True))

    def __repr__(self):
        return self.name

    def _repr_pretty_(self, printer, cycle) -> None:
        """How hypothesis (and IPython) print a failing example: the constructor call."""
        printer.text(repr(self))

    def __call__(self, t):
        return self.fn(np.asarray(t, dtype=np.float64))


def constant(value: float = 1.0) -> Schedule:
    """ξ(t) = value (the paper's experiments use ξ ≡ 1)."""
    value = check_real(value, "value", positive=True)
    return Schedule(f"constant({value})", lambda t: np.full(np.shape(t), value), bound=value, lipschitz=0.0)


def exponential_decay(value: float = 1.0, rate: float = 1.0) -> Schedule:
    """ξ(t) = value · exp(-rate t); bound = value, Lipschitz = value · rate."""
    value = check_real(value, "value", positive=True)
    rate = check_real(rate, "rate", nonnegative=True)
    if math.isinf(rate):
        raise InvalidArgument("`rate` must be finite.")
    return Schedule(
        f"exponential_decay(value={value}, rate={rate})", lambda t: value * np.exp(-rate * t), bound=value, lipschitz=value * rate
    )
