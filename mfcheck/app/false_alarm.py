"""The measured false-alarm rate of the gate: how often it rejects a correct implementation.

The gate states a family-wise level α (Holm over every test of every claim it runs). That is a
claim about the whole pipeline (SGD, reference, fits, tail tests, Holm) and it is checked here by
experiment: run the gate on a correct implementation with n independent root seeds s = 0 … n−1
(each seed draws a new population, new initial particles, new data and noise streams:
``default_experiment(seed=s)``) and count the runs it rejects (exit code 1). The count k is
Binomial(n, p) with p the true false-alarm rate; the report gives k/n with its Clopper–Pearson
95 % interval and says whether the interval is compatible with p ≤ α (its lower end ≤ α) and
whether it *shows* p ≤ α (its upper end ≤ α, which needs n ≥ 72 when k = 0).

A run whose verdict is *unresolved* (exit code 3: no claim fails, one lacks its evidence) is not
an alarm: it counts in the rate's denominator, and the number of such runs is reported apart
(it measures how often the tier's sizes leave a correct implementation unresolved).

Each run also records the raw p-value of every test of the Holm family; under a correct
implementation they should be uniform or larger (super-uniform): the report draws them against
the uniform law (a QQ plot), which shows a miscalibrated test before it shows as alarms.

Each run records the code version of the process that ran it (:func:`mfcheck.runtime.cache.code_version`,
the sha256 of the mfcheck sources), so a measurement joined from shards (:func:`merge`) says which
sources produced which seeds.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

from mfcheck._validation import check_positive_int
from mfcheck.app.limits import DEFAULT_CALL_TIME_LIMIT
from mfcheck.errors import InvalidArgument
from mfcheck.stats.results import DEFAULT_ALPHA
from mfcheck.claims.tiers import Tier

__all__ = ["BUILTIN", "load", "merge", "FalseAlarmRun", "FalseAlarm", "clopper_pearson", "measure_false_alarm", "write_report",
           "calibration", "test_key"]


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) two-sided ``level`` interval of a binomial proportion k/n."""
    if not (isinstance(k, int | np.integer) and isinstance(n, int | np.integer)) or n < 1 or not 0 <= k <= n:
        raise InvalidArgument(f"Need integers 0 <= k <= n, n >= 1; got k={k!r}, n={n!r}.")
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


@dataclass(frozen=True)
class FalseAlarmRun:
    """One gate run: its ``seed``, ``exit_code``, the claims it failed or left unresolved, the
    smallest Holm-adjusted p-value of each claim, and ``code``: the first 12 hex digits of the
    code version that ran it ("" where it was not recorded)."""

    seed: int
    exit_code: int
    failed_claims: tuple[str, ...]
    unresolved_claims: tuple[str, ...]
    min_p_adjusted: dict
    code: str = ""
    p_values: tuple = ()
    """The raw p-value of every test in the run's Holm family."""
    tests: tuple = ()
    """The test of each p-value, as :func:`test_key` names it (empty where it was not recorded)."""


