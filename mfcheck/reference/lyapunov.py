"""Finite-time Lyapunov exponents of the linearised McKean–Vlasov flow along a stored reference.

The reference ρ_t = Σ_m w_m δ_{ϑ_m(t)} (:mod:`mfcheck.reference.flow`) moves its nodes by
dϑ_m/dt = −2ξ(t) ∇_θΨ(ϑ_m; ρ_t). Perturbing the nodes, ϑ_m → ϑ_m + δ_m, gives the tangent dynamics
of the coupled particle system (docs/theory.md §1 for V, U):

    dδ_m/dt = (L(t) δ)_m = −2ξ(t) [ ∇²V(ϑ_m) δ_m + Σ_l w_l ( ∇₁∇₁U(ϑ_m, ϑ_l) δ_m + ∇₂∇₁U(ϑ_m, ϑ_l) δ_l ) ].

On a finite population of n points with an inner neuron σ*(x; θ) = σ(<θ, x>) everything is a sum
over the data: with z_jm = <ϑ_m, x_j>, c_j = (y_j − ŷ_t(x_j))/n and δŷ_j = Σ_l w_l σ'(z_jl) <x_j, δ_l>
(the first-order change of the predictor),

    (L δ)_m = 2ξ Σ_j [ c_j σ''(z_jm) <x_j, δ_m> − (1/n) σ'(z_jm) δŷ_j ] x_j,

two products with the (n, M) matrices σ'(Z), σ''(Z): O(n M D) per evaluation, no M × M matrix.
The first term is the *frozen-law* linearisation −2ξ ∇²_θΨ(ϑ_m; ρ_t) (ρ_t held fixed: one particle
moved alone, as the coupling of SGD to its twins perturbs them); the second is the response of the
law, −2ξ times a Gauss–Newton operator that is positive semi-definite in the weighted inner product
<a, b>_w = Σ_m w_m <a_m, b_m>. Both terms are self-adjoint in <·,·>_w (∇²Ψ is a symmetric D × D
block; the interaction is Σ_j g_j g_j^* with (g_j)_m = σ'(z_jm) x_j), so L(t) = L(t)^* and the
adjoint of the propagator Φ(0, T) is the same tangent dynamics run backwards in time.

**Discretisation.** The nodes are replayed with the flow's stored stage predictors (exactly as
:func:`mfcheck.reference.coupled.couple`), and the tangent is propagated by the derivative of that
RK4 step: the four stage operators L_1 … L_4 at the four stage states, δ_{k+1} = A_k δ_k with
A_k = I + (h/6)(l_1 + 2 l_2 + 2 l_3 + l_4), l_i = L_i(δ + c_i h l_{i−1}). This is the exact Jacobian
of the discrete flow map, so finite differences of the flow converge to it as the perturbation
shrinks (tested). Its w-adjoint A_k^* is the reverse-mode sweep of the same four stages
(L_i^* = L_i), also exact, so the power iteration below runs on the true Φ^*Φ of the discrete map.

**The top exponent.** λ_top(T) = (1/T) log σ_1(Φ(0, T)), σ_1 the largest singular value in the
w-norm (the largest growth ||δ(T)||_w / ||δ(0)||_w over all initial δ). It is computed by block
power iteration (subspace iteration) on Φ^*Φ with a Rayleigh–Ritz step, ``block`` vectors at a time,
until the top Ritz value changes by less than ``tol`` relatively. Each Ritz value is a lower
bound of the corresponding eigenvalue of Φ^*Φ (Courant–Fischer), and the error of the top one
shrinks like (σ_{k+1}/σ_1)^{2i} after i iterations with k = ``block``. Where many nodes grow almost
alike (a near-continuum of singular values) that ratio is close to 1, so a small change between
iterations is not a certificate of the top; the bracket is. The top is bounded from above by the logarithmic norm:
d||δ||_w/dt ≤ λ_max(L(t)) ||δ||_w (L is w-self-adjoint), and since the Gauss–Newton term is −PSD,
λ_max(L(t)) ≤ μ̄(t) = max_m λ_max(−2ξ∇²Ψ(ϑ_m; ρ_t)) (a D × D eigenproblem per node), so
log σ_1(Φ(0, T)) ≤ ∫_0^T μ̄(t) dt (for the exact flow; the RK4 map agrees with it to O(h⁴); the
integral by the trapezoid rule on the record grid): the *cumulative instantaneous
exponent*, whose T-average is λ_upper(T). The power iteration starts from the localised top vectors
of the frozen propagators (below), so its first Ritz value is already at least the frozen-law
growth up to the law's O(w_m) response; the iterations then look for a collective mode above it.

**The frozen-law exponent.** Per node, the D × D propagator Φ_m(0, T) of dδ_m/dt = −2ξ∇²Ψ(ϑ_m; ρ_t) δ_m
(the same RK4 derivative with the interaction left out), and
λ_frozen(T) = (1/T) max_m log σ_1(Φ_m(0, T)): the largest growth of a perturbation of one particle in
a law that does not respond. This is the norm of the block-diagonal propagator in the
sup-over-particles norm max_m ||δ_m||, which is the norm of the coupling statistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mfcheck._validation import check_array, check_positive_int, check_real
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import InnerNeuron, Neuron
from mfcheck.model.problems.finite import FinitePopulation
from mfcheck.reference import field
from mfcheck.reference.flow import ReferenceFlow, require_finite_population
from mfcheck.seeds import Streams

__all__ = ["NodePath", "node_path", "reference_nodes", "tangent", "adjoint", "frozen_propagators", "frozen_exponents", "log_norms",
           "top_singular", "Lyapunov", "lyapunov"]


def reference_nodes(experiment, log2_M: int | None = None):
    """The nodes and weights that :func:`mfcheck.reference.refinement.build_reference` gives the judging flow
    of ``experiment`` (scramble 0 of the ``reference`` stream)."""
    m = experiment.log2_M if log2_M is None else check_positive_int(log2_M, "log2_M")
    return experiment.rho0.sobol(m, Streams(experiment.seed).child("reference").seed_sequence("reference", 0))


@dataclass(frozen=True)
class NodePath:
    """The node trajectory of a flow at every RK4 stage: ``stages`` (steps, 4, M, D) (the states at which the
    four stage drifts were evaluated), ``weights`` (M,), ``X``, ``y``, ``n``, the activation's σ', σ'', the flow's
    ``h``, ``xi`` (steps, 3), ``stage_yhat`` (steps, 4, n), ``record_index`` and ``times``."""

    stages: np.ndarray
    weights: np.ndarray
    X: np.ndarray
    y: np.ndarray
    prime: object
    second: object
    h: float
    xi: np.ndarray
    stage_yhat: np.ndarray
    record_index: np.ndarray
    times: np.ndarray

    @property
    def steps(self) -> int:
        return self.stages.shape[0]

    def stage_xi(self, k: int, i: int) -> float:
        return float(self.xi[k, (0, 1, 1, 2)[i]])

    def operator(self, k: int, i: int, coupled: bool = True) -> "_Stage":
        """L at stage i of step k (``coupled`` False: the frozen-law part only)."""
        return _Stage(self, self.stages[k, i], self.stage_yhat[k, i], self.stage_xi(k, i), coupled)


class _Stage:
    """L(t) at one stage: δ (..., M, D) -> L δ, from σ'(Z), σ''(Z) (stored (M, n)) computed once."""

    def __init__(self, path: NodePath, theta, yhat, xi, coupled):
        Zt = theta @ path.X.T  # (M, n): z_jm transposed
        self.X, self.Xt, self.w, self.coupled = path.X, path.X.T, path.weights, coupled
        self.n = path.X.shape[0]
        self.P = path.prime(Zt) if coupled else None
        self.cQ = path.second(Zt) * ((path.y - yhat) / self.n)
        self.two_xi = 2.0 * xi

    def __call__(self, delta):
        XD = delta @ self.Xt  # (..., M, n): <x_j, δ_m>
        E = self.cQ * XD
        if self.coupled:
            PXD = self.P * XD
            dy = np.einsum("m,...mj->...j", self.w, PXD)  # δŷ_j, (..., n)
            E -= self.P * (dy / self.n)[..., None, :]
        out = E @ self.X
        out *= self.two_xi
        return out

    def hessians(self) -> np.ndarray:
        """The frozen-law blocks L_m = 2ξ Σ_j c_j σ''(z_jm) x_j x_j^T, (M, D, D)."""
        return self.two_xi * np.einsum("mj,jd,je->mde", self.cQ, self.X, self.X, optimize=True)


