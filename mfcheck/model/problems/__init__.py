"""Data laws P with their population oracles (R_#, V, ∇V, U, ∇₁U)."""

from mfcheck.model.problems.base import Problem, TheoremConstants
from mfcheck.model.problems.finite import FinitePopulation, teacher_population
from mfcheck.model.problems.gaussians import TwoGaussians
from mfcheck.model.problems.teacher_student import TeacherStudent

__all__ = ["Problem", "TheoremConstants", "FinitePopulation", "teacher_population", "TwoGaussians", "TeacherStudent"]
