"""The built-in examples of the gate protocol: correct steps, as a user would write them.

Two kinds, all in :data:`CORRECT_STEPS`; the gate must accept each
(:func:`mfcheck.app.gate.self_test.self_test` checks it):

- :data:`EXACT_STEPS`: the paper's step written three ways (equal to the built-in rule to rounding);
- :data:`VARIANTS`: steps that are *not* the paper's SGD line for line but that the theorem covers,
  because each differs from it by less than the theorem's own error budget
  ``C e^{CT} sqrt(max(1/N, ε)) (sqrt(D + log(N/ε)) + z)`` (docs/theory.md §4): the step in float32
  arithmetic, the leave-one-out prediction, and extra noise of size ``s`` per step. Each docstring
  gives the formula and the reason.

The broken rules the gate must reject live in :mod:`mfcheck.dynamics.broken`.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from mfcheck.app.gate.protocol import Implementation
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import Neuron

__all__ = ["reference_step", "replicate_loop_step", "einsum_step", "float32_step", "leave_one_out_step", "vanishing_noise_step",
           "VANISHING_NOISE_C", "EXACT_STEPS", "VARIANTS", "CORRECT_STEPS", "data_generator"]


def _noise_and_decay(new, theta, s, noise, lam, beta):
    """new − 2λs θ + sqrt(4 s/β) g (the noisy terms; nothing when ``noise`` is None and λ = 0)."""
    if lam:
        new = new - (2.0 * lam * s) * theta
    if noise is not None:
        if beta is None or not beta > 0:
            raise InvalidArgument(f"`beta` must be > 0 when `noise` is given, got {beta!r}.")
        new = new + math.sqrt(4.0 * s / beta) * noise
    return new


def reference_step(theta, x, y, s, neuron: Neuron, noise=None, lam=0.0, beta=None):
    """Correct: θ_i ← (1 − 2λs)θ_i + 2s(y − ŷ)∇_θσ*(x; θ_i) + sqrt(4s/β) g_i, ŷ = (1/N) Σ_j σ*(x; θ_j)
    (vectorised with ``neuron.pullback``; the built-in rule :data:`mfcheck.dynamics.rules.MEAN_FIELD`
    in the user protocol)."""
    x1 = x[:, None, :]
    yhat = neuron.value(x1, theta).mean(axis=-1)  # (R, 1)
    new = theta + 2.0 * s * neuron.pullback(x1, theta, y[:, None] - yhat)
    return _noise_and_decay(new, theta, s, noise, lam, beta)


def replicate_loop_step(theta, x, y, s, neuron: Neuron, noise=None, lam=0.0, beta=None):
    """Correct, written differently: a Python loop over the replicates r; inside, ŷ_r as an
    explicit sum over particles and the gradient term particle by particle from ``neuron.grad``."""
    R, N, D = theta.shape
    new = np.empty_like(theta)
    for r in range(R):
        xr = x[r][None, :]  # (1, d)
        sig = neuron.value(xr, theta[r])[0]  # (N,)
        yhat = sig.sum() / N
        G = neuron.grad(xr, theta[r])[0]  # (N, D): ∇_θ σ*(x_r; θ_i)
        new[r] = theta[r] + (2.0 * s * (y[r] - yhat)) * G
    return _noise_and_decay(new, theta, s, noise, lam, beta)


def einsum_step(theta, x, y, s, neuron: Neuron, noise=None, lam=0.0, beta=None):
    """Correct, written differently: ∇_θσ* from ``neuron.grad`` on the pairs (x_r, θ_{r,i}) and
    the residual weighting by an explicit ``einsum``; the ridge as a multiplicative factor (1 − 2λs)θ."""
    x1 = x[:, None, :]
    resid = y - np.einsum("rn->r", neuron.value(x1, theta)[:, 0, :]) / theta.shape[1]  # (R,)
    grads = neuron.grad(x1, theta)  # (R, 1, N, D)
    new = (1.0 - 2.0 * lam * s) * theta + 2.0 * s * np.einsum("rjnd,r->rnd", grads, resid)
    return _noise_and_decay(new, theta, s, noise, 0.0, beta)


def float32_step(theta, x, y, s, neuron: Neuron, noise=None, lam=0.0, beta=None):
    """Correct within the budget: the reference step in float32 arithmetic. θ, x, y, s (and λ, β, g)
    are cast to float32; the neuron's σ*(x; θ_j) and ∇_θσ*(x; θ_i) (which the neuron evaluates in
    float64) are rounded to float32; the sum for ŷ, the residual, the products and the update
    θ_i + 2s(y − ŷ)∇σ*_i − 2λsθ_i + sqrt(4s/β) g_i are float32 operations; the result is returned as
    float64 (the protocol's type).

    Why the theorem covers it: a step rounds θ_i + Δθ_i once to float32, an error of at most half a
    unit in the last place, 2^-25 |θ_i| (θ = O(1)); the roundings inside the increment Δθ_i = O(s)
    cost only O(s 2^-24) each, O(T 2^-24) over the run. Round-to-nearest errors of different steps
    behave as independent and centred, so over the T/ε steps they add up like a random walk, to
    about sqrt(T/ε) 2^-25 ≈ sqrt(steps) · 3e-8: below 1e-5 for every ε of the tiers (ε ≥ 2^-14), a
    thousand times below the budget's sqrt(ε). Even added up in the worst case (every rounding of
    the same sign) they give (T/ε) 2^-25, below sqrt(ε)/10 for every ε ≥ 2^-14 at T = 1. Gronwall
    multiplies them by e^{CT}, as it does the budget. So float32 is negligible beside the budget."""
    f = np.float32
    th32, x32, y32, s32 = np.asarray(theta, f), np.asarray(x, f), np.asarray(y, f), f(s)
    x1 = x32[:, None, :]
    sig = np.asarray(neuron.value(x1, th32), f)[:, 0, :]  # (R, N)
    grads = np.asarray(neuron.grad(x1, th32), f)[:, 0]  # (R, N, D)
    yhat = sig.sum(axis=-1, dtype=f) / f(theta.shape[1])  # (R,)
    new = th32 + (f(2) * s32 * (y32 - yhat))[:, None, None] * grads
    if lam:
        new = new - (f(2) * f(lam) * s32) * th32
    if noise is not None:
        if beta is None or not beta > 0:
            raise InvalidArgument(f"`beta` must be > 0 when `noise` is given, got {beta!r}.")
        new = new + np.sqrt(f(4) * s32 / f(beta)) * np.asarray(noise, f)
    return np.asarray(new, np.float64)


def leave_one_out_step(theta, x, y, s, neuron: Neuron, noise=None, lam=0.0, beta=None):
    """Correct within the budget: particle i is moved by the prediction of the *other* particles,
    θ_i ← θ_i + 2s(y − ŷ_{−i})∇_θσ*(x; θ_i) (+ the noisy terms), with
    ŷ_{−i} = (Σ_j σ*(x; θ_j) − σ*(x; θ_i)) / (N − 1) = ŷ + (ŷ − σ*(x; θ_i)) / (N − 1).
    With N = 1 there is no other particle and the step is the reference step.

    Why the theorem covers it: |ŷ_{−i} − ŷ| ≤ 2K/(N − 1) (σ* bounded by K, A2), so each step's drift
    changes by at most 2s · 2K/(N − 1) · sup||∇σ*||: O(s/N) per step, O(T/N) over [0, T], amplified
    at most by e^{CT} (Gronwall). That is below the budget's sqrt(1/N) ≤ sqrt(max(1/N, ε)) for
    every N ≥ 1, and it vanishes faster along the limit. (A check of an exact property of SGD at one
    fixed N, such as the contraction rate of the particles' spread near a stable fixed point, sees
    the particle's missing self-interaction: near θ* the spread follows u' = −2ξ(A − B/(N − 1))u
    instead of −2ξAu, B = ∇₁∇₂U(θ*, θ*). The limit is the same.)"""
    R, N, D = theta.shape
    x1 = x[:, None, :]
    sig = neuron.value(x1, theta)[:, 0, :]  # (R, N)
    if N > 1:
        yhat = (sig.sum(axis=-1, keepdims=True) - sig) / (N - 1)  # (R, N): ŷ_{−i}
    else:
        yhat = sig
    grads = neuron.grad(x1, theta)[:, 0]  # (R, N, D): ∇_θσ*(x; θ_i)
    new = theta + (2.0 * s * (y[:, None] - yhat))[..., None] * grads
    return _noise_and_decay(new, theta, s, noise, lam, beta)


VANISHING_NOISE_C = 1.0
"""c of :func:`vanishing_noise_step`: the extra noise per step is c s g_i."""


def data_generator(theta, x) -> np.random.Generator:
    """A generator derived from the step's inputs alone: ``default_rng(SeedSequence(w))`` with w the
    32-bit words of the BLAKE2b digest of the bytes of θ and x. There is no global random state: a
    step is a deterministic function of its inputs, and a run replays exactly from the harness's
    seeds.

    Why θ as well as x: the harness draws x from a finite population (128 points in the default
    experiment, 6 in the fixed-points check), so the array x of one step can recur at a later step,
    most often when few replicates run together; a seed from x alone would then repeat its draws,
    and the repeats would add up to a drift that does not vanish with ε. θ changes at every step,
    so (θ, x) does not recur and the draws are new at every step."""
    h = hashlib.blake2b(digest_size=32)
    h.update(np.ascontiguousarray(theta, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    return np.random.default_rng(np.random.SeedSequence(np.frombuffer(h.digest(), dtype=np.uint32)))


def vanishing_noise_step(theta, x, y, s, neuron: Neuron, noise=None, lam=0.0, beta=None):
    """Correct within the budget: the reference step plus extra centred noise of size s,
    θ_i ← (the reference step, noiseless or noisy) + c s g'_i, g'_i ~ N(0, I_D) i.i.d. over replicates,
    particles and steps, c = :data:`VANISHING_NOISE_C`. The g' come from :func:`data_generator`
    (θ, x), a pseudo-random function of the step's inputs: in effect independent of the data, of
    the harness's own noise g and of the other steps' draws, and reproducible.

    Why the theorem covers it: the extra terms have mean zero and variance c² s² per step, so over
    T/ε steps (s = εξ, ξ ≤ K) each particle receives a random walk of standard deviation at most
    c K sqrt(εT) per coordinate: its maximum over the N particles and the run is of order
    c K sqrt(εT) sqrt(D + log(N/ε)), the budget's own form with the ε term, vanishing at the
    predicted sqrt(ε) rate. It changes averages of test functions by O(c² ε T) (Itô) plus
    O(c sqrt(εT/N)) fluctuations, again inside the budget. SGD's own noise is of the same kind:
    its increments 2s(y − ŷ)∇σ* − (their mean) are centred, of size O(s), independent given the past.
    (A check that follows the particles' spread at one fixed ε down to a small fraction of its
    start sees a floor: near a stable fixed point the extra noise keeps the spread's variance at
    about D c² ε ξ / (4 λ_min(A)), which vanishes only as ε → 0.)"""
    new = reference_step(theta, x, y, s, neuron, noise=noise, lam=lam, beta=beta)
    return new + (VANISHING_NOISE_C * s) * data_generator(theta, x).standard_normal(np.shape(theta))


EXACT_STEPS: dict[str, Implementation] = {
    "reference": reference_step,
    "replicate_loop": replicate_loop_step,
    "einsum": einsum_step,
}
"""The paper's step written differently: equal to the built-in rule up to float64 rounding."""

VARIANTS: dict[str, Implementation] = {
    "float32": float32_step,
    "leave_one_out": leave_one_out_step,
    "vanishing_noise": vanishing_noise_step,
}
"""Steps that differ from the paper's by less than the theorem's error budget (each docstring says why)."""

CORRECT_STEPS: dict[str, Implementation] = {**EXACT_STEPS, **VARIANTS}
"""Correct protocol steps (:data:`EXACT_STEPS` and :data:`VARIANTS`): the gate must accept each."""
