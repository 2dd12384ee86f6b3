"""What the framework adapters share: which parameters are the particles, when a trajectory starts
afresh, the σ* check, and which claims a user's factory can be judged on.

**Particles.** A network ŷ(x; θ) = (1/N) Σ_i σ*(x; θ_i) holds its particles θ_i in one or more
parameters of the user's model. :class:`ParticleMap` names them: for σ*(x; w) = σ(<w, x>)
(:class:`~mfcheck.model.neurons.InnerNeuron`, D = d) the first-layer weights w alone; for
σ*(x; (a, w, b)) = a σ(<w, x> + b) (:class:`~mfcheck.model.neurons.AffineNeuron`, D = d + 2) the
output weights a, the first-layer weights w and the biases b. A weight matrix may hold one
particle per row, shape (N, d) (``torch.nn.Linear(d, N).weight``), or per column, shape (d, N)
(``x @ W`` in JAX); a vector parameter ((N,), (1, N) or (N, 1)) holds one number per particle.
The layout is read once, from a network built with N ≠ d units (:meth:`ParticleMap.layouts`).

**Trajectories.** The harness calls a step once per SGD step, on R replicates, and hands it the
particles it returned last time while it follows one run. The adapters keep the user's model and
optimizer (its momentum, its Adam moments) along such a run, and build them anew, from the
factory, whenever the particles handed in are not the ones last handed out or the step size
changed (:class:`Trajectory`): a new replicate batch, a new cell, a new claim. One run therefore
never leaks optimizer state into another, and a stateless optimizer (plain SGD) gives exactly the
protocol's stateless step.

**The σ* check.** Before any work the adapters build a one-unit network and compare its output
with σ*(x; θ) on random inputs (:func:`check_one_unit`). At N = 1 the mean-field readout (1/N) Σ
is the unit itself, whatever the readout's scaling, so the check is about the unit: a network
scaled by 1/√N instead of 1/N passes it and is left to the claims, which is where it is judged.

**Claims the factory can be judged on** (:func:`not_applicable`). A factory that takes no
``beta`` builds noiseless steps only: the claims about noisy SGD do not apply. A noisy step that
draws its own Gaussians instead of taking the harness's ``noise`` runs the claims about laws
(Theorem 2's test functions and risk, the temperature), not the coupling of each particle to a
twin driven by the same increments (``theorem2_coupling``).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from mfcheck.errors import InvalidArgument
from mfcheck.model.neurons import AffineNeuron, InnerNeuron, Neuron

__all__ = ["ParticleMap", "Trajectory", "FactorySignature", "factory_signature", "check_one_unit", "not_applicable",
           "seed_of", "NOISY_CLAIMS", "COUPLED_NOISE_CLAIMS", "ONE_UNIT_TOLERANCE"]

NOISY_CLAIMS = ("theorem2_test_functions", "theorem2_risk", "theorem2_coupling", "temperature")
"""The claims that run noisy SGD (they exercise the implementation's noise)."""

COUPLED_NOISE_CLAIMS = ("theorem2_coupling",)
"""The claims that couple each SGD particle to a twin driven by the harness's Gaussians."""

ONE_UNIT_TOLERANCE = 1e-2
"""|network(x) − σ*(x; θ)| allowed by the σ* check, relative to 1 + |σ*|: far above the rounding of
float16 arithmetic (whose effect on the dynamics the claims judge), far below the difference of two
activations a user could confuse (tanh and erf differ by 0.06 at t = 0.5)."""

_BLOCKS = ("a", "w", "b")


def _width(block: str, d: int) -> int:
    return d if block == "w" else 1


@dataclass(frozen=True)
class ParticleMap:
    """The model parameters that hold the particles: ``{"w": name}`` for σ*(x; w), or
    ``{"a": name, "w": name, "b": name}`` for σ*(x; (a, w, b)). Built from a string (the name of
    w) or a mapping by :meth:`of`."""

    names: Mapping[str, str]

    @classmethod
    def of(cls, particles) -> ParticleMap:
        """``particles``: a parameter name (the first-layer weights w), or a mapping with keys among
        "a", "w", "b" (θ = (a, w, b) needs all three)."""
        if isinstance(particles, ParticleMap):
            return particles
        if isinstance(particles, str):
            particles = {"w": particles}
        if not isinstance(particles, Mapping) or not particles:
            raise InvalidArgument(f"`particles` must name the parameter of the first-layer weights (a string) or map 'a', 'w', "
                                  f"'b' to parameter names, got {particles!r}.")
        keys = set(particles)
        if keys not in ({"w"}, set(_BLOCKS)):
            raise InvalidArgument(f"`particles` must have the key 'w' alone (θ = w) or 'a', 'w' and 'b' (θ = (a, w, b)), got keys "
                                  f"{sorted(keys)}.")
        for k, v in particles.items():
            if not isinstance(v, str) or not v:
                raise InvalidArgument(f"`particles[{k!r}]` must be a parameter name (a non-empty string), got {v!r}.")
        return cls({k: particles[k] for k in _BLOCKS if k in particles})

    def check_neuron(self, neuron: Neuron) -> None:
        """Refuse a neuron whose θ the named parameters do not make up."""
        affine = set(self.names) == set(_BLOCKS)
        if isinstance(neuron, AffineNeuron) and not affine:
            raise InvalidArgument(f"σ* is {neuron!r}, θ = (a, w, b): `particles` must name 'a', 'w' and 'b', got {dict(self.names)}.")
        if isinstance(neuron, InnerNeuron) and affine:
            raise InvalidArgument(f"σ* is {neuron!r}, θ = w: `particles` must name 'w' alone, got {dict(self.names)}.")
        if not isinstance(neuron, InnerNeuron | AffineNeuron):
            raise InvalidArgument(f"the framework adapters know InnerNeuron and AffineNeuron, got {neuron!r}.")

    def check_parameters(self, available, trained, owner: str, remedy: str) -> None:
        """Refuse a model that lacks a named parameter, or that trains a parameter that is not a particle
        (the user's step would move it and the harness would not see it: the network judged would not be
        the network that moves). ``available``: every parameter's name; ``trained``: those the step trains;
        ``owner``: how messages name the model; ``remedy``: how to keep a parameter out of training."""
        available, names = list(available), set(self.names.values())
        for name in self.names.values():
            if name not in available:
                raise InvalidArgument(f"{owner} has no parameter {name!r} (named as particles); its parameters: "
                                      f"{', '.join(available) or 'none'}.")
        others = [n for n in trained if n not in names]
        if others:
            raise InvalidArgument(f"{owner} trains parameters that are not particles: {', '.join(others)}; the harness would not "
                                  f"see them move. Name them as particles (θ = (a, w, b)) or {remedy}.")

    def layouts(self, shapes: Mapping[str, tuple], N: int, d: int) -> dict[str, str]:
        """How each named parameter holds the particles, from its ``shapes`` (name → shape) in a
        network of N ≠ d units: "rows" (N, width), "columns" (width, N) or "vector" (N elements).
        Raises :class:`~mfcheck.errors.InvalidArgument` naming a parameter that is missing or
        whose shape fits none."""
        if N == d:
            raise InvalidArgument(f"the layout of the particles is read at N ≠ d, got N = d = {N}.")
        out = {}
        for block, name in self.names.items():
            if name not in shapes:
                known = ", ".join(sorted(shapes)) or "none"
                raise InvalidArgument(f"the model has no parameter {name!r} (named as the particles' {block}); its parameters: {known}.")
            shape, k = tuple(shapes[name]), _width(block, d)
            if k == 1 and int(np.prod(shape)) == N and sum(n != 1 for n in shape) <= 1:
                out[name] = "vector"
            elif shape == (N, k):
                out[name] = "rows"
            elif shape == (k, N):
                out[name] = "columns"
            else:
                want = f"({N}, {k}) or ({k}, {N})" if k > 1 else f"{N} elements"
                raise InvalidArgument(f"parameter {name!r} (the particles' {block}) has shape {shape} in a network of N = {N} units in "
                                      f"d = {d}; expected {want}.")
        return out

    def to_theta(self, arrays: Mapping[str, np.ndarray], layouts: Mapping[str, str], N: int, d: int, batch: int = 0,
                 xp=np) -> np.ndarray:
        """θ (..., N, D) from the parameters' values (name → array), each with ``batch`` leading axes
        (the replicates) before the parameter's own shape; ``xp``: the array module (numpy, or
        ``jax.numpy`` inside a compiled function)."""
        cols = []
        for block, name in self.names.items():
            a = xp.asarray(arrays[name])
            lead, k = a.shape[:batch], _width(block, d)
            cols.append(a.reshape(lead + (N, k)) if layouts[name] != "columns" else xp.swapaxes(a.reshape(lead + (k, N)), -1, -2))
        return xp.concatenate(cols, axis=-1)

    def from_theta(self, theta: np.ndarray, shapes: Mapping[str, tuple], layouts: Mapping[str, str], d: int, batch: int = 0,
                   xp=np) -> dict:
        """The parameters' values (name → array of ``batch`` leading axes and its shape) holding θ (..., N, D)."""
        out, j = {}, 0
        for block, name in self.names.items():
            k = _width(block, d)
            part = theta[..., j:j + k]
            j += k
            part = xp.swapaxes(part, -1, -2) if layouts[name] == "columns" else part
            out[name] = part.reshape(tuple(theta.shape[:batch]) + tuple(shapes[name]))
        return out


@dataclass
class Trajectory:
    """Whether a call continues the run of the previous one: the same step size and, as input, the
    particles the previous call returned (compared exactly). :meth:`continues` answers and
    :meth:`moved` records the output."""

    s: float | None = None
    last: np.ndarray | None = field(default=None, repr=False)

    def continues(self, theta: np.ndarray, s: float) -> bool:
        return (self.last is not None and self.s == float(s) and self.last.shape == theta.shape
                and np.array_equal(self.last, theta))

    def moved(self, theta_out: np.ndarray, s: float) -> None:
        self.s, self.last = float(s), np.array(theta_out, dtype=np.float64)


def seed_of(theta: np.ndarray) -> int:
    """A 63-bit seed read off the particles that start a run (themselves drawn from the harness's seed
    streams): a step that draws its own Gaussians then repeats its run when the harness repeats its own."""
    return int.from_bytes(hashlib.sha256(np.ascontiguousarray(theta, dtype=np.float64).tobytes()).digest()[:8], "little") >> 1


@dataclass(frozen=True)
class FactorySignature:
    """What a user's factory and its step accept: ``noisy`` (the factory takes ``beta``: it builds
    noisy steps) and ``takes_noise`` (its steps take the harness's Gaussians as ``noise``)."""

    noisy: bool
    takes_noise: bool


def _params(fn) -> Mapping[str, inspect.Parameter] | None:
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None


def factory_signature(factory: Callable, step: Callable | None, what: str) -> FactorySignature:
    """Read :class:`FactorySignature` off ``factory(N, d, s, lam=0.0, beta=None)`` and its ``step``
    (None: not built yet; ``takes_noise`` then False)."""
    fp = _params(factory)
    if fp is None:
        raise InvalidArgument(f"cannot read the signature of the {what} factory {factory!r}.")
    noisy = "beta" in fp or any(p.kind is p.VAR_KEYWORD for p in fp.values())
    sp = _params(step) if step is not None else None
    takes_noise = sp is not None and ("noise" in sp or any(p.kind is p.VAR_KEYWORD for p in sp.values()))
    return FactorySignature(noisy=noisy, takes_noise=takes_noise)


def not_applicable(sig: FactorySignature) -> dict[str, str]:
    """The claims a factory of signature ``sig`` cannot be judged on, each with the reason."""
    if not sig.noisy:
        return {c: "the factory builds noiseless steps only (it takes no `beta`)" for c in NOISY_CLAIMS}
    if not sig.takes_noise:
        return {c: ("the noisy step draws its own Gaussians (its step takes no `noise`), so its particles cannot be coupled to "
                    "twins driven by the same increments") for c in COUPLED_NOISE_CLAIMS}
    return {}


def check_one_unit(output: Callable[[np.ndarray, np.ndarray], np.ndarray], neuron: Neuron, d: int, rng: np.random.Generator,
                   what: str) -> None:
    """Compare a one-unit network with σ*: ``output(theta (1, D), X (n, d)) -> (n,)`` against
    σ*(x_j; θ) on 16 random inputs and 4 random θ. Raises :class:`~mfcheck.errors.InvalidArgument`
    naming the largest difference, and the ratio of the outputs when it is a constant (a readout
    scale), when they differ by more than :data:`ONE_UNIT_TOLERANCE` relative to 1 + |σ*|."""
    D = neuron.dim(d)
    X = rng.standard_normal((16, d))
    for _ in range(4):
        theta = rng.standard_normal((1, D))
        want = neuron.value(X, theta)[:, 0]
        got = np.asarray(output(theta, X), dtype=np.float64)
        if got.size != want.size:
            raise InvalidArgument(f"{what}: a network of one unit returned {got.size} outputs for {X.shape[0]} inputs of d = {d} "
                                  f"(shape {got.shape}); it must return one per input.")
        got = got.reshape(want.shape)
        if not np.all(np.isfinite(got)):
            raise InvalidArgument(f"{what}: a network of one unit returned non-finite outputs at θ = {theta[0].round(3).tolist()}.")
        err = np.abs(got - want) / (1.0 + np.abs(want))
        if err.max() > ONE_UNIT_TOLERANCE:
            j = int(np.argmax(err))
            ratio = got / np.where(want == 0, np.nan, want)
            hint = ""
            if np.all(np.isfinite(ratio)) and np.ptp(ratio) < 1e-3 * max(1.0, abs(float(np.median(ratio)))):
                hint = f"; its output is {float(np.median(ratio)):.4g} × σ* (a readout scale that is not 1 at N = 1?)"
            raise InvalidArgument(
                f"{what} does not compute σ* = {neuron!r}: with one unit at θ = {theta[0].round(3).tolist()}, x = "
                f"{X[j].round(3).tolist()} it gives {got[j]:.6g}, σ*(x; θ) = {want[j]:.6g} (relative difference "
                f"{err[j]:.2g} > {ONE_UNIT_TOLERANCE:g}){hint}. Check the activation and the parameters named as particles.")

