"""Theorem 1 (MMN18 Thm 3): particle SGD stays close to its McKean–Vlasov limit at the rate err_{N,D}.

Three rate claims, one per statistic of :mod:`mfcheck.claims.statistics`, read from one sweep
(:func:`mfcheck.claims.sweep.run_sweep`: SGD and its coupled reference on the cells of the run's
tier), on the user's experiment and its solved reference. err_{N,D}(z) and the coupling scale
are those of :mod:`mfcheck.model.bounds`.
"""

from __future__ import annotations

from mfcheck.claims.base import CheckContext
from mfcheck.claims.rate import RATE_ALTERNATIVE, TESTS_PER_RATE_CLAIM, RateClaim, RateSweep
from mfcheck.claims.sweep import SweepResult, run_sweep
from mfcheck.claims.tiers import Tier
from mfcheck.model.bounds import coupling_scale, err_ND

__all__ = ["SWEEP", "CLAIMS"]


def _solve(context: CheckContext, tier: Tier) -> SweepResult:
    return run_sweep(context.experiment, tier, rule=context.rule, init=context.init, reference=context.reference,
                     progress=context.progress)


SWEEP = RateSweep(name="theorem1", tiers=None, solve=_solve)


def _err(N, eps, D, T, z):
    del T  # err_{N,D}(z) has no T; e^{CT} is part of the constant
    return err_ND(N, eps, D, z)


def _claim(order: int, name: str, title: str, statistic: str, statement: str, scale, tightness: str,
           over_particles: bool = False) -> RateClaim:
    return RateClaim(
        name=name, title=title, statement=statement, order=order, parts=frozenset({"step", "init"}),
        reads_reference=True, test_count=TESTS_PER_RATE_CLAIM, alternative=RATE_ALTERNATIVE,
        statistic=statistic, scale=scale, predicted={"N": 0.5, "eps": 0.5}, tightness=tightness, sweep=SWEEP,
        over_particles=over_particles,
    )


CLAIMS = (
    _claim(
        10, "theorem1_test_functions", "Theorem 1: test-function averages", "test_functions",
        "max_f sup_k |(1/N) Σ_i f(θ_i^k) − ∫ f dρ_{kε}| / K_f ≤ C e^{CT} err_{N,D}(z), w.p. ≥ 1 − e^{−z²}", _err,
        "Sharp in N (fluctuations of an average of N nearly independent particles); averages may decay faster in ε than √ε.",
    ),
    _claim(
        11, "theorem1_risk", "Theorem 1: risk", "risk",
        "sup_k |R_N(θ^k) − R(ρ_{kε})| ≤ C e^{CT} err_{N,D}(z), w.p. ≥ 1 − e^{−z²}", _err,
        "Sharp in N; the risk is an average and may decay faster in ε than √ε.",
    ),
    _claim(
        12, "coupling_lemma", "Coupling lemma (propagation of chaos + Gronwall)", "coupling",
        "max_i sup_k ||θ_i^k − θ̄_i^{kε}||₂ ≤ K e^{KT} √max(1/N, ε) [√(D + log(N (T/ε ∨ 1))) + z], w.p. ≥ 1 − e^{−z²}",
        coupling_scale, "Sharp in ε (a √ε martingale term per particle).", over_particles=True,
    ),
)
