import numpy as np
import pytest

from mfcheck.model.bounds import coupling_scale, err_ND
from mfcheck.claims import get_claim
from mfcheck.claims.theorem1 import CLAIMS
from mfcheck.errors import InvalidArgument


def test_claims_scales_and_log_factors():
    N, eps = np.array([16.0, 1024.0]), np.array([1 / 128, 1 / 16])
    for c in CLAIMS:
        assert c.predicted == {"N": 0.5, "eps": 0.5}
        # the statistic's own log factor: J recorded times (times N for a maximum over particles)
        expected = np.sqrt(3 + np.log(17 * (N if c.over_particles else 1.0)))
        assert np.allclose(c.log_factor(N, eps, 3, 17), expected)
    assert [c.over_particles for c in CLAIMS] == [False, False, True]
    assert np.allclose(get_claim("theorem1_risk").scale(N, eps, 3, 1.0, 1.0), err_ND(N, eps, 3, 1.0))
    assert np.allclose(get_claim("coupling_lemma").scale(N, eps, 3, 2.0, 1.0), coupling_scale(N, eps, 3, 2.0, 1.0))


def test_unknown_claim():
    with pytest.raises(InvalidArgument, match="claim"):
        get_claim("theorem7")


def test_the_tail_check_rejects_a_broken_rule():
    """The NTK readout (1/√N) Σ σ* keeps the error from vanishing: Ĉ, calibrated on the cells away
    from the limit, is exceeded by most replicates of the cells nearest it, and the tail test
    rejects at α = 0.05 (with the growth tests). The correct rule, same seeds, is not rejected by it."""
    from mfcheck.claims.sweep import run_sweep
    from mfcheck.claims.tiers import Tier
    from mfcheck.dynamics.broken import BROKEN
    from mfcheck.dynamics.rules import MEAN_FIELD
    from mfcheck.model.activations import erf_sigmoid, tanh_sum
    from mfcheck.model.experiment import Experiment
    from mfcheck.model.initial import GaussianInit
    from mfcheck.model.neurons import InnerNeuron
    from mfcheck.model.problems import teacher_population
    from mfcheck.reference import build_reference

    problem = teacher_population(16, 2, tanh_sum((1.0,), (2.0,)), seed=5)
    ex = Experiment(problem=problem, neuron=InnerNeuron(erf_sigmoid()), rho0=GaussianInit(2, 0.5), log2_M=9, h=1 / 16, record_dt=1 / 8)
    tier = Tier("tail", N_path=(8, 16, 32, 64, 128), eps_path=(1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128), kink=2, replicates=12, log2_M=9)
    reference = build_reference(ex)
    claim = get_claim("coupling_lemma")
    tails = {}
    for name, rule in (("broken", BROKEN["ntk_scaling"].rule), ("correct", MEAN_FIELD)):
        sweep = run_sweep(ex, tier, rule=rule, reference=reference, progress=False)
        result = claim.fit(sweep)
        tails[name] = next(t for t in result.tests if t.name.startswith("tail"))
    assert tails["broken"].rejected and tails["broken"].p_value < 1e-6
    assert not tails["correct"].rejected
