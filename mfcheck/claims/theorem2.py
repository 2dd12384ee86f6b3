"""Theorem 2 (noisy SGD, MMN18 Thm 4): the Theorem 1 rate fits for noisy SGD against the noisy DD.

Noisy SGD θ ← (1 − 2λs)θ + 2s(y − ŷ)∇σ* + sqrt(4s/β) g (:mod:`mfcheck.dynamics.rules`, c = 4) is compared
with the noisy nonlinear dynamics of its limit, computed in dimension D = 1 (the problem of
:mod:`mfcheck.claims.temperature`: 64 points in d = 1, σ* = erf(wx), λ = 0.5, β = 4,
ρ_0 = N(0, 0.25)):

- ρ_t solves the noisy DD on a grid (:mod:`mfcheck.reference.fokker_planck`, second order,
  error measured against a refinement with dx/2, dt/4), giving ∫f dρ_t, R(ρ_t) and ŷ_t;
- each SGD particle's twin θ̄_i follows the McKean–Vlasov SDE in that field from the same θ_i^0,
  driven by the same Gaussians g_i^k (:mod:`mfcheck.reference.noisy_coupled`), integrated by
  stochastic Heun on a Brownian bridge; its error is measured by doubling the sub-steps on the
  same path, plus the effect of the field's error (one replicate re-coupled in the refined field).

The statistics, cells (N-path and ε-path) and the fit are those of Theorem 1
(:mod:`mfcheck.claims.fit`: exponents with 95 % CIs, growth and plateau tests, a tail check on the cells
nearest the limit, the evidence a pass needs);
cells whose reference error exceeds a tenth of the median statistic are unresolved. Each of
the three statistics is its own claim (``theorem2_test_functions``, ``theorem2_risk``,
``theorem2_coupling``), the Theorem 1 claim of the same statistic read from :data:`SWEEP`; a run
solves that sweep once for the three. The setting is fixed: only the seed of the run's
experiment applies. The broken implementation that must be rejected is noisy SGD with the
noise sqrt(s/β) g (c = 1, the ``weak_noise`` rule of :mod:`mfcheck.dynamics.broken`).
"""


from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from mfcheck.claims.base import CheckContext
from mfcheck.claims.temperature import BETA, LAM, setting
from mfcheck.claims.theorem1 import CLAIMS as THEOREM1
from mfcheck.claims.rate import RateSweep
from mfcheck.runtime.executors import map_cells
from mfcheck.dynamics.sgd import StandardRecord, noise_increments, run_sgd
from mfcheck.model.observables import default_test_functions
from mfcheck.reference.fokker_planck import refine_fokker_planck
from mfcheck.reference.noisy_coupled import couple_noisy
from mfcheck.seeds import Streams
from mfcheck.claims.statistics import theorem1_statistics
from mfcheck.claims.sweep import SweepResult
from mfcheck.claims.tiers import Tier, cell_work

__all__ = ["NoisyExperiment", "noisy_experiment", "noisy_sweep", "SWEEP", "CLAIMS", "TIERS"]

T_HORIZON = 1.0
RECORD_DT = 1.0 / 16
FP_CELLS = 400
FP_DT = 1.0 / 4096
SUBSTEP_DT = 1.0 / 128  # the coupled SDE takes sub-steps of at most this length

TIERS = {
    "smoke": Tier("smoke", N_path=(16, 32, 64, 128), eps_path=(1 / 16, 1 / 32, 1 / 64, 1 / 128), kink=4, replicates=12, log2_M=0),
    "ci": Tier("ci", N_path=(16, 32, 64, 128, 256), eps_path=(1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256), kink=4, replicates=64, log2_M=0),
    "full": Tier("full", N_path=(16, 32, 64, 128, 256, 512), eps_path=(1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256, 1 / 512), kink=4,
                 replicates=64, log2_M=0),
}


@dataclass(frozen=True)
class NoisyExperiment:
    """The fixed part of the Theorem 2 sweep (D = 1)."""

    problem: object
    neuron: object
    rho0: object
    lam: float
    beta: float
    T: float = T_HORIZON
    record_dt: float = RECORD_DT
    cells: int = FP_CELLS
    dt: float = FP_DT
    substep_dt: float = SUBSTEP_DT
    test_functions: tuple = field(default=())
    seed: int = 0

    @property
    def D(self) -> int:
        return self.neuron.dim(self.problem.d)

    def describe(self) -> dict:
        return {
            "problem": repr(self.problem), "neuron": repr(self.neuron), "rho0": repr(self.rho0), "schedule": "constant(1.0)",
            "D": self.D, "T": self.T, "record_dt": self.record_dt, "lam": self.lam, "beta": self.beta, "noise_constant_c": 4.0,
            "reference": {
                "scheme": f"finite-volume Fokker–Planck (Scharfetter–Gummel, Heun) on {self.cells} cells + stochastic Heun "
                          f"on a Brownian bridge (sub-steps ≤ {self.substep_dt:g}) for the coupled SDE",
                "h": self.dt, "nodes": f"{self.cells} grid cells",
                "refined": f"{2 * self.cells} cells and dt/4 for ρ_t; half the SDE sub-step on the same Brownian path",
            },
            "test_functions": [{"name": repr(f), "sup_norm": f.sup_norm, "lipschitz": f.lipschitz} for f in self.test_functions],
            "seed": self.seed,
        }


def noisy_experiment(seed: int) -> NoisyExperiment:
    problem, neuron, rho0 = setting(seed)
    return NoisyExperiment(problem=problem, neuron=neuron, rho0=rho0, lam=LAM, beta=BETA, test_functions=default_test_functions(1), seed=seed)


@dataclass(frozen=True)
class _Reference:
    error: dict


