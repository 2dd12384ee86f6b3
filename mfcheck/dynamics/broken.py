"""The registry of broken rules: SGD steps, noise terms and initial samplers with known bugs.

The claims must reject each; they measure the claims' power. Every entry of :data:`BROKEN` states
its bug in one line, what it replaces in a correct run (``"step"``, ``"noise"`` or ``"init"``),
the claims expected to catch it, and builds the rule or sampler. Each broken step is the correct
one with one term changed: :func:`mfcheck.dynamics.rules.mean_field_step` at another step size or
readout or with an extra term, or the Langevin terms with another constant or sign. The gate's
self-test, ``mfcheck calibrate`` and the tests read the registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from mfcheck._validation import check_positive_int, check_real
from mfcheck.dynamics.rules import Rule, mean_field_step
from mfcheck.errors import InvalidArgument

__all__ = ["ANTI_DECAY", "Broken", "BROKEN", "ntk_scaling", "no_factor_two", "unscaled_lr", "gradient_ascent",
           "sqrt_step", "double_step", "weak_noise", "wrong_sign_decay", "AntiWeightDecay", "ExtraNoise", "PlateauDrift",
           "SlowKicks", "PLATEAU_DRIFT", "SLOW_KICKS_C", "SLOW_KICKS_POWER", "ClusteredInit", "LateInstability", "LATE_BUDGET",
           "LATE_DECAY", "LATE_RAMP", "mean_squared_weight"]

TARGETS = ("step", "noise", "init")

ANTI_DECAY = 60.0
"""λ of the anti weight decay: growth rate 2λ = 120 > K_drift = 105.2 of the default experiment."""

PLATEAU_DRIFT = 0.05
"""b₀ of ``plateau_drift``: a drift of speed b₀ along (1, …, 1)/√D moves every particle by about
b₀ T over [0, T], of the size of the coupling and test-function statistics at the ci tier's
largest N, so a bias that does not vanish along the limit but is hard to see beside them."""

SLOW_KICKS_C = 1.0
SLOW_KICKS_POWER = 0.9
"""``slow_kicks`` adds c s^p g per step, c = :data:`SLOW_KICKS_C`, p = :data:`SLOW_KICKS_POWER`: over
T/ε steps a random walk of size c sqrt(T) ε^{p − 1/2} = c sqrt(T) ε^{0.4}, an exponent 0.1 short of
the predicted 1/2."""

LATE_BUDGET = 1.45
LATE_DECAY = 1.0
LATE_RAMP = 0.1
"""``late_instability``: anti weight decay at rate λ = :data:`LATE_DECAY`, switched on as the mean squared
weight m₂ = (1/N) Σ_j ||θ_j||² crosses the budget m₀ = :data:`LATE_BUDGET` (fully on from m₀ + :data:`LATE_RAMP`).
m₀ lies between m₂ of the default experiment's flow at T = 1, the horizon of the rate claims, and at
T = 4, the horizon of ``gronwall`` (``tests/test_broken.py`` checks both on SGD at large N): the
instability starts late, where only ``gronwall`` looks."""


# -- broken steps: the mean-field step with one term changed ---------------------------------------


def ntk_scaling(theta, x, y, s, neuron) -> np.ndarray:
    """θ_i + 2s(y − ŷ)∇σ* with the NTK readout ŷ = (1/√N) Σ_j σ*(x; θ_j)."""
    return mean_field_step(theta, x, y, s, neuron, readout=math.sqrt(theta.shape[-2]))


def no_factor_two(theta, x, y, s, neuron) -> np.ndarray:
    """θ_i + s(y − ŷ)∇σ*: the mean-field step at s/2."""
    return mean_field_step(theta, x, y, s / 2, neuron)


def unscaled_lr(theta, x, y, s, neuron) -> np.ndarray:
    """θ_i + 2(s/N)(y − ŷ)∇σ*: the plain gradient step of (y − ŷ)², the mean-field step at s/N."""
    return mean_field_step(theta, x, y, s / theta.shape[-2], neuron)


def gradient_ascent(theta, x, y, s, neuron) -> np.ndarray:
    """θ_i − 2s(y − ŷ)∇σ*: the mean-field step at −s."""
    return mean_field_step(theta, x, y, -s, neuron)


def sqrt_step(theta, x, y, s, neuron) -> np.ndarray:
    """θ_i + 2 sqrt(s)(y − ŷ)∇σ*: the mean-field step at sqrt(s)."""
    return mean_field_step(theta, x, y, math.sqrt(s), neuron)


def double_step(theta, x, y, s, neuron) -> np.ndarray:
    """θ_i + 4s(y − ŷ)∇σ*: the mean-field step at 2s (time runs twice too fast)."""
    return mean_field_step(theta, x, y, 2.0 * s, neuron)


@dataclass(frozen=True)
class PlateauDrift:
    """θ_i ← (the mean-field step) + s b₀ u, u = (1, …, 1)/√D: a constant drift of speed b₀ added to
    every particle. Its effect after time t is about b₀ t whatever N and ε: a bias of the statistics
    that does not vanish along the limit (a plateau S ≈ C · scale + b with b > 0)."""

    b0: float

    def __post_init__(self):
        object.__setattr__(self, "b0", check_real(self.b0, "b0", positive=True))

    def __call__(self, theta, x, y, s, neuron) -> np.ndarray:
        D = np.shape(theta)[-1]
        return mean_field_step(theta, x, y, s, neuron) + (s * self.b0 / math.sqrt(D))


@dataclass(frozen=True)
class AntiWeightDecay:
    """θ ← e^{+2λs} θ + 2s(y − ŷ)∇σ*: the exact weight decay e^{−2λs} with its sign flipped
    (the particles, and the coupling, grow like e^{2λt} whatever ε)."""

    lam: float

    def __post_init__(self):
        object.__setattr__(self, "lam", check_real(self.lam, "lam", nonnegative=True))

    def __call__(self, theta, x, y, s, neuron) -> np.ndarray:
        return mean_field_step(theta, x, y, s, neuron) + np.expm1(2.0 * self.lam * s) * theta


def mean_squared_weight(theta) -> np.ndarray:
    """m₂ = (1/N) Σ_j ||θ_j||² of each replicate: particles (..., N, D) -> (...)."""
    return np.mean(np.sum(np.square(theta), axis=-1), axis=-1)


@dataclass(frozen=True)
class LateInstability:
    """θ ← e^{+2λ s g(m₂)} θ + 2s(y − ŷ)∇σ*, g(m₂) = clip((m₂ − m₀)/w, 0, 1), m₂ = (1/N) Σ_j ||θ_j||² of each
    replicate: a weight-norm budget enforced with the wrong sign. Below the budget m₀ (``budget``) the step is
    the mean-field step exactly; above m₀ + w (``ramp``) it is :class:`AntiWeightDecay` at ``lam``; the ramp
    keeps the step continuous in θ. Since m₂ is a mean over the particles, the switch follows the law ρ_t
    (it is the same in the limit and at large N): a bug that the flow reaches only after some time, whose
    growth e^{2λ(t − t_on)} the coupling shows only on horizons past the onset t_on."""

    lam: float
    budget: float
    ramp: float

    def __post_init__(self):
        object.__setattr__(self, "lam", check_real(self.lam, "lam", nonnegative=True))
        object.__setattr__(self, "budget", check_real(self.budget, "budget", positive=True))
        object.__setattr__(self, "ramp", check_real(self.ramp, "ramp", positive=True))

    def __call__(self, theta, x, y, s, neuron) -> np.ndarray:
        m2 = mean_squared_weight(theta)[..., None, None]
        on = np.clip((m2 - self.budget) / self.ramp, 0.0, 1.0)
        return mean_field_step(theta, x, y, s, neuron) + np.expm1(2.0 * self.lam * s * on) * theta


class ExtraNoise:
    """θ ← (the mean-field step) + τ sqrt(s) g, g ~ N(0, I): Langevin noise with c/β = τ² left on in a
    noiseless run. The noise comes from the instance's own ``numpy.random.SeedSequence(seed)``
    stream, so each run needs a new instance (a registry entry builds one per use)."""

    def __init__(self, seed: int = 0, tau: float = 0.5):
        self.tau = check_real(tau, "tau", positive=True)
        self.rng = np.random.default_rng(np.random.SeedSequence(seed))

    def __call__(self, theta, x, y, s, neuron) -> np.ndarray:
        step = mean_field_step(theta, x, y, s, neuron)
        return step + self.tau * math.sqrt(s) * self.rng.standard_normal(np.shape(step))


class SlowKicks:
    """θ ← (the mean-field step) + c s^p g, g ~ N(0, I): centred kicks that shrink too slowly with the step.
    Over T/ε steps (s = ε) they add a random walk of size c sqrt(T) ε^{p − 1/2}: p = 1 is inside the
    budget (it vanishes like sqrt(ε)), p = 0.9 makes the coupling decay like ε^{0.4}, an exponent 0.1
    short of the predicted 1/2. The kicks come from the instance's own ``numpy.random.SeedSequence(seed)``
    stream, as :class:`ExtraNoise`'s, so each run needs a new instance (a registry entry builds one per use)."""

    def __init__(self, seed: int = 0, c: float = SLOW_KICKS_C, power: float = SLOW_KICKS_POWER):
        self.c = check_real(c, "c", positive=True)
        self.power = check_real(power, "power", positive=True)
        self.rng = np.random.default_rng(np.random.SeedSequence(seed))

    def __call__(self, theta, x, y, s, neuron) -> np.ndarray:
        step = mean_field_step(theta, x, y, s, neuron)
        return step + self.c * s**self.power * self.rng.standard_normal(np.shape(step))


