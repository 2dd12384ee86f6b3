"""Data laws P with their population oracles (R_#, V, ∇V, U, ∇₁U)."""

from mfcheck.problems.base import Problem, TheoremConstants
from mfcheck.problems.finite import FinitePopulation, teacher_population
from mfcheck.problems.gaussians import TwoGaussians
from mfcheck.problems.teacher_student import TeacherStudent

__all__ = ["Problem", "TheoremConstants", "FinitePopulation", "teacher_population", "TwoGaussians", "TeacherStudent"]
