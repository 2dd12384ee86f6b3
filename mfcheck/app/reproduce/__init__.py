"""Reproductions of MMN18 §3 (two isotropic Gaussians, SGD beside the radial PDE) and the
d-dependence of Theorem 1 on that problem.

- :func:`reproduce_mmn18` (:mod:`mfcheck.app.reproduce.mmn18`): the paper's experiments, report in ``reports/mmn18``.
- :func:`reproduce_dimension` (:mod:`mfcheck.app.reproduce.dimension`): the rate fit across N, ε and d,
  report in ``reports/dimension``.
- :func:`~mfcheck.app.reproduce.frameworks.reproduce_frameworks` (:mod:`mfcheck.app.reproduce.frameworks`): the gate on the
  PyTorch variants and mutants of :mod:`mfcheck.frameworks.torch_variants`, report in ``reports/frameworks``.
- :func:`main`: the command line (``python -m mfcheck.app.reproduce mmn18|dimension|frameworks``).
"""

from mfcheck.app.reproduce.cli import main

__all__ = ["main", "reproduce_mmn18", "reproduce_dimension"]


def __getattr__(name):
    if name == "reproduce_mmn18":
        from mfcheck.app.reproduce.mmn18 import reproduce_mmn18

        return reproduce_mmn18
    if name == "reproduce_dimension":
        from mfcheck.app.reproduce.dimension import reproduce_dimension

        return reproduce_dimension
    raise AttributeError(name)
