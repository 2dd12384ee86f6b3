"""The interface of the claims that are not rate fits (concentration, Gronwall, energies, ...).

A :class:`Check` runs on a :class:`CheckContext` (the experiment, the tier, the solved
reference, the SGD update rule and initial sampler under test) and returns a
:class:`~mfcheck.results.ClaimResult` with raw p-values; ``mfcheck verify`` decides all
claims together (Holm) and then calls ``render`` to write ``report.md`` and plots into the
claim's folder, beside the ``summary.json`` it writes itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mfcheck.experiment import Experiment
from mfcheck.noisy import NoisyFactory
from mfcheck.reference.refinement import Reference
from mfcheck.results import ClaimResult
from mfcheck.sgd import InitSampler, Update, iid_init, mean_field_step
from mfcheck.tiers import Tier

__all__ = ["Check", "CheckContext"]


@dataclass(frozen=True)
class CheckContext:
    """What a check may use. ``update``, ``init`` and ``noisy_update`` are the implementation
    under test: the noiseless rule, the sampler of θ^0, and a factory ``(λ, β) -> noisy rule``
    (None: :func:`mfcheck.noisy.langevin_step` around ``update`` with c = 4)."""

    experiment: Experiment
    tier: Tier
    reference: Reference | None
    update: Update = mean_field_step
    init: InitSampler = iid_init
    progress: bool = False
    noisy_update: NoisyFactory | None = None


@dataclass(frozen=True)
class Check:
    """- ``name``: folder and key; ``title``: report heading;
    - ``run(context) -> ClaimResult`` (verdict left to :func:`mfcheck.results.decide`);
    - ``render(result, folder, context)``: writes ``report.md`` and plots (after the decision)."""

    name: str
    title: str
    run: Callable[[CheckContext], ClaimResult]
    render: Callable[[ClaimResult, Path, CheckContext], None]
