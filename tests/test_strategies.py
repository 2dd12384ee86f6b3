"""Tests of mfcheck.app.strategies: drawn objects never declare less than they are.

The central property: for every drawn object, numerical estimates of its constants never
exceed the declared ones, and the declared ones never exceed the asked maxima.

- Activations: sup|σ| and sup|σ'| on a dense grid t ∈ [-20, 20] (spacing 1e-3); Lip(σ) and
  Lip(σ') by difference quotients between neighbouring grid points (by the mean-value
  theorem an exact quotient never exceeds the true constant, whatever the grid).
- Test functions: sup on random points; Lipschitz by quotients on random pairs at distances
  1e-3, 1e-1, 1 and along the steepest direction (u, v for ridges, a line through the centre
  for bumps).
- Finite populations with an InnerNeuron: every entry of TheoremConstants (|y|, |σ*|,
  ||∇σ*||, |∇V|, Lip ∇V, |∇₁U|, Lip ∇₁U jointly in (θ, θ') for the sum of displacements) on
  random particles and pairs.

Tolerances cover floating-point round-off only, and are stated where used: a computed value
errs from the exact one by at most δ = 64 ε (size terms) with ε = 2^-52 and the size terms
the magnitudes the computation passes through (the argument b t + c, <w, x>, sums of n
terms); a quotient over a gap h then errs by at most (δ(a) + δ(b)) / h; a declared constant
itself is a product of a few floats, so it is compared with a relative slack of 1e-12.
Grid gaps (1e-3) and pair gaps (≥ 1e-3) are float differences computed exactly (Sterbenz)
or within relative ε, which the 1e-12 slack covers.
"""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

import mfcheck.app.strategies as mst
from mfcheck.model import activations as act_module
from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import Experiment
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.observables import TestFunction, cosine_ridge, gaussian_bump, tanh_ridge
from mfcheck.model.problems import FinitePopulation, TeacherStudent, TwoGaussians
from mfcheck.seeds import Streams

EPS = np.finfo(np.float64).eps
SLACK = 64.0 * EPS  # per-value round-off allowance, times the magnitudes involved
REL = 1e-12  # relative slack on a declared constant (a product of a few floats)

GRID = np.arange(-20_000, 20_001) * 1e-3  # t ∈ [-20, 20], gap 1e-3
GAP = np.diff(GRID)

CONSTANTS = ("sup_norm", "lipschitz", "sup_prime", "lipschitz_prime")  # Activation field order
maxima = st.sampled_from([0.05, 0.5, 1.0, 2.0, 4.0, 10.0])


# -- exports ----------------------------------------------------------------------------------
def test_exports_are_checked():
    """As hypothesis's ``_check_exports``: __all__ is exactly the module's public surface."""
    public = {
        name
        for name, obj in vars(mst).items()
        if not name.startswith("_")
        and not isinstance(obj, types.ModuleType)
        and getattr(obj, "__module__", mst.__name__) == mst.__name__
    }
    assert len(mst.__all__) == len(set(mst.__all__)), "duplicate names in __all__"
    assert set(mst.__all__) == public
    for name in mst.__all__:
        assert hasattr(mst, name)


@pytest.mark.parametrize("name", ["lipschitz_activations", "finite_populations", "problems", "neurons", "experiments", "seeds"])
def test_public_functions_return_strategies(name):
    assert isinstance(getattr(mst, name)(), SearchStrategy)
    assert getattr(mst, name).__doc__


def test_test_functions_is_not_collected_by_pytest():
    assert mst.test_functions.__test__ is False
    assert isinstance(mst.test_functions(2), SearchStrategy)


# -- activations ------------------------------------------------------------------------------
def _activation_estimates(act):
    v, p = act(GRID), act.prime(GRID)
    S, L, Lp = act.sup_norm, act.lipschitz, act.lipschitz_prime
    # δ: round-off of σ(t) (resp. σ'(t)): the argument b t + c carries ~ε(|t| + 1)(a few),
    # passed through a slope ≤ L (resp. L'), plus the final rounding of a value ≤ S (resp. L).
    dv = SLACK * (S + L * (np.abs(GRID) + 1.0))
    dp = SLACK * (L + Lp * (np.abs(GRID) + 1.0))
    return {
        "sup_norm": (float(np.max(np.abs(v))), float(np.max(dv))),
        "sup_prime": (float(np.max(np.abs(p))), float(np.max(dp))),
        "lipschitz": (float(np.max(np.abs(np.diff(v)) / GAP)), float(np.max((dv[1:] + dv[:-1]) / GAP))),
        "lipschitz_prime": (float(np.max(np.abs(np.diff(p)) / GAP)), float(np.max((dp[1:] + dp[:-1]) / GAP))),
    }


