"""User implementations in the gate protocol: loading them, checking every call, adapting them to rules.

A protocol step is ``step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None) -> new_theta``
(:mod:`mfcheck.app.gate`); an initial sampler is ``init(rho0, rng, N) -> (N, D)``. :func:`as_rule`
turns a step into the harness's :class:`~mfcheck.dynamics.rules.Rule`, with each call checked
(:func:`checked`): an exception, a wrong shape or a non-finite value raises
:class:`ImplementationError`, and a call that does not return within the per-call limit
(:mod:`mfcheck.app.limits`) raises :class:`CallTimeLimitExceeded`; :func:`probe` makes the first
such calls, on a tiny input, before any work.
:func:`as_protocol` goes the other way, for the self-test, which feeds the gate the broken rules
of :mod:`mfcheck.dynamics.broken` as a user would.
"""

from __future__ import annotations

import importlib
import reprlib
from collections.abc import Callable
from functools import partial

import numpy as np

from mfcheck.app.limits import CALL_TIME_LIMIT_EXCEEDED, DEFAULT_CALL_TIME_LIMIT, check_seconds, limited
from mfcheck.dynamics.rules import Rule
from mfcheck.dynamics.sgd import InitSampler
from mfcheck.errors import InvalidArgument
from mfcheck.runtime.cache import Unkeyed
from mfcheck.seeds import Streams

__all__ = ["Implementation", "ImplementationError", "CallTimeLimitExceeded", "load_implementation", "checked", "checked_init",
           "probe", "as_rule", "as_protocol", "PROBE_SHAPE", "PROBE_S"]

Implementation = Callable[..., np.ndarray]
"""``step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None) -> new_theta`` (:mod:`mfcheck.app.gate`)."""


class ImplementationError(RuntimeError):
    """The implementation under test crashed, or returned a wrong shape or non-finite values.

    Not a claim violation: the claims cannot be judged, and ``mfcheck gate`` prints
    ``mfcheck: <label>: <message>`` and exits :attr:`exit_code`."""

    label = "implementation error"
    exit_code = 2


class CallTimeLimitExceeded(ImplementationError):
    """A call of the implementation under test did not return within the per-call limit
    (:func:`checked`, :mod:`mfcheck.app.limits`)."""

    label = "call time limit exceeded"
    exit_code = CALL_TIME_LIMIT_EXCEEDED


