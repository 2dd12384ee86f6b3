"""pytest plugin: gate your own SGD implementation from your test suite.

Registered through the ``pytest11`` entry point ``mfcheck = "mfcheck.app.plugin"`` (or load it by
hand with ``pytest -p mfcheck.app.plugin``). Two ways to use it:

.. code-block:: python

    # a marker: the test runs the gate on the implementation named by `impl`
    # (a 'module:callable' spec of the protocol in mfcheck.app.gate) and fails, listing the
    # failing claims and their p-values, unless every claim holds.
    import pytest

    @pytest.mark.mfcheck_gate(impl="mypkg.sgd:step", tier="smoke")
    def test_my_sgd_is_mean_field():
        pass

    # a fixture: call it with the implementation (callable or spec); it returns the
    # mfcheck.app.gate.GateVerification and fails the test unless every claim holds.
    from mypkg.sgd import step

    def test_my_sgd(mfcheck_gate):
        v = mfcheck_gate(step, claims=["theorem1_test_functions", "theorem1_risk", "coupling_lemma"])
        assert v.exit_code == 0

A PyTorch or JAX network is gated as written (:mod:`mfcheck.frameworks`): name its factory and the
parameter holding the particles instead of ``impl``,

.. code-block:: python

    @pytest.mark.mfcheck_gate(torch="mypkg.net:make", particles="hidden.weight", tier="smoke")
    def test_my_network_is_mean_field():
        pass

(``jax="mypkg.net:make"`` likewise), or pass ``TorchStep(make, "hidden.weight")`` to the fixture.

Marker / fixture keywords: ``impl``, ``torch``, ``jax`` and ``particles``, ``tier`` (default: the option ``--mfcheck-gate-tier``,
else the ini value ``mfcheck_gate_tier``, else ``smoke``), ``alpha`` (default
``--mfcheck-gate-alpha`` or 0.05), ``claims`` (default :data:`mfcheck.app.gate.STEP_CLAIMS`),
``init`` (an initial sampler, callable or spec), ``baseline`` (a JSON file of
:func:`mfcheck.app.gate.write_baseline`) and ``call_time_limit`` (seconds each call of the
implementation may take; default :data:`mfcheck.app.limits.DEFAULT_CALL_TIME_LIMIT`, 0 for no
limit). With the marker, a test that also requests the fixture ``mfcheck_verification`` receives
the marker's verification.

One reference is solved per (tier, seed) and shared across the session's gate calls.

A bad marker or fixture call (an ``impl`` that does not load, an unknown tier or claim, a
missing baseline) and an implementation that crashes, returns a wrong shape or non-finite
values, or exceeds the per-call limit fail the test with mfcheck's one-paragraph message and no
traceback (:func:`reported`): the traceback would show the plugin's code, not the user's mistake.
"""

from __future__ import annotations

import contextlib

import pytest

from mfcheck.app.limits import DEFAULT_CALL_TIME_LIMIT
from mfcheck.app.options import TIER_NAMES

MARKER = "mfcheck_gate"
FIXTURE = "mfcheck_gate"
VERIFICATION_FIXTURE = "mfcheck_verification"
TIER_OPTION = "--mfcheck-gate-tier"
ALPHA_OPTION = "--mfcheck-gate-alpha"
TIER_INI = "mfcheck_gate_tier"
DEFAULT_TIER = "smoke"

__all__ = ["MARKER", "FIXTURE", "VERIFICATION_FIXTURE", "TIER_OPTION", "ALPHA_OPTION", "TIER_INI", "DEFAULT_TIER",
           "GateFailed", "failure_message", "reported", "run_gate"]

_REFERENCES: dict = {}
_VERIFICATION_KEY = pytest.StashKey[object]()


class GateFailed(AssertionError):
    """The implementation under test violates a claim (the message lists them with p-values)."""


