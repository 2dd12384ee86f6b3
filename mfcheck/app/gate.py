"""The CI gate: verify *your* SGD implementation against the mean-field theorems.

**The user protocol.** An implementation is a callable

.. code-block:: python

    def step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None) -> new_theta: ...

- ``theta`` (R, N, D): the N particles θ_1..θ_N of R independent replicates (one network each);
- ``x`` (R, d), ``y`` (R,): one fresh sample (x_k, y_k) per replicate;
- ``s``: the step size s_k = ε ξ(kε) (a float);
- ``neuron``: an mfcheck neuron (:mod:`mfcheck.model.neurons`) exposing

  * ``neuron.value(X, Theta)``: σ*(x_j; θ_m), shape (..., n, M), for X (..., n, d), Theta (..., M, D);
  * ``neuron.pullback(X, Theta, c)``: Σ_j c_j ∇_θ σ*(x_j; θ_m), shape (..., M, D), for weights c (..., n);
  * ``neuron.grad(X, Theta)``: every ∇_θ σ*(x_j; θ_m), shape (..., n, M, D) (small sizes only);

- ``noise`` (R, N, D): standard Gaussians g_i^k drawn by the harness (None in the noiseless
  case), so that the harness can drive its coupled reference with the same increments;
- ``lam`` ≥ 0 (ridge λ) and ``beta`` > 0 (inverse temperature β): the noisy case.

It must return the particles after one step, shape (R, N, D), without keeping state between
calls. The correct step (THEORY.md §2) is

    θ_i ← (1 − 2λ s) θ_i + 2 s (y − ŷ(x; θ)) ∇_θ σ*(x; θ_i) + sqrt(4 s / β) g_i,
    ŷ(x; θ) = (1/N) Σ_j σ*(x; θ_j);

in the noiseless case (``noise`` None, λ = 0) the last two terms vanish. :func:`reference_step`
is this step written in the protocol; the recipe in a few lines::

    def step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
        x1 = x[:, None, :]                                         # (R, 1, d)
        yhat = neuron.value(x1, theta).mean(axis=-1)               # (R, 1): ŷ = (1/N) Σ σ*
        new = theta + 2 * s * neuron.pullback(x1, theta, y[:, None] - yhat)
        if noise is not None:
            new = new - 2 * lam * s * theta + np.sqrt(4 * s / beta) * noise
        return new

**Running the gate.** ``mfcheck gate --impl pkg.mod:step [--tier ci] [--baseline FILE]`` or,
in Python, ``gate(load_implementation("pkg.mod:step"), get_tier("ci"))``: the harness turns
``step`` into its update rule (:func:`as_rule`: noiseless, and noisy at the λ, β of each
noisy claim), runs every claim that exercises a step (:data:`STEP_CLAIMS`: the
Theorem 1 rate claims, the Theorem 2 rate claims, azuma, gronwall, energy_decay, fixed_points,
temperature), decides them together (Holm at family-wise α) and prints :func:`format_table`.
An initial sampler ``init(rho0, rng, N) -> (N, D)`` can be gated too (``init=``; it adds the
``mcdiarmid`` claim, which tests only θ^0). In pytest, see :mod:`mfcheck.app.plugin`.

Every call of the implementation is checked (:func:`checked`): an exception, a wrong shape or
a non-finite value raises :class:`ImplementationError`, and the command exits 2.

Exit codes: 0 every claim holds, 1 a claim is violated (or the baseline moved), 2 usage error
or a crashing / wrong-shape implementation, 3 no claim violated but one unresolved (its message
names the knob to turn), as ``mfcheck verify``.

**Contents:** loading, checking and adapting implementations (:func:`as_rule`), the gate and its table,
the correct step written three ways (:data:`CORRECT_STEPS`), the self-test (:func:`self_test`: the
gate on the broken rules of :mod:`mfcheck.dynamics.broken` and on the correct variants) and the
baseline (:func:`write_baseline`, :func:`compare_baseline`: the rate claims' exponents and
constants with their CIs, and whether a later run moved beyond them).
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from scipy import stats

from mfcheck.app.verify import Verification, verify
from mfcheck.claims.tiers import Tier
from mfcheck.dynamics.broken import BROKEN
from mfcheck.dynamics.rules import Rule
from mfcheck.dynamics.sgd import InitSampler, iid_init
from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import Neuron
from mfcheck.stats.results import DEFAULT_ALPHA

__all__ = [
    "Implementation", "ImplementationError", "load_implementation", "checked", "checked_init", "as_rule", "as_protocol",
    "STEP_CLAIMS", "INIT_CLAIMS", "GateVerification", "gate", "format_table", "gate_command", "reference_step",
    "replicate_loop_step", "einsum_step", "CORRECT_STEPS", "MUTANTS", "SelfTest", "self_test", "BASELINE_FORMAT",
    "baseline_document", "write_baseline", "compare_baseline",
]

STEP_CLAIMS = (
    "theorem1_test_functions", "theorem1_risk", "coupling_lemma",
    "theorem2_test_functions", "theorem2_risk", "theorem2_coupling",
    "azuma", "gronwall", "energy_decay", "fixed_points", "temperature",
)
"""The claims that run the step under test (mcdiarmid and free_energy do not)."""

INIT_CLAIMS = ("mcdiarmid",)
"""The claims that test the initial sampler alone."""

_NEEDS_REFERENCE = frozenset(STEP_CLAIMS[:3] + INIT_CLAIMS)
"""The claims that read the solved Theorem 1 reference (solving it costs most of a smoke run)."""


# --------------------------------------------------------------------------------------------
# loading, checking and adapting a user implementation
# --------------------------------------------------------------------------------------------


Implementation = Callable[..., np.ndarray]
"""``step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None) -> new_theta`` (:mod:`mfcheck.app.gate`)."""


class ImplementationError(RuntimeError):
    """The implementation under test crashed, or returned a wrong shape or non-finite values.

    Not a claim violation: the claims cannot be judged, and ``mfcheck gate`` exits 2."""


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
        raise InvalidArgument(f"`impl` {spec!r}: {attr!r} is a {type(obj).__name__}, not a callable step.")
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


def checked(impl: Implementation) -> Implementation:
    """``impl`` with each call checked: inputs are copied (the implementation may write into
    them), the result must be finite of shape (R, N, D); any exception raised inside ``impl``,
    or a violation, becomes :class:`ImplementationError` (with the original as ``__cause__``)."""
    name = name_of(impl)

    def step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
        args = (np.array(theta, dtype=np.float64), np.array(x, dtype=np.float64), np.array(y, dtype=np.float64))
        g = None if noise is None else np.array(noise, dtype=np.float64)
        try:
            out = impl(*args, s, neuron, noise=g, lam=lam, beta=beta)
        except ImplementationError:
            raise
        except Exception as exc:
            raise ImplementationError(f"{name} raised {type(exc).__name__}: {exc} "
                                      f"(called with theta {np.shape(theta)}, x {np.shape(x)}, s={s:.3g}, "
                                      f"noise {'None' if noise is None else np.shape(noise)}, lam={lam}, beta={beta}).") from exc
        return _validated(out, np.shape(theta), name, f"for theta of shape {np.shape(theta)}")

    step.__name__ = step.__qualname__ = name
    step.__doc__ = getattr(impl, "__doc__", None)
    step.__wrapped__ = impl
    return step


def checked_init(init: InitSampler) -> InitSampler:
    """An initial sampler ``init(rho0, rng, N) -> (N, D)`` checked like :func:`checked`."""
    name = name_of(init)

    def sampler(rho0, rng, N):
        try:
            out = init(rho0, rng, N)
        except Exception as exc:
            raise ImplementationError(f"{name} raised {type(exc).__name__}: {exc} (called with N={N}).") from exc
        return _validated(out, (N, rho0.D), name, f"for N={N} particles in D={rho0.D}")

    sampler.__name__ = sampler.__qualname__ = name
    sampler.__wrapped__ = init
    return sampler


def _noiseless(step, theta, x, y, s, neuron):
    return step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None)


def _noisy(step, theta, x, y, s, neuron, g, noise):
    return step(theta, x, y, s, neuron, noise=g, lam=noise.lam, beta=noise.beta)


def as_rule(impl: Implementation) -> Rule:
    """The harness's rule from a protocol step, every call :func:`checked`: the noiseless step is
    ``impl(..., noise=None, lam=0.0, beta=None)``; the noisy step passes the harness's Gaussians g
    as ``noise`` with the rule's λ and β (the protocol's noise constant is c = 4). No kernel: the
    step runs in the numpy loop."""
    step = checked(impl)
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


# --------------------------------------------------------------------------------------------
# the gate
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateVerification(Verification):
    """A :class:`~mfcheck.app.verify.Verification` of a user implementation, with the baseline
    comparison (``baseline_differences``: empty when none was asked or nothing moved)."""

    implementation: str = ""
    init_name: str = ""
    baseline: str | None = None
    baseline_differences: tuple = ()
    seconds: float = math.nan

    @property
    def exit_code(self) -> int:
        """0 every claim holds, 1 a claim fails or the baseline moved, 3 none fails but one is unresolved."""
        code = Verification.exit_code.fget(self)
        return 1 if self.baseline_differences else code

    def table(self) -> str:
        return format_table(self)


def check_alpha(alpha) -> float:
    """``alpha`` as a float in (0, 1), or an error naming it."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < float(alpha) < 1:
        raise InvalidArgument(f"`alpha` must be in (0, 1), got {alpha!r}.")
    return float(alpha)


