"""Compiled kernels (numba): batched particle SGD steps and the reference flow's activation pass.

The numpy implementations (:func:`mfcheck.dynamics.rules.mean_field_step` and the Langevin terms of
:class:`mfcheck.dynamics.rules.Langevin`, :func:`mfcheck.reference.flow.solve_flow`) stay the readable
reference; these kernels compute the same numbers up to floating-point rounding.

One noiseless step of replicate r (docs/theory.md §2), for the inner neuron σ*(x; w) = σ(<w, x>):

    z_i = <θ_i, x_k>,   ŷ = (1/N) Σ_i σ(z_i),   θ_i ← θ_i + 2 s_k (y_k − ŷ) σ'(z_i) x_k,

and for the affine neuron θ = (a, w, b), z_i = <w_i, x_k> + b_i, ŷ = (1/N) Σ_i a_i σ(z_i):

    a_i ← a_i + c σ(z_i),   w_i ← w_i + c a_i σ'(z_i) x_k,   b_i ← b_i + c a_i σ'(z_i),   c = 2 s_k (y_k − ŷ).

The noisy (Langevin) step adds − 2λ s_k θ_i + sqrt(c s_k / β) g_i^k with the Gaussians g drawn
by the caller (so the stream is the numpy one). A kernel call runs a whole block of steps, the
replicates in parallel (``prange``); each replicate's result does not depend on how many run
beside it. The activation is computed in a separate vectorised pass per step; tanh is written
with an inlined polynomial ``exp`` (branch-free, absolute error ≲ 4e-16) because numba has no
vector tanh or exp (``math.exp`` is a scalar libm call).

Compilation happens once per process and is cached on disk (``cache=True``; the cache is dropped
when this file's content changes, see :func:`_drop_stale_disk_cache`); :func:`warm_up` triggers
it (benchmarks call it before timing).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange
from numba.core import types
from numba.extending import intrinsic

from mfcheck.errors import InvalidArgument


def _drop_stale_disk_cache() -> None:
    """Delete this module's numba disk cache when the module's *content* changed since it was written.

    numba invalidates ``cache=True`` entries on the source file's modification time and size only,
    so a checkout that restores an older file time can load machine code compiled from other
    source (and give results that differ in the last bits). The sha256 of this file is kept beside the
    cache (``__pycache__/kernels.sha256``); on a mismatch the ``kernels.*.nbi/nbc`` files go. A
    cache elsewhere (``NUMBA_CACHE_DIR``, or a read-only package) is left to numba."""
    import hashlib
    import os
    from pathlib import Path

    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    source = Path(__file__)
    cache = source.parent / "__pycache__"
    try:
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        stamp = cache / f"{source.stem}.sha256"
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return
        cache.mkdir(exist_ok=True)
        for path in cache.glob(f"{source.stem}.*.nb[ic]"):
            path.unlink(missing_ok=True)
        tmp = cache / f"{source.stem}.sha256.{os.getpid()}"
        tmp.write_text(digest + "\n")
        tmp.replace(stamp)
    except OSError:  # read-only install: numba falls back to its user cache directory
        pass


_drop_stale_disk_cache()

__all__ = [
    "FAMILY_CODES",
    "family_code",
    "activation_parameters",
    "supports",
    "set_threads",
    "get_threads",
    "sgd_block",
    "noisy_block",
    "activate",
    "activate_reduce",
    "pullback",
    "predict",
    "warm_up",
]

FAMILY_CODES = {"tanh_sum": 0, "erf_sigmoid": 1, "bounded_sine": 2, "piecewise_linear": 3, "relu": 4}
"""Activation families the kernels evaluate (see :mod:`mfcheck.model.activations`)."""

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_FAST = {"reassoc", "contract"}  # reorder sums (vectorised dots) and fuse multiply-adds: rounding only


def family_code(activation) -> int | None:
    """The kernel code of ``activation``'s family, or ``None`` when the kernels do not know it."""
    return FAMILY_CODES.get(getattr(activation, "family", None))


def activation_parameters(activation) -> np.ndarray:
    """``activation.params`` as a float64 array (the layout its family's constructor documents)."""
    return np.asarray(activation.params, dtype=np.float64).reshape(-1)


