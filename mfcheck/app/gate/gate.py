"""The gate: every claim that exercises a step, run on a user implementation and decided together.

:func:`gate` first calls the protocol step on a tiny input (:func:`mfcheck.app.gate.protocol.probe`),
adapts it (:func:`mfcheck.app.gate.protocol.as_rule`) and the initial sampler, runs
:func:`mfcheck.app.verify.verify` on :data:`STEP_CLAIMS` (and :data:`INIT_CLAIMS` with a sampler),
decides them with Holm at family-wise α and compares with a baseline if asked; :func:`format_table`
prints the result, :func:`gate_command` is ``mfcheck gate`` (exit codes: :mod:`mfcheck.app.gate`).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mfcheck.app.gate.baseline import compare_baseline, write_baseline
from mfcheck.report.format import fmt_estimate
from mfcheck.app.gate.examples import reference_step
from mfcheck.app.gate.protocol import Implementation, ImplementationError, as_rule, checked_init, load_implementation, name_of, probe
from mfcheck.app.limits import DEFAULT_CALL_TIME_LIMIT, check_seconds
from mfcheck.app.verify import Verification, verify
from mfcheck.claims import CLAIMS
from mfcheck.claims.tiers import Tier
from mfcheck.dynamics.sgd import InitSampler, iid_init
from mfcheck.errors import InvalidArgument
from mfcheck.stats.results import DEFAULT_ALPHA, deciding, family_size

__all__ = ["STEP_CLAIMS", "INIT_CLAIMS", "default_claims", "GateVerification", "check_alpha", "gate", "format_table", "gate_command",
           "implementation_failed"]

STEP_CLAIMS = tuple(name for name, claim in CLAIMS.items() if claim.parts & {"step", "noise"} and not claim.outside_gate)
"""The claims that run the step under test (mcdiarmid and free_energy do not), read from the declarations;
a claim declared ``outside_gate`` (:class:`mfcheck.claims.base.Claim`: why) runs only when named."""

INIT_CLAIMS = tuple(name for name, claim in CLAIMS.items() if claim.parts == {"init"})
"""The claims that test the initial sampler alone."""


def not_applicable(impl) -> dict[str, str]:
    """The claims ``impl`` declares it cannot be judged on, each with the reason: its attribute
    ``not_applicable`` (a framework adapter's noiseless-only factory, or a noisy step that draws its
    own Gaussians: :func:`mfcheck.frameworks.particles.not_applicable`); empty for a protocol step."""
    return dict(getattr(impl, "not_applicable", None) or {}) if impl is not None else {}


def default_claims(impl, init) -> tuple[str, ...]:
    """The claims a gate runs by default: :data:`STEP_CLAIMS` for a step (less those it declares
    :func:`not_applicable`), plus :data:`INIT_CLAIMS` with an initial sampler; only
    :data:`INIT_CLAIMS` for a sampler alone (``impl`` None)."""
    if impl is None and init is not None:
        return INIT_CLAIMS
    skip = not_applicable(impl)
    return tuple(c for c in STEP_CLAIMS if c not in skip) + (INIT_CLAIMS if init is not None else ())


def _settings(experiment, claims) -> list:
    """(σ*, d) of every setting the claims run a step in: the experiment's, and the noisy claims' own
    D = 1 setting (:func:`mfcheck.claims.temperature.setting`) when one of them runs."""
    from mfcheck.claims.temperature import setting
    from mfcheck.model.experiment import default_experiment

    experiment = experiment or default_experiment()
    out = [(experiment.neuron, experiment.problem.d)]
    if any("noise" in CLAIMS[c].parts for c in claims if c in CLAIMS):
        problem, neuron, _ = setting(experiment.seed)
        out.append((neuron, problem.d))
    return out


@dataclass(frozen=True)
class GateVerification(Verification):
    """A :class:`~mfcheck.app.verify.Verification` of a user implementation, with the baseline
    comparison (``baseline_differences``: empty when none was asked or nothing moved)."""

    implementation: str = ""
    not_applicable: tuple = ()
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
    call_time_limit: float | None = DEFAULT_CALL_TIME_LIMIT,
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
    - ``call_time_limit``: seconds each call of ``impl`` and ``init`` may take (None or 0: no
      limit; :mod:`mfcheck.app.limits`).

    Raises :class:`ImplementationError` when the implementation crashes or returns a wrong
    shape / non-finite values (on a tiny input first, :func:`probe`, before the reference is
    solved), its subclass :class:`~mfcheck.app.gate.protocol.CallTimeLimitExceeded` when a call
    exceeds ``call_time_limit``; :class:`~mfcheck.errors.InvalidArgument` on bad arguments.
    """
    alpha = check_alpha(alpha)
    call_time_limit = check_seconds(call_time_limit, "call_time_limit", none=True)
    if not isinstance(tier, Tier):
        raise InvalidArgument(f"`tier` must be an mfcheck.claims.tiers.Tier (use get_tier(name)), got {tier!r}.")
    if isinstance(impl, str):
        impl = load_implementation(impl)
    if impl is not None and not callable(impl):
        raise InvalidArgument(f"`impl` must be a callable step or a 'module:callable' string, got {impl!r}.")
    if init is not None and not callable(init):
        raise InvalidArgument(f"`init` must be a callable init(rho0, rng, N), got {init!r}.")
    skip = not_applicable(impl)
    if claims is None:
        claims = default_claims(impl, init)
    if isinstance(claims, str) or not all(isinstance(c, str) for c in claims) or not len(claims):
        raise InvalidArgument(f"`claims` must be a non-empty list of claim names, got {claims!r}.")
    for c in claims:
        if c in skip:
            raise InvalidArgument(f"claim {c!r} does not apply to {name_of(impl)}: {skip[c]}.")
    if baseline is not None and not Path(baseline).is_file():
        raise InvalidArgument(f"`baseline` {str(baseline)!r} is not a file (write one with write_baseline / --write-baseline).")
    step = reference_step if impl is None else impl
    if impl is not None:
        probe(impl, experiment, call_time_limit)
        for neuron, d in _settings(experiment, claims) if hasattr(impl, "prepare") else ():
            impl.prepare(neuron, d)  # a framework adapter: the particle layout and the σ* check, before any work
    start = time.perf_counter()
    v = verify(tier, experiment=experiment, alpha=alpha, rule=as_rule(step, call_time_limit),
               init=iid_init if init is None else checked_init(init, call_time_limit),
               reference=reference, out=None if out is None else Path(out), progress=progress, claims=list(claims), command=command,
               execution=execution)
    diffs = tuple(compare_baseline(v, baseline)) if baseline is not None else ()
    return GateVerification(results=v.results, claims=v.claims, sweep=v.sweep, alpha=v.alpha, checks=v.checks, context=v.context,
                            implementation=name_of(step), not_applicable=tuple(skip.items()), init_name=name_of(init) if init is not None else "iid_init",
                            baseline=None if baseline is None else str(baseline), baseline_differences=diffs,
                            seconds=time.perf_counter() - start)


