"""Gate the networks users write in PyTorch and JAX, as they wrote them.

:class:`~mfcheck.frameworks.torch_step.TorchStep` and :class:`~mfcheck.frameworks.jax_step.JaxStep`
turn a user's factory (their network of N units and their training step, optimizer included) into
a step of the gate's protocol (:mod:`mfcheck.app.gate`), so that every claim that exercises a step
runs on their code. What the two share (the particles, the runs, the σ* check, the claims a
factory can be judged on) is in :mod:`mfcheck.frameworks.particles` and
:mod:`mfcheck.frameworks.adapter`. torch and jax are imported only when an adapter is used.
"""

from __future__ import annotations

from mfcheck.errors import InvalidArgument

__all__ = ["FRAMEWORKS", "adapter_of", "parse_particles"]

FRAMEWORKS = ("torch", "jax")


def parse_particles(text):
    """``--particles`` as :class:`~mfcheck.frameworks.particles.ParticleMap` takes it: a parameter name
    (the first-layer weights w), or ``a=NAME,w=NAME,b=NAME`` for θ = (a, w, b); a mapping or None
    passes through."""
    if text is None or not isinstance(text, str) or "=" not in text:
        return text
    out = {}
    for part in text.split(","):
        key, sep, name = part.partition("=")
        if not sep or not key.strip() or not name.strip():
            raise InvalidArgument(f"`particles` must read NAME or a=NAME,w=NAME,b=NAME, got {text!r}.")
        out[key.strip()] = name.strip()
    return out


def adapter_of(framework: str, factory, particles):
    """The gate step of ``factory`` in ``framework`` ("torch": :class:`~mfcheck.frameworks.torch_step.TorchStep`,
    "jax": :class:`~mfcheck.frameworks.jax_step.JaxStep`) with ``particles`` (a name, ``a=…,w=…,b=…`` or a mapping)."""
    if framework not in FRAMEWORKS:
        raise InvalidArgument(f"`framework` must be one of {FRAMEWORKS}, got {framework!r}.")
    if factory is None:
        raise InvalidArgument(f"--{framework} needs the factory, as 'package.module:factory'.")
    if particles is None:
        raise InvalidArgument(f"--{framework} needs --particles: the parameter holding the first-layer weights (or a=…,w=…,b=…).")
    if framework == "torch":
        from mfcheck.frameworks.torch_step import TorchStep

        return TorchStep(factory, parse_particles(particles))
    from mfcheck.frameworks.jax_step import JaxStep

    return JaxStep(factory, parse_particles(particles))
