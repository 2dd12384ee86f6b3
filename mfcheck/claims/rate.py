"""Each statement of Theorem 1 (MMN18 Thm 3) as data: statistic, predicted scale, exponents.

A claim reads ``S ≤ C e^{CT} · scale(N, ε, D, T, z)`` with probability ≥ 1 - e^{-z²}; the fit
(:mod:`mfcheck.claims.fit`) tests that S / scale does not grow along the limit and that the tail of S
above Ĉ · scale(z) decays like e^{-z²}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mfcheck.model.bounds import coupling_scale, err_ND
from mfcheck.errors import InvalidArgument

__all__ = ["Claim", "CLAIMS", "get_claim"]


@dataclass(frozen=True)
class Claim:
    """- ``name``: folder and key; ``statistic``: column of the sweep table;
    - ``scale(N, eps, D, T, z)``: the predicted error scale;
    - ``predicted``: the exponents of the scale in 1/N (N-path) and in ε (ε-path);
    - ``statement`` and ``tightness``: what the report prints."""

    name: str
    title: str
    statistic: str
    statement: str
    scale: Callable[..., np.ndarray]
    predicted: dict
    tightness: str

    def log_factor(self, N, eps, D, T):
        """scale(z = 0) / sqrt(max(1/N, ε)): the logarithmic factor of the predicted shape."""
        N = np.asarray(N, dtype=float)
        eps = np.asarray(eps, dtype=float)
        return self.scale(N, eps, D, T, 0.0) / np.sqrt(np.maximum(1.0 / N, eps))


def _err(N, eps, D, T, z):
    del T  # err_{N,D}(z) has no T; e^{CT} is part of the constant
    return err_ND(N, eps, D, z)


CLAIMS = {
    c.name: c
    for c in (
        Claim(
            name="theorem1_test_functions",
            title="Theorem 1: test-function averages",
            statistic="test_functions",
            statement="max_f sup_k |(1/N) Σ_i f(θ_i^k) − ∫ f dρ_{kε}| / K_f ≤ C e^{CT} err_{N,D}(z), w.p. ≥ 1 − e^{−z²}",
            scale=_err,
            predicted={"N": 0.5, "eps": 0.5},
            tightness="Sharp in N (fluctuations of an average of N nearly independent particles); averages may decay faster in ε than √ε.",
        ),
        Claim(
            name="theorem1_risk",
            title="Theorem 1: risk",
            statistic="risk",
            statement="sup_k |R_N(θ^k) − R(ρ_{kε})| ≤ C e^{CT} err_{N,D}(z), w.p. ≥ 1 − e^{−z²}",
            scale=_err,
            predicted={"N": 0.5, "eps": 0.5},
            tightness="Sharp in N; the risk is an average and may decay faster in ε than √ε.",
        ),
        Claim(
            name="coupling_lemma",
            title="Coupling lemma (propagation of chaos + Gronwall)",
            statistic="coupling",
            statement="max_i sup_k ||θ_i^k − θ̄_i^{kε}||₂ ≤ K e^{KT} √max(1/N, ε) [√(D + log(N (T/ε ∨ 1))) + z], w.p. ≥ 1 − e^{−z²}",
            scale=coupling_scale,
            predicted={"N": 0.5, "eps": 0.5},
            tightness="Sharp in ε (a √ε martingale term per particle).",
        ),
    )
}


def get_claim(name: str) -> Claim:
    if name not in CLAIMS:
        raise InvalidArgument(f"`claim` must be one of {sorted(CLAIMS)}, got {name!r}.")
    return CLAIMS[name]
