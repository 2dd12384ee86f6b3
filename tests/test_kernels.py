"""mfcheck.dynamics.kernels: the compiled SGD blocks and activation pass against the numpy reference.

Every comparison is deterministic (fixed seeds, no statistics): the compiled path must give the
numpy loop's numbers up to floating-point rounding (1e-12 relative), for every activation family,
both neurons, noiseless and noisy, with a non-constant schedule.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfcheck.dynamics import kernels
from mfcheck.dynamics import sgd as sgd_module
from mfcheck.model.activations import Activation, bounded_sine, erf_sigmoid, piecewise_linear, relu, tanh_sum
from mfcheck.errors import InvalidArgument
from mfcheck.model.initial import GaussianInit
from mfcheck.dynamics.broken import BROKEN
from mfcheck.model.neurons import AffineNeuron, InnerNeuron
from mfcheck.model.observables import default_test_functions
from mfcheck.model.problems import teacher_population
from mfcheck.model.schedules import exponential_decay
from mfcheck.seeds import Streams
from mfcheck.dynamics.rules import MEAN_FIELD, Rule, mean_field_step
from mfcheck.dynamics.sgd import StandardRecord, run_sgd

ACTIVATIONS = [
    tanh_sum((1.0, -0.5), (1.0, 2.0), (0.0, 0.3)),
    erf_sigmoid(1.3, 0.7),
    bounded_sine(1.0, 2.0, 0.3),
    piecewise_linear(),
    relu(),
]
NEURONS = [InnerNeuron, AffineNeuron]
RTOL = 1e-12  # rounding only: the kernels reorder sums and fuse multiply-adds


def close(a, b, rtol=RTOL):
    if a.shape != b.shape:
        return False
    if a.size == 0:
        return True
    scale = max(1.0, float(np.max(np.abs(a))))
    return float(np.max(np.abs(a - b))) <= rtol * scale


@pytest.fixture(scope="module")
def pop():
    return teacher_population(n=40, d=3, teacher=tanh_sum((2.0,), (1.5,)), seed=1, noise=0.1)


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    kernels.warm_up()


def _runs(rule, pop, neuron):
    """The one driver on ``rule`` with each backend."""
    rho0 = GaussianInit(neuron.dim(pop.d), 0.5)
    kw = dict(N=9, eps=1 / 128, T=0.5, replicates=2, streams=Streams(5), schedule=exponential_decay(1.0, 0.7),
              record=StandardRecord(0.125, default_test_functions(neuron.dim(pop.d))[:2]))
    return run_sgd(pop, neuron, rho0, rule, backend="numpy", **kw), run_sgd(pop, neuron, rho0, rule, backend="numba", **kw)


def _same_result(a, b):
    assert np.array_equal(a.steps, b.steps) and np.array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.theta[:, 0], b.theta[:, 0])  # same θ^0
    assert close(a.theta, b.theta) and close(a.risk, b.risk) and close(a.f_means, b.f_means)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: a.family)
@pytest.mark.parametrize("neuron_type", NEURONS, ids=lambda t: t.__name__)
def test_noiseless_backends_agree(pop, activation, neuron_type):
    a, b = _runs(MEAN_FIELD, pop, neuron_type(activation))
    _same_result(a, b)
    assert not np.allclose(a.theta[:, -1], a.theta[:, 0])  # the particles moved


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: a.family)
@pytest.mark.parametrize("neuron_type", NEURONS, ids=lambda t: t.__name__)
def test_noisy_backends_agree(pop, activation, neuron_type):
    a, b = _runs(MEAN_FIELD.langevin(0.1, 5.0, c=2.0), pop, neuron_type(activation))
    _same_result(a, b)


def test_backends_agree_across_data_chunks_and_noise_blocks(pop, monkeypatch):
    """3072 steps cross the 2048-step data chunk inside a record interval; Gaussian blocks of 7 steps
    cross record points and chunk edges."""
    neuron = InnerNeuron(erf_sigmoid())
    rho0 = GaussianInit(3, 0.5)
    kw = dict(N=5, eps=1 / 4096, T=0.75, replicates=2, streams=Streams(8), record=StandardRecord(0.375), schedule=exponential_decay(1.0, 0.5))
    _same_result(run_sgd(pop, neuron, rho0, backend="numpy", **kw), run_sgd(pop, neuron, rho0, backend="numba", **kw))
    monkeypatch.setattr(sgd_module, "_NOISE_FLOATS", 2 * 5 * 3 * 7)
    rule = MEAN_FIELD.noisy(0.05, 10.0)
    _same_result(run_sgd(pop, neuron, rho0, rule, backend="numpy", **kw), run_sgd(pop, neuron, rho0, rule, backend="numba", **kw))


def test_a_broken_kernel_would_be_caught(pop):
    """Companion: the comparison above sees a one-step difference (the numpy loop with a mutant rule)."""
    neuron = InnerNeuron(erf_sigmoid())
    rho0 = GaussianInit(3, 0.5)
    kw = dict(N=9, eps=1 / 128, T=0.5, replicates=2, streams=Streams(5), record=StandardRecord(0.125))
    good = run_sgd(pop, neuron, rho0, backend="numba", **kw)
    bad = run_sgd(pop, neuron, rho0, BROKEN["no_factor_two"].rule, **kw)
    assert not close(good.theta, bad.theta)


def test_the_kernel_is_what_the_rule_declares(pop):
    """"auto" compiles exactly the rules that name a kernel (and do not run a noisy step of their own);
    the others run in the numpy loop, and "numba" refuses them."""
    neuron = InnerNeuron(erf_sigmoid())
    rho0 = GaussianInit(3, 0.5)
    kw = dict(N=9, eps=1 / 64, T=0.25, replicates=1, streams=Streams(2), record=StandardRecord(0.125))
    weak = BROKEN["weak_noise"].rule
    numpy_rules = (BROKEN["no_factor_two"].rule, BROKEN["no_factor_two"].rule.noisy(0.1, 5.0), Rule("user", lambda *a: mean_field_step(*a)),
                   weak.noisy(0.1, 5.0))
    for rule in numpy_rules:
        assert rule.compiled_kernel is None
        a = run_sgd(pop, neuron, rho0, rule, backend="numpy", **kw)
        np.testing.assert_array_equal(run_sgd(pop, neuron, rho0, rule, **kw).theta, a.theta)
        with pytest.raises(InvalidArgument, match="backend"):
            run_sgd(pop, neuron, rho0, rule, backend="numba", **kw)
    for rule in (MEAN_FIELD, MEAN_FIELD.noisy(0.1, 5.0), weak, weak.langevin(0.1, 5.0, 2.0)):
        assert rule.compiled_kernel == "mean_field"
        compiled = run_sgd(pop, neuron, rho0, rule, backend="numba", **kw)
        np.testing.assert_array_equal(run_sgd(pop, neuron, rho0, rule, **kw).theta, compiled.theta)
    with pytest.raises(InvalidArgument, match="backend"):
        run_sgd(pop, neuron, rho0, backend="fortran", **kw)


def test_supports_only_known_neurons_and_families():
    assert kernels.supports(InnerNeuron(erf_sigmoid())) and kernels.supports(AffineNeuron(relu()))
    hand = Activation("hand", fn=np.tanh, prime=lambda t: 1 - np.tanh(t) ** 2, second=None,
                      sup_norm=1.0, lipschitz=1.0, sup_prime=1.0, lipschitz_prime=1.0)
    assert not kernels.supports(InnerNeuron(hand))

    class Scaled(InnerNeuron):
        pass

    assert not kernels.supports(Scaled(erf_sigmoid()))
    with pytest.raises(InvalidArgument, match="neuron"):
        kernels.sgd_block(InnerNeuron(hand), np.zeros((1, 2, 3)), np.zeros((1, 1, 3)), np.zeros((1, 1)), np.zeros(1))


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: a.family)
def test_activation_pass_matches_numpy(activation):
    Z = np.linspace(-30.0, 30.0, 2 * 401).reshape(2, 401)
    S, P = kernels.activate(activation, Z)
    np.testing.assert_allclose(S, activation.fn(Z), rtol=0, atol=1e-14)
    np.testing.assert_allclose(P, activation.prime(Z), rtol=0, atol=1e-14)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: a.family)
def test_fused_pass_reduces_sigma_and_returns_its_derivative(activation):
    """ŷ = σ(Z) w and P = σ'(Z), for every family (tanh_sum with two terms: the accumulating branch)."""
    rng = np.random.default_rng(np.random.SeedSequence(5))
    Z = 4.0 * rng.standard_normal((3, 2 * 512 + 37))
    w = rng.random(Z.shape[1])
    expected_yhat, expected_P = activation.fn(Z) @ w, activation.prime(Z)
    yhat, P = kernels.activate_reduce(activation, Z, w)
    np.testing.assert_allclose(yhat, expected_yhat, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(P, expected_P, rtol=0, atol=1e-14)


def test_fused_pass_refuses_wrong_shapes():
    with pytest.raises(InvalidArgument, match="P"):
        kernels.activate_reduce(tanh_sum(), np.zeros((2, 3)), np.zeros(3), P=np.zeros((3, 3)))
    with pytest.raises(InvalidArgument, match="w"):
        kernels.activate_reduce(tanh_sum(), np.zeros((2, 3)), np.zeros(2))


@pytest.mark.parametrize("neuron_type", NEURONS, ids=lambda t: t.__name__)
def test_one_block_equals_the_numpy_rules_and_parallel_equals_serial(neuron_type):
    neuron = neuron_type(tanh_sum((1.0, 0.5), (1.0, 2.0)))
    rng = np.random.default_rng(np.random.SeedSequence(11))
    R, N, d, K = 3, 20, 4, 6
    D = neuron.dim(d)
    Theta0 = rng.standard_normal((R, N, D))
    X, Y, S = rng.standard_normal((K, R, d)), rng.standard_normal((K, R)), 0.01 * (1.0 + rng.random(K))
    G = rng.standard_normal((R, K + 2, N, D))
    rule = MEAN_FIELD.noisy(0.2, 3.0)
    plain, noisy = Theta0.copy(), Theta0.copy()
    for k in range(K):
        plain = mean_field_step(plain, X[k], Y[k], S[k], neuron)
        noisy = rule(noisy, X[k], Y[k], S[k], neuron, G[:, 2 + k])
    a = Theta0.copy()
    kernels.sgd_block(neuron, a, X, Y, S)
    b = Theta0.copy()
    kernels.noisy_block(neuron, b, X, Y, S, G, 0.2, 3.0, 4.0, first=2)
    assert close(plain, a) and close(noisy, b)
    kind, code, p = kernels._require(neuron)
    c = Theta0.copy()
    kernels._block_parallel(kind, c, X, Y, S, G, 2, code, p, 0.2, 3.0, 4.0, True)
    assert close(b, c)
    with pytest.raises(InvalidArgument, match="G"):
        kernels.noisy_block(neuron, Theta0.copy(), X, Y, S, G, 0.2, 3.0, 4.0, first=3)


def test_set_threads_validates():
    n = kernels.get_threads()
    kernels.set_threads(1)
    assert kernels.get_threads() == 1
    kernels.set_threads(n)
    for bad in (0, 10**6, 1.5, True):
        with pytest.raises(InvalidArgument, match="`n`"):
            kernels.set_threads(bad)


def test_blocks_check_shapes_before_running():
    """The kernels index without bounds checks, so every shape is checked first."""
    neuron = AffineNeuron(erf_sigmoid())
    Theta = np.zeros((2, 3, 5))  # D = 5: d = 3 for the affine neuron
    good = (np.zeros((4, 2, 3)), np.zeros((4, 2)), np.zeros(4))
    kernels.sgd_block(neuron, Theta, *good)
    for X, Y, S in [(np.zeros((4, 2, 5)), good[1], good[2]), (good[0], np.zeros((4, 3)), good[2]), (good[0], good[1], np.zeros(3))]:
        with pytest.raises(InvalidArgument, match="Shape mismatch"):
            kernels.sgd_block(neuron, Theta, X, Y, S)
    with pytest.raises(InvalidArgument, match="Theta"):
        kernels.sgd_block(neuron, np.zeros((2, 5, 3)).transpose(0, 2, 1), *good)


def test_disk_cache_is_dropped_when_the_source_content_changes(tmp_path, monkeypatch):
    source = tmp_path / "kernels.py"
    source.write_text("# version 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    compiled = cache / "kernels.sgd_block-1.py311.nbi"
    monkeypatch.setattr(kernels, "__file__", str(source))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    kernels._drop_stale_disk_cache()  # no stamp yet: a cache of unknown origin is dropped, the stamp written
    compiled.write_text("machine code of version 1")
    kernels._drop_stale_disk_cache()  # same content: kept
    assert compiled.is_file()
    source.write_text("# version 2\n")  # the same size and (on a coarse clock) the same time: numba would keep it
    kernels._drop_stale_disk_cache()
    assert not compiled.exists()
    assert (cache / "kernels.sha256").read_text().strip() == __import__("hashlib").sha256(b"# version 2\n").hexdigest()


def test_compiled_exp_is_exp_to_rounding():
    """exp(r)·2^n with 2^n built from its bits: ≤ 4e-16 relative over the clamped range; NaN stays NaN."""
    xs = np.concatenate([np.linspace(-700.0, 700.0, 20001), [-1e-300, 0.0, 1e-300, 0.5 * math.log(2.0)]])
    got = np.array([kernels._exp(x) for x in xs])
    np.testing.assert_allclose(got, np.exp(xs), rtol=4e-16, atol=0)
    assert kernels._exp(800.0) == kernels._exp(700.0) and kernels._exp(-800.0) == kernels._exp(-700.0)
    assert math.isnan(kernels._exp(math.nan))


def test_compiled_erf_is_within_two_ulps_of_erf():
    """The table-and-Taylor erf against a 120-bit reference (mpmath), over the table's range, the
    smallest arguments and beyond 6: at most 2 ulps, as scipy.special.erf on the same points (the
    numpy path's erf); odd, ±1 beyond 6, NaN stays NaN. Its companion: a table one node off is
    caught."""
    import mpmath
    from scipy import special

    mpmath.mp.prec = 120
    rng = np.random.default_rng(np.random.SeedSequence(20261203))
    xs = np.concatenate([rng.uniform(-6.5, 6.5, 3000), rng.normal(size=3000), rng.uniform(-1e-3, 1e-3, 500),
                         kernels._ERF_NODES, kernels._ERF_NODES + 1 / 128, [0.0, 1e-300, 5e-324, 6.0, 7.5, 30.0]])
    true = np.array([float(mpmath.erf(mpmath.mpf(float(x)))) for x in xs])

    def ulps(values):
        return np.abs(values - true) / np.spacing(np.maximum(np.abs(true), np.finfo(float).tiny))

    got = np.array([kernels._erf(x) for x in xs])
    assert ulps(got).max() <= 2 and ulps(special.erf(xs)).max() <= 3
    assert np.all(np.array([kernels._erf(-x) for x in xs]) == -got)
    assert kernels._erf(math.inf) == 1.0 and kernels._erf(-math.inf) == -1.0 and math.isnan(kernels._erf(math.nan))
    shifted = np.roll(kernels._ERF_VALUES, 1)  # erf of the neighbouring node
    k = np.minimum((np.abs(xs) * kernels._ERF_STEPS + 0.5).astype(int), len(shifted) - 1)
    wrong = np.sign(xs) * (shifted[k] - (kernels._ERF_VALUES[k] - np.abs(got)))
    assert np.max(np.abs(wrong - true) / np.maximum(np.abs(true), 1e-300)) > 1e-3