def gate(
    impl: Implementation | str | None,
    tier: Tier,
    alpha: float = DEFAULT_ALPHA,
    claims: Sequence[str] | None = None,
    baseline: str | Path | None = None,
    *,
    init: InitSampler | None = None,
    experiment=None,
    reference=None,
    out: str | Path | None = None,
    progress: bool = False,
    command: str = "mfcheck gate",
    execution=None,
) -> GateVerification:
    """Verify the protocol step ``impl`` (a callable or a ``"module:callable"`` spec; None: the
    built-in :func:`reference_step`) and/or the initial sampler ``init`` at ``tier``.

    - ``claims``: names to run (default :data:`STEP_CLAIMS`, plus :data:`INIT_CLAIMS` when
      ``init`` is given; with ``impl`` None and ``init`` given, only :data:`INIT_CLAIMS`).
    - ``baseline``: a JSON file from :func:`write_baseline`; the rate-claim estimates must not
      move beyond their CIs (:func:`compare_baseline`).
    - ``experiment``, ``reference``: share a solved reference across calls (as :func:`self_test` does).
    - ``execution``: where the sweep cells run and their cache (:class:`mfcheck.runtime.executors.Execution`;
      None: serial, no cache). The implementation must then be picklable by cloudpickle (a
      module-level function is).

    Raises :class:`ImplementationError` when the implementation crashes or returns a wrong
    shape / non-finite values; :class:`~mfcheck.errors.InvalidArgument` on bad arguments.
    """
    alpha = check_alpha(alpha)
    if not isinstance(tier, Tier):
        raise InvalidArgument(f"`tier` must be an mfcheck.claims.tiers.Tier (use get_tier(name)), got {tier!r}.")
    if isinstance(impl, str):
        impl = load_implementation(impl)
    if impl is not None and not callable(impl):
        raise InvalidArgument(f"`impl` must be a callable step or a 'module:callable' string, got {impl!r}.")
    if init is not None and not callable(init):
        raise InvalidArgument(f"`init` must be a callable init(rho0, rng, N), got {init!r}.")
    if claims is None:
        claims = INIT_CLAIMS if impl is None and init is not None else STEP_CLAIMS + (INIT_CLAIMS if init is not None else ())
    if isinstance(claims, str) or not all(isinstance(c, str) for c in claims) or not len(claims):
        raise InvalidArgument(f"`claims` must be a non-empty list of claim names, got {claims!r}.")
    if baseline is not None and not Path(baseline).is_file():
        raise InvalidArgument(f"`baseline` {str(baseline)!r} is not a file (write one with write_baseline / --write-baseline).")
    step = reference_step if impl is None else impl
    start = time.perf_counter()
    v = verify(tier, experiment=experiment, alpha=alpha, rule=as_rule(step), init=iid_init if init is None else checked_init(init),
               reference=reference, out=None if out is None else Path(out), progress=progress, claims=list(claims), command=command,
               execution=execution)
    diffs = tuple(compare_baseline(v, baseline)) if baseline is not None else ()
    return GateVerification(results=v.results, claims=v.claims, sweep=v.sweep, alpha=v.alpha, checks=v.checks, context=v.context,
                            implementation=name_of(step), init_name=name_of(init) if init is not None else "iid_init",
                            baseline=None if baseline is None else str(baseline), baseline_differences=diffs,
                            seconds=time.perf_counter() - start)


