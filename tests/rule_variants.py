"""Update rules for the variant tests of the identity and contraction claims (not a test module).

Three implementations the theorem covers that are not the paper's SGD line for line, and two
wrong step sizes. Each is the correct step of :func:`mfcheck.dynamics.rules.mean_field_step` with
one thing changed:

- ``leave_one_out``: ŷ_{−i} = (Σ_j σ*(x; θ_j) − σ*(x; θ_i))/(N − 1) for particle i (an O(1/N)
  change of the drift, gone in the limit);
- ``extra_noise``: the correct step + c·s·g, g ~ N(0, I) (zero-mean noise whose effect on a
  particle is O(c sqrt(ε)), the theorem's own rate), from its own seeded generator;
- ``float32``: the correct step with θ, x, y and s in float32 and the new θ stored in float32;
- ``double_step``: the correct step at 2s (twice too large);
- ``half_step``: the ``no_factor_two`` rule of :mod:`mfcheck.dynamics.broken` (the step at s/2).
"""

from __future__ import annotations

import numpy as np

from mfcheck.dynamics.broken import BROKEN
from mfcheck.dynamics.rules import MEAN_FIELD, Rule, mean_field_step

EXTRA_NOISE_C = 1.0


def leave_one_out_step(theta, x, y, s, neuron):
    """θ_i + 2s(y − ŷ_{−i})∇_θσ*(x; θ_i), ŷ_{−i} without the particle's own term."""
    x1 = x[:, None, :]
    values = neuron.value(x1, theta)[:, 0, :]  # (R, N)
    N = theta.shape[-2]
    yhat = (values.sum(axis=-1, keepdims=True) - values) / (N - 1)
    grad = neuron.pullback(x1, theta, np.ones((theta.shape[0], 1)))  # (R, N, D): ∇_θσ*(x; θ_i)
    return theta + 2.0 * s * (y[:, None] - yhat)[..., None] * grad


class ExtraNoiseStep:
    """The correct step + c·s·g with g ~ N(0, I) from ``numpy.random.default_rng(seed)`` (a new
    instance per run)."""

    def __init__(self, c: float = EXTRA_NOISE_C, seed: int = 1):
        self.c = c
        self.rng = np.random.default_rng(seed)

    def __call__(self, theta, x, y, s, neuron):
        new = mean_field_step(theta, x, y, s, neuron)
        return new + self.c * s * self.rng.standard_normal(new.shape)


def float32_step(theta, x, y, s, neuron):
    """The correct step on float32 inputs, the new θ stored in float32."""
    t = np.asarray(theta, dtype=np.float32)
    out = mean_field_step(t, np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32), np.float32(s), neuron)
    return np.asarray(out, dtype=np.float32)


def double_step(theta, x, y, s, neuron):
    """The correct step at 2s."""
    return mean_field_step(theta, x, y, 2.0 * s, neuron)


def correct_variants() -> dict[str, Rule]:
    """Implementations the theorem covers: each claim about the limit must pass them."""
    return {"paper": MEAN_FIELD, "leave_one_out": Rule("leave_one_out", leave_one_out_step),
            "extra_noise": Rule("extra_noise", ExtraNoiseStep()), "float32": Rule("float32", float32_step)}


def wrong_steps() -> dict[str, Rule]:
    """A step twice too large and one half too small: an identity or a rate must reject both."""
    return {"double_step": Rule("double_step", double_step), "half_step": BROKEN["no_factor_two"].rule}
