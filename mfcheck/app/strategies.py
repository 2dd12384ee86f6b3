"""Hypothesis strategies for objects inside the hypotheses of Theorem 1, with their constants.

Every strategy here builds objects from the public constructors of mfcheck, so each drawn
object carries the constants it declares (sup|σ|, Lip(σ), Lip(σ'), sup|f|, Lip(f), the
:class:`~mfcheck.model.problems.base.TheoremConstants` of a (problem, neuron) pair), and each
draw stays inside the asked limits:

- :func:`lipschitz_activations`: σ among :func:`~mfcheck.model.activations.tanh_sum` (1 to 3
  terms), :func:`~mfcheck.model.activations.erf_sigmoid`, :func:`~mfcheck.model.activations.bounded_sine`
  with ``sup_norm <= max_sup``, ``lipschitz = sup_prime <= max_lipschitz`` and
  ``lipschitz_prime <= max_lipschitz_prime``. Never ``piecewise_linear`` (σ' has kinks) nor
  ``relu`` (unbounded): both are outside Theorem 1.
- :func:`test_functions`: f among :func:`~mfcheck.model.observables.tanh_ridge`,
  :func:`~mfcheck.model.observables.cosine_ridge`, :func:`~mfcheck.model.observables.gaussian_bump`
  (times an amplitude when ``max_sup < 1``) with ``sup_norm <= max_sup``,
  ``lipschitz <= max_lipschitz``.
- :func:`finite_populations`, :func:`problems`: data laws with ``|y| <= max_label``.
- :func:`neurons`, :func:`experiments`: σ*(x; w) = σ(<w, x>) and whole
  :class:`~mfcheck.model.experiment.Experiment` objects for which
  ``problem.require_theorem_1(neuron)`` succeeds.
- :func:`seeds`: root entropies for :class:`~mfcheck.seeds.Streams`. A statistical test
  inside a property takes its seed from the drawn example, so a failure replays and shrinks
  (no global random state anywhere: random points are built from a drawn seed).

Conventions, as in hypothesis itself:

- Public functions validate their arguments and raise :class:`~mfcheck.errors.InvalidArgument`
  naming the parameter. Unlike hypothesis (which validates lazily, at the first draw), they
  validate when called, so a bad argument fails at the line that wrote it.
- They return strategies whose ``repr`` is the call that made them, e.g.
  ``lipschitz_activations(max_sup=2.0)``; the drawn objects print as the constructor call
  that built them (``tanh_sum(amplitudes=(1.0,), slopes=(1.0,), shifts=(0.0,))``,
  ``teacher_population(n=3, d=1, ...)``), so a failing example shows how to rebuild it.
- Integer-valued size arguments (``D``, ``n``, ``d``) take an int or a strategy of ints.
- Shrinking goes towards simple values: one term, slope/frequency/width/scale 1.0 where
  allowed, shift and phase 0, positive amplitudes (1.0 where allowed), direction e_1, zero
  noise, seed 0, the smallest n and d. Hypothesis orders examples by the shortlex order of
  the choices made, so among kinds the one that takes the fewest choices is the simplest,
  not the first listed. The unconditional minima (``hypothesis.find``; the tests pin them):
  ``erf_sigmoid(amplitude=1.0, slope=1.0)`` (mfcheck's default σ) for
  :func:`lipschitz_activations` (``tanh_sum(amplitudes=(1.0,), slopes=(1.0,), shifts=(0.0,))``
  with ``kinds=("tanh_sum",)``), ``tanh_ridge(u=[1.0, 0.0, ...])`` for :func:`test_functions`,
  the uniform-label population with n = d = 1, scale 1.0 and seed 0 for
  :func:`finite_populations`, ``TwoGaussians(d=1, delta=0.5)`` for :func:`problems`, and for
  :func:`experiments` that population with n = 2, erf, ρ_0 = N(0, 1), ``tanh_ridge(u=[1.0])``,
  seed 0. Drawn amplitudes are at least 1/8 of the largest allowed, so a drawn σ or f is
  never (nearly) identically zero.

Constants are guaranteed with a relative margin of 1e-9 below each maximum, so the
floating-point evaluation of a declared constant (a sum of a few products) cannot exceed
the maximum by round-off.

This module needs ``hypothesis`` (a test dependency of mfcheck); nothing else in mfcheck
imports it.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from mfcheck._validation import check_positive_int, check_real
from mfcheck.model.activations import Activation, bounded_sine, erf_sigmoid, tanh_sum
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import Experiment
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.observables import TestFunction, cosine_ridge, gaussian_bump, tanh_ridge
from mfcheck.model.problems import FinitePopulation, TeacherStudent, TwoGaussians, teacher_population

__all__ = [
    "lipschitz_activations",
    "test_functions",
    "finite_populations",
    "problems",
    "neurons",
    "experiments",
    "seeds",
    "ACTIVATION_KINDS",
    "TEST_FUNCTION_KINDS",
    "LABEL_KINDS",
    "PROBLEM_KINDS",
    "MARGIN",
    "SLOPE_RANGE",
    "SHIFT_RANGE",
    "MAX_TERMS",
    "MAX_SEED",
]

ACTIVATION_KINDS = ("tanh_sum", "erf_sigmoid", "bounded_sine")
"""The activations :func:`lipschitz_activations` draws from (all inside Theorem 1)."""

TEST_FUNCTION_KINDS = ("tanh_ridge", "cosine_ridge", "gaussian_bump")
"""The test functions :func:`test_functions` draws from."""

LABEL_KINDS = ("teacher", "uniform")
"""How :func:`finite_populations` labels its points: y = τ(x_1) + noise, or y ~ U(-b, b)."""

PROBLEM_KINDS = ("finite", "two_gaussians", "teacher_student")
"""The data laws :func:`problems` draws from."""

_OUTSIDE = {
    "piecewise_linear": "σ' has kinks, so Lip(σ') = inf (A3)",
    "relu": "σ is unbounded (A2)",
}

MARGIN = 1.0 - 1e-9
"""Each cap is multiplied by this, so round-off in a declared constant cannot pass the maximum."""

SLOPE_RANGE = (0.25, 3.0)
"""Slopes of tanh terms and erf, frequencies of sines: drawn in this range (shrinking to 1.0)."""

SHIFT_RANGE = (-2.0, 2.0)
"""Shifts of tanh terms (shrinking to 0)."""

MAX_TERMS = 3
"""The most tanh terms :func:`lipschitz_activations` may draw."""

MAX_SEED = 2**32 - 1
"""Seeds are drawn in [0, MAX_SEED]."""

_TANH_SECOND = 4.0 / (3.0 * math.sqrt(3.0))  # sup|tanh''|, as in mfcheck.model.activations
_ERF_PRIME = 2.0 / math.sqrt(math.pi)  # sup|d/dt erf|
_ERF_SECOND = _ERF_PRIME * math.sqrt(2.0) * math.exp(-0.5)  # sup|d²/dt² erf|
_BUMP_LIP = math.exp(-0.5)  # Lip of exp(-|θ|²/2)


# -- helpers ----------------------------------------------------------------------------------
def _named(public_name: str):
    """``st.composite`` whose strategies print as ``public_name(...)``."""

    def decorate(fn):
        fn.__name__ = public_name
        fn.__qualname__ = public_name
        return st.composite(fn)

    return decorate


def _positive_finite(value, name: str) -> float:
    return check_real(value, name, positive=True)


def _kinds(value, name: str, allowed: tuple[str, ...], outside: dict[str, str] | None = None) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise InvalidArgument(f"`{name}` must be a tuple of names from {allowed}, got {value!r}.")
    if not value:
        raise InvalidArgument(f"`{name}` must not be empty; choose from {allowed}.")
    for kind in value:
        if outside and kind in outside:
            raise InvalidArgument(
                f"`{name}` contains {kind!r}, which is outside the hypotheses of Theorem 1 ({outside[kind]}); "
                f"choose from {allowed}."
            )
        if kind not in allowed:
            raise InvalidArgument(f"`{name}` contains {kind!r}; choose from {allowed}.")
    if len(set(value)) != len(value):
        raise InvalidArgument(f"`{name}` must not repeat a kind, got {value!r}.")
    return tuple(value)


def _size(value, name: str, *, max_value: int | None = None):
    """Validate an int (in [1, max_value]) or a strategy; return it unchanged."""
    if isinstance(value, SearchStrategy):
        return value
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InvalidArgument(f"`{name}` must be a positive int or a strategy of ints, got {value!r} of type {type(value).__name__}.")
    value = check_positive_int(value, name)
    if max_value is not None and value > max_value:
        raise InvalidArgument(f"`{name}` must be at most {max_value}, got {name}={value}.")
    return value


def _draw_size(draw, value, name: str, *, max_value: int | None = None) -> int:
    if isinstance(value, SearchStrategy):
        value = draw(value)
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise InvalidArgument(f"The strategy passed as `{name}` drew {value!r}; it must draw positive ints.")
        if max_value is not None and value > max_value:
            raise InvalidArgument(f"The strategy passed as `{name}` drew {value}; it must draw ints <= {max_value}.")
    return int(value)


def _strategy(value, name: str) -> SearchStrategy:
    if not isinstance(value, SearchStrategy):
        raise InvalidArgument(f"`{name}` must be a hypothesis strategy, got {value!r} of type {type(value).__name__}.")
    return value


def _range(lo: float, hi: float, name_lo: str, name_hi: str) -> tuple[float, float]:
    if not lo <= hi:
        raise InvalidArgument(f"Cannot have `{name_lo}`={lo} > `{name_hi}`={hi}.")
    return lo, hi


def _floats(lo: float, hi: float) -> SearchStrategy:
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def _magnitude(draw, cap: float) -> float:
    """A positive amplitude in [cap/8, cap · MARGIN] (towards 1.0 where allowed)."""
    return draw(_floats(cap / 8.0, cap * MARGIN))


def _signed(draw, magnitude: float) -> float:
    return -magnitude if draw(st.booleans()) else magnitude


def _direction(draw, D: int) -> np.ndarray:
    """A unit vector of R^D drawn from components in [-1, 1]; the zero vector becomes e_1."""
    v = np.array(draw(st.lists(_floats(-1.0, 1.0), min_size=D, max_size=D)), dtype=float)
    norm = float(np.linalg.norm(v))
    if not norm > 1e-6:
        v = np.zeros(D)
        v[0] = 1.0
        return v
    return v / norm


def seeds() -> SearchStrategy[int]:
    """Non-negative ints in [0, 2^32 - 1] for :class:`mfcheck.seeds.Streams`; shrink to 0.

    Use one per example for every random choice a property makes (points, statistical
    tests), e.g. ``Streams(draw(seeds())).child("my-test").generator("data")``.
    """
    return st.integers(min_value=0, max_value=MAX_SEED)


# -- activations --------------------------------------------------------------------------------
def lipschitz_activations(
    max_sup: float = 4.0,
    max_lipschitz: float = 4.0,
    max_lipschitz_prime: float = 4.0,
    *,
    kinds: tuple[str, ...] = ACTIVATION_KINDS,
    max_terms: int = MAX_TERMS,
) -> SearchStrategy[Activation]:
    r"""Activations σ inside Theorem 1 whose declared constants stay within the maxima.

    Draws a kind from ``kinds``, then slopes/frequencies in ``SLOPE_RANGE`` and, given them,
    amplitudes at most the largest value that keeps every constant within its maximum:

    - ``tanh_sum``, m ≤ ``max_terms`` terms: |a_j| ≤ min(S, L / b_j, L' / (b_j² · 4/(3√3))) / m,
      so Σ|a_j| ≤ S, Σ|a_j| b_j ≤ L, Σ|a_j| b_j² 4/(3√3) ≤ L'; shifts in ``SHIFT_RANGE``;
    - ``erf_sigmoid``: |a| ≤ min(S, L / (b 2/√π), L' / (b² (2/√π) √2 e^{-1/2}));
    - ``bounded_sine``: |a| ≤ min(S, L / b, L' / b²), phase in [-π, π];

    with S = ``max_sup``, L = ``max_lipschitz`` (which also bounds sup|σ'| = Lip(σ)),
    L' = ``max_lipschitz_prime``, each times ``MARGIN``. ``piecewise_linear`` and ``relu`` are
    refused in ``kinds``: they are outside the theorem. Shrinks towards
    ``erf_sigmoid(amplitude=1.0, slope=1.0)`` (the kind with the fewest choices; with 1.0
    allowed), within one kind towards amplitude 1.0, slope 1.0, shift or phase 0, one term.
    """
    max_sup = _positive_finite(max_sup, "max_sup")
    max_lipschitz = _positive_finite(max_lipschitz, "max_lipschitz")
    max_lipschitz_prime = _positive_finite(max_lipschitz_prime, "max_lipschitz_prime")
    kinds = _kinds(kinds, "kinds", ACTIVATION_KINDS, _OUTSIDE)
    max_terms = check_positive_int(max_terms, "max_terms")
    if max_terms > MAX_TERMS:
        raise InvalidArgument(f"`max_terms` must be at most {MAX_TERMS}, got max_terms={max_terms}.")
    return _lipschitz_activations(
        max_sup=max_sup, max_lipschitz=max_lipschitz, max_lipschitz_prime=max_lipschitz_prime, kinds=kinds, max_terms=max_terms
    )


@_named("lipschitz_activations")
def _lipschitz_activations(draw, *, max_sup, max_lipschitz, max_lipschitz_prime, kinds, max_terms):
    S, L, Lp = max_sup, max_lipschitz, max_lipschitz_prime  # _magnitude applies MARGIN
    kind = draw(st.sampled_from(kinds))
    slope = _floats(*SLOPE_RANGE)
    if kind == "tanh_sum":
        m = draw(st.integers(1, max_terms))
        amplitudes, slopes, shifts = [], [], []
        for _ in range(m):
            b = draw(slope)
            cap = min(S, L / b, Lp / (b * b * _TANH_SECOND)) / m
            amplitudes.append(_signed(draw, _magnitude(draw, cap)))
            slopes.append(b)
            shifts.append(draw(_floats(*SHIFT_RANGE)))
        act = tanh_sum(tuple(amplitudes), tuple(slopes), tuple(shifts))
    elif kind == "erf_sigmoid":
        b = draw(slope)
        cap = min(S, L / (b * _ERF_PRIME), Lp / (b * b * _ERF_SECOND))
        act = erf_sigmoid(_signed(draw, _magnitude(draw, cap)), b)
    else:
        b = draw(slope)
        cap = min(S, L / b, Lp / (b * b))
        act = bounded_sine(_signed(draw, _magnitude(draw, cap)), b, draw(_floats(-math.pi, math.pi)))
    _assert_within(act, {"sup_norm": max_sup, "lipschitz": max_lipschitz, "sup_prime": max_lipschitz, "lipschitz_prime": max_lipschitz_prime})
    return act


def _assert_within(obj, maxima: dict[str, float]) -> None:
    """Internal consistency: a drawn object never declares more than asked (a bug otherwise)."""
    for attr, maximum in maxima.items():
        value = getattr(obj, attr)
        if not value <= maximum:
            raise AssertionError(f"mfcheck.app.strategies drew {obj!r} with {attr}={value!r} > {maximum!r}; please report.")


# -- test functions -----------------------------------------------------------------------------
def test_functions(
    D,
    max_sup: float = 1.0,
    max_lipschitz: float = 2.0,
    *,
    kinds: tuple[str, ...] = TEST_FUNCTION_KINDS,
    max_center: float = 2.0,
) -> SearchStrategy[TestFunction]:
    r"""Bounded Lipschitz test functions f: R^D -> R with ``sup_norm <= max_sup``, ``lipschitz <= max_lipschitz``.

    ``D`` is an int or a strategy of ints. Kinds: ``tanh_ridge(u)`` (Lip = |u|),
    ``cosine_ridge(v, phase)`` (Lip = |v|), with u, v = r e for a drawn unit vector e and
    r ∈ [c/8, c], c = min(``max_lipschitz`` / A, 4); ``gaussian_bump(center, width)``
    (Lip = e^{-1/2}/h) with centre components in [-``max_center``, ``max_center``] and
    h ∈ [max(e^{-1/2} A / ``max_lipschitz``, 1/4), max(that, 4)]. All three have sup 1; when
    ``max_sup`` < 1 the function is multiplied by an amplitude A ∈ [``max_sup``/8, ``max_sup``]
    (printed as ``A * tanh_ridge(...)``), otherwise A = 1. Shrinks towards
    ``tanh_ridge(u=[1.0, 0.0, ...])`` where allowed.
    """
    D = _size(D, "D")
    max_sup = _positive_finite(max_sup, "max_sup")
    max_lipschitz = _positive_finite(max_lipschitz, "max_lipschitz")
    kinds = _kinds(kinds, "kinds", TEST_FUNCTION_KINDS)
    max_center = check_real(max_center, "max_center", nonnegative=True)
    return _test_functions(D=D, max_sup=max_sup, max_lipschitz=max_lipschitz, kinds=kinds, max_center=max_center)


test_functions.__test__ = False  # a strategy, not a pytest test, wherever it is imported


def _scaled(f: TestFunction, amplitude: float) -> TestFunction:
    if amplitude == 1.0:
        return f
    g = f.fn
    return TestFunction(f"{amplitude!r} * {f.name}", lambda th: amplitude * g(th), amplitude * f.sup_norm, amplitude * f.lipschitz)


@_named("test_functions")
def _test_functions(draw, *, D, max_sup, max_lipschitz, kinds, max_center):
    D = _draw_size(draw, D, "D")
    A = 1.0 if max_sup >= 1.0 else draw(_floats(max_sup / 8.0, max_sup * MARGIN))
    lip_cap = max_lipschitz * MARGIN / A
    kind = draw(st.sampled_from(kinds))
    if kind in ("tanh_ridge", "cosine_ridge"):
        e = _direction(draw, D)
        c = min(lip_cap, 4.0)
        r = draw(_floats(c / 8.0, c))
        f = tanh_ridge(r * e) if kind == "tanh_ridge" else cosine_ridge(r * e, draw(_floats(-math.pi, math.pi)))
    else:
        h_min = max(_BUMP_LIP / lip_cap, 0.25)
        h = draw(_floats(h_min, max(h_min, 4.0)))
        center = np.array(draw(st.lists(_floats(-max_center, max_center), min_size=D, max_size=D)), dtype=float)
        f = gaussian_bump(center, h)
    f = _scaled(f, A)
    _assert_within(f, {"sup_norm": max_sup, "lipschitz": max_lipschitz})
    return f


# -- data laws ----------------------------------------------------------------------------------
class _UniformLabels(FinitePopulation):
    """x_j ~ N(0, scale² I_d), y_j ~ U(-b, b), both from ``SeedSequence(seed)``."""

    def __init__(self, n: int, d: int, *, seed: int, label_bound: float, scale: float):
        rng = np.random.default_rng(np.random.SeedSequence(seed))
        X = scale * rng.standard_normal((n, d))
        y = label_bound * rng.uniform(-1.0, 1.0, size=n)
        super().__init__(
            X, y, name=f"FinitePopulation(n={n}, d={d}, x ~ N(0, {scale!r}² I), y ~ U(-{label_bound!r}, {label_bound!r}), seed={seed})"
        )


def finite_populations(
    n=st.integers(1, 16),
    d=st.integers(1, 3),
    *,
    max_label: float = 2.0,
    labels: tuple[str, ...] = LABEL_KINDS,
    min_scale: float = 0.5,
    max_scale: float = 2.0,
) -> SearchStrategy[FinitePopulation]:
    r"""Finite populations P = (1/n) Σ_j δ_{(x_j, y_j)} with |y_j| ≤ ``max_label``.

    x_j ~ N(0, s² I_d) with s ∈ [``min_scale``, ``max_scale``] and the points drawn from
    ``SeedSequence(seed)`` for a drawn :func:`seeds` integer (no global random state).
    Labels: ``"teacher"``, :func:`~mfcheck.model.problems.teacher_population` with a teacher from
    :func:`lipschitz_activations` (sup ≤ (``max_label`` - η)) and noise η ∈ [0, ``max_label``/2];
    ``"uniform"``, y_j ~ U(-b, b) with b ∈ [``max_label``/8, ``max_label``].
    ``n`` and ``d`` are ints or strategies of ints. Shrinks towards the uniform-label
    population (fewer choices than a teacher) with the smallest n and d, s = 1, b = 1, seed 0;
    with ``labels=("teacher",)`` towards ``teacher_population(n=1, d=1,
    teacher=erf_sigmoid(amplitude=1.0, slope=1.0), seed=0, noise=0.0, scale=1.0)``.
    """
    n = _size(n, "n")
    d = _size(d, "d")
    max_label = _positive_finite(max_label, "max_label")
    labels = _kinds(labels, "labels", LABEL_KINDS)
    min_scale = _positive_finite(min_scale, "min_scale")
    max_scale = _positive_finite(max_scale, "max_scale")
    _range(min_scale, max_scale, "min_scale", "max_scale")
    return _finite_populations(n=n, d=d, max_label=max_label, labels=labels, min_scale=min_scale, max_scale=max_scale)


@_named("finite_populations")
def _finite_populations(draw, *, n, d, max_label, labels, min_scale, max_scale):
    n = _draw_size(draw, n, "n")
    d = _draw_size(draw, d, "d")
    scale = draw(_floats(min_scale, max_scale))
    seed = draw(seeds())
    if draw(st.sampled_from(labels)) == "teacher":
        noise = draw(_floats(0.0, max_label / 2.0))
        teacher = draw(lipschitz_activations(max_sup=max_label - noise))
        problem = teacher_population(n, d, teacher, seed=seed, noise=noise, scale=scale)
    else:
        bound = draw(_floats(max_label / 8.0, max_label))
        problem = _UniformLabels(n, d, seed=seed, label_bound=bound, scale=scale)
    if not problem.y_bound <= max_label:
        raise AssertionError(f"mfcheck.app.strategies drew {problem!r} with |y| up to {problem.y_bound!r} > {max_label!r}; please report.")
    return problem


def problems(
    n=st.integers(1, 16),
    d=st.integers(1, 3),
    *,
    kinds: tuple[str, ...] = PROBLEM_KINDS,
    max_label: float = 2.0,
) -> SearchStrategy:
    r"""Data laws with bounded labels (|y| ≤ ``max_label``): one of ``kinds``.

    - ``"finite"``: :func:`finite_populations` (``n`` points; exact oracle);
    - ``"two_gaussians"``: :class:`~mfcheck.model.problems.TwoGaussians` with Δ ∈ [0.1, 0.9]
      (|y| = 1, so it needs ``max_label`` ≥ 1, else it is refused);
    - ``"teacher_student"``: :class:`~mfcheck.model.problems.TeacherStudent` with a smooth teacher
      from :func:`lipschitz_activations`, a unit direction w* and noise η ∈ [0, ``max_label``/2].

    The Gaussian problems use Gauss–Hermite oracles (48 nodes), accurate for smooth σ only
    (:mod:`mfcheck.model.problems._bivariate`); pair them with :func:`neurons`. Shrinks towards
    ``TwoGaussians(d=1, delta=0.5)`` when it is allowed (it takes the fewest choices).
    """
    n = _size(n, "n")
    d = _size(d, "d")
    kinds = _kinds(kinds, "kinds", PROBLEM_KINDS)
    max_label = _positive_finite(max_label, "max_label")
    if "two_gaussians" in kinds and max_label < 1.0:
        raise InvalidArgument(f"`kinds` contains 'two_gaussians', whose labels are ±1, but `max_label`={max_label} < 1.")
    return _problems(n=n, d=d, kinds=kinds, max_label=max_label)


@_named("problems")
def _problems(draw, *, n, d, kinds, max_label):
    kind = draw(st.sampled_from(kinds))
    if kind == "finite":
        return draw(finite_populations(n=n, d=d, max_label=max_label))
    d = _draw_size(draw, d, "d")
    if kind == "two_gaussians":
        return TwoGaussians(d, draw(_floats(0.1, 0.9)))
    noise = draw(_floats(0.0, max_label / 2.0))
    teacher = draw(lipschitz_activations(max_sup=max_label - noise))
    problem = TeacherStudent(d, teacher, w_star=_direction(draw, d), noise=noise)
    if not problem.y_bound <= max_label:
        raise AssertionError(f"mfcheck.app.strategies drew {problem!r} with |y| ≤ {problem.y_bound!r} > {max_label!r}; please report.")
    return problem


# -- neurons and experiments --------------------------------------------------------------------
def neurons(activations: SearchStrategy[Activation] | None = None) -> SearchStrategy[InnerNeuron]:
    """σ*(x; w) = σ(<w, x>) (:class:`~mfcheck.model.neurons.InnerNeuron`, D = d) with σ from ``activations``.

    ``activations`` defaults to :func:`lipschitz_activations` with its default maxima; a
    strategy passed here must draw :class:`~mfcheck.model.activations.Activation` objects inside
    Theorem 1 (a drawn one outside it raises :class:`~mfcheck.errors.OutsideAssumptions`).
    """
    if activations is not None:
        _strategy(activations, "activations")
    return _neurons(activations=activations)


@_named("neurons")
def _neurons(draw, *, activations):
    act = draw(activations if activations is not None else lipschitz_activations())
    return InnerNeuron(act).require_theorem_1()


def experiments(
    n=st.integers(2, 12),
    d=st.integers(1, 3),
    *,
    kinds: tuple[str, ...] = ("finite",),
    activations: SearchStrategy[Activation] | None = None,
    min_init_scale: float = 0.1,
    max_init_scale: float = 1.0,
    T: float = 1.0,
    log2_M: int = 10,
    data: SearchStrategy | None = None,
) -> SearchStrategy[Experiment]:
    r"""Small :class:`~mfcheck.model.experiment.Experiment` objects inside Theorem 1.

    The problem comes from :func:`problems` (``kinds``, default a finite population with
    ``n`` points in R^d, d ≤ 3), or from ``data`` when given (a strategy of problems, e.g.
    :func:`finite_populations` with a smaller ``max_label``; ``n``, ``d`` and ``kinds`` are
    then unused), σ* from :func:`neurons`, ρ_0 = N(0, κ² I_d) with
    κ ∈ [``min_init_scale``, ``max_init_scale``], one to three test functions from
    :func:`test_functions` on R^d, ξ ≡ 1, the horizon ``T``, ``log2_M`` reference nodes
    and a drawn root seed. ``problem.require_theorem_1(neuron)`` succeeds for every draw
    (checked when drawing). ``d`` may not exceed 3.
    """
    n = _size(n, "n")
    d = _size(d, "d", max_value=3)
    kinds = _kinds(kinds, "kinds", PROBLEM_KINDS)
    if activations is not None:
        _strategy(activations, "activations")
    min_init_scale = _positive_finite(min_init_scale, "min_init_scale")
    max_init_scale = _positive_finite(max_init_scale, "max_init_scale")
    _range(min_init_scale, max_init_scale, "min_init_scale", "max_init_scale")
    T = _positive_finite(T, "T")
    log2_M = check_positive_int(log2_M, "log2_M")
    if log2_M > 17:
        raise InvalidArgument(f"`log2_M` must be at most 17 (the reference carries 2^log2_M nodes), got log2_M={log2_M}.")
    if data is not None:
        _strategy(data, "data")
    return _experiments(
        n=n, d=d, kinds=kinds, activations=activations, min_init_scale=min_init_scale, max_init_scale=max_init_scale, T=T, log2_M=log2_M,
        data=data,
    )


@_named("experiments")
def _experiments(draw, *, n, d, kinds, activations, min_init_scale, max_init_scale, T, log2_M, data):
    if data is None:
        d = _draw_size(draw, d, "d", max_value=3)
        problem = draw(problems(n=n, d=d, kinds=kinds))
    else:
        problem = draw(data)
        if problem.d > 3:
            raise InvalidArgument(f"`data` drew {problem!r} with d={problem.d}; experiments() needs d <= 3.")
    neuron = draw(neurons(activations))
    problem.require_theorem_1(neuron)
    rho0 = GaussianInit(problem.d, draw(_floats(min_init_scale, max_init_scale)))
    fs = tuple(draw(st.lists(test_functions(problem.d), min_size=1, max_size=3)))
    return Experiment(problem=problem, neuron=neuron, rho0=rho0, T=T, log2_M=log2_M, test_functions=fs, seed=draw(seeds()))
