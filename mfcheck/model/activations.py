"""Scalar activations σ: R -> R that carry the constants the theorems need.

Every :class:`Activation` declares

* ``sup_norm``        = sup_t |σ(t)|                 (assumption A2: σ* bounded by K),
* ``lipschitz``       = Lipschitz constant of σ,
* ``sup_prime``       = sup_t |σ'(t)|,
* ``lipschitz_prime`` = Lipschitz constant of σ'       (A3: ∇V, ∇₁U Lipschitz),

and evaluates σ, σ', σ'' on arrays. A constant that is infinite says the activation is
outside the matching assumption; :meth:`Activation.require_theorem_1` refuses it.
Constructors: :func:`tanh_sum`, :func:`erf_sigmoid`, :func:`bounded_sine`,
:func:`piecewise_linear` (MMN18 §3) and :func:`relu` (outside A2, kept for contrast).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from mfcheck._validation import check_real
from mfcheck.errors import InvalidArgument, OutsideAssumptions

__all__ = [
    "Activation",
    "tanh_sum",
    "erf_sigmoid",
    "bounded_sine",
    "piecewise_linear",
    "relu",
    "PAPER_SIGMA",
]

_MAX_TANH_SECOND = 4.0 / (3.0 * math.sqrt(3.0))  # sup |tanh''| = sup |2 tanh (tanh^2 - 1)|


@dataclass(frozen=True, eq=False)
class Activation:
    """A bounded Lipschitz activation with its declared constants.

    **Arguments:**

    - ``name``: how the activation was built, shown by ``repr``.
    - ``fn``, ``prime``, ``second``: vectorised σ, σ' and σ'' (σ'' may be ``None``
      where it does not exist as a function).
    - ``sup_norm``, ``lipschitz``, ``sup_prime``, ``lipschitz_prime``: the constants
      above; non-negative, ``math.inf`` allowed and meaning "none exists".
    - ``family``, ``params``: the constructor's name and its arguments as a flat tuple of
      floats (``None`` and ``()`` for a hand-built activation). Closed-form oracles and compiled
      kernels dispatch on them; an activation without a family takes the generic path.
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    prime: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    second: Callable[[np.ndarray], np.ndarray] | None = field(repr=False)
    sup_norm: float
    lipschitz: float
    sup_prime: float
    lipschitz_prime: float
    family: str | None = None
    params: tuple[float, ...] = ()

    def __post_init__(self):
        for attr in ("sup_norm", "lipschitz", "sup_prime", "lipschitz_prime"):
            value = getattr(self, attr)
            if value is None:
                raise InvalidArgument(
                    f"Activation {self.name!r} has no declared `{attr}`; every activation must "
                    "declare its bounds (use math.inf when none exists)."
                )
            object.__setattr__(self, attr, check_real(value, attr, nonnegative=True, allow_inf=True))
        for attr in ("fn", "prime"):
            if not callable(getattr(self, attr)):
                raise InvalidArgument(f"`{attr}` of activation {self.name!r} must be callable.")

    def __repr__(self) -> str:
        return self.name

    def _repr_pretty_(self, printer, cycle) -> None:
        """How hypothesis (and IPython) print a failing example: the constructor call."""
        printer.text(repr(self))

    def __call__(self, t):
        return self.fn(np.asarray(t, dtype=np.float64))

    @property
    def bounded(self) -> bool:
        """True when sup|σ| is finite (assumption A2)."""
        return math.isfinite(self.sup_norm)

    def violations(self) -> list[str]:
        """The hypotheses of Theorem 1 this activation breaks (empty when none)."""
        out = []
        if not math.isfinite(self.sup_norm):
            out.append("σ is unbounded (A2 needs sup|σ| < ∞)")
        if not math.isfinite(self.lipschitz):
            out.append("σ is not Lipschitz (A2 needs a bounded, sub-Gaussian ∇θσ*)")
        if not math.isfinite(self.lipschitz_prime):
            out.append("σ' is not Lipschitz (A3 needs ∇V, ∇₁U Lipschitz)")
        return out

    def require_theorem_1(self) -> Activation:
        """Return ``self``, or raise :class:`OutsideAssumptions` naming the broken hypothesis."""
        problems = self.violations()
        if problems:
            raise OutsideAssumptions(
                f"Activation {self.name} is outside the hypotheses of Theorem 1: " + "; ".join(problems) + "."
            )
        return self


def _as_tuple(values, name: str, *, positive: bool = False) -> tuple[float, ...]:
    try:
        values = tuple(np.atleast_1d(np.asarray(values, dtype=float)).ravel().tolist())
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"`{name}` must be a sequence of real numbers, got {values!r}: {exc}") from None
    if not values:
        raise InvalidArgument(f"`{name}` must not be empty.")
    return tuple(check_real(v, f"{name}[{i}]", positive=positive) for i, v in enumerate(values))


