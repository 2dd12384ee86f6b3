"""Named random streams from one ``numpy.random.SeedSequence`` tree (no global random state).

A stream is addressed by a root entropy, a cell key, a role ("init", "data", "noise",
"reference", ...) and a replicate index:
``SeedSequence(entropy, spawn_key=(*cell_key, crc32(role), replicate))``.
The same address always gives the same numbers, whatever order streams are asked for and
however many replicates a run has, so replicate r of a cell is reproducible on its own.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from mfcheck._validation import check_positive_int
from mfcheck.errors import InvalidArgument

__all__ = ["Streams", "ROLES"]

ROLES = ("init", "data", "noise", "reference", "population")


def _role_id(role: str) -> int:
    if role not in ROLES:
        raise InvalidArgument(f"`role` must be one of {ROLES}, got {role!r}.")
    return zlib.crc32(role.encode())


@dataclass(frozen=True)
class Streams:
    """The seed tree of one run: ``entropy`` (an int) and a ``key`` naming the cell."""

    entropy: int
    key: tuple[int, ...] = ()

    def __post_init__(self):
        if isinstance(self.entropy, bool) or not isinstance(self.entropy, int | np.integer) or self.entropy < 0:
            raise InvalidArgument(f"`entropy` (the seed) must be a non-negative int, got {self.entropy!r}.")

    def child(self, *parts) -> "Streams":
        """The streams of a sub-run, keyed by ``parts``: non-negative ints are used as they are,
        anything else by the CRC-32 of its ``str``."""
        ints = []
        for p in parts:
            if isinstance(p, bool):
                raise InvalidArgument(f"A stream key part must not be a bool, got {p!r}.")
            if isinstance(p, int | np.integer):
                if p < 0:
                    raise InvalidArgument(f"An integer stream key part must be >= 0, got {p!r}.")
                ints.append(int(p))
            else:
                ints.append(zlib.crc32(str(p).encode()))
        return Streams(self.entropy, self.key + tuple(ints))

    def seed_sequence(self, role: str, replicate: int = 0) -> np.random.SeedSequence:
        if isinstance(replicate, bool) or not isinstance(replicate, int | np.integer) or replicate < 0:
            raise InvalidArgument(f"`replicate` must be a non-negative int, got {replicate!r}.")
        return np.random.SeedSequence(self.entropy, spawn_key=self.key + (_role_id(role), int(replicate)))

    def generator(self, role: str, replicate: int = 0) -> np.random.Generator:
        """A fresh ``numpy.random.Generator`` for (role, replicate)."""
        return np.random.default_rng(self.seed_sequence(role, replicate))

    def generators(self, role: str, replicates: int) -> list[np.random.Generator]:
        check_positive_int(replicates, "replicates")
        return [self.generator(role, r) for r in range(replicates)]

    def describe(self) -> dict:
        """What a report logs to replay the run."""
        return {"entropy": int(self.entropy), "spawn_key_prefix": list(self.key), "roles": {r: _role_id(r) for r in ROLES}}
