"""The batched least squares of mfcheck.stats.regression against statsmodels (the estimators it restates)."""

import numpy as np
import pytest
import statsmodels.api as sm

from mfcheck.errors import InvalidArgument
from mfcheck.seeds import Streams
from mfcheck.stats.regression import fit_line


def _data():
    rng = Streams(7).child("regression").generator("data", 0)
    x = np.repeat(np.log(1.0 / np.array([16.0, 32, 64, 128, 256])), 12)
    groups = np.repeat(np.arange(5), 12)
    y = 0.3 + 0.5 * x + rng.normal(size=(3, x.size)) * (1.0 + np.abs(x) / 5) + rng.normal(size=(3, 5))[:, groups]
    return x, y, groups


@pytest.mark.parametrize("cov", ["HC3", "cluster"])
def test_fit_line_equals_statsmodels_for_every_resample(cov):
    x, y, groups = _data()
    fit = fit_line(x, y, cov=cov, groups=groups)
    for b in range(y.shape[0]):
        kw = {"cov_type": "HC3"} if cov == "HC3" else {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
        ref = sm.OLS(y[b], sm.add_constant(x)).fit(**kw)
        np.testing.assert_allclose(fit.params[b], ref.params, rtol=1e-10)
        np.testing.assert_allclose(fit.cov[b], ref.cov_params(), rtol=1e-9)
    assert fit.df == (x.size - 2 if cov == "HC3" else 4)


def test_fit_line_refuses_bad_input():
    with pytest.raises(InvalidArgument, match="cluster"):
        fit_line(np.arange(5.0), np.arange(5.0), cov="cluster")
    with pytest.raises(InvalidArgument, match="HC3"):
        fit_line(np.arange(5.0), np.arange(5.0), cov="HC1")
    with pytest.raises(InvalidArgument, match="last axis"):
        fit_line(np.arange(5.0), np.arange(4.0))
