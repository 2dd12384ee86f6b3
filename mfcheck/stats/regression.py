"""Least squares of y on [1, x] with robust standard errors, batched over resamples (numpy).

One design x (n,), responses y (..., n): every leading index is fitted at once, which is what
makes injection by resampling affordable (:mod:`mfcheck.claims.injection`). With X = [1, x],
β̂ = (XᵀX)⁻¹Xᵀy, residuals u = y − Xβ̂, and the sandwich (XᵀX)⁻¹ M (XᵀX)⁻¹ with

- **HC3** (independent observations, unequal variances): M = Σ_i x_i x_iᵀ u_i² / (1 − h_i)²,
  h_i the leverage; t inference with n − 2 degrees of freedom;
- **cluster-robust** (observations correlated within a group): M = c Σ_g (Σ_{i∈g} x_i u_i)(…)ᵀ,
  c = G/(G − 1) · (n − 1)/(n − 2) (the CR1 small-sample factor); t inference with G − 1 degrees
  of freedom, G the number of groups.

These are the estimators of statsmodels' ``OLS.fit(cov_type="HC3")`` and
``OLS.fit(cov_type="cluster")``; tests/test_regression.py checks that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfcheck.errors import InvalidArgument

__all__ = ["LineFit", "fit_line"]


@dataclass(frozen=True)
class LineFit:
    """``params`` (..., 2): intercept and slope; ``cov`` (..., 2, 2); ``df``: degrees of freedom of t inference."""

    params: np.ndarray
    cov: np.ndarray
    df: int

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.maximum(np.diagonal(self.cov, axis1=-2, axis2=-1), 0.0))


def fit_line(x, y, *, cov: str = "HC3", groups=None) -> LineFit:
    """OLS of ``y`` (..., n) on [1, ``x``] (n,), with ``cov`` "HC3" or "cluster" (``groups``: (n,) integer labels)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.shape[0]
    if y.shape[-1] != n or n < 3:
        raise InvalidArgument(f"`x` and `y` must share their last axis of length ≥ 3, got {x.shape} and {y.shape}.")
    X = np.stack([np.ones(n), x], axis=1)  # (n, 2)
    bread = np.linalg.inv(X.T @ X)
    params = y @ (X @ bread)  # (..., 2): β̂ = (XᵀX)⁻¹Xᵀy, (XᵀX)⁻¹ symmetric
    u = y - params @ X.T  # (..., n)
    if cov == "HC3":
        h = np.einsum("ij,jk,ik->i", X, bread, X)
        w = (u / (1.0 - h)) ** 2
        meat = np.einsum("...i,ij,ik->...jk", w, X, X)
        df = n - 2
    elif cov == "cluster":
        if groups is None:
            raise InvalidArgument("`groups` is needed for cluster-robust errors.")
        labels, index = np.unique(np.asarray(groups), return_inverse=True)
        G = len(labels)
        if G < 2:
            raise InvalidArgument("cluster-robust errors need at least 2 groups.")
        scores = np.einsum("...i,ig,ij->...gj", u, np.eye(G)[index], X)  # Σ_{i∈g} x_i u_i, (..., G, 2)
        meat = np.einsum("...gj,...gk->...jk", scores, scores) * (G / (G - 1) * (n - 1) / (n - 2))
        df = G - 1
    else:
        raise InvalidArgument(f"`cov` must be 'HC3' or 'cluster', got {cov!r}.")
    return LineFit(params=params, cov=bread @ meat @ bread, df=df)