# -- broken noise: the Langevin terms with one term changed (noisy_step of a rule) ----------------------


def weak_noise(theta, x, y, s, neuron, g, noise) -> np.ndarray:
    """The mean-field step − 2λsθ + sqrt(s/β) g: the Langevin terms at c = 1 instead of 4."""
    return replace(noise, c=1.0).add(mean_field_step(theta, x, y, s, neuron), theta, s, g)


def wrong_sign_decay(theta, x, y, s, neuron, g, noise) -> np.ndarray:
    """The mean-field step + 2λsθ + sqrt(cs/β) g: the ridge term with its sign flipped."""
    new = mean_field_step(theta, x, y, s, neuron)
    return new + (2.0 * noise.lam * s) * theta + math.sqrt(noise.c * s / noise.beta) * g


# -- a broken initial sampler -------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusteredInit:
    """θ^0: ceil(N/m) i.i.d. draws from ρ_0, each repeated m times, truncated to N rows (N, D). The
    variance of (1/N) Σ f(θ_i^0) is m times the i.i.d. one when m divides N; m = 1 gives exactly
    :func:`mfcheck.dynamics.sgd.iid_init`'s draws."""

    m: int

    def __post_init__(self):
        check_positive_int(self.m, "m")

    def __repr__(self):
        return f"clustered_init_m{self.m}"

    def __call__(self, rho0, rng: np.random.Generator, N: int) -> np.ndarray:
        N = check_positive_int(N, "N")
        distinct = rho0.sample(rng, -(-N // self.m))
        return np.repeat(distinct, self.m, axis=0)[:N]


# -- the registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    """One broken rule: its ``name``, the ``bug`` in one line, what it ``replaces`` in a correct run
    (one of ``"step"``, ``"noise"``, ``"init"``), the ``claims`` expected to catch it, and ``build``,
    which makes the rule or sampler (:attr:`rule`)."""

    name: str
    bug: str
    replaces: str
    claims: tuple[str, ...]
    build: Callable[[], object] = field(repr=False)

    def __post_init__(self):
        if self.replaces not in TARGETS:
            raise InvalidArgument(f"`replaces` of {self.name!r} must be one of {TARGETS}, got {self.replaces!r}.")

    @property
    def rule(self):
        """The broken :class:`~mfcheck.dynamics.rules.Rule` (a step or a noise) or initial sampler, new
        at each access (``extra_noise`` carries its own generator, which each run starts afresh)."""
        return self.build()


_DRIFT_CLAIMS = ("theorem1_test_functions", "theorem1_risk", "coupling_lemma", "theorem2_test_functions", "theorem2_risk",
                 "theorem2_coupling", "azuma", "energy_decay", "fixed_points", "temperature")
_NOISE_CLAIMS = ("theorem2_test_functions", "theorem2_coupling", "temperature")

BROKEN: dict[str, Broken] = {b.name: b for b in (
    Broken("ntk_scaling", "NTK output scaling ŷ = (1/√N) Σ_i σ*(x; θ_i) instead of the mean-field (1/N) Σ_i", "step",
           _DRIFT_CLAIMS, partial(Rule, "ntk_scaling", ntk_scaling)),
    Broken("no_factor_two", "the factor 2 of the square loss is missing: time runs at half speed", "step",
           _DRIFT_CLAIMS, partial(Rule, "no_factor_two", no_factor_two)),
    Broken("unscaled_lr", "the learning rate is not scaled by N: time runs N times too slowly", "step",
           _DRIFT_CLAIMS, partial(Rule, "unscaled_lr", unscaled_lr)),
    Broken("gradient_ascent", "sign error: gradient ascent on the risk", "step",
           _DRIFT_CLAIMS, partial(Rule, "gradient_ascent", gradient_ascent)),
    Broken("weak_noise", "the noise is sqrt(s/β) g instead of sqrt(4s/β) g: the stationary law is the Gibbs measure at 4β",
           "noise", _NOISE_CLAIMS, partial(Rule, "weak_noise", mean_field_step, noisy_step=weak_noise, kernel="mean_field")),
    Broken("wrong_sign_decay", "weight decay of the wrong sign, (1 + 2λs)θ instead of (1 − 2λs)θ: the ridge pushes outwards",
           "noise", _NOISE_CLAIMS,
           partial(Rule, "wrong_sign_decay", mean_field_step, noisy_step=wrong_sign_decay, kernel="mean_field")),
    Broken("correlated_init", "correlated θ^0, N/16 draws from ρ_0 each repeated 16 times: not i.i.d. (A4)", "init", ("mcdiarmid",),
           partial(ClusteredInit, 16)),
    Broken("sqrt_step", "the step s replaced by sqrt(s): the step is not scaled by ε", "step", ("azuma", "hinge"),
           partial(Rule, "sqrt_step", sqrt_step)),
    Broken("extra_noise", "noise 0.5 sqrt(s) g left on in a noiseless run: the martingale scale no longer shrinks with ε", "step",
           ("azuma",), lambda: Rule("extra_noise", ExtraNoise(seed=1, tau=0.5))),
    Broken("double_step", "the step is 2s instead of s: time runs twice too fast", "step",
           _DRIFT_CLAIMS, partial(Rule, "double_step", double_step)),
    Broken("plateau_drift", f"a constant drift s·b₀·(1, …, 1)/√D with b₀ = {PLATEAU_DRIFT:g} added to every step: a bias that does "
           f"not vanish as N → ∞, ε → 0", "step", ("theorem1_test_functions", "theorem1_risk", "coupling_lemma", "theorem2_test_functions",
                                                     "theorem2_risk", "theorem2_coupling", "temperature"),
           lambda: Rule("plateau_drift", PlateauDrift(PLATEAU_DRIFT))),
    Broken("slow_kicks", f"centred kicks {SLOW_KICKS_C:g}·s^{SLOW_KICKS_POWER:g}·g added to every step: the coupling decays like "
           f"ε^{SLOW_KICKS_POWER - 0.5:.1f}, not sqrt(ε)", "step", ("coupling_lemma", "theorem2_coupling", "azuma"),
           lambda: Rule("slow_kicks", SlowKicks(seed=2))),
    Broken("anti_weight_decay", f"weight decay of the wrong sign, e^(+2λs)θ with λ = {ANTI_DECAY:g}: the coupling grows like "
           f"e^({2 * ANTI_DECAY:g}t)", "step", ("gronwall",), lambda: Rule("anti_weight_decay", AntiWeightDecay(ANTI_DECAY))),
    Broken("late_instability", f"a weight-norm budget with the wrong sign: weight decay e^(+2λs)θ, λ = {LATE_DECAY:g}, once the mean "
           f"squared weight exceeds {LATE_BUDGET:g}, which the flow reaches only after the rate claims' horizon T = 1", "step",
           ("gronwall",), lambda: Rule("late_instability", LateInstability(LATE_DECAY, LATE_BUDGET, LATE_RAMP))),
)}
"""Every broken rule by name."""
