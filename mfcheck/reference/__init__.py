"""The limit dynamics: the McKean–Vlasov reference flow and its coupled particles."""

from mfcheck.reference.coupled import couple
from mfcheck.reference.flow import ReferenceFlow, solve_flow

__all__ = ["ReferenceFlow", "solve_flow", "couple"]

from mfcheck.reference.refinement import Reference, build_reference  # noqa: E402

__all__ += ["Reference", "build_reference"]