def _holm_levels(results) -> dict:
    """For each claim, the Holm threshold α/(m − j + 1) its smallest p-value was compared to (j its rank among all m)."""
    pvals = sorted((t.p_value, r.claim) for r in results for t in r.tests)
    m = len(pvals)
    levels = {}
    for j, (_, claim) in enumerate(pvals, start=1):
        levels.setdefault(claim, (results[0].alpha if results else math.nan) / (m - j + 1))
    return levels


def _statistic_rows(r) -> list[tuple[str, str]]:
    if r.exponents:
        return [(f"exponent {e.variable} (pred. ≥ {e.predicted:g})", fmt_est(e.estimate, e.ci)) for e in r.exponents.values()]
    for name, e in r.estimates.items():
        if isinstance(e, dict) and "estimate" in e and "ci" in e:
            try:
                return [(name, fmt_est(float(e["estimate"]), [float(c) for c in e["ci"]]))]
            except (TypeError, ValueError, IndexError):
                continue
    return [("—", "—")]


def format_table(verification: Verification) -> str:
    """The gate's table: claim, statistic (for rate claims the exponent along each path),
    estimate with 95 % CI, smallest raw p-value, the Holm level it was compared to, the smallest
    Holm-adjusted p, verdict; then the family-wise α and the number of tests."""
    results = verification.results
    levels = _holm_levels(results)
    head = f"{'claim':26s} {'statistic':30s} {'estimate [95% CI]':28s} {'min p':>9s} {'Holm lvl':>9s} {'adj. p':>8s}  verdict"
    lines = []
    impl = getattr(verification, "implementation", "")
    if impl:
        lines.append(f"implementation: {impl}" + (f"   init: {verification.init_name}" if getattr(verification, "init_name", "") else ""))
    lines += [head, "-" * len(head)]
    for r in results:
        p = min((t.p_value for t in r.tests), default=math.nan)
        padj = min((t.p_adjusted for t in r.tests), default=math.nan)
        for i, (stat, est) in enumerate(_statistic_rows(r)):
            stat = stat if len(stat) <= 30 else stat[:29] + "…"
            if i == 0:
                lvl = levels.get(r.claim, math.nan)
                lines.append(f"{r.claim:26s} {stat:30s} {est:28s} {p:9.2g} {lvl:9.2g} {padj:8.2g}  {r.verdict}")
            else:
                lines.append(f"{'':26s} {stat:30s} {est:28s}")
    m = sum(len(r.tests) for r in results)
    lines.append(f"family-wise α = {verification.alpha} after Holm over {m} tests (a claim fails when one of its tests has "
                 f"adjusted p ≤ α; 'Holm lvl' is the level its smallest p faced)")
    for r in results:
        if r.verdict != "pass":
            lines.append(f"  {r.claim}: {r.message}")
    for d in getattr(verification, "baseline_differences", ()):
        lines.append(f"  baseline moved: {d}")
    return "\n".join(lines)