def node_path(flow: ReferenceFlow, problem: FinitePopulation, neuron: Neuron, nodes, weights, *, check: bool = True) -> NodePath:
    """Replay the flow's nodes with its stored stage predictors and keep every stage state.

    ``nodes``, ``weights``: the flow's initial nodes (:func:`reference_nodes`). With ``check`` the
    predictor of the replayed nodes is compared with the stored one at every step (they agree to
    rounding when the nodes are the flow's own): other nodes raise :class:`InvalidArgument`.
    """
    problem = require_finite_population(problem)
    if not isinstance(neuron, InnerNeuron):
        raise InvalidArgument(f"The tangent dynamics is implemented for an InnerNeuron, got {neuron!r}.")
    if neuron.activation.second is None:
        raise InvalidArgument(f"The tangent dynamics needs σ'' of the activation; {neuron.activation!r} has none.")
    theta = check_array(nodes, "nodes", ndim=2).copy()
    w = check_array(weights, "weights", shape=(theta.shape[0],))
    if theta.shape[1] != problem.d:
        raise InvalidArgument(f"`nodes` must have D={problem.d} columns, got {theta.shape}.")
    h, steps = flow.h, flow.steps
    stages = np.empty((steps, 4) + theta.shape)

    def drift(th, yhat, xi):
        return -2.0 * xi * field.grad_Psi(problem, neuron, th, yhat)

    worst = 0.0
    for k in range(steps):
        y1, y2, y3, y4 = flow.stage_yhat[k]
        if check:
            worst = max(worst, float(np.max(np.abs(field.predict(problem, neuron, theta, w) - y1))))
        stages[k, 0] = theta
        k1 = drift(theta, y1, flow.xi[k, 0])
        stages[k, 1] = theta + 0.5 * h * k1
        k2 = drift(stages[k, 1], y2, flow.xi[k, 1])
        stages[k, 2] = theta + 0.5 * h * k2
        k3 = drift(stages[k, 2], y3, flow.xi[k, 1])
        stages[k, 3] = theta + h * k3
        k4 = drift(stages[k, 3], y4, flow.xi[k, 2])
        theta = theta + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    if check and worst > 1e-8:
        raise InvalidArgument(f"`nodes` are not the flow's nodes: their predictor differs from the stored one by {worst:.3g}.")
    act = neuron.activation
    return NodePath(stages=stages, weights=w, X=np.ascontiguousarray(problem.X), y=problem.y, prime=act.prime, second=act.second,
                    h=h, xi=flow.xi, stage_yhat=flow.stage_yhat, record_index=flow.record_index, times=flow.times)


