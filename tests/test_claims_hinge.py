"""The hinge claim (mfcheck.claims.hinge): the region fits and the whole-grid comparison on synthetic
surfaces, then the claim on SGD at smoke sizes: the gate's correct steps are not rejected, a broken
step whose error grows as ε → 0 is."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mfcheck.app.gate.examples import CORRECT_STEPS
from mfcheck.app.gate.protocol import as_rule
from mfcheck.claims import CLAIMS, get_claim
from mfcheck.claims.base import CheckContext
from mfcheck.claims.hinge import SIZES, Grid, cell_table, fit_region, judge
from mfcheck.claims.tiers import get_tier
from mfcheck.dynamics.broken import BROKEN
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import default_experiment
from mfcheck.reference import build_reference
from mfcheck.report import write_report
from mfcheck.stats.results import decide

D, J = 3, 17
GRID = Grid(N=tuple(2**k for k in range(4, 13)), eps=tuple(2.0**-k for k in range(4, 13)), kink=16, replicates=64)


def _table(surface, rng, grid: Grid = GRID, sd: float = 0.4) -> pd.DataFrame:
    """Replicates S = surface(N, ε) · exp(sd · g) on every cell of ``grid``."""
    rows = [{"N": N, "eps": eps, "replicate": r, "test_functions": surface(N, eps) * math.exp(sd * rng.standard_normal())}
            for N in grid.N for eps in grid.eps for r in range(grid.replicates)]
    return pd.DataFrame(rows)


def _judged(surface, rng, grid: Grid = GRID, reference_error: float = 1e-6, **kwargs):
    cells = cell_table(_table(surface, rng, grid), D=D, J=J, kink=grid.kink, reference_error=reference_error)
    return decide([judge(cells, **kwargs)])[0]


L_OWN = math.sqrt(D + math.log(J))


def hinge(N, eps):
    return 0.1 * math.sqrt(max(1 / N, eps)) * L_OWN


def added(N, eps):
    return 0.1 * math.sqrt(1 / N + eps) * L_OWN


def eps_growth(N, eps):
    """N^{−0.7} ε^{−0.2}: along Nε fixed it decays like (1/N)^{1/2}, and it grows as ε → 0."""
    return 0.1 * N**-0.7 * eps**-0.2


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def test_the_exact_hinge_passes_with_its_evidence(rng):
    r = _judged(hinge, rng)
    assert r.verdict == "pass", r.message
    assert all(e.holds for e in r.evidence) and len(r.evidence) == 4
    assert abs(r.estimates["N-region exponent in 1/N"]["estimate"] - 0.5) < 0.05
    assert abs(r.estimates["N-region exponent in ε"]["estimate"]) < 0.05
    models = r.details["models"]
    assert models["hinge"]["delta_aic"] == 0 and models["hinge"]["lack_of_fit_p"] > 0.001
    assert models["power"]["lack_of_fit_p"] < 1e-6  # a single power law cannot bend at the kink


def test_the_sum_passes_and_the_hinge_lack_of_fit_sees_it(rng):
    """√(1/N + ε) is within √2 of the hinge: the claim holds, and the (uncounted) lack-of-fit test of the exact hinge rejects it."""
    r = _judged(added, rng)
    assert r.verdict == "pass", r.message
    lack = next(t for t in r.tests if t.name.startswith("lack of fit"))
    assert lack.p_value < 1e-6 and not lack.counted and not lack.rejected
    assert r.details["models"]["sum"]["delta_aic"] == 0


def test_an_error_that_grows_as_eps_shrinks_fails(rng):
    r = _judged(eps_growth, rng)
    assert r.verdict == "fail"
    rejected = [t.name for t in r.tests if t.rejected]
    assert any(name.startswith("N-region: no growth as ε → 0") for name in rejected)
    assert r.details["models"]["power"]["delta_aic"] == 0  # the data prefer the power law without a hinge


def test_an_error_that_grows_with_N_beyond_the_kink_fails(rng):
    r = _judged(lambda N, eps: 0.1 * N**0.2 * eps**0.7, rng)
    assert r.verdict == "fail"
    assert any(t.rejected and t.name.startswith("ε-region: no growth as N → ∞") for t in r.tests)


def test_a_dependence_on_the_other_variable_leaves_the_evidence_lacking(rng):
    """Decaying faster than the hinge does not fail the bound, but the N-region is then not flat in ε: no pass."""
    r = _judged(lambda N, eps: 0.1 * N**-0.5 * eps**0.3 if N * eps < 1 else hinge(N, eps), rng)
    assert r.verdict == "unresolved"
    assert not next(e for e in r.evidence if e.name.startswith("N-region: flat")).holds


def test_few_replicates_are_unresolved_with_a_recommendation(rng):
    grid = Grid(N=(16, 64, 256, 1024), eps=tuple(4.0**-k for k in range(2, 6)), kink=4, replicates=4)
    r = _judged(hinge, rng, grid=grid)
    assert r.verdict == "unresolved" and r.replicates > 4, (r.message, r.replicates)


def test_unresolved_cells_leave_the_claim_unjudged(rng):
    r = _judged(hinge, rng, reference_error=1.0)
    assert r.verdict == "unresolved" and r.tests == () and "refine the reference" in r.unresolved
    cells = cell_table(_table(hinge, rng), D=D, J=J, kink=16, reference_error=0.0)
    cells["resolved"] = (cells["N"] == 16) | (cells["region"] != "N")  # the N-region's resolved cells all at one N
    r = judge(cells)
    assert r.tests == () and "N-region" in r.unresolved and "ε-region" not in r.unresolved


def test_region_fit_arguments(rng):
    cells = cell_table(_table(hinge, rng), D=D, J=J, kink=16, reference_error=0.0)
    with pytest.raises(InvalidArgument, match="at least 3 cells"):
        fit_region(cells.iloc[:2], "log_own")
    with pytest.raises(InvalidArgument, match="independently"):
        fit_region(cells[cells["N"] == 16], "log_own")
    with pytest.raises(InvalidArgument, match="columns"):
        cell_table(pd.DataFrame({"N": [1]}), D=D, J=J, kink=4, reference_error=0.0)


def test_the_declaration():
    claim = get_claim("hinge")
    assert claim is CLAIMS["hinge"] and claim.parts == {"step", "init"} and claim.reads_reference and claim.outside_gate
    assert claim.test_count == 4 and claim.own_setting is None
    for name, grid in SIZES.items():
        assert len(grid.N) == len(grid.eps) and grid.replicates >= 12
    assert len(SIZES["full"].N) >= 5 and len(SIZES["ci"].N) < len(SIZES["full"].N)


# -- on SGD, smoke sizes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_context():
    experiment = default_experiment(log2_M=10)
    return CheckContext(experiment=experiment, tier=get_tier("smoke"), reference=build_reference(experiment))


@pytest.mark.parametrize("name", list(CORRECT_STEPS))
def test_the_gates_correct_steps_are_not_rejected(smoke_context, name):
    r = decide([get_claim("hinge").run(replace(smoke_context, rule=as_rule(CORRECT_STEPS[name])))])[0]
    assert r.verdict != "fail", r.message


def test_a_step_not_scaled_by_eps_is_rejected(smoke_context, tmp_path):
    """``sqrt_step`` (the step √s): the particles run to time T/√ε, so the error does not vanish along the limit."""
    claim = get_claim("hinge")
    context = claim.inject(smoke_context)
    assert context.rule.name == BROKEN["sqrt_step"].name
    r = decide([claim.run(context)])[0]
    assert r.verdict == "fail", r.message
    write_report(claim, r, context, tmp_path)
    text = (tmp_path / "hinge" / "report.md").read_text()
    assert "Verdict: FAIL" in text and "## The whole grid: which shape" in text
    assert (tmp_path / "hinge" / "heatmap.png").stat().st_size > 10_000 and (tmp_path / "hinge" / "regions.png").exists()
