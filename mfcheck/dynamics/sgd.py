"""One-pass particle SGD, noiseless or Langevin, several independent replicates in one call.

θ_i^{k+1} = θ_i^k + 2 s_k (y_k - ŷ(x_k; θ^k)) ∇_θ σ*(x_k; θ_i^k) [− 2λ s_k θ_i^k + sqrt(c s_k / β) g_i^k],
s_k = ε ξ(kε),   ŷ(x; θ) = (1/N) Σ_i σ*(x; θ_i)   (docs/theory.md §2; the step is N times the plain gradient step).

One driver, :func:`run_sgd`, runs any :class:`mfcheck.dynamics.rules.Rule` (noisy when the rule
carries ``noise``). What it keeps is an argument, as diffrax's ``SaveAt`` is: :class:`StandardRecord`
(θ, test-function means and R_N on the record grid), or a claim's own record, which may see every
step (the martingale of :mod:`mfcheck.claims.azuma`, the energy identity of :mod:`mfcheck.claims.energy`).

Randomness comes from named streams (:class:`mfcheck.seeds.Streams`): replicate r draws its initial
particles from stream ("init", r), its data from ("data", r) in chunks of 2048 steps and, when the
rule is noisy, its Gaussians from ("noise", r): g^k is the k-th (N, D) block of ``standard_normal``
draws of that stream (:func:`noise_increments` rebuilds them). So a replicate does not depend on
how many others run beside it, and a coupled reference can rebuild θ^0 and g.

Backends: the numpy loop (one rule call per step) is the readable reference; ``backend="numba"``
runs the rule's declared kernel (``rule.compiled_kernel``, :mod:`mfcheck.dynamics.kernels`) in compiled blocks
of steps on the same data, initial particles, step sizes and Gaussians, so both agree up to
floating-point rounding. ``backend="auto"`` takes the compiled path when the rule declares a kernel,
the kernels know the neuron and the record does not need every step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mfcheck._validation import check_positive_int, check_real
from mfcheck.dynamics.rules import MEAN_FIELD, Rule
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import check_dimensions
from mfcheck.model.functionals import risk
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import Neuron
from mfcheck.model.observables import TestFunction
from mfcheck.model.problems.base import Problem
from mfcheck.model.schedules import Schedule, constant
from mfcheck.seeds import Streams

__all__ = [
    "InitSampler", "iid_init", "initial_particles", "record_steps", "data_stream", "noise_increments", "check_finite_particles",
    "Run", "StandardRecord", "SGDResult", "BACKENDS", "run_sgd",
]

InitSampler = Callable[[GaussianInit, np.random.Generator, int], np.ndarray]
"""``init(rho0, rng, N) -> (N, D)``: the sampler of θ^0."""

_DATA_CHUNK = 2048
_NOISE_FLOATS = 1 << 21  # Gaussians held at once (16 MiB); the noise is drawn in blocks of steps of this size


def iid_init(rho0: GaussianInit, rng: np.random.Generator, N: int) -> np.ndarray:
    """θ_i^0 ~ ρ_0 i.i.d. (assumption A4), shape (N, D)."""
    return rho0.sample(rng, N)


def initial_particles(rho0: GaussianInit, streams: Streams, N: int, replicates: int, init: InitSampler = iid_init) -> np.ndarray:
    """θ^0 for each replicate, shape (R, N, D), from streams ("init", r)."""
    return np.stack([init(rho0, g, N) for g in streams.generators("init", replicates)])


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


def _data_chunks(problem: Problem, data_rngs: Sequence[np.random.Generator], n_samples: int):
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
    """Yield (k, x_k (R, d), y_k (R,)) for k < ``n_samples``, step by step, in the chunks of both backends."""
    for start, Xc, yc in _data_chunks(problem, data_rngs, n_samples):
        for k in range(start, start + len(Xc)):
            yield k, Xc[k - start], yc[k - start]


def _step_sizes(schedule: Schedule, eps: float, start: int, stop: int) -> np.ndarray:
    """s_k = ε ξ(kε) for start ≤ k < stop, as a float64 array (the numpy loop's values, elementwise)."""
    k = np.arange(start, stop)
    s = eps * np.asarray(schedule(k * eps), dtype=np.float64)
    if s.shape != k.shape:
        s = np.array([eps * float(schedule(i * eps)) for i in k.tolist()], dtype=np.float64)
    return s


def noise_increments(streams: Streams, replicate: int, N: int, D: int, n_steps: int) -> np.ndarray:
    """g_i^k for k < n_steps of replicate ``replicate``, shape (n_steps, N, D), as :func:`run_sgd` draws them."""
    N = check_positive_int(N, "N")
    D = check_positive_int(D, "D")
    n_steps = check_positive_int(n_steps, "n_steps")
    return streams.generator("noise", replicate).standard_normal((n_steps, N, D))


def check_finite_particles(Theta: np.ndarray, k: int, N: int, eps: float) -> None:
    """Raise ``FloatingPointError`` if SGD has diverged (non-finite particles) by step k."""
    if not np.all(np.isfinite(Theta)):
        raise FloatingPointError(f"SGD diverged (non-finite particles) before step {k} with N={N}, eps={eps}.")


# -- what a run records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What a record is told when a run starts: the problem, neuron and rule, ε and ξ, the record
    steps k_j and the shape (R, N, D) of θ."""

    problem: Problem
    neuron: Neuron
    rule: Rule
    eps: float
    schedule: Schedule
    steps: np.ndarray
    shape: tuple[int, int, int]


@dataclass(frozen=True)
class SGDResult:
    """What the standard record (:class:`StandardRecord`) keeps on its time grid.

    - ``times`` (J,): t_j = k_j ε;  ``steps`` (J,): k_j.
    - ``theta`` (R, J, N, D): the particles at the recorded steps (``theta[:, 0]`` is θ^0).
    - ``f_means`` (R, J, F): (1/N) Σ_i f(θ_i^{k_j}) for each test function.
    - ``risk`` (R, J): R_N(θ^{k_j}) on the population (compiled where it can be, :func:`_recorded_risk`).
    """

    times: np.ndarray
    steps: np.ndarray
    theta: np.ndarray
    f_means: np.ndarray
    risk: np.ndarray
    N: int
    eps: float


@dataclass(frozen=True)
class StandardRecord:
    """The standard record: θ^{k_j}, the test-function means and R_N every ``dt`` (an :class:`SGDResult`),
    after checking that the particles are finite."""

    dt: float
    test_functions: Sequence[TestFunction] = ()
    every_step: ClassVar[bool] = False

    def start(self, run: Run) -> _StandardRecorder:
        return _StandardRecorder(self, run)


def _recorded_risk(problem, neuron, Theta) -> np.ndarray:
    """R_N(θ) = (1/n) Σ_j (y_j − ŷ(x_j))² of each replicate: ŷ from the compiled
    :func:`mfcheck.dynamics.kernels.predict` where :func:`mfcheck.dynamics.kernels.field_compiled`, else
    :func:`mfcheck.model.functionals.risk`. Same numbers to rounding."""
    from mfcheck.dynamics import kernels

    if kernels.field_compiled(problem, neuron):
        return problem.risk_of_prediction(kernels.predict(neuron, problem.X, Theta))
    return risk(problem, neuron, Theta)


class _StandardRecorder:
    def __init__(self, spec: StandardRecord, run: Run):
        self.spec, self.run = spec, run
        R, N, D = run.shape
        J = len(run.steps)
        self.theta = np.empty((R, J, N, D))
        self.f_means = np.empty((R, J, len(spec.test_functions)))
        self.risk = np.empty((R, J))

    def record(self, j: int, k: int, Theta: np.ndarray) -> None:
        run, tfs = self.run, self.spec.test_functions
        check_finite_particles(Theta, k, run.shape[1], run.eps)
        self.theta[:, j] = Theta
        self.f_means[:, j] = np.stack([tf(Theta).mean(axis=-1) for tf in tfs], axis=-1) if tfs else np.zeros(Theta.shape[:-2] + (0,))
        self.risk[:, j] = _recorded_risk(run.problem, run.neuron, Theta)

    def result(self) -> SGDResult:
        run = self.run
        return SGDResult(times=run.steps * run.eps, steps=run.steps, theta=self.theta, f_means=self.f_means, risk=self.risk,
                         N=run.shape[1], eps=run.eps)


# -- the driver --------------------------------------------------------------------------------------

BACKENDS = ("auto", "numba", "numpy")


def _use_kernel(backend: str, neuron: Neuron, rule: Rule, record) -> bool:
    """Whether to take the compiled path: ``backend`` in :data:`BACKENDS`; "numba" needs a rule that
    declares a kernel, a neuron the kernels know and a record of the grid only (else an error naming
    why), "auto" takes it when possible."""
    from mfcheck.dynamics import kernels

    if backend not in BACKENDS:
        raise InvalidArgument(f"`backend` must be one of {BACKENDS}, got {backend!r}.")
    if backend == "numpy":
        return False
    why = (f"the rule {rule.label!r} (it names no kernel, or runs a noisy step of its own)" if rule.compiled_kernel is None else
           f"the neuron {neuron!r}" if not kernels.supports(neuron) else
           f"the record {type(record).__name__}, which sees every step" if record.every_step else None)
    if backend == "numba" and why is not None:
        raise InvalidArgument(f"`backend`='numba' has no compiled kernel for {why}; use backend='numpy' or 'auto'.")
    return why is None


def run_sgd(
    problem: Problem,
    neuron: Neuron,
    rho0: GaussianInit,
    rule: Rule = MEAN_FIELD,
    *,
    N: int,
    eps: float,
    T: float,
    replicates: int,
    streams: Streams,
    record,
    schedule: Schedule = constant(1.0),
    init: InitSampler = iid_init,
    backend: str = "auto",
    progress: bool = False,
):
    """Run ``replicates`` independent one-pass SGD chains of N particles to time T; return ``record``'s result.

    **Arguments:**

    - ``problem``, ``neuron``, ``rho0``: the data law P, σ* and the initial law ρ_0.
    - ``rule``: the update rule (:class:`mfcheck.dynamics.rules.Rule`; default the correct noiseless
      rule); a rule with ``noise`` gets the Gaussians of the ("noise", r) streams.
    - ``N`` (particles), ``eps`` (ε, step scale), ``T`` (horizon; T/ε steps).
    - ``replicates``: independent chains, each with its own ("init", r), ("data", r), ("noise", r) streams.
    - ``record``: what to keep, :class:`StandardRecord` (an :class:`SGDResult`) or a claim's own record:
      ``record.dt`` is the grid (every ``dt`` units of time, a multiple of ε that divides T),
      ``record.every_step`` whether it sees every step (then the numpy loop runs), and
      ``record.start(run)`` (a :class:`Run`) returns the recorder: ``record(j, k, θ^k)`` at k = k_j before
      step k, ``step(k, s_k, θ^k, θ^{k+1})`` after each step when ``every_step``, ``result()`` at the end.
    - ``schedule``: ξ, s_k = ε ξ(kε);  ``init``: the sampler of θ^0 (default :func:`iid_init`).
    - ``backend``: "auto", "numba" (compiled, or an error) or "numpy" (the plain loop); module docstring.
    - ``progress``: a progress bar over the steps.
    """
    N = check_positive_int(N, "N")
    R = check_positive_int(replicates, "replicates")
    if not isinstance(rule, Rule):
        raise InvalidArgument(f"`rule` must be an mfcheck.dynamics.rules.Rule, got {rule!r}.")
    steps = record_steps(T, eps, record.dt)
    check_dimensions(problem, neuron, rho0)
    compiled = _use_kernel(backend, neuron, rule, record)
    Theta = initial_particles(rho0, streams, N, R, init)
    data_rngs = streams.generators("data", R)
    rec = record.start(Run(problem, neuron, rule, float(eps), schedule, steps, Theta.shape))
    n_steps = int(steps[-1])
    noise = None if rule.noise is None else _Gaussians(streams.generators("noise", R), Theta.shape, n_steps)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, desc=f"SGD {rule.label} N={N} ε={eps:g}", leave=False)

    def numpy_steps(Theta, k, stop, X, Y):
        """θ^{k+1} = rule(θ^k, x_k, y_k, s_k, neuron[, g^k]) for k < stop, one call per step."""
        for i in range(stop - k):
            s = eps * float(schedule((k + i) * eps))
            g = None if noise is None else np.ascontiguousarray(noise.G[:, noise.at(k + i)])
            new = rule(Theta, X[i], Y[i], s, neuron, g)
            if record.every_step:
                rec.step(k + i, s, Theta, new)
            Theta = new
        return Theta

    def kernel_steps(Theta, k, stop, X, Y):
        """The same steps by :func:`mfcheck.dynamics.kernels.sgd_block` or ``noisy_block``, in place, in
        blocks of steps that end where the held Gaussians do."""
        from mfcheck.dynamics.kernels import noisy_block, sgd_block

        start = k
        while k < stop:
            if noise is None:
                b = stop
                sgd_block(neuron, Theta, X[k - start:b - start], Y[k - start:b - start], _step_sizes(schedule, eps, k, b))
            else:
                first = noise.at(k)
                b = min(stop, noise.first + noise.held)
                n = rule.noise
                noisy_block(neuron, Theta, X[k - start:b - start], Y[k - start:b - start], _step_sizes(schedule, eps, k, b), noise.G,
                            n.lam, n.beta, n.c, first=first)
            k = b
        return Theta

    advance = kernel_steps if compiled else numpy_steps
    if compiled:
        Theta = np.ascontiguousarray(Theta, dtype=np.float64)
    j = 0
    for offset, Xc, yc in _data_chunks(problem, data_rngs, n_steps + 1):
        k, end = offset, offset + len(Xc)
        while k < end and j < len(steps):
            if k == steps[j]:
                rec.record(j, k, Theta)
                j += 1
                continue
            stop = min(end, int(steps[j]))
            Theta = advance(Theta, k, stop, Xc[k - offset:stop - offset], yc[k - offset:stop - offset])
            if bar is not None:
                bar.update(stop - k)
            k = stop
    if bar is not None:
        bar.close()
    return rec.result()


class _Gaussians:
    """g^k of every replicate from its ("noise", r) stream, drawn in blocks of ``block`` steps (sequential
    draws: the numbers of one long draw, :func:`noise_increments`); ``G[:, at(k)]`` holds step k's."""

    def __init__(self, rngs, shape: tuple[int, int, int], n_steps: int):
        R, N, D = shape
        self.rngs, self.n_steps = rngs, n_steps
        self.block = max(1, min(_DATA_CHUNK, _NOISE_FLOATS // (R * N * D)))
        self.G = np.empty((R, self.block, N, D))
        self.first = self.held = 0  # G holds the Gaussians of steps first .. first + held − 1

    def at(self, k: int) -> int:
        """The index in ``G`` of step k, drawing the next block when k is the first step not held."""
        if k == self.first + self.held:
            nb = min(self.block, self.n_steps + 1 - k)
            for r, g in enumerate(self.rngs):
                g.standard_normal(out=self.G[r, :nb])
            self.first, self.held = k, nb
        return k - self.first
