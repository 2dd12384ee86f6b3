"""Shared pytest configuration: hypothesis profiles, the --mfcheck-tier option, strict numerics."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("full", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser):
    parser.addoption(
        "--mfcheck-tier",
        action="store",
        default="smoke",
        choices=("smoke", "ci", "full"),
        help="sweep size of the statistical theorem properties (default: smoke).",
    )


@pytest.fixture(scope="session")
def mfcheck_tier(request) -> str:
    return request.config.getoption("--mfcheck-tier")


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the test's node id: fixed across runs, different across tests."""
    import zlib

    return np.random.default_rng(np.random.SeedSequence(zlib.crc32(request.node.nodeid.encode())))


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread():
    """As ``mfcheck verify`` does: small per-step products run faster on one BLAS thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(autouse=True)
def _strict_floats():
    with np.errstate(all="raise", under="ignore"):
        yield