def test_key(claim: str, name: str) -> str:
    """"claim: test name" with every number in the name, sign included, written "#", so that one
    test has one key in every run (a test's name may state a run's own numbers, e.g. the bound it
    tests against or its statistic); a name that already starts with "claim: " keeps one prefix.
    Applied to a key again it returns the key."""
    name = name.removeprefix(f"{claim}: ")
    return f"{claim}: " + re.sub(r"[-−]?#", "#", re.sub(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", "#", name))


@dataclass(frozen=True)
class FalseAlarm:
    """``runs`` of the gate on ``implementation`` at ``tier`` and family-wise ``alpha``."""

    tier: str
    alpha: float
    implementation: str
    claims: tuple[str, ...]
    runs: tuple[FalseAlarmRun, ...] = field(default_factory=tuple)

    @property
    def judged(self) -> list[FalseAlarmRun]:
        """The runs that ran to a decision (exit code 0, 1 or 3: pass, an alarm, or no alarm with a claim unresolved)."""
        return [r for r in self.runs if r.exit_code in (0, 1, 3)]

    @property
    def alarms(self) -> int:
        return sum(r.exit_code == 1 for r in self.runs)

    @property
    def rate(self) -> float:
        n = len(self.judged)
        return self.alarms / n if n else math.nan

    @property
    def ci(self) -> tuple[float, float]:
        return clopper_pearson(self.alarms, len(self.judged))

    @property
    def compatible(self) -> bool:
        """The interval admits a rate ≤ α (its lower end is ≤ α)."""
        return self.ci[0] <= self.alpha

    @property
    def shown(self) -> bool:
        """The interval lies below α (its upper end is ≤ α)."""
        return self.ci[1] <= self.alpha

    def summary(self) -> dict:
        lo, hi = self.ci
        return {"tier": self.tier, "alpha": self.alpha, "implementation": self.implementation, "claims": list(self.claims),
                "seeds": [r.seed for r in self.runs], "runs": len(self.runs), "judged": len(self.judged),
                "unresolved_runs": sum(r.exit_code == 3 for r in self.runs), "alarms": self.alarms, "rate": self.rate,
                "ci95": [lo, hi], "compatible_with_alpha": self.compatible, "below_alpha_shown": self.shown,
                "per_run": [{"seed": r.seed, "exit_code": r.exit_code, "failed_claims": list(r.failed_claims),
                             "unresolved_claims": list(r.unresolved_claims), "min_p_adjusted": r.min_p_adjusted, "code": r.code,
                             "p_values": list(r.p_values), "tests": list(r.tests)}
                            for r in self.runs]}


BUILTIN = "builtin"
"""``impl`` of :func:`measure_false_alarm` for mfcheck's own rule (compiled where the kernels apply)."""


def _one_seed(tier: Tier, seed: int, step: Callable | str, alpha: float, claims: tuple[str, ...], execution,
              call_time_limit: float | None = DEFAULT_CALL_TIME_LIMIT) -> FalseAlarmRun:
    """The gate on ``step`` with root seed ``seed`` (module level so that it can run in a worker process).

    ``step`` = :data:`BUILTIN`: the gate's decision procedure (the same claims, tiers, tests and Holm
    family, :func:`mfcheck.app.verify.verify`) on the built-in rule :data:`mfcheck.dynamics.rules.MEAN_FIELD`
    and its Langevin form, which run on the compiled kernels."""
    from mfcheck.runtime.cache import code_version
    from mfcheck.model.experiment import default_experiment
    from mfcheck.app.gate import gate
    from mfcheck.app.verify import verify

    experiment = default_experiment(seed=seed, log2_M=tier.log2_M)
    if step == BUILTIN:
        v = verify(tier, experiment=experiment, alpha=alpha, claims=list(claims), execution=execution, progress=False)
    else:
        v = gate(step, tier, alpha, claims=list(claims), experiment=experiment, execution=execution, call_time_limit=call_time_limit)
    return FalseAlarmRun(
        seed=seed, exit_code=v.exit_code,
        failed_claims=tuple(r.claim for r in v.results if r.verdict == "fail"),
        unresolved_claims=tuple(r.claim for r in v.results if r.verdict == "unresolved"),
        min_p_adjusted={r.claim: r.min_p_adjusted for r in v.results},
        code=code_version()[:12],
        p_values=tuple(t.p_value for r in v.results for t in r.tests if t.in_family),
        tests=tuple(test_key(r.claim, t.name) for r in v.results for t in r.tests if t.in_family),
    )


def measure_false_alarm(
    tier: Tier,
    seeds: Sequence[int] | int,
    *,
    impl: Callable | None = None,
    alpha: float = DEFAULT_ALPHA,
    claims: Sequence[str] | None = None,
    execution=None,
    seed_workers: int = 1,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
    on_run: Callable[[FalseAlarm], None] | None = None,
    call_time_limit: float | None = DEFAULT_CALL_TIME_LIMIT,
) -> FalseAlarm:
    """Run :func:`mfcheck.app.gate.gate` on a correct implementation once per root seed.

    **Arguments:**

    - ``tier``: the gate's tier; ``seeds``: the root seeds, or n for seeds 0 … n−1.
    - ``impl``: the protocol step (default :func:`mfcheck.app.gate.reference_step`, the built-in
      correct step written in the protocol), or :data:`BUILTIN`: the built-in rule itself,
      which runs compiled (:mod:`mfcheck.dynamics.kernels`; the same trajectories as ``reference_step``
      to rounding, so the same verdicts, in a fraction of the time: the protocol step is
      called once per SGD step from Python); ``alpha``: the gate's family-wise level;
      ``claims``: default all the gate's step claims.
    - ``execution``: where the sweep cells of one gate run go (:class:`mfcheck.runtime.executors.Execution`),
      used when ``seed_workers`` is 1.
    - ``seed_workers``: > 1 runs that many seeds at once in joblib processes (each gate run then
      serial, which parallelises better than cells: one seed's claims are mostly sequential).
      The runs do not depend on it: each seed has its own seed tree.
    - ``echo``: receives one line per finished run; ``on_run``: receives the result so far after
      each finished run (the CLI rewrites its report, so an interrupted measurement keeps what it has).
    - ``call_time_limit``: the gate's limit on each call of ``impl`` (:func:`mfcheck.app.gate.gate`).
    """
    from mfcheck.app.gate import STEP_CLAIMS, reference_step

    if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        seeds = list(range(check_positive_int(int(seeds), "seeds")))
    seeds = [int(s) for s in seeds]
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise InvalidArgument(f"`seeds` must be distinct non-negative integers (or a positive count), got {seeds!r}.")
    seed_workers = check_positive_int(seed_workers, "seed_workers")
    step = reference_step if impl is None else impl
    claims = tuple(STEP_CLAIMS if claims is None else claims)
    name = "mfcheck.dynamics.sgd.mean_field_step (built-in rule, compiled)" if step == BUILTIN else getattr(step, "__name__", repr(step))
    if seed_workers == 1:
        results = (_one_seed(tier, s, step, float(alpha), claims, execution, call_time_limit) for s in seeds)
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=seed_workers, return_as="generator_unordered")(  # a stopped run keeps every finished seed
            delayed(_one_seed)(tier, s, step, float(alpha), claims, None, call_time_limit) for s in seeds)
    runs = []
    for run in tqdm(results, total=len(seeds), desc=f"false alarms ({tier.name})", unit="seed", disable=not progress):
        runs.append(run)
        runs.sort(key=lambda r: r.seed)
        if echo is not None:
            echo(f"seed {run.seed}: exit {run.exit_code}" + (f", failed {', '.join(run.failed_claims)}" if run.failed_claims else ""))
        if on_run is not None:
            on_run(FalseAlarm(tier=tier.name, alpha=float(alpha), implementation=name, claims=claims, runs=tuple(runs)))
    return FalseAlarm(tier=tier.name, alpha=float(alpha), implementation=name, claims=claims, runs=tuple(runs))


def load(path: str | Path) -> FalseAlarm:
    """The measurement stored in a report's ``summary.json`` (``path``: the file or its folder)."""
    path = Path(path)
    path = path / "summary.json" if path.is_dir() else path
    try:
        s = json.loads(path.read_text())
        runs = tuple(FalseAlarmRun(seed=int(r["seed"]), exit_code=int(r["exit_code"]), failed_claims=tuple(r["failed_claims"]),
                                   unresolved_claims=tuple(r["unresolved_claims"]), min_p_adjusted=dict(r["min_p_adjusted"]),
                                   code=str(r.get("code", "")), p_values=tuple(r.get("p_values", ())),
                                   tests=tuple(r.get("tests", ())))
                     for r in s["per_run"])
        return FalseAlarm(tier=s["tier"], alpha=float(s["alpha"]), implementation=s["implementation"], claims=tuple(s["claims"]), runs=runs)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument(f"{str(path)!r} is not a false-alarm summary.json: {exc}") from exc


def merge(parts: Sequence[FalseAlarm]) -> FalseAlarm:
    """One measurement from shards run apart (other seeds, other machines): the same tier, α,
    implementation and claims, disjoint seeds; the runs in seed order."""
    parts = list(parts)
    if not parts:
        raise InvalidArgument("Nothing to merge.")
    first = parts[0]
    for p in parts[1:]:
        if (p.tier, p.alpha, p.implementation, p.claims) != (first.tier, first.alpha, first.implementation, first.claims):
            raise InvalidArgument(f"Cannot merge measurements of different settings: {(p.tier, p.alpha, p.implementation, p.claims)} "
                                  f"vs {(first.tier, first.alpha, first.implementation, first.claims)}.")
    runs = sorted((r for p in parts for r in p.runs), key=lambda r: r.seed)
    seeds = [r.seed for r in runs]
    if len(set(seeds)) != len(seeds):
        raise InvalidArgument(f"The shards share seeds: {sorted({s for s in seeds if seeds.count(s) > 1})}.")
    return FalseAlarm(tier=first.tier, alpha=first.alpha, implementation=first.implementation, claims=first.claims, runs=tuple(runs))


def _ranges(seeds: Sequence[int]) -> str:
    """Sorted seeds as runs of consecutive values: [0, 1, 2, 5] -> "0–2, 5"."""
    out, start = [], None
    seeds = sorted(seeds)
    for i, x in enumerate(seeds):
        if start is None:
            start = x
        if i + 1 == len(seeds) or seeds[i + 1] != x + 1:
            out.append(str(x) if x == start else f"{start}–{x}")
            start = None
    return ", ".join(out)


def _code_lines(result: FalseAlarm) -> list[str]:
    """Which code version ran which seeds (a line per version)."""
    by_code: dict[str, list[int]] = {}
    for r in result.runs:
        by_code.setdefault(r.code, []).append(r.seed)
    return [f"- {f'`{code}`' if code else 'not recorded'}: seeds {_ranges(seeds)}" for code, seeds in sorted(by_code.items())]


def _plot(result: FalseAlarm, path: Path) -> None:
    from mfcheck.report.figures import plt, save_figure

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for i, claim in enumerate(result.claims):
        ps = [r.min_p_adjusted.get(claim, math.nan) for r in result.runs]
        ax.scatter(np.full(len(ps), i) + np.linspace(-0.25, 0.25, len(ps)), np.clip(ps, 1e-6, 1), s=8)
    ax.axhline(result.alpha, color="k", lw=0.8, ls="--", label=f"α = {result.alpha}")
    ax.set_yscale("log")
    ax.set_xticks(range(len(result.claims)), result.claims, rotation=40, ha="right", fontsize=7)
    ax.set_ylabel("smallest Holm-adjusted p")
    ax.set_title(f"gate on {result.implementation}, {len(result.runs)} seeds, tier {result.tier}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def _plot_qq(result: FalseAlarm, path: Path) -> bool:
    """The raw p-values of every run against the uniform law (log scales); False when none was recorded."""
    from mfcheck.report.figures import plt, save_figure

    p = np.sort(np.concatenate([np.asarray(r.p_values, dtype=float) for r in result.runs]))
    if not len(p):
        return False
    n = len(p)
    expected = (np.arange(1, n + 1) - 0.5) / n
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.loglog(expected, np.clip(p, 1e-12, 1), ".", ms=3, label=f"{n} raw p-values ({len(result.runs)} runs)")
    ax.loglog([1 / n, 1], [1 / n, 1], "k--", lw=0.8, label="uniform")
    # pointwise 95 % band of the k-th order statistic of n uniforms: Beta(k, n − k + 1)
    k = np.arange(1, n + 1)
    ax.fill_between(expected, stats.beta.ppf(0.025, k, n - k + 1), stats.beta.ppf(0.975, k, n - k + 1), color="gray", alpha=0.3,
                    label="95 % band (uniform)")
    ax.set_xlabel("uniform quantile")
    ax.set_ylabel("observed p-value")
    ax.set_title("below the band: too many rejections of correct code; above: conservative", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def calibration(result: FalseAlarm, level: float = 0.05) -> list[dict]:
    """Each test's raw p-values over the runs that recorded its name: the runs, how many p ≤ ``level``
    and ≤ 0.01, the smallest p, and the binomial probability of at least that many p ≤ ``level``
    among calibrated tests (P(Bin(runs, level) ≥ count): small when the test rejects correct code
    more often than its level). In order of first appearance."""
    by_test: dict[str, list[float]] = {}
    for r in result.runs:
        for key, p in zip(r.tests, r.p_values):
            claim, _, name = key.partition(": ")
            by_test.setdefault(test_key(claim, name), []).append(float(p))  # keys recorded by older code, normalised
    rows = []
    for name, ps in by_test.items():
        ps = np.asarray(ps)
        k = int(np.count_nonzero(ps <= level))
        rows.append({"test": name, "runs": len(ps), "at_level": k, "at_0.01": int(np.count_nonzero(ps <= 0.01)),
                     "smallest": float(ps.min()), "excess_p": float(stats.binom.sf(k - 1, len(ps), level))})
    return rows


def write_report(result: FalseAlarm, folder: str | Path, command: str, planned: int | None = None, note: str = "") -> Path:
    """Write ``summary.json``, ``p_values.png``, ``qq.png`` and ``README.md`` into ``folder``, all at once
    (:func:`mfcheck.report.atomic.staged`: a write that fails leaves the previous report); return the README path.
    ``planned``: the number of seeds asked for, when the measurement is still running; ``note``: a
    paragraph on how the measurement was obtained (e.g. which commits ran the shards)."""
    from mfcheck.report.atomic import staged

    folder = Path(folder)
    with staged(folder) as stage:
        _write_report(result, stage, command, planned, note)
    return folder / "README.md"


def _write_report(result: FalseAlarm, folder: Path, command: str, planned: int | None, note: str) -> None:
    s = result.summary()
    (folder / "summary.json").write_text(json.dumps(s, indent=2, sort_keys=True) + "\n")
    _plot(result, folder / "p_values.png")
    qq = _plot_qq(result, folder / "qq.png")
    lo, hi = s["ci95"]
    verdict = ("the interval lies below α: the stated level is confirmed" if result.shown else
               "the interval contains α-compatible rates but does not exclude rates above α (more seeds needed)" if result.compatible else
               "the interval lies above α: the gate's false-alarm rate EXCEEDS its stated level")
    lines = [
        f"# Gate false-alarm rate (tier {result.tier})", "",
        *([f"**Partial: {len(result.runs)} of {planned} planned seeds measured.** The others can be run as a shard "
           f"(`--seed-start {max(r.seed for r in result.runs) + 1}`) and joined with `--false-alarm-merge`.", ""]
          if planned and planned > len(result.runs) else []),
        f"The gate was run on the correct implementation `{result.implementation}` once per root seed "
        f"(seeds {_ranges(s['seeds'])}; each seed draws its own population, initial particles, data and noise).",
        f"Claims: {', '.join(result.claims)}; family-wise α = {result.alpha} (Holm over their implementation tests).", "",
        "| runs | decided | of which unresolved (no alarm) | alarms | rate | Clopper–Pearson 95 % |",
        "|---|---|---|---|---|---|",
        f"| {s['runs']} | {s['judged']} | {s['unresolved_runs']} | {s['alarms']} | {s['rate']:.3f} | [{lo:.3f}, {hi:.3f}] |", "",
        f"Verdict: {verdict}.", "",
        "![smallest adjusted p-value of each claim in each run](p_values.png)", "",
        *(["The raw p-values of every test of the Holm family in every run, against the uniform law (a calibrated test "
           "under a correct implementation lies on or above the diagonal):", "", "![QQ plot of the raw p-values](qq.png)", ""]
          if qq else ["(The raw p-values of these runs were not recorded; no QQ plot.)", ""]),
        *_calibration_lines(result),
        "Alarms (runs that failed a claim):", "",
    ]
    alarms = [r for r in result.runs if r.exit_code == 1]
    lines += [f"- seed {r.seed}: {', '.join(r.failed_claims)}" for r in alarms] or ["- none"]
    lines += ["", "Code version that ran each seed (sha256 of the mfcheck sources, first 12 hex digits):", "", *_code_lines(result)]
    if note:
        lines += ["", note]
    lines += ["", f"Regenerate: `{command}`", ""]
    (folder / "README.md").write_text("\n".join(lines))


def _calibration_lines(result: FalseAlarm) -> list[str]:
    """The per-test table of :func:`calibration` (nothing where the runs did not record test names)."""
    from mfcheck.report.format import md_cell

    rows = calibration(result)
    if not rows:
        return []
    lines = ["Each test of the family over the runs (a calibrated test has p ≤ 0.05 in about 5 % of runs; the last "
             "column is the binomial probability of at least that many among calibrated tests, small for a test "
             "that rejects correct code too often):", "",
             "| test | runs | p ≤ 0.05 | p ≤ 0.01 | smallest p | P(at least as many) |", "|---|---|---|---|---|---|"]
    lines += [f"| {md_cell(row['test'])} | {row['runs']} | {row['at_level']} | {row['at_0.01']} | {row['smallest']:.2g} | "
              f"{row['excess_p']:.2g} |" for row in rows]
    return lines + [""]