def gate_command(impl: str | None, tier: str = "ci", *, alpha: float | None = None, claims: Sequence[str] | None = None,
                 init: str | None = None, baseline: str | None = None, write_baseline_to: str | None = None,
                 run_self_test: bool = False, out: str | None = None, quiet: bool = False, stdout=None, stderr=None,
                 execution=None) -> int:
    """``mfcheck gate --impl module:callable [--tier ci] [--self-test] [--baseline FILE]``: print
    the table, return the exit code (0 hold, 1 violated / moved, 2 usage or implementation
    error, 3 unresolved). ``impl`` None with ``run_self_test``: only the self-test. The working
    directory is put on ``sys.path`` (as ``python -m`` would) so a project's own modules load.
    ``execution``: where the cells run and their cache (the command line passes joblib processes
    and ``.mfcheck-cache/`` by default; None: serial, no cache)."""
    import os

    from mfcheck.claims.tiers import get_tier

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    if os.getcwd() not in sys.path:  # a console script does not put the working directory on the path (python -m does)
        sys.path.insert(0, os.getcwd())
    try:
        tier_obj = get_tier(tier)
        alpha = DEFAULT_ALPHA if alpha is None else check_alpha(alpha)
        if impl is None and init is None and not run_self_test:
            raise InvalidArgument("give `--impl module:callable` (and/or `--init module:callable`), or `--self-test`.")
        step = load_implementation(impl) if impl is not None else None
        sampler = load_implementation(init) if init is not None else None
        code = 0
        if run_self_test:
            st = self_test(tier_obj, alpha, progress=not quiet, echo=None if quiet else (lambda s: print(s, file=stderr)),
                           execution=execution)
            print(st.table(), file=stdout)
            code = st.exit_code
        if step is not None or sampler is not None:
            v = gate(step, tier_obj, alpha, claims=claims, baseline=baseline, init=sampler, out=out, progress=not quiet,
                     command=f"mfcheck gate --impl {impl} --tier {tier}", execution=execution)
            print(v.table(), file=stdout)
            if write_baseline_to is not None:
                write_baseline(v, write_baseline_to)
                print(f"baseline written to {write_baseline_to}", file=stderr)
            code = max(code, v.exit_code) if code != 1 else 1
        return code
    except InvalidArgument as exc:
        print(f"mfcheck: error: {exc}", file=stderr)
        return 2
    except ImplementationError as exc:
        print(f"mfcheck: implementation error: {exc}", file=stderr)
        return 2