@given(st.data())
def test_drawn_activations_never_exceed_declared_constants(data):
    S, L, Lp = data.draw(maxima, "max_sup"), data.draw(maxima, "max_lipschitz"), data.draw(maxima, "max_lipschitz_prime")
    act = data.draw(mst.lipschitz_activations(max_sup=S, max_lipschitz=L, max_lipschitz_prime=Lp), "activation")
    assert act.violations() == []
    assert act.sup_norm <= S and act.lipschitz <= L and act.sup_prime <= L and act.lipschitz_prime <= Lp
    assert act.sup_norm > 0  # never identically zero
    for name, (estimate, tol) in _activation_estimates(act).items():
        declared = getattr(act, name)
        assert estimate <= declared * (1 + REL) + tol, f"{act!r}: estimated {name}={estimate!r} > declared {declared!r} (+{tol:.1e})"


def _exceeded(act) -> list[str]:
    return [n for n, (e, tol) in _activation_estimates(act).items() if not e <= getattr(act, n) * (1 + REL) + tol]


@pytest.mark.parametrize("build", [lambda: act_module.erf_sigmoid(-1.3, 0.7), lambda: act_module.bounded_sine(0.5, 2.0, 0.3)], ids=["erf", "sine"])
def test_the_estimator_catches_a_constant_declared_one_percent_too_small(build):
    """Power of the property: a σ declaring 0.99 × its exact constants is caught on every constant."""
    act = build()
    assert _exceeded(act) == []
    low = Activation(act.name, act.fn, act.prime, act.second, *(0.99 * getattr(act, n) for n in CONSTANTS))
    assert _exceeded(low) == list(_activation_estimates(act))


@given(mst.lipschitz_activations(kinds=("erf_sigmoid", "bounded_sine")))
def test_exact_constants_are_attained_on_the_grid(act):
    """erf and sine declare exact constants: the grid estimates reach them (the estimator is not vacuous)."""
    for name, (estimate, _) in _activation_estimates(act).items():
        assert estimate >= getattr(act, name) * (1 - 1e-3), f"{act!r}: {name} estimate {estimate!r} far below the exact value"


@given(mst.lipschitz_activations(max_terms=1, kinds=("tanh_sum",)))
def test_max_terms_is_respected(act):
    assert act.name.startswith("tanh_sum(amplitudes=(") and act.name.count(",), slopes") == 1


# -- test functions ---------------------------------------------------------------------------
def _tf_roundoff(f, theta, D):
    """δ(θ): <u, θ> or |θ - c|² carry ~D ε (|θ| + 2) (|θ| + 2); through a slope ≤ Lip, plus the final rounding."""
    r = np.linalg.norm(theta, axis=-1) + 2.0
    return SLACK * D * (f.sup_norm + f.lipschitz * r * r)