def pytest_addoption(parser):
    group = parser.getgroup("mfcheck", "mfcheck gate (mean-field SGD claims)")
    group.addoption(TIER_OPTION, action="store", default=None, choices=TIER_NAMES,
                    help=f"sweep size of the mfcheck gate (default: ini {TIER_INI} or {DEFAULT_TIER}).")
    group.addoption(ALPHA_OPTION, action="store", type=float, default=None,
                    help="family-wise false-alarm rate of the mfcheck gate (default: 0.05).")
    parser.addini(TIER_INI, help=f"default tier of the mfcheck gate ({', '.join(TIER_NAMES)})", default=DEFAULT_TIER)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        f"{MARKER}(impl, tier=None, alpha=None, claims=None, init=None, baseline=None, call_time_limit={DEFAULT_CALL_TIME_LIMIT:g}, "
        "torch=None, jax=None, particles=None): run the mfcheck gate on the SGD step `impl` ('module:callable'), or on a "
        "PyTorch / JAX factory with its particle parameter, and fail unless every claim holds.")


def _default_tier(config) -> str:
    return config.getoption(TIER_OPTION) or config.getini(TIER_INI) or DEFAULT_TIER


def failure_message(verification) -> str:
    """The failing (and unresolved) claims of ``verification``, each with its smallest raw and
    Holm-adjusted p-values and the tests that rejected; then the gate's table."""
    lines = [f"mfcheck gate: {getattr(verification, 'implementation', '') or 'implementation'} violates "
             f"{sum(r.verdict == 'fail' for r in verification.results)} of {len(verification.results)} claims "
             f"(family-wise α = {verification.alpha}, Holm):"]
    for r in verification.results:
        if r.verdict == "pass":
            continue
        p, padj = r.min_p, r.min_p_adjusted
        rejected = [f"{t.name} (p={t.p_value:.2g}, adjusted {t.p_adjusted:.2g})" for t in r.tests if t.rejected]
        lines.append(f"  {r.claim}: {r.verdict}; smallest p = {p:.2g}, adjusted {padj:.2g}"
                     + (f"; rejected: {'; '.join(rejected)}" if rejected else f"; {r.message}"))
    for d in getattr(verification, "baseline_differences", ()):
        lines.append(f"  baseline moved: {d}")
    lines.append("")
    lines.append(verification.table() if hasattr(verification, "table") else "")
    return "\n".join(lines)


@contextlib.contextmanager
def reported():
    """Inside: mfcheck's errors (:class:`~mfcheck.errors.InvalidArgument`,
    :class:`~mfcheck.app.gate.ImplementationError`) and :class:`GateFailed` fail the test with
    their message alone (``pytest.fail(..., pytrace=False)``)."""
    from mfcheck.app.gate import ImplementationError
    from mfcheck.errors import InvalidArgument

    try:
        yield
    except GateFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    except InvalidArgument as exc:
        pytest.fail(f"mfcheck gate: error: {exc}", pytrace=False)
    except ImplementationError as exc:  # its label: "implementation error", "call time limit exceeded"
        pytest.fail(f"mfcheck gate: {exc.label}: {exc}", pytrace=False)