# --------------------------------------------------------------------------------------------
# correct implementations (the protocol), written three ways
# --------------------------------------------------------------------------------------------


def _noise_and_decay(new, theta, s, noise, lam, beta):
    """new − 2λs θ + sqrt(4 s/β) g (the noisy terms; nothing when ``noise`` is None and λ = 0)."""
    if lam:
        new = new - (2.0 * lam * s) * theta
    if noise is not None:
        if beta is None or not beta > 0:
            raise InvalidArgument(f"`beta` must be > 0 when `noise` is given, got {beta!r}.")
        new = new + math.sqrt(4.0 * s / beta) * noise
    return new


def reference_step(theta, x, y, s, neuron: Neuron, noise=None, lam=0.0, beta=None):
    """Correct: θ_i ← (1 − 2λs)θ_i + 2s(y − ŷ)∇_θσ*(x; θ_i) + sqrt(4s/β) g_i, ŷ = (1/N) Σ_j σ*(x; θ_j)
    (vectorised with ``neuron.pullback``; the built-in rule :data:`mfcheck.dynamics.rules.MEAN_FIELD`
    in the user protocol)."""
    x1 = x[:, None, :]
    yhat = neuron.value(x1, theta).mean(axis=-1)  # (R, 1)
    new = theta + 2.0 * s * neuron.pullback(x1, theta, y[:, None] - yhat)
    return _noise_and_decay(new, theta, s, noise, lam, beta)


def replicate_loop_step(theta, x, y, s, neuron: Neuron, noise=None, lam=0.0, beta=None):
    """Correct, written differently: a Python loop over the replicates r; inside, ŷ_r as an
    explicit sum over particles and the gradient term particle by particle from ``neuron.grad``."""
    R, N, D = theta.shape
    new = np.empty_like(theta)
    for r in range(R):
        xr = x[r][None, :]  # (1, d)
        sig = neuron.value(xr, theta[r])[0]  # (N,)
        yhat = sig.sum() / N
        G = neuron.grad(xr, theta[r])[0]  # (N, D): ∇_θ σ*(x_r; θ_i)
        new[r] = theta[r] + (2.0 * s * (y[r] - yhat)) * G
    return _noise_and_decay(new, theta, s, noise, lam, beta)


def einsum_step(theta, x, y, s, neuron: Neuron, noise=None, lam=0.0, beta=None):
    """Correct, written differently: ∇_θσ* from ``neuron.grad`` on the pairs (x_r, θ_{r,i}) and
    the residual weighting by an explicit ``einsum``; the ridge as a multiplicative factor."""
    x1 = x[:, None, :]
    resid = y - np.einsum("rn->r", neuron.value(x1, theta)[:, 0, :]) / theta.shape[1]  # (R,)
    grads = neuron.grad(x1, theta)  # (R, 1, N, D)
    new = theta + 2.0 * s * np.einsum("rjnd,r->rnd", grads, resid)
    if lam:
        new = new - (2.0 * lam * s) * theta
    if noise is not None:
        if beta is None or not beta > 0:
            raise InvalidArgument(f"`beta` must be > 0 when `noise` is given, got {beta!r}.")
        new = new + np.sqrt(4.0 * s / beta) * noise
    return new


