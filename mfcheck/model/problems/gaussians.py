r"""Separating two isotropic Gaussians (MMN18 §3, docs/theory.md §6).

y = +1 w.p. 1/2 with x ~ N(0, (1+Δ)² I_d); y = -1 w.p. 1/2 with x ~ N(0, (1-Δ)² I_d).
With σ*(x; w) = σ(<w, x>), s_± = 1 ± Δ, g ~ N(0, I_d), G ~ N(0, 1), q(a) = E σ(a G):

    R_# = E y² = 1,
    V(w) = -(1/2)[q(s_+ |w|) - q(s_- |w|)],
    ∇V(w) = -(1/2) Σ_± (±s_±) E[σ'(s_± <w, g>) g],
    U(w, w') = (1/2) Σ_± E[σ(s_± <w, g>) σ(s_± <w', g>)],
    ∇₁U(w, w') = (1/2) Σ_± s_± E[σ'(s_± <w, g>) σ(s_± <w', g>) g].

Every expectation is a one- or two-dimensional Gauss–Hermite quadrature
(:mod:`mfcheck.model.problems._bivariate`, whose docstring discusses its accuracy); the
gradients are the quadrature of the exact derivative, not finite differences. Note that for
an odd σ, q ≡ 0 and so V ≡ 0: the problem is only learnable with a σ that is not odd.
"""

from __future__ import annotations

from mfcheck._validation import check_positive_int, check_real
from mfcheck.errors import InvalidArgument
from mfcheck.model.problems._bivariate import (
    DEFAULT_NODES,
    check_nodes,
    check_particles,
    expect_pair,
    expect_pair_grad,
    expect_single,
    expect_single_grad,
    gaussian_input_constants,
    inner_activation,
    quadrature_activation,
)
from mfcheck.model.problems.base import Problem, TheoremConstants

__all__ = ["TwoGaussians"]


class TwoGaussians(Problem):
    r"""Two centred isotropic Gaussians of scales 1 + Δ (label +1) and 1 - Δ (label -1).

    **Arguments:**

    - ``d``: the input dimension, a positive integer.
    - ``delta``: Δ, with 0 < Δ < 1.
    - ``n_nodes``: Gauss–Hermite nodes per axis for the oracle (2 to 300, default 48).

    Only :class:`~mfcheck.model.neurons.InnerNeuron` is supported (D = d).
    """

    def __init__(self, d: int, delta: float, *, n_nodes: int = DEFAULT_NODES):
        self.d = check_positive_int(d, "d")
        self.delta = check_real(delta, "delta")
        if not 0.0 < self.delta < 1.0:
            raise InvalidArgument(f"`delta` must satisfy 0 < delta < 1, got delta={self.delta}.")
        self.n_nodes = check_nodes(n_nodes)
        self.y_bound = 1.0
        self.scales = (1.0 + self.delta, 1.0 - self.delta)  # s_+ (y = +1), s_- (y = -1)

    def __repr__(self):
        return f"TwoGaussians(d={self.d}, delta={self.delta}, n_nodes={self.n_nodes})"

    # -- sampling ---------------------------------------------------------------------
    def sample(self, rng, size):
        """(x, y) with y = ±1 equally likely and x = s_y g, g ~ N(0, I_d)."""
        y = rng.choice([1.0, -1.0], size=size)
        scale = 1.0 + self.delta * y
        x = scale[..., None] * rng.standard_normal((*y.shape, self.d))
        return x, y

    # -- oracle ---------------------------------------------------------------------------
    @property
    def R_sharp(self):
        return 1.0

    def V(self, neuron, Theta):
        """V(w) = -(1/2)[q(s_+ |w|) - q(s_- |w|)], q(a) = E σ(a G): shape (M,)."""
        act = quadrature_activation(self, neuron)
        W = check_particles(self, neuron, Theta)
        sp, sm = self.scales
        return -0.5 * (expect_single(act.fn, sp * W, self.n_nodes) - expect_single(act.fn, sm * W, self.n_nodes))

    def grad_V(self, neuron, Theta):
        """∇V(w) = -(1/2)[s_+ E σ'(s_+<w, g>) g - s_- E σ'(s_-<w, g>) g]: shape (M, d)."""
        act = quadrature_activation(self, neuron)
        W = check_particles(self, neuron, Theta)
        sp, sm = self.scales
        gp = expect_single_grad(act.prime, sp * W, self.n_nodes)
        gm = expect_single_grad(act.prime, sm * W, self.n_nodes)
        return -0.5 * (sp * gp - sm * gm)

    def U(self, neuron, Theta1, Theta2):
        """U(w, w') = (1/2) Σ_± E[σ(s_± <w, g>) σ(s_± <w', g>)]: shape (M1, M2)."""
        act = quadrature_activation(self, neuron)
        W1 = check_particles(self, neuron, Theta1, "Theta1")
        W2 = check_particles(self, neuron, Theta2, "Theta2")
        return 0.5 * sum(expect_pair(act.fn, act.fn, s * W1, s * W2, self.n_nodes) for s in self.scales)

    def grad1_U(self, neuron, Theta1, Theta2):
        """∇₁U(w, w') = (1/2) Σ_± s_± E[σ'(s_± <w, g>) σ(s_± <w', g>) g]: shape (M1, M2, d)."""
        act = quadrature_activation(self, neuron)
        W1 = check_particles(self, neuron, Theta1, "Theta1")
        W2 = check_particles(self, neuron, Theta2, "Theta2")
        return 0.5 * sum(s * expect_pair_grad(act.prime, act.fn, s * W1, s * W2, self.n_nodes) for s in self.scales)

    def constants(self, neuron) -> TheoremConstants:
        r"""A2-A3 constants, from :func:`~mfcheck.model.problems._bivariate.gaussian_input_constants`.

        Here |y| = 1 and the class scale s is 1 ± Δ with probability 1/2 each, so
        E s = 1, E s² = 1 + Δ², max s = 1 + Δ. Hence, with L = sup|σ'|, L' = Lip(σ'),
        S = sup|σ|: sub-Gaussian norm of ∇σ* ≤ L (1+Δ) √(8/3); |∇V| ≤ L √(2/π);
        Lip(∇V) ≤ L' (1+Δ²); |∇₁U| ≤ S L √(2/π); Lip(∇₁U) ≤ (S L' + L²)(1+Δ²).
        """
        act = inner_activation(self, neuron)
        return gaussian_input_constants(
            act, self.y_bound, mean_scale=1.0, mean_sq_scale=1.0 + self.delta**2, max_scale=1.0 + self.delta
        )
