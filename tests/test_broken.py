"""mfcheck.dynamics.broken: every broken rule differs from the correct one, by the one term it names,
and every registry entry is well formed (its claims exist)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfcheck.claims import CLAIMS
from mfcheck.dynamics.broken import (
    ANTI_DECAY, BROKEN, LATE_BUDGET, LATE_DECAY, LATE_RAMP, PLATEAU_DRIFT, SLOW_KICKS_C, SLOW_KICKS_POWER, AntiWeightDecay,
    ClusteredInit, ExtraNoise, LateInstability, PlateauDrift, SlowKicks, mean_squared_weight,
)
from mfcheck.dynamics.rules import MEAN_FIELD, Rule, mean_field_step
from mfcheck.dynamics.sgd import iid_init
from mfcheck.errors import InvalidArgument
from mfcheck.model.activations import erf_sigmoid
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron

NEURON = InnerNeuron(erf_sigmoid())


def _batch(rng, R=3, N=7, D=3):
    return rng.standard_normal((R, N, D)), rng.standard_normal((R, D)), rng.uniform(-1, 1, R), rng.standard_normal((R, N, D))


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_broken_rule_differs_from_the_correct_rule(name, rng):
    """On a random input: a broken step moves the noiseless step; a broken noise leaves the noiseless
    step exact and moves the noisy one; a broken sampler draws other particles than ρ_0 i.i.d."""
    entry = BROKEN[name]
    if entry.replaces == "init":
        rho0 = GaussianInit(3, 0.5)
        th = entry.rule(rho0, np.random.default_rng(5), 32)
        assert th.shape == (32, 3) and not np.array_equal(th, iid_init(rho0, np.random.default_rng(5), 32))
        return
    rule = entry.rule
    assert isinstance(rule, Rule) and rule.noise is None
    Theta, x, y, g = _batch(rng)
    noiseless = np.max(np.abs(rule(Theta, x, y, 0.05, NEURON) - MEAN_FIELD(Theta, x, y, 0.05, NEURON)))
    noisy = np.max(np.abs(rule.noisy(0.5, 4.0)(Theta, x, y, 0.05, NEURON, g) - MEAN_FIELD.noisy(0.5, 4.0)(Theta, x, y, 0.05, NEURON, g)))
    assert noisy > 1e-3
    assert (noiseless == 0.0) if entry.replaces == "noise" else (noiseless > 1e-3)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_entry_is_well_formed_and_names_existing_claims(name):
    entry = BROKEN[name]
    assert entry.name == name and entry.bug and "\n" not in entry.bug
    assert entry.replaces in ("step", "noise", "init")
    assert entry.claims and set(entry.claims) <= set(CLAIMS)
    assert entry.replaces != "init" or entry.claims == ("mcdiarmid",)


def test_registry_holds_every_broken_rule():
    assert set(BROKEN) == {"ntk_scaling", "no_factor_two", "unscaled_lr", "gradient_ascent", "weak_noise", "wrong_sign_decay",
                           "correlated_init", "sqrt_step", "extra_noise", "anti_weight_decay", "double_step", "plateau_drift",
                           "slow_kicks", "late_instability"}
    with pytest.raises(InvalidArgument, match="replaces"):
        type(BROKEN["sqrt_step"])("x", "bug", "drift", ("azuma",), lambda: MEAN_FIELD)


# -- each bug is the one term it names -----------------------------------------------------------------


def test_step_size_bugs_are_the_correct_step_at_another_step_size(rng):
    Theta, x, y, _ = _batch(rng)
    s, N = 0.04, Theta.shape[1]
    for name, s_bug in (("no_factor_two", s / 2), ("unscaled_lr", s / N), ("gradient_ascent", -s), ("sqrt_step", math.sqrt(s)),
                        ("double_step", 2 * s)):
        np.testing.assert_array_equal(BROKEN[name].rule(Theta, x, y, s, NEURON), mean_field_step(Theta, x, y, s_bug, NEURON))
    np.testing.assert_allclose(BROKEN["no_factor_two"].rule(Theta, x, y, s, NEURON) - Theta, (MEAN_FIELD(Theta, x, y, s, NEURON) - Theta) / 2,
                               rtol=0, atol=1e-15)


def test_ntk_scaling_differs_only_through_the_output(rng):
    ntk = BROKEN["ntk_scaling"].rule
    Theta, x, y, _ = _batch(rng, N=1)
    np.testing.assert_array_equal(ntk(Theta, x, y, 0.1, NEURON), MEAN_FIELD(Theta, x, y, 0.1, NEURON))
    Theta, x, y, _ = _batch(rng, N=9)
    assert not np.allclose(ntk(Theta, x, y, 0.1, NEURON), MEAN_FIELD(Theta, x, y, 0.1, NEURON))


def test_noise_bugs_change_one_langevin_term(rng):
    Theta, x, y, g = _batch(rng)
    lam, beta, s = 0.5, 4.0, 0.05
    new = mean_field_step(Theta, x, y, s, NEURON)
    weak = BROKEN["weak_noise"].rule.noisy(lam, beta)(Theta, x, y, s, NEURON, g)
    np.testing.assert_allclose(weak, new - 2 * lam * s * Theta + math.sqrt(s / beta) * g, rtol=1e-13)
    flipped = BROKEN["wrong_sign_decay"].rule.noisy(lam, beta)(Theta, x, y, s, NEURON, g)
    np.testing.assert_allclose(flipped, new + 2 * lam * s * Theta + math.sqrt(4 * s / beta) * g, rtol=1e-13)


def test_anti_weight_decay_multiplies_by_exp_2_lambda_s(rng):
    Theta, x, y, _ = _batch(rng)
    good = mean_field_step(Theta, x, y, 0.01, NEURON)
    bad = BROKEN["anti_weight_decay"].rule(Theta, x, y, 0.01, NEURON)
    assert np.allclose(bad - good, np.expm1(2 * ANTI_DECAY * 0.01) * Theta)
    assert np.allclose(AntiWeightDecay(0.0)(Theta, x, y, 0.01, NEURON), good)
    with pytest.raises(InvalidArgument, match="lam"):
        AntiWeightDecay(-1.0)


def test_late_instability_is_the_correct_step_below_the_budget_and_anti_decay_above(rng):
    """m₂ ≤ m₀: the mean-field step exactly; m₂ ≥ m₀ + w: AntiWeightDecay(λ); in between, the fraction (m₂ − m₀)/w
    of its rate; each replicate by its own m₂."""
    Theta, x, y, _ = _batch(rng, R=3, N=50)
    m2 = np.array([0.5 * LATE_BUDGET, LATE_BUDGET + 0.5 * LATE_RAMP, 2 * LATE_BUDGET])
    Theta *= np.sqrt(m2 / mean_squared_weight(Theta))[:, None, None]
    s = 0.01
    out = BROKEN["late_instability"].rule(Theta, x, y, s, NEURON)
    good = mean_field_step(Theta, x, y, s, NEURON)
    np.testing.assert_array_equal(out[0], good[0])
    np.testing.assert_allclose(out[1] - good[1], np.expm1(LATE_DECAY * s) * Theta[1], rtol=1e-12)
    np.testing.assert_allclose(out[2], AntiWeightDecay(LATE_DECAY)(Theta, x, y, s, NEURON)[2], rtol=1e-14)
    for bad in ({"lam": -1.0}, {"budget": 0.0}, {"ramp": -0.1}):
        with pytest.raises(InvalidArgument, match=next(iter(bad))):
            LateInstability(**{"lam": 1.0, "budget": 1.0, "ramp": 0.1, **bad})


def test_late_instability_starts_between_the_rate_claims_horizon_and_gronwalls():
    """The budget lies between the mean squared weight m₂(t) of the default experiment's correct SGD at T = 1
    (the rate claims' horizon: there the broken step is the correct one) and at T = 4 (gronwall's T_max: there
    the anti decay is fully on). N = 1024 particles, ε = 1/128, 4 replicates: the sd of m₂ across replicates is
    below 0.03, and every replicate must clear each side (deterministic given the seeds)."""
    from mfcheck.claims.gronwall import SIZES
    from mfcheck.dynamics.sgd import StandardRecord, run_sgd
    from mfcheck.model.experiment import default_experiment
    from mfcheck.seeds import Streams

    ex = default_experiment()
    T_max = SIZES["ci"].T_max
    run = run_sgd(ex.problem, ex.neuron, ex.rho0, MEAN_FIELD, N=1024, eps=1 / 128, T=T_max, replicates=4,
                  streams=Streams(7).child("late_instability"), record=StandardRecord(1.0), schedule=ex.schedule)
    m2 = mean_squared_weight(run.theta)  # (R, J) at t = 0, 1, ..., T_max
    assert np.all(m2[:, 1] < LATE_BUDGET) and np.all(m2[:, -1] > LATE_BUDGET + LATE_RAMP)


def test_extra_noise_is_reproducible_and_unbiased_in_scale(rng):
    Theta = rng.normal(size=(2000, 2, 3))
    x, y = np.tile(rng.normal(size=3), (2000, 1)), np.full(2000, 0.3)
    a = ExtraNoise(seed=3, tau=0.5)(Theta, x, y, 0.04, NEURON)
    b = ExtraNoise(seed=3, tau=0.5)(Theta, x, y, 0.04, NEURON)
    np.testing.assert_array_equal(a, b)
    noise = a - mean_field_step(Theta, x, y, 0.04, NEURON)
    assert np.std(noise) == pytest.approx(0.5 * 0.2, rel=0.05)  # 12000 draws: sd of the sd ≈ 0.65 %
    with pytest.raises(InvalidArgument, match="tau"):
        ExtraNoise(tau=0.0)
    # each access to the entry builds a new rule: its generator starts afresh
    first, second = BROKEN["extra_noise"].rule, BROKEN["extra_noise"].rule
    np.testing.assert_array_equal(first(Theta, x, y, 0.04, NEURON), second(Theta, x, y, 0.04, NEURON))


def test_double_step_doubles_the_increment(rng):
    Theta, x, y, _ = _batch(rng)
    np.testing.assert_allclose(BROKEN["double_step"].rule(Theta, x, y, 0.03, NEURON) - Theta,
                               2 * (MEAN_FIELD(Theta, x, y, 0.03, NEURON) - Theta), rtol=0, atol=1e-15)


def test_plateau_drift_adds_s_b0_along_the_diagonal(rng):
    for D in (1, 3, 5):
        Theta, x, y, _ = _batch(rng, D=D)
        bad = BROKEN["plateau_drift"].rule(Theta, x, y, 0.04, NEURON)
        assert bad.shape == Theta.shape
        np.testing.assert_allclose(bad - mean_field_step(Theta, x, y, 0.04, NEURON), 0.04 * PLATEAU_DRIFT / math.sqrt(D), rtol=1e-12, atol=1e-15)
    assert 0.05 <= PLATEAU_DRIFT <= 0.2
    with pytest.raises(InvalidArgument, match="b0"):
        PlateauDrift(0.0)


def test_slow_kicks_are_reproducible_and_of_size_c_s_to_the_power(rng):
    """The kicks are c s^0.9 g: their sample sd over 12000 draws estimates c s^0.9 (fixed seeds; the sd of the sample sd is
    about 0.65 %, so a 5 % tolerance is 7.7 sds: a false alarm has probability below 1e-13)."""
    Theta = rng.normal(size=(2000, 2, 3))
    x, y = np.tile(rng.normal(size=3), (2000, 1)), np.full(2000, 0.3)
    a = SlowKicks(seed=3)(Theta, x, y, 0.01, NEURON)
    np.testing.assert_array_equal(a, SlowKicks(seed=3)(Theta, x, y, 0.01, NEURON))
    assert a.shape == Theta.shape
    kicks = a - mean_field_step(Theta, x, y, 0.01, NEURON)
    assert np.std(kicks) == pytest.approx(SLOW_KICKS_C * 0.01**SLOW_KICKS_POWER, rel=0.05)
    assert abs(np.mean(kicks)) < 5 * SLOW_KICKS_C * 0.01**SLOW_KICKS_POWER / math.sqrt(kicks.size)  # centred: |mean| < 5 sd of the mean
    # p = 1 gives kicks of size c s: the sd is c s
    assert np.std(SlowKicks(seed=3, power=1.0)(Theta, x, y, 0.01, NEURON) - mean_field_step(Theta, x, y, 0.01, NEURON)) == pytest.approx(
        SLOW_KICKS_C * 0.01, rel=0.05)
    first, second = BROKEN["slow_kicks"].rule, BROKEN["slow_kicks"].rule  # each access starts the generator afresh
    np.testing.assert_array_equal(first(Theta, x, y, 0.01, NEURON), second(Theta, x, y, 0.01, NEURON))
    for kw in ({"c": 0.0}, {"power": -1.0}):
        with pytest.raises(InvalidArgument, match=next(iter(kw))):
            SlowKicks(**kw)


# -- the clustered sampler -------------------------------------------------------------------------------


def test_clustered_init_repeats_each_draw_m_times():
    rho0 = GaussianInit(3, 0.5)
    th = ClusteredInit(4)(rho0, np.random.default_rng(1), 12)
    assert th.shape == (12, 3)
    blocks = th.reshape(3, 4, 3)
    assert np.all(blocks == blocks[:, :1])
    assert len(np.unique(th[:, 0])) == 3
    assert repr(ClusteredInit(8)) == "clustered_init_m8"


def test_clustered_init_m1_is_iid_init_and_truncates():
    rho0 = GaussianInit(3, 0.5)
    np.testing.assert_array_equal(ClusteredInit(1)(rho0, np.random.default_rng(7), 10), iid_init(rho0, np.random.default_rng(7), 10))
    c = ClusteredInit(4)(rho0, np.random.default_rng(7), 10)  # 3 draws, 12 rows, cut to 10
    assert c.shape == (10, 3) and len(np.unique(c[:, 0])) == 3


@pytest.mark.parametrize("m", [0, -2, 1.5, True])
def test_clustered_init_rejects_bad_m(m):
    with pytest.raises(InvalidArgument, match="`m`"):
        ClusteredInit(m)