CORRECT_STEPS: dict[str, Implementation] = {
    "reference": reference_step,
    "replicate_loop": replicate_loop_step,
    "einsum": einsum_step,
}
"""Correct protocol steps written differently: the gate must accept each."""


# --------------------------------------------------------------------------------------------
# self-test
# --------------------------------------------------------------------------------------------


MUTANTS = ("ntk_scaling", "no_factor_two", "unscaled_lr", "gradient_ascent", "weak_noise", "wrong_sign_decay", "correlated_init")
"""The registry entries the self-test runs: those that the gate's claims as a family must reject
(the others target a single claim and are run by that claim's tests)."""


@dataclass(frozen=True)
class SelfTest:
    """``rows``: per implementation, ``name``, ``kind`` (mutant / correct), ``target`` (step / init),
    ``bug`` (one line), ``rejected`` (the gate as a whole failed it), ``failed_claims``,
    ``claims_run``, ``power_fraction`` (failed / run), ``min_p_adjusted`` per claim, ``error``
    (an :class:`ImplementationError`, which also counts as rejected) and ``seconds``."""

    tier: str
    alpha: float
    rows: list = field(default_factory=list)

    @property
    def missed_mutants(self) -> list[str]:
        return [r["name"] for r in self.rows if r["kind"] == "mutant" and not r["rejected"]]

    @property
    def rejected_correct(self) -> list[str]:
        return [r["name"] for r in self.rows if r["kind"] == "correct" and r["rejected"]]

    @property
    def ok(self) -> bool:
        return not self.missed_mutants and not self.rejected_correct

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def table(self) -> str:
        head = f"{'implementation':22s} {'kind':8s} {'rejected':8s} {'claims failed':>13s}  {'seconds':>7s}  failed claims"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            frac = f"{len(r['failed_claims'])}/{r['claims_run']}"
            what = ", ".join(r["failed_claims"]) if not r["error"] else f"ImplementationError: {r['error'][:80]}"
            lines.append(f"{r['name']:22s} {r['kind']:8s} {'yes' if r['rejected'] else 'no':8s} {frac:>13s}  {r['seconds']:7.1f}  {what}")
        lines.append(f"tier {self.tier}, family-wise α = {self.alpha} per gate run (Holm). Mutants missed: "
                     f"{self.missed_mutants or 'none'}; correct variants rejected: {self.rejected_correct or 'none'}.")
        return "\n".join(lines)


def _catalogue() -> list[tuple[str, str, str, str, object]]:
    """(name, kind, target, bug, implementation): the mutants (a step or noise as a protocol step, an
    initial sampler as it is), then the correct variants."""
    rows = []
    for name in MUTANTS:
        entry = BROKEN[name]
        target = "init" if entry.replaces == "init" else "step"
        rows.append((name, "mutant", target, entry.bug, entry.rule if target == "init" else as_protocol(entry.rule)))
    return rows + [(n, "correct", "step", (f.__doc__ or "").split("\n")[0], f) for n, f in CORRECT_STEPS.items()]


