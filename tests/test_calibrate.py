import math

import pytest

from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.app.calibrate import calibrate, family_size, power, replicates_for_power
from mfcheck.app.cli import main
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import Experiment
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems import teacher_population
from mfcheck.claims.tiers import Tier


def test_power_formula_and_inverse():
    level = 0.05 / family_size()
    assert power(0.1, 0.05, 8, 8, level) < power(0.1, 0.05, 8, 32, level) < 1
    R = replicates_for_power(0.1, 0.05, 8, 0.9, level)
    assert power(0.1, 0.05, 8, R, level) >= 0.9 > power(0.1, 0.05, 8, R - 1, level)
    # no deficit detectable at level alpha means power equals the level
    assert math.isclose(power(1e-12, 0.05, 8, 8, level), level, rel_tol=1e-6)


def test_calibrate_on_a_tiny_sweep():
    problem = teacher_population(16, 2, tanh_sum((1.0,), (2.0,)), seed=5)
    ex = Experiment(problem=problem, neuron=InnerNeuron(erf_sigmoid()), rho0=GaussianInit(2, 0.5), log2_M=8, h=1 / 16, record_dt=1 / 8)
    tier = Tier("tiny", N_path=(8, 16, 32), eps_path=(1 / 8, 1 / 16, 1 / 32), kink=2, replicates=6, log2_M=8)
    cal = calibrate("theorem1_risk", tier, pilot_replicates=4, experiment=ex, progress=False)
    assert {r["path"] for r in cal.rows} == {"N", "eps"}
    assert cal.recommended >= 2 and all(r["se_pilot"] > 0 for r in cal.rows)


@pytest.mark.parametrize("kwargs", [{"pilot_replicates": 2}, {"target_power": 1.0}, {"deficit": 0.0}, {"alpha": 2.0}])
def test_calibrate_bad_input(kwargs):
    tier = Tier("tiny", N_path=(8,), eps_path=(1 / 8,), kink=2, replicates=6, log2_M=8)
    with pytest.raises(InvalidArgument):
        calibrate("theorem1_risk", tier, **kwargs)


def test_cli_unknown_claim_exits_2(capsys):
    assert main(["calibrate", "theorem9", "--tier", "smoke", "--quiet"]) == 2
    assert "claim" in capsys.readouterr().err



def test_calibrate_check_against_its_alternative():
    from mfcheck.app.calibrate import calibrate_check
    from mfcheck.claims.tiers import get_tier

    cal = calibrate_check("azuma", get_tier("smoke"), pilot_replicates=4, progress=False)
    assert cal.alternative and cal.p_pilot < 1e-3 and cal.recommended >= 2
    assert 0 <= cal.power_at_tier_replicates <= 1


def test_calibrate_check_deterministic_and_unknown():
    from mfcheck.app.calibrate import calibrate_check
    from mfcheck.claims.tiers import get_tier

    cal = calibrate_check("free_energy", get_tier("smoke"))
    assert cal.recommended is None and "deterministic" in cal.note
    with pytest.raises(InvalidArgument, match="claim"):
        calibrate_check("theorem9", get_tier("smoke"))


def test_cli_calibrate_a_check(capsys):
    assert main(["calibrate", "free_energy", "--tier", "smoke", "--quiet"]) == 0
    assert "deterministic" in capsys.readouterr().out