def _holm_levels(results) -> dict:
    """For each claim, the Holm threshold α/(m − j + 1) its smallest p-value was compared to (j its rank among all m)."""
    pvals = sorted((t.p_value, r.claim) for r in results for t in r.tests if t.in_family)
    m = len(pvals)
    levels = {}
    for j, (_, claim) in enumerate(pvals, start=1):
        levels.setdefault(claim, (results[0].alpha if results else math.nan) / (m - j + 1))
    return levels


def _statistic_rows(r) -> list[tuple[str, str]]:
    """(statistic, estimate [95 % CI]) rows of one claim: first the statistic that decided it
    (:func:`mfcheck.stats.results.deciding`; "—" and why when none did), then, for a rate claim,
    its exponents (the deciding rows themselves when its evidence decided), plateaus and what
    the run detects."""
    decided = deciding(r)
    rows = [] if decided.why == "evidence" else (
        [(s["name"], fmt_estimate(s["estimate"], s["ci"])) for s in decided.statistics] or [("—", decided.why)])
    if r.exponents:
        rows += [(f"exponent {e.variable} (pred. {e.predicted:g})", fmt_estimate(e.estimate, e.ci)) for e in r.exponents.values()]
        rows += [(f"plateau {p}-path / S at limit", f"{q.b / q.at_limit:.2f} (upper {q.upper / q.at_limit:.2f})") for p, q in r.plateaus.items()]
        det = r.details.get("detection") or {}
        if det:
            d, f = det["min_detectable_deficit"], det["min_detectable_plateau"]
            d = d if d is not None else f"> {det['deficits'][-1]:g}"
            f = f if f is not None else f"> {det['plateau_fractions'][-1]:g}"
            rows.append((f"detected w.p. {det['target_power']}", f"deficit {d}, plateau {f}×"))
    return rows