def tanh_sum(amplitudes=(1.0,), slopes=(1.0,), shifts=None) -> Activation:
    r"""σ(t) = Σ_j a_j tanh(b_j t + c_j), a bounded sum of scaled tanh.

    Constants: sup|σ| ≤ Σ|a_j|, Lip(σ) = sup|σ'| ≤ Σ|a_j b_j|,
    Lip(σ') ≤ Σ |a_j| b_j² · 4/(3√3).
    """
    a = _as_tuple(amplitudes, "amplitudes")
    b = _as_tuple(slopes, "slopes", positive=True)
    c = _as_tuple(shifts if shifts is not None else (0.0,) * len(a), "shifts")
    if not len(a) == len(b) == len(c):
        raise InvalidArgument(f"`amplitudes`, `slopes`, `shifts` must have equal lengths, got {len(a)}, {len(b)}, {len(c)}.")
    A, B, C = (np.array(v)[:, None] for v in (a, b, c))

    def terms(t):
        return np.tanh(B * np.reshape(t, (1, -1)) + C)

    def fn(t):
        t = np.asarray(t, dtype=float)
        return (A * terms(t)).sum(axis=0).reshape(t.shape)

    def prime(t):
        t = np.asarray(t, dtype=float)
        th = terms(t)
        return (A * B * (1.0 - th**2)).sum(axis=0).reshape(t.shape)

    def second(t):
        t = np.asarray(t, dtype=float)
        th = terms(t)
        return (A * B**2 * (-2.0 * th * (1.0 - th**2))).sum(axis=0).reshape(t.shape)

    lip = float(np.sum(np.abs(A * B)))
    return Activation(
        name=f"tanh_sum(amplitudes={a}, slopes={b}, shifts={c})",
        fn=fn, prime=prime, second=second,
        sup_norm=float(np.sum(np.abs(A))), lipschitz=lip, sup_prime=lip,
        lipschitz_prime=float(np.sum(np.abs(A) * B**2)) * _MAX_TANH_SECOND,
        family="tanh_sum", params=a + b + c,
    )


def erf_sigmoid(amplitude: float = 1.0, slope: float = 1.0) -> Activation:
    r"""σ(t) = a erf(b t).

    Constants: sup|σ| = |a|, Lip(σ) = sup|σ'| = |a| b 2/√π,
    Lip(σ') = sup|σ''| = |a| b² (2/√π) √2 e^{-1/2}.
    """
    a = check_real(amplitude, "amplitude")
    b = check_real(slope, "slope", positive=True)
    k = 2.0 / math.sqrt(math.pi)
    lip = abs(a) * b * k
    return Activation(
        name=f"erf_sigmoid(amplitude={a}, slope={b})",
        fn=lambda t: a * special.erf(b * np.asarray(t, dtype=float)),
        prime=lambda t: a * b * k * np.exp(-((b * np.asarray(t, dtype=float)) ** 2)),
        second=lambda t: -2.0 * a * b**3 * k * np.asarray(t, dtype=float) * np.exp(-((b * np.asarray(t, dtype=float)) ** 2)),
        sup_norm=abs(a), lipschitz=lip, sup_prime=lip,
        lipschitz_prime=abs(a) * b**2 * k * math.sqrt(2.0) * math.exp(-0.5),
        family="erf_sigmoid", params=(a, b),
    )


def bounded_sine(amplitude: float = 1.0, frequency: float = 1.0, phase: float = 0.0) -> Activation:
    r"""σ(t) = a sin(b t + c). Constants: sup|σ| = |a|, Lip(σ) = |a| b, Lip(σ') = |a| b²."""
    a = check_real(amplitude, "amplitude")
    b = check_real(frequency, "frequency", positive=True)
    c = check_real(phase, "phase")
    return Activation(
        name=f"bounded_sine(amplitude={a}, frequency={b}, phase={c})",
        fn=lambda t: a * np.sin(b * np.asarray(t, dtype=float) + c),
        prime=lambda t: a * b * np.cos(b * np.asarray(t, dtype=float) + c),
        second=lambda t: -a * b**2 * np.sin(b * np.asarray(t, dtype=float) + c),
        sup_norm=abs(a), lipschitz=abs(a) * b, sup_prime=abs(a) * b, lipschitz_prime=abs(a) * b**2,
        family="bounded_sine", params=(a, b, c),
    )


def piecewise_linear(t1: float = 0.5, t2: float = 1.5, s1: float = -2.5, s2: float = 7.5) -> Activation:
    r"""MMN18 §3: σ(t) = s1 for t ≤ t1, s2 for t ≥ t2, linear in between.

    Constants: sup|σ| = max(|s1|, |s2|), Lip(σ) = |s2 - s1| / (t2 - t1); σ' jumps at t1, t2,
    so Lip(σ') = ∞ and σ'' is returned as 0 almost everywhere.
    """
    t1 = check_real(t1, "t1")
    t2 = check_real(t2, "t2")
    s1 = check_real(s1, "s1")
    s2 = check_real(s2, "s2")
    if not t2 > t1:
        raise InvalidArgument(f"Cannot have t2={t2} <= t1={t1}.")
    slope = (s2 - s1) / (t2 - t1)

    def fn(t):
        return s1 + slope * (np.clip(np.asarray(t, dtype=float), t1, t2) - t1)

    def prime(t):
        t = np.asarray(t, dtype=float)
        return np.where((t > t1) & (t < t2), slope, 0.0)

    return Activation(
        name=f"piecewise_linear(t1={t1}, t2={t2}, s1={s1}, s2={s2})",
        fn=fn, prime=prime, second=lambda t: np.zeros_like(np.asarray(t, dtype=float)),
        sup_norm=max(abs(s1), abs(s2)), lipschitz=abs(slope), sup_prime=abs(slope), lipschitz_prime=math.inf,
        family="piecewise_linear", params=(t1, t2, s1, s2),
    )


def relu() -> Activation:
    """σ(t) = max(t, 0): unbounded, so outside assumption A2; claims refuse it."""
    return Activation(
        name="relu()",
        fn=lambda t: np.maximum(np.asarray(t, dtype=float), 0.0),
        prime=lambda t: (np.asarray(t, dtype=float) > 0).astype(float),
        second=lambda t: np.zeros_like(np.asarray(t, dtype=float)),
        sup_norm=math.inf, lipschitz=1.0, sup_prime=1.0, lipschitz_prime=math.inf,
        family="relu", params=(),
    )


PAPER_SIGMA = piecewise_linear()
"""The activation of MMN18's Gaussian-separation experiments (docs/theory.md §6)."""
