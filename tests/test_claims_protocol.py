"""The claim protocol (mfcheck.claims.base): every claim declares everything the rest of mfcheck
reads, the registry and the gate's lists follow from the declarations, a claim with its own
setting refuses a user experiment, and the packages import one way only."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

import mfcheck
from mfcheck.app import gate
from mfcheck.app.verify import verify
from mfcheck.claims import CLAIMS, get_claim, select
from mfcheck.claims.base import PARTS, Check, CheckContext, Claim
from mfcheck.claims.rate import RateClaim
from mfcheck.claims.tiers import get_tier
from mfcheck.errors import InvalidArgument
from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.model.experiment import Experiment, default_experiment
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems import teacher_population
from mfcheck.report import write_report
from mfcheck.stats.results import ClaimResult, Test, decide

LAYERS = ("errors", "_validation", "seeds", "runtime", "model", "dynamics", "reference", "stats", "claims", "report", "frameworks",
          "app")
"""The layers of mfcheck, lowest first: a module imports only from its own layer and the ones below."""


@pytest.mark.parametrize("claim", CLAIMS.values(), ids=list(CLAIMS))
def test_every_claim_declares_every_field(claim):
    assert isinstance(claim, Claim) and dataclasses.is_dataclass(claim)
    assert claim.name and claim.title and claim.statement and claim.alternative
    assert {"smoke", "ci", "full"} <= set(claim.sizes)
    for size in claim.sizes.values():
        assert dataclasses.is_dataclass(size) and type(size).__dataclass_params__.frozen
        assert hasattr(size, "replicates") != claim.deterministic
    assert claim.parts <= set(PARTS)
    assert isinstance(claim.reads_reference, bool) and isinstance(claim.deterministic, bool)
    # a claim that judges an implementation adds tests to the family; one that runs none (free_energy) only self-checks the harness
    assert isinstance(claim.test_count, int) and (claim.test_count > 0) == bool(claim.parts)
    assert claim.own_setting is None or claim.own_setting.startswith("its own")
    if isinstance(claim, RateClaim):
        assert claim.inject is None and claim.sweep.name and claim.statistic
    else:
        assert isinstance(claim, Check) and callable(claim.compute)
        assert (claim.inject is None) == claim.deterministic


def test_the_registry_is_in_the_declared_order():
    orders = [claim.order for claim in CLAIMS.values()]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert [c.name for c in select(["temperature", "theorem1_risk"])] == ["theorem1_risk", "temperature"]
    with pytest.raises(InvalidArgument, match="theorem9"):
        select(["theorem9"])
    with pytest.raises(InvalidArgument, match="claim"):
        get_claim("theorem9")


def test_the_lists_of_the_gate_follow_from_the_declarations():
    assert gate.STEP_CLAIMS == ("theorem1_test_functions", "theorem1_risk", "coupling_lemma", "theorem2_test_functions",
                                "theorem2_risk", "theorem2_coupling", "azuma", "gronwall", "energy_decay", "fixed_points",
                                "temperature")
    assert gate.INIT_CLAIMS == ("mcdiarmid",)
    assert {n for n, c in CLAIMS.items() if c.outside_gate} == {"hinge", "dimension_sweep"}
    assert {n for n, c in CLAIMS.items() if c.reads_reference} == {"theorem1_test_functions", "theorem1_risk", "coupling_lemma", "hinge",
                                                                         "mcdiarmid"}


def test_a_check_declares_the_cells_it_maps():
    """A check whose module calls map_cells declares ``maps_cells`` (verify calls it in its own process,
    so that its cells go to the workers and the cache); every other check runs whole in one worker, beside the sweeps."""
    for name, claim in CLAIMS.items():
        if isinstance(claim, RateClaim):
            continue
        source = Path(mfcheck.__file__).parent.joinpath("claims", f"{claim.compute.__module__.rsplit('.', 1)[-1]}.py").read_text()
        calls = any(isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "map_cells"
                    for node in ast.walk(ast.parse(source)))
        assert claim.maps_cells == calls, name
    assert {n for n, c in CLAIMS.items() if c.maps_cells} == {"hinge", "dimension_sweep", "temperature"}


def test_theorems_1_and_2_are_one_family():
    rate = [c for c in CLAIMS.values() if isinstance(c, RateClaim)]
    assert [c.name for c in rate] == ["theorem1_test_functions", "theorem1_risk", "coupling_lemma",
                                      "theorem2_test_functions", "theorem2_risk", "theorem2_coupling"]
    sweeps = {c.sweep.name: c.sweep for c in rate}
    assert set(sweeps) == {"theorem1", "theorem2"}
    for one, two in zip(rate[:3], rate[3:]):
        assert (one.statistic, one.statement, one.scale) == (two.statistic, two.statement, two.scale)


def _custom_experiment() -> Experiment:
    problem = teacher_population(16, 2, tanh_sum((1.0,), (2.0,)), seed=5)
    return Experiment(problem=problem, neuron=InnerNeuron(erf_sigmoid()), rho0=GaussianInit(2, 0.5), log2_M=6)


@pytest.mark.parametrize("name", ["temperature", "free_energy", "theorem2_risk"])
def test_a_claim_with_its_own_setting_refuses_a_user_experiment(name):
    with pytest.raises(InvalidArgument, match=rf"{name} runs on its own D = 1 population; it cannot take `experiment`"):
        verify(get_tier("smoke"), experiment=_custom_experiment(), claims=[name], progress=False)
    claim = get_claim(name)
    claim.check_experiment(default_experiment(seed=7, log2_M=6))  # a seed is all it takes from the experiment
    if isinstance(claim, Check):
        context = CheckContext(experiment=_custom_experiment(), tier=get_tier("smoke"), reference=None)
        with pytest.raises(InvalidArgument, match="cannot take `experiment`"):
            claim.run(context)


def test_a_claim_on_the_users_experiment_takes_any():
    for claim in CLAIMS.values():
        if claim.own_setting is None:
            claim.check_experiment(_custom_experiment())


def test_a_claim_without_a_renderer_of_its_own_gets_the_generic_report(tmp_path):
    claim = dataclasses.replace(get_claim("azuma"), name="new_claim", title="A new claim")
    [result] = decide([ClaimResult(claim="new_claim", verdict="unresolved", alpha=0.05, tests=(Test("its test", 0.5),),
                                   estimates={"its estimate": {"estimate": 1.0, "ci": [0.5, 1.5]}})])
    context = CheckContext(experiment=default_experiment(log2_M=6), tier=get_tier("smoke"), reference=None)
    write_report(claim, result, context, tmp_path)
    text = (tmp_path / "new_claim" / "report.md").read_text()
    assert text.startswith("# A new claim\n") and "Verdict: PASS" in text and claim.statement in text
    assert "| its estimate | 1 | [0.5, 1.5] |" in text and "| its test | implementation | 0.5 | 0.5 | no |" in text
    assert json.loads((tmp_path / "new_claim" / "summary.json").read_text())["claim"] == "new_claim"


def _layer(module: str) -> int:
    """The layer of ``mfcheck.<part>...``; -1 for the package root (it holds only ``__version__``)."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else -1


ENTRY_POINT = "mfcheck.__main__"
"""``python -m mfcheck``: it runs the command line, above every layer."""


def test_imports_run_one_way_between_the_layers():
    root = Path(mfcheck.__file__).parent
    upward = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(("mfcheck", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mfcheck"):
                targets = [f"mfcheck.{a.name}" for a in node.names] if node.module == "mfcheck" else [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("mfcheck")]
            else:
                continue
            if module != ENTRY_POINT:
                upward += [f"{module} -> {t} (line {node.lineno})" for t in targets if _layer(t) > _layer(module)]
    assert upward == []
