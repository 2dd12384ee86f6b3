"""JAX factories for :mod:`test_frameworks_jax`, module-level so that cloudpickle sends them by
reference (the tests' folder is on ``sys.path`` while they run, as for :mod:`gate_steps`).

Each factory is ``make(N, d, s[, lam, beta]) -> (params, apply, optimizer, step)``
(:mod:`mfcheck.frameworks.jax_step`) for ŷ(x) = (1/N) Σ_i σ(<w_i, x>) with W (d, N), one particle
per column ("columns" layout), named "hidden": the correct one (:func:`make`), its variants, and
broken ones, each broken in one way.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax
from jax.scipy.special import erf


def _apply(params, x):
    """ŷ(x) = (1/N) Σ_i erf(<w_i, x>) for x (n, d): the mean-field readout of σ* = erf."""
    return erf(x @ params["hidden"]).mean(-1)


def _tanh_apply(params, x):
    return jnp.tanh(x @ params["hidden"]).mean(-1)


def _sgd_step(apply, optimizer, s, beta, name="hidden"):
    """The pure step on the loss (y − ŷ)², then (noisy) + sqrt(4s/β) g from the harness's ``noise``."""

    def step(params, opt_state, x, y, noise=None):
        grads = jax.grad(lambda p: ((apply(p, x) - y) ** 2).mean())(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        if noise is not None:
            params = {**params, name: params[name] + math.sqrt(4 * s / beta) * noise[name]}
        return params, opt_state

    return step


def _optimizer(N, s, lam, **sgd):
    """lr = sN on (y − ŷ)² gives 2s(y − ŷ)∇σ*; decayed weights 2λ/N give −2λsθ."""
    return optax.chain(optax.add_decayed_weights(2 * lam / N), optax.sgd(s * N, **sgd))


def make(N, d, s, lam=0.0, beta=None):
    """Correct: plain SGD at lr = sN, ridge 2λ/N, Langevin noise from the harness's Gaussians."""
    opt = _optimizer(N, s, lam)
    return {"hidden": jnp.zeros((d, N))}, _apply, opt, _sgd_step(_apply, opt, s, beta)


def make_float64(N, d, s, lam=0.0, beta=None):
    """:func:`make` in float64 (to be called with ``jax.enable_x64(True)``)."""
    opt = _optimizer(N, s, lam)
    return {"hidden": jnp.zeros((d, N), dtype=jnp.float64)}, _apply, opt, _sgd_step(_apply, opt, s, beta)


def make_nested(N, d, s, lam=0.0, beta=None):
    """Correct, the particles in a nested dict ("layer1/w") and one per row: W (N, d), ŷ = mean erf(x Wᵀ)."""
    opt = _optimizer(N, s, lam)

    def apply(params, x):
        return erf(x @ params["layer1"]["w"].T).mean(-1)

    def step(params, opt_state, x, y, noise=None):
        grads = jax.grad(lambda p: ((apply(p, x) - y) ** 2).mean())(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        if noise is not None:
            params = {"layer1": {"w": params["layer1"]["w"] + math.sqrt(4 * s / beta) * noise["layer1/w"]}}
        return params, opt_state

    return {"layer1": {"w": jnp.zeros((N, d))}}, apply, opt, step


def make_momentum(N, d, s, lam=0.0, beta=None):
    """SGD with heavy-ball momentum 0.9 (a stateful optimizer)."""
    opt = _optimizer(N, s, lam, momentum=0.9)
    return {"hidden": jnp.zeros((d, N))}, _apply, opt, _sgd_step(_apply, opt, s, beta)


def make_key(N, d, s, lam=0.0, beta=None):
    """Noisy SGD that draws its own Gaussians from the ``key`` the adapter supplies."""
    opt = _optimizer(N, s, lam)

    def step(params, opt_state, x, y, key=None):
        grads = jax.grad(lambda p: ((_apply(p, x) - y) ** 2).mean())(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        if key is not None:
            g = jax.random.normal(key, params["hidden"].shape, params["hidden"].dtype)
            params = {"hidden": params["hidden"] + math.sqrt(4 * s / beta) * g}
        return params, opt_state

    return {"hidden": jnp.zeros((d, N))}, _apply, opt, step


def make_noiseless(N, d, s):
    """Correct noiseless SGD only (no ``beta``)."""
    opt = optax.sgd(s * N)
    return {"hidden": jnp.zeros((d, N))}, _apply, opt, _sgd_step(_apply, opt, s, None)


def make_no_noise_argument(N, d, s, lam=0.0, beta=None):
    """Broken: a noisy factory whose step takes neither ``noise`` nor ``key``."""
    opt = _optimizer(N, s, lam)
    inner = _sgd_step(_apply, opt, s, beta)

    def step(params, opt_state, x, y):
        return inner(params, opt_state, x, y)

    return {"hidden": jnp.zeros((d, N))}, _apply, opt, step


def make_adam(N, d, s, lam=0.0, beta=None):
    """Broken: Adam at lr = s (its steps are normalised per coordinate, not 2s(y − ŷ)∇σ*)."""
    opt = optax.chain(optax.add_decayed_weights(2 * lam / N), optax.adam(s))
    return {"hidden": jnp.zeros((d, N))}, _apply, opt, _sgd_step(_apply, opt, s, beta)


def make_tanh(N, d, s, lam=0.0, beta=None):
    """Broken: the activation is tanh, σ* is erf."""
    opt = _optimizer(N, s, lam)
    return {"hidden": jnp.zeros((d, N))}, _tanh_apply, opt, _sgd_step(_tanh_apply, opt, s, beta)


def make_misnamed(N, d, s, lam=0.0, beta=None):
    """Broken for ``particles="hidden"``: the weights are called "weights"."""
    opt = _optimizer(N, s, lam)

    def apply(params, x):
        return erf(x @ params["weights"]).mean(-1)

    return {"weights": jnp.zeros((d, N))}, apply, opt, _sgd_step(apply, opt, s, beta, name="weights")


def make_reshaping(N, d, s, lam=0.0, beta=None):
    """Broken: the step returns the particles transposed, (N, d) for (d, N)."""
    opt = _optimizer(N, s, lam)
    inner = _sgd_step(_apply, opt, s, beta)

    def step(params, opt_state, x, y, noise=None):
        params, opt_state = inner(params, opt_state, x, y, noise)
        return {"hidden": params["hidden"].T}, opt_state

    return {"hidden": jnp.zeros((d, N))}, _apply, opt, step


def make_nan(N, d, s, lam=0.0, beta=None):
    """Broken: the step returns NaN particles."""
    opt = _optimizer(N, s, lam)
    inner = _sgd_step(_apply, opt, s, beta)

    def step(params, opt_state, x, y, noise=None):
        params, opt_state = inner(params, opt_state, x, y, noise)
        return {"hidden": params["hidden"] * jnp.nan}, opt_state

    return {"hidden": jnp.zeros((d, N))}, _apply, opt, step


def make_wrong_return(N, d, s, lam=0.0, beta=None):
    """Broken: returns (params, step), as a torch factory would."""
    opt = _optimizer(N, s, lam)
    return {"hidden": jnp.zeros((d, N))}, _sgd_step(_apply, opt, s, beta)


def make_extra_leaf(N, d, s, lam=0.0, beta=None):
    """Broken: a trainable scale "out" beside the particles (optax trains it, the harness does not see it)."""
    opt = _optimizer(N, s, lam)

    def apply(params, x):
        return params["out"] * erf(x @ params["hidden"]).mean(-1)

    return {"hidden": jnp.zeros((d, N)), "out": jnp.ones(())}, apply, opt, _sgd_step(apply, opt, s, beta)


def make_affine(N, d, s, lam=0.0, beta=None):
    """Correct for θ = (a, w, b): ŷ = (1/N) Σ_i a_i erf(<w_i, x> + b_i), a and b vectors (N,), W (d, N)."""
    opt = _optimizer(N, s, lam)

    def apply(params, x):
        return (params["out"] * erf(x @ params["hidden"] + params["bias"])).mean(-1)

    def step(params, opt_state, x, y, noise=None):
        grads = jax.grad(lambda p: ((apply(p, x) - y) ** 2).mean())(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        if noise is not None:
            params = {n: v + math.sqrt(4 * s / beta) * noise[n] for n, v in params.items()}
        return params, opt_state

    return {"out": jnp.ones(N), "hidden": jnp.zeros((d, N)), "bias": jnp.zeros(N)}, apply, opt, step
