"""fixed_points (b) at the smoke tier: implementations the theorem covers pass, wrong step sizes fail.

The SGD test judges the memory of the particles along the slowest mode of A, extrapolated to
N → ∞, ε → 0 (module docstring of :mod:`mfcheck.claims.fixed_points`). The SGD sizes are the
smoke tier's; only the reported long-time residual (a) is shortened, since it judges nothing.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from rule_variants import correct_variants, wrong_steps

from mfcheck.claims import tests_in_family as family_size
from mfcheck.claims.base import CheckContext
from mfcheck.claims.fixed_points import SIZES, dedicated_population, evaluate, extrapolate, fixed_point_of, memory, reference_contraction
from mfcheck.claims.tiers import get_tier
from mfcheck.errors import InvalidArgument
from mfcheck.model.activations import erf_sigmoid
from mfcheck.model.experiment import default_experiment
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.schedules import constant
from mfcheck.stats.results import DEFAULT_ALPHA, decide

SMOKE = replace(SIZES["smoke"], long_T=4.0, long_h=1 / 4, long_log2_M=4, long_record_dt=0.5)


def _judge(rule, drift_scale=1.0):
    context = CheckContext(experiment=default_experiment(), tier=get_tier("smoke"), reference=None, rule=rule)
    return decide([evaluate(context, drift_scale=drift_scale, sizes=SMOKE)], DEFAULT_ALPHA)[0]


@pytest.mark.parametrize("name", list(correct_variants()))
def test_an_implementation_the_theorem_covers_passes(name):
    """The claim alone at α = 0.05 passes each; its SGD p-value also clears Holm's first threshold α/m of
    the default family (m from the registry), which is what the gate applies."""
    r = _judge(correct_variants()[name])
    assert r.verdict == "pass", r.message
    pre, impl = r.tests
    assert pre.role == "precondition" and impl.role == "implementation"
    assert impl.p_value > DEFAULT_ALPHA / family_size()
    sgd = r.details["b"]["sgd"]
    assert [lv["N"] for lv in sgd["levels"]] == [SMOKE.N, 4 * SMOKE.N]


@pytest.mark.parametrize("name, sign", [("double_step", -1), ("half_step", 1)])
def test_a_wrong_step_size_fails_in_either_direction(name, sign):
    r = _judge(wrong_steps()[name])
    assert r.verdict == "fail" and r.tests[1].rejected and r.tests[1].p_value < 1e-6
    assert not r.tests[0].rejected  # the reference is not at fault
    sgd = r.details["b"]["sgd"]
    assert math.copysign(1.0, sgd["t"]) == sign  # twice too fast: less memory; half: more


def test_a_broken_reference_is_a_failed_precondition():
    """A reference flow at half speed fails the two-sided precondition (its rate halves)."""
    r = _judge(correct_variants()["paper"], drift_scale=0.5)
    pre = r.tests[0]
    assert pre.role == "precondition" and pre.rejected and pre.p_value < 1e-6
    assert r.verdict != "pass"


def test_extrapolate_removes_a_bias_linear_in_h_and_states_its_variance(rng):
    """Y(h) = Y_∞ + b h: (q Ȳ(h/q) − Ȳ(h))/(q − 1) recovers Y_∞ whatever b; the variance is
    (q² se_1² + se_0²)/(q − 1)²."""
    y_inf, b, q = 0.4, 0.8, 4
    y0 = y_inf + b * 1.0 + 0.01 * rng.standard_normal(64)
    y1 = y_inf + b / q + 0.01 * rng.standard_normal(64)
    ex = extrapolate(y0, y1, 16, 1 / 256, ratio=q)
    se = [y.std(ddof=1) / 8 for y in (y0, y1)]
    assert abs(ex["estimate"] - y_inf) < 4 * math.sqrt(ex["var"])
    assert math.isclose(ex["var"], ((q * se[1]) ** 2 + se[0] ** 2) / (q - 1) ** 2)
    assert 60 < ex["df"] < 130 and [lv["N"] for lv in ex["levels"]] == [16, 64]
    with pytest.raises(InvalidArgument, match="replicates"):
        extrapolate([0.1], y1)
    with pytest.raises(InvalidArgument, match="ratio"):
        extrapolate(y0, y1, ratio=1.0)


def test_memory_of_a_linear_contraction_is_exact():
    """u(τ) = e^{−2Aτ} u(0): Y along an eigenvector v of A is e^{−2λτ} whatever the deviations."""
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    lam = np.array([0.1, 0.5, 0.9])
    A = Q @ np.diag(lam) @ Q.T
    u0 = rng.standard_normal((10, 3))
    tau = np.array([0.0, 0.5, 2.0])
    u = np.stack([u0 @ (Q @ np.diag(np.exp(-2 * lam * t)) @ Q.T) for t in tau])  # (J, M, D)
    w = np.full(10, 0.1)
    assert np.allclose(memory(u, w, Q[:, 0]), np.exp(-2 * lam[0] * tau))
    assert np.allclose(memory(u, w, Q[:, 2]), np.exp(-2 * lam[2] * tau))


def test_the_reference_memory_follows_its_linearisation():
    """On the dedicated population, near θ*, the flow's memory is e^{−2λ_min(A)τ} to first order in κ."""
    pop = dedicated_population(3, 11)
    neuron = InnerNeuron(erf_sigmoid())
    fp = fixed_point_of(pop, neuron, 0.5 * (2.0 * pop.X[1::2]).sum(axis=0), "dedicated")
    out = reference_contraction(fp, neuron, constant(1.0), kappa=0.01, delta_vec=np.zeros(3), h=1 / 8, T=4.0, record_dt=0.5)
    assert np.allclose(out["memory"], np.exp(-fp.rate_spread / 2 * out["tau"]), rtol=0.02)
