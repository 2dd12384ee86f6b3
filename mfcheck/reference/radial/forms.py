r"""One-dimensional Gaussian forms of an activation σ: q, the Hermite coefficients, and pair.

With G, G' standard normals of correlation c and a, b ≥ 0:

    q(a)          = E σ(aG),
    μ_n(a)        = E[σ(aG) h_n(G)],   h_n = He_n / √(n!)  (orthonormal Hermite polynomials),
    pair(a, b, c) = E[σ(aG) σ(bG')] = Σ_n c^n μ_n(a) μ_n(b)   (Mehler's formula).

μ_0 = q. By Parseval Σ_n μ_n(a)² = E σ(aG)², so the tail of the Mehler series after n terms
is at most |c|^{n+1} √(T_n(a) T_n(b)) with T_n(a) = E σ(aG)² − Σ_{k ≤ n} μ_k(a)², a computable
bound (:func:`second_moment`).

**Closed forms for a piecewise-linear σ** = α + Σ_j κ_j (t − b_j)_+ (a ramp form, see
:func:`ramp_form`). With z_j = b_j / a, φ the normal density, Φ̄ its upper tail and
f_n(z) = φ(z) h_n(z) (a stable three-term recurrence):

    E(aG − b)_+         = a φ(b/a) − b Φ̄(b/a)    (a > 0; the a = 0 limit is (−b)_+),
    μ_0(a)              = α + Σ_j κ_j [a φ(z_j) − b_j Φ̄(z_j)],
    μ_1(a)              = a Σ_j κ_j Φ̄(z_j),
    μ_n(a)              = a Σ_j κ_j f_{n−2}(z_j) / √(n(n−1)),        n ≥ 2,
    μ_0'(a) = q'(a)     = Σ_j κ_j φ(z_j),
    μ_1'(a)             = Σ_j κ_j [Φ̄(z_j) + z_j φ(z_j)],
    μ_n'(a)             = Σ_j κ_j [f_n(z_j) + √(n/(n−1)) f_{n−2}(z_j)],  n ≥ 2.

They follow from Stein's identity E[g(G) He_n(G)] = E[g'(G) He_{n−1}(G)] and
E[1{G > z} He_k(G)] = φ(z) He_{k−1}(z). For any other σ the same quantities come from
Gauss–Hermite quadrature (accurate for smooth σ only; see :mod:`mfcheck.model.problems._bivariate`).

**pair by a direct route** (:func:`pair`, independent of the Mehler series): condition on G;
G' | G ~ N(cG, 1 − c²), so for a ramp form E[σ(bG') | G = g] = α + Σ_k κ_k E(m_k + τZ)_+ with
m_k = bcg − b_k, τ = b√(1 − c²), and E(m + τZ)_+ = τ φ(m/τ) + m Φ(m/τ). The remaining integral
over g is Gauss–Legendre on [−L, L] (L = 12, Gaussian tail < 1e-32) split at the kinks b_j/a of
σ(ag) and at the (smoothed) kinks b_k/(bc) of the conditional mean. Valid for every c in
[−1, 1], the diagonal c = 1 included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss
from scipy import special

from mfcheck._validation import check_array, check_positive_int
from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument

__all__ = [
    "RampForm",
    "ramp_form",
    "ramp_mean",
    "q",
    "q_prime",
    "hermite_coefficients",
    "second_moment",
    "second_moment_prime",
    "pair",
    "pair_collinear",
    "pair_mehler",
]

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_FAR = 60.0  # stands for z = ±∞ when a = 0: φ(60) underflows to 0
_TINY = 1e-200  # scales below this are treated as positive but tiny (no overflow in b/a)
_L = 12.0  # integration range [-L, L] of the direct pair route
_FIXED_EDGES = np.array([-_L, -8.0, -4.0, -2.0, 0.0, 2.0, 4.0, 8.0, _L])  # pieces of φ short enough for Gauss–Legendre
_BLOCK = 1 << 16  # pairs times nodes per block of the direct route
_GH_NODES = 240  # Gauss–Hermite nodes of the generic (smooth σ) path


@dataclass(frozen=True, eq=False)
class RampForm:
    """σ(t) = α + Σ_j κ_j (t − b_j)_+ : ``alpha`` α, ``kappa`` κ (J,), ``knots`` b (J,)."""

    alpha: float
    kappa: np.ndarray
    knots: np.ndarray

    def __call__(self, t):
        t = np.asarray(t, dtype=float)
        return self.alpha + np.sum(self.kappa * np.maximum(t[..., None] - self.knots, 0.0), axis=-1)


def ramp_form(sigma: Activation) -> RampForm | None:
    """The ramp form of a piecewise-linear σ (families ``piecewise_linear`` and ``relu``), else None.

    MMN18's σ = s1 + slope[(t − t1)_+ − (t − t2)_+], slope = (s2 − s1)/(t2 − t1).
    """
    if not isinstance(sigma, Activation):
        raise InvalidArgument(f"`sigma` must be an mfcheck Activation, got {sigma!r}.")
    if sigma.family == "piecewise_linear":
        t1, t2, s1, s2 = sigma.params
        slope = (s2 - s1) / (t2 - t1)
        return RampForm(float(s1), np.array([slope, -slope]), np.array([t1, t2], dtype=float))
    if sigma.family == "relu":
        return RampForm(0.0, np.array([1.0]), np.array([0.0]))
    return None


def _phi(z):
    return np.exp(-0.5 * z * z) / _SQRT_2PI


def _check_a(a, name="a") -> np.ndarray:
    a = check_array(a, name)
    if np.any(a < 0):
        raise InvalidArgument(f"`{name}` must be >= 0 (a scale s·r), got min {name}={a.min()}.")
    return a


def _z(a, knots):
    """z_j = b_j / a of shape a.shape + (J,); ±_FAR (by the sign of b_j) where a = 0."""
    pos = a[..., None] > 0
    safe = np.where(pos, np.maximum(a[..., None], _TINY), 1.0)
    return np.where(pos, np.clip(knots / safe, -_FAR, _FAR), np.sign(knots) * _FAR)


def ramp_mean(a, b):
    """E(aG − b)_+ = a φ(b/a) − b Φ̄(b/a) for a > 0 and (−b)_+ at a = 0 (arrays broadcast)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    pos = a > 0
    safe = np.where(pos, np.maximum(a, _TINY), 1.0)
    z = np.clip(b / safe, -_FAR, _FAR)
    return np.where(pos, safe * _phi(z) - b * special.ndtr(-z), np.maximum(-b, 0.0))


