"""The radial reduction of the two-Gaussians problem (docs/theory.md §6).

- :mod:`~mfcheck.reference.radial.forms`: q, Hermite coefficients and pair for one activation;
- :mod:`~mfcheck.reference.radial.reduction`: v, u, ψ, R on radial laws, and the exact finite-N risk;
- :mod:`~mfcheck.reference.radial.solver`: the radial distributional dynamics (Lagrangian particles);
- :mod:`~mfcheck.reference.radial.stationary`: the noisy stationary law;
- :mod:`~mfcheck.reference.radial.landscape`: the best single radius and the best radial law;
- :mod:`~mfcheck.reference.radial.agreement`: the radial flow against the full three-dimensional flow.
"""

from mfcheck.reference.radial.landscape import RadialOptimum, SingleRadius, best_single_radius, global_minimum
from mfcheck.reference.radial.reduction import RadialReduction, angle_moments, angle_rule, finite_risk
from mfcheck.reference.radial.solver import RadialFlow, initial_law, solve_radial
from mfcheck.reference.radial.stationary import StationaryLaw, stationary_law

__all__ = [
    "RadialReduction",
    "angle_moments",
    "angle_rule",
    "finite_risk",
    "RadialFlow",
    "initial_law",
    "solve_radial",
    "StationaryLaw",
    "stationary_law",
    "SingleRadius",
    "RadialOptimum",
    "best_single_radius",
    "global_minimum",
]
