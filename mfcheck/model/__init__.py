"""The model of docs/theory.md §1: activations with their constants, neurons σ*, data laws
(population oracles), initial laws ρ_0, step-size schedules ξ, test functions, the functionals
R, V, U, Ψ, ∇Ψ, the error scales of the bound, and the :class:`~mfcheck.model.experiment.Experiment`
that bundles them. Imports only :mod:`mfcheck.errors`, :mod:`mfcheck._validation` and itself."""
