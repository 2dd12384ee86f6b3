"""The PyTorch variants of mfcheck.frameworks.torch_variants and the report of `mfcheck reproduce frameworks`.

Cheap: one or two TorchStep calls on tiny inputs against the harness's reference_step, and the report
writer on a fake result (the gate itself runs in `mfcheck reproduce frameworks`, not here)."""

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mfcheck.app.gate import reference_step  # noqa: E402
from mfcheck.frameworks import torch_variants as tv  # noqa: E402
from mfcheck.frameworks.torch_step import TorchStep  # noqa: E402
from mfcheck.model.experiment import default_experiment  # noqa: E402

R, N, D, S, LAM, BETA = 3, 5, 3, 0.05, 0.5, 4.0
RTOL, ATOL = 1e-5, 1e-6  # float32 rounding of one step on θ of order 1


@pytest.fixture(scope="module")
def neuron():
    return default_experiment(log2_M=10).neuron


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    return (0.5 * rng.standard_normal((R, N, D)), rng.standard_normal((R, D)), rng.standard_normal(R),
            rng.standard_normal((R, N, D)))


def _steps(impl, neuron, data, noisy: bool, k: int = 1):
    """k steps of ``impl`` from θ^0 on the same sample (and noise), as the gate chains them."""
    theta, x, y, g = data
    kw = {"noise": g, "lam": LAM, "beta": BETA} if noisy else {}
    for _ in range(k):
        theta = impl(theta, x, y, S, neuron, **kw)
    return theta


def _same(a, b) -> bool:
    return np.allclose(a, b, rtol=RTOL, atol=ATOL)


def test_catalogue_shape():
    assert set(tv.CORRECT) == {"float32", "folded", "functional"}
    assert set(tv.MUTANTS) == {"sqrt_n_output", "lr_unscaled", "momentum", "adam", "weight_decay_wrong", "float16"}
    assert tv.PARTICLES == "hidden.weight"
    for f in (*tv.CORRECT.values(), *tv.MUTANTS.values()):
        assert f.__doc__ and ("Correct" in f.__doc__ or "Wrong" in f.__doc__)


@pytest.mark.parametrize("name", [*tv.CORRECT, *tv.MUTANTS])
def test_factory_builds_and_steps(name, neuron, data):
    factory = {**tv.CORRECT, **tv.MUTANTS}[name]
    model, step = factory(4, 3, 0.01, lam=0.5, beta=4.0)
    assert isinstance(model, torch.nn.Module) and callable(step)
    assert tuple(model.get_parameter(tv.PARTICLES).shape) == (4, 3)
    impl = TorchStep(factory, tv.PARTICLES)
    assert impl.not_applicable == {}  # every claim runs, the coupled noisy one included
    impl.prepare(neuron, D)  # the layout and the one-unit σ* check (float16 within its tolerance)
    for noisy in (False, True):
        out = _steps(impl, neuron, data, noisy)
        assert out.shape == (R, N, D) and np.all(np.isfinite(out))


@pytest.mark.parametrize("noisy", [False, True])
@pytest.mark.parametrize("name", list(tv.CORRECT))
def test_correct_variants_equal_reference_step(name, noisy, neuron, data):
    impl = TorchStep(tv.CORRECT[name], tv.PARTICLES)
    for k in (1, 2):
        assert _same(_steps(impl, neuron, data, noisy, k), _steps(reference_step, neuron, data, noisy, k)), (name, noisy, k)


@pytest.mark.parametrize("noisy", [False, True])
@pytest.mark.parametrize("name", ["sqrt_n_output", "lr_unscaled", "adam", "float16"])
def test_mutants_differ_from_reference_step(name, noisy, neuron, data):
    impl = TorchStep(tv.MUTANTS[name], tv.PARTICLES)
    assert not _same(_steps(impl, neuron, data, noisy), _steps(reference_step, neuron, data, noisy))


@pytest.mark.parametrize("noisy", [False, True])
def test_momentum_equals_first_step_then_differs(noisy, neuron, data):
    """torch's momentum buffer starts at the first gradient, so the first step is plain SGD's; the second is not."""
    impl = TorchStep(tv.momentum, tv.PARTICLES)
    assert _same(_steps(impl, neuron, data, noisy, 1), _steps(reference_step, neuron, data, noisy, 1))
    impl = TorchStep(tv.momentum, tv.PARTICLES)
    assert not _same(_steps(impl, neuron, data, noisy, 2), _steps(reference_step, neuron, data, noisy, 2))