def _tf_exceeded(f, D, rng) -> list[str]:
    """The constants of f whose estimates exceed the declared value (+ round-off)."""
    out = []
    A = 3.0 * rng.standard_normal((3000, D))
    B = A + rng.standard_normal((3000, D)) * rng.choice([1e-3, 1e-1, 1.0], size=(3000, 1))
    fa, fb = f(A), f(B)
    assert fa.shape == (3000,)
    if not np.all(np.abs(fa) <= f.sup_norm * (1 + REL) + _tf_roundoff(f, A, D)):
        out.append("sup_norm")
    h = np.linalg.norm(A - B, axis=1)
    tol = (_tf_roundoff(f, A, D) + _tf_roundoff(f, B, D)) / h
    if not np.all(np.abs(fa - fb) / h <= f.lipschitz * (1 + REL) + tol):
        out.append("lipschitz (random pairs)")
    # along the steepest direction: the ridge direction, or a line through the bump's centre
    name = f.name.split(" * ")[-1]
    if name.startswith("gaussian_bump"):
        center = np.array(eval(name[len("gaussian_bump(center="):].split("], width")[0] + "]"))  # noqa: S307 (our own repr)
        e = rng.standard_normal(D)
    else:
        center = np.zeros(D)
        e = np.asarray(eval(name.split("=", 1)[1].split("]")[0] + "]"))  # noqa: S307
    e = e / np.linalg.norm(e) if np.linalg.norm(e) > 0 else np.eye(D)[0]
    line = center + GRID[::10, None] * e  # t ∈ [-20, 20], gap 1e-2
    g = f(line)
    if not np.all(np.abs(g) <= f.sup_norm * (1 + REL) + _tf_roundoff(f, line, D)) and "sup_norm" not in out:
        out.append("sup_norm")  # the line passes through the bump's centre, where sup is attained
    gaps = np.linalg.norm(np.diff(line, axis=0), axis=1)
    dl = _tf_roundoff(f, line, D)
    if not np.all(np.abs(np.diff(g)) / gaps <= f.lipschitz * (1 + REL) + (dl[1:] + dl[:-1]) / gaps):
        out.append("lipschitz (along a line)")
    return out


@given(st.data(), mst.seeds())
def test_drawn_test_functions_never_exceed_declared_constants(data, seed):
    D = data.draw(st.integers(1, 4), "D")
    S, L = data.draw(maxima, "max_sup"), data.draw(maxima, "max_lipschitz")
    f = data.draw(mst.test_functions(D, max_sup=S, max_lipschitz=L), "f")
    assert f.sup_norm <= S and f.lipschitz <= L and f.sup_norm > 0
    rng = Streams(seed).child("test_strategies", "test_functions").generator("data")
    assert _tf_exceeded(f, D, rng) == [], repr(f)


@pytest.mark.parametrize(
    "f", [tanh_ridge([0.6, -0.8, 0.0]), cosine_ridge([1.5, 0.5], 0.3), gaussian_bump([0.5, -1.0], 0.7)], ids=repr
)
def test_the_test_function_estimator_catches_constants_one_percent_too_small(f, rng):
    """Power: declaring 0.99 × the exact constants is caught (sup 1 and Lip are attained)."""
    D = len(eval(f.name.split("=", 1)[1].split("]")[0] + "]"))  # noqa: S307
    assert _tf_exceeded(f, D, rng) == []
    low = TestFunction(f.name, f.fn, 0.99 * f.sup_norm, 0.99 * f.lipschitz)
    assert "sup_norm" in _tf_exceeded(low, D, rng) and "lipschitz (along a line)" in _tf_exceeded(low, D, rng)


