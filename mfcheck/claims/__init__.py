"""The claims that ``mfcheck verify`` runs, each declared by the protocol of :mod:`mfcheck.claims.base`.

**The registry.** :data:`CLAIMS` holds every claim declared by a module of this package: a
module whose name does not start with ``_`` and that defines ``CLAIM`` (one claim) or
``CLAIMS`` (a tuple of claims). They are listed by their ``order`` (the paper's order: Theorem 1,
Theorem 2, the terms of the proof, the limit dynamics). Adding a claim is adding such a module
and its test module: verify, the gate, the plugin, ``mfcheck calibrate`` and the reports read
only the declarations (a claim without a renderer of its own in :mod:`mfcheck.report.checks`
gets the generic report).
"""

import importlib
import pkgutil

from mfcheck.claims.base import Check, CheckContext, Claim
from mfcheck.errors import InvalidArgument

__all__ = ["Claim", "Check", "CheckContext", "CLAIMS", "get_claim", "select", "tests_in_family"]


def _declared() -> list[Claim]:
    found = []
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            continue
        namespace = vars(importlib.import_module(f"{__name__}.{module.name}"))
        found += [namespace["CLAIM"]] if "CLAIM" in namespace else list(namespace.get("CLAIMS", ()))
    return sorted(found, key=lambda claim: claim.order)


CLAIMS: dict[str, Claim] = {claim.name: claim for claim in _declared()}


def get_claim(name: str) -> Claim:
    if name not in CLAIMS:
        raise InvalidArgument(f"`claim` must be one of {sorted(CLAIMS)}, got {name!r}.")
    return CLAIMS[name]


def select(names) -> list[Claim]:
    """The claims named in ``names`` (None: all), in the registry's order."""
    if names is None:
        return list(CLAIMS.values())
    unknown = [n for n in names if n not in CLAIMS]
    if unknown:
        raise InvalidArgument(f"Unknown claim(s) {unknown}; known: {list(CLAIMS)}.")
    return [claim for name, claim in CLAIMS.items() if name in names]


def tests_in_family() -> int:
    """m: the number of tests in one ``mfcheck verify`` run of every claim (Holm's worst-case level is α/m)."""
    return sum(claim.test_count for claim in CLAIMS.values())
