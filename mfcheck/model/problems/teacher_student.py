r"""A single-index teacher with Gaussian inputs and bounded label noise.

x ~ N(0, I_d), y = τ(<w*, x>) + η u with u ~ Uniform(-1, 1) independent of x, where τ is the
``teacher`` activation and η = ``noise``; |y| ≤ sup|τ| + η. With σ*(x; w) = σ(<w, x>):

    R_# = E τ(|w*| G)² + η²/3,
    V(w) = -E[τ(<w*, x>) σ(<w, x>)]            (the noise has mean 0 and is independent),
    ∇V(w) = -E[σ'(<w, x>) τ(<w*, x>) x],
    U(w, w') = E[σ(<w, x>) σ(<w', x>)],
    ∇₁U(w, w') = E[σ'(<w, x>) σ(<w', x>) x].

All expectations are one- or two-dimensional Gauss–Hermite quadratures
(:mod:`mfcheck.model.problems._bivariate`); the gradients are quadratures of exact derivatives.
"""

from __future__ import annotations

import numpy as np

from mfcheck._validation import check_array, check_positive_int, check_real
from mfcheck.model.activations import Activation
from mfcheck.errors import InvalidArgument
from mfcheck.model.problems._bivariate import (
    DEFAULT_NODES,
    check_nodes,
    check_particles,
    expect_pair,
    expect_pair_grad,
    expect_single,
    gaussian_input_constants,
    inner_activation,
    quadrature_activation,
)
from mfcheck.model.problems.base import Problem, TheoremConstants

__all__ = ["TeacherStudent"]


class TeacherStudent(Problem):
    r"""y = teacher(<w*, x>) + noise · Uniform(-1, 1), x ~ N(0, I_d).

    **Arguments:**

    - ``d``: the input dimension, a positive integer.
    - ``teacher``: the teacher activation τ (an :class:`~mfcheck.model.activations.Activation`;
      its ``sup_norm`` must be finite, since it bounds the labels).
    - ``w_star``: the teacher direction, shape (d,), finite; default e_1.
    - ``noise``: η ≥ 0, the half-width of the uniform label noise.
    - ``n_nodes``: Gauss–Hermite nodes per axis for the oracle (2 to 300, default 48).

    Only :class:`~mfcheck.model.neurons.InnerNeuron` is supported (D = d).
    """

    def __init__(self, d: int, teacher: Activation, w_star=None, noise: float = 0.0, *, n_nodes: int = DEFAULT_NODES):
        self.d = check_positive_int(d, "d")
        if not isinstance(teacher, Activation):
            raise InvalidArgument(f"`teacher` must be an mfcheck Activation, got {type(teacher).__name__}.")
        if not teacher.bounded:
            raise InvalidArgument(f"`teacher`={teacher!r} is unbounded, so the labels would be unbounded (A2 needs |y| ≤ K).")
        self.teacher = teacher
        if w_star is None:
            w_star = np.eye(self.d)[0]
        self.w_star = check_array(w_star, "w_star", shape=(self.d,))
        self.w_star.setflags(write=False)
        self.noise = check_real(noise, "noise", nonnegative=True)
        self.n_nodes = check_nodes(n_nodes)
        self.y_bound = teacher.sup_norm + self.noise

    def __repr__(self):
        w = np.array2string(self.w_star, precision=4, separator=", ")
        return f"TeacherStudent(d={self.d}, teacher={self.teacher!r}, w_star={w}, noise={self.noise}, n_nodes={self.n_nodes})"

    # -- sampling ---------------------------------------------------------------------
    def sample(self, rng, size):
        """x ~ N(0, I_d) of shape (*size, d), y = τ(<w*, x>) + η u, u ~ Uniform(-1, 1)."""
        shape = (size,) if np.ndim(size) == 0 else tuple(size)
        x = rng.standard_normal((*shape, self.d))
        y = self.teacher(x @ self.w_star) + self.noise * rng.uniform(-1.0, 1.0, size=shape)
        return x, y

    # -- oracle ---------------------------------------------------------------------------
    @property
    def R_sharp(self):
        """R_# = E τ(|w*| G)² + η²/3."""
        tau2 = expect_single(lambda t: self.teacher(t) ** 2, self.w_star[None, :], self.n_nodes)[0]
        return float(tau2 + self.noise**2 / 3.0)

    def V(self, neuron, Theta):
        """V(w) = -E[σ(<w, g>) τ(<w*, g>)]: shape (M,)."""
        act = quadrature_activation(self, neuron)
        W = check_particles(self, neuron, Theta)
        return -expect_pair(act.fn, self.teacher.fn, W, self.w_star[None, :], self.n_nodes)[:, 0]

    def grad_V(self, neuron, Theta):
        """∇V(w) = -E[σ'(<w, g>) τ(<w*, g>) g]: shape (M, d)."""
        act = quadrature_activation(self, neuron)
        W = check_particles(self, neuron, Theta)
        return -expect_pair_grad(act.prime, self.teacher.fn, W, self.w_star[None, :], self.n_nodes)[:, 0, :]

    def U(self, neuron, Theta1, Theta2):
        """U(w, w') = E[σ(<w, g>) σ(<w', g>)]: shape (M1, M2)."""
        act = quadrature_activation(self, neuron)
        W1 = check_particles(self, neuron, Theta1, "Theta1")
        W2 = check_particles(self, neuron, Theta2, "Theta2")
        return expect_pair(act.fn, act.fn, W1, W2, self.n_nodes)

    def grad1_U(self, neuron, Theta1, Theta2):
        """∇₁U(w, w') = E[σ'(<w, g>) σ(<w', g>) g]: shape (M1, M2, d)."""
        act = quadrature_activation(self, neuron)
        W1 = check_particles(self, neuron, Theta1, "Theta1")
        W2 = check_particles(self, neuron, Theta2, "Theta2")
        return expect_pair_grad(act.prime, act.fn, W1, W2, self.n_nodes)

    def constants(self, neuron) -> TheoremConstants:
        r"""A2-A3 constants, from :func:`~mfcheck.model.problems._bivariate.gaussian_input_constants`.

        Here |y| ≤ Y = sup|τ| + η and x ~ N(0, I_d) (scale s ≡ 1). With L = sup|σ'|,
        L' = Lip(σ'), S = sup|σ|: sub-Gaussian norm of ∇σ* ≤ L √(8/3); |∇V| ≤ Y L √(2/π);
        Lip(∇V) ≤ Y L'; |∇₁U| ≤ S L √(2/π); Lip(∇₁U) ≤ S L' + L².
        """
        act = inner_activation(self, neuron)
        return gaussian_input_constants(act, self.y_bound, mean_scale=1.0, mean_sq_scale=1.0, max_scale=1.0)