# -- populations ------------------------------------------------------------------------------
@given(mst.finite_populations(), mst.neurons(), mst.seeds())
def test_drawn_populations_never_exceed_theorem_constants(problem, neuron, seed):
    c = problem.require_theorem_1(neuron)
    act = neuron.activation
    n, d = problem.n, problem.d
    xmax = float(np.max(np.linalg.norm(problem.X, axis=1)))
    Y, S, L, Lp = problem.y_bound, act.sup_norm, act.sup_prime, act.lipschitz_prime
    assert np.all(np.abs(problem.y) <= c.y_bound)

    rng = Streams(seed).child("test_strategies", "populations").generator("data")
    M = 60
    scale = rng.choice([0.1, 1.0, 3.0], size=(M, 1))
    A, A2 = scale * rng.standard_normal((M, d)), scale * rng.standard_normal((M, d))
    gap = rng.choice([1e-3, 1e-1, 1.0], size=(M, 1))
    B, B2 = A + gap * rng.standard_normal((M, d)), A2 + gap * rng.standard_normal((M, d))

    def size(T):  # 1 + |θ| xmax: the magnitude of <θ, x_j> plus one
        return 1.0 + np.linalg.norm(T, axis=1) * xmax

    k = SLACK * (n + d)  # sums of n terms of d-term inner products
    # δ of σ*(x; θ) and of ||∇σ*||: argument error ~ k size(θ), through slopes L, L'
    assert np.all(np.abs(neuron.value(problem.X, A)) <= c.sigma_star_bound * (1 + REL) + k * (S + L * size(A)))
    G = np.linalg.norm(neuron.grad(problem.X, A), axis=-1)  # (n, M)
    assert np.all(G <= c.grad_sigma_star_bound * (1 + REL) + k * xmax * (L + Lp * size(A)))

    # ∇V = -(1/n) Σ y_j σ'(<θ, x_j>) x_j: δ ≤ k Y xmax (L + L' size(θ))
    dV = lambda T: k * Y * xmax * (L + Lp * size(T))  # noqa: E731
    gA, gB = problem.grad_V(neuron, A), problem.grad_V(neuron, B)
    assert np.all(np.linalg.norm(gA, axis=1) <= c.grad_V_bound * (1 + REL) + dV(A))
    h = np.linalg.norm(A - B, axis=1)
    assert np.all(np.linalg.norm(gA - gB, axis=1) / h <= c.grad_V_lipschitz * (1 + REL) + (dV(A) + dV(B)) / h)

    # ∇₁U(θ, θ') = (1/n) Σ σ'(<θ, x>) σ(<θ', x>) x: δ ≤ k xmax (S (L + L' size(θ)) + L (S + L size(θ')))
    dU = lambda T, T2: k * xmax * (S * (L + Lp * size(T)) + L * (S + L * size(T2)))  # noqa: E731
    uA = np.einsum("mmD->mD", problem.grad1_U(neuron, A, A2))  # pairs (A_m, A2_m)
    uB = np.einsum("mmD->mD", problem.grad1_U(neuron, B, B2))
    assert np.all(np.linalg.norm(uA, axis=1) <= c.grad_U_bound * (1 + REL) + dU(A, A2))
    h = np.linalg.norm(A - B, axis=1) + np.linalg.norm(A2 - B2, axis=1)
    assert np.all(np.linalg.norm(uA - uB, axis=1) / h <= c.grad_U_lipschitz * (1 + REL) + (dU(A, A2) + dU(B, B2)) / h)


@given(mst.finite_populations(n=3, d=2, max_label=0.5))
def test_fixed_sizes_and_label_bound(problem):
    assert isinstance(problem, FinitePopulation)
    assert (problem.n, problem.d) == (3, 2)
    assert problem.y_bound <= 0.5


@given(mst.problems(d=2, max_label=1.5), mst.neurons())
def test_drawn_problems_are_inside_theorem_1(problem, neuron):
    assert problem.d == 2
    assert problem.y_bound <= 1.5
    c = problem.require_theorem_1(neuron)
    assert all(math.isfinite(v) for v in c.as_dict().values())


@given(mst.problems(kinds=("two_gaussians", "teacher_student")))
def test_gaussian_problems_are_drawn(problem):
    assert isinstance(problem, TwoGaussians | TeacherStudent)
    if isinstance(problem, TeacherStudent):
        assert problem.teacher.violations() == []
        assert np.linalg.norm(problem.w_star) == pytest.approx(1.0, abs=1e-12)


# -- neurons, experiments, seeds ----------------------------------------------------------------
@given(mst.experiments())
def test_drawn_experiments_are_inside_theorem_1(exp):
    assert isinstance(exp, Experiment)
    assert isinstance(exp.neuron, InnerNeuron)
    assert exp.problem.d <= 3 and 2 <= exp.problem.n <= 12
    assert exp.rho0.D == exp.D and 0.1 <= exp.rho0.scale <= 1.0
    assert 1 <= len(exp.test_functions) <= 3
    exp.problem.require_theorem_1(exp.neuron)
    Streams(exp.seed)  # a valid root entropy


@given(mst.experiments(d=1, kinds=("teacher_student",), activations=mst.lipschitz_activations(kinds=("bounded_sine",)), log2_M=6, T=0.5))
def test_experiment_arguments_are_used(exp):
    assert isinstance(exp.problem, TeacherStudent) and exp.D == 1
    assert exp.neuron.activation.name.startswith("bounded_sine(") and exp.log2_M == 6 and exp.T == 0.5


