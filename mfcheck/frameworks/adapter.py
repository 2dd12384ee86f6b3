"""The protocol step that a framework adapter is: one base class, the framework's part in two methods.

A :class:`FrameworkStep` is called as the gate calls any step (:mod:`mfcheck.app.gate`),
``step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None) -> new_theta`` on R replicates,
and does the same things whatever the framework:

1. before the first step in dimension d, it reads how the named parameters hold the particles
   (:meth:`~mfcheck.frameworks.particles.ParticleMap.layouts`) and checks that one unit of the
   user's network computes σ* (:func:`~mfcheck.frameworks.particles.check_one_unit`);
2. when a call does not continue the previous one's run
   (:class:`~mfcheck.frameworks.particles.Trajectory`), it builds the R replicates' networks and
   optimizers anew from the factory and loads θ into them (:meth:`FrameworkStep._start`);
3. it advances every replicate by one step of the user's training step on its own sample
   (:meth:`FrameworkStep._advance`) and reads θ back.

A subclass supplies :meth:`_shapes`, :meth:`_one_unit`, :meth:`_start` and :meth:`_advance`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from mfcheck.errors import InvalidArgument
from mfcheck.frameworks.particles import (
    ParticleMap, Trajectory, check_one_unit, factory_signature, not_applicable,
)
from mfcheck.seeds import Streams

__all__ = ["FrameworkStep"]


class FrameworkStep:
    """A protocol step that runs a user's network and training step, built by ``factory``.

    - ``factory``: called as ``factory(N, d, s)`` for noiseless SGD and
      ``factory(N, d, s, lam=λ, beta=β)`` for noisy SGD; what it returns is the framework's
      business (:class:`~mfcheck.frameworks.torch_step.TorchStep`,
      :class:`~mfcheck.frameworks.jax_step.JaxStep`).
    - ``particles``: the parameters holding θ (:meth:`ParticleMap.of`).
    - ``name``: how the gate names the implementation (default: the factory's qualified name).
    """

    framework = ""

    def __init__(self, factory: Callable, particles, name: str | None = None):
        if not callable(factory):
            raise InvalidArgument(f"`factory` must be callable, factory(N, d, s[, lam, beta]), got {factory!r}.")
        self.factory = factory
        self.particles = ParticleMap.of(particles)
        qual = getattr(factory, "__qualname__", None) or getattr(factory, "__name__", None) or repr(factory)
        self.__name__ = self.__qualname__ = name or f"{self.framework}:{getattr(factory, '__module__', '?')}.{qual}"
        self._fresh()

    def _fresh(self) -> None:
        self._layouts: dict[int, dict] = {}
        self._checked: set = set()
        self._trajectory = Trajectory()
        self._key = None
        self._takes_noise: bool | None = None

    def __getstate__(self):  # a copy (a worker's, the probe's) starts with no network built
        return {"factory": self.factory, "particles": self.particles, "__name__": self.__name__}

    def __setstate__(self, state):
        self.factory, self.particles = state["factory"], state["particles"]
        self.__name__ = self.__qualname__ = state["__name__"]
        self._fresh()

    def __repr__(self):
        return f"{type(self).__name__}({self.__name__!r}, particles={dict(self.particles.names)})"

    # -- what the gate asks --------------------------------------------------------------------

    @functools.cached_property
    def not_applicable(self) -> dict[str, str]:
        """The claims this factory cannot be judged on, with the reason
        (:func:`~mfcheck.frameworks.particles.not_applicable`); read from the factory's signature and,
        for a noisy factory, from the step it builds (one small network in d = 1), once per object."""
        sig = factory_signature(self.factory, None, self.framework)
        if sig.noisy:
            sig = factory_signature(self.factory, self._noisy_step_of(self._build(2, 1, 0.01, 0.5, 4.0)), self.framework)
        return not_applicable(sig)

    def __call__(self, theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
        theta = np.asarray(theta, dtype=np.float64)
        R, N, D = theta.shape
        d = int(np.shape(x)[-1])
        self.particles.check_neuron(neuron)
        if D != neuron.dim(d):
            raise InvalidArgument(f"θ has D = {D} coordinates, σ* = {neuron!r} in d = {d} needs {neuron.dim(d)}.")
        self.prepare(neuron, d, s)
        key = (R, N, d, float(s), noise is not None, float(lam), beta)
        if key != self._key or not self._trajectory.continues(theta, s):
            self._start(theta, d, float(s), lam if noise is not None else None, beta if noise is not None else None)
            self._key = key
        out = self._advance(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64),
                            None if noise is None else np.asarray(noise, dtype=np.float64), d)
        self._trajectory.moved(out, s)
        return out

    # -- shared steps ---------------------------------------------------------------------------

    def prepare(self, neuron, d: int, s: float = 0.01) -> None:
        """Read the layouts in dimension d (once) and check one unit against σ* (once per neuron and d).
        The gate calls it for each setting before any work; a call of the step does it too."""
        if d not in self._layouts:
            N0 = d + 1
            self._layouts[d] = self.particles.layouts(self._shapes(self._build(N0, d, s, None, None)), N0, d)
        if (repr(neuron), d) not in self._checked:
            rng = Streams(0).child("framework-check", d).generator("data")
            one_unit = self._build(1, d, s, None, None)
            check_one_unit(lambda th, X: self._one_unit(one_unit, th, X, d), neuron, d, rng,
                           f"the {self.framework} network of {self.__name__}")
            self._checked.add((repr(neuron), d))

    def _build(self, N: int, d: int, s: float, lam, beta):
        """The factory's network(s) for N units: ``factory(N, d, s)``, or with ``lam``, ``beta`` when noisy."""
        out = self.factory(N, d, s) if beta is None else self.factory(N, d, s, lam=lam, beta=beta)
        return self._validate_built(out)

    # -- the framework's part -------------------------------------------------------------------

    def _validate_built(self, built):
        raise NotImplementedError

    def _noisy_step_of(self, built) -> Callable:
        raise NotImplementedError

    def _shapes(self, built) -> dict[str, tuple]:
        raise NotImplementedError

    def _one_unit(self, built, theta: np.ndarray, X: np.ndarray, d: int) -> np.ndarray:
        raise NotImplementedError

    def _start(self, theta: np.ndarray, d: int, s: float, lam, beta) -> None:
        raise NotImplementedError

    def _advance(self, x: np.ndarray, y: np.ndarray, g: np.ndarray | None, d: int) -> np.ndarray:
        raise NotImplementedError
