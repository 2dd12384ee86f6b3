"""Claims beyond the Theorem 1 rate fits, each a :class:`~mfcheck.claims.base.Check`.

``CHECKS`` lists those that ``mfcheck verify`` runs, in order: Theorem 2 (noisy SGD), the
three error terms of the proof (McDiarmid, Azuma–Hoeffding, Gronwall), the energy identities
(noiseless R, noisy F_β), the fixed points, and the temperature convention of noisy SGD.
"""

from mfcheck.claims.azuma import CHECK as _AZUMA
from mfcheck.claims.base import Check, CheckContext
from mfcheck.claims.energy import CHECK as _ENERGY
from mfcheck.claims.fixed_points import CHECK as _FIXED_POINTS
from mfcheck.claims.free_energy import CHECK as _FREE_ENERGY
from mfcheck.claims.gronwall import CHECK as _GRONWALL
from mfcheck.claims.mcdiarmid import CHECK as _MCDIARMID
from mfcheck.claims.temperature import CHECK as _TEMPERATURE
from mfcheck.claims.theorem2 import CHECKS as _THEOREM2

CHECKS: dict[str, Check] = {
    check.name: check
    for check in (*_THEOREM2.values(), _MCDIARMID, _AZUMA, _GRONWALL, _ENERGY, _FIXED_POINTS, _FREE_ENERGY, _TEMPERATURE)
}


def tests_in_family() -> int:
    """m: the number of tests in one ``mfcheck verify`` run of every claim (Holm's worst-case level is α/m).

    Each check's count follows from its design: McDiarmid tests every (time, u) pair and every z
    of the uniform bound; Azuma its tail z's and the ε exponent; the rate claims (Theorem 1 and 2)
    two growth tests and one tail test per z.
    """
    from mfcheck.claims import azuma, mcdiarmid
    from mfcheck.claims.rate import CLAIMS
    from mfcheck.claims.fit import Z_GRID

    per_check = {
        "mcdiarmid": len(mcdiarmid.TIME_FRACTIONS) * len(mcdiarmid.S_GRID) + len(mcdiarmid.Z_GRID),
        "azuma": len(azuma.Z_GRID) + 1,  # tail z's and the ε exponent (the pooled exponent is reported only)
        "gronwall": 2,  # rate ≤ K_drift, no curvature
        "energy_decay": 3,  # monotone, identity on the reference, identity on SGD
        "fixed_points": 2,  # contraction of the reference, contraction of SGD (the long-time residual is reported only)
        "free_energy": 2,  # monotone, identity
        "temperature": 1,  # c = 4 against ρ*_β
    }
    rate = (len(CLAIMS) + len(_THEOREM2)) * (2 + len(Z_GRID))
    return rate + sum(per_check[name] for name in CHECKS if name not in _THEOREM2)


__all__ = ["Check", "CheckContext", "CHECKS", "tests_in_family"]
