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