@lru_cache(maxsize=4)
def _gh(n):
    z, w = hermegauss(n)
    w = w / _SQRT_2PI
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def q(sigma: Activation, a) -> np.ndarray:
    """q(a) = E σ(aG) for a ≥ 0 (closed form for a ramp form, Gauss–Hermite otherwise)."""
    a = _check_a(a)
    form = ramp_form(sigma)
    if form is not None:
        return form.alpha + np.sum(form.kappa * ramp_mean(a[..., None], form.knots), axis=-1)
    z, w = _gh(_GH_NODES)
    return sigma(a[..., None] * z) @ w


def q_prime(sigma: Activation, a) -> np.ndarray:
    """q'(a) = E[σ'(aG) G] = Σ_j κ_j φ(b_j/a) for a ramp form (Gauss–Hermite otherwise)."""
    a = _check_a(a)
    form = ramp_form(sigma)
    if form is not None:
        return np.sum(form.kappa * _phi(_z(a, form.knots)), axis=-1)
    z, w = _gh(_GH_NODES)
    return sigma.prime(a[..., None] * z) @ (w * z)


def _hermite_functions(z, n_max):
    """f_n(z) = φ(z) He_n(z)/√(n!) for n = 0..n_max: shape z.shape + (n_max + 1,)."""
    out = np.empty(z.shape + (n_max + 1,))
    out[..., 0] = _phi(z)
    if n_max >= 1:
        out[..., 1] = z * out[..., 0]
    for n in range(1, n_max):
        out[..., n + 1] = (z * out[..., n] - math.sqrt(n) * out[..., n - 1]) / math.sqrt(n + 1)
    return out