@given(mst.experiments(data=mst.finite_populations(n=st.integers(4, 6), d=2, max_label=0.5, max_scale=0.75)))
def test_experiment_data_strategy_is_used(exp):
    assert isinstance(exp.problem, FinitePopulation) and exp.problem.d == 2 and 4 <= exp.problem.n <= 6
    assert exp.problem.y_bound <= 0.5
    exp.problem.require_theorem_1(exp.neuron)


@given(mst.seeds(), mst.seeds())
def test_seeds_replay(a, b):
    assert 0 <= a <= mst.MAX_SEED
    x = Streams(a).generator("data").standard_normal(3)
    assert np.array_equal(x, Streams(a).generator("data").standard_normal(3))
    if a != b:
        assert not np.array_equal(x, Streams(b).generator("data").standard_normal(3))


# -- bad arguments ----------------------------------------------------------------------------
BAD = [
    (mst.experiments, {"data": "finite"}, "data"),
    (mst.lipschitz_activations, {"max_sup": 0.0}, "max_sup"),
    (mst.lipschitz_activations, {"max_sup": -1.0}, "max_sup"),
    (mst.lipschitz_activations, {"max_sup": math.inf}, "max_sup"),
    (mst.lipschitz_activations, {"max_lipschitz": math.nan}, "max_lipschitz"),
    (mst.lipschitz_activations, {"max_lipschitz_prime": "1"}, "max_lipschitz_prime"),
    (mst.lipschitz_activations, {"kinds": ()}, "kinds"),
    (mst.lipschitz_activations, {"kinds": "tanh_sum"}, "kinds"),
    (mst.lipschitz_activations, {"kinds": ("relu",)}, "outside the hypotheses"),
    (mst.lipschitz_activations, {"kinds": ("piecewise_linear",)}, "outside the hypotheses"),
    (mst.lipschitz_activations, {"kinds": ("softplus",)}, "kinds"),
    (mst.lipschitz_activations, {"kinds": ("erf_sigmoid", "erf_sigmoid")}, "repeat"),
    (mst.lipschitz_activations, {"max_terms": 0}, "max_terms"),
    (mst.lipschitz_activations, {"max_terms": 4}, "max_terms"),
    (mst.lipschitz_activations, {"max_terms": 1.5}, "max_terms"),
    (mst.test_functions, {"D": 0}, "D"),
    (mst.test_functions, {"D": 2.0}, "D"),
    (mst.test_functions, {"D": True}, "D"),
    (mst.test_functions, {"D": 2, "max_sup": 0.0}, "max_sup"),
    (mst.test_functions, {"D": 2, "max_lipschitz": -2.0}, "max_lipschitz"),
    (mst.test_functions, {"D": 2, "kinds": ("relu_ridge",)}, "kinds"),
    (mst.test_functions, {"D": 2, "max_center": -1.0}, "max_center"),
    (mst.finite_populations, {"n": 0}, "n"),
    (mst.finite_populations, {"d": -1}, "d"),
    (mst.finite_populations, {"max_label": 0.0}, "max_label"),
    (mst.finite_populations, {"labels": ("gaussian",)}, "labels"),
    (mst.finite_populations, {"min_scale": 0.0}, "min_scale"),
    (mst.finite_populations, {"min_scale": 2.0, "max_scale": 1.0}, "min_scale"),
    (mst.problems, {"kinds": ("mnist",)}, "kinds"),
    (mst.problems, {"kinds": ("two_gaussians",), "max_label": 0.5}, "max_label"),
    (mst.problems, {"n": "many"}, "n"),
    (mst.neurons, {"activations": mst.lipschitz_activations}, "activations"),
    (mst.neurons, {"activations": act_module.erf_sigmoid()}, "activations"),
    (mst.experiments, {"d": 4}, "d"),
    (mst.experiments, {"kinds": ()}, "kinds"),
    (mst.experiments, {"min_init_scale": -0.1}, "min_init_scale"),
    (mst.experiments, {"min_init_scale": 2.0}, "min_init_scale"),
    (mst.experiments, {"T": 0.0}, "T"),
    (mst.experiments, {"log2_M": 0}, "log2_M"),
    (mst.experiments, {"log2_M": 18}, "log2_M"),
    (mst.experiments, {"activations": 3}, "activations"),
]


