"""The limit law ρ_t of the noiseless distributional dynamics, carried by weighted nodes.

ρ_t = Σ_m w_m δ_{ϑ_m(t)} with fixed weights and nodes following the nonlinear dynamics
dϑ_m/dt = -2 ξ(t) ∇_θ Ψ(ϑ_m; ρ_t)   (docs/theory.md §3),
integrated by the classical 4-stage Runge–Kutta scheme with step h. On a finite population
the law enters the drift only through the predictor ŷ_t(x_j) = Σ_m w_m σ*(x_j; ϑ_m(t)), an
n-vector; the flow stores that vector at each of the four stages of every step, so that any
other particle can later be integrated in the same field (:mod:`mfcheck.reference.coupled`)
exactly as if it had been part of the same RK4 system.

Backends: the numpy path evaluates ŷ and ∇Ψ through the problem's oracle (the readable
reference). The fast path (``backend="auto"`` on a plain :class:`FinitePopulation` with a neuron
known to :mod:`mfcheck.dynamics.kernels`) evaluates each RK4 stage with two BLAS products and one compiled
activation pass that gives σ and σ' together (:class:`StageField`; for the inner neuron by
column blocks of nodes, in threads): for the inner neuron,

    Z = X ϑ^T (n, M),   ŷ = σ(Z) w,   c = (y − ŷ)/n,   −∇Ψ(ϑ_m)^T = ((c ∘ X)^T σ'(Z))[:, m],

and for the affine neuron the same with Z = X W^T + 1 b^T and the a, b rows. Same numbers up
to floating-point rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from mfcheck._validation import check_array, check_real
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import Neuron
from mfcheck.model.observables import TestFunction
from mfcheck.model.problems.finite import FinitePopulation
from mfcheck.model.schedules import Schedule, constant
from mfcheck.reference._progress import StepBar

__all__ = ["ReferenceFlow", "solve_flow", "require_finite_population", "StageField", "FLOW_BACKENDS", "BLOCK"]

FLOW_BACKENDS = ("auto", "fast", "numpy")


def require_finite_population(problem) -> FinitePopulation:
    if not isinstance(problem, FinitePopulation):
        raise InvalidArgument(
            f"The particle reference needs a FinitePopulation problem (exact ŷ_t on the population); got {problem!r}. "
            "Gaussian data laws are handled by their own reductions."
        )
    return problem


@dataclass(frozen=True)
class ReferenceFlow:
    """A solved reference flow.

    - ``h``: RK4 step; ``steps``: number of steps (T = steps·h); ``xi`` (steps, 3): ξ at t, t+h/2, t+h.
    - ``stage_yhat`` (steps, 4, n): ŷ at the four RK4 stages of each step.
    - ``record_index`` (J,): steps at which observables are recorded; ``times`` (J,).
    - ``f_integrals`` (J, F): ∫ f dρ_t;  ``risk`` (J,): R(ρ_t);  ``yhat`` (J, n): ŷ_t.
    - ``M``: number of nodes; ``nodes_per_axis``.
    """

    h: float
    steps: int
    xi: np.ndarray
    stage_yhat: np.ndarray
    record_index: np.ndarray
    times: np.ndarray
    f_integrals: np.ndarray
    risk: np.ndarray
    yhat: np.ndarray
    M: int
    nodes_per_axis: int


def _drift(problem: FinitePopulation, neuron: Neuron, theta, yhat, xi):
    """-2 ξ ∇Ψ(θ; ρ) given ŷ_ρ on the population."""
    return -2.0 * xi * problem.grad_Psi_of_prediction(neuron, theta, yhat)


BLOCK = 2048
"""Nodes per column block of the fast inner stage: the block's Z and σ'(Z) (n × 2048) stay in cache
between the product and the activation pass. Fixed, so the numbers do not depend on the threads."""


class StageField:
    """The fast evaluation of one RK4 stage on a plain finite population: ``stage(θ) -> (ŷ, −∇Ψ(θ; ρ))``
    where ρ = Σ_m w_m δ_{θ_m} (the flow's own nodes), reusing its buffers.

    Inner neuron: the M nodes are cut into column blocks of :data:`BLOCK`. Per block b (phase 1)
    Z_b = X ϑ_b^T, then one fused pass gives ŷ_b = σ(Z_b) w_b and P_b = σ'(Z_b) while Z_b is in
    cache; ŷ = Σ_b ŷ_b (in block order) and c = (y − ŷ)/n; per block (phase 2) −∇Ψ(ϑ_b) = P_b^T (c∘X).
    The blocks of a phase run on ``threads`` Python threads (BLAS on one thread each; the kernels
    release the GIL). Affine neuron: one product pair and one σ/σ' pass over all nodes.

    **Arguments:**

    - ``problem``: a :class:`FinitePopulation` (not a subclass: those may change the drift).
    - ``neuron``: an InnerNeuron or AffineNeuron on an activation family of :mod:`mfcheck.dynamics.kernels`.
    - ``weights``: the M node weights.
    - ``threads``: threads for the blocks (default :func:`mfcheck.dynamics.kernels.get_threads`); the
      numbers do not depend on it.

    Use it as a context manager (it owns a thread pool when ``threads`` > 1), with BLAS limited to
    one thread (:func:`solve_flow` does both).
    """

    def __init__(self, problem: FinitePopulation, neuron: Neuron, weights, threads: int | None = None):
        from mfcheck.dynamics import kernels

        self.kernels = kernels
        self.activation = neuron.activation
        self.affine = neuron.dim(problem.d) == problem.d + 2
        self.n, self.d = problem.n, problem.d
        self.X = np.ascontiguousarray(problem.X)
        self.X1 = np.hstack([self.X, np.ones((self.n, 1))]) if self.affine else self.X  # the b row of the pullback
        self.y = problem.y
        self.w = np.asarray(weights, dtype=np.float64)
        M = self.w.shape[0]
        self.threads = kernels.get_threads() if threads is None else int(threads)
        self.pool = None
        if self.affine:
            self.Z, self.S, self.P = (np.empty((self.n, M)) for _ in range(3))
            return
        self.code, self.params = kernels.family_code(self.activation), kernels.activation_parameters(self.activation)
        self.blocks = [(b, min(b + BLOCK, M)) for b in range(0, M, BLOCK)]
        self.Zb = [np.empty((self.n, e - b)) for b, e in self.blocks]
        self.Pb = [np.empty((self.n, e - b)) for b, e in self.blocks]
        self.wb = [np.ascontiguousarray(self.w[b:e]) for b, e in self.blocks]
        self.Yb = np.empty((len(self.blocks), self.n))

    def __enter__(self):
        if not self.affine and self.threads > 1 and len(self.blocks) > 1:
            from concurrent.futures import ThreadPoolExecutor

            self.workers = min(self.threads, len(self.blocks))
            self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="mfcheck-flow")
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    @staticmethod
    def applies(problem, neuron) -> bool:
        from mfcheck.dynamics import kernels

        return type(problem) is FinitePopulation and kernels.supports(neuron)

    def _each_block(self, fn):
        """fn(i) for every block: serially, or block i on pool thread i mod threads (one task per thread)."""
        nb = len(self.blocks)
        if self.pool is None:
            for i in range(nb):
                fn(i)
            return

        def share(t):
            for i in range(t, nb, self.workers):
                fn(i)

        for _ in self.pool.map(share, range(self.workers)):  # re-raises a block's exception
            pass

    def __call__(self, theta):
        if self.affine:
            return self._affine(theta)
        G = np.empty_like(theta)

        def phase1(i):
            b, e = self.blocks[i]
            np.matmul(self.X, theta[b:e].T, out=self.Zb[i])
            self.kernels._activate_reduce(self.code, self.params, self.Zb[i], self.wb[i], self.Yb[i], self.Pb[i])

        self._each_block(phase1)
        yhat = self.Yb[0].copy()
        for i in range(1, len(self.blocks)):
            yhat += self.Yb[i]
        cX = ((self.y - yhat) / self.n)[:, None] * self.X  # (n, d): c_j x_j

        def phase2(i):
            b, e = self.blocks[i]
            np.matmul(self.Pb[i].T, cX, out=G[b:e])  # Σ_j c_j σ'(z_jm) x_j

        self._each_block(phase2)
        return yhat, G

    def _affine(self, theta):
        Z, S, P = self.Z, self.S, self.P
        a, b = theta[:, 0], theta[:, -1]
        np.matmul(self.X, theta[:, 1:-1].T, out=Z)
        Z += b
        self.kernels.activate(self.activation, Z, S, P)
        yhat = S @ (a * self.w)
        c = (self.y - yhat) / self.n
        Q = (c[:, None] * self.X1).T @ P  # (d + 1, M): Σ_j c_j σ'(z_jm) x_j and Σ_j c_j σ'(z_jm)
        out = np.empty_like(theta)
        out[:, 0] = c @ S
        out[:, 1:] = (Q * a).T
        return yhat, out


def _fast_rk4(stage, theta, h, steps, xi, record_index, stage_yhat, yhat_rec, risk, f_int, problem, weights, test_functions, bar):
    """The RK4 loop of :func:`solve_flow` on :class:`StageField` stages (drift = 2ξ·(−∇Ψ)); fills the records
    and tells ``bar`` (a :class:`~mfcheck.reference._progress.StepBar`) of each finished step."""
    J = len(record_index)
    j = 0
    for k in range(steps + 1):
        y1, g1 = stage(theta)
        if j < J and k == record_index[j]:
            yhat_rec[j] = y1
            risk[j] = problem.risk_of_prediction(y1)
            f_int[j] = [weights @ tf(theta) for tf in test_functions]
            j += 1
        if k == steps:
            break
        k1 = (2.0 * xi[k, 0]) * g1
        y2, g2 = stage(theta + 0.5 * h * k1)
        k2 = (2.0 * xi[k, 1]) * g2
        y3, g3 = stage(theta + 0.5 * h * k2)
        k3 = (2.0 * xi[k, 1]) * g3
        y4, g4 = stage(theta + h * k3)
        k4 = (2.0 * xi[k, 2]) * g4
        stage_yhat[k] = (y1, y2, y3, y4)
        theta = theta + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        bar.done(k)
    if not np.all(np.isfinite(theta)):
        raise FloatingPointError(f"The reference flow diverged with h={h}; lower `h`.")


def solve_flow(
    problem: FinitePopulation,
    neuron: Neuron,
    nodes,
    weights,
    *,
    T: float,
    h: float,
    record_dt: float,
    test_functions: Sequence[TestFunction] = (),
    schedule: Schedule = constant(1.0),
    nodes_per_axis: int = 0,
    backend: str = "auto",
    progress: bool = False,
    desc: str | None = None,
) -> ReferenceFlow:
    """Integrate the weighted nodes to time T with RK4 (step ``h``), recording every ``record_dt``.

    ``record_dt`` must be a multiple of ``h`` and divide ``T``. ``backend``: "auto" (the fast
    :class:`StageField` where it applies, else numpy), "fast" (or an error) or "numpy".
    ``progress``: a bar on stderr over the T/h steps, labelled ``desc`` (default "RK4 flow (M nodes)");
    the numbers do not depend on it.
    """
    problem = require_finite_population(problem)
    if backend not in FLOW_BACKENDS:
        raise InvalidArgument(f"`backend` must be one of {FLOW_BACKENDS}, got {backend!r}.")
    fast = backend != "numpy" and StageField.applies(problem, neuron)
    if backend == "fast" and not fast:
        raise InvalidArgument(f"`backend`='fast' needs a plain FinitePopulation and a neuron known to mfcheck.dynamics.kernels; got {problem!r}, {neuron!r}.")
    nodes = check_array(nodes, "nodes", ndim=2)
    weights = check_array(weights, "weights", shape=(nodes.shape[0],))
    T = check_real(T, "T", positive=True)
    h = check_real(h, "h", positive=True)
    record_dt = check_real(record_dt, "record_dt", positive=True)
    steps = T / h
    per = record_dt / h
    if abs(steps - round(steps)) > 1e-9 * steps or abs(per - round(per)) > 1e-9 * per:
        raise InvalidArgument(f"`h`={h} must divide both `record_dt`={record_dt} and `T`={T}.")
    steps, per = int(round(steps)), int(round(per))
    record_index = np.arange(0, steps + 1, per)
    n = problem.n
    stage_yhat = np.empty((steps, 4, n))
    xi = np.stack([schedule(np.arange(steps) * h + c * h) for c in (0.0, 0.5, 1.0)], axis=1)
    J = len(record_index)
    f_int = np.empty((J, len(test_functions)))
    risk = np.empty(J)
    yhat_rec = np.empty((J, n))

    def predict(th):
        return problem.predict(neuron, th, weights)

    theta = nodes.copy()
    bar = StepBar(steps, f"RK4 flow ({nodes.shape[0]} nodes)" if desc is None else desc, progress)
    if fast:
        with bar, threadpool_limits(limits=1, user_api="blas"), StageField(problem, neuron, weights) as stage:
            _fast_rk4(stage, theta, h, steps, xi, record_index, stage_yhat, yhat_rec, risk, f_int, problem, weights, test_functions, bar)
        return ReferenceFlow(
            h=h, steps=steps, xi=xi, stage_yhat=stage_yhat, record_index=record_index, times=record_index * h,
            f_integrals=f_int, risk=risk, yhat=yhat_rec, M=nodes.shape[0], nodes_per_axis=nodes_per_axis,
        )
    with bar:
        j = 0
        for k in range(steps + 1):
            if j < J and k == record_index[j]:
                y0 = predict(theta)
                yhat_rec[j] = y0
                risk[j] = problem.risk_of_prediction(y0)
                f_int[j] = [w @ tf(theta) for tf, w in zip(test_functions, [weights] * len(test_functions))]
                j += 1
            if k == steps:
                break
            y1 = predict(theta)
            k1 = _drift(problem, neuron, theta, y1, xi[k, 0])
            y2 = predict(theta + 0.5 * h * k1)
            k2 = _drift(problem, neuron, theta + 0.5 * h * k1, y2, xi[k, 1])
            y3 = predict(theta + 0.5 * h * k2)
            k3 = _drift(problem, neuron, theta + 0.5 * h * k2, y3, xi[k, 1])
            y4 = predict(theta + h * k3)
            k4 = _drift(problem, neuron, theta + h * k3, y4, xi[k, 2])
            stage_yhat[k] = (y1, y2, y3, y4)
            theta = theta + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
            bar.done(k)
    if not np.all(np.isfinite(theta)):
        raise FloatingPointError(f"The reference flow diverged with h={h}; lower `h`.")
    return ReferenceFlow(
        h=h, steps=steps, xi=xi, stage_yhat=stage_yhat, record_index=record_index, times=record_index * h,
        f_integrals=f_int, risk=risk, yhat=yhat_rec, M=nodes.shape[0], nodes_per_axis=nodes_per_axis,
    )