def _hermite_polys(z, n_max):
    """h_n(z) = He_n(z)/√(n!) for n = 0..n_max: shape z.shape + (n_max + 1,)."""
    out = np.empty(z.shape + (n_max + 1,))
    out[..., 0] = 1.0
    if n_max >= 1:
        out[..., 1] = z
    for n in range(1, n_max):
        out[..., n + 1] = (z * out[..., n] - math.sqrt(n) * out[..., n - 1]) / math.sqrt(n + 1)
    return out


def hermite_coefficients(sigma: Activation, a, n_terms: int, *, derivative: bool = False) -> np.ndarray:
    r"""μ_n(a) = E[σ(aG) h_n(G)] for n < ``n_terms`` (or μ_n'(a) with ``derivative=True``).

    **Arguments:**

    - ``sigma``: the activation.
    - ``a``: scales a ≥ 0, any shape.
    - ``n_terms``: how many coefficients (n = 0, ..., n_terms − 1).
    - ``derivative``: return d/da μ_n(a) = E[σ'(aG) G h_n(G)] instead.

    Returns an array of shape ``a.shape + (n_terms,)``. Closed forms for a ramp form (module
    docstring); Gauss–Hermite with 240 nodes otherwise (smooth σ, n_terms ≤ 200).
    """
    a = _check_a(a)
    n_terms = check_positive_int(n_terms, "n_terms")
    form = ramp_form(sigma)
    if form is None:
        if n_terms > 200:
            raise InvalidArgument(f"`n_terms` must be <= 200 for a σ without closed form, got n_terms={n_terms}.")
        z, w = _gh(_GH_NODES)
        H = _hermite_polys(z, n_terms - 1)  # (nodes, n)
        if derivative:
            return (sigma.prime(a[..., None] * z) * (w * z)) @ H
        return (sigma(a[..., None] * z) * w) @ H
    z = _z(a, form.knots)  # a.shape + (J,)
    kappa = form.kappa
    out = np.zeros(a.shape + (n_terms,))
    if not derivative:
        out[..., 0] = form.alpha + np.sum(kappa * ramp_mean(a[..., None], form.knots), axis=-1)
        if n_terms > 1:
            out[..., 1] = a * np.sum(kappa * special.ndtr(-z), axis=-1)
        if n_terms > 2:
            f = _hermite_functions(z, n_terms - 3)  # a.shape + (J, n_terms - 2)
            n = np.arange(2, n_terms)
            out[..., 2:] = a[..., None] * np.einsum("...jn,j->...n", f, kappa) / np.sqrt(n * (n - 1.0))
        return out
    f = _hermite_functions(z, n_terms - 1)  # a.shape + (J, n_terms)
    out[..., 0] = f[..., 0] @ kappa
    if n_terms > 1:
        out[..., 1] = (special.ndtr(-z) + z * f[..., 0]) @ kappa
    if n_terms > 2:
        n = np.arange(2, n_terms)
        g = f[..., 2:] + np.sqrt(n / (n - 1.0)) * f[..., :-2]
        out[..., 2:] = np.einsum("...jn,j->...n", g, kappa)
    return out


def _pieces(form: RampForm, a):
    """σ(ag) = A_p + B_p g on g ∈ [e_p, e_{p+1}]: edges a.shape + (J+2,), A, B a.shape + (J+1,)."""
    J = form.knots.size
    z = _z(a, form.knots)
    order = np.argsort(form.knots)
    z = z[..., order]
    kap, kn = form.kappa[order], form.knots[order]
    edges = np.concatenate([np.full(a.shape + (1,), -np.inf), z, np.full(a.shape + (1,), np.inf)], axis=-1)
    # on piece p, the ramps j < p are active: slope a Σ_{j<p} κ_j, intercept α − Σ_{j<p} κ_j b_j
    active = np.tril(np.ones((J + 1, J)), -1)  # (pieces, J): j < p
    B = a[..., None] * (active @ kap)
    A = form.alpha - active @ (kap * kn) + 0.0 * a[..., None]
    return edges, A, B


def _truncated_moments(l, u):
    """∫_l^u g^k φ(g) dg for k = 0, 1, 2 (l ≤ u, infinite ends allowed)."""
    pl, pu = _phi(np.clip(l, -_FAR, _FAR)), _phi(np.clip(u, -_FAR, _FAR))
    m0 = special.ndtr(u) - special.ndtr(l)
    m1 = pl - pu
    lc, uc = np.clip(l, -_FAR, _FAR), np.clip(u, -_FAR, _FAR)
    m2 = m0 + lc * pl - uc * pu
    return m0, m1, m2


