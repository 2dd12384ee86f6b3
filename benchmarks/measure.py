"""Throughput of the SGD step loops and cost of the reference flow against its matrix-product floor.

Particle-coordinate updates per second = R·N·D·(steps) / seconds. Both SGD paths run the same
rule on the same pre-drawn samples (sampling excluded from both): the compiled path is
:func:`mfcheck.dynamics.kernels.sgd_block` over whole blocks of steps; the numpy loop is one
:func:`mfcheck.dynamics.rules.mean_field_step` call per step with BLAS pinned to one thread (docs/methods.md).
Compilation happens in :func:`mfcheck.dynamics.kernels.warm_up` before any timing.

The reference flow's floor is the two matrix products each RK4 stage needs, Z = X ϑ^T (n×d by d×M)
and (c∘X)^T σ'(Z) (d×n by n×M), timed on the same shapes and threads: 4 stages per step.

:func:`longest_call` times the slowest single call of the gate's built-in correct steps, which the
per-call limit (:mod:`mfcheck.app.limits`) must clear by far.
"""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from mfcheck.dynamics import kernels
from mfcheck.model.activations import tanh_sum
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems import teacher_population
from mfcheck.reference import solve_flow
from mfcheck.seeds import Streams
from mfcheck.dynamics.rules import mean_field_step
from mfcheck.dynamics.sgd import StandardRecord, run_sgd

__all__ = ["SGDRate", "sgd_rate", "FlowCost", "flow_cost", "sgd_memory", "longest_call"]


@dataclass(frozen=True)
class SGDRate:
    N: int
    d: int
    R: int
    fast: float  # updates/s, compiled
    numpy: float  # updates/s, numpy loop
    fast_steps: int
    numpy_steps: int

    @property
    def ratio(self) -> float:
        return self.fast / self.numpy


