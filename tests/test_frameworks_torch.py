"""The PyTorch adapter (:mod:`mfcheck.frameworks.torch_step`): a user's network and training step
gated as written. Steps against the harness's own step, state along a run and between runs, the
claims a factory can be judged on, every refusal, the command line and the plugin."""

from __future__ import annotations

import cloudpickle
import numpy as np
import pytest

import torch_factories as F
from mfcheck.app.cli import main
from mfcheck.app.gate import ImplementationError, checked, gate, probe, reference_step
from mfcheck.claims.tiers import get_tier
from mfcheck.errors import InvalidArgument
from mfcheck.frameworks import adapter_of, parse_particles
from mfcheck.frameworks.particles import NOISY_CLAIMS, ParticleMap
from mfcheck.frameworks.torch_step import TorchStep
from mfcheck.model.experiment import default_experiment
from mfcheck.seeds import Streams

pytest_plugins = "pytester"

EXPERIMENT = default_experiment()
NEURON = EXPERIMENT.neuron
W = "hidden.weight"


@pytest.fixture
def data():
    rng = Streams(7).child("torch-adapter").generator("data")
    R, N, d = 3, 8, 3
    return {"theta": 0.5 * rng.standard_normal((R, N, d)), "x": rng.standard_normal((6, R, d)), "y": rng.standard_normal((6, R)),
            "g": rng.standard_normal((6, R, N, d))}


def _run(step, data, k, noisy=False, s=0.02):
    theta = data["theta"]
    for i in range(k):
        kw = {"noise": data["g"][i], "lam": 0.5, "beta": 4.0} if noisy else {}
        theta = step(theta, data["x"][i], data["y"][i], s, NEURON, **kw)
    return theta


@pytest.mark.parametrize("noisy", [False, True], ids=["noiseless", "noisy"])
def test_a_correct_network_takes_the_harness_s_steps(data, noisy):
    """Six steps of the user's float64 network and torch.optim.SGD are six protocol steps, to rounding."""
    got = _run(TorchStep(F.correct, W), data, 6, noisy)
    np.testing.assert_allclose(got, _run(reference_step, data, 6, noisy), atol=1e-12)


def test_float32_parameters_agree_to_float32_rounding(data):
    got = _run(TorchStep(F.correct32, W), data, 6)
    np.testing.assert_allclose(got, _run(reference_step, data, 6), atol=1e-5)


def test_optimizer_state_lives_along_a_run_and_restarts_with_each_run(data):
    """Momentum 0.9: v ← 0.9 v + ∇, θ ← θ − lr v. Along a run the adapter keeps v; a call on other
    particles (a new run) starts from v = 0, so two runs from the same start agree."""
    step = TorchStep(F.momentum, W)
    first = _run(step, data, 4)
    again = _run(step, data, 4)
    np.testing.assert_array_equal(first, again)
    # by hand: SGD with momentum, from v = 0, on the protocol's gradient step
    theta, v = data["theta"].copy(), np.zeros_like(data["theta"])
    for i in range(4):
        grad = (theta - reference_step(theta, data["x"][i], data["y"][i], 0.02, NEURON)) / (0.02 * theta.shape[1])
        v = 0.9 * v + grad
        theta = theta - 0.02 * theta.shape[1] * v
    np.testing.assert_allclose(first, theta, atol=1e-12)
    assert not np.allclose(first, _run(reference_step, data, 4))


def test_the_claims_a_factory_is_judged_on():
    assert TorchStep(F.correct, W).not_applicable == {}
    assert set(TorchStep(F.noiseless_only, W).not_applicable) == set(NOISY_CLAIMS)
    assert set(TorchStep(F.own_noise, W).not_applicable) == {"theorem2_coupling"}


def test_a_step_that_draws_its_own_noise_repeats_its_run(data):
    step = TorchStep(F.own_noise, W)
    a, b = _run(step, data, 3, noisy=True), _run(step, data, 3, noisy=True)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, _run(reference_step, data, 3, noisy=True))


def test_a_pickled_copy_starts_afresh_and_steps_alike(data):
    step = TorchStep(F.momentum, W)
    _run(step, data, 2)
    copy = cloudpickle.loads(cloudpickle.dumps(step))
    np.testing.assert_array_equal(_run(copy, data, 3), _run(TorchStep(F.momentum, W), data, 3))