def second_moment(sigma: Activation, a) -> np.ndarray:
    """E σ(aG)² (= Σ_n μ_n(a)²): exact for a ramp form (σ(ag) piecewise linear in g)."""
    a = _check_a(a)
    form = ramp_form(sigma)
    if form is None:
        z, w = _gh(_GH_NODES)
        return sigma(a[..., None] * z) ** 2 @ w
    edges, A, B = _pieces(form, a)
    m0, m1, m2 = _truncated_moments(edges[..., :-1], edges[..., 1:])
    return np.sum(A * A * m0 + 2 * A * B * m1 + B * B * m2, axis=-1)


def second_moment_prime(sigma: Activation, a) -> np.ndarray:
    """E[σ'(aG)² G²] (= Σ_n μ_n'(a)²): exact for a ramp form."""
    a = _check_a(a)
    form = ramp_form(sigma)
    if form is None:
        z, w = _gh(_GH_NODES)
        return (sigma.prime(a[..., None] * z) * z) ** 2 @ w
    edges, _, B = _pieces(form, a)
    safe = np.where(a > 0, a, 1.0)[..., None]
    slope = np.where(a[..., None] > 0, B / safe, 0.0)  # σ' on each piece
    if np.any(a == 0):  # at a = 0 σ'(0·G) = σ'(0) (right derivative) for every G
        s0 = np.sum(form.kappa * (form.knots < 0), axis=-1) + 0.0 * a
        zero = np.where(a == 0, s0**2, 0.0)
    else:
        zero = 0.0
    _, _, m2 = _truncated_moments(edges[..., :-1], edges[..., 1:])
    return np.where(a > 0, np.sum(slope**2 * m2, axis=-1), zero)


def pair_collinear(sigma: Activation, a, b, sign: float = 1.0) -> np.ndarray:
    """pair(a, b, ±1) = E[σ(aG) σ(±bG)] in closed form for a ramp form (σ(ag) and σ(±bg) are both
    piecewise linear in g: truncated Gaussian moments on the merged pieces); ``pair`` otherwise."""
    form = ramp_form(sigma)
    a = _check_a(a)
    b = _check_a(b, "b")
    a, b = np.broadcast_arrays(a, b)
    if sign not in (1.0, -1.0):
        raise InvalidArgument(f"`sign` must be +1 or -1, got sign={sign}.")
    if form is None:
        return pair(sigma, a, b, np.full(a.shape, sign))
    za = _z(a, form.knots)  # kinks of σ(ag) in g
    zb = sign * _z(b, form.knots)  # kinks of σ(±bg) in g
    inf = np.full(a.shape + (1,), np.inf)
    edges = np.sort(np.concatenate([-inf, za, zb, inf], axis=-1), axis=-1)
    lo, hi = edges[..., :-1], edges[..., 1:]
    mid = np.where(np.isinf(lo), hi - 1.0, np.where(np.isinf(hi), lo + 1.0, 0.5 * (lo + hi)))

    def line(scale, sgn):  # intercept, slope of g ↦ σ(sgn·scale·g) on each merged piece
        arg = sgn * scale[..., None] * mid  # the argument at the piece's midpoint
        on = arg[..., None] > form.knots  # active ramps
        slope = sgn * scale[..., None] * np.sum(on * form.kappa, axis=-1)
        icpt = form.alpha - np.sum(on * form.kappa * form.knots, axis=-1)
        return icpt, slope

    A1, B1 = line(a, 1.0)
    A2, B2 = line(b, sign)
    m0, m1, m2 = _truncated_moments(lo, hi)
    return np.sum(A1 * A2 * m0 + (A1 * B2 + A2 * B1) * m1 + B1 * B2 * m2, axis=-1)


