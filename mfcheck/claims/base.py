"""The claim protocol: everything mfcheck knows about a claim, declared once in a frozen :class:`Claim`.

``mfcheck verify``, the gate, the pytest plugin, ``mfcheck calibrate`` and the reports read only
these declarations. Two kinds implement the protocol: a :class:`Check` runs on a
:class:`CheckContext` (the experiment, the tier, the solved reference, the implementation under
test); a :class:`mfcheck.claims.rate.RateClaim` is fitted on a sweep it shares with the other
claims of its theorem. Both return a :class:`~mfcheck.stats.results.ClaimResult` with raw
p-values; :func:`mfcheck.stats.results.decide` decides all claims of a run together (Holm).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import Experiment, default_experiment
from mfcheck.reference.refinement import Reference
from mfcheck.stats.results import ClaimResult
from mfcheck.dynamics.rules import MEAN_FIELD, Rule
from mfcheck.dynamics.sgd import InitSampler, iid_init
from mfcheck.claims.tiers import Tier

__all__ = ["PARTS", "Claim", "Check", "CheckContext"]

PARTS = ("step", "noise", "init")
"""The parts of an implementation a claim may exercise: the noiseless update rule, the noisy
update rule, the sampler of θ^0."""


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
    """Overrides the replicates of the claim's sizes at this tier (``mfcheck calibrate``)."""


@dataclass(frozen=True, kw_only=True)
class Claim:
    """The declaration of a claim.

    - ``name``: folder and key; ``title``: report heading; ``statement``: the claim as printed.
    - ``order``: its place in a run, in the index of the reports and in the gate's table (the
      paper's order: Theorem 1, Theorem 2, the terms of the proof, then the limit dynamics).
    - ``sizes``: tier name -> the sizes of the claim at that tier (a frozen dataclass, with a
      ``replicates`` field when its tests are random).
    - ``parts``: the parts of an implementation it exercises (a subset of :data:`PARTS`).
    - ``reads_reference``: it reads ``CheckContext.reference``, the solved Theorem 1 reference.
    - ``own_setting``: None when the claim runs on the run's experiment; else the fixed setting
      it runs on, from which it takes only the experiment's seed.
    - ``test_count``: the tests it adds to the Holm family when all of them are resolved.
    - ``alternative``: the stated alternative of ``mfcheck calibrate``; ``inject(context)``
      returns the context that runs it (None: the claim is calibrated otherwise, see
      :mod:`mfcheck.app.calibrate`).
    - ``deterministic``: its p-values are 0 or 1, so replicates do not apply.
    - ``maps_cells``: the claim runs cells of its own through :func:`mfcheck.runtime.executors.map_cells`
      (on the run's workers, cached), so a run calls it in its own process; a check without cells
      runs whole in one worker, on the workers the sweeps leave idle (:func:`mfcheck.app.verify.verify`).
    - ``outside_gate``: empty when the claim belongs to the gate's default family; else the reason
      it does not: it tests a property of the paper's exact finite-N SGD rather than of the limit
      (which an implementation the theorem covers need not have), or its rate of leaving correct
      implementations unresolved is not yet measured low. Such a claim still runs in ``mfcheck
      verify`` and, named, in the gate; its report states the reason.
    """

    name: str
    title: str
    statement: str
    order: int
    sizes: Mapping[str, object]
    parts: frozenset[str]
    reads_reference: bool
    test_count: int
    alternative: str
    inject: Callable[[CheckContext], CheckContext] | None = None
    own_setting: str | None = None
    deterministic: bool = False
    maps_cells: bool = False
    outside_gate: str = ""

    def __post_init__(self):
        if not self.parts <= set(PARTS):
            raise InvalidArgument(f"`parts` of {self.name} must be a subset of {PARTS}, got {sorted(self.parts)}.")

    def sizes_for(self, context: CheckContext):
        """The sizes at the context's tier, with ``context.replicates`` applied when it is set."""
        tier = context.tier.name
        if tier not in self.sizes:
            raise InvalidArgument(f"`tier` must be one of {sorted(self.sizes)} for the {self.name} claim, got {tier!r}.")
        size = self.sizes[tier]
        if context.replicates is None:
            return size
        if not hasattr(size, "replicates"):
            raise InvalidArgument(f"The {self.name} claim has no replicates to set: its tests are deterministic.")
        return replace(size, replicates=context.replicates)

    def check_experiment(self, experiment: Experiment) -> None:
        """Refuse an ``experiment`` the claim would not honour.

        A claim with its own setting takes only the seed of the experiment, so it accepts the
        default experiment at any seed and reference resolution (what ``mfcheck verify --seed``
        passes) and refuses any other: its problem, neuron or ρ_0 would be silently ignored."""
        if self.own_setting is None:
            return
        given, default = experiment.describe(), default_experiment(seed=experiment.seed, log2_M=experiment.log2_M).describe()
        changed = [key for key in given if given[key] != default[key]]
        if changed:
            raise InvalidArgument(
                f"{self.name} runs on {self.own_setting}; it cannot take `experiment` with its own {', '.join(changed)}: "
                f"only the seed applies to it (pass `default_experiment(seed=...)`), or leave {self.name!r} out of `claims`.")

    def detection(self, source, result: ClaimResult, level: float) -> dict | None:
        """The power of each of ``result``'s tests at ``level`` against a stated violation, as
        ``{"test_power": {test name: power}, "against": …, "level": …, "power_floor": …}`` (tests
        below the floor leave the Holm family: :func:`mfcheck.claims.injection.without_powerless`);
        None when the claim measures none. ``source`` is what the claim ran on."""
        return None


@dataclass(frozen=True, kw_only=True)
class Check(Claim):
    """A claim that runs on a context: ``compute(context) -> ClaimResult`` with raw p-values
    (the verdict is left to :func:`mfcheck.stats.results.decide`). ``power(result, level)``, when
    given, is its :meth:`Claim.detection`: computed from what ``compute`` recorded, since the
    level α/m is known only once every claim of the run has declared its tests."""

    compute: Callable[[CheckContext], ClaimResult]
    power: Callable[[ClaimResult, float], dict] | None = None

    def detection(self, source, result: ClaimResult, level: float) -> dict | None:
        return None if self.power is None else self.power(result, level)

    def run(self, context: CheckContext) -> ClaimResult:
        self.check_experiment(context.experiment)
        return self.compute(context)
