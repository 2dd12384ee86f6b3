"""Unit tests of mfcheck.model.initial: ρ_0 = N(μ·1, κ² I_D) sampled, by Gauss–Hermite and by Sobol nodes."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from mfcheck.errors import InvalidArgument
from mfcheck.model.initial import MAX_NODES, GaussianInit


def _gaussian_moment(powers) -> float:
    """E Π_k Z_k^{p_k} for Z ~ N(0, I): Π (p_k - 1)!! for even p_k, else 0."""
    out = 1.0
    for p in powers:
        if p % 2:
            return 0.0
        out *= math.prod(range(p - 1, 0, -2))
    return out


@pytest.mark.parametrize("D, q", [(1, 1), (1, 5), (2, 3), (3, 2), (3, 4)])
def test_quadrature_weights_and_shape(D, q):
    nodes, w = GaussianInit(D, scale=0.7, mean=0.2).quadrature(q)
    assert nodes.shape == (q**D, D) and w.shape == (q**D,)
    assert np.all(w > 0)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("D, q", [(1, 4), (2, 3), (3, 3)])
def test_quadrature_integrates_polynomials_exactly(D, q):
    """Every monomial Π z_k^{p_k} with each p_k < 2q (the tensor rule's exactness set)."""
    mu, kappa = 0.3, 0.8
    nodes, w = GaussianInit(D, scale=kappa, mean=mu).quadrature(q)
    Z = (nodes - mu) / kappa
    for powers in itertools.product(range(2 * q), repeat=D):
        got = w @ np.prod(Z ** np.array(powers), axis=1)
        assert got == pytest.approx(_gaussian_moment(powers), rel=1e-11, abs=1e-11), powers


def test_quadrature_moments_of_theta():
    """Mean μ·1, covariance κ² I and 4th moments 3κ⁴ / κ⁴ of θ itself (q = 3 is exact to degree 5)."""
    mu, kappa = -0.4, 1.3
    nodes, w = GaussianInit(2, scale=kappa, mean=mu).quadrature(3)
    np.testing.assert_allclose(w @ nodes, [mu, mu], rtol=1e-13)
    C = (nodes - mu).T @ ((nodes - mu) * w[:, None])
    np.testing.assert_allclose(C, kappa**2 * np.eye(2), rtol=1e-13, atol=1e-13)
    c = nodes - mu
    assert w @ c[:, 0] ** 4 == pytest.approx(3 * kappa**4, rel=1e-13)
    assert w @ (c[:, 0] ** 2 * c[:, 1] ** 2) == pytest.approx(kappa**4, rel=1e-13)
    assert w @ (c[:, 0] ** 3 * c[:, 1]) == pytest.approx(0.0, abs=1e-13)


def test_quadrature_is_not_exact_beyond_degree_2q_minus_1():
    """The exactness claim is sharp: q = 2 nodes (±1) give E Z⁴ = 1, not 3."""
    nodes, w = GaussianInit(1).quadrature(2)
    assert w @ nodes[:, 0] ** 4 == pytest.approx(1.0)
    assert w @ nodes[:, 0] ** 3 == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("q", [0, -1, 2.0, True])
def test_quadrature_bad_q(q):
    with pytest.raises(InvalidArgument, match="nodes_per_axis"):
        GaussianInit(2).quadrature(q)


def test_quadrature_too_many_nodes():
    q = int(MAX_NODES ** (1 / 3)) + 1
    with pytest.raises(InvalidArgument, match="nodes_per_axis"):
        GaussianInit(3).quadrature(q)


# -- Sobol nodes -------------------------------------------------------------------------


@pytest.mark.parametrize("D, m", [(1, 3), (3, 10), (5, 12)])
def test_sobol_nodes_count_weights_and_stratification(D, m):
    mu, kappa = 0.5, 0.6
    nodes, w = GaussianInit(D, scale=kappa, mean=mu).sobol(m, np.random.SeedSequence(1))
    M = 2**m
    assert nodes.shape == (M, D)
    assert np.all(w == 2.0**-m) and w.sum() == 1.0
    # Every one-dimensional projection of a scrambled Sobol net puts exactly one point in each
    # [k/M, (k+1)/M): the quantile-transformed nodes have exactly one node per N(μ, κ²) M-quantile bin.
    U = stats.norm.cdf((nodes - mu) / kappa)
    for k in range(D):
        np.testing.assert_array_equal(np.sort(np.floor(U[:, k] * M)), np.arange(M))


def test_sobol_mean_and_covariance_close_to_gaussian():
    """Tolerances: each 1-D marginal moment is a stratified estimate with one point per
    stratum (checked above), whose variance is at most the i.i.d. variance, σ_f²/M. The cross
    moment E[Z1 Z2] is a 2-D integrand; for scrambled nets Owen's bound gives variance at most
    Γ σ_f²/M with Γ ≤ 2^t 3^s = 9 here (s = 2, t = 0 for the first two Sobol coordinates).
    Every check allows 6 such standard errors: false-alarm rate ≤ 1/36 per check by Chebyshev
    in the worst case, ≈ 2e-9 under a normal approximation; in practice RQMC errors are O(1/M)."""
    D, m, mu, kappa = 3, 12, 0.2, 0.9
    M = 2**m
    nodes, w = GaussianInit(D, scale=kappa, mean=mu).sobol(m, np.random.SeedSequence(2024))
    Z = (nodes - mu) / kappa
    se_mean = 1 / math.sqrt(M)  # Var Z = 1
    se_var = math.sqrt(2 / M)  # Var Z² = 2
    se_cross = 3 / math.sqrt(M)  # sqrt(Γ · Var(Z1 Z2)) / sqrt(M), Γ = 9
    np.testing.assert_array_less(np.abs(w @ Z), 6 * se_mean)
    C = Z.T @ (Z * w[:, None])
    np.testing.assert_array_less(np.abs(np.diag(C) - 1), 6 * se_var)
    off = C[~np.eye(D, dtype=bool)]
    np.testing.assert_array_less(np.abs(off), 6 * se_cross)


def test_sobol_reproducible_and_seed_dependent():
    g = GaussianInit(2)
    a, _ = g.sobol(6, np.random.SeedSequence(5))
    b, _ = g.sobol(6, np.random.SeedSequence(5))
    c, _ = g.sobol(6, np.random.SeedSequence(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("m", [0, -3, 1.5, True, 18])
def test_sobol_bad_log2_M(m):
    with pytest.raises(InvalidArgument, match="log2_M"):
        GaussianInit(2).sobol(m, np.random.SeedSequence(0))


# -- sampling ----------------------------------------------------------------------------


def test_sample_shape_moments_and_reproducibility():
    """Sample mean/variance within 5 standard errors: false-alarm rate ≈ 5.7e-7 per coordinate."""
    g = GaussianInit(4, scale=2.0, mean=-1.0)
    n = 20_000
    x = g.sample(np.random.default_rng(np.random.SeedSequence(8)), n)
    assert x.shape == (n, 4)
    np.testing.assert_array_less(np.abs(x.mean(axis=0) + 1.0), 5 * 2.0 / math.sqrt(n))
    np.testing.assert_array_less(np.abs(x.var(axis=0) - 4.0), 5 * 4.0 * math.sqrt(2 / n))
    y = g.sample(np.random.default_rng(np.random.SeedSequence(8)), n)
    np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_sample_bad_size(size, rng):
    with pytest.raises(InvalidArgument, match="size"):
        GaussianInit(2).sample(rng, size)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"D": 0}, "D"),
        ({"D": 2.0}, "D"),
        ({"D": True}, "D"),
        ({"D": 2, "scale": 0.0}, "scale"),
        ({"D": 2, "scale": -1.0}, "scale"),
        ({"D": 2, "scale": math.inf}, "scale"),
        ({"D": 2, "mean": math.nan}, "mean"),
    ],
)
def test_bad_init(kwargs, name):
    with pytest.raises(InvalidArgument, match=f"`{name}`"):
        GaussianInit(**kwargs)


@pytest.mark.parametrize("D", [1, 2, 3, 4])
@pytest.mark.parametrize("M", [1, 2, 5, 8, 9, 26, 27, 28, 100, 1000, 4097])
def test_nodes_per_axis_for_is_smallest(D, M):
    q = GaussianInit(D).nodes_per_axis_for(M)
    assert q**D >= M
    assert q == 1 or (q - 1) ** D < M


def test_nodes_per_axis_for_bad_M():
    with pytest.raises(InvalidArgument, match="`M`"):
        GaussianInit(2).nodes_per_axis_for(0)
