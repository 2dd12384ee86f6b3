"""The gate on PyTorch networks as users write them: ``mfcheck reproduce frameworks``.

Each factory of :mod:`mfcheck.frameworks.torch_variants` (correct variants and mutants), wrapped by
:class:`~mfcheck.frameworks.torch_step.TorchStep`, and for comparison the harness's own correct
step :func:`mfcheck.app.gate.reference_step`, runs through :func:`mfcheck.app.gate.gate` at one
tier with every default claim, one shared reference and the same seed. The report
(``reports/frameworks/README.md`` and ``summary.json``) has one row per implementation: its kind,
what it is, the gate's verdict and exit code, the claims that rejected it with their smallest
Holm-adjusted p, the claims left unresolved, and the wall time; then the verdict of every claim on
every implementation.

**Verdict rule.** A mutant is *caught* when some claim fails (exit 1); an implementation error
(exit 2: a crash, a wrong shape, a non-finite value) also counts as a rejection, as in the gate's
self-test (:mod:`mfcheck.app.gate.self_test`). A correct variant must have no failing claim; it
*passes* when every claim passes (exit 0), and a run too small to decide some claim leaves it
*unresolved* (exit 3), which is not a rejection.

- :func:`run_frameworks` runs the gates and returns the rows;
- :func:`summarize` and :func:`write_report` turn rows into ``summary.json`` and ``README.md``,
  written all at once (:func:`mfcheck.report.atomic.staged`);
- :func:`reproduce_frameworks` does both (the command).
"""

from __future__ import annotations

import json
import math
import platform
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mfcheck.errors import InvalidArgument
from mfcheck.report.atomic import staged
from mfcheck.stats.results import DEFAULT_ALPHA

__all__ = ["TIERS", "KINDS", "catalogue", "run_frameworks", "summarize", "write_report", "reproduce_frameworks"]

TIERS = ("smoke", "ci")
"""The tiers ``mfcheck reproduce frameworks`` runs at."""

KINDS = ("reference", "correct", "mutant")
"""The kinds of rows: the harness's own step, a correct PyTorch variant, a PyTorch mutant."""

REFERENCE_NAME = "reference_step"


def catalogue(names: Sequence[str] | None = None) -> list[tuple[str, str, str, Callable]]:
    """(name, kind, what, implementation) for the harness's :func:`~mfcheck.app.gate.reference_step`,
    then every correct variant and every mutant of :mod:`mfcheck.frameworks.torch_variants` (each
    wrapped in a :class:`~mfcheck.frameworks.torch_step.TorchStep`); ``names`` keeps those named."""
    from mfcheck.app.gate import reference_step
    from mfcheck.frameworks import torch_variants as tv
    from mfcheck.frameworks.torch_step import TorchStep

    rows = [(REFERENCE_NAME, "reference", "the harness's own correct step (numpy, float64), for comparison", reference_step)]
    for kind, factories in (("correct", tv.CORRECT), ("mutant", tv.MUTANTS)):
        for name, factory in factories.items():
            what = _plain(" ".join((factory.__doc__ or "").strip().split("\n\n")[0].split()))
            rows.append((name, kind, what, TorchStep(factory, tv.PARTICLES, name=f"torch:{name}")))
    if names is not None:
        known = [r[0] for r in rows]
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise InvalidArgument(f"`names` has unknown variant(s) {unknown}; known: {known}.")
        rows = [r for r in rows if r[0] in names]
    return rows


def _plain(text: str) -> str:
    """reStructuredText of a docstring as Markdown: ``x`` and :func:`x` become `x`."""
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text).replace("``", "`")


def _finite(p) -> float | None:
    return None if p is None or (isinstance(p, float) and math.isnan(p)) else float(p)


def _row(name, kind, what, verification=None, error=None, seconds=math.nan) -> dict:
    """One row of the report from a gate's verification (or the ImplementationError it raised)."""
    row = {"name": name, "kind": kind, "what": what, "seconds": float(seconds), "error": error, "claims": {},
           "failed": {}, "unresolved": [], "not_applicable": {}}
    if error is not None:
        row.update(verdict="error", exit_code=2)
    else:
        v = verification
        row["claims"] = {r.claim: {"verdict": r.verdict, "min_p_adjusted": _finite(r.min_p_adjusted), "decided_by": r.decided_by}
                         for r in v.results}
        row["failed"] = {r.claim: _finite(r.min_p_adjusted) for r in v.results if r.verdict == "fail"}
        row["unresolved"] = [r.claim for r in v.results if r.verdict == "unresolved"]
        row["not_applicable"] = dict(v.not_applicable)
        code = v.exit_code
        row.update(verdict={0: "pass", 1: "fail", 3: "unresolved"}.get(code, f"exit {code}"), exit_code=code)
    rejected = row["exit_code"] in (1, 2)
    row["rejected"] = rejected
    row["as_required"] = rejected if kind == "mutant" else not rejected
    return row