def _steps_to(path: NodePath, T: float) -> int:
    k = T / path.h
    if abs(k - round(k)) > 1e-9 * max(k, 1.0) or not 0 <= round(k) <= path.steps:
        raise InvalidArgument(f"`T`={T} must be a multiple of h={path.h} in [0, {path.steps * path.h}].")
    return int(round(k))


def tangent(path: NodePath, delta0, T: float | None = None, *, coupled: bool = True, every: bool = False):
    """δ(T) = Φ(0, T) δ(0) by the derivative of the RK4 step (``delta0`` (..., M, D)).

    ``every``: also return δ at every step (steps + 1, ..., M, D) instead of only the last."""
    K = path.steps if T is None else _steps_to(path, T)
    d = check_array(delta0, "delta0").copy()
    h = path.h
    out = [d] if every else None
    for k in range(K):
        L = [path.operator(k, i, coupled) for i in range(4)]
        l1 = L[0](d)
        l2 = L[1](d + 0.5 * h * l1)
        l3 = L[2](d + 0.5 * h * l2)
        l4 = L[3](d + h * l3)
        d = d + (h / 6.0) * (l1 + 2 * l2 + 2 * l3 + l4)
        if every:
            out.append(d)
    return np.stack(out) if every else d


def adjoint(path: NodePath, p, T: float | None = None, *, coupled: bool = True):
    """Φ(0, T)^* p in the w-inner product: the reverse-mode sweep of :func:`tangent`'s RK4 derivative."""
    K = path.steps if T is None else _steps_to(path, T)
    p = check_array(p, "p").copy()
    h = path.h
    for k in range(K - 1, -1, -1):
        L = [path.operator(k, i, coupled) for i in range(4)]
        g4, g3, g2, g1 = (h / 6.0) * p, (h / 3.0) * p, (h / 3.0) * p, (h / 6.0) * p
        u4 = L[3](g4)
        g3 = g3 + h * u4
        u3 = L[2](g3)
        g2 = g2 + 0.5 * h * u3
        u2 = L[1](g2)
        g1 = g1 + 0.5 * h * u2
        u1 = L[0](g1)
        p = p + u1 + u2 + u3 + u4
    return p