def self_test(tier: Tier, alpha: float = DEFAULT_ALPHA, *, names: Sequence[str] | None = None, claims: Sequence[str] | None = None,
              progress: bool = False, experiment=None, reference=None, echo: Callable[[str], None] | None = None,
              execution=None) -> SelfTest:
    """Run the gate on every mutant of :data:`MUTANTS` and correct variant (``names`` restricts them).

    Step mutants and correct variants run on ``claims`` (default :data:`STEP_CLAIMS`); initial
    sampler mutants on :data:`INIT_CLAIMS`. One reference is solved and shared. A mutant whose
    run raises :class:`ImplementationError` counts as rejected (the gate exits 2 on it).
    ``echo`` receives one line per finished implementation; ``execution`` is passed to :func:`gate`."""
    from mfcheck.model.experiment import default_experiment
    from mfcheck.reference.refinement import build_reference

    alpha = check_alpha(alpha)
    catalogue = _catalogue()
    if names is not None:
        unknown = sorted(set(names) - {c[0] for c in catalogue})
        if unknown:
            raise InvalidArgument(f"`names` has unknown implementation(s) {unknown}; known: {sorted(c[0] for c in catalogue)}.")
        catalogue = [c for c in catalogue if c[0] in names]
    step_claims = tuple(STEP_CLAIMS if claims is None else claims)
    experiment = experiment or default_experiment(log2_M=tier.log2_M)
    if reference is None and any(c in _NEEDS_REFERENCE for c in step_claims + INIT_CLAIMS):
        reference = build_reference(experiment)
    out = SelfTest(tier=tier.name, alpha=alpha)
    for name, kind, target, bug, obj in catalogue:
        start = time.perf_counter()
        run_claims = INIT_CLAIMS if target == "init" else step_claims
        row = {"name": name, "kind": kind, "target": target, "bug": bug,
               "claims_run": len(run_claims), "failed_claims": [], "min_p_adjusted": {}, "error": None}
        try:
            kwargs = {"init": obj, "impl": None} if target == "init" else {"impl": obj}
            v = gate(tier=tier, alpha=alpha, claims=list(run_claims), experiment=experiment, reference=reference, progress=progress,
                     execution=execution, **kwargs)
            row["failed_claims"] = [r.claim for r in v.results if r.verdict == "fail"]
            row["min_p_adjusted"] = {r.claim: min((t.p_adjusted for t in r.tests), default=math.nan) for r in v.results}
            row["unresolved"] = [r.claim for r in v.results if r.verdict == "unresolved"]
            row["rejected"] = v.exit_code == 1
        except ImplementationError as exc:
            row["error"] = str(exc)
            row["rejected"] = True
        row["power_fraction"] = len(row["failed_claims"]) / max(row["claims_run"], 1) if not row["error"] else 1.0
        row["seconds"] = time.perf_counter() - start
        out.rows.append(row)
        if echo is not None:
            echo(f"{name}: {'rejected' if row['rejected'] else 'accepted'} ({len(row['failed_claims'])}/{row['claims_run']} claims failed"
                 f"{'; ' + ', '.join(row['failed_claims']) if row['failed_claims'] else ''}) in {row['seconds']:.0f} s")
    return out


# --------------------------------------------------------------------------------------------
# baseline regression
# --------------------------------------------------------------------------------------------


BASELINE_FORMAT = 1
BOOTSTRAP_RESAMPLES = 400
_T975 = 0.975


def fmt_est(est, ci) -> str:
    return f"{est:.3g} [{ci[0]:.3g}, {ci[1]:.3g}]"


def _c_hat_ci(verification: Verification, result, claim, resamples: int = BOOTSTRAP_RESAMPLES) -> list[float]:
    """95 % percentile-bootstrap CI of Ĉ (:func:`mfcheck.claims.fit._tail`): replicates of the
    calibration half (even replicates) resampled within each resolved cell, Ĉ recomputed."""
    from mfcheck.claims.fit import Z_GRID
    from mfcheck.seeds import Streams

    table = verification.sweep.table
    exp = verification.sweep.experiment
    resolved = {(c["path"], int(c["N"]), float(c["eps"])) for c in result.cells if c["resolved"]}
    cal = table[table["replicate"] % 2 == 0]
    groups = []
    for (path, N, eps), g in cal.groupby(["path", "N", "eps"], sort=True):
        if (path, int(N), float(eps)) not in resolved:
            continue
        S = g[claim.statistic].to_numpy(dtype=float)
        scales = np.array([float(claim.scale(N, eps, exp.D, exp.T, z)) for z in Z_GRID])
        allowed = np.array([int(math.floor(math.exp(-z * z) * len(S))) for z in Z_GRID])
        groups.append((S, scales, allowed))
    if not groups:
        return [math.nan, math.nan]
    rng = Streams(exp.seed).child("gate-baseline", claim.name).generator("reference", 0)  # roles are fixed; "reference": the bootstrap draws
    boot = np.empty(resamples)
    for b in range(resamples):
        c = 0.0
        for S, scales, allowed in groups:
            Sb = np.sort(S[rng.integers(0, len(S), len(S))])[::-1]
            for scale, k in zip(scales, allowed):
                if k < len(Sb):
                    c = max(c, float(Sb[k] / scale))
        boot[b] = c
    return [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))]