def run_frameworks(tier: str = "smoke", *, alpha: float = DEFAULT_ALPHA, seed: int | None = None, names: Sequence[str] | None = None,
                   progress: bool = True, echo: Callable[[str], None] | None = None, execution=None) -> list[dict]:
    """Run the gate at ``tier`` (all default claims, family-wise ``alpha``) on every implementation of
    :func:`catalogue` (``names`` restricts them), with one reference solved for all and the
    experiment's ``seed`` (default: that of :func:`mfcheck.model.experiment.default_experiment`).
    ``echo`` receives one line per finished implementation; ``execution`` is passed to the gate
    (None: serial). Returns the rows (:func:`summarize` reads them)."""
    from tqdm.auto import tqdm

    from mfcheck.app.gate import gate
    from mfcheck.app.gate.gate import check_alpha
    from mfcheck.app.gate.protocol import ImplementationError
    from mfcheck.claims.tiers import get_tier
    from mfcheck.model.experiment import default_experiment
    from mfcheck.reference.refinement import build_reference

    if tier not in TIERS:
        raise InvalidArgument(f"`tier` must be one of {list(TIERS)}, got {tier!r}.")
    alpha = check_alpha(alpha)
    entries = catalogue(names)
    t = get_tier(tier)
    experiment = default_experiment(log2_M=t.log2_M) if seed is None else default_experiment(seed=seed, log2_M=t.log2_M)
    reference = build_reference(experiment, progress=progress)
    rows = []
    bar = tqdm(entries, desc=f"frameworks ({tier})", unit="variant", disable=not progress, leave=False)
    for name, kind, what, impl in bar:
        bar.set_postfix_str(name)
        start = time.perf_counter()
        try:
            v = gate(impl, t, alpha=alpha, experiment=experiment, reference=reference, progress=False, execution=execution,
                     command="mfcheck reproduce frameworks")
            row = _row(name, kind, what, v, seconds=time.perf_counter() - start)
        except ImplementationError as exc:
            row = _row(name, kind, what, error=str(exc), seconds=time.perf_counter() - start)
        rows.append(row)
        if echo is not None:
            failed = ", ".join(row["failed"]) or "none"
            echo(f"{name} ({kind}): {row['verdict']} (exit {row['exit_code']}; failed: {failed}; unresolved: "
                 f"{', '.join(row['unresolved']) or 'none'}) in {row['seconds']:.0f} s")
    bar.close()
    return rows


def summarize(rows: list[dict], *, tier: str, alpha: float, seed: int, command: str) -> dict:
    """The document of ``summary.json``: the rows, the tier, α, the seed, the command, and what the rows show
    (mutants caught and missed, correct variants rejected)."""
    mutants = [r for r in rows if r["kind"] == "mutant"]
    correct = [r for r in rows if r["kind"] in ("correct", "reference")]
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:  # pragma: no cover - the variants need torch
        torch_version = None
    from mfcheck import __version__

    return {
        "tier": tier, "alpha": alpha, "seed": seed, "command": command,
        "verdict_rule": ("a mutant is caught when some claim fails (an implementation error, exit 2, also rejects it); a correct "
                         "variant must have no failing claim, and passes when every claim passes"),
        "mutants_caught": [r["name"] for r in mutants if r["as_required"]],
        "mutants_missed": [r["name"] for r in mutants if not r["as_required"]],
        "correct_rejected": [r["name"] for r in correct if not r["as_required"]],
        "correct_passed": [r["name"] for r in correct if r["verdict"] == "pass"],
        "ok": all(r["as_required"] for r in rows),
        "versions": {"mfcheck": __version__, "python": platform.python_version(), "torch": torch_version},
        "rows": rows,
    }


def _p(p) -> str:
    return "–" if p is None else f"{p:.2g}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


_SHORT = {"pass": "P", "fail": "**F**", "unresolved": "U"}