def test_weight_decay_wrong_only_seen_with_noise(neuron, data):
    """λ = 0 in the noiseless case: weight decay 2λ equals 2λ/N; with λ > 0 it is N times too strong."""
    impl = TorchStep(tv.weight_decay_wrong, tv.PARTICLES)
    assert _same(_steps(impl, neuron, data, False), _steps(reference_step, neuron, data, False))
    impl = TorchStep(tv.weight_decay_wrong, tv.PARTICLES)
    assert not _same(_steps(impl, neuron, data, True), _steps(reference_step, neuron, data, True))


def test_float16_parameters_are_half(neuron, data):
    model, _ = tv.float16(4, 3, 0.01)
    assert model.get_parameter(tv.PARTICLES).dtype == torch.float16


# -- the report ---------------------------------------------------------------------------------


class _Result:
    def __init__(self, claim, verdict, p):
        self.claim, self.verdict, self.min_p_adjusted, self.decided_by = claim, verdict, p, "test"


class _Verification:
    def __init__(self, verdicts: dict, exit_code: int):
        self.results = [_Result(c, v, p) for c, (v, p) in verdicts.items()]
        self.not_applicable = ()
        self.exit_code = exit_code


def test_report_from_fake_result(tmp_path):
    from mfcheck.app.reproduce.frameworks import _row, catalogue, summarize, write_report

    names = [c[0] for c in catalogue()]
    assert names[0] == "reference_step" and set(tv.CORRECT) | set(tv.MUTANTS) <= set(names)
    ok = _Verification({"theorem1_risk": ("pass", 0.4), "azuma": ("pass", 0.6)}, 0)
    bad = _Verification({"theorem1_risk": ("fail", 1e-4), "azuma": ("unresolved", math.nan)}, 1)
    unresolved = _Verification({"theorem1_risk": ("pass", 0.4), "azuma": ("unresolved", math.nan)}, 3)
    rows = [_row("reference_step", "reference", "ref", ok, seconds=1.0),
            _row("float32", "correct", "c", unresolved, seconds=2.0),
            _row("folded", "correct", "c2", bad, seconds=2.0),
            _row("adam", "mutant", "m", bad, seconds=3.0),
            _row("momentum", "mutant", "m2", ok, seconds=3.0),
            _row("float16", "mutant", "m3", error="the step returned NaN", seconds=0.5)]
    summary = summarize(rows, tier="smoke", alpha=0.05, seed=11, command="mfcheck reproduce frameworks --tier smoke --out X")
    assert summary["mutants_caught"] == ["adam", "float16"]
    assert summary["mutants_missed"] == ["momentum"]
    assert summary["correct_rejected"] == ["folded"]
    assert summary["correct_passed"] == ["reference_step"]
    assert not summary["ok"]
    out = tmp_path / "frameworks"
    write_report(out, summary)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "summary.json"]
    doc = json.loads((out / "summary.json").read_text())
    assert doc["tier"] == "smoke" and doc["alpha"] == 0.05 and len(doc["rows"]) == 6
    adam = next(r for r in doc["rows"] if r["name"] == "adam")
    assert adam["verdict"] == "fail" and adam["exit_code"] == 1 and adam["failed"] == {"theorem1_risk": 1e-4}
    assert adam["unresolved"] == ["azuma"]
    text = (out / "README.md").read_text()
    assert "mfcheck reproduce frameworks --tier smoke --out X" in text
    assert "a mutant is *caught* when some claim fails" in text.replace("A mutant", "a mutant")
    assert "| adam | mutant |" in text and "theorem1_risk (0.0001)" in text
    assert "| float32 | correct | c | unresolved (3) | yes |" in text
    assert "| float16 | mutant | m3 | error (2) | yes | implementation error" in text


def test_report_cli_registered():
    from mfcheck.app.reproduce.cli import build_parser

    args = build_parser().parse_args(["frameworks", "--tier", "ci", "--out", "/tmp/x", "--quiet"])
    assert (args.what, args.tier, args.out, args.quiet) == ("frameworks", "ci", "/tmp/x", True)
    assert build_parser().parse_args(["frameworks"]).tier == "smoke"
