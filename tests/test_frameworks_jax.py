"""The JAX adapter (:mod:`mfcheck.frameworks.jax_step`): a user's factory as a gate step.

The factories are in :mod:`jax_factories`. A correct factory must give, call by call and along a
run, the protocol's correct step (:func:`mfcheck.app.gate.reference_step`) to its dtype's
precision; a stateful optimizer keeps its state along a run and only there; each broken input is
refused with a message naming the problem; and the gate passes the correct factory and rejects Adam.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

import cloudpickle  # noqa: E402
import jax  # noqa: E402
import jax_factories as F  # noqa: E402

from mfcheck.app.gate import gate, reference_step  # noqa: E402
from mfcheck.app.gate.protocol import ImplementationError, checked  # noqa: E402
from mfcheck.claims.tiers import get_tier  # noqa: E402
from mfcheck.errors import InvalidArgument  # noqa: E402
from mfcheck.frameworks import adapter_of  # noqa: E402
from mfcheck.frameworks.jax_step import JaxStep, param_names  # noqa: E402
from mfcheck.frameworks.particles import COUPLED_NOISE_CLAIMS, NOISY_CLAIMS  # noqa: E402
from mfcheck.model.activations import erf_sigmoid  # noqa: E402
from mfcheck.model.experiment import default_experiment  # noqa: E402
from mfcheck.model.neurons import AffineNeuron  # noqa: E402
from mfcheck.seeds import Streams  # noqa: E402

NEURON = default_experiment().neuron
R, N, d = 3, 5, 3
S = 0.05
LAM, BETA = 0.5, 4.0
FLOAT32 = 2e-6  # float32 rounding of θ of order one, a few operations deep


def _inputs(tag, steps=1, D=d):
    rng = Streams(0).child("test-jax", tag).generator("data")
    theta = 0.5 * rng.standard_normal((R, N, D))
    xs, ys = rng.standard_normal((steps, R, d)), rng.standard_normal((steps, R))
    gs = rng.standard_normal((steps, R, N, D))
    return theta, xs, ys, gs


def _noisy(k, gs):
    return {"noise": gs[k], "lam": LAM, "beta": BETA}


@pytest.mark.parametrize("noisy", [False, True])
@pytest.mark.parametrize(("factory", "particles"), [(F.make, "hidden"), (F.make_nested, "layer1/w")])
def test_one_call_is_the_reference_step(factory, particles, noisy):
    theta, xs, ys, gs = _inputs("one")
    kw = _noisy(0, gs) if noisy else {}
    got = JaxStep(factory, particles)(theta, xs[0], ys[0], S, NEURON, **kw)
    want = reference_step(theta, xs[0], ys[0], S, NEURON, **kw)
    assert got.dtype == np.float64 and got.shape == theta.shape
    np.testing.assert_allclose(got, want, atol=FLOAT32, rtol=0)


@pytest.mark.parametrize("noisy", [False, True])
def test_affine_particles_are_the_reference_step(noisy):
    """θ = (a, w, b) in three parameters: vectors a, b and the columns of W."""
    neuron = AffineNeuron(erf_sigmoid())
    theta, xs, ys, gs = _inputs("affine", D=d + 2)
    kw = _noisy(0, gs) if noisy else {}
    step = JaxStep(F.make_affine, {"a": "out", "w": "hidden", "b": "bias"})
    np.testing.assert_allclose(step(theta, xs[0], ys[0], S, neuron, **kw), reference_step(theta, xs[0], ys[0], S, neuron, **kw),
                               atol=FLOAT32, rtol=0)


@pytest.mark.parametrize("noisy", [False, True])
def test_float64_factory_is_the_reference_step_to_rounding(noisy):
    """With x64 enabled inside the test only, a float64 network gives the reference to float64 rounding."""
    theta, xs, ys, gs = _inputs("float64")
    kw = _noisy(0, gs) if noisy else {}
    with jax.enable_x64(True):
        got = JaxStep(F.make_float64, "hidden")(theta, xs[0], ys[0], S, NEURON, **kw)
    np.testing.assert_allclose(got, reference_step(theta, xs[0], ys[0], S, NEURON, **kw), atol=1e-12, rtol=0)


@pytest.mark.parametrize("noisy", [False, True])
def test_a_run_is_the_reference_run(noisy):
    steps = 6
    theta, xs, ys, gs = _inputs("run", steps)
    step = JaxStep(F.make, "hidden")
    got = want = theta
    for k in range(steps):
        kw = _noisy(k, gs) if noisy else {}
        got = step(got, xs[k], ys[k], S, NEURON, **kw)
        want = reference_step(want, xs[k], ys[k], S, NEURON, **kw)
    np.testing.assert_allclose(got, want, atol=steps * FLOAT32, rtol=0)


def test_momentum_keeps_its_state_along_a_run_and_restarts():
    """Heavy ball, m ← ∇ + 0.9 m, θ ← θ − sN m: the increment Δ_k = δ_k + 0.9 Δ_{k−1}, δ_k the plain
    SGD increment at θ_k. A call on θ that is not the last output starts a run: no momentum."""
    steps = 4
    theta, xs, ys, _ = _inputs("momentum", steps)
    step = JaxStep(F.make_momentum, "hidden")
    got, want, delta = theta, theta, np.zeros_like(theta)
    outputs = []
    for k in range(steps):
        got = step(got, xs[k], ys[k], S, NEURON)
        delta = (reference_step(want, xs[k], ys[k], S, NEURON) - want) + 0.9 * delta
        want = want + delta
        outputs.append(got)
        np.testing.assert_allclose(got, want, atol=(k + 1) * FLOAT32, rtol=0)
    again = step(theta, xs[0], ys[0], S, NEURON)  # θ^0 again: a new run, fresh optimizer state
    np.testing.assert_array_equal(again, outputs[0])
    assert not np.allclose(step(again, xs[1], ys[1], S, NEURON) - again,
                           reference_step(again, xs[1], ys[1], S, NEURON) - again, atol=1e-4)  # momentum again along it


def test_key_taking_step_repeats_its_runs_and_draws_standard_gaussians():
    """The adapter's keys come from θ^0: the same start repeats the run, another start another noise;
    (noisy − noiseless)/sqrt(4s/β) are standard Gaussians (the ridge term removed)."""
    steps = 3
    theta, xs, ys, _ = _inputs("key", steps)
    step = JaxStep(F.make_key, "hidden")
    kw = {"noise": np.zeros(theta.shape), "lam": LAM, "beta": BETA}  # the harness's Gaussians, unused by this step

    def run(th):
        out = []
        for k in range(steps):
            th = step(th, xs[k], ys[k], S, NEURON, **kw)
            out.append(th)
        return out

    first, second = run(theta), run(theta)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    other = run(theta + 1e-3)[0] - reference_step(theta + 1e-3, xs[0], ys[0], S, NEURON, **kw)
    g = (first[0] - reference_step(theta, xs[0], ys[0], S, NEURON, **kw)) / np.sqrt(4 * S / BETA)
    assert not np.allclose(g, other / np.sqrt(4 * S / BETA), atol=0.1)
    assert abs(g.mean()) < 4 / np.sqrt(g.size) and abs(g.std() - 1) < 0.3
    replicates = g.reshape(R, -1)
    assert not np.allclose(replicates[0], replicates[1])  # each replicate its own key


def test_not_applicable():
    assert JaxStep(F.make, "hidden").not_applicable == {}
    assert set(JaxStep(F.make_noiseless, "hidden").not_applicable) == set(NOISY_CLAIMS)
    assert set(JaxStep(F.make_key, "hidden").not_applicable) == set(COUPLED_NOISE_CLAIMS)


def test_param_names_join_the_dict_keys():
    params = F.make_nested(4, 3, S)[0]
    assert list(param_names(params)) == ["layer1/w"]
    assert list(param_names({"b": 1.0, "a": {"x": 2.0, "y": 3.0}})) == ["a/x", "a/y", "b"]


@pytest.mark.parametrize(("factory", "noisy", "match"), [
    (F.make_tanh, False, "does not compute σ"),
    (F.make_misnamed, False, "no parameter 'hidden'"),
    (F.make_reshaping, False, "changed parameter 'hidden'"),
    (F.make_wrong_return, False, r"must return \(params, apply, optimizer, step\)"),
    (F.make_extra_leaf, False, "not particles: out"),
    (F.make_no_noise_argument, True, "takes neither `noise`"),
])
def test_bad_factories_are_refused(factory, noisy, match):
    theta, xs, ys, gs = _inputs("bad")
    kw = _noisy(0, gs) if noisy else {}
    step = JaxStep(factory, "hidden")
    with pytest.raises(InvalidArgument, match=match):
        step(theta, xs[0], ys[0], S, NEURON, **kw)
    with pytest.raises(ImplementationError, match=match):
        checked(JaxStep(factory, "hidden"))(theta, xs[0], ys[0], S, NEURON, **kw)


def test_non_finite_output_is_an_implementation_error():
    theta, xs, ys, _ = _inputs("nan")
    with pytest.raises(ImplementationError, match="non-finite"):
        checked(JaxStep(F.make_nan, "hidden"))(theta, xs[0], ys[0], S, NEURON)


def test_optimizer_and_params_are_checked():
    def no_optax(N, d, s):
        params, apply, _, step = F.make_noiseless(N, d, s)
        return params, apply, "sgd", step

    def integer_leaf(N, d, s):
        params, apply, opt, step = F.make_noiseless(N, d, s)
        return {**params, "count": 3}, apply, opt, step

    theta, xs, ys, _ = _inputs("checks")
    with pytest.raises(InvalidArgument, match="optax.GradientTransformation"):
        JaxStep(no_optax, "hidden")(theta, xs[0], ys[0], S, NEURON)
    with pytest.raises(InvalidArgument, match="'count'"):
        JaxStep(integer_leaf, "hidden")(theta, xs[0], ys[0], S, NEURON)


def test_cloudpickle_copy_gives_the_same_result():
    theta, xs, ys, gs = _inputs("pickle")
    step = JaxStep(F.make, "hidden")
    first = step(theta, xs[0], ys[0], S, NEURON, **_noisy(0, gs))  # something built: the copy must start without it
    copy = cloudpickle.loads(cloudpickle.dumps(step))
    assert copy._builds == {} and copy._run is None
    np.testing.assert_array_equal(copy(theta, xs[0], ys[0], S, NEURON, **_noisy(0, gs)), first)
    assert adapter_of("jax", F.make, "hidden").__name__ == step.__name__ == "jax:jax_factories.make"


def test_gate_passes_the_correct_factory():
    v = gate(JaxStep(F.make, "hidden"), get_tier("smoke"), claims=["azuma"])
    assert v.exit_code == 0, [r.message for r in v.results]


def test_gate_rejects_adam():
    v = gate(JaxStep(F.make_adam, "hidden"), get_tier("smoke"), claims=["energy_decay"])
    assert v.exit_code == 1, [r.message for r in v.results]