def _readme(summary: dict) -> str:
    rows = summary["rows"]
    lines = [
        "# The gate on PyTorch networks as users write them",
        "",
        "Every factory of `mfcheck/frameworks/torch_variants.py`, wrapped in `TorchStep(factory, \"hidden.weight\")`, and the "
        "harness's own correct step `mfcheck.app.gate.reference_step`, each run through `mfcheck.app.gate.gate` with every "
        f"default claim at tier **{summary['tier']}**, family-wise α = {summary['alpha']:g} (Holm), seed {summary['seed']}, "
        "one reference shared by all rows. The step every variant is measured against is the mean-field step "
        "θ_i ← θ_i + 2s(y − ŷ)∇σ*(x; θ_i) − 2λsθ_i + sqrt(4s/β) g_i with ŷ = (1/N) Σ_j σ*(x; θ_j) (docs/theory.md §2).",
        "",
        "Regenerate with:",
        "",
        "```",
        summary["command"],
        "```",
        "",
        "**Verdict rule.** A mutant is *caught* when some claim fails (exit 1); an implementation error (exit 2) also "
        "rejects it, as in the gate's self-test. A correct variant must have no failing claim; it *passes* when every "
        "claim passes (exit 0), and is *unresolved* (exit 3, not a rejection) when the run is too small to decide some claim. "
        "'as required' says whether the row meets its kind's rule.",
        "",
        "| variant | kind | what it is | verdict (exit) | as required | rejected by (smallest Holm-adjusted p) | unresolved | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["error"] is not None:
            rejected_by = "implementation error: " + _cell(r["error"][:160])
        else:
            rejected_by = ", ".join(f"{c} ({_p(p)})" for c, p in r["failed"].items()) or "–"
        lines.append(f"| {r['name']} | {r['kind']} | {_cell(r['what'])} | {r['verdict']} ({r['exit_code']}) | "
                     f"{'yes' if r['as_required'] else '**no**'} | {rejected_by} | {', '.join(r['unresolved']) or '–'} | "
                     f"{r['seconds']:.0f} |")
    lines += [
        "",
        f"Mutants caught: {', '.join(summary['mutants_caught']) or 'none'}. "
        f"Mutants missed: {', '.join(summary['mutants_missed']) or 'none'}. "
        f"Correct variants rejected: {', '.join(summary['correct_rejected']) or 'none'}. "
        f"Correct variants passing every claim: {', '.join(summary['correct_passed']) or 'none'}.",
        "",
    ]
    claims = []
    for r in rows:
        for c in r["claims"]:
            if c not in claims:
                claims.append(c)
    if claims:
        lines += [
            "## Every claim on every variant",
            "",
            "P pass, **F** fail, U unresolved, n/a not run (the implementation declared the claim not applicable, or the gate "
            "stopped on an implementation error); a failing claim shows its smallest Holm-adjusted p.",
            "",
            "| variant | " + " | ".join(claims) + " |",
            "|---|" + "---|" * len(claims),
        ]
        for r in rows:
            cells = []
            for c in claims:
                e = r["claims"].get(c)
                if e is None:
                    cells.append("n/a")
                else:
                    mark = _SHORT.get(e["verdict"], e["verdict"])
                    cells.append(f"{mark} {_p(e['min_p_adjusted'])}" if e["verdict"] == "fail" else mark)
            lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
        lines.append("")
    v = summary["versions"]
    lines += [f"mfcheck {v['mfcheck']}, Python {v['python']}, torch {v['torch']}; "
              + (f"each gate's {summary['execution']}. " if summary.get("execution") else "the gate ran serially (one process). ")
              + "`summary.json` holds every row with each claim's verdict, smallest Holm-adjusted p and what decided it.", ""]
    return "\n".join(lines)


def write_report(out, summary: dict) -> None:
    """Write ``summary.json`` and ``README.md`` into ``out``, all at once (:func:`mfcheck.report.atomic.staged`)."""
    with staged(out) as folder:
        (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
        (folder / "README.md").write_text(_readme(summary))


def reproduce_frameworks(out="reports/frameworks", *, tier: str = "smoke", alpha: float = DEFAULT_ALPHA, seed: int | None = None,
                         command: str | None = None, names: Sequence[str] | None = None, progress: bool = True,
                         echo: Callable[[str], None] | None = None, execution=None) -> dict:
    """Run :func:`run_frameworks` and write ``out`` (README.md, summary.json); returns the summary.

    - ``tier``: "smoke" or "ci"; ``alpha``: the gate's family-wise level; ``seed``: the experiment's
      seed (default: the default experiment's); ``names``: restrict the implementations.
    - ``command``: the command line printed as the way to regenerate."""
    import inspect

    from mfcheck.model.experiment import default_experiment

    if tier not in TIERS:
        raise InvalidArgument(f"`tier` must be one of {list(TIERS)}, got {tier!r}.")
    if command is None:
        command = f"mfcheck reproduce frameworks --tier {tier} --out {out}"
    rows = run_frameworks(tier, alpha=alpha, seed=seed, names=names, progress=progress, echo=echo, execution=execution)
    used_seed = inspect.signature(default_experiment).parameters["seed"].default if seed is None else seed
    summary = summarize(rows, tier=tier, alpha=alpha, seed=used_seed, command=command)
    if execution is not None:
        summary["execution"] = execution.describe()
    write_report(Path(out), summary)
    return summary
