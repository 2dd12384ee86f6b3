"""Gate a JAX two-layer network and its optax training step as the user wrote them.

The user writes a factory that builds the parameters of their network of N hidden units on
inputs in R^d, its forward function, their optax optimizer and their (pure) training step, with
the learning rate and options they use:

.. code-block:: python

    import math, jax, jax.numpy as jnp, optax

    def make(N, d, s, lam=0.0, beta=None):
        params = {"hidden": jnp.zeros((d, N))}           # one particle w_i per column: x @ W

        def apply(params, x):                             # ŷ(x) = (1/N) Σ_i erf(<w_i, x>), x (n, d)
            return jax.scipy.special.erf(x @ params["hidden"]).mean(-1)

        # loss (y − ŷ)², whose gradient in w_i is −(2/N)(y − ŷ)∇σ*: lr = sN gives the step 2s(y − ŷ)∇σ*,
        # and decayed weights 2λ/N (added to the gradient before sgd) give the ridge term −2λsθ
        optimizer = optax.chain(optax.add_decayed_weights(2 * lam / N), optax.sgd(s * N))

        def step(params, opt_state, x, y, noise=None):   # one sample: x (1, d), y (1,)
            grads = jax.grad(lambda p: ((apply(p, x) - y) ** 2).mean())(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            if noise is not None:                         # Langevin: + sqrt(4s/β) g, the harness's g
                params = {"hidden": params["hidden"] + math.sqrt(4 * s / beta) * noise["hidden"]}
            return params, opt_state

        return params, apply, optimizer, step

    gated = JaxStep(make, particles="hidden")            # mfcheck gate --impl mypkg.net:gated

**What the adapter does** (:class:`~mfcheck.frameworks.adapter.FrameworkStep`): it builds the
network once per setting (R, N, d, s, λ, β), stacks R copies of its parameters along a leading
axis with the harness's particles written into the named leaves
(:class:`~mfcheck.frameworks.particles.ParticleMap`), initialises the optimizer state of every
replicate (``jax.vmap(optimizer.init)``), and advances all R replicates at once, each on its own
sample, with one compiled call ``jax.jit(jax.vmap(step))`` per harness step (x as (1, d), y as
(1,), both of the particles' dtype). It keeps the parameters and optimizer states along a run and
starts them anew, from θ and ``optimizer.init``, at the start of every run
(:class:`~mfcheck.frameworks.particles.Trajectory`): momentum and Adam moments live within one
replicate's run, never across replicates, cells or claims. Since the step is pure, a later run in
the same setting reuses the build and its compiled call: the state is all in the arguments.

**The factory.** ``factory(N, d, s)`` for noiseless SGD at step size s (the mean-field time per
step is s, the paper's ε); ``factory(N, d, s, lam=λ, beta=β)`` for noisy SGD. It returns
``(params, apply, optimizer, step)``:

- ``params``: a pytree of (nested) dicts of arrays; a parameter is named by its dict keys joined
  by "/" (``"hidden"``, ``"layer1/w"``). Every leaf is a particle parameter (below). Its dtype is
  kept (JAX's default float32; float64 where the user enables ``jax_enable_x64``).
- ``apply(params, x) -> (n,)`` (or (n, 1)): the network's outputs on x (n, d); the σ* check
  runs it with one unit (:func:`~mfcheck.frameworks.particles.check_one_unit`).
- ``optimizer``: an ``optax.GradientTransformation``; the adapter initialises its state.
- ``step(params, opt_state, x, y) -> (params, opt_state)``: one pure training step on one sample.
  A noisy step takes either ``noise``, the harness's standard Gaussians as a dict {parameter name:
  array of that parameter's shape} (for the particle parameters), so that the harness can couple
  each particle to a twin driven by the same increments; or ``key``, a ``jax.random`` key from
  which it draws its own Gaussians: every claim but that coupling then runs, and the adapter
  derives the keys from the particles that start each run
  (:func:`~mfcheck.frameworks.particles.seed_of`, split per step and per replicate), so that a run
  repeats. A factory without ``beta`` builds only noiseless steps: the claims about noisy SGD are
  reported not applicable.

**Refused** (exit 2, nothing judged), each with a message naming the problem: a factory that does
not return ``(params, apply, optimizer, step)``; a leaf of ``params`` that is not a floating array;
a particle parameter that ``params`` does not have, or of a shape that holds no N particles; a leaf
that is not a particle (optax would train it and the harness would not see it move: name it as a
particle or move the constant out of ``params``, into ``apply``'s closure); a network whose one
unit does not compute σ*; a noisy step that takes neither ``noise`` nor ``key``; a step that does
not return ``(params, opt_state)`` of the structure it was given, or that changes a particle
parameter's shape or dtype; a step that leaves a non-finite value
(:func:`mfcheck.app.gate.protocol.checked`). Shapes, dtypes and structures are static in a
compiled function, so they are checked when the call is traced, which covers every call.

The adapter draws no random numbers of its own beyond the keys above (no global numpy or JAX
state), and leaves XLA's thread pool as XLA sets it. Per harness step it makes one compiled call
on all R replicates and converts x, y, g in and θ out with numpy (θ read off the particle leaves
inside the compiled call, :meth:`~mfcheck.frameworks.particles.ParticleMap.to_theta` batched over
R); each new setting costs one trace and compilation.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict

import numpy as np

from mfcheck.errors import InvalidArgument
from mfcheck.frameworks.adapter import FrameworkStep
from mfcheck.frameworks.particles import factory_signature, seed_of

__all__ = ["JaxStep", "param_names"]

_COMPILED = 8
"""Settings (R, N, d, s, λ, β) whose compiled steps a :class:`JaxStep` keeps; the oldest is dropped
beyond (a sweep visits each setting's runs together)."""


def _jax():
    try:
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError as exc:  # pragma: no cover - jax and optax are declared dependencies of the extras
        raise InvalidArgument("the JAX adapter needs jax and optax: pip install 'mfcheck[jax]'.") from exc
    return jax, jnp, optax


def _key_name(k) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def param_names(params) -> dict[str, object]:
    """The leaves of a parameter pytree by name: their path's dict keys joined by "/"
    (``{"layer1": {"w": W}}`` → ``{"layer1/w": W}``), in the pytree's leaf order."""
    jax, _, _ = _jax()
    leaves, _ = jax.tree_util.tree_flatten_with_path(params)
    return {"/".join(_key_name(k) for k in path): leaf for path, leaf in leaves}


def _argument(step, name: str) -> bool:
    try:
        return name in inspect.signature(step).parameters
    except (TypeError, ValueError):
        return False


class _Build:
    """One setting's build: the pytree structure, leaf names, shapes and dtype, and the compiled
    calls (initial optimizer states and one step of all R replicates)."""

    def __init__(self, adapter: JaxStep, built, R: int, N: int, d: int, noisy: bool, beta):
        jax, jnp, _ = _jax()
        params, _, optimizer, step = built
        particles, layouts = adapter.particles, adapter._layouts[d]
        leaves, self.treedef = jax.tree_util.tree_flatten(params)
        self.names = list(param_names(params))
        self.shapes = {n: tuple(np.shape(v)) for n, v in zip(self.names, leaves)}
        self.dtypes = {n: jnp.asarray(v).dtype for n, v in zip(self.names, leaves)}
        self.dtype = self.dtypes[next(iter(particles.names.values()))]
        self.takes_noise = noisy and factory_signature(adapter.factory, step, "jax").takes_noise
        self.takes_key = noisy and not self.takes_noise and _argument(step, "key")
        if noisy and not (self.takes_noise or self.takes_key):
            raise InvalidArgument(f"the noisy step of {adapter.__name__} (β = {beta}) takes neither `noise` (the harness's "
                                  f"Gaussians) nor `key` (a jax.random key to draw its own): it would add no noise. Give it "
                                  f"step(params, opt_state, x, y, noise=None) or step(params, opt_state, x, y, key=None).")
        self.R, self.N, self.d = R, N, d
        self.nothing = np.zeros(R, dtype=self.dtype)  # the noiseless step's placeholder for noise or keys
        names, shapes, dtypes, treedef, what = self.names, self.shapes, self.dtypes, self.treedef, adapter.__name__

        def one(p, o, x, y, extra):  # one replicate, as the user's step sees it
            if self.takes_noise:
                noise = particles.from_theta(extra, shapes, layouts, d)
                return step(p, o, x, y, noise=noise)
            if self.takes_key:
                return step(p, o, x, y, key=extra)
            return step(p, o, x, y)

        def checked_out(out, o_in):  # at trace time: what one replicate's step returned
            if not (isinstance(out, tuple | list) and len(out) == 2):
                raise InvalidArgument(f"the step of {what} must return (params, opt_state), got {type(out).__name__} "
                                      f"{out!r:.120}.")
            p, o = out
            p_leaves, p_def = jax.tree_util.tree_flatten(p)
            if p_def != treedef:
                raise InvalidArgument(f"the step of {what} returned params of structure {p_def}; it was given {treedef}.")
            for n, v in zip(names, p_leaves):
                if tuple(v.shape[1:]) != shapes[n] or v.dtype != dtypes[n]:
                    raise InvalidArgument(f"the step of {what} changed parameter {n!r}: shape {shapes[n]}, {dtypes[n]} before, "
                                          f"shape {tuple(v.shape[1:])}, {v.dtype} after.")
            if jax.tree_util.tree_structure(o) != jax.tree_util.tree_structure(o_in):
                raise InvalidArgument(f"the step of {what} returned an optimizer state of structure "
                                      f"{jax.tree_util.tree_structure(o)}; it was given {jax.tree_util.tree_structure(o_in)}.")
            return p, o, p_leaves

        def theta_of(p_leaves):  # θ (R, N, D) from the stacked particle leaves
            return particles.to_theta(dict(zip(names, p_leaves)), layouts, N, d, batch=1, xp=jnp)

        many = jax.vmap(one)

        def advance(p, o, x, y, extra):
            if self.takes_key:
                extra, sub = jax.random.split(extra)
                keys = jax.random.split(sub, R)
                out = many(p, o, x, y, keys)
            else:
                out = many(p, o, x, y, extra)
            p, o, p_leaves = checked_out(out, o)
            return p, o, theta_of(p_leaves), extra

        self.advance = jax.jit(advance)
        self.init = jax.jit(jax.vmap(optimizer.init))
        self.load = jax.jit(jax.vmap(lambda th: jax.tree_util.tree_unflatten(treedef, [
            v.astype(dtypes[n]) for n, v in zip(names, _ordered(particles.from_theta(th, shapes, layouts, d), names))])))


def _ordered(values: dict, names: list[str]) -> list:
    return [values[n] for n in names]


class JaxStep(FrameworkStep):
    """A JAX network, optax optimizer and training step, built by ``factory``, as a gate step
    (module docstring).

    **Arguments:**

    - ``factory``: ``factory(N, d, s[, lam=, beta=]) -> (params, apply, optimizer, step)``.
    - ``particles``: the name of the parameter holding the first-layer weights w (``"hidden"``,
      or ``"layer1/w"`` for ``params["layer1"]["w"]``), or ``{"a": …, "w": …, "b": …}`` for
      θ = (a, w, b).
    - ``name``: how the gate names it (default ``jax:<module>.<factory>``).
    """

    framework = "jax"

    def _fresh(self) -> None:
        super()._fresh()
        self._builds: OrderedDict = OrderedDict()  # setting → _Build (compiled calls: never pickled)
        self._run = None  # the run in progress: (build, params, opt_state, key)

    def _validate_built(self, built):
        jax, jnp, optax = _jax()
        if not (isinstance(built, tuple) and len(built) == 4 and callable(built[1]) and callable(built[3])):
            raise InvalidArgument(f"the factory {self.__name__} must return (params, apply, optimizer, step), got "
                                  f"{type(built).__name__} {built!r:.120}.")
        params, _, optimizer, _ = built
        if not isinstance(optimizer, optax.GradientTransformation):
            raise InvalidArgument(f"the factory {self.__name__} must return an optax.GradientTransformation as its optimizer "
                                  f"(third element), got {type(optimizer).__name__} {optimizer!r:.120}.")
        try:
            leaves = param_names(params)
        except Exception as exc:
            raise InvalidArgument(f"the params of {self.__name__} are not a pytree of arrays: {exc}") from exc
        for n, v in leaves.items():
            if not (hasattr(v, "shape") and hasattr(v, "dtype") and jnp.issubdtype(v.dtype, jnp.floating)):
                raise InvalidArgument(f"the params of {self.__name__} hold {n!r} = {v!r:.80}, not an array of floats; every leaf "
                                      f"of params must be a floating array (move constants out of params).")
        self.particles.check_parameters(leaves, leaves, f"the params of {self.__name__}",
                                        "move constants out of params (into apply's closure): optax trains every leaf")
        return built

    def _noisy_step_of(self, built):
        return built[3]

    def _shapes(self, built) -> dict[str, tuple]:
        return {n: tuple(np.shape(v)) for n, v in param_names(built[0]).items()}

    def _one_unit(self, built, theta, X, d):
        jax, jnp, _ = _jax()
        params, apply = built[0], built[1]
        leaves = param_names(params)
        values = self.particles.from_theta(theta, self._shapes(built), self._layouts[d], d)
        loaded = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(params),
                                              [jnp.asarray(values[n], dtype=jnp.asarray(v).dtype) for n, v in leaves.items()])
        dtype = jnp.asarray(leaves[next(iter(self.particles.names.values()))]).dtype
        return np.asarray(apply(loaded, jnp.asarray(X, dtype=dtype)), dtype=np.float64)

    def _start(self, theta, d, s, lam, beta):
        jax, _, _ = _jax()
        R, N, _ = theta.shape
        setting = (R, N, d, s, lam, beta)
        build = self._builds.get(setting)
        if build is None:
            build = _Build(self, self._build(N, d, s, lam, beta), R, N, d, beta is not None, beta)
            self._builds[setting] = build
            while len(self._builds) > _COMPILED:
                self._builds.popitem(last=False)
        self._takes_noise = build.takes_noise
        params = build.load(np.asarray(theta, dtype=build.dtype))
        key = None
        if build.takes_key:
            seed = seed_of(theta)  # 63 bits: the low 32 make the key, the high ones are folded in
            key = jax.random.fold_in(jax.random.key(seed & 0xFFFFFFFF), seed >> 32)
        self._run = [build, params, build.init(params), key]

    def _advance(self, x, y, g, d):
        build, params, opt_state, key = self._run
        R, dtype = build.R, build.dtype  # numpy arrays go to the compiled call as they are: no op per conversion
        xr = np.asarray(x.reshape(R, 1, d), dtype=dtype)
        yr = np.asarray(y.reshape(R, 1), dtype=dtype)
        extra = np.asarray(g, dtype=dtype) if build.takes_noise else key if build.takes_key else build.nothing
        params, opt_state, theta, key = build.advance(params, opt_state, xr, yr, extra)
        self._run = [build, params, opt_state, key if build.takes_key else None]
        return np.asarray(theta, dtype=np.float64)
