"""Noisy (Langevin) one-pass SGD, several independent replicates in one call (THEORY.md §2).

θ_i^{k+1} = (1 − 2λ s_k) θ_i^k + 2 s_k (y_k − ŷ(x_k; θ^k)) ∇_θ σ*(x_k; θ_i^k) + sqrt(c s_k / β) g_i^k,

with s_k = ε ξ(kε), g_i^k ~ N(0, I_D) i.i.d., λ ≥ 0 (ridge), β > 0 (inverse temperature) and
c > 0 the noise constant. Per unit of time the noise adds variance c ξ / β, so the
Fokker–Planck term of the limit is (c/2) ξ β^{-1} Δ: with the drift 2ξ∇Ψ_λ the stationary
law is the Gibbs measure ρ* ∝ exp(−β' Ψ_λ(θ; ρ*)) at β' = 4β / c. The default c = 4 makes
the noisy distributional dynamics and the Gibbs fixed point of THEORY.md §3, §5 hold as
written (β' = β); c = 2 (the talk's sqrt(2 s/β)) gives β' = 2β. The check
:mod:`mfcheck.claims.temperature` settles this by measurement.

A *noisy update rule* is ``update(Theta (R, N, D), x (R, d), y (R,), s, neuron, g (R, N, D))``:
the harness draws the Gaussians g so that a coupled reference (the noisy McKean–Vlasov
particles, driven by the same increments) can rebuild them. :func:`langevin_step` builds the
correct rule; :data:`NOISY_MUTANTS` holds broken ones.

Randomness: replicate r draws θ^0 from stream ("init", r) and its data from ("data", r)
exactly as :func:`mfcheck.dynamics.sgd.run_sgd` does (same chunking), and its Gaussians from
("noise", r): g^k is the k-th (N, D) block of ``standard_normal`` draws of that stream
(:func:`noise_increments` rebuilds them).

Backends as in :func:`mfcheck.dynamics.sgd.run_sgd`: ``backend="auto"`` runs the rule of
:func:`langevin_step` with the default drift in compiled blocks (:func:`mfcheck.dynamics.kernels.noisy_block`),
on the same Gaussians; any other rule (user implementations, mutants) runs in the numpy loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from mfcheck._validation import check_positive_int, check_real
from mfcheck.errors import InvalidArgument
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import Neuron
from mfcheck.model.observables import TestFunction
from mfcheck.model.problems.base import Problem
from mfcheck.model.schedules import Schedule, constant
from mfcheck.seeds import Streams
from mfcheck.dynamics.sgd import (
    _DATA_CHUNK, InitSampler, Recorder, SGDResult, Update, check_backend, check_dimensions, compiled_loop, data_stream,
    iid_init, initial_particles, mean_field_step, record_steps, step_sizes,
)

__all__ = [
    "NoisyUpdate",
    "NoisyFactory",
    "DEFAULT_C",
    "check_langevin_parameters",
    "langevin_step",
    "noise_increments",
    "run_noisy_sgd",
    "gibbs_inverse_temperature",
    "sqrt_s_over_beta_noise",
    "NOISY_MUTANTS",
]

NoisyUpdate = Callable[[np.ndarray, np.ndarray, np.ndarray, float, Neuron, np.ndarray], np.ndarray]
NoisyFactory = Callable[[float, float], NoisyUpdate]
"""``factory(lam, beta) -> update``: a noisy rule at the ridge λ and inverse temperature β."""

DEFAULT_C = 4.0
_NOISE_FLOATS = 1 << 21  # Gaussians held at once (16 MiB); the noise is drawn in blocks of steps of this size


def check_langevin_parameters(lam, beta, c=DEFAULT_C) -> tuple[float, float, float]:
    """Validate λ ≥ 0, β > 0, c > 0 (each error names the parameter); return them as floats."""
    lam = check_real(lam, "lam", nonnegative=True)
    beta = check_real(beta, "beta", positive=True)
    c = check_real(c, "c", positive=True)
    return lam, beta, c


def gibbs_inverse_temperature(beta, c=DEFAULT_C) -> float:
    """β' = 4β/c: the inverse temperature of the stationary Gibbs measure of noise constant c."""
    _, beta, c = check_langevin_parameters(0.0, beta, c)
    return 4.0 * beta / c


def langevin_step(lam, beta, c=DEFAULT_C, drift: Update = mean_field_step) -> NoisyUpdate:
    """The noisy rule θ ← drift(θ) − 2λ s θ + sqrt(c s/β) g.

    With the default ``drift`` (:func:`mfcheck.dynamics.sgd.mean_field_step`, θ + 2s(y − ŷ)∇σ*) this is
    θ ← (1 − 2λs)θ + 2s(y − ŷ)∇_θσ*(x; θ) + sqrt(c s/β) g. Another ``drift`` (a noiseless rule
    under test) keeps the ridge and noise terms exact, so a bug in the drift shows in the
    stationary law too.
    """
    lam, beta, c = check_langevin_parameters(lam, beta, c)
    if not callable(drift):
        raise InvalidArgument(f"`drift` must be a noiseless update rule (callable), got {drift!r}.")

    def update(Theta, x, y, s, neuron, g):
        return drift(Theta, x, y, s, neuron) - (2.0 * lam * s) * Theta + math.sqrt(c * s / beta) * g

    update.__name__ = f"langevin_step(lam={lam}, beta={beta}, c={c})"
    update.__qualname__ = update.__name__
    update.lam, update.beta, update.c = lam, beta, c
    update.compiled_rule = (lam, beta, c) if drift is mean_field_step else None  # what the compiled backend runs
    return update


