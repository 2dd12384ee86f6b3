r"""Gaussian expectations along one or two directions, by Gauss–Hermite quadrature.

For a standard Gaussian g ∈ R^d and directions a, b ∈ R^d this module computes

    E f(<a, g>),    E[f'(<a, g>) g],    E[f(<a, g>) h(<b, g>)],    E[f'(<a, g>) h(<b, g>) g],

the last two for every pair (a_m, b_k) of rows of A (M1, d) and B (M2, d). These are all the
integrals that V, ∇V, U and ∇₁U need when x is Gaussian and σ*(x; w) = σ(<w, x>).

**Reduction to two coordinates.** Take the orthonormal pair e1 = a/|a|, e2 = u/|u| with
u = b - <b, e1> e1 (the part of b orthogonal to a). Then Z1 = <e1, g>, Z2 = <e2, g> are
independent N(0, 1), g - Z1 e1 - Z2 e2 is independent of (Z1, Z2) with mean zero, and

    <a, g> = |a| Z1,    <b, g> = β1 Z1 + β2 Z2,    β1 = <b, e1>,  β2 = |u|,
    E[f'(<a, g>) h(<b, g>) g] = e1 E[f' h Z1] + e2 E[f' h Z2].

Degenerate cases: b parallel to a gives u = 0; then h does not depend on Z2, the coefficient
E[f' h Z2] vanishes, and e2 is set to 0. a = 0 gives <a, g> = 0; then e1 := 0 and b is
carried by Z2 alone (β1 = 0, β2 = |b|, e2 = b/|b|). a = b = 0 gives e1 = e2 = 0. Nothing
divides by a vanishing norm, so no tolerance on "parallel" is needed: a rounding residue
|u| ~ 1e-16 |b| only moves the result by that much.

**Quadrature.** ``numpy.polynomial.hermite_e.hermegauss`` (probabilists' weight e^{-z²/2}),
weights divided by √(2π), tensorised on (Z1, Z2) with ``n_nodes`` per axis: cost n² function
evaluations per pair. The rule is exact for polynomials of degree ≤ 2n - 1 in each
coordinate; for entire or analytic integrands the error falls geometrically in n, at a
rate set by the distance to the nearest complex singularity divided by the scale of the
argument (tanh(c t) has poles at t = ± iπ/(2c), so large |w| or steep slopes need more nodes;
an entire σ such as a sine converges fastest). For
:class:`~mfcheck.model.problems.gaussians.TwoGaussians` the scale of the argument is
(1 + Δ)|w| · slope. The default ``DEFAULT_NODES`` suits arguments of scale up to about 1; steeper
σ or larger |w| need more nodes (at most ``MAX_NODES``). The tests compare the oracles with a
dense grid, adaptive quadrature and Monte Carlo (``tests/test_problems_gaussians.py``,
``tests/test_problems_teacher_student.py``).

The piecewise-linear σ of MMN18 (kinks at 0.5 and 1.5, so σ' jumps) is not a polynomial-like
integrand: the error falls slowly and erratically in n, and ∇₁U, whose integrand carries the
indicator σ', stays far from its value even at ``MAX_NODES``. Use these oracles with smooth σ
(:func:`quadrature_activation` refuses the others); see
``tests/test_problems_gaussians.py::test_piecewise_linear_converges_slowly_under_gauss_hermite``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from mfcheck._validation import check_array, check_positive_int
from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import InnerNeuron, Neuron
from mfcheck.model.problems.base import TheoremConstants

__all__ = [
    "DEFAULT_NODES",
    "MAX_NODES",
    "check_nodes",
    "hermite_rule",
    "expect_single",
    "expect_single_grad",
    "expect_pair",
    "expect_pair_grad",
    "PSI2_GAUSSIAN",
    "inner_activation",
    "check_particles",
    "gaussian_input_constants",
]

DEFAULT_NODES = 48
"""Gauss–Hermite nodes per axis unless a problem is built with another ``n_nodes``."""

PSI2_GAUSSIAN = math.sqrt(8.0 / 3.0)
"""||G||_ψ2 for G ~ N(0, 1): the t with E exp(G²/t²) = (1 - 2/t²)^{-1/2} = 2."""

MAX_NODES = 300
"""numpy's ``hermegauss`` overflows in its weights beyond about 360 nodes."""

_BLOCK = 1 << 22  # at most this many evaluations of h per block of pairs (32 MiB of float64)


def check_nodes(n_nodes) -> int:
    """``n_nodes`` as an int in [2, MAX_NODES], or :class:`InvalidArgument` naming it."""
    n_nodes = check_positive_int(n_nodes, "n_nodes")
    if not 2 <= n_nodes <= MAX_NODES:
        raise InvalidArgument(f"`n_nodes` must be between 2 and {MAX_NODES}, got n_nodes={n_nodes}.")
    return n_nodes


