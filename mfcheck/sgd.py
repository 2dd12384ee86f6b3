"""One-pass particle SGD (noiseless), several independent replicates in one call.

θ_i^{k+1} = θ_i^k + 2 s_k (y_k - ŷ(x_k; θ^k)) ∇_θ σ*(x_k; θ_i^k),   s_k = ε ξ(kε),
ŷ(x; θ) = (1/N) Σ_i σ*(x; θ_i)   (THEORY.md §2; the step is N times the plain gradient step).

An *update rule* is a function ``update(Theta, x, y, s, neuron) -> Theta_next`` acting on a
batch of replicates (Theta (R, N, D), x (R, d), y (R,), s a float). :func:`mean_field_step` is
the correct rule; :mod:`mfcheck.mutants` holds broken ones the claims must reject.

Randomness comes from named streams (:class:`mfcheck.seeds.Streams`): replicate r draws its
initial particles from stream ("init", r) and its data from ("data", r), so a replicate does
not depend on how many others run beside it, and the coupled reference can rebuild θ^0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mfcheck._validation import check_positive_int, check_real
from mfcheck.errors import InvalidArgument
from mfcheck.functionals import risk
from mfcheck.initial import GaussianInit
from mfcheck.neurons import Neuron
from mfcheck.observables import TestFunction
from mfcheck.problems.base import Problem
from mfcheck.schedules import Schedule, constant
from mfcheck.seeds import Streams

__all__ = ["mean_field_step", "iid_init", "record_steps", "SGDResult", "initial_particles", "check_dimensions", "data_stream", "check_finite_particles", "run_sgd"]

Update = Callable[[np.ndarray, np.ndarray, np.ndarray, float, Neuron], np.ndarray]
InitSampler = Callable[[GaussianInit, np.random.Generator, int], np.ndarray]

_DATA_CHUNK = 2048


def mean_field_step(Theta, x, y, s, neuron: Neuron) -> np.ndarray:
    """θ_i + 2 s (y - ŷ(x; θ)) ∇_θ σ*(x; θ_i) for every replicate; ŷ = (1/N) Σ_i σ*(x; θ_i)."""
    x1 = x[:, None, :]
    yhat = neuron.value(x1, Theta).mean(axis=-1)  # (R, 1)
    return Theta + 2.0 * s * neuron.pullback(x1, Theta, y[:, None] - yhat)


def record_steps(T: float, eps: float, record_dt: float) -> np.ndarray:
    """The SGD step indices k_j = j·record_dt/ε at which observables are recorded (j = 0..T/record_dt).

    ``record_dt`` must be a multiple of ε and divide T (up to 1e-9 relative), so that the
    recorded times kε fall exactly on the reference grid.
    """
    T = check_real(T, "T", positive=True)
    eps = check_real(eps, "eps", positive=True)
    record_dt = check_real(record_dt, "record_dt", positive=True)
    per = record_dt / eps
    n_rec = T / record_dt
    if abs(per - round(per)) > 1e-9 * per or round(per) < 1:
        raise InvalidArgument(f"`record_dt`={record_dt} must be a positive multiple of `eps`={eps}.")
    if abs(n_rec - round(n_rec)) > 1e-9 * n_rec:
        raise InvalidArgument(f"`record_dt`={record_dt} must divide `T`={T}.")
    return np.arange(int(round(n_rec)) + 1) * int(round(per))


@dataclass(frozen=True)
class SGDResult:
    """What one batched SGD run records on its time grid.

    - ``times`` (J,): t_j = k_j ε;  ``steps`` (J,): k_j.
    - ``theta`` (R, J, N, D): the particles at the recorded steps (``theta[:, 0]`` is θ^0).
    - ``f_means`` (R, J, F): (1/N) Σ_i f(θ_i^{k_j}) for each test function.
    - ``risk`` (R, J): R_N(θ^{k_j}) from the population oracle.
    """

    times: np.ndarray
    steps: np.ndarray
    theta: np.ndarray
    f_means: np.ndarray
    risk: np.ndarray
    N: int
    eps: float


def iid_init(rho0: GaussianInit, rng: np.random.Generator, N: int) -> np.ndarray:
    """θ_i^0 ~ ρ_0 i.i.d. (assumption A4), shape (N, D)."""
    return rho0.sample(rng, N)


def initial_particles(rho0: GaussianInit, streams: Streams, N: int, replicates: int, init: InitSampler = iid_init) -> np.ndarray:
    """θ^0 for each replicate, shape (R, N, D), from streams ("init", r)."""
    return np.stack([init(rho0, g, N) for g in streams.generators("init", replicates)])


def check_dimensions(problem: Problem, neuron: Neuron, rho0: GaussianInit) -> int:
    """D = neuron.dim(problem.d), after checking that ρ_0 lives in R^D."""
    D = neuron.dim(problem.d)
    if rho0.D != D:
        raise InvalidArgument(f"Shape mismatch: `rho0` has D={rho0.D} but {neuron!r} on d={problem.d} needs D={D}.")
    return D


def data_stream(problem: Problem, data_rngs: Sequence[np.random.Generator], n_samples: int):
    """Yield (k, x_k (R, d), y_k (R,)) for k < ``n_samples``: replicate r's one-pass samples from
    ``data_rngs[r]``, drawn in chunks of ``_DATA_CHUNK`` (so a replicate's stream depends neither
    on R nor on where a run stops). Every SGD loop of the package reads its data from here."""
    for start in range(0, n_samples, _DATA_CHUNK):
        stop = min(start + _DATA_CHUNK, n_samples)
        batch = [problem.sample(g, stop - start) for g in data_rngs]
        Xc = np.stack([b[0] for b in batch], axis=1)  # (chunk, R, d)
        yc = np.stack([b[1] for b in batch], axis=1)  # (chunk, R)
        for k in range(start, stop):
            yield k, Xc[k - start], yc[k - start]


def check_finite_particles(Theta: np.ndarray, k: int, N: int, eps: float) -> None:
    """Raise ``FloatingPointError`` if SGD has diverged (non-finite particles) by step k."""
    if not np.all(np.isfinite(Theta)):
        raise FloatingPointError(f"SGD diverged (non-finite particles) before step {k} with N={N}, eps={eps}.")


def _observe(problem, neuron, Theta, test_functions):
    f = np.stack([tf(Theta).mean(axis=-1) for tf in test_functions], axis=-1) if test_functions else np.zeros(Theta.shape[:-2] + (0,))
    return f, risk(problem, neuron, Theta)


def run_sgd(
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
    test_functions: Sequence[TestFunction] = (),
    schedule: Schedule = constant(1.0),
    update: Update = mean_field_step,
    init: InitSampler = iid_init,
) -> SGDResult:
    """Run ``replicates`` independent one-pass SGD chains of N particles to time T.

    **Arguments:**

    - ``problem``, ``neuron``, ``rho0``: the data law P, σ* and the initial law ρ_0.
    - ``N`` (particles), ``eps`` (ε, step scale), ``T`` (horizon; T/ε steps).
    - ``replicates``: independent chains, each with its own ("init", r), ("data", r) streams.
    - ``record_dt``: observables are recorded every ``record_dt`` units of time.
    - ``update``: the update rule (default :func:`mean_field_step`).
    - ``init``: the sampler of θ^0 (default :func:`iid_init`, θ_i^0 ~ ρ_0 i.i.d.).
    """
    N = check_positive_int(N, "N")
    R = check_positive_int(replicates, "replicates")
    steps = record_steps(T, eps, record_dt)
    check_dimensions(problem, neuron, rho0)
    Theta = initial_particles(rho0, streams, N, R, init)
    data_rngs = streams.generators("data", R)
    J = len(steps)
    theta_rec = np.empty((R, J) + Theta.shape[1:])
    f_rec = np.empty((R, J, len(test_functions)))
    risk_rec = np.empty((R, J))
    n_steps = int(steps[-1])
    j = 0
    for k, x, y in data_stream(problem, data_rngs, n_steps + 1):
        if k == steps[j]:
            check_finite_particles(Theta, k, N, eps)
            theta_rec[:, j] = Theta
            f_rec[:, j], risk_rec[:, j] = _observe(problem, neuron, Theta, test_functions)
            j += 1
            if j == J:
                break
        Theta = update(Theta, x, y, eps * float(schedule(k * eps)), neuron)
    return SGDResult(times=steps * eps, steps=steps, theta=theta_rec, f_means=f_rec, risk=risk_rec, N=N, eps=float(eps))
