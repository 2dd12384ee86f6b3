"""The registry's broken steps (:data:`mfcheck.dynamics.broken.BROKEN`) in the gate protocol, by name.

Each attribute is a broken rule written as a user's step (:func:`mfcheck.app.gate.protocol.as_protocol`),
so that the gate runs on it from the command line exactly as on a user's code and writes every
claim's report::

    mfcheck gate --impl mfcheck.app.gate.mutants:late_instability --tier ci --out reports/gate_late_instability

shows which claims reject the late-onset instability (only ``gronwall``). Every access builds the
rule afresh, as the registry does (a rule with its own noise generator starts it anew).
"""

from __future__ import annotations

from mfcheck.app.gate.protocol import Implementation, as_protocol
from mfcheck.dynamics.broken import BROKEN

__all__ = ["names"]


def names() -> list[str]:
    """The registry entries that replace the step (an initial sampler is gated with ``--init``)."""
    return sorted(name for name, entry in BROKEN.items() if entry.replaces != "init")


def __getattr__(name: str) -> Implementation:
    if name not in names():
        raise AttributeError(f"module {__name__!r} has no broken step {name!r}; the broken steps are {names()}")
    return as_protocol(BROKEN[name].rule)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(names()))
