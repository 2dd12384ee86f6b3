"""One-pass particle SGD (noiseless), several independent replicates in one call.

θ_i^{k+1} = θ_i^k + 2 s_k (y_k - ŷ(x_k; θ^k)) ∇_θ σ*(x_k; θ_i^k),   s_k = ε ξ(kε),
ŷ(x; θ) = (1/N) Σ_i σ*(x; θ_i)   (THEORY.md §2; the step is N times the plain gradient step).

An *update rule* is a function ``update(Theta, x, y, s, neuron) -> Theta_next`` acting on a
batch of replicates (Theta (R, N, D), x (R, d), y (R,), s a float). :func:`mean_field_step` is
the correct rule; :mod:`mfcheck.dynamics.mutants` holds broken ones the claims must reject.

Backends: the numpy loop (one :func:`mean_field_step` call per step) is the readable reference;
``backend="numba"`` runs the same rule in compiled blocks of steps (:mod:`mfcheck.dynamics.kernels`), with
the same data, initial particles and step sizes, so both agree up to floating-point rounding.
``backend="auto"`` takes the compiled path only for the built-in rule on a neuron the kernels know.

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
from mfcheck.model.functionals import risk
from mfcheck.model.experiment import check_dimensions
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import Neuron
from mfcheck.model.observables import TestFunction
from mfcheck.model.problems.base import Problem
from mfcheck.model.schedules import Schedule, constant
from mfcheck.seeds import Streams

__all__ = [
    "mean_field_step", "iid_init", "record_steps", "SGDResult", "initial_particles", "check_dimensions", "data_chunks", "data_stream",
    "check_finite_particles", "Recorder", "step_sizes", "compiled_loop", "BACKENDS", "check_backend", "run_sgd",
]

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


def data_chunks(problem: Problem, data_rngs: Sequence[np.random.Generator], n_samples: int):
    """Yield (start, X (chunk, R, d), y (chunk, R)): the samples of steps start .. start+chunk−1, replicate
    r's drawn from ``data_rngs[r]`` in chunks of ``_DATA_CHUNK`` steps (so a replicate's stream depends
    neither on R nor on where a run stops)."""
    for start in range(0, n_samples, _DATA_CHUNK):
        stop = min(start + _DATA_CHUNK, n_samples)
        batch = [problem.sample(g, stop - start) for g in data_rngs]
        Xc = np.stack([b[0] for b in batch], axis=1)  # (chunk, R, d)
        yc = np.stack([b[1] for b in batch], axis=1)  # (chunk, R)
        yield start, Xc, yc


def data_stream(problem: Problem, data_rngs: Sequence[np.random.Generator], n_samples: int):
    """Yield (k, x_k (R, d), y_k (R,)) for k < ``n_samples``, step by step, from :func:`data_chunks`.
    Every SGD loop of the package reads its data from one of the two."""
    for start, Xc, yc in data_chunks(problem, data_rngs, n_samples):
        for k in range(start, start + len(Xc)):
            yield k, Xc[k - start], yc[k - start]


def step_sizes(schedule: Schedule, eps: float, start: int, stop: int) -> np.ndarray:
    """s_k = ε ξ(kε) for start ≤ k < stop, as a float64 array (the numpy loop's values, elementwise)."""
    k = np.arange(start, stop)
    s = eps * np.asarray(schedule(k * eps), dtype=np.float64)
    if s.shape != k.shape:
        s = np.array([eps * float(schedule(i * eps)) for i in k.tolist()], dtype=np.float64)
    return s


BACKENDS = ("auto", "numba", "numpy")


def check_backend(backend: str, neuron: Neuron, builtin_rule: bool) -> bool:
    """Whether to take the compiled path: ``backend`` in :data:`BACKENDS`; "numba" needs the built-in
    rule on a neuron the kernels know (else an error naming why), "auto" takes it when possible."""
    from mfcheck.dynamics import kernels

    if backend not in BACKENDS:
        raise InvalidArgument(f"`backend` must be one of {BACKENDS}, got {backend!r}.")
    if backend == "numpy":
        return False
    possible = builtin_rule and kernels.supports(neuron)
    if backend == "numba" and not possible:
        why = "a user or mutant update rule" if not builtin_rule else f"the neuron {neuron!r}"
        raise InvalidArgument(f"`backend`='numba' has no compiled kernel for {why}; use backend='numpy' or 'auto'.")
    return possible


def compiled_loop(problem: Problem, data_rngs, steps: np.ndarray, record, advance) -> None:
    """Drive a compiled run: for each data chunk, ``record(j, k)`` at the record steps k = steps[j] and
    ``advance(start, stop, Xc, yc, offset)`` over the steps in between (whole blocks, no per-step call)."""
    n_steps = int(steps[-1])
    J = len(steps)
    j = 0
    for offset, Xc, yc in data_chunks(problem, data_rngs, n_steps + 1):
        k, end = offset, offset + len(Xc)
        while k < end:
            if k == steps[j]:
                record(j, k)
                j += 1
                if j == J:
                    return
            stop = min(end, int(steps[j]))
            if stop > k:
                advance(k, stop, Xc, yc, offset)
            k = stop


def check_finite_particles(Theta: np.ndarray, k: int, N: int, eps: float) -> None:
    """Raise ``FloatingPointError`` if SGD has diverged (non-finite particles) by step k."""
    if not np.all(np.isfinite(Theta)):
        raise FloatingPointError(f"SGD diverged (non-finite particles) before step {k} with N={N}, eps={eps}.")


def _observe(problem, neuron, Theta, test_functions):
    f = np.stack([tf(Theta).mean(axis=-1) for tf in test_functions], axis=-1) if test_functions else np.zeros(Theta.shape[:-2] + (0,))
    return f, risk(problem, neuron, Theta)


class Recorder:
    """What a run records at the steps k_j of its grid: θ^{k_j}, the test-function means and R_N
    (the arrays of :class:`SGDResult`), after checking that the particles are finite."""

    def __init__(self, problem, neuron, test_functions, steps, eps: float, shape: tuple[int, ...]):
        self.problem, self.neuron, self.test_functions = problem, neuron, test_functions
        self.steps, self.eps, self.N = steps, float(eps), shape[1]
        R, J = shape[0], len(steps)
        self.theta = np.empty((R, J) + tuple(shape[1:]))
        self.f_means = np.empty((R, J, len(test_functions)))
        self.risk = np.empty((R, J))

    def record(self, j: int, k: int, Theta: np.ndarray) -> None:
        check_finite_particles(Theta, k, self.N, self.eps)
        self.theta[:, j] = Theta
        self.f_means[:, j], self.risk[:, j] = _observe(self.problem, self.neuron, Theta, self.test_functions)

    def result(self) -> SGDResult:
        return SGDResult(times=self.steps * self.eps, steps=self.steps, theta=self.theta, f_means=self.f_means, risk=self.risk,
                         N=self.N, eps=self.eps)


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
    backend: str = "auto",
) -> SGDResult:
    """Run ``replicates`` independent one-pass SGD chains of N particles to time T.

    **Arguments:**

    - ``problem``, ``neuron``, ``rho0``: the data law P, σ* and the initial law ρ_0.
    - ``N`` (particles), ``eps`` (ε, step scale), ``T`` (horizon; T/ε steps).
    - ``replicates``: independent chains, each with its own ("init", r), ("data", r) streams.
    - ``record_dt``: observables are recorded every ``record_dt`` units of time.
    - ``update``: the update rule (default :func:`mean_field_step`).
    - ``init``: the sampler of θ^0 (default :func:`iid_init`, θ_i^0 ~ ρ_0 i.i.d.).
    - ``backend``: "auto" (compiled when ``update`` is :func:`mean_field_step` and the neuron is
      known to :mod:`mfcheck.dynamics.kernels`), "numba" (compiled, or an error) or "numpy" (the plain loop).
    """
    N = check_positive_int(N, "N")
    R = check_positive_int(replicates, "replicates")
    steps = record_steps(T, eps, record_dt)
    check_dimensions(problem, neuron, rho0)
    compiled = check_backend(backend, neuron, update is mean_field_step)
    Theta = initial_particles(rho0, streams, N, R, init)
    data_rngs = streams.generators("data", R)
    J = len(steps)
    rec = Recorder(problem, neuron, test_functions, steps, eps, Theta.shape)
    n_steps = int(steps[-1])
    if compiled:
        from mfcheck.dynamics.kernels import sgd_block

        Theta = np.ascontiguousarray(Theta, dtype=np.float64)

        def advance(start, stop, Xc, yc, offset):
            sgd_block(neuron, Theta, Xc[start - offset:stop - offset], yc[start - offset:stop - offset], step_sizes(schedule, eps, start, stop))

        compiled_loop(problem, data_rngs, steps, lambda j, k: rec.record(j, k, Theta), advance)
        return rec.result()
    j = 0
    for k, x, y in data_stream(problem, data_rngs, n_steps + 1):
        if k == steps[j]:
            rec.record(j, k, Theta)
            j += 1
            if j == J:
                break
        Theta = update(Theta, x, y, eps * float(schedule(k * eps)), neuron)
    return rec.result()
