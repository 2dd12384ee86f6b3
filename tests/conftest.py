"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def smoke_reports(tmp_path_factory):
    """``mfcheck verify --tier smoke`` with the command-line defaults: cells in parallel processes,
    cached (here in a temporary folder). Returns the exit code, the report folder and the cache."""
    from mfcheck.app.cli import main

    out = tmp_path_factory.mktemp("reports")
    cache = tmp_path_factory.mktemp("cache")
    code = main(["verify", "--tier", "smoke", "--out", str(out), "--quiet", "--cache", str(cache)])
    return code, out, cache