def _best_rate(run, work_per_step: float, steps: int, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(steps)
        best = min(best, time.perf_counter() - t0)
    return work_per_step * steps / best


def sgd_rate(N: int, d: int, R: int, *, activation=None, seconds: float = 0.5, repeats: int = 3, seed: int = 0) -> SGDRate:
    """Updates/s of the compiled block and of the numpy loop, inner neuron, (N, d, R), same samples.

    Each measurement runs about ``seconds`` (best of ``repeats``); the particles stay near ρ_0 scale
    (s = 1e-4) so the activation sees typical arguments.
    """
    neuron = InnerNeuron(activation or tanh_sum())
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    Theta = rng.standard_normal((R, N, d)) / np.sqrt(d)
    work = float(R * N * d)

    def data(steps):
        return rng.standard_normal((steps, R, d)), rng.standard_normal((steps, R)), np.full(steps, 1e-4)

    kernels.warm_up()
    Xf, Yf, Sf = data(max(1, int(seconds * 4e9 / work)))
    fast_steps = len(Sf)

    def fast(steps):
        kernels.sgd_block(neuron, Theta, Xf[:steps], Yf[:steps], Sf[:steps])

    with threadpool_limits(limits=1, user_api="blas"):
        fast(min(2, fast_steps))
        fast_rate = _best_rate(fast, work, fast_steps, repeats)
        holder = [Theta.copy()]

        def loop(steps):
            T = holder[0]
            for k in range(steps):
                T = mean_field_step(T, Xn[k], Yn[k], Sn[k], neuron)
            holder[0] = T

        Xn, Yn, Sn = data(2)
        t0 = time.perf_counter()
        loop(2)
        per_step = (time.perf_counter() - t0) / 2
        numpy_steps = max(2, int(seconds / per_step))
        Xn, Yn, Sn = data(numpy_steps)
        numpy_rate = _best_rate(loop, work, numpy_steps, repeats)
    return SGDRate(N=N, d=d, R=R, fast=fast_rate, numpy=numpy_rate, fast_steps=fast_steps, numpy_steps=numpy_steps)


@dataclass(frozen=True)
class FlowCost:
    n: int
    d: int
    M: int
    threads: int
    fast: float  # seconds per RK4 step
    numpy: float
    floor: float  # 4 × (two matrix products)

    @property
    def over_floor(self) -> float:
        return self.fast / self.floor


def flow_cost(n: int, d: int, M: int, *, steps: int = 8, threads: int = 2, repeats: int = 3, seed: int = 0) -> FlowCost:
    """Seconds per RK4 step of :func:`solve_flow` (fast and numpy backends) and its matrix-product floor,
    tanh neuron on a teacher population of n points in R^d, M nodes, BLAS and numba on ``threads``."""
    kernels.warm_up()
    problem = teacher_population(n, d, tanh_sum(), seed=seed)
    neuron = InnerNeuron(tanh_sum())
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    nodes = rng.standard_normal((M, d)) / np.sqrt(d)
    weights = np.full(M, 1.0 / M)
    X = np.ascontiguousarray(problem.X)
    P = rng.standard_normal((n, M))
    Z = np.empty((n, M))
    c = rng.standard_normal(n)
    old = kernels.get_threads()
    kernels.set_threads(threads)
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            def timed(fn, reps=repeats):
                fn()
                best = np.inf
                for _ in range(reps):
                    t0 = time.perf_counter()
                    fn()
                    best = min(best, time.perf_counter() - t0)
                return best

            products = timed(lambda: (np.matmul(X, nodes.T, out=Z), (c[:, None] * X).T @ P), reps=5 * repeats)
            kw = dict(T=steps * 0.01, h=0.01, record_dt=steps * 0.01)
            fast = timed(lambda: solve_flow(problem, neuron, nodes, weights, backend="fast", **kw)) / steps
            slow = timed(lambda: solve_flow(problem, neuron, nodes, weights, backend="numpy", **kw), reps=1) / steps
    finally:
        kernels.set_threads(old)
    return FlowCost(n=n, d=d, M=M, threads=threads, fast=fast, numpy=slow, floor=4 * products)


def sgd_memory(N: int, d: int, R: int, *, records: int = 5, backend: str = "numba") -> dict:
    """Peak traced memory (numpy allocations, tracemalloc) of one :func:`run_sgd` against the particle
    array R·N·D·8 bytes and the recorded observables (θ, test-function means, risk at each record)."""
    problem = teacher_population(64, d, tanh_sum(), seed=1)
    neuron = InnerNeuron(tanh_sum())
    eps = 1.0 / 64
    T = 1.0
    kernels.warm_up()
    tracemalloc.start()
    try:
        res = run_sgd(problem, neuron, GaussianInit(d, 1.0 / np.sqrt(d)), N=N, eps=eps, T=T, replicates=R, streams=Streams(3),
                      record=StandardRecord(T / (records - 1)), backend=backend)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    particles = R * N * d * 8
    recorded = res.theta.nbytes + res.f_means.nbytes + res.risk.nbytes
    return {"N": N, "d": d, "R": R, "backend": backend, "peak": peak, "particles": particles, "recorded": recorded,
            "ratio": peak / (particles + recorded)}


def longest_call(repeats: int = 3, seed: int = 0) -> dict:
    """Seconds of the slowest call of each correct step of the gate (:data:`mfcheck.app.gate.examples.CORRECT_STEPS`),
    noiseless and noisy (λ = 0.5, β = 4), worst of ``repeats``, BLAS on one thread as in a worker, at the
    largest shape the gate calls a step with at the ``full`` tier: the tier's replicates R by the N of
    its largest cell (the Theorem 1 sweep's; every other claim calls with fewer particles), the default
    experiment's D."""
    from mfcheck.app.gate.examples import CORRECT_STEPS
    from mfcheck.claims.tiers import get_tier
    from mfcheck.model.experiment import default_experiment

    tier, exp = get_tier("full"), default_experiment()
    (N, eps), R, D = max((N, eps) for _, N, eps in tier.cells()), tier.replicates, exp.neuron.dim(exp.problem.d)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    theta, g = 0.5 * rng.standard_normal((R, N, D)), rng.standard_normal((R, N, D))
    x, y = rng.standard_normal((R, exp.problem.d)), rng.standard_normal(R)
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for name, step in CORRECT_STEPS.items():
            row = {"step": name}
            for label, kwargs in (("noiseless", {}), ("noisy", {"noise": g, "lam": 0.5, "beta": 4.0})):
                worst = 0.0
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    step(theta, x, y, eps, exp.neuron, **kwargs)
                    worst = max(worst, time.perf_counter() - t0)
                row[label] = worst
            rows.append(row)
    return {"R": R, "N": N, "D": D, "repeats": repeats, "rows": rows, "longest": max(max(r["noiseless"], r["noisy"]) for r in rows)}
