"""Per-replicate claim statistics of Theorem 1, from an SGD run and its coupled reference.

On the recorded times t_j = k_j ε (a grid of the sup over k; docs/theory.md §4):

- test functions: max_f  sup_j |(1/N) Σ_i f(θ_i^{k_j}) - ∫ f dρ_{t_j}| / K_f,  K_f = max(sup|f|, Lip f);
- risk:           sup_j |R_N(θ^{k_j}) - R(ρ_{t_j})|;
- coupling:       max_i sup_j ||θ_i^{k_j} - θ̄_i^{t_j}||_2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mfcheck.errors import InvalidArgument
from mfcheck.model.observables import TestFunction
from mfcheck.reference.flow import ReferenceFlow
from mfcheck.dynamics.sgd import SGDResult

__all__ = ["theorem1_statistics", "STATISTICS"]

STATISTICS = ("test_functions", "risk", "coupling")


def theorem1_statistics(
    sgd: SGDResult, flow: ReferenceFlow, theta_bar: np.ndarray, test_functions: Sequence[TestFunction]
) -> dict[str, np.ndarray]:
    """The three statistics, each of shape (R,), plus ``f<i>`` for each test function."""
    if not np.allclose(sgd.times, flow.times, rtol=0, atol=1e-12):
        raise InvalidArgument(f"SGD record times {sgd.times} differ from the reference record times {flow.times}.")
    if theta_bar.shape != sgd.theta.shape:
        raise InvalidArgument(f"Shape mismatch: coupled particles {theta_bar.shape} vs SGD particles {sgd.theta.shape}.")
    K = np.array([tf.K for tf in test_functions])
    per_f = np.max(np.abs(sgd.f_means - flow.f_integrals[None]), axis=1)  # (R, F)
    out = {
        "test_functions": np.max(per_f / K, axis=1),
        "risk": np.max(np.abs(sgd.risk - flow.risk[None]), axis=1),
        "coupling": np.max(np.linalg.norm(sgd.theta - theta_bar, axis=-1), axis=(1, 2)),
    }
    for i in range(per_f.shape[1]):
        out[f"f{i}"] = per_f[:, i]
    return out