def _w_orth(V, sw):
    """Orthonormalise the k vectors V (k, M, D) in the w-inner product."""
    k = V.shape[0]
    Q, _ = np.linalg.qr((V * sw[None, :, None]).reshape(k, -1).T)
    return (Q.T.reshape(V.shape)) / sw[None, :, None]


def top_singular(path: NodePath, T: float, *, block: int = 4, tol: float = 1e-3, max_iter: int = 8,
                 rng: np.random.Generator, start=None) -> dict:
    """σ_1(Φ(0, T)) in the w-norm by block power iteration on Φ^*Φ with Rayleigh–Ritz.

    ``start`` (s, M, D), s ≤ ``block``: initial vectors (the rest of the block is Gaussian). Returns
    ``sigma`` (the Ritz singular values, descending: each a lower bound of the true one),
    ``log_sigma1``, ``iterations``, ``converged``, ``change`` (last relative change of σ_1²) and
    ``residual`` (||Φ^*Φ v − σ_1² v||_w / σ_1² of the top Ritz vector)."""
    block = check_positive_int(block, "block")
    tol = check_real(tol, "tol", positive=True)
    M, D = path.stages.shape[2:]
    sw = np.sqrt(path.weights)
    V = rng.standard_normal((block, M, D))
    if start is not None:
        start = check_array(start, "start", ndim=3)
        if start.shape[0] > block or start.shape[1:] != (M, D):
            raise InvalidArgument(f"`start` must have shape (s ≤ {block}, {M}, {D}), got {start.shape}.")
        V[: start.shape[0]] = start
    V = _w_orth(V, sw)
    prev, change, theta, resid = math.inf, math.inf, None, math.nan
    it = 0
    for it in range(1, check_positive_int(max_iter, "max_iter") + 1):
        U = adjoint(path, tangent(path, V, T), T)
        G = np.einsum("kmd,lmd,m->kl", V, U, path.weights)
        vals, vecs = np.linalg.eigh(0.5 * (G + G.T))
        order = np.argsort(vals)[::-1]
        theta, vecs = vals[order], vecs[:, order]
        r = np.einsum("k,kmd->md", vecs[:, 0], U) - theta[0] * np.einsum("k,kmd->md", vecs[:, 0], V)
        resid = float(math.sqrt(np.sum(path.weights[:, None] * r * r)) / theta[0]) if theta[0] > 0 else math.inf
        change = abs(theta[0] - prev) / abs(theta[0]) if math.isfinite(prev) else math.inf
        prev = theta[0]
        if change < tol:
            break
        V = _w_orth(np.einsum("kl,lmd->kmd", vecs.T, U), sw)
    sig = np.sqrt(np.clip(theta, 0.0, None))
    return {"sigma": sig.tolist(), "log_sigma1": float(math.log(sig[0])), "iterations": it, "converged": bool(change < tol),
            "change": float(change), "residual": resid, "block": block,
            "sigma2_over_sigma1": float(sig[1] / sig[0]) if block > 1 else math.nan}


def frozen_propagators(path: NodePath) -> np.ndarray:
    """Φ_m(0, t) of the frozen-law tangent dynamics of every node at every record time, (J, M, D, D)."""
    M, D = path.stages.shape[2:]
    eye = np.broadcast_to(np.eye(D)[:, None, :], (D, M, D)).copy()  # D tangent vectors: e_a at every node
    Phi = tangent(path, eye, coupled=False, every=True)  # (steps + 1, D, M, D): column a of every Φ_m
    return np.transpose(Phi[path.record_index], (0, 2, 3, 1))


def frozen_exponents(path: NodePath) -> np.ndarray:
    """max_m log σ_1(Φ_m(0, t)) at every record time (J,): the frozen-law growth of one particle."""
    return np.log(np.linalg.svd(frozen_propagators(path), compute_uv=False)[..., 0]).max(axis=1)


