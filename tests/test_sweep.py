import dataclasses

import numpy as np
import pandas as pd
import pytest

from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.runtime.cache import Cache
from mfcheck.errors import InvalidArgument
from mfcheck.runtime.executors import Execution, started
from mfcheck.model.experiment import Experiment, default_experiment
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems import teacher_population
from mfcheck.reference import build_reference
from mfcheck.claims.sweep import run_cell, run_sweep
from mfcheck.claims.tiers import Tier


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


def test_same_table_whatever_the_executor(setting, tmp_path):
    """Cells draw from their own seed subtrees: serial, 2 joblib processes and a dask cluster give
    the same numbers (bit for bit), and so does a re-run read back from the cache."""
    from distributed import LocalCluster

    ex, ref = setting
    serial = run_sweep(ex, TIER, reference=ref, progress=False).table
    tables = {"joblib(2)": run_sweep(ex, TIER, reference=ref, progress=False, execution=Execution("joblib", workers=2)).table}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        tables["dask(address)"] = run_sweep(ex, TIER, reference=ref, progress=False,
                                            execution=Execution(address=cluster.scheduler_address)).table
    cache = Cache(tmp_path)
    tables["cache write"] = run_sweep(ex, TIER, reference=ref, progress=False, execution=Execution(cache=cache)).table
    tables["cache read"] = run_sweep(ex, TIER, reference=ref, progress=False, execution=Execution("joblib", workers=2, cache=cache)).table
    for name, table in tables.items():
        pd.testing.assert_frame_equal(table, serial, check_exact=True, obj=name)


def test_dask_local_cluster_of_processes(setting):
    """``--executor dask`` without an address: a LocalCluster of worker processes on 127.0.0.1,
    started once for several sweeps (one worker here: the cells travel to another process all
    the same, at half the start-up)."""
    ex, ref = setting
    serial = run_sweep(ex, TIER, reference=ref, progress=False).table
    with started(Execution("dask", workers=1)) as running:
        assert running.executor == "dask" and running.address is not None and not isinstance(running.address, str)
        for _ in range(2):
            table = run_sweep(ex, TIER, reference=ref, progress=False, execution=running).table
            pd.testing.assert_frame_equal(table, serial, check_exact=True)


def test_a_different_seed_is_a_different_table(setting):
    """The companion of the identity above: the comparison sees a change of one seed."""
    ex, ref = setting
    other = dataclasses.replace(ex, seed=ex.seed + 1)
    a = run_sweep(ex, TIER, reference=ref, progress=False).table
    b = run_sweep(other, TIER, reference=ref, progress=False).table
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