def sqrt_s_over_beta_noise(lam, beta, drift: Update = mean_field_step) -> NoisyUpdate:
    """Bug: the noise is sqrt(s/β) g (c = 1), four times too little variance: the stationary
    law is the Gibbs measure at 4β instead of β."""
    update = langevin_step(lam, beta, 1.0, drift=drift)
    update.compiled_rule = None  # a mutant always runs in the numpy loop
    return update


NOISY_MUTANTS: dict[str, Callable[..., NoisyUpdate]] = {"noise_sqrt_s_over_beta": sqrt_s_over_beta_noise}


def noise_increments(streams: Streams, replicate: int, N: int, D: int, n_steps: int) -> np.ndarray:
    """g_i^k for k < n_steps of replicate ``replicate``, shape (n_steps, N, D), as :func:`run_noisy_sgd` draws them."""
    N = check_positive_int(N, "N")
    D = check_positive_int(D, "D")
    n_steps = check_positive_int(n_steps, "n_steps")
    return streams.generator("noise", replicate).standard_normal((n_steps, N, D))


def _compiled_noisy(problem, neuron, Theta, data_rngs, noise_rngs, steps, block, eps, schedule, rule, rec: Recorder, bar) -> None:
    """The compiled path of :func:`run_noisy_sgd`: Gaussians drawn per replicate in blocks of ``block`` steps
    (the same sequential draws as the numpy loop), steps run by :func:`mfcheck.dynamics.kernels.noisy_block`."""
    from mfcheck.dynamics.kernels import noisy_block

    R, N, D = Theta.shape
    lam, beta, c = rule
    n_steps = int(steps[-1])
    G = np.empty((R, block, N, D))
    drawn = [0, 0]  # [first step held in G, steps held]

    def advance(start, stop, Xc, yc, offset):
        k = start
        while k < stop:
            if k == drawn[0] + drawn[1]:  # next block of Gaussians, k a multiple of `block`
                nb = min(block, n_steps + 1 - k)
                for r, g in enumerate(noise_rngs):
                    g.standard_normal(out=G[r, :nb])
                drawn[0], drawn[1] = k, nb
            b = min(stop, drawn[0] + drawn[1])
            i0 = k - drawn[0]
            noisy_block(neuron, Theta, Xc[k - offset:b - offset], yc[k - offset:b - offset], step_sizes(schedule, eps, k, b),
                        G, lam, beta, c, first=i0)
            if bar is not None:
                bar.update(b - k)
            k = b

    compiled_loop(problem, data_rngs, steps, lambda j, k: rec.record(j, k, Theta), advance)
    if bar is not None:
        bar.close()


def run_noisy_sgd(
    problem: Problem,
    neuron: Neuron,
    rho0: GaussianInit,
    *,
    N: int,
    eps: float,
    T: float,
    replicates: int,
    streams: Streams,
    record_dt: float,
    update: NoisyUpdate,
    test_functions: Sequence[TestFunction] = (),
    schedule: Schedule = constant(1.0),
    init: InitSampler = iid_init,
    progress: bool = False,
    backend: str = "auto",
) -> SGDResult:
    """Run ``replicates`` independent noisy one-pass SGD chains of N particles to time T.

    Same arguments and conventions as :func:`mfcheck.dynamics.sgd.run_sgd`, with ``update`` a noisy rule
    (e.g. ``langevin_step(lam, beta)``) that receives the Gaussians g (R, N, D) of step k from
    the ("noise", r) streams. Records θ, test-function averages and R_N every ``record_dt``.
    ``backend``: "auto" (compiled when ``update`` is :func:`langevin_step`'s rule with the default
    drift and the neuron is known to :mod:`mfcheck.dynamics.kernels`), "numba" or "numpy".
    """
    N = check_positive_int(N, "N")
    R = check_positive_int(replicates, "replicates")
    if not callable(update):
        raise InvalidArgument(f"`update` must be a noisy update rule (callable), got {update!r}.")
    steps = record_steps(T, eps, record_dt)
    D = check_dimensions(problem, neuron, rho0)
    rule = getattr(update, "compiled_rule", None)
    compiled = check_backend(backend, neuron, rule is not None)
    Theta = initial_particles(rho0, streams, N, R, init)
    data_rngs = streams.generators("data", R)
    noise_rngs = streams.generators("noise", R)
    J = len(steps)
    rec = Recorder(problem, neuron, test_functions, steps, eps, Theta.shape)
    n_steps = int(steps[-1])
    block = max(1, min(_DATA_CHUNK, _NOISE_FLOATS // (R * N * D)))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, desc=f"noisy SGD N={N} ε={eps:g}", leave=False)
    if compiled:
        _compiled_noisy(problem, neuron, np.ascontiguousarray(Theta, dtype=np.float64), data_rngs, noise_rngs, steps, block, eps, schedule, rule,
                        rec, bar)
        return rec.result()
    j = 0
    for k, x, y in data_stream(problem, data_rngs, n_steps + 1):
        if k % block == 0:  # sequential draws: the same g as one long draw per replicate
            Gb = np.stack([g.standard_normal((min(block, n_steps + 1 - k), N, D)) for g in noise_rngs], axis=1)  # (block, R, N, D)
        if k == steps[j]:
            rec.record(j, k, Theta)
            j += 1
            if j == J:
                break
        s = eps * float(schedule(k * eps))
        Theta = update(Theta, x, y, s, neuron, Gb[k % block])
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return rec.result()