def noisy_sweep(context: CheckContext, tier: Tier) -> SweepResult:
    """The noisy sweep on the cells of ``tier`` (a tier of :data:`TIERS`), with the reference
    error of each statistic per cell in ``statistic_errors``.

    The Fokker–Planck field is solved here once (bars over its steps when ``context.progress``); the
    cells run through :func:`mfcheck.runtime.executors.map_cells` with the current execution (which
    :func:`mfcheck.app.verify.verify` sets), each from its own seed subtree, cached by content."""
    ex = noisy_experiment(context.experiment.seed)
    rule = context.rule.noisy(ex.lam, ex.beta)
    field_c, field_f, fp_error = refine_fokker_planck(
        ex.problem, ex.neuron, ex.rho0, lam=ex.lam, beta=ex.beta, T=ex.T, dt=ex.dt, record_dt=ex.record_dt, cells=ex.cells,
        test_functions=ex.test_functions, progress=context.progress)
    K = np.array([f.K for f in ex.test_functions])
    f_err = float(np.max(np.abs(field_c.f_integrals - field_f.f_integrals) / K))
    cells = tier.cells()
    fn = functools.partial(_noisy_cell, ex, rule, context.init, field_c, field_f, tier.replicates)
    results = map_cells(fn, cells, desc="theorem 2 sweep", progress=context.progress, cost=cell_work)
    rows, ref_err = [], {"test_functions": {}, "risk": {}, "coupling": {}}
    for (path, N, eps), stats in zip(cells, results):
        stats = dict(stats)
        coupling_err = float(stats.pop("coupling_error"))
        for r in range(tier.replicates):
            rows.append({"path": path, "N": N, "eps": eps, "replicate": r, **{k: float(v[r]) for k, v in stats.items()}})
        ref_err["coupling"][(N, float(eps))] = coupling_err
        ref_err["test_functions"][(N, float(eps))] = f_err
        ref_err["risk"][(N, float(eps))] = fp_error["risk"]
    seeds = {"entropy": ex.seed, "cell_key": 'Streams(seed).child("theorem2").child("cell", N, repr(eps))',
             "replicate_streams": '("init", r), ("data", r), ("noise", r) under the cell key',
             "reference_key": '("reference", r) under the cell key: the Brownian-bridge Gaussians of replicate r'}
    errors_all = {"yhat": fp_error["yhat"], "risk": fp_error["risk"], "free_energy": fp_error["free_energy"],
                  "test_functions": f_err, "coupling (max over cells)": max(ref_err["coupling"].values())}
    return SweepResult(table=pd.DataFrame(rows), reference=_Reference(errors_all), experiment=ex, tier=tier, seeds=seeds,
                       statistic_errors=ref_err)


@dataclass(frozen=True)
class _FieldRecord:
    times: np.ndarray
    f_integrals: np.ndarray
    risk: np.ndarray


def _noisy_cell(ex: NoisyExperiment, rule, init, field_c, field_f, replicates: int, cell: tuple[str, int, float]) -> dict:
    """One cell (path, N, ε) of the Theorem 2 sweep: the statistics of its ``replicates`` noisy
    SGD runs against their coupled twins, and ``coupling_error``, the measured error of the
    twins (sub-step halving plus one replicate re-coupled in the refined field)."""
    _, N, eps = cell
    streams = Streams(ex.seed).child("theorem2").child("cell", N, repr(float(eps)))
    R = replicates
    sgd = run_sgd(ex.problem, ex.neuron, ex.rho0, rule, N=N, eps=eps, T=ex.T, replicates=R, streams=streams,
                  record=StandardRecord(ex.record_dt, ex.test_functions), init=init)
    n_steps = int(sgd.steps[-1])
    m = max(1, int(round(eps / ex.substep_dt)))
    g = np.stack([noise_increments(streams, r, N, ex.D, n_steps) for r in range(R)])
    coarse, fine = couple_noisy(field_c, ex.problem, ex.neuron, sgd.theta[:, 0], g, eps=eps, lam=ex.lam, beta=ex.beta,
                                record_steps=sgd.steps, bridge_rngs=streams.generators("reference", R), substeps=m)
    _, in_fine_field = couple_noisy(field_f, ex.problem, ex.neuron, sgd.theta[:1, 0], g[:1], eps=eps, lam=ex.lam, beta=ex.beta,
                                    record_steps=sgd.steps, bridge_rngs=streams.generators("reference", 1), substeps=m)
    coupling_err = float(np.max(np.linalg.norm(coarse - fine, axis=-1)) + np.max(np.linalg.norm(in_fine_field - fine[:1], axis=-1)))
    flow_like = _FieldRecord(times=field_c.record_times, f_integrals=field_c.f_integrals, risk=field_c.risk)
    stats = theorem1_statistics(sgd, flow_like, fine, ex.test_functions)
    return {**stats, "coupling_error": coupling_err}


SWEEP = RateSweep(name="theorem2", tiers=TIERS, solve=noisy_sweep)

_NAMES = {"theorem1_test_functions": "theorem2_test_functions", "theorem1_risk": "theorem2_risk", "coupling_lemma": "theorem2_coupling"}

CLAIMS = tuple(
    replace(claim, name=_NAMES[claim.name], order=claim.order + 10, sweep=SWEEP,
            title=claim.title.replace("Theorem 1", "Theorem 2 (noisy SGD)").replace(
                "Coupling lemma (propagation of chaos + Gronwall)", "Theorem 2 (noisy SGD): coupling"),
            parts=frozenset({"step", "noise", "init"}), reads_reference=False,
            own_setting="its own D = 1 population")
    for claim in THEOREM1
)
"""The Theorem 1 claims, statistic by statistic, read from the noisy sweep."""