def baseline_document(verification: Verification) -> dict:
    """The JSON document :func:`write_baseline` stores (per rate claim: exponents, constants, Ĉ with CIs)."""
    if verification.sweep is None or not verification.claims:
        raise InvalidArgument("`verification` has no rate claim to store: run the gate or verify with at least one rate claim.")
    doc = {"format": BASELINE_FORMAT, "tier": verification.sweep.tier.name, "seed": verification.sweep.experiment.seed,
           "alpha": verification.alpha, "rule": "a quantity moves when the baseline's 95% CI and the new 95% CI are disjoint",
           "implementation": getattr(verification, "implementation", "") or (
               verification.context.rule.name if verification.context is not None else ""), "claims": {}}
    by_name = {r.claim: r for r in verification.results}
    for claim in verification.claims:
        r = by_name[claim.name]
        entry = {"exponents": {}, "constants": {}, "C_hat": None}
        for path, e in r.exponents.items():
            entry["exponents"][path] = {"variable": e.variable, "estimate": e.estimate, "ci": list(e.ci), "predicted": e.predicted}
            a, se = e.params[0], math.sqrt(max(e.cov[0][0], 0.0))
            q = float(stats.t.ppf(_T975, e.df)) if e.df > 0 else math.inf
            entry["constants"][path] = {"what": "e^a, the fitted line log S − log(log factor) = a + b log(x)",
                                        "estimate": math.exp(a), "ci": [math.exp(a - q * se), math.exp(a + q * se)]}
        if math.isfinite(r.C_hat):
            entry["C_hat"] = {"estimate": r.C_hat, "ci": _c_hat_ci(verification, r, claim)}
        doc["claims"][claim.name] = entry
    return doc


def write_baseline(verification: Verification, path: str | Path) -> dict:
    """Write :func:`baseline_document` of ``verification`` to ``path`` (JSON); return it."""
    doc = baseline_document(verification)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return doc


def _disjoint(a, b) -> bool:
    return a[1] < b[0] or b[1] < a[0]


def compare_baseline(verification: Verification, path: str | Path) -> list[str]:
    """Differences between ``verification`` and the baseline at ``path``: one line per rate-claim
    quantity (exponent per path, constant per path, Ĉ) whose new 95 % CI is disjoint from the
    baseline's, or that the baseline has and the new run lacks. Empty: nothing moved.

    Claims of the baseline the new run did not include are not compared. Raises
    :class:`~mfcheck.errors.InvalidArgument` when the file is unreadable or from another tier."""
    try:
        base = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"`baseline` {str(path)!r} cannot be read as JSON: {exc}") from exc
    if not isinstance(base, dict) or base.get("format") != BASELINE_FORMAT or "claims" not in base:
        raise InvalidArgument(f"`baseline` {str(path)!r} is not an mfcheck baseline (format {BASELINE_FORMAT}).")
    new = baseline_document(verification)
    if base["tier"] != new["tier"]:
        raise InvalidArgument(f"`baseline` {str(path)!r} was written at tier {base['tier']!r}; this run is tier {new['tier']!r}.")
    diffs = []
    for claim, b in base["claims"].items():
        n = new["claims"].get(claim)
        if n is None:
            continue
        for kind in ("exponents", "constants"):
            for p, bq in b[kind].items():
                label = f"{claim}: {'exponent' if kind == 'exponents' else 'constant'} on the {p}-path"
                nq = n[kind].get(p)
                if nq is None:
                    diffs.append(f"{label} was fitted in the baseline ({fmt_est(bq['estimate'], bq['ci'])}) but not now (unresolved)")
                elif _disjoint(bq["ci"], nq["ci"]):
                    diffs.append(f"{label} moved: {fmt_est(nq['estimate'], nq['ci'])} now, {fmt_est(bq['estimate'], bq['ci'])} in the baseline")
        bc, nc = b.get("C_hat"), n.get("C_hat")
        if bc is not None and nc is None:
            diffs.append(f"{claim}: Ĉ was fitted in the baseline but not now")
        elif bc is not None and all(map(math.isfinite, bc["ci"] + nc["ci"])) and _disjoint(bc["ci"], nc["ci"]):
            diffs.append(f"{claim}: Ĉ moved: {fmt_est(nc['estimate'], nc['ci'])} now, {fmt_est(bc['estimate'], bc['ci'])} in the baseline")
    return diffs
