"""The error scales and concentration bounds of docs/theory.md §4, as vectorised functions.

- :func:`err_ND`: err_{N,D}(z) = sqrt(max(1/N, ε)) · [sqrt(D + log(N/ε)) + z]  (Theorem 1).
- :func:`coupling_scale`: sqrt(max(1/N, ε)) · [sqrt(D + log(N (T/ε ∨ 1))) + z]  (coupling lemma).
- :func:`mcdiarmid_tail`: P(|X - E X| ≥ u) ≤ 2 exp(-N u² / (2 K²))  (term II, one time).
- :func:`mcdiarmid_uniform`: K sqrt(2/N) (sqrt(log(2 (T/ε + 1))) + z)  (term II, union over the grid).
- :func:`gronwall`: u(t) ≤ a · exp(∫_0^t b)  for a constant a.
"""

from __future__ import annotations

import numpy as np

from mfcheck.errors import InvalidArgument

__all__ = ["err_ND", "coupling_scale", "mcdiarmid_tail", "mcdiarmid_uniform", "gronwall"]


def _positive(name, value):
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InvalidArgument(f"`{name}` must be finite and > 0, got {value!r}.")
    return arr


def _nonnegative(name, value):
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InvalidArgument(f"`{name}` must be finite and >= 0, got {value!r}.")
    return arr


def _count(name, value):
    arr = _positive(name, value)
    if np.any(arr < 1):
        raise InvalidArgument(f"`{name}` counts particles and must be >= 1, got {value!r}.")
    return arr


def _log_term(name, value):
    if np.any(value < 0):
        raise InvalidArgument(f"{name} must be >= 0 for the bound to be defined (ε is a small step); got {np.min(value)!r}.")
    return np.sqrt(value)


def err_ND(N, eps, D, z=0.0):
    """err_{N,D}(z) = sqrt(max(1/N, ε)) · [sqrt(D + log(N/ε)) + z]; needs N ≥ 1 and D + log(N/ε) ≥ 0."""
    N, eps, D = _count("N", N), _positive("eps", eps), _positive("D", D)
    z = _nonnegative("z", z)
    return np.sqrt(np.maximum(1.0 / N, eps)) * (_log_term("D + log(N/eps)", D + np.log(N / eps)) + z)


def coupling_scale(N, eps, D, T, z=0.0):
    """sqrt(max(1/N, ε)) · [sqrt(D + log(N · max(T/ε, 1))) + z], the coupling lemma's scale."""
    N, eps, D, T = _count("N", N), _positive("eps", eps), _positive("D", D), _positive("T", T)
    z = _nonnegative("z", z)
    return np.sqrt(np.maximum(1.0 / N, eps)) * (_log_term("D + log(N (T/eps ∨ 1))", D + np.log(N * np.maximum(T / eps, 1.0))) + z)


def mcdiarmid_tail(N, u, K):
    """2 exp(-N u² / (2K²)), capped at 1."""
    N, K = _count("N", N), _positive("K", K)
    u = _nonnegative("u", u)
    return np.minimum(1.0, 2.0 * np.exp(-N * u**2 / (2.0 * K**2)))


def mcdiarmid_uniform(N, K, T, eps, z=0.0):
    """K sqrt(2/N) (sqrt(log(2 (T/ε + 1))) + z): holds for all grid times with prob. ≥ 1 - e^{-z²}."""
    N, K, T, eps = _count("N", N), _positive("K", K), _positive("T", T), _positive("eps", eps)
    z = _nonnegative("z", z)
    return K * np.sqrt(2.0 / N) * (np.sqrt(np.log(2.0 * (T / eps + 1.0))) + z)


def gronwall(a, b_integral):
    """The Gronwall bound a · exp(∫_0^t b) for u(t) ≤ a + ∫_0^t b u."""
    return _nonnegative("a", a) * np.exp(_nonnegative("b_integral", b_integral))