def _neuron_kind(neuron) -> int | None:
    from mfcheck.model.neurons import AffineNeuron, InnerNeuron

    if type(neuron) is InnerNeuron:
        return 0
    if type(neuron) is AffineNeuron:
        return 1
    return None


def supports(neuron) -> bool:
    """True when the kernels compute ``neuron`` exactly: an :class:`~mfcheck.model.neurons.InnerNeuron` or
    :class:`~mfcheck.model.neurons.AffineNeuron` (not a subclass) on a known activation family."""
    return _neuron_kind(neuron) is not None and family_code(neuron.activation) is not None


def field_compiled(problem, neuron) -> bool:
    """True when ŷ and the field of ``problem`` at ``neuron`` run compiled (:func:`predict`, :func:`pullback`):
    a plain :class:`~mfcheck.model.problems.finite.FinitePopulation` (not a subclass, which may
    redefine its risk) and an inner neuron the kernels know. The SGD records and the reference
    field both ask this one question."""
    from mfcheck.model.problems.finite import FinitePopulation

    return type(problem) is FinitePopulation and supports(neuron) and _neuron_kind(neuron) == 0


def _require(neuron):
    if not supports(neuron):
        raise InvalidArgument(
            f"`neuron` {neuron!r} has no compiled kernel (needs InnerNeuron or AffineNeuron on one of {sorted(FAMILY_CODES)}); "
            "use backend='numpy'."
        )
    return _neuron_kind(neuron), family_code(neuron.activation), activation_parameters(neuron.activation)


def set_threads(n: int) -> None:
    """Use ``n`` threads in the parallel kernels (``numba.set_num_threads``); a process that runs
    cells in parallel workers should call ``set_threads(1)`` in each worker."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise InvalidArgument(f"`n` (threads) must be an int in [1, {numba.config.NUMBA_NUM_THREADS}], got {n!r}.")
    numba.set_num_threads(int(n))


def get_threads() -> int:
    """The number of threads the parallel kernels use."""
    return numba.get_num_threads()


# -- activations -------------------------------------------------------------------------


_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two (Cody–Waite) so that x − n ln 2 is exact
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_EXP_LIMIT = 700.0


@intrinsic
def _f64_from_bits(typingctx, bits):
    """The float64 whose IEEE-754 bit pattern is the int64 ``bits`` (an LLVM bitcast; vectorises)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


