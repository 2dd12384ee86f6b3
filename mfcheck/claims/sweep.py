"""Run SGD and its coupled reference over the cells of a tier; return one tidy table.

The reference flow is deterministic given ρ_0, so it is solved once per sweep (with its
refinement) and every cell's coupled particles θ̄_i are integrated in its stored field.
Each cell (path, N, ε) has its own seed subtree ``Streams(seed).child("cell", N, repr(ε))``, so its
numbers do not depend on the order or the set of cells run beside it, nor on the executor that
runs it: cells go through :func:`mfcheck.runtime.executors.map_cells` (serial, joblib processes or
dask; cached by content when the execution has a cache).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import pandas as pd

from mfcheck.runtime.executors import Execution, map_cells
from mfcheck.model.experiment import Experiment
from mfcheck.reference.coupled import couple
from mfcheck.reference.refinement import Reference, build_reference
from mfcheck.seeds import Streams
from mfcheck.dynamics.rules import MEAN_FIELD, Rule
from mfcheck.dynamics.sgd import InitSampler, StandardRecord, iid_init, run_sgd
from mfcheck.claims.statistics import STATISTICS, theorem1_statistics
from mfcheck.claims.tiers import Tier, cell_work

__all__ = ["SweepResult", "cell_streams", "run_cell", "run_sweep", "sweep_cell"]


@dataclass(frozen=True)
class SweepResult:
    """``table``: a row per (cell, replicate) with columns path, N, eps, replicate and the
    statistics; ``reference``: the reference and its measured error; ``seeds``: how to replay;
    ``statistic_errors``: the reference error of each statistic, one number for every cell or a
    mapping (N, ε) -> error (what :func:`mfcheck.claims.fit.fit_claim` judges resolution by)."""

    table: pd.DataFrame
    reference: Reference
    experiment: Experiment
    tier: Tier
    seeds: dict = field(default_factory=dict)
    statistic_errors: dict = field(default_factory=dict)


def cell_streams(experiment: Experiment, N: int, eps: float) -> Streams:
    return Streams(experiment.seed).child("cell", N, repr(float(eps)))


def run_cell(
    experiment: Experiment, reference: Reference, N: int, eps: float, replicates: int,
    rule: Rule = MEAN_FIELD, init: InitSampler = iid_init,
) -> dict:
    """The statistics of one cell, each of shape (replicates,)."""
    sgd = run_sgd(
        experiment.problem, experiment.neuron, experiment.rho0, rule, N=N, eps=eps, T=experiment.T, replicates=replicates,
        streams=cell_streams(experiment, N, eps), record=StandardRecord(experiment.record_dt, experiment.test_functions),
        schedule=experiment.schedule, init=init,
    )
    theta_bar = couple(reference.flow, experiment.problem, experiment.neuron, sgd.theta[:, 0])
    return theorem1_statistics(sgd, reference.flow, theta_bar, experiment.test_functions)


def sweep_cell(experiment: Experiment, reference: Reference, replicates: int, rule: Rule, init: InitSampler,
               cell: tuple[str, int, float]) -> dict:
    """:func:`run_cell` on ``cell`` = (path, N, ε): the cell function of :func:`run_sweep`
    (module level, so that a ``functools.partial`` of it can be sent to worker processes)."""
    _, N, eps = cell
    return run_cell(experiment, reference, N, eps, replicates, rule, init)


def run_sweep(
    experiment: Experiment,
    tier: Tier,
    *,
    rule: Rule = MEAN_FIELD,
    init: InitSampler = iid_init,
    reference: Reference | None = None,
    progress: bool = True,
    execution: Execution | None = None,
) -> SweepResult:
    """Run every cell of ``tier``; return the table in cell order.

    **Arguments:**

    - ``experiment``, ``tier``: the fixed part and the cells (path, N, ε) with their replicates.
    - ``rule``, ``init``: the SGD rule and the sampler of θ^0 under test (picklable for the
      parallel executors: module-level functions or closures cloudpickle can carry).
    - ``reference``: a solved reference of the same experiment to reuse (None: solved here).
    - ``progress``: a bar counting finished cells (and, when the reference is solved here, bars over its steps).
    - ``execution``: where cells run and the cache (:class:`mfcheck.runtime.executors.Execution`;
      None: the current one, serial without a cache by default). The table is the same
      whatever the executor and worker count.
    """
    if reference is None:
        reference = build_reference(experiment, progress=progress)
    rows = []
    cells = tier.cells()
    fn = functools.partial(sweep_cell, experiment, reference, tier.replicates, rule, init)
    results = map_cells(fn, cells, execution=execution, desc=f"{tier.name} sweep", progress=progress, cost=cell_work)
    for (path, N, eps), stats in zip(cells, results):
        for r in range(tier.replicates):
            rows.append({"path": path, "N": N, "eps": eps, "replicate": r, **{k: float(v[r]) for k, v in stats.items()}})
    seeds = {
        "entropy": experiment.seed,
        "cell_key": 'Streams(seed).child("cell", N, repr(eps))',
        "replicate_streams": '("init", r) and ("data", r) under the cell key',
        "reference_key": 'Streams(seed).child("reference"): scrambles 0 (flow) and 1 (refined), probes from ("reference", 2)',
    }
    return SweepResult(table=pd.DataFrame(rows), reference=reference, experiment=experiment, tier=tier, seeds=seeds,
                       statistic_errors={s: reference.error[s] for s in STATISTICS})