def log_norms(path: NodePath) -> np.ndarray:
    """μ̄(t) = max_m λ_max(−2ξ ∇²Ψ(ϑ_m; ρ_t)) at every record time (first stage of each step; the last stage
    state for the final time): the largest frozen-law eigenvalue, an upper bound of the logarithmic norm
    λ_max(L(t)) of the coupled operator (whose interaction part is −PSD in the w-inner product)."""
    out = []
    for k in path.record_index:
        kk, i = (k, 0) if k < path.steps else (path.steps - 1, 3)
        out.append(float(np.linalg.eigvalsh(path.operator(kk, i, coupled=False).hessians())[:, -1].max()))
    return np.array(out)


@dataclass(frozen=True)
class Lyapunov:
    """The exponents of one reference: ``times`` (record grid), ``frozen_log_growth`` (J,) = max_m log σ_1(Φ_m(0, t)),
    ``log_norm`` (J,) = μ̄(t), ``cumulative_log_norm`` (J,) = ∫_0^t μ̄ (trapezoid), and ``top`` (T -> :func:`top_singular`'s
    dict, with ``lambda_top`` = log σ_1 / T and ``lambda_upper`` = ∫_0^T μ̄ / T) at the requested horizons."""

    times: np.ndarray
    frozen_log_growth: np.ndarray
    log_norm: np.ndarray
    cumulative_log_norm: np.ndarray
    top: dict

    def _j(self, T: float) -> int:
        j = int(np.argmin(np.abs(self.times - T)))
        if abs(self.times[j] - T) > 1e-9 * max(T, 1.0) or self.times[j] <= 0:
            raise InvalidArgument(f"`T`={T} is not a positive record time of this reference.")
        return j

    def lambda_top(self, T: float) -> float:
        return self.top[float(T)]["lambda_top"]

    def lambda_frozen(self, T: float) -> float:
        j = self._j(T)
        return float(self.frozen_log_growth[j] / self.times[j])

    def lambda_upper(self, T: float) -> float:
        j = self._j(T)
        return float(self.cumulative_log_norm[j] / self.times[j])

    def as_dict(self) -> dict:
        return {"times": self.times.tolist(), "frozen_log_growth": self.frozen_log_growth.tolist(), "log_norm": self.log_norm.tolist(),
                "cumulative_log_norm": self.cumulative_log_norm.tolist(), "top": {str(T): v for T, v in self.top.items()}}


def lyapunov(flow: ReferenceFlow, problem: FinitePopulation, neuron: Neuron, nodes, weights, horizons, *, rng: np.random.Generator,
             block: int = 4, tol: float = 1e-3, max_iter: int = 8) -> Lyapunov:
    """The top, frozen-law and log-norm exponents of the flow (see the module docstring) at the ``horizons``
    (record times of the flow).

    The power iteration at each horizon starts from the top right singular vectors of the frozen
    propagators Φ_m(0, T) of the ⌈block/2⌉ nodes that grow most (each localised at its node, which is
    where the coupled propagator is within O(w_m) of the frozen one) and Gaussian vectors for the rest
    of the block (collective modes)."""
    path = node_path(flow, problem, neuron, nodes, weights)
    Phi = frozen_propagators(path)
    _, s, vt = np.linalg.svd(Phi)
    frozen = np.log(s[..., 0]).max(axis=1)
    mu = log_norms(path)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (mu[1:] + mu[:-1]) * np.diff(path.times))])
    out = Lyapunov(times=np.asarray(path.times, dtype=float), frozen_log_growth=frozen, log_norm=mu, cumulative_log_norm=cum, top={})
    M, D = path.stages.shape[2:]
    for T in horizons:
        T = check_real(T, "horizon", positive=True)
        j = out._j(T)
        best = np.argsort(s[j, :, 0])[::-1][: max(1, (block + 1) // 2)]
        start = np.zeros((len(best), M, D))
        for a, m in enumerate(best):
            start[a, m] = vt[j, m, 0]
        res = top_singular(path, T, block=block, tol=tol, max_iter=max_iter, rng=rng, start=start)
        res.update(lambda_top=res["log_sigma1"] / T, lambda_frozen=float(frozen[j] / T), lambda_upper=float(cum[j] / T))
        out.top[float(T)] = res
    return out