@njit(cache=True, error_model="numpy", inline="always")
def _exp(x):
    """exp(x) for x clamped to [−700, 700], relative error ≲ 3e-16: x = n ln 2 + r, |r| ≤ ln2/2,
    exp(r) by its Taylor polynomial of degree 13 (remainder < 2e-17), 2^n exactly from its bit
    pattern (exponent field n + 1023, |n| ≤ 1010). Unlike ``math.exp`` (a libm call) it vectorises;
    a NaN gives NaN."""
    x = min(max(x, -_EXP_LIMIT), _EXP_LIMIT)
    n = math.floor(x * _INV_LN2 + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _f64_from_bits((np.int64(n) + 1023) << 52)


@njit(cache=True, error_model="numpy", inline="always")
def _tanh(u):
    """tanh(u) = 1 − 2 / (exp(2u) + 1): branch-free and vectorised (absolute error ≲ 4e-16); saturates to ±1."""
    return 1.0 - 2.0 / (_exp(2.0 * u) + 1.0)


_ERF_STEPS = 64  # nodes per unit
_ERF_LIMIT = 6.0  # erfc(6) ≈ 2e-17 < half an ulp of 1: erf(|u| ≥ 6) rounds to 1
_ERF_NODES = np.arange(int(_ERF_LIMIT * _ERF_STEPS) + 1) / _ERF_STEPS
_ERF_VALUES = np.array([math.erf(x) for x in _ERF_NODES])
_ERF_SLOPES = _TWO_OVER_SQRT_PI * np.exp(-(_ERF_NODES**2))
_ERF_TERMS = 10


@njit(cache=True, error_model="numpy", inline="always")
def _erf(u):
    """erf(u) without a libm call (``math.erf`` is scalar and costs as much as the rest of a step).

    With x₀ the node nearest |u| on a grid of step 1/64 over [0, 6] and h = |u| − x₀ (|h| ≤ 1/128),
    the Taylor series of erf about x₀, whose n-th derivative is (2/√π)(−1)^{n−1} H_{n−1}(x₀) e^{−x₀²}
    (H the physicists' Hermite polynomials, H_{n+1} = 2x H_n − 2n H_{n−1}):

        erf(x₀ + h) = erf(x₀) − (2/√π) e^{−x₀²} Σ_{n≥1} H_{n−1}(x₀) (−h)^n / n!,

    with erf(x₀) and (2/√π)e^{−x₀²} tabulated at import (``math.erf``, ``np.exp``). The series is
    cut after ten terms, where |h|^n/n! at |h| ≤ 1/128 has made the remainder negligible beside an
    ulp on the whole grid. Beyond 6 erf rounds to ±1 (the node at 6 gives it). Odd in u; NaN gives
    NaN. It vectorises apart from the table lookup. tests/test_kernels.py holds it to 2 ulps of a
    120-bit reference, the accuracy of scipy.special.erf, which the numpy path uses."""
    a = min(abs(u), _ERF_LIMIT)
    k = int(a * _ERF_STEPS + 0.5)
    x0 = k / _ERF_STEPS
    g = x0 - a  # −h
    term = g
    acc = g  # n = 1: H_0 = 1
    h_prev = 1.0
    h_cur = 2.0 * x0
    for n in range(2, _ERF_TERMS + 1):
        term = term * g / n
        acc += h_cur * term
        h_prev, h_cur = h_cur, 2.0 * x0 * h_cur - 2.0 * (n - 1) * h_prev
    v = _ERF_VALUES[k] - _ERF_SLOPES[k] * acc
    return math.copysign(v, u) if u == u else u


@njit(cache=True, error_model="numpy")
def _activate(code, p, z, sv, pv, n):
    """sv[i] = σ(z[i]), pv[i] = σ'(z[i]) for i < n; one vectorisable loop per family."""
    if code == 0:  # tanh_sum: Σ_j a_j tanh(b_j t + c_j)
        J = p.shape[0] // 3
        a = p[0]
        b = p[J]
        c = p[2 * J]
        ab = a * b
        for i in range(n):  # the first term writes, the others add (one pass when J = 1)
            th = _tanh(b * z[i] + c)
            sv[i] = a * th
            pv[i] = ab * (1.0 - th * th)
        for j in range(1, J):
            a = p[j]
            b = p[J + j]
            c = p[2 * J + j]
            ab = a * b
            for i in range(n):
                th = _tanh(b * z[i] + c)
                sv[i] += a * th
                pv[i] += ab * (1.0 - th * th)
    elif code == 1:  # erf_sigmoid: a erf(b t)
        a = p[0]
        b = p[1]
        abk = a * b * _TWO_OVER_SQRT_PI
        for i in range(n):
            u = b * z[i]
            sv[i] = a * _erf(u)
            pv[i] = abk * _exp(-(u * u))
    elif code == 2:  # bounded_sine: a sin(b t + c)
        a = p[0]
        b = p[1]
        c = p[2]
        ab = a * b
        for i in range(n):
            u = b * z[i] + c
            sv[i] = a * math.sin(u)
            pv[i] = ab * math.cos(u)
    elif code == 3:  # piecewise_linear(t1, t2, s1, s2)
        t1 = p[0]
        t2 = p[1]
        s1 = p[2]
        slope = (p[3] - s1) / (t2 - t1)
        for i in range(n):
            t = z[i]
            sv[i] = s1 + slope * (min(max(t, t1), t2) - t1)
            pv[i] = slope if (t > t1 and t < t2) else 0.0
    else:  # relu
        for i in range(n):
            t = z[i]
            sv[i] = max(t, 0.0)
            pv[i] = 1.0 if t > 0.0 else 0.0


@njit(cache=True, error_model="numpy")
def _activate_prime(code, p, z, pv, n):
    """pv[i] = σ'(z[i]) for i < n, without σ (for erf it skips the scalar ``math.erf``); as :func:`_activate`."""
    if code == 0:  # tanh_sum: Σ_j a_j b_j (1 − tanh²(b_j t + c_j))
        J = p.shape[0] // 3
        for j in range(J):
            ab = p[j] * p[J + j]
            b = p[J + j]
            c = p[2 * J + j]
            for i in range(n):
                th = _tanh(b * z[i] + c)
                if j == 0:
                    pv[i] = ab * (1.0 - th * th)
                else:
                    pv[i] += ab * (1.0 - th * th)
    elif code == 1:  # erf_sigmoid: a b (2/√π) exp(−(b t)²)
        b = p[1]
        abk = p[0] * b * _TWO_OVER_SQRT_PI
        for i in range(n):
            u = b * z[i]
            pv[i] = abk * _exp(-(u * u))
    elif code == 2:  # bounded_sine: a b cos(b t + c)
        ab = p[0] * p[1]
        b = p[1]
        c = p[2]
        for i in range(n):
            pv[i] = ab * math.cos(b * z[i] + c)
    elif code == 3:  # piecewise_linear(t1, t2, s1, s2)
        t1 = p[0]
        t2 = p[1]
        slope = (p[3] - p[2]) / (t2 - t1)
        for i in range(n):
            t = z[i]
            pv[i] = slope if (t > t1 and t < t2) else 0.0
    else:  # relu
        for i in range(n):
            pv[i] = 1.0 if z[i] > 0.0 else 0.0


@njit(cache=True, error_model="numpy", parallel=True)
def _activate_matrix(code, p, Z, S, P):
    """S = σ(Z), P = σ'(Z) for a C-contiguous (n, M) matrix, rows in parallel."""
    n = Z.shape[0]
    M = Z.shape[1]
    for j in prange(n):
        _activate(code, p, Z[j], S[j], P[j], M)


@njit(cache=True, error_model="numpy", inline="always")
def _activate_reduce_row(code, p, z, w, pv, n):
    """pv[i] = σ'(z[i]) for i < n and return Σ_i w[i] σ(z[i]) (σ never stored); as :func:`_activate`."""
    acc = 0.0
    if code == 0:  # tanh_sum: Σ_j a_j tanh(b_j t + c_j)
        J = p.shape[0] // 3
        for j in range(J):
            a = p[j]
            b = p[J + j]
            c = p[2 * J + j]
            ab = a * b
            if j == 0:
                for i in range(n):
                    th = _tanh(b * z[i] + c)
                    acc += w[i] * (a * th)
                    pv[i] = ab * (1.0 - th * th)
            else:
                for i in range(n):
                    th = _tanh(b * z[i] + c)
                    acc += w[i] * (a * th)
                    pv[i] += ab * (1.0 - th * th)
    elif code == 1:  # erf_sigmoid: a erf(b t)
        a = p[0]
        b = p[1]
        abk = a * b * _TWO_OVER_SQRT_PI
        for i in range(n):
            u = b * z[i]
            acc += w[i] * (a * _erf(u))
            pv[i] = abk * _exp(-(u * u))
    elif code == 2:  # bounded_sine: a sin(b t + c)
        a = p[0]
        b = p[1]
        c = p[2]
        ab = a * b
        for i in range(n):
            u = b * z[i] + c
            acc += w[i] * (a * math.sin(u))
            pv[i] = ab * math.cos(u)
    elif code == 3:  # piecewise_linear(t1, t2, s1, s2)
        t1 = p[0]
        t2 = p[1]
        s1 = p[2]
        slope = (p[3] - s1) / (t2 - t1)
        for i in range(n):
            t = z[i]
            acc += w[i] * (s1 + slope * (min(max(t, t1), t2) - t1))
            pv[i] = slope if (t > t1 and t < t2) else 0.0
    else:  # relu
        for i in range(n):
            t = z[i]
            acc += w[i] * max(t, 0.0)
            pv[i] = 1.0 if t > 0.0 else 0.0
    return acc


@njit(cache=True, error_model="numpy", nogil=True, fastmath=_FAST)
def _activate_reduce(code, p, Z, w, yhat, P):
    """yhat[j] = Σ_m w[m] σ(Z[j, m]) and P[j, m] = σ'(Z[j, m]): one read of Z and one write of P;
    σ(Z) is reduced in registers, never stored. Serial and without the GIL, so that callers can
    run column blocks in threads (:class:`mfcheck.reference.flow.StageField`)."""
    for j in range(Z.shape[0]):
        yhat[j] = _activate_reduce_row(code, p, Z[j], w, P[j], Z.shape[1])


def activate_reduce(activation, Z, w, P=None, yhat=None):
    """The fused pass of an inner-neuron stage: ŷ = σ(Z) w and P = σ'(Z); returns (ŷ, P).

    ``Z``: an (n, M) array; ``w``: the M weights; ``P``, ``yhat``: optional output buffers. Memory
    traffic is one read of Z and one write of P, against five n×M passes for :func:`activate`
    followed by S @ w. Serial; releases the GIL."""
    code = family_code(activation)
    if code is None:
        raise InvalidArgument(f"`activation` {activation!r} has no compiled kernel.")
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    if Z.ndim != 2:
        raise InvalidArgument(f"`Z` must be 2-D, got shape {Z.shape}.")
    w = np.ascontiguousarray(w, dtype=np.float64)
    if w.shape != (Z.shape[1],):
        raise InvalidArgument(f"`w` must have shape ({Z.shape[1]},), got {w.shape}.")
    P = np.empty_like(Z) if P is None else P
    if not (isinstance(P, np.ndarray) and P.shape == Z.shape and P.dtype == np.float64 and P.flags.c_contiguous):
        raise InvalidArgument(f"`P` must be a C-contiguous float64 array of Z's shape {Z.shape}.")
    yhat = np.empty(Z.shape[0]) if yhat is None else yhat
    _activate_reduce(code, activation_parameters(activation), Z, w, yhat, P)
    return yhat, P


def activate(activation, Z, S=None, P=None):
    """σ(Z) and σ'(Z) of a 2-D array in one compiled pass (rows in parallel); writes into ``S``, ``P`` when given."""
    code = family_code(activation)
    if code is None:
        raise InvalidArgument(f"`activation` {activation!r} has no compiled kernel.")
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    if Z.ndim != 2:
        raise InvalidArgument(f"`Z` must be 2-D, got shape {Z.shape}.")
    S = np.empty_like(Z) if S is None else S
    P = np.empty_like(Z) if P is None else P
    for name, out in (("S", S), ("P", P)):
        if not (isinstance(out, np.ndarray) and out.shape == Z.shape and out.dtype == np.float64 and out.flags.c_contiguous):
            raise InvalidArgument(f"`{name}` must be a C-contiguous float64 array of Z's shape {Z.shape}.")
    _activate_matrix(code, activation_parameters(activation), Z, S, P)
    return S, P


# -- one step of one replicate ---------------------------------------------------------------


@njit(cache=True, error_model="numpy", fastmath=_FAST)
def _step_inner(th, x, y, s, code, p, z, sv, pv, decay, noise_scale, g, noisy):
    N = th.shape[0]
    D = th.shape[1]
    for i in range(N):
        acc = 0.0
        for q in range(D):
            acc += th[i, q] * x[q]
        z[i] = acc
    _activate(code, p, z, sv, pv, N)
    tot = 0.0
    for i in range(N):
        tot += sv[i]
    coef = 2.0 * s * (y - tot / N)
    if noisy:
        for i in range(N):
            ci = coef * pv[i]
            for q in range(D):
                t = th[i, q]
                th[i, q] = t + ci * x[q] - decay * t + noise_scale * g[i, q]
    else:
        for i in range(N):
            ci = coef * pv[i]
            for q in range(D):
                th[i, q] += ci * x[q]


@njit(cache=True, error_model="numpy", fastmath=_FAST)
def _step_affine(th, x, y, s, code, p, z, sv, pv, decay, noise_scale, g, noisy):
    N = th.shape[0]
    D = th.shape[1]
    d = D - 2
    for i in range(N):
        acc = 0.0
        for q in range(d):
            acc += th[i, 1 + q] * x[q]
        z[i] = acc + th[i, D - 1]
    _activate(code, p, z, sv, pv, N)
    tot = 0.0
    for i in range(N):
        tot += th[i, 0] * sv[i]
    coef = 2.0 * s * (y - tot / N)
    for i in range(N):
        a = th[i, 0]
        cw = coef * a * pv[i]
        if noisy:
            th[i, 0] = a + coef * sv[i] - decay * a + noise_scale * g[i, 0]
            for q in range(d):
                t = th[i, 1 + q]
                th[i, 1 + q] = t + cw * x[q] - decay * t + noise_scale * g[i, 1 + q]
            t = th[i, D - 1]
            th[i, D - 1] = t + cw - decay * t + noise_scale * g[i, D - 1]
        else:
            th[i, 0] = a + coef * sv[i]
            for q in range(d):
                th[i, 1 + q] += cw * x[q]
            th[i, D - 1] += cw


@njit(cache=True, error_model="numpy")
def _replicate(kind, th, X, Y, S, r, G, first, code, p, lam, beta, c, noisy):
    """K steps of replicate r on its particles ``th`` (N, D), in place."""
    N = th.shape[0]
    z = np.empty(N)
    sv = np.empty(N)
    pv = np.empty(N)
    for k in range(X.shape[0]):
        s = S[k]
        decay = 2.0 * lam * s
        noise_scale = math.sqrt(c * s / beta) if noisy else 0.0
        g = G[r, first + k] if noisy else G[0, 0]
        if kind == 0:
            _step_inner(th, X[k, r], Y[k, r], s, code, p, z, sv, pv, decay, noise_scale, g, noisy)
        else:
            _step_affine(th, X[k, r], Y[k, r], s, code, p, z, sv, pv, decay, noise_scale, g, noisy)


@njit(cache=True, error_model="numpy", parallel=True)
def _block_parallel(kind, Theta, X, Y, S, G, first, code, p, lam, beta, c, noisy):
    for r in prange(Theta.shape[0]):
        _replicate(kind, Theta[r], X, Y, S, r, G, first, code, p, lam, beta, c, noisy)


@njit(cache=True, error_model="numpy")
def _block_serial(kind, Theta, X, Y, S, G, first, code, p, lam, beta, c, noisy):
    for r in range(Theta.shape[0]):
        _replicate(kind, Theta[r], X, Y, S, r, G, first, code, p, lam, beta, c, noisy)


_PARALLEL_MIN_WORK = 1 << 21  # coordinate updates per replicate and call below which threads cost more than they give
_NO_NOISE = np.zeros((1, 1, 1, 1))


def _run_block(kind, Theta, X, Y, S, G, first, code, p, lam, beta, c, noisy):
    """Replicates in parallel threads when there are several and each has enough work; serially otherwise
    (a parallel region has a start-up cost that small blocks do not repay, least of all when other
    processes hold the other cores)."""
    R, N, D = Theta.shape
    parallel = R > 1 and numba.get_num_threads() > 1 and X.shape[0] * N * D >= _PARALLEL_MIN_WORK
    (_block_parallel if parallel else _block_serial)(kind, Theta, X, Y, S, G, first, code, p, lam, beta, c, noisy)


def _check_block(kind, Theta, X, Y, S):
    """Shapes checked here: the kernels index without bounds checks."""
    if not (isinstance(Theta, np.ndarray) and Theta.ndim == 3 and Theta.flags.c_contiguous and Theta.dtype == np.float64):
        raise InvalidArgument("`Theta` must be a C-contiguous float64 array (R, N, D); it is updated in place.")
    R, _, D = Theta.shape
    X, Y, S = np.asarray(X), np.asarray(Y), np.asarray(S)
    K = X.shape[0] if X.ndim == 3 else -1
    d = D if kind == 0 else D - 2
    if X.shape != (K, R, d) or Y.shape != (K, R) or S.shape != (K,):
        raise InvalidArgument(f"Shape mismatch: `X` {X.shape}, `Y` {Y.shape}, `S` {S.shape}; need (K, R={R}, d={d}), (K, R), (K,).")
    return (np.ascontiguousarray(X, dtype=np.float64), np.ascontiguousarray(Y, dtype=np.float64), np.ascontiguousarray(S, dtype=np.float64))


def sgd_block(neuron, Theta, X, Y, S) -> None:
    """Run K noiseless mean-field steps on every replicate, updating ``Theta`` in place.

    **Arguments:**

    - ``neuron``: an InnerNeuron or AffineNeuron on a known activation family (:func:`supports`).
    - ``Theta``: (R, N, D) float64, C-contiguous; θ^k on entry, θ^{k+K} on exit.
    - ``X`` (K, R, d), ``Y`` (K, R): the samples of the K steps; ``S`` (K,): the step sizes s_k = ε ξ(kε).
    """
    kind, code, p = _require(neuron)
    X, Y, S = _check_block(kind, Theta, X, Y, S)
    _run_block(kind, Theta, X, Y, S, _NO_NOISE, 0, code, p, 0.0, 1.0, 0.0, False)


def noisy_block(neuron, Theta, X, Y, S, G, lam: float, beta: float, c: float, *, first: int = 0) -> None:
    """Run K Langevin steps θ ← θ + 2s(y − ŷ)∇σ* − 2λsθ + sqrt(cs/β) g on every replicate, in place.

    Same arguments as :func:`sgd_block`, plus ``G`` (R, B, N, D) with B ≥ ``first`` + K: step k of the
    block uses the Gaussians ``G[r, first + k]``; and the rule's λ (``lam``), β (``beta``) and noise
    constant ``c``.
    """
    kind, code, p = _require(neuron)
    X, Y, S = _check_block(kind, Theta, X, Y, S)
    R, N, D = Theta.shape
    if G.ndim != 4 or G.shape[0] != R or G.shape[2:] != (N, D) or not 0 <= first <= G.shape[1] - X.shape[0]:
        raise InvalidArgument(f"Shape mismatch: `G` has shape {G.shape}, needs (R, B, N, D) = ({R}, ≥{first + X.shape[0]}, {N}, {D}).")
    G = np.ascontiguousarray(G, dtype=np.float64)
    _run_block(kind, Theta, X, Y, S, G, int(first), code, p, float(lam), float(beta), float(c), True)


# -- the population field at many particles (coupled references, exact martingale parts) ------------

_PARTICLE_CHUNK = 64  # particles per scratch block of the field kernels


@njit(cache=True, error_model="numpy", inline="always")
def _project(XT, theta, z):
    """z[j] = <θ, x_j> for XT = X^T (d, n), one pass over the coordinates (vectorised over j)."""
    for j in range(z.shape[0]):
        z[j] = 0.0
    for k in range(XT.shape[0]):
        t = theta[k]
        for j in range(z.shape[0]):
            z[j] += XT[k, j] * t


@njit(cache=True, error_model="numpy", parallel=True, fastmath=_FAST)
def _pullback_inner(code, p, XT, Theta, C, out):
    """out[l, m] = Σ_j C[l, j] σ'(<Θ[l, m], x_j>) x_j for Θ (L, M, d), C (L, n), XT = X^T (d, n):
    per particle one pass over the n points (z, σ', then the weighted sum), chunks of particles in
    parallel; no (n, M) matrix is formed."""
    d, n = XT.shape
    L, M = Theta.shape[0], Theta.shape[1]
    chunks = (M + _PARTICLE_CHUNK - 1) // _PARTICLE_CHUNK
    for q in prange(L * chunks):
        l = q // chunks
        m0 = (q % chunks) * _PARTICLE_CHUNK
        z = np.empty(n)
        pv = np.empty(n)
        for m in range(m0, min(m0 + _PARTICLE_CHUNK, M)):
            _project(XT, Theta[l, m], z)
            _activate_prime(code, p, z, pv, n)
            for j in range(n):
                pv[j] *= C[l, j]
            for k in range(d):
                acc = 0.0
                for j in range(n):
                    acc += pv[j] * XT[k, j]
                out[l, m, k] = acc


@njit(cache=True, error_model="numpy", parallel=True, fastmath=_FAST)
def _predict_inner(code, p, XT, Theta, w, out):
    """out[l, j] = Σ_m w[m] σ(<Θ[l, m], x_j>) for Θ (L, M, d), XT = X^T (d, n), replicates in parallel."""
    d, n = XT.shape
    L, M = Theta.shape[0], Theta.shape[1]
    for l in prange(L):
        z = np.empty(n)
        sv = np.empty(n)
        pv = np.empty(n)
        acc = np.zeros(n)
        for m in range(M):
            _project(XT, Theta[l, m], z)
            _activate(code, p, z, sv, pv, n)
            wm = w[m]
            for j in range(n):
                acc[j] += wm * sv[j]
        for j in range(n):
            out[l, j] = acc[j]


def _field_arrays(neuron, X, Theta):
    if not (supports(neuron) and _neuron_kind(neuron) == 0):
        raise InvalidArgument(f"The compiled field needs an InnerNeuron on a compiled activation family; got {neuron!r}.")
    X = np.asarray(X, dtype=np.float64)
    Theta = np.asarray(Theta, dtype=np.float64)
    if X.ndim != 2 or Theta.ndim < 2 or Theta.shape[-1] != X.shape[1]:
        raise InvalidArgument(f"Need X (n, d) and Theta (..., M, d); got {X.shape} and {Theta.shape}.")
    lead = Theta.shape[:-2]
    T3 = np.ascontiguousarray(Theta.reshape((-1,) + Theta.shape[-2:]))
    return np.ascontiguousarray(X.T), T3, lead


def pullback(neuron, X, Theta, c) -> np.ndarray:
    """Σ_j c_j σ'(<θ_m, x_j>) x_j for an inner neuron (``neuron.pullback`` compiled): X (n, d),
    Theta (..., M, d), c (n,) or (..., n); returns (..., M, d)."""
    XT, T3, lead = _field_arrays(neuron, X, Theta)
    C = np.ascontiguousarray(np.broadcast_to(np.asarray(c, dtype=np.float64), lead + (XT.shape[1],)).reshape(T3.shape[0], XT.shape[1]))
    out = np.empty_like(T3)
    _pullback_inner(family_code(neuron.activation), activation_parameters(neuron.activation), XT, T3, C, out)
    return out.reshape(lead + T3.shape[1:])


def predict(neuron, X, Theta, weights=None) -> np.ndarray:
    """ŷ(x_j) = Σ_m w_m σ(<θ_m, x_j>) for an inner neuron (weights 1/M when None): X (n, d),
    Theta (..., M, d); returns (..., n)."""
    XT, T3, lead = _field_arrays(neuron, X, Theta)
    M = T3.shape[1]
    w = np.full(M, 1.0 / M) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    if w.shape != (M,):
        raise InvalidArgument(f"`weights` must have shape ({M},), got {w.shape}.")
    out = np.empty((T3.shape[0], XT.shape[1]))
    _predict_inner(family_code(neuron.activation), activation_parameters(neuron.activation), XT, T3, w, out)
    return out.reshape(lead + (XT.shape[1],))


def warm_up() -> None:
    """Compile (or load from the disk cache) every kernel signature the package uses, outside any timing."""
    from mfcheck.model.activations import tanh_sum
    from mfcheck.model.neurons import AffineNeuron, InnerNeuron

    act = tanh_sum()
    for neuron, D in ((InnerNeuron(act), 2), (AffineNeuron(act), 4)):
        Theta = np.zeros((1, 2, D))
        X = np.zeros((1, 1, 2))
        Y = np.zeros((1, 1))
        S = np.zeros(1)
        sgd_block(neuron, Theta, X, Y, S)
        noisy_block(neuron, Theta, X, Y, S, np.zeros((1, 1, 2, D)), 0.0, 1.0, 4.0)
        for noisy, G in ((False, _NO_NOISE), (True, np.zeros((2, 1, 2, D)))):  # the parallel variant too
            _block_parallel(0 if D == 2 else 1, np.zeros((2, 2, D)), np.zeros((1, 2, 2)), np.zeros((1, 2)), np.zeros(1), G, 0,
                            0, activation_parameters(act), 0.0, 1.0, 4.0, noisy)
    activate(act, np.zeros((2, 2)))
    activate_reduce(act, np.zeros((2, 2)), np.zeros(2))
    pullback(InnerNeuron(act), np.zeros((2, 2)), np.zeros((1, 2, 2)), np.zeros(2))
    predict(InnerNeuron(act), np.zeros((2, 2)), np.zeros((1, 2, 2)))