def format_table(verification: Verification) -> str:
    """The gate's table: claim, statistic (first the one that decided the verdict; for rate claims
    then the exponent along each path, the plateau and the smallest violations this run detects
    with power 0.9), estimate with 95 % CI, smallest raw p-value in the Holm family, the Holm
    level it was compared to, the smallest Holm-adjusted p, verdict; then the family-wise α, the
    number of tests in the family and, per claim, what decided its verdict and how its first
    statistic decided (rejected, failing self-check, evidence, closest to rejecting)."""
    results = verification.results
    levels = _holm_levels(results)
    head = f"{'claim':26s} {'statistic':30s} {'estimate [95% CI]':28s} {'min p':>9s} {'Holm lvl':>9s} {'adj. p':>8s}  verdict"
    lines = []
    impl = getattr(verification, "implementation", "")
    if impl:
        lines.append(f"implementation: {impl}" + (f"   init: {verification.init_name}" if getattr(verification, "init_name", "") else ""))
    lines += [head, "-" * len(head)]
    for r in results:
        p, padj = r.min_p, r.min_p_adjusted
        for i, (stat, est) in enumerate(_statistic_rows(r)):
            stat = stat if len(stat) <= 30 else stat[:29] + "…"
            if i == 0:
                lvl = levels.get(r.claim, math.nan)
                lines.append(f"{r.claim:26s} {stat:30s} {est:28s} {p:9.2g} {lvl:9.2g} {padj:8.2g}  {r.verdict}")
            else:
                lines.append(f"{'':26s} {stat:30s} {est:28s}")
    lines.append(f"family-wise α = {verification.alpha} after Holm over {family_size(results)} implementation tests (a claim fails "
                 "when one of its tests has adjusted p ≤ α; 'Holm lvl' is the level its smallest p faced; a pass needs the "
                 "evidence below, else the claim is unresolved)")
    for claim, why in getattr(verification, "not_applicable", ()):
        lines.append(f"  {claim}: not applicable: {why}")
    for r in results:
        lines.append(f"  {r.claim}: {r.verdict}: " + (f"decided by {r.decided_by}" if r.verdict == "pass" else r.message)
                     + f" [first statistic: {deciding(r).why}]")
    for d in getattr(verification, "baseline_differences", ()):
        lines.append(f"  baseline moved: {d}")
    return "\n".join(lines)


def gate_command(impl: str | None, tier: str = "ci", *, alpha: float | None = None, claims: Sequence[str] | None = None,
                 init: str | None = None, baseline: str | None = None, write_baseline_to: str | None = None,
                 run_self_test: bool = False, out: str | None = None, quiet: bool = False, stdout=None, stderr=None,
                 execution=None, call_time_limit: float | None = DEFAULT_CALL_TIME_LIMIT, framework: str | None = None,
                 particles: str | None = None) -> int:
    """``mfcheck gate --impl module:callable [--tier ci] [--self-test] [--baseline FILE]``: print
    the table, return the exit code (0 hold, 1 violated / moved, 2 usage or implementation
    error, 3 unresolved, :data:`~mfcheck.app.limits.CALL_TIME_LIMIT_EXCEEDED` a call of ``impl``
    or ``init`` exceeded ``call_time_limit``; a step that fails on a tiny input is reported
    before any work, :func:`probe`). ``impl`` None with ``run_self_test``: only the self-test.
    The working directory is put on ``sys.path`` (as ``python -m`` would) so a project's own modules load.
    ``execution``: where the cells run and their cache (the command line passes joblib processes
    and ``.mfcheck-cache/`` by default; None: serial, no cache). ``framework`` ("torch" or "jax"):
    ``impl`` names a factory of that framework, whose ``particles`` (``--particles``) hold θ
    (:func:`mfcheck.frameworks.adapter_of`; ``mfcheck gate --torch module:factory --particles NAME``)."""
    import os

    from mfcheck.frameworks import adapter_of

    from mfcheck.app.gate.self_test import self_test
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
        if framework is not None:
            step = adapter_of(framework, step, particles)
        elif particles is not None:
            raise InvalidArgument("`--particles` names the parameters of a --torch or --jax factory; give one of them.")
        sampler = load_implementation(init) if init is not None else None
        if step is not None:  # before the self-test too, which would otherwise run first
            probe(step, call_time_limit=call_time_limit)
        code = 0
        if run_self_test:
            st = self_test(tier_obj, alpha, progress=not quiet, echo=None if quiet else (lambda s: print(s, file=stderr)),
                           execution=execution)
            print(st.table(), file=stdout)
            code = st.exit_code
        if step is not None or sampler is not None:
            v = gate(step, tier_obj, alpha, claims=claims, baseline=baseline, init=sampler, out=out, progress=not quiet,
                     command=f"mfcheck gate --{framework or 'impl'} {impl}" + (f" --particles {particles}" if framework else "")
                     + f" --tier {tier}" + (f" --out {out}" if out is not None else ""), execution=execution,
                     call_time_limit=call_time_limit)
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
        return implementation_failed(exc, stderr)


def implementation_failed(exc: ImplementationError, stderr=None) -> int:
    """Report ``exc`` in one line, ``mfcheck: <its label>: <message>`` (no traceback: the message
    names the implementation and the call), and return its exit code."""
    print(f"mfcheck: {exc.label}: {exc}", file=stderr or sys.stderr)
    return exc.exit_code
