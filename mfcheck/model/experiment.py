"""An experiment: everything but N, ε and the update rule (the data law, σ*, ρ_0, ξ, T, grids).

:func:`default_experiment` is the setting the Theorem 1 claims run on: a finite population
(exact reference), σ = erf, ρ_0 = N(0, 0.5² I_3), ξ ≡ 1, T = 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mfcheck.errors import InvalidArgument
from mfcheck._validation import check_positive_int, check_real
from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron, Neuron
from mfcheck.model.observables import TestFunction, default_test_functions
from mfcheck.model.problems.base import Problem
from mfcheck.model.problems.finite import teacher_population
from mfcheck.model.schedules import Schedule, constant

__all__ = ["Experiment", "default_experiment", "check_dimensions"]


def check_dimensions(problem: Problem, neuron: Neuron, rho0: GaussianInit) -> int:
    """D = neuron.dim(problem.d), after checking that ρ_0 lives in R^D."""
    D = neuron.dim(problem.d)
    if rho0.D != D:
        raise InvalidArgument(f"Shape mismatch: `rho0` has D={rho0.D} but {neuron!r} on d={problem.d} needs D={D}.")
    return D


@dataclass(frozen=True)
class Experiment:
    """The fixed part of a sweep.

    - ``problem``, ``neuron``, ``rho0``, ``schedule``: P, σ*, ρ_0, ξ.
    - ``T``: horizon; ``record_dt``: spacing of the time grid of the sup over k (a multiple of
      every ε of the sweep); ``h``: RK4 step of the reference; ``log2_M``: the reference carries
      ρ_t on 2^log2_M scrambled Sobol nodes.
    - ``test_functions``: bounded Lipschitz f with their constants.
    - ``seed``: root entropy of the seed tree.
    """

    problem: Problem
    neuron: Neuron
    rho0: GaussianInit
    T: float = 1.0
    record_dt: float = 1.0 / 16
    h: float = 1.0 / 32
    log2_M: int = 14
    test_functions: tuple[TestFunction, ...] = field(default=())
    schedule: Schedule = constant(1.0)
    seed: int = 20180427

    def __post_init__(self):
        object.__setattr__(self, "T", check_real(self.T, "T", positive=True))
        object.__setattr__(self, "record_dt", check_real(self.record_dt, "record_dt", positive=True))
        object.__setattr__(self, "h", check_real(self.h, "h", positive=True))
        check_positive_int(self.log2_M, "log2_M")
        D = check_dimensions(self.problem, self.neuron, self.rho0)
        if not self.test_functions:
            object.__setattr__(self, "test_functions", default_test_functions(D))

    @property
    def D(self) -> int:
        return self.neuron.dim(self.problem.d)

    def describe(self) -> dict:
        return {
            "problem": repr(self.problem),
            "neuron": repr(self.neuron),
            "rho0": repr(self.rho0),
            "schedule": repr(self.schedule),
            "D": self.D,
            "T": self.T,
            "record_dt": self.record_dt,
            "reference": {"scheme": "RK4", "h": self.h, "nodes": f"2^{self.log2_M} scrambled Sobol", "refined": f"h/2, 2^{self.log2_M + 1} nodes"},
            "test_functions": [{"name": repr(f), "sup_norm": f.sup_norm, "lipschitz": f.lipschitz} for f in self.test_functions],
            "seed": self.seed,
        }


def default_experiment(seed: int = 20180427, log2_M: int = 14) -> Experiment:
    """n = 128 points x ~ N(0, I_3), y = tanh(2 x_1) + U(-0.2, 0.2); σ* = erf(<w, x>); ρ_0 = N(0, 0.25 I_3)."""
    problem = teacher_population(128, 3, tanh_sum((1.0,), (2.0,)), seed=seed, noise=0.2)
    return Experiment(problem=problem, neuron=InnerNeuron(erf_sigmoid()), rho0=GaussianInit(3, 0.5), log2_M=log2_M, seed=seed)
