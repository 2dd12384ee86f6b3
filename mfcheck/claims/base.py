"""The interface of the claims that are not rate fits (concentration, Gronwall, energies, ...).

A :class:`Check` runs on a :class:`CheckContext` (the experiment, the tier, the solved
reference, the SGD rule and initial sampler under test) and returns a
:class:`~mfcheck.stats.results.ClaimResult` with raw p-values; ``mfcheck verify`` decides all
claims together (Holm) and then calls ``render`` to write ``report.md`` and plots into the
claim's folder, beside the ``summary.json`` it writes itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, is_dataclass, replace
from pathlib import Path

from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import Experiment
from mfcheck.reference.refinement import Reference
from mfcheck.stats.results import ClaimResult
from mfcheck.dynamics.rules import MEAN_FIELD, Rule
from mfcheck.dynamics.sgd import InitSampler, iid_init
from mfcheck.claims.tiers import Tier

__all__ = ["Check", "CheckContext", "sizes_for"]


@dataclass(frozen=True)
class CheckContext:
    """What a check may use. ``rule`` and ``init`` are the implementation under test: the update
    rule (noiseless; a noisy check runs ``rule.noisy(λ, β)``) and the sampler of θ^0."""

    experiment: Experiment
    tier: Tier
    reference: Reference | None
    rule: Rule = MEAN_FIELD
    init: InitSampler = iid_init
    progress: bool = False
    replicates: int | None = None
    """Overrides the replicates of the check's sizes at this tier (``mfcheck calibrate``)."""


@dataclass(frozen=True)
class Check:
    """- ``name``: folder and key; ``title``: report heading;
    - ``run(context) -> ClaimResult`` (verdict left to :func:`mfcheck.stats.results.decide`);
    - ``render(result, folder, context)``: writes ``report.md`` and plots (after the decision)."""

    name: str
    title: str
    run: Callable[[CheckContext], ClaimResult]
    render: Callable[[ClaimResult, Path, CheckContext], None]


def sizes_for(context: CheckContext, sizes: dict, check: str):
    """The sizes of ``check`` at the context's tier (a dict or a dataclass with ``replicates``),
    with ``context.replicates`` applied when it is set."""
    name = context.tier.name
    if name not in sizes:
        raise InvalidArgument(f"`tier` must be one of {sorted(sizes)} for the {check} check, got {name!r}.")
    size = sizes[name]
    if context.replicates is None:
        return size
    has = hasattr(size, "replicates") if is_dataclass(size) else "replicates" in size
    if not has:
        raise InvalidArgument(f"The {check} check has no replicates to set: its tests are deterministic.")
    if is_dataclass(size):
        return replace(size, replicates=context.replicates)
    return {**size, "replicates": context.replicates}
