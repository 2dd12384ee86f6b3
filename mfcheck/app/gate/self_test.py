"""The gate's self-test: its power against broken rules and its acceptance of correct variants.

The gate runs on each broken rule of :data:`MUTANTS` and :data:`SUBTLE` (from the registry
:data:`mfcheck.dynamics.broken.BROKEN`, written in the protocol with
:func:`mfcheck.app.gate.protocol.as_protocol`, so that it takes the user's path) and on each correct
step of :data:`mfcheck.app.gate.examples.CORRECT_STEPS`; every mutant must be rejected and no
correct step. The catalogue, by kind:

=========  ===============================================================  ==========================
kind       entries                                                          required
=========  ===============================================================  ==========================
mutant     ntk_scaling, no_factor_two, unscaled_lr, gradient_ascent,        rejected
           double_step, slow_kicks (a coupling decaying like ε^0.4),
           weak_noise, wrong_sign_decay, correlated_init,
           late_instability (an instability that starts after T = 1:
           gronwall's alone)
subtle     plateau_drift (a bias b₀ T that does not vanish along the        reported, not required
           limit, of the size of the statistics): at the edge of the budget
correct    reference, replicate_loop, einsum (the paper's step written      accepted
           differently); float32, leave_one_out, vanishing_noise (steps
           the theorem covers, inside its error budget)
=========  ===============================================================  ==========================

A subtle rule's rejection measures how close to the budget the gate sees; it is not required,
because the claims' tests are one-sided upper bounds whose power against a bias of the size of the
statistic depends on the tier.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mfcheck.app.gate.examples import CORRECT_STEPS
from mfcheck.claims import CLAIMS
from mfcheck.app.gate.gate import INIT_CLAIMS, STEP_CLAIMS, check_alpha, gate
from mfcheck.app.gate.protocol import ImplementationError, as_protocol
from mfcheck.claims.tiers import Tier
from mfcheck.dynamics.broken import BROKEN
from mfcheck.errors import InvalidArgument
from mfcheck.stats.results import DEFAULT_ALPHA

__all__ = ["MUTANTS", "SUBTLE", "SelfTest", "self_test"]

MUTANTS = ("ntk_scaling", "no_factor_two", "unscaled_lr", "gradient_ascent", "double_step", "slow_kicks", "weak_noise",
           "wrong_sign_decay", "correlated_init", "late_instability")
"""The registry entries that the gate's claims as a family must reject (the entries outside
:data:`MUTANTS` and :data:`SUBTLE` target a single claim and are run by that claim's tests)."""

SUBTLE = ("plateau_drift",)
"""Registry entries at the edge of the theorem's budget: the self-test runs them and reports whether
the gate rejected them (its power there), without requiring it."""


@dataclass(frozen=True)
class SelfTest:
    """``rows``: per implementation, ``name``, ``kind`` (mutant / subtle / correct), ``target`` (step / init),
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
    def subtle_rejected(self) -> list[str]:
        """The subtle rules the gate rejected (reported, not required)."""
        return [r["name"] for r in self.rows if r["kind"] == "subtle" and r["rejected"]]

    @property
    def ok(self) -> bool:
        return not self.missed_mutants and not self.rejected_correct

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def table(self) -> str:
        head = f"{'implementation':22s} {'kind':8s} {'rejected':8s} {'claims failed':>13s} {'unresolved':>10s}  {'seconds':>7s}  failed claims"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            frac = f"{len(r['failed_claims'])}/{r['claims_run']}"
            what = ", ".join(r["failed_claims"]) if not r["error"] else f"ImplementationError: {r['error'][:80]}"
            unresolved = len(r.get("unresolved", ()))
            lines.append(f"{r['name']:22s} {r['kind']:8s} {'yes' if r['rejected'] else 'no':8s} {frac:>13s} {unresolved:>10d}  "
                         f"{r['seconds']:7.1f}  {what}")
        lines.append(f"tier {self.tier}, family-wise α = {self.alpha} per gate run (Holm). Mutants missed: "
                     f"{self.missed_mutants or 'none'}; correct variants rejected: {self.rejected_correct or 'none'}."
                     + (f" Subtle rules rejected (not required): {self.subtle_rejected or 'none'}."
                        if any(r["kind"] == "subtle" for r in self.rows) else ""))
        return "\n".join(lines)


def _catalogue() -> list[tuple[str, str, str, str, object]]:
    """(name, kind, target, bug, implementation): the mutants and the subtle rules (a step or noise as a
    protocol step, an initial sampler as it is), then the correct steps."""
    rows = []
    for kind, names in (("mutant", MUTANTS), ("subtle", SUBTLE)):
        for name in names:
            entry = BROKEN[name]
            target = "init" if entry.replaces == "init" else "step"
            rows.append((name, kind, target, entry.bug, entry.rule if target == "init" else as_protocol(entry.rule)))
    return rows + [(n, "correct", "step", (f.__doc__ or "").split("\n")[0], f) for n, f in CORRECT_STEPS.items()]


def self_test(tier: Tier, alpha: float = DEFAULT_ALPHA, *, names: Sequence[str] | None = None, claims: Sequence[str] | None = None,
              progress: bool = False, experiment=None, reference=None, echo: Callable[[str], None] | None = None,
              execution=None) -> SelfTest:
    """Run the gate on every mutant of :data:`MUTANTS`, subtle rule of :data:`SUBTLE` and correct step
    (``names`` restricts them).

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
    if reference is None and any(CLAIMS[c].reads_reference for c in step_claims + INIT_CLAIMS):
        reference = build_reference(experiment, progress=progress)
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
            row["min_p_adjusted"] = {r.claim: r.min_p_adjusted for r in v.results}
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
