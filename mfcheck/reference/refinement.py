"""The reference and its own error, measured by refinement (docs/methods.md, "The reference must be
better than what it judges").

The reference flow runs with step h on 2^m scrambled Sobol nodes; a second flow with h/2 on
2^{m+1} nodes drawn from an independent scramble measures its error. The reported error of
each quantity is its largest difference between the two over the time grid; for coupled
particles it is measured on probe particles drawn from ρ_0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfcheck.model.experiment import Experiment
from mfcheck.reference.coupled import couple
from mfcheck.reference.flow import ReferenceFlow, solve_flow
from mfcheck.seeds import Streams

__all__ = ["Reference", "build_reference"]

N_PROBES = 256


@dataclass(frozen=True)
class Reference:
    """The reference flow used to judge, the refined flow, and the measured errors.

    ``error`` maps ``yhat``, ``risk``, ``test_functions`` (max_f of error/K_f) and ``coupling``
    to the largest difference between the two flows.
    """

    flow: ReferenceFlow
    refined: ReferenceFlow
    error: dict[str, float]


def _flow(experiment: Experiment, streams: Streams, log2_M: int, h: float, scramble: int, progress: bool, label: str) -> ReferenceFlow:
    nodes, weights = experiment.rho0.sobol(log2_M, streams.seed_sequence("reference", scramble))
    return solve_flow(
        experiment.problem, experiment.neuron, nodes, weights, T=experiment.T, h=h, record_dt=experiment.record_dt,
        test_functions=experiment.test_functions, schedule=experiment.schedule,
        progress=progress, desc=f"{label} (2^{log2_M} nodes)",
    )


def build_reference(experiment: Experiment, *, progress: bool = False) -> Reference:
    """Solve the reference and its refinement; measure the difference.

    ``progress``: a bar on stderr over the RK4 steps of each solve, "reference (2^m nodes)" then
    "refinement (2^(m+1) nodes)" (about four times the work of the first); the numbers do not depend on it.
    """
    streams = Streams(experiment.seed).child("reference")
    flow = _flow(experiment, streams, experiment.log2_M, experiment.h, scramble=0, progress=progress, label="reference")
    refined = _flow(experiment, streams, experiment.log2_M + 1, experiment.h / 2, scramble=1, progress=progress, label="refinement")
    K = np.array([tf.K for tf in experiment.test_functions])
    probes = experiment.rho0.sample(streams.generator("reference", 2), N_PROBES)
    a = couple(flow, experiment.problem, experiment.neuron, probes)
    b = couple(refined, experiment.problem, experiment.neuron, probes)
    error = {
        "yhat": float(np.max(np.abs(flow.yhat - refined.yhat))),
        "risk": float(np.max(np.abs(flow.risk - refined.risk))),
        "test_functions": float(np.max(np.abs(flow.f_integrals - refined.f_integrals) / K)),
        "coupling": float(np.max(np.linalg.norm(a - b, axis=-1))),
    }
    return Reference(flow=flow, refined=refined, error=error)
