"""Command line.

``mfcheck verify [--tier smoke|ci|full] [--out DIR] [--seed INT] [--alpha A]``: run the claims.
``mfcheck calibrate CLAIM [--tier] [--pilot-replicates R] [--power P] [--deficit δ]``: recommend
the replicates per cell that give a rate claim power P against an exponent short by δ.
``mfcheck gate --impl module:callable [--tier ci] [--self-test] [--baseline FILE]``: check an SGD
implementation against every applicable claim (exit 0 hold, 1 violated, 2 usage or a crashing
implementation, 3 unresolved). ``mfcheck gate --false-alarm N [--tier] [--impl]``: run the gate on a
correct implementation with root seeds 0..N-1 and report its false-alarm rate with a
Clopper–Pearson interval (exit 1 when the interval lies above α).

``mfcheck reproduce {mmn18,dimension,frameworks} [--out DIR]``: the MMN18 two-Gaussians experiments, SGD
beside the radial PDE, the d-dependence of Theorem 1 on that problem, and the gate on PyTorch variants and
mutants (:mod:`mfcheck.app.reproduce`).

Where cells run (``verify`` and ``gate``): by default in ``os.cpu_count()`` parallel processes
(joblib); ``--executor dask`` starts a local dask cluster, ``--address tcp://host:8786`` uses a
running one; ``--executor serial`` runs them in this process; ``--workers`` sets the count.
Finished cells are cached by content in ``.mfcheck-cache/`` (``--cache DIR``, ``--no-cache``), so
an interrupted run, run again, computes only the missing cells; a damaged cache entry is named,
computed again, and counted at the end of the run. Reports do not depend on any of this.

Ctrl-C and SIGTERM stop ``verify`` and ``gate`` the same way (:mod:`mfcheck.app.interrupts`): the
worker processes are killed, a reports folder being written is left as it was, and one line says
how many finished cells this run cached. Time limits (:mod:`mfcheck.app.limits`): ``--time-limit
SECONDS`` (``verify``, ``gate``; no default) stops the run the same way when it expires;
``gate --call-time-limit SECONDS`` (default 60, 0 for none) bounds each call of the implementation.

Before any work starts, ``verify`` and ``gate`` check every path they will read or write
(:func:`mfcheck.app.paths.check_path`), and ``gate`` first calls the implementation on a tiny input
(:func:`mfcheck.app.gate.protocol.probe`): a bad path or a crashing step is reported at once,
not after the reference is solved. ``--quiet`` (alias ``--no-progress``) turns progress output
off; ``mfcheck --version`` prints the version.

Exit codes (each command's ``--help`` lists its own): 0 every claim passes, 1 a claim fails, 2 bad
usage or a crashing implementation, 3 no claim fails but one is unresolved (its report says which
knob to turn), 124 the time limit (``--time-limit``) expired, 125 a call of the implementation
exceeded ``--call-time-limit``, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

Example: ``mfcheck verify --tier ci --out reports`` prints the reference and its refinement error,
then one line per claim (the exponents along 1/N and ε with their 95 % CIs, Ĉ, the verdict), and
writes ``reports/`` (its ``README.md`` indexes the verdicts).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from mfcheck import __version__
from mfcheck.app.interrupts import INTERRUPTED, TERMINATED, exit_code, sigterm_interrupts, stopped_by
from mfcheck.app.limits import CALL_TIME_LIMIT_EXCEEDED, DEFAULT_CALL_TIME_LIMIT, TIME_LIMIT_EXCEEDED, check_seconds, time_limit
from mfcheck.app.options import TIER_NAMES, add_quiet, exit_codes
from mfcheck.app.paths import FILE, FOLDER, INPUT, check_path
from mfcheck.errors import InvalidArgument
from mfcheck.runtime.executors import started

# The claims, the model and the gate (scipy, statsmodels, the plotting) are imported where they are
# used, after the arguments and paths are checked: a usage error is reported without that wait.

__all__ = ["main", "VERIFY_EXIT_CODES", "GATE_EXIT_CODES", "CALIBRATE_EXIT_CODES"]

VERIFY_EXIT_CODES = {
    0: "every claim passes",
    1: "a claim fails",
    2: "bad usage (an argument or a path that cannot be used)",
    3: "no claim fails but one is unresolved (its report says which knob to turn)",
    TIME_LIMIT_EXCEEDED: "the time limit (--time-limit) expired; the finished cells stay in the cache",
    INTERRUPTED: "interrupted by Ctrl-C (SIGINT); the finished cells stay in the cache",
    TERMINATED: "terminated by SIGTERM; the finished cells stay in the cache",
}
"""The exit codes of ``mfcheck verify`` (:attr:`mfcheck.app.verify.Verification.exit_code` and the usage errors)."""

GATE_EXIT_CODES = {
    0: "every claim holds (--self-test: every mutant rejected, every correct step accepted; --false-alarm: the "
       "rate's interval admits a rate <= alpha)",
    1: "a claim fails or the baseline moved (--self-test: a mutant accepted or a correct step rejected; "
       "--false-alarm: the interval lies above alpha)",
    2: "bad usage, or an implementation that crashes, returns a wrong shape or non-finite values",
    3: "no claim fails but one is unresolved",
    TIME_LIMIT_EXCEEDED: "the time limit (--time-limit) expired; the finished cells stay in the cache",
    CALL_TIME_LIMIT_EXCEEDED: "a call of the implementation did not return within --call-time-limit",
    INTERRUPTED: "interrupted by Ctrl-C (SIGINT); the finished cells stay in the cache",
    TERMINATED: "terminated by SIGTERM; the finished cells stay in the cache",
}
"""The exit codes of ``mfcheck gate`` (:mod:`mfcheck.app.gate`, :mod:`mfcheck.app.false_alarm`)."""

CALIBRATE_EXIT_CODES = {0: "the recommendation (or why none is needed) is printed", 2: "bad usage"}
"""The exit codes of ``mfcheck calibrate``."""

_COMMON_EXIT_CODES = {0: "every claim passes", 1: "a claim fails", 2: "bad usage or a crashing implementation",
                      3: "no claim fails but one is unresolved", TIME_LIMIT_EXCEEDED: "the time limit (--time-limit) expired",
                      CALL_TIME_LIMIT_EXCEEDED: "a call of the implementation exceeded --call-time-limit",
                      INTERRUPTED: "interrupted by Ctrl-C (SIGINT)",
                      TERMINATED: "terminated by SIGTERM"}


def _add_execution(p: argparse.ArgumentParser) -> None:
    from mfcheck.runtime.cache import DEFAULT_CACHE_DIR
    from mfcheck.runtime.executors import EXECUTORS

    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="where cells run: joblib (parallel processes, the default), dask (a local cluster, or the one at "
                        "--address) or serial (this process)")
    p.add_argument("--workers", type=int, default=None, help="processes / local dask workers (default: the CPU count)")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="a running dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --executor dask)")
    p.add_argument("--cache", default=DEFAULT_CACHE_DIR, metavar="DIR",
                   help=f"cache finished cells by content (code version, configuration, seed) in DIR; a re-run computes only "
                        f"missing cells (default: {DEFAULT_CACHE_DIR})")
    p.add_argument("--no-cache", action="store_true", help="compute every cell, read and write no cache")


def _add_time_limit(p: argparse.ArgumentParser) -> None:
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help=f"stop the run after SECONDS as Ctrl-C would, exit {TIME_LIMIT_EXCEEDED} (default: no limit)")


def _execution(args):
    """The :class:`~mfcheck.runtime.executors.Execution` of the command line (default: joblib on every CPU, cache on)."""
    from mfcheck.runtime.cache import Cache
    from mfcheck.runtime.executors import Execution

    executor = args.executor or ("dask" if args.address is not None else "joblib")
    return Execution(executor=executor, workers=args.workers, address=args.address,
                     cache=None if args.no_cache else Cache(args.cache))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mfcheck", description="Verify the mean-field limit theorems of two-layer networks by experiment.",
                                **exit_codes(_COMMON_EXIT_CODES))
    p.add_argument("--version", action="version", version=f"mfcheck {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="run the theorem checks and write the rate-fit reports", **exit_codes(VERIFY_EXIT_CODES))
    v.add_argument("--tier", choices=TIER_NAMES, default="ci", help="sweep size (default: ci)")
    v.add_argument("--out", default="reports", help="report folder (default: reports)")
    v.add_argument("--seed", type=int, default=None, help="root entropy of the seed tree (default: the experiment's)")
    v.add_argument("--alpha", type=float, default=None, help="family-wise false-alarm rate (default: 0.05)")
    v.add_argument("--write-baseline", metavar="FILE", help="also write the fitted exponents and constants to FILE (for `gate --baseline`)")
    add_quiet(v)
    _add_execution(v)
    _add_time_limit(v)
    g = sub.add_parser("gate", help="check an SGD implementation against every applicable claim", **exit_codes(GATE_EXIT_CODES))
    g.add_argument("--impl", metavar="MODULE:CALLABLE", help="the step implementation (protocol: see the README)")
    g.add_argument("--torch", metavar="MODULE:FACTORY",
                   help="gate a PyTorch network and training step: FACTORY(N, d, s[, lam, beta]) -> (module, step) (README, "
                        "'Gate your PyTorch or JAX code'); needs --particles")
    g.add_argument("--jax", metavar="MODULE:FACTORY",
                   help="gate a JAX network and pure step: FACTORY(N, d, s[, lam, beta]) -> (params, apply, optimizer, step) "
                        "with an optax optimizer; needs --particles")
    g.add_argument("--particles", metavar="NAME",
                   help="with --torch / --jax: the parameter holding the first-layer weights w (e.g. hidden.weight), or "
                        "a=NAME,w=NAME,b=NAME for θ = (a, w, b)")
    g.add_argument("--init", metavar="MODULE:CALLABLE", help="an initial-particle sampler to gate (checked by mcdiarmid)")
    g.add_argument("--tier", choices=TIER_NAMES, default="ci", help="sweep size (default: ci)")
    g.add_argument("--alpha", type=float, default=None, help="family-wise false-alarm rate (default: 0.05)")
    g.add_argument("--claims", nargs="+", default=None, help="restrict to these claims")
    g.add_argument("--self-test", action="store_true", help="run the built-in mutants and correct variants; print the power")
    g.add_argument("--baseline", metavar="FILE", help="fail also when exponents or constants move beyond their CIs")
    g.add_argument("--write-baseline", metavar="FILE", help="write this run's exponents and constants to FILE")
    g.add_argument("--out", default=None, help="also write reports to this folder")
    g.add_argument("--call-time-limit", type=float, default=DEFAULT_CALL_TIME_LIMIT, metavar="SECONDS",
                   help=f"seconds each call of --impl / --init may take, else exit {CALL_TIME_LIMIT_EXCEEDED} (default: "
                        f"{DEFAULT_CALL_TIME_LIMIT:g}, far above a correct step's longest call at the full tier; 0: no limit)")
    g.add_argument("--false-alarm", type=int, default=None, metavar="N",
                   help="measure the gate's false-alarm rate: run it on the correct implementation (--impl, default the "
                        "built-in step) with root seeds 0..N-1 and write the rate with its Clopper-Pearson interval")
    g.add_argument("--seed-start", type=int, default=0, metavar="S",
                   help="with --false-alarm N: root seeds S..S+N-1 (one shard of a measurement split across machines)")
    g.add_argument("--false-alarm-merge", nargs="+", default=None, metavar="DIR",
                   help="merge false-alarm reports of disjoint seeds (their summary.json) into --false-alarm-out")
    g.add_argument("--false-alarm-out", default=None, metavar="DIR",
                   help="folder of the false-alarm report (default: reports/gate_false_alarm_<tier>)")
    g.add_argument("--false-alarm-note", default=None, metavar="FILE",
                   help="a Markdown paragraph on how the measurement was obtained (which commits ran which shards, "
                        "which seeds served what), written into the false-alarm report's README")
    add_quiet(g)
    _add_execution(g)
    _add_time_limit(g)
    sub.add_parser("reproduce", help="the paper's experiments, the d-dependence, the gate on PyTorch variants: "
                        "`mfcheck reproduce {mmn18,dimension,frameworks} --help`",
                   add_help=False)
    c = sub.add_parser("calibrate", help="recommend replicates per cell for a target power", **exit_codes(CALIBRATE_EXIT_CODES))
    c.add_argument("claim", help="any claim of `mfcheck verify` (rate claims: fitted pilot; others: pilot on their broken implementation)")
    c.add_argument("--tier", choices=TIER_NAMES, default="ci", help="cells to calibrate for (default: ci)")
    c.add_argument("--pilot-replicates", type=int, default=8, help="replicates per cell of the pilot (default: 8)")
    c.add_argument("--power", type=float, default=0.9, help="target power (default: 0.9)")
    c.add_argument("--deficit", type=float, default=0.1,
                   help="alternative: the exponent falls short of the predicted one by this much (default: 0.1)")
    c.add_argument("--alpha", type=float, default=None, help="family-wise false-alarm rate (default: 0.05)")
    add_quiet(c)
    return p


def _usage_error(message: Exception | str) -> int:
    """One line on stderr, ``mfcheck: error: <message>``; the usage-error exit code 2."""
    print(f"mfcheck: error: {message}", file=sys.stderr)
    return 2


def _false_alarm_folder(args) -> str:
    """Where ``gate --false-alarm`` writes its report: ``--false-alarm-out``, else ``reports/gate_false_alarm_<tier>``."""
    return args.false_alarm_out or f"reports/gate_false_alarm_{args.tier}"


def _paths(args) -> list[tuple[str, str | None, str]]:
    """(option, path, kind) of every path ``verify`` or ``gate`` will read or write (kinds of
    :mod:`mfcheck.app.paths`); None where the run uses none."""
    rows = [("--out", args.out, FOLDER), ("--write-baseline", args.write_baseline, FILE),
            ("--cache", None if args.no_cache else args.cache, FOLDER)]
    if args.command == "gate":
        writes_false_alarm = args.false_alarm is not None or args.false_alarm_out is not None
        rows += [("--baseline", args.baseline, INPUT), ("--false-alarm-out", _false_alarm_folder(args) if writes_false_alarm else None, FOLDER),
                 ("--false-alarm-note", args.false_alarm_note, INPUT)]
    return rows


def _check_time_limits(args) -> None:
    """``--time-limit`` positive (or absent), ``--call-time-limit`` positive or 0 (none), as seconds
    (:func:`mfcheck.app.limits.check_seconds`), else :class:`InvalidArgument`."""
    if args.time_limit is not None:
        args.time_limit = check_seconds(args.time_limit, "--time-limit")
    if args.command == "gate":
        args.call_time_limit = check_seconds(args.call_time_limit, "--call-time-limit", none=True)


def _check_paths(args) -> None:
    """Every path of :func:`_paths` usable, before any work starts (else :class:`InvalidArgument`)."""
    for option, path, kind in _paths(args):
        if path is not None:
            check_path(path, option, kind)


def _print_table(verification) -> None:
    from mfcheck.stats.results import family_size

    ref = verification.sweep.reference.error
    print("reference error (refinement: h/2, 2M nodes): " + ", ".join(f"{k} {v:.2e}" for k, v in ref.items()))
    print(f"{'claim':26s} {'exponent 1/N (95% CI)':24s} {'exponent ε (95% CI)':24s} {'Ĉ':>7s}  verdict")
    for r in verification.results:
        if not r.exponents and not r.cells:  # not a rate claim: no exponents to show
            print(f"{r.claim:26s} {'—':24s} {'—':24s} {'—':>7s}  {r.verdict}")
            continue
        cols = []
        for p in ("N", "eps"):
            e = r.exponents.get(p)
            cols.append(f"{e.estimate:.3f} [{e.ci[0]:.3f}, {e.ci[1]:.3f}]" if e else "unresolved")
        print(f"{r.claim:26s} {cols[0]:24s} {cols[1]:24s} {r.C_hat:7.3g}  {r.verdict}")
    print(f"predicted exponents: 0.5 in 1/N and in ε; family-wise α = {verification.alpha} "
          f"(Holm over {family_size(verification.results)} tests)")
    for r in verification.results:
        print(f"  {r.claim}: {r.verdict}: " + (f"decided by {r.decided_by}" if r.verdict == "pass" else r.message))


def _calibrate_check(args) -> int:
    from mfcheck.app.calibrate import calibrate_check
    from mfcheck.claims.tiers import get_tier
    from mfcheck.stats.results import DEFAULT_ALPHA

    try:
        cal = calibrate_check(args.claim, get_tier(args.tier), pilot_replicates=args.pilot_replicates, target_power=args.power,
                              alpha=DEFAULT_ALPHA if args.alpha is None else args.alpha, progress=not args.quiet)
    except InvalidArgument as exc:
        return _usage_error(exc)
    print(f"{cal.claim}: alternative: {cal.alternative}; per-test level α/m = {cal.level:.2e} (Holm worst case)")
    if cal.recommended is None:
        print(f"  {cal.note}" + (f" (pilot p = {cal.p_pilot:.3g})" if cal.p_pilot is not None else ""))
        return 0
    print(f"  pilot: {cal.pilot_replicates} replicates, smallest p = {cal.p_pilot:.3g} (z = {cal.z_pilot:.2f}); "
          f"power at the tier's {cal.tier_replicates} replicates ≈ {cal.power_at_tier_replicates:.3f}")
    print(f"recommended replicates: {cal.recommended} (power {args.power:.0%}, assuming z grows like √R)")
    return 0


def _calibrate(args) -> int:
    from mfcheck.app.calibrate import calibrate
    from mfcheck.claims import CLAIMS
    from mfcheck.claims.rate import RateClaim
    from mfcheck.claims.tiers import get_tier
    from mfcheck.stats.results import DEFAULT_ALPHA

    if not isinstance(CLAIMS.get(args.claim), RateClaim):
        return _calibrate_check(args)
    try:
        cal = calibrate(args.claim, get_tier(args.tier), pilot_replicates=args.pilot_replicates, target_power=args.power,
                        deficit=args.deficit, alpha=DEFAULT_ALPHA if args.alpha is None else args.alpha, progress=not args.quiet)
    except InvalidArgument as exc:
        return _usage_error(exc)
    print(f"{cal.claim}: pilot of {cal.pilot_replicates} replicates per cell on the {cal.tier} cells; alternative: exponent "
          f"short by {cal.deficit}; per-test level α/m = {cal.level:.2e} (Holm worst case)")
    print(f"{'path':5s} {'pilot exponent':>15s} {'pilot SE':>9s} {'power at ' + str(cal.rows[0]['tier_replicates']) + ' reps':>18s} {'replicates for ' + format(cal.target_power, '.0%'):>20s}")
    for r in cal.rows:
        print(f"{r['path']:5s} {r['exponent_pilot']:15.3f} {r['se_pilot']:9.4f} {r['power_at_tier_replicates']:18.3f} {r['recommended_replicates']:20d}")
    print(f"recommended replicates per cell: {cal.recommended}")
    return 0


def _kept(execution) -> str:
    """What this run left in the cache, for the line of a stopped run (the cache counts its writes)."""
    cache = execution.cache
    if cache is None:
        return "no cache was used (--no-cache): a re-run starts over"
    if cache.written:
        cells = "1 finished cell is" if cache.written == 1 else f"{cache.written} finished cells are"
        return f"{cells} cached in {cache.folder}/: run the same command again to compute only the rest"
    if cache.read:
        return f"nothing new was cached; the {cache.read} cells read from {cache.folder}/ stay there"
    return "nothing was cached yet"


def _interrupted(execution, interrupt: KeyboardInterrupt) -> int:
    """Ctrl-C, SIGTERM or the time limit during the work: say what this run cached; exit 130, 143
    or 124 (:mod:`mfcheck.app.interrupts`, :mod:`mfcheck.app.limits`)."""
    print(f"mfcheck: {stopped_by(interrupt)}; {_kept(execution)}.", file=sys.stderr)
    return exit_code(interrupt)


def _damage(execution) -> None:
    """At the end of a run, however it ended: how many damaged cache entries it met (each was named
    when met; its cell is computed again and the entry rewritten)."""
    cache = execution.cache
    if cache is not None and cache.damaged:
        entries = "1 damaged cache entry" if cache.damaged == 1 else f"{cache.damaged} damaged cache entries"
        print(f"mfcheck: this run met {entries} in {cache.folder}/ (named above); their cells are computed again "
              f"and the entries rewritten", file=sys.stderr)


def _false_alarm_note(args) -> str:
    """The text of ``--false-alarm-note FILE`` ("" without one)."""
    if args.false_alarm_note is None:
        return ""
    try:
        return check_path(args.false_alarm_note, "--false-alarm-note", INPUT).read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"`--false-alarm-note` {args.false_alarm_note!r} cannot be read: {exc}") from exc


def _false_alarm_merge(args) -> int:
    """``mfcheck gate --false-alarm-merge DIR ... --false-alarm-out DIR``: one report from shards."""
    from mfcheck.app.false_alarm import load, merge, write_report

    if not args.false_alarm_out:
        return _usage_error("`--false-alarm-merge` needs `--false-alarm-out DIR`.")
    try:
        result = merge([load(d) for d in args.false_alarm_merge])
        note = _false_alarm_note(args)
    except InvalidArgument as exc:
        return _usage_error(exc)
    seeds = [r.seed for r in result.runs]
    contiguous = seeds == list(range(seeds[0], seeds[0] + len(seeds)))
    impl = " --impl builtin" if "built-in" in result.implementation else ""
    command = (f"mfcheck gate --false-alarm {len(seeds)} --tier {result.tier}{impl}" + (f" --seed-start {seeds[0]}" if seeds[0] else "")
               if contiguous else f"mfcheck gate --false-alarm-merge {' '.join(args.false_alarm_merge)}")
    path = write_report(result, args.false_alarm_out, command, note=note)
    lo, hi = result.ci
    print(f"false alarms: {result.alarms}/{len(result.judged)} judged runs (rate {result.rate:.3f}, 95% CI [{lo:.3f}, {hi:.3f}]) "
          f"at family-wise alpha {result.alpha}; report: {path}")
    return 0 if result.compatible else 1


def _false_alarm(args, execution) -> int:
    """``mfcheck gate --false-alarm N``: exit 0 unless the interval of the rate lies above α."""
    from mfcheck.app.false_alarm import BUILTIN, measure_false_alarm, write_report
    from mfcheck.claims.fit import DEFAULT_ALPHA
    from mfcheck.app.gate import ImplementationError, implementation_failed, load_implementation, probe
    from mfcheck.claims.tiers import get_tier

    try:
        tier = get_tier(args.tier)
        alpha = DEFAULT_ALPHA if args.alpha is None else args.alpha
        impl = BUILTIN if args.impl == BUILTIN else load_implementation(args.impl) if args.impl else None
        if args.false_alarm < 1:
            raise InvalidArgument(f"`--false-alarm` must be a positive number of seeds, got {args.false_alarm}.")
        if args.seed_start < 0:
            raise InvalidArgument(f"`--seed-start` must be >= 0, got {args.seed_start}.")
        note = _false_alarm_note(args)
        if callable(impl):
            probe(impl, call_time_limit=args.call_time_limit)
    except InvalidArgument as exc:
        return _usage_error(exc)
    except ImplementationError as exc:
        return implementation_failed(exc)
    seeds = list(range(args.seed_start, args.seed_start + args.false_alarm))
    folder = _false_alarm_folder(args)
    command = f"mfcheck gate --false-alarm {args.false_alarm} --tier {tier.name}" + (f" --impl {args.impl}" if args.impl else "") + (
        f" --seed-start {args.seed_start}" if args.seed_start else "") + (
        f" --alpha {args.alpha}" if args.alpha is not None else "") + (f" --claims {' '.join(args.claims)}" if args.claims else "")
    # joblib (the default): seeds in parallel processes, each gate run serial; serial / dask: seeds one by one
    workers = 1 if execution.executor in ("serial", "dask") else (args.workers or os.cpu_count() or 1)
    try:
        with started(execution) as running:
            result = measure_false_alarm(tier, seeds, impl=impl, alpha=alpha, claims=args.claims, execution=running,
                                         seed_workers=workers, progress=not args.quiet,
                                         echo=None if args.quiet else (lambda line: print(line, file=sys.stderr)),
                                         on_run=lambda partial: write_report(partial, folder, command, planned=args.false_alarm,
                                                                             note=note),
                                         call_time_limit=args.call_time_limit)
    except KeyboardInterrupt as interrupt:
        print(f"mfcheck: {stopped_by(interrupt)}; the runs finished so far are in {folder}/.", file=sys.stderr)
        return exit_code(interrupt)
    except ImplementationError as exc:  # a seed's run met a call the probe did not (too slow, a crash)
        return implementation_failed(exc)
    path = write_report(result, folder, command, note=note)
    lo, hi = result.ci
    print(f"false alarms: {result.alarms}/{len(result.judged)} judged runs (rate {result.rate:.3f}, 95% CI [{lo:.3f}, {hi:.3f}]) "
          f"at family-wise alpha {result.alpha}; report: {path}")
    return 0 if result.compatible else 1


def _gate(args, execution) -> int:
    """``mfcheck gate``: the false-alarm merge or measurement, else the gate on ``--impl`` (:func:`mfcheck.app.gate.gate_command`)."""
    from mfcheck.app.gate import gate_command

    if not args.quiet:
        print(f"mfcheck gate: {execution.describe()}", file=sys.stderr)
    if args.false_alarm_merge is not None:
        return _false_alarm_merge(args)
    if args.false_alarm is not None:
        return _false_alarm(args, execution)
    given = [f for f in ("impl", "torch", "jax") if getattr(args, f) is not None]
    if len(given) > 1:
        print(f"mfcheck: error: give one of --impl, --torch, --jax, not {' and '.join('--' + f for f in given)}.", file=sys.stderr)
        return 2
    framework = next((f for f in given if f != "impl"), None)
    impl = getattr(args, given[0]) if given else None
    try:
        with started(execution) as running:
            return gate_command(impl, args.tier, alpha=args.alpha, claims=args.claims, init=args.init,
                                baseline=args.baseline, write_baseline_to=args.write_baseline, run_self_test=args.self_test,
                                out=args.out, quiet=args.quiet, execution=running, call_time_limit=args.call_time_limit,
                                framework=framework, particles=args.particles)
    except KeyboardInterrupt as interrupt:
        return _interrupted(execution, interrupt)


def _verify(args, execution) -> int:
    """``mfcheck verify``: the claims on the built-in rule, the table, the reports (and the baseline)."""
    from mfcheck.model.experiment import default_experiment
    from mfcheck.claims.fit import DEFAULT_ALPHA
    from mfcheck.claims.tiers import get_tier

    try:
        tier = get_tier(args.tier)
        alpha = DEFAULT_ALPHA if args.alpha is None else args.alpha
        if not 0 < alpha < 1:
            raise InvalidArgument(f"`--alpha` must be in (0, 1), got {alpha}.")
        kwargs = {} if args.seed is None else {"seed": args.seed}
        if args.seed is not None and args.seed < 0:
            raise InvalidArgument(f"`--seed` must be a non-negative int, got {args.seed}.")
        experiment = default_experiment(log2_M=tier.log2_M, **kwargs)
    except InvalidArgument as exc:
        return _usage_error(exc)
    from mfcheck.app.verify import verify  # after the checks: its imports (the reports' plotting) take a while

    command = f"mfcheck verify --tier {tier.name} --out {args.out}" + (f" --seed {args.seed}" if args.seed is not None else "") + (
        f" --alpha {args.alpha}" if args.alpha is not None else "")
    start = time.perf_counter()
    print(f"mfcheck verify: tier {tier.name}, {len(tier.cells())} cells x {tier.replicates} replicates; {execution.describe()}; "
          f"solving the reference ...", file=sys.stderr)
    try:
        with started(execution) as running:
            verification = verify(tier, experiment=experiment, alpha=alpha, out=args.out, command=command,
                                  progress=not args.quiet, execution=running)
    except KeyboardInterrupt as interrupt:
        return _interrupted(execution, interrupt)
    _print_table(verification)
    print(f"reports written to {args.out}/ in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.write_baseline:
        from mfcheck.app.gate import write_baseline

        write_baseline(verification, args.write_baseline)
        print(f"baseline written to {args.write_baseline}", file=sys.stderr)
    return verification.exit_code


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["reproduce"]:  # its own parser: mfcheck.app.reproduce.cli
        from mfcheck.app.reproduce import main as reproduce_main

        return reproduce_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "calibrate":
        return _calibrate(args)
    try:  # paths, time limits and where the cells run, before any work
        _check_paths(args)
        _check_time_limits(args)
        execution = _execution(args)
    except InvalidArgument as exc:
        return _usage_error(exc)
    try:
        with sigterm_interrupts(), time_limit(args.time_limit, last_words=lambda: _kept(execution)):
            code = _gate(args, execution) if args.command == "gate" else _verify(args, execution)
    except KeyboardInterrupt as interrupt:  # outside the work (printing the table, writing the baseline)
        print(f"mfcheck: {stopped_by(interrupt)}.", file=sys.stderr)
        code = exit_code(interrupt)
    _damage(execution)
    return code


if __name__ == "__main__":
    sys.exit(main())