def pair_mehler(mu_a, mu_b, c) -> np.ndarray:
    """Σ_n c^n μ_n(a) μ_n(b) by Horner's rule: ``mu_a``, ``mu_b`` (..., n), ``c`` broadcasting."""
    mu_a = np.asarray(mu_a, dtype=float)
    mu_b = np.asarray(mu_b, dtype=float)
    c = np.asarray(c, dtype=float)
    n = mu_a.shape[-1]
    acc = mu_a[..., n - 1] * mu_b[..., n - 1]
    for k in range(n - 2, -1, -1):
        acc = acc * c + mu_a[..., k] * mu_b[..., k]
    return acc


@lru_cache(maxsize=4)
def _gl(n):
    x, w = leggauss(n)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def pair(sigma: Activation, a, b, c, *, n_nodes: int | None = None) -> np.ndarray:
    r"""pair(a, b, c) = E[σ(aG) σ(bG')] with corr(G, G') = c, by the direct route (module docstring).

    **Arguments:**

    - ``sigma``: the activation.
    - ``a``, ``b``: scales ≥ 0; ``c``: correlations in [−1, 1]; the three broadcast together.
    - ``n_nodes``: Gauss–Legendre nodes per piece (ramp form, default 32) or Gauss–Hermite nodes
      per axis (any other σ, default 100; tensor rule in (G, Z) with G' = cG + √(1 − c²) Z).

    Returns the broadcast shape. Its accuracy is checked against the Mehler series and a doubled
    rule in ``tests/test_radial_forms.py``.
    """
    a = _check_a(a)
    b = _check_a(b, "b")
    c = check_array(c, "c")
    if n_nodes is None:
        n_nodes = 32 if ramp_form(sigma) is not None else 100
    n_nodes = check_positive_int(n_nodes, "n_nodes")
    if np.any(np.abs(c) > 1.0):
        raise InvalidArgument(f"`c` must lie in [-1, 1], got max |c| = {np.abs(c).max()}.")
    a, b, c = np.broadcast_arrays(a, b, c)
    shape = a.shape
    a, b, c = a.ravel(), b.ravel(), c.ravel()
    out = np.empty(a.size)
    step = max(1, _BLOCK // n_nodes)
    for i in range(0, a.size, step):
        blk = slice(i, min(i + step, a.size))
        out[blk] = _pair_flat(sigma, a[blk], b[blk], c[blk], n_nodes)
    return out.reshape(shape)


def _pair_flat(sigma, a, b, c, n_nodes):
    s = np.sqrt(np.maximum(1.0 - c * c, 0.0))
    form = ramp_form(sigma)
    if form is None:
        z, w = _gh(n_nodes)
        G = z[:, None]
        Gp = c[..., None, None] * G + s[..., None, None] * z[None, :]
        vals = sigma(a[..., None, None] * G) * sigma(b[..., None, None] * Gp)
        return np.einsum("...ij,i,j->...", vals, w, w)
    # breakpoints: kinks of σ(ag) and of the conditional mean, on [-L, L]
    bc = b * c
    big = np.abs(bc) > _TINY
    safe = np.where(big, bc, 1.0)
    soft = np.where(big[..., None], np.clip(form.knots / safe[..., None], -_L, _L), _L)
    edges = np.concatenate(
        [np.broadcast_to(_FIXED_EDGES, a.shape + _FIXED_EDGES.shape), _z(a, form.knots), soft], axis=-1
    )
    edges = np.sort(np.clip(edges, -_L, _L), axis=-1)
    lo, hi = edges[..., :-1], edges[..., 1:]
    x, wx = _gl(n_nodes)
    half = 0.5 * (hi - lo)
    g = 0.5 * (hi + lo)[..., None] + half[..., None] * x  # (..., pieces, nodes)
    weight = half[..., None] * wx * _phi(g)
    sig_a = form(a[..., None, None] * g)
    tau = (b * s)[..., None, None, None]
    m = bc[..., None, None, None] * g[..., None] - form.knots  # (..., pieces, nodes, J)
    pos = tau > 0
    tsafe = np.where(pos, tau, 1.0)
    ratio = m / tsafe
    ramp = np.where(pos, tsafe * _phi(ratio) + m * special.ndtr(ratio), np.maximum(m, 0.0))
    cond = form.alpha + ramp @ form.kappa
    return np.sum(weight * sig_a * cond, axis=(-2, -1))
