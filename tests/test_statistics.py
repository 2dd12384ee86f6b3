import numpy as np
import pytest

from mfcheck.errors import InvalidArgument
from mfcheck.model.observables import default_test_functions
from mfcheck.reference.flow import ReferenceFlow
from mfcheck.dynamics.sgd import SGDResult
from mfcheck.claims.statistics import theorem1_statistics


def _pair(R=3, J=4, N=5, D=2):
    rng = np.random.default_rng(np.random.SeedSequence(7))
    theta = rng.standard_normal((R, J, N, D))
    tfs = default_test_functions(D)
    f = rng.standard_normal((J, len(tfs)))
    risk = rng.uniform(0, 1, J)
    times = np.arange(J) * 0.25
    sgd = SGDResult(times=times, steps=np.arange(J) * 4, theta=theta, f_means=np.repeat(f[None], R, 0), risk=np.repeat(risk[None], R, 0), N=N, eps=1 / 16)
    flow = ReferenceFlow(h=1 / 16, steps=12, xi=np.ones((12, 3)), stage_yhat=np.zeros((12, 4, 1)), record_index=np.arange(J) * 4,
                         times=times, f_integrals=f, risk=risk, yhat=np.zeros((J, 1)), M=1, nodes_per_axis=0)
    return sgd, flow, tfs


def test_zero_when_sgd_equals_reference():
    sgd, flow, tfs = _pair()
    s = theorem1_statistics(sgd, flow, sgd.theta.copy(), tfs)
    assert all(np.all(v == 0) for v in s.values())


def test_sup_over_time_and_max_over_particles():
    sgd, flow, tfs = _pair()
    bar = sgd.theta.copy()
    bar[1, 2, 3] += np.array([3.0, 4.0])  # one particle, one time, one replicate: distance 5
    sgd.risk[0, 1] += 0.125
    sgd.f_means[2, 3, 1] -= 0.5
    s = theorem1_statistics(sgd, flow, bar, tfs)
    assert np.allclose(s["coupling"], [0, 5, 0])
    assert np.allclose(s["risk"], [0.125, 0, 0])
    assert np.allclose(s["f1"], [0, 0, 0.5])
    assert np.allclose(s["test_functions"], [0, 0, 0.5 / tfs[1].K])


def test_mismatches_are_refused():
    sgd, flow, tfs = _pair()
    with pytest.raises(InvalidArgument, match="Shape"):
        theorem1_statistics(sgd, flow, sgd.theta[:, :2], tfs)
    flow2 = ReferenceFlow(**{**flow.__dict__, "times": flow.times + 0.5})
    with pytest.raises(InvalidArgument, match="times"):
        theorem1_statistics(sgd, flow2, sgd.theta, tfs)
