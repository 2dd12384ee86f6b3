"""Sweep sizes. ``smoke`` for tests, ``ci`` (the default of ``mfcheck verify``), ``full`` for reports.

Cells lie on two paths along the limit (N ↑, ε ↓), one on each side of the kink of
max(1/N, ε) (docs/methods.md, "Sweep where each term shows"):

- the **N-path** ε = 1/(kink·N): there max(1/N, ε) = 1/N and the 1/N term dominates;
- the **ε-path** N = kink/ε: there max(1/N, ε) = ε and the ε term dominates.
"""

from __future__ import annotations

from dataclasses import dataclass

from mfcheck.errors import InvalidArgument

__all__ = ["Tier", "TIERS", "get_tier", "cell_work"]


@dataclass(frozen=True)
class Tier:
    """``N_path``: the N of the N-path; ``eps_path``: the ε of the ε-path; ``kink``: the factor
    separating each path from the kink; ``replicates`` per cell; ``log2_M`` of the reference."""

    name: str
    N_path: tuple[int, ...]
    eps_path: tuple[float, ...]
    kink: int
    replicates: int
    log2_M: int

    def cells(self) -> list[tuple[str, int, float]]:
        """(path, N, ε) for every cell."""
        out = [("N", N, 1.0 / (self.kink * N)) for N in self.N_path]
        out += [("eps", int(round(self.kink / eps)), eps) for eps in self.eps_path]
        return out


TIERS = {
    "smoke": Tier("smoke", N_path=(16, 32, 64, 128, 256), eps_path=(1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256), kink=4, replicates=12, log2_M=13),
    "ci": Tier("ci", N_path=(16, 32, 64, 128, 256, 512), eps_path=(1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256), kink=8, replicates=96, log2_M=14),
    "full": Tier("full", N_path=(16, 32, 64, 128, 256, 512, 1024, 2048), eps_path=(1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256, 1 / 512), kink=8, replicates=64, log2_M=15),
}


def cell_work(cell: tuple[str, int, float]) -> float:
    """N/ε for a cell (path, N, ε): N particles over T/ε steps, the cell's cost up to the factor R·T
    that all cells of a sweep share (``map_cells(..., cost=cell_work)`` starts the largest first)."""
    _, N, eps = cell
    return N / eps


def get_tier(name: str) -> Tier:
    if name not in TIERS:
        raise InvalidArgument(f"`tier` must be one of {sorted(TIERS)}, got {name!r}.")
    return TIERS[name]