def load_implementation(spec: str) -> Callable:
    """The callable named by ``"package.module:attribute"`` (the attribute may be dotted: ``mod:Class.step``).

    Raises :class:`~mfcheck.errors.InvalidArgument` naming ``impl`` when the spec is malformed,
    the module cannot be imported, the attribute is missing or is not callable."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise InvalidArgument(f"`impl` must read 'package.module:callable', got {spec!r}.")
    module_name, attr = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise InvalidArgument(
            f"`impl` {spec!r}: module {module_name!r} not found ({exc}); is it installed or on PYTHONPATH (run from the "
            f"project root)?") from exc
    except Exception as exc:  # the module exists but fails on import: report its error
        raise InvalidArgument(f"`impl` {spec!r}: importing module {module_name!r} raised {type(exc).__name__}: {exc}") from exc
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            known = sorted(n for n in dir(obj) if not n.startswith("_"))[:20]
            raise InvalidArgument(f"`impl` {spec!r}: {getattr(obj, '__name__', obj)!r} has no attribute {part!r} "
                                  f"(public names: {', '.join(known)}).")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InvalidArgument(f"`impl` must name a callable step, got {spec!r}: {attr!r} is {reprlib.repr(obj)} of type "
                              f"{type(obj).__name__}, not a callable.")
    return obj


def name_of(impl) -> str:
    """How the gate names a callable: its qualified name, else its name, else its repr."""
    return getattr(impl, "__qualname__", None) or getattr(impl, "__name__", None) or repr(impl)


def _validated(out, expected_shape, name: str, what: str) -> np.ndarray:
    try:
        arr = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ImplementationError(f"{name} returned {type(out).__name__}, not an array of floats {what}: {exc}") from exc
    if arr.shape != tuple(expected_shape):
        raise ImplementationError(f"{name} returned shape {arr.shape}; expected {tuple(expected_shape)} {what}.")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ImplementationError(f"{name} returned {bad} non-finite value(s) (NaN or inf) {what}.")
    return arr


def _limit(call_time_limit) -> Unkeyed:
    """The per-call limit in seconds (None: none) as the checked callables carry it: outside the
    cache key (:class:`~mfcheck.runtime.cache.Unkeyed`), since it cannot change a result, so that a
    run with a raised limit reads the cells that an earlier run cached."""
    return Unkeyed(check_seconds(call_time_limit, "call_time_limit", none=True))


def _over(name: str, limit: float, call: str) -> CallTimeLimitExceeded:
    return CallTimeLimitExceeded(f"{name} did not return within {limit:g} s (called with {call}); if it is only slow, raise "
                                 f"the limit with --call-time-limit SECONDS (call_time_limit= in Python; 0: no limit).")


def checked(impl: Implementation, call_time_limit: float | None = DEFAULT_CALL_TIME_LIMIT) -> Implementation:
    """``impl`` with each call checked: inputs are copied (the implementation may write into
    them), the result must be finite of shape (R, N, D); any exception raised inside ``impl``,
    or a violation, becomes :class:`ImplementationError` (with the original as ``__cause__``);
    a call that has not returned after ``call_time_limit`` seconds (None or 0: no limit) is
    stopped and raises :class:`CallTimeLimitExceeded` (:func:`mfcheck.app.limits.limited`)."""
    name = name_of(impl)
    limit = _limit(call_time_limit)

    def step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
        args = (np.array(theta, dtype=np.float64), np.array(x, dtype=np.float64), np.array(y, dtype=np.float64))
        g = None if noise is None else np.array(noise, dtype=np.float64)

        def call() -> str:  # for a message
            return (f"theta {np.shape(theta)}, x {np.shape(x)}, s={s:.3g}, noise {'None' if noise is None else np.shape(noise)}, "
                    f"lam={lam}, beta={beta}")

        try:
            with limited(limit.value, lambda: _over(name, limit.value, call())):
                out = impl(*args, s, neuron, noise=g, lam=lam, beta=beta)
        except ImplementationError:
            raise
        except Exception as exc:
            raise ImplementationError(f"{name} raised {type(exc).__name__}: {exc} (called with {call()}).") from exc
        return _validated(out, np.shape(theta), name, f"for theta of shape {np.shape(theta)}")

    step.__name__ = step.__qualname__ = name
    step.__doc__ = getattr(impl, "__doc__", None)
    step.__wrapped__ = impl
    return step


def checked_init(init: InitSampler, call_time_limit: float | None = DEFAULT_CALL_TIME_LIMIT) -> InitSampler:
    """An initial sampler ``init(rho0, rng, N) -> (N, D)`` checked like :func:`checked`."""
    name = name_of(init)
    limit = _limit(call_time_limit)

    def sampler(rho0, rng, N):
        try:
            with limited(limit.value, lambda: _over(name, limit.value, f"N={N}")):
                out = init(rho0, rng, N)
        except ImplementationError:
            raise
        except Exception as exc:
            raise ImplementationError(f"{name} raised {type(exc).__name__}: {exc} (called with N={N}).") from exc
        return _validated(out, (N, rho0.D), name, f"for N={N} particles in D={rho0.D}")

    sampler.__name__ = sampler.__qualname__ = name
    sampler.__wrapped__ = init
    return sampler


PROBE_SHAPE = (2, 3)
"""(replicates, particles) of the input of :func:`probe`."""

PROBE_S = 0.01
"""The step size of :func:`probe`."""


def _disposable(impl):
    """A copy of ``impl`` that :func:`probe` may call without changing the original: a cloudpickle
    round trip, which copies closures and the objects they hold (a noise generator, say) as the
    parallel executors do for each cell, and returns a module-level function itself. The protocol
    asks a step to keep no state; the harness's own mutants do keep one (a noise stream that each
    run starts afresh), and a probe of the original would move it on before the sweep. ``impl``
    itself when it cannot be pickled (a serial run calls it as it is)."""
    import cloudpickle

    try:
        return cloudpickle.loads(cloudpickle.dumps(impl))
    except Exception:  # not picklable: nothing to copy, and nothing a parallel run could carry either
        return impl


def probe(impl: Implementation, experiment=None, call_time_limit: float | None = DEFAULT_CALL_TIME_LIMIT) -> None:
    """Call ``impl`` twice on a tiny input, each call :func:`checked` (with ``call_time_limit``):
    noiseless, and noisy (Gaussians, λ = 0.5, β = 4) unless it is :func:`noiseless_only`; raise :class:`ImplementationError` on a
    crash, a wrong shape or a non-finite value, :class:`CallTimeLimitExceeded` on a call that
    does not return in time.

    The input: θ of shape :data:`PROBE_SHAPE` + (D,), x (2, d), y (2,), s = :data:`PROBE_S`, the
    neuron, d and D of ``experiment`` (default: :func:`mfcheck.model.experiment.default_experiment`),
    drawn from a fixed seed stream, so the probe is the same call every time.

    Why: the gate solves the reference and starts the sweeps before its first SGD step, so an
    implementation that fails on every input would be reported only after that work; on a tiny
    input it fails at once. A step that fails only on some inputs is still caught, later, by the
    checked calls of the sweep. The probe calls a copy (:func:`_disposable`), so that it leaves
    the state of the implementation as it found it."""
    if experiment is None:
        from mfcheck.model.experiment import default_experiment

        experiment = default_experiment()
    rng = Streams(0).child("probe").generator("data")
    d = experiment.problem.d
    theta = 0.5 * rng.standard_normal((*PROBE_SHAPE, experiment.neuron.dim(d)))
    x, y = rng.standard_normal((PROBE_SHAPE[0], d)), rng.standard_normal(PROBE_SHAPE[0])
    step = checked(_disposable(impl), call_time_limit)
    step(theta, x, y, PROBE_S, experiment.neuron)
    if not noiseless_only(impl):
        step(theta, x, y, PROBE_S, experiment.neuron, noise=rng.standard_normal(theta.shape), lam=0.5, beta=4.0)


def noiseless_only(impl) -> bool:
    """Whether ``impl`` declares every claim about noisy SGD not applicable (its attribute
    ``not_applicable``: a framework factory that takes no β); a protocol step is called noisy too."""
    from mfcheck.claims import CLAIMS

    skip = getattr(impl, "not_applicable", None) or {}
    return bool(skip) and all(name in skip for name, claim in CLAIMS.items() if "noise" in claim.parts)


def _noiseless(step, theta, x, y, s, neuron):
    return step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None)


def _noisy(step, theta, x, y, s, neuron, g, noise):
    return step(theta, x, y, s, neuron, noise=g, lam=noise.lam, beta=noise.beta)


def as_rule(impl: Implementation, call_time_limit: float | None = DEFAULT_CALL_TIME_LIMIT) -> Rule:
    """The harness's rule from a protocol step, every call :func:`checked` (with ``call_time_limit``): the noiseless step is
    ``impl(..., noise=None, lam=0.0, beta=None)``; the noisy step passes the harness's Gaussians g
    as ``noise`` with the rule's λ and β (the protocol's noise constant is c = 4). No kernel: the
    step runs in the numpy loop."""
    step = checked(impl, call_time_limit)
    return Rule(name_of(impl), partial(_noiseless, step), noisy_step=partial(_noisy, step))


def as_protocol(rule: Rule) -> Implementation:
    """``rule`` as a protocol step: noiseless when ``noise`` is None, else ``rule.noisy(lam, beta)`` on
    the Gaussians ``noise``."""

    def step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
        if noise is None:
            return rule(theta, x, y, s, neuron)
        return rule.noisy(lam, beta)(theta, x, y, s, neuron, noise)

    step.__name__ = step.__qualname__ = rule.name
    return step