@pytest.mark.parametrize(("fn", "kwargs", "match"), BAD, ids=[f"{f.__name__}-{sorted(k)}-{i}" for i, (f, k, _) in enumerate(BAD)])
def test_bad_arguments_raise_when_called(fn, kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        fn(**kwargs)


@pytest.mark.parametrize(
    ("strategy", "match"),
    [
        (mst.finite_populations(n=st.just(0)), "`n` drew 0"),
        (mst.test_functions(st.just(-1)), "`D` drew -1"),
        (mst.experiments(d=st.just(5)), "`d` drew 5"),
    ],
    ids=["n", "D", "d"],
)
def test_bad_drawn_sizes_raise_when_drawn(strategy, match):
    @settings(max_examples=1, database=None)
    @given(strategy)
    def draw(_):
        pass

    with pytest.raises(InvalidArgument, match=match):
        draw()


# -- repr and shrinking -----------------------------------------------------------------------
def test_strategy_repr_is_the_call():
    assert repr(mst.lipschitz_activations(max_sup=2.0)).startswith("lipschitz_activations(max_sup=2.0, max_lipschitz=4.0")
    assert repr(mst.test_functions(3)).startswith("test_functions(D=3, max_sup=1.0")
    assert repr(mst.finite_populations(n=5)).startswith("finite_populations(n=5, d=integers(min_value=1, max_value=3)")
    assert repr(mst.experiments(d=2)).startswith("experiments(n=integers(min_value=2, max_value=12), d=2")
    assert repr(mst.neurons()) == "neurons(activations=None)"


@given(mst.lipschitz_activations())
def test_drawn_activation_repr_rebuilds_it(act):
    """A failing example prints the constructor call: evaluating it gives the same σ."""
    rebuilt = eval(repr(act), vars(act_module))  # noqa: S307 (our own repr)
    assert repr(rebuilt) == repr(act)
    t = np.linspace(-5, 5, 11)
    assert np.array_equal(rebuilt(t), act(t))


@given(mst.experiments())
def test_drawn_experiment_repr_names_its_parts(exp):
    text = repr(exp)
    for part in (repr(exp.problem), repr(exp.neuron), repr(exp.rho0), f"seed={exp.seed}"):
        assert part in text


@pytest.mark.parametrize(
    ("strategy", "simplest"),
    [
        (mst.lipschitz_activations(), "erf_sigmoid(amplitude=1.0, slope=1.0)"),
        (mst.lipschitz_activations(kinds=("tanh_sum",)), "tanh_sum(amplitudes=(1.0,), slopes=(1.0,), shifts=(0.0,))"),
        (mst.lipschitz_activations(kinds=("bounded_sine",)), "bounded_sine(amplitude=1.0, frequency=1.0, phase=0.0)"),
        (mst.test_functions(2), "tanh_ridge(u=[1.0, 0.0])"),
        (mst.finite_populations(), "FinitePopulation(n=1, d=1, x ~ N(0, 1.0² I), y ~ U(-1.0, 1.0), seed=0)"),
        (mst.finite_populations(labels=("teacher",)), "teacher_population(n=1, d=1, teacher=erf_sigmoid(amplitude=1.0, slope=1.0), seed=0, noise=0.0, scale=1.0)"),
        (mst.problems(), "TwoGaussians(d=1, delta=0.5, n_nodes=48)"),
        (mst.seeds(), "0"),
    ],
    ids=["activation", "tanh", "sine", "test_function", "population", "teacher", "problem", "seed"],
)
def test_shrinks_to_the_documented_simplest_value(strategy, simplest):
    assert repr(find(strategy, lambda _: True, settings=settings(database=None, max_examples=50))) == simplest


@given(mst.experiments())
def test_failing_examples_print_constructor_calls(exp):
    """Hypothesis prints a falsifying example with its pretty printer: no ``fn=<lambda>`` fields."""
    pretty = pytest.importorskip("hypothesis.vendor.pretty").pretty
    text = pretty(exp)
    assert "fn=" not in text
    assert repr(exp.neuron.activation) in text and repr(exp.test_functions[0]) in text
    assert pretty(exp.neuron.activation) == repr(exp.neuron.activation)