def test_theta_as_a_b_w_from_three_parameters():
    """θ = (a, w, b) over an output layer, the hidden weights and their biases, against σ* = a σ(<w, x> + b)."""
    from mfcheck.model.activations import erf_sigmoid
    from mfcheck.model.neurons import AffineNeuron

    import torch

    class Affine(torch.nn.Module):
        def __init__(self, N, d):
            super().__init__()
            self.hidden = torch.nn.Linear(d, N, dtype=torch.float64)
            self.out = torch.nn.Linear(N, 1, bias=False, dtype=torch.float64)

        def forward(self, x):
            return self.out(torch.erf(self.hidden(x))).squeeze(-1) / self.hidden.weight.shape[0]

    def make(N, d, s):
        model = Affine(N, d)
        opt = torch.optim.SGD(model.parameters(), lr=s * N)

        def step(x, y):
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()

        return model, step

    neuron = AffineNeuron(erf_sigmoid())
    rng = np.random.default_rng(3)
    theta, x, y = rng.standard_normal((2, 5, 5)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    step = TorchStep(make, {"a": "out.weight", "w": "hidden.weight", "b": "hidden.bias"})
    np.testing.assert_allclose(step(theta, x, y, 0.05, neuron), reference_step(theta, x, y, 0.05, neuron), atol=1e-12)


@pytest.mark.parametrize("factory, particles, words", [
    (F.correct, "hidden.kernel", "has no parameter 'hidden.kernel'"),
    (F.trainable_bias, W, "trains parameters that are not particles: hidden.bias"),
    (F.tanh_activation, W, "does not compute σ*"),
    (F.not_a_pair, W, "must return (torch.nn.Module, step)"),
    (F.reshaping, W, "the step changed parameter 'hidden.weight'"),
    (F.retyping, W, "torch.float64, cpu before, (8, 3), torch.float32, cpu after"),
    (F.nan_step, W, "non-finite value"),
])
def test_bad_networks_are_refused_with_the_problem_named(data, factory, particles, words):
    step = checked(TorchStep(factory, particles))
    with pytest.raises(ImplementationError, match=None) as info:
        step(data["theta"], data["x"][0], data["y"][0], 0.02, NEURON)
    assert words in str(info.value)


def test_the_particles_must_name_w_or_a_w_b():
    for bad in ({}, {"w": "x", "a": "y"}, {"v": "x"}, 3, {"w": ""}):
        with pytest.raises(InvalidArgument, match="particles"):
            ParticleMap.of(bad)
    assert parse_particles("a=out.weight, w=hidden.weight,b=hidden.bias") == {"a": "out.weight", "w": "hidden.weight",
                                                                             "b": "hidden.bias"}
    with pytest.raises(InvalidArgument, match="framework"):
        adapter_of("tensorflow", F.correct, W)


def test_the_probe_and_the_gate_check_sigma_star_before_any_work():
    with pytest.raises(ImplementationError, match="does not compute σ"):
        probe(TorchStep(F.tanh_activation, W), EXPERIMENT)


def test_a_gate_run_and_its_not_applicable_claims():
    """A noiseless-only factory: no noisy call in the probe, its gate runs, and the noisy claims are
    named as not applicable in the table (and refused when asked for)."""
    v = gate(TorchStep(F.noiseless_only, W), get_tier("smoke"), claims=["azuma"])
    assert v.exit_code == 0
    assert "temperature: not applicable: the factory builds noiseless steps only" in v.table()
    with pytest.raises(InvalidArgument, match="does not apply"):
        gate(TorchStep(F.noiseless_only, W), get_tier("smoke"), claims=["temperature"])


def test_the_gate_rejects_momentum():
    assert gate(TorchStep(F.momentum, W), get_tier("smoke"), claims=["azuma"]).exit_code == 1


# -- the command line --------------------------------------------------------------------------------


@pytest.fixture
def here(monkeypatch):
    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).parent))


@pytest.mark.parametrize("argv, words", [
    (["--torch", "torch_factories:correct"], "--torch needs --particles"),
    (["--torch", "torch_factories:correct", "--impl", "gate_steps:crash"], "give one of --impl, --torch, --jax"),
    (["--impl", "gate_steps:crash", "--particles", W], "`--particles` names the parameters of a --torch or --jax factory"),
    (["--torch", "torch_factories:correct", "--particles", "hidden.kernel"], "has no parameter 'hidden.kernel'"),
    (["--torch", "torch_factories:tanh_activation", "--particles", W], "does not compute σ*"),
    (["--torch", "torch_factories:nan_step", "--particles", W], "non-finite"),
])
def test_the_command_refuses_bad_torch_input_with_exit_2(here, capsys, argv, words):
    assert main(["gate", *argv, "--tier", "smoke", "--no-cache", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_the_command_gates_a_torch_factory(here, capsys):
    code = main(["gate", "--torch", "torch_factories:noiseless_only", "--particles", W, "--tier", "smoke", "--claims", "azuma",
                 "--no-cache", "--quiet", "--executor", "serial"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "torch:torch_factories.noiseless_only" in out


def test_the_plugin_gates_a_torch_factory(pytester):
    pytester.makepyfile(mynet=(__import__("pathlib").Path(__file__).parent / "torch_factories.py").read_text())
    pytester.makepyfile(test_mynet='''
import pytest

@pytest.mark.mfcheck_gate(torch="mynet:noiseless_only", particles="hidden.weight", tier="smoke", claims=["azuma"])
def test_my_network_is_mean_field():
    pass

@pytest.mark.mfcheck_gate(torch="mynet:momentum", particles="hidden.weight", tier="smoke", claims=["azuma"])
def test_momentum_is_not():
    pass
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")  # the plugin loads from its entry point, as for a user
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_momentum_is_not*", "*violates 1 of 1 claims*"])


def test_the_command_gates_a_jax_factory_and_refuses_a_wrong_activation(here, capsys):
    code = main(["gate", "--jax", "jax_factories:make", "--particles", "hidden", "--tier", "smoke", "--claims", "azuma",
                 "--no-cache", "--quiet", "--executor", "serial"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "jax:jax_factories.make" in out
    assert main(["gate", "--jax", "jax_factories:make_tanh", "--particles", "hidden", "--tier", "smoke", "--no-cache", "--quiet"]) == 2
    assert "does not compute σ*" in capsys.readouterr().err
