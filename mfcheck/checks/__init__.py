"""Claims beyond the Theorem 1 rate fits, each a :class:`~mfcheck.checks.base.Check`.

``CHECKS`` lists those that ``mfcheck verify`` runs, in order: Theorem 2 (noisy SGD), the
three error terms of the proof (McDiarmid, Azuma–Hoeffding, Gronwall), the energy identities
(noiseless R, noisy F_β), the fixed points, and the temperature convention of noisy SGD.
"""

from mfcheck.checks.azuma import CHECK as _AZUMA
from mfcheck.checks.base import Check, CheckContext
from mfcheck.checks.energy import CHECK as _ENERGY
from mfcheck.checks.fixed_points import CHECK as _FIXED_POINTS
from mfcheck.checks.free_energy import CHECK as _FREE_ENERGY
from mfcheck.checks.gronwall import CHECK as _GRONWALL
from mfcheck.checks.mcdiarmid import CHECK as _MCDIARMID
from mfcheck.checks.temperature import CHECK as _TEMPERATURE
from mfcheck.checks.theorem2 import CHECKS as _THEOREM2

CHECKS: dict[str, Check] = {
    check.name: check
    for check in (*_THEOREM2.values(), _MCDIARMID, _AZUMA, _GRONWALL, _ENERGY, _FIXED_POINTS, _FREE_ENERGY, _TEMPERATURE)
}

__all__ = ["Check", "CheckContext", "CHECKS"]
