"""The CI gate: verify *your* SGD implementation against the mean-field theorems.

**The user protocol.** An implementation is a callable

.. code-block:: python

    def step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None) -> new_theta: ...

- ``theta`` (R, N, D): the N particles θ_1..θ_N of R independent replicates (one network each);
- ``x`` (R, d), ``y`` (R,): one fresh sample (x_k, y_k) per replicate;
- ``s``: the step size s_k = ε ξ(kε) (a float);
- ``neuron``: an mfcheck neuron (:mod:`mfcheck.model.neurons`) exposing

  * ``neuron.value(X, Theta)``: σ*(x_j; θ_m), shape (..., n, M), for X (..., n, d), Theta (..., M, D);
  * ``neuron.pullback(X, Theta, c)``: Σ_j c_j ∇_θ σ*(x_j; θ_m), shape (..., M, D), for weights c (..., n);
  * ``neuron.grad(X, Theta)``: every ∇_θ σ*(x_j; θ_m), shape (..., n, M, D) (small sizes only);

- ``noise`` (R, N, D): standard Gaussians g_i^k drawn by the harness (None in the noiseless
  case), so that the harness can drive its coupled reference with the same increments;
- ``lam`` ≥ 0 (ridge λ) and ``beta`` > 0 (inverse temperature β): the noisy case.

It must return the particles after one step, shape (R, N, D), without keeping state between
calls. The correct step (docs/theory.md §2) is

    θ_i ← (1 − 2λ s) θ_i + 2 s (y − ŷ(x; θ)) ∇_θ σ*(x; θ_i) + sqrt(4 s / β) g_i,
    ŷ(x; θ) = (1/N) Σ_j σ*(x; θ_j);

in the noiseless case (``noise`` None, λ = 0) the last two terms vanish. :func:`reference_step`
is this step written in the protocol; the recipe in a few lines::

    def step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
        x1 = x[:, None, :]                                         # (R, 1, d)
        yhat = neuron.value(x1, theta).mean(axis=-1)               # (R, 1): ŷ = (1/N) Σ σ*
        new = theta + 2 * s * neuron.pullback(x1, theta, y[:, None] - yhat)
        if noise is not None:
            new = new - 2 * lam * s * theta + np.sqrt(4 * s / beta) * noise
        return new

**Running the gate.** ``mfcheck gate --impl pkg.mod:step [--tier ci] [--baseline FILE]`` or,
in Python, ``gate(load_implementation("pkg.mod:step"), get_tier("ci"))``: the harness turns
``step`` into its update rule (:func:`as_rule`: noiseless, and noisy at the λ, β of each
noisy claim), runs every claim that exercises a step (:data:`STEP_CLAIMS`: the
Theorem 1 rate claims, the Theorem 2 rate claims, azuma, gronwall, energy_decay, fixed_points,
temperature), decides them together (Holm at family-wise α) and prints :func:`format_table`.
An initial sampler ``init(rho0, rng, N) -> (N, D)`` can be gated too (``init=``; it adds the
``mcdiarmid`` claim, which tests only θ^0). In pytest, see :mod:`mfcheck.app.plugin`.

Every call of the implementation is checked (:func:`checked`): an exception, a wrong shape or
a non-finite value raises :class:`ImplementationError`, and the command exits 2; a call that
does not return within the per-call limit (``--call-time-limit``, ``call_time_limit=``, default
60 s; :mod:`mfcheck.app.limits`) is stopped and raises :class:`CallTimeLimitExceeded`, and the
command exits 125. The first call comes before any work (:func:`probe`: two replicates of three
particles, noiseless and noisy), so a step that fails on every input, or hangs, is reported at
once, not after the reference is solved.

Exit codes: 0 every claim holds, 1 a claim is violated (or the baseline moved), 2 usage error
or a crashing / wrong-shape implementation, 3 no claim violated but one unresolved (its message
names the knob to turn), as ``mfcheck verify``; 124 the overall time limit (``--time-limit``)
expired, 125 a call exceeded the per-call limit, 130 interrupted, 143 terminated (SIGTERM).

**Modules.** :mod:`~mfcheck.app.gate.protocol` (loading, checking and adapting implementations),
:mod:`~mfcheck.app.gate.gate` (the gate, its table, exit codes, the command),
:mod:`~mfcheck.app.gate.examples` (the correct step written three ways and three variants inside the
theorem's budget, :data:`CORRECT_STEPS`),
:mod:`~mfcheck.app.gate.mutants` (each broken step of :mod:`mfcheck.dynamics.broken` as a user's step, by name,
for ``mfcheck gate --impl mfcheck.app.gate.mutants:NAME``),
:mod:`~mfcheck.app.gate.self_test` (the gate on the broken rules of
:mod:`mfcheck.dynamics.broken` and on the correct variants: which claims rejected which mutant,
and whether a correct variant was rejected, which must not happen) and
:mod:`~mfcheck.app.gate.baseline` (:func:`write_baseline`, :func:`compare_baseline`: the rate
claims' exponents and constants with their CIs, and whether a later run moved beyond them).
"""


from mfcheck.app.gate.baseline import BASELINE_FORMAT, baseline_document, compare_baseline, write_baseline
from mfcheck.app.gate.examples import (
    CORRECT_STEPS, EXACT_STEPS, VARIANTS, einsum_step, float32_step, leave_one_out_step, reference_step, replicate_loop_step,
    vanishing_noise_step,
)
from mfcheck.app.gate.gate import (
    INIT_CLAIMS, STEP_CLAIMS, GateVerification, default_claims, format_table, gate, gate_command, implementation_failed,
)
from mfcheck.app.gate.protocol import (
    CallTimeLimitExceeded, Implementation, ImplementationError, as_protocol, as_rule, checked, checked_init, load_implementation,
    probe,
)
from mfcheck.app.gate.self_test import MUTANTS, SUBTLE, SelfTest, self_test

__all__ = ["Implementation", "ImplementationError", "CallTimeLimitExceeded", "load_implementation", "checked", "checked_init", "probe",
           "as_rule", "as_protocol", "STEP_CLAIMS", "INIT_CLAIMS", "GateVerification", "default_claims", "gate", "format_table",
           "gate_command", "implementation_failed", "reference_step",
           "replicate_loop_step", "einsum_step", "float32_step", "leave_one_out_step", "vanishing_noise_step", "EXACT_STEPS",
           "VARIANTS", "CORRECT_STEPS", "MUTANTS", "SUBTLE", "SelfTest", "self_test", "BASELINE_FORMAT", "baseline_document",
           "write_baseline", "compare_baseline"]
