"""Particle SGD (docs/theory.md §2): update rules as frozen values (:mod:`~mfcheck.dynamics.rules`),
the one SGD driver whose recording is an argument (:mod:`~mfcheck.dynamics.sgd`), the compiled
kernels (:mod:`~mfcheck.dynamics.kernels`) and the registry of broken rules
(:mod:`~mfcheck.dynamics.broken`). Imports :mod:`mfcheck.model` and the foundations only."""