def hermite_rule(n_nodes: int = DEFAULT_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z_i and weights w_i with Σ_i w_i f(z_i) ≈ E f(G), G ~ N(0, 1) (read-only arrays)."""
    return _hermite_rule(check_nodes(n_nodes))


@lru_cache(maxsize=16)
def _hermite_rule(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    z, w = hermegauss(n_nodes)
    w = w / math.sqrt(2.0 * math.pi)
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def expect_single(f, A, n_nodes: int = DEFAULT_NODES) -> np.ndarray:
    """E f(<a_m, g>) = E f(|a_m| G) for each row a_m of ``A`` (M, d): shape (M,)."""
    A = check_array(A, "A", ndim=2)
    z, w = hermite_rule(n_nodes)
    r = np.linalg.norm(A, axis=1)
    return f(r[:, None] * z[None, :]) @ w


def expect_single_grad(fprime, A, n_nodes: int = DEFAULT_NODES) -> np.ndarray:
    """E[f'(<a_m, g>) g] = E[f'(|a_m| G) G] a_m/|a_m| (0 when a_m = 0): shape (M, d)."""
    A = check_array(A, "A", ndim=2)
    z, w = hermite_rule(n_nodes)
    r = np.linalg.norm(A, axis=1)
    coef = fprime(r[:, None] * z[None, :]) @ (w * z)
    e1 = np.divide(A, r[:, None], out=np.zeros_like(A), where=r[:, None] > 0)
    return coef[:, None] * e1


def _basis(A, B):
    """|a|, e1 (M1, d); β1, β2 (M1, M2); e2 (M1, M2, d): the reduction of the module docstring."""
    ra = np.linalg.norm(A, axis=1)
    e1 = np.divide(A, ra[:, None], out=np.zeros_like(A), where=ra[:, None] > 0)
    beta1 = e1 @ B.T
    u = B[None, :, :] - beta1[:, :, None] * e1[:, None, :]
    beta2 = np.linalg.norm(u, axis=2)
    e2 = np.divide(u, beta2[:, :, None], out=np.zeros_like(u), where=beta2[:, :, None] > 0)
    return ra, e1, beta1, beta2, e2


def _h_on_grid(h, beta1, beta2, z):
    """h(β1 z_i + β2 z_j) on the tensor grid: shape (M1, M2, n, n)."""
    arg = beta1[:, :, None, None] * z[None, None, :, None] + beta2[:, :, None, None] * z[None, None, None, :]
    return h(arg)


def _blocks(M1, M2, n):
    rows = max(1, _BLOCK // max(1, M2 * n * n))
    return [slice(i, min(i + rows, M1)) for i in range(0, M1, rows)]


def _pair_inputs(A, B):
    A = check_array(A, "A", ndim=2)
    B = check_array(B, "B", ndim=2)
    if A.shape[1] != B.shape[1]:
        raise InvalidArgument(f"`A` and `B` must have the same number of columns d, got {A.shape} and {B.shape}.")
    return A, B


def expect_pair(f, h, A, B, n_nodes: int = DEFAULT_NODES) -> np.ndarray:
    """E[f(<a_m, g>) h(<b_k, g>)] for rows a_m of ``A`` (M1, d), b_k of ``B`` (M2, d): (M1, M2).

    = Σ_{i,j} w_i w_j f(|a| z_i) h(β1 z_i + β2 z_j).
    """
    A, B = _pair_inputs(A, B)
    z, w = hermite_rule(n_nodes)
    ra, _, beta1, beta2, _ = _basis(A, B)
    out = np.empty((A.shape[0], B.shape[0]))
    for blk in _blocks(A.shape[0], B.shape[0], z.size):
        Hj = _h_on_grid(h, beta1[blk], beta2[blk], z) @ w  # (m, k, n_i)
        F = f(ra[blk, None] * z[None, :]) * w  # (m, n_i)
        out[blk] = np.einsum("mki,mi->mk", Hj, F)
    return out


def expect_pair_grad(fprime, h, A, B, n_nodes: int = DEFAULT_NODES) -> np.ndarray:
    """E[f'(<a_m, g>) h(<b_k, g>) g] for every pair (a_m, b_k): shape (M1, M2, d).

    = e1 Σ w_i w_j f'(|a| z_i) h(β1 z_i + β2 z_j) z_i + e2 Σ w_i w_j f'(|a| z_i) h(β1 z_i + β2 z_j) z_j.
    This is ∇_a E[f(<a, g>) h(<b, g>)] when f is the antiderivative of ``fprime``.
    """
    A, B = _pair_inputs(A, B)
    z, w = hermite_rule(n_nodes)
    ra, e1, beta1, beta2, e2 = _basis(A, B)
    out = np.empty((A.shape[0], B.shape[0], A.shape[1]))
    for blk in _blocks(A.shape[0], B.shape[0], z.size):
        H = _h_on_grid(h, beta1[blk], beta2[blk], z)  # (m, k, n_i, n_j)
        Fp = fprime(ra[blk, None] * z[None, :]) * w  # (m, n_i)
        c1 = np.einsum("mki,mi->mk", H @ w, Fp * z)
        c2 = np.einsum("mki,mi->mk", H @ (w * z), Fp)
        out[blk] = c1[:, :, None] * e1[blk, None, :] + c2[:, :, None] * e2[blk]
    return out


# -- shared by the problems with Gaussian inputs ---------------------------------------------
def inner_activation(problem, neuron: Neuron) -> Activation:
    """The activation σ of an :class:`InnerNeuron`; any other neuron is refused."""
    if not isinstance(neuron, InnerNeuron):
        raise InvalidArgument(
            f"{problem!r} supports only InnerNeuron (σ*(x; w) = σ(<w, x>)), got `neuron`={neuron!r}."
        )
    return neuron.activation


def quadrature_activation(problem, neuron: Neuron) -> Activation:
    """As :func:`inner_activation`, and refuse σ whose σ' is not Lipschitz (kinks).

    Gauss–Hermite does not converge usefully for such σ (module docstring: ∇₁U stays far off
    even at ``MAX_NODES`` for the piecewise-linear σ), so the oracle would return wrong numbers;
    it raises instead.
    """
    act = inner_activation(problem, neuron)
    if not math.isfinite(act.lipschitz_prime):
        raise InvalidArgument(
            f"{problem!r}: the Gauss–Hermite oracle needs σ' Lipschitz, but {act!r} has kinks "
            "(Lip(σ') = inf) and the quadrature would return inaccurate values. Use a smooth σ."
        )
    return act


def check_particles(problem, neuron: Neuron, Theta, name: str = "Theta") -> np.ndarray:
    """``Theta`` as a finite (M, D) array with D = neuron.dim(d)."""
    D = neuron.dim(problem.d)
    return check_array(Theta, name, shape=(None, D))


def _times(*factors: float) -> float:
    """Product of non-negative bounds, 0 when one factor is 0 (the bounded quantity is then 0)."""
    if any(f == 0 for f in factors):
        return 0.0
    return float(math.prod(factors))


def gaussian_input_constants(
    act: Activation, y_bound: float, *, mean_scale: float, mean_sq_scale: float, max_scale: float
) -> TheoremConstants:
    r"""A2-A3 constants for σ*(x; w) = σ(<w, x>) when, given its class, x ~ N(0, s² I_d).

    The law of the scale s is summarised by E s (``mean_scale``), E s² (``mean_sq_scale``) and
    max s (``max_scale``). For a unit vector u, <u, x> given s is N(0, s²), so
    E|<u, x>| = √(2/π) E s and E <u, x>² = E s². Write L = sup|σ'|, L' = Lip(σ'),
    S = sup|σ|, Y = y_bound. All bounds are dimension-free:

    - ``grad_sigma_star_bound`` = L · max s · √(8/3): the sub-Gaussian norm of the vector
      ∇_w σ* = σ'(<w, x>) x in the sense sup_{|u|=1} ||<u, ∇_w σ*>||_ψ2 (Vershynin, HDP
      Def. 3.4.1), since |<u, ∇_w σ*>| ≤ L |<u, x>| and ||N(0, s²)||_ψ2 = s √(8/3); a mixture
      over s is bounded by its largest scale. (||∇_w σ*|| itself is unbounded. The ψ2 norm of
      the Euclidean length ||∇_w σ*|| ≤ L ||x|| would carry a dimension factor:
      L · max s · √(2 / (1 - 2^{-2/d})) ≈ L · max s · √(d / ln 2).)
    - ``grad_V_bound`` = Y L √(2/π) E s: ||∇V|| = sup_u E[-y σ'(<w, x>) <u, x>].
    - ``grad_V_lipschitz`` = Y L' E s²: ||∇V(w) - ∇V(w')|| ≤ Y L' sup_u E[|<w - w', x>| |<u, x>|]
      and Cauchy–Schwarz.
    - ``grad_U_bound`` = S L √(2/π) E s (as ∇V with y replaced by σ(<w', x>)).
    - ``grad_U_lipschitz`` = (S L' + L Lip(σ)) E s²: Lipschitz in (w, w') for the sum of the
      two displacements, as for :class:`~mfcheck.model.problems.finite.FinitePopulation`.

    An infinite activation constant gives an infinite field (``require_theorem_1`` refuses it).
    """
    L, Lp, S, Lip = act.sup_prime, act.lipschitz_prime, act.sup_norm, act.lipschitz
    abs_moment = math.sqrt(2.0 / math.pi) * mean_scale
    return TheoremConstants(
        y_bound=float(y_bound),
        sigma_star_bound=float(S),
        grad_sigma_star_bound=_times(L, max_scale, PSI2_GAUSSIAN),
        grad_V_bound=_times(y_bound, L, abs_moment),
        grad_V_lipschitz=_times(y_bound, Lp, mean_sq_scale),
        grad_U_bound=_times(S, L, abs_moment),
        grad_U_lipschitz=_times(S, Lp, mean_sq_scale) + _times(L, Lip, mean_sq_scale),
    )
