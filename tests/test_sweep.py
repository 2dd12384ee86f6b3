import numpy as np
import pytest

from mfcheck.activations import erf_sigmoid, tanh_sum
from mfcheck.experiment import Experiment, default_experiment
from mfcheck.errors import InvalidArgument
from mfcheck.initial import GaussianInit
from mfcheck.neurons import InnerNeuron
from mfcheck.problems import teacher_population
from mfcheck.reference import build_reference
from mfcheck.sweep import run_cell, run_sweep
from mfcheck.tiers import Tier


@pytest.fixture(scope="module")
def setting():
    problem = teacher_population(16, 2, tanh_sum((1.0,), (2.0,)), seed=5)
    ex = Experiment(problem=problem, neuron=InnerNeuron(erf_sigmoid()), rho0=GaussianInit(2, 0.5), log2_M=8, h=1 / 16, record_dt=1 / 8)
    return ex, build_reference(ex)


TIER = Tier("tiny", N_path=(8, 16), eps_path=(1 / 8, 1 / 16), kink=2, replicates=3, log2_M=8)


def test_table_layout(setting):
    ex, ref = setting
    res = run_sweep(ex, TIER, reference=ref, progress=False)
    assert len(res.table) == len(TIER.cells()) * TIER.replicates
    assert {"path", "N", "eps", "replicate", "test_functions", "risk", "coupling"} <= set(res.table.columns)
    assert np.all(res.table[["test_functions", "risk", "coupling"]].to_numpy() > 0)
    assert res.seeds["entropy"] == ex.seed


def test_cells_do_not_depend_on_their_neighbours(setting):
    ex, ref = setting
    res = run_sweep(ex, TIER, reference=ref, progress=False)
    alone = run_cell(ex, ref, 16, 1 / 32, 3)
    rows = res.table[(res.table.N == 16) & (res.table.eps == 1 / 32)].sort_values("replicate")
    assert len(rows) == 3
    # equal up to the rounding of batched matrix products
    assert np.allclose(rows["coupling"].to_numpy(), alone["coupling"], rtol=1e-12, atol=0)
    # and a cell's first replicates do not depend on the replicate count
    more = run_cell(ex, ref, 16, 1 / 32, 5)
    assert np.allclose(more["risk"][:3], alone["risk"], rtol=1e-12, atol=0)


def test_default_experiment_is_within_theorem_1():
    ex = default_experiment(log2_M=8)
    K = ex.problem.require_theorem_1(ex.neuron).K
    assert np.isfinite(K) and K > 0
    assert ex.D == 3


def test_experiment_refuses_mismatched_rho0():
    problem = teacher_population(16, 2, tanh_sum(), seed=5)
    with pytest.raises(InvalidArgument, match="rho0"):
        Experiment(problem=problem, neuron=InnerNeuron(erf_sigmoid()), rho0=GaussianInit(3, 0.5))
