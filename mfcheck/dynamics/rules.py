"""SGD update rules: one small frozen type for the correct rule, noisy SGD, broken rules and user steps.

A rule performs one step of R independent replicates: particles θ (R, N, D), one fresh sample
x (R, d), y (R,) per replicate, the step size s = ε ξ(kε) (docs/theory.md §2):

    noiseless:  θ_i ← θ_i + 2 s (y − ŷ(x; θ)) ∇_θ σ*(x; θ_i),   ŷ(x; θ) = (1/N) Σ_j σ*(x; θ_j),
    Langevin:   θ_i ← (the noiseless step) − 2λ s θ_i + sqrt(c s / β) g_i,

with g (R, N, D) standard Gaussians drawn by the harness (so that a coupled reference can be
driven by the same increments), ridge λ ≥ 0, inverse temperature β > 0, noise constant c > 0.
Per unit of time the noise adds variance c ξ / β, so the Fokker–Planck term of the limit is
(c/2) ξ β^{-1} Δ and the stationary law is the Gibbs measure at β' = 4β / c: c = 4 makes docs/theory.md
§3, §5 hold as written (β' = β); c = 2 (the talk's sqrt(2 s/β)) gives β' = 2β
(:mod:`mfcheck.claims.temperature` settles it by measurement).

A :class:`Rule` is a value: its noiseless ``step``, the Langevin parameters it runs at (``noise``),
its own ``noisy_step`` when it adds the noise itself (a user's step; a broken noise term) and the
compiled ``kernel`` that computes it, if any. Noisy SGD is a rule plus Langevin noise,
``MEAN_FIELD.noisy(λ, β)``; :mod:`mfcheck.dynamics.broken` holds the broken rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from mfcheck._validation import check_real
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import Neuron

__all__ = ["DEFAULT_C", "KERNELS", "gibbs_inverse_temperature", "Langevin", "mean_field_step", "Rule", "MEAN_FIELD"]

DEFAULT_C = 4.0

KERNELS = ("mean_field",)
"""Compiled kernels a rule may name: "mean_field" computes :func:`mean_field_step`
(:func:`mfcheck.dynamics.kernels.sgd_block`) and, for a noisy rule, that step followed by the exact
Langevin terms (:func:`mfcheck.dynamics.kernels.noisy_block` with the rule's λ, β, c)."""


def gibbs_inverse_temperature(beta, c=DEFAULT_C) -> float:
    """β' = 4β/c: the inverse temperature of the stationary Gibbs measure of noise constant c."""
    noise = Langevin(0.0, beta, c)
    return 4.0 * noise.beta / noise.c


@dataclass(frozen=True)
class Langevin:
    """The Langevin terms of a noisy step, − 2λ s θ + sqrt(c s / β) g: ridge ``lam`` ≥ 0, inverse
    temperature ``beta`` > 0, noise constant ``c`` > 0 (module docstring)."""

    lam: float
    beta: float
    c: float = DEFAULT_C

    def __post_init__(self):  # each error names the parameter
        object.__setattr__(self, "lam", check_real(self.lam, "lam", nonnegative=True))
        object.__setattr__(self, "beta", check_real(self.beta, "beta", positive=True))
        object.__setattr__(self, "c", check_real(self.c, "c", positive=True))

    def add(self, new: np.ndarray, theta: np.ndarray, s: float, g: np.ndarray) -> np.ndarray:
        """new − 2λ s θ + sqrt(c s/β) g: the noisy step from the noiseless one (``new``) at θ."""
        return new - (2.0 * self.lam * s) * theta + math.sqrt(self.c * s / self.beta) * g


def mean_field_step(theta, x, y, s, neuron: Neuron, readout: float | None = None) -> np.ndarray:
    """θ_i + 2 s (y − ŷ) ∇_θ σ*(x; θ_i) for every replicate, ŷ = (1/N) Σ_j σ*(x; θ_j).

    ``readout`` replaces the N of ŷ = (1/N) Σ_j σ*(x; θ_j) (the NTK-scaled broken rule passes √N);
    the broken rules of :mod:`mfcheck.dynamics.broken` are this step with one term changed."""
    x1 = x[:, None, :]
    yhat = neuron.value(x1, theta).sum(axis=-1) / (theta.shape[-2] if readout is None else readout)  # (R, 1)
    return theta + 2.0 * s * neuron.pullback(x1, theta, y[:, None] - yhat)


@dataclass(frozen=True)
class Rule:
    """An SGD update rule on R replicates: ``rule(theta, x, y, s, neuron, g=None) -> theta_next``.

    - ``name``: the rule's name (reports print :attr:`label`).
    - ``step(theta, x, y, s, neuron)``: the noiseless step.
    - ``noise``: the Langevin parameters the rule runs at; None: noiseless SGD (then ``g`` is None).
    - ``noisy_step(theta, x, y, s, neuron, g, noise)``: the whole noisy step of a rule that adds
      its noise itself (a user's implementation, a broken noise term); None: ``step`` followed
      by the exact Langevin terms :meth:`Langevin.add`.
    - ``kernel``: the compiled kernel that computes ``step`` (and ``step`` followed by the exact
      Langevin terms; one of :data:`KERNELS`), or None. A rule's own ``noisy_step`` and a rule
      without a kernel run in the numpy loop (:attr:`compiled_kernel`).
    """

    name: str
    step: Callable[..., np.ndarray] = field(repr=False)
    noise: Langevin | None = None
    noisy_step: Callable[..., np.ndarray] | None = field(default=None, repr=False)
    kernel: str | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise InvalidArgument(f"`name` must be a non-empty string, got {self.name!r}.")
        if not callable(self.step):
            raise InvalidArgument(f"`step` of rule {self.name!r} must be callable, got {self.step!r}.")
        if self.noise is not None and not isinstance(self.noise, Langevin):
            raise InvalidArgument(f"`noise` of rule {self.name!r} must be a Langevin or None, got {self.noise!r}.")
        if self.noisy_step is not None and not callable(self.noisy_step):
            raise InvalidArgument(f"`noisy_step` of rule {self.name!r} must be callable or None, got {self.noisy_step!r}.")
        if self.kernel is not None and self.kernel not in KERNELS:
            raise InvalidArgument(f"`kernel` of rule {self.name!r} must be one of {KERNELS} or None, got {self.kernel!r}.")

    def __call__(self, theta, x, y, s, neuron: Neuron, g=None) -> np.ndarray:
        if self.noise is None:
            return self.step(theta, x, y, s, neuron)
        if g is None:
            raise InvalidArgument(f"`g` (the Gaussians of the step) is needed by the noisy rule {self.label}.")
        if self.noisy_step is not None:
            return self.noisy_step(theta, x, y, s, neuron, g, self.noise)
        return self.noise.add(self.step(theta, x, y, s, neuron), theta, s, g)

    @property
    def compiled_kernel(self) -> str | None:
        """The kernel that computes this rule as it runs: ``kernel``, unless the rule is noisy with a
        noisy step of its own (then None)."""
        return None if self.noise is not None and self.noisy_step is not None else self.kernel

    @property
    def label(self) -> str:
        """How reports name the rule: ``name`` when noiseless; "langevin_step(lam=…, beta=…, c=…)"
        for a step with the exact Langevin terms; "name(lam=…, beta=…)" for a rule's own noisy step."""
        n = self.noise
        if n is None:
            return self.name
        if self.noisy_step is None:
            return f"langevin_step(lam={n.lam}, beta={n.beta}, c={n.c})"
        return f"{self.name}(lam={n.lam}, beta={n.beta})"

    def noisy(self, lam, beta) -> Rule:
        """This rule as noisy SGD at ridge λ and inverse temperature β: its own noisy step, or else
        its noiseless step followed by the exact Langevin terms with c = 4."""
        return replace(self, noise=Langevin(lam, beta))

    def langevin(self, lam, beta, c=DEFAULT_C) -> Rule:
        """This rule's noiseless step followed by the exact Langevin terms of noise constant c (a
        noisy step of its own set aside): a bug in the step then shows in the stationary law too."""
        return replace(self, noise=Langevin(lam, beta, c), noisy_step=None)


MEAN_FIELD = Rule("mean_field_step", mean_field_step, kernel="mean_field")
"""The correct rule (noiseless; ``MEAN_FIELD.noisy(λ, β)`` is Langevin SGD with c = 4), compiled
where the kernels know the neuron."""