def run_gate(config, impl=None, *, tier=None, alpha=None, claims=None, init=None, baseline=None, call_time_limit=DEFAULT_CALL_TIME_LIMIT,
             torch=None, jax=None, particles=None, check=True):
    """Run :func:`mfcheck.app.gate.gate` with the session's defaults and shared references; raise
    :class:`GateFailed` (when ``check``) unless the exit code is 0. ``torch`` / ``jax``: a factory
    (callable or spec) of that framework, whose ``particles`` hold θ (:func:`mfcheck.frameworks.adapter_of`)."""
    from mfcheck.claims import get_claim
    from mfcheck.errors import InvalidArgument
    from mfcheck.model.experiment import default_experiment
    from mfcheck.app.gate import default_claims, gate, load_implementation
    from mfcheck.reference.refinement import build_reference
    from mfcheck.stats.results import DEFAULT_ALPHA
    from mfcheck.claims.tiers import get_tier

    tier = get_tier(tier or _default_tier(config))
    if alpha is None:
        alpha = config.getoption(ALPHA_OPTION) if config is not None else None
    alpha = DEFAULT_ALPHA if alpha is None else alpha
    if isinstance(impl, str):
        impl = load_implementation(impl)
    frameworks = {name: f for name, f in (("torch", torch), ("jax", jax)) if f is not None}
    if len(frameworks) + (impl is not None) > 1:
        raise InvalidArgument(f"give one of impl, torch, jax; got {', '.join(['impl'] * (impl is not None) + list(frameworks))}.")
    if frameworks:
        from mfcheck.frameworks import adapter_of

        (name, factory), = frameworks.items()
        impl = adapter_of(name, load_implementation(factory) if isinstance(factory, str) else factory, particles)
    elif particles is not None:
        raise InvalidArgument("`particles` names the parameters of a torch= or jax= factory; give one of them.")
    if isinstance(init, str):
        init = load_implementation(init)
    names = claims if claims is not None else default_claims(impl, init)
    experiment = default_experiment(log2_M=tier.log2_M)
    reference = None
    if any(get_claim(n).reads_reference for n in names):
        key = (tier.name, experiment.seed)
        if key not in _REFERENCES:
            _REFERENCES[key] = build_reference(experiment)
        reference = _REFERENCES[key]
    v = gate(impl, tier, alpha, claims=list(names), baseline=baseline, init=init, experiment=experiment, reference=reference,
             progress=False, command="pytest mfcheck_gate", call_time_limit=call_time_limit)
    if check and v.exit_code != 0:
        raise GateFailed(failure_message(v))
    return v


@pytest.fixture
def mfcheck_gate(request):
    """``mfcheck_gate(impl, *, tier=None, alpha=None, claims=None, init=None, baseline=None, call_time_limit=...)``:
    run the gate, fail the test (listing failing claims and p-values) unless every claim holds,
    return the :class:`mfcheck.app.gate.GateVerification`."""

    def run(impl=None, **kwargs):
        with reported():
            return run_gate(request.config, impl, **kwargs)

    return run


def _marker_kwargs(item):
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    kwargs = dict(marker.kwargs)
    impl = kwargs.pop("impl", marker.args[0] if marker.args else None)
    if impl is None and all(kwargs.get(k) is None for k in ("init", "torch", "jax")):
        raise pytest.UsageError(f"@pytest.mark.{MARKER} on {item.nodeid} needs impl='module:callable' (or torch=, jax=, init=).")
    unknown = set(kwargs) - {"tier", "alpha", "claims", "init", "baseline", "call_time_limit", "torch", "jax", "particles"}
    if unknown:
        raise pytest.UsageError(f"@pytest.mark.{MARKER} on {item.nodeid}: unknown keyword(s) {sorted(unknown)}.")
    return {"impl": impl, **kwargs}


def _marker_verification(item):
    if _VERIFICATION_KEY not in item.stash:
        with reported():
            item.stash[_VERIFICATION_KEY] = run_gate(item.config, check=False, **_marker_kwargs(item))
    return item.stash[_VERIFICATION_KEY]


@pytest.fixture
def mfcheck_verification(request):
    """The :class:`mfcheck.app.gate.GateVerification` of the test's ``mfcheck_gate`` marker (None
    without the marker). The test itself still fails unless every claim holds."""
    if _marker_kwargs(request.node) is None:
        return None
    return _marker_verification(request.node)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    """A test carrying the marker runs the gate first (in its call phase) and fails unless every claim holds."""
    if _marker_kwargs(item) is None:
        return
    v = _marker_verification(item)
    if v.exit_code != 0:
        pytest.fail(failure_message(v), pytrace=False)
