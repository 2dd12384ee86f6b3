"""The limit the claims compare SGD with, each with its error measured by refinement: the
McKean–Vlasov flow of a finite population and its coupled particles (docs/theory.md §3), the
noisy Fokker–Planck solver and its coupled SDE, the Gibbs fixed point, and the radial reduction
of the two-Gaussians problem (docs/theory.md §6)."""

from mfcheck.reference.coupled import couple
from mfcheck.reference.flow import ReferenceFlow, solve_flow
from mfcheck.reference.refinement import Reference, build_reference

__all__ = ["ReferenceFlow", "solve_flow", "couple", "Reference", "build_reference"]
