"""The cost of gating framework code: the adapters' time per call of the step against the numpy protocol
step on the same input, and the wall time of ``mfcheck gate --tier ci`` on the PyTorch example project.

- :func:`call_costs`: seconds per call (one SGD step of R replicates) of the built-in protocol step
  (:func:`mfcheck.app.gate.reference_step`, numpy), of :class:`~mfcheck.frameworks.torch_step.TorchStep`
  on the example's factory (``examples/torch_project/mfnet/model.py``: one call of the user's step per
  replicate) and of :class:`~mfcheck.frameworks.jax_step.JaxStep` on the JAX network of its docstring
  (all replicates in one compiled call), at shapes the ci tier calls the step with; best of a few
  repeats of many calls, after a warm-up run (compilation excluded).
- :func:`example_gate_time`: ``mfcheck gate --torch mfnet.model:make --particles hidden.weight --tier ci``
  run in the example's folder, no cache, so every cell is computed.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "torch_project"

SHAPES = ((32, 128, 3), (96, 512, 3), (32, 128, 1))
"""(R, N, d) of the timed calls: the most frequent shapes of a ci gate run (the Theorem 1 sweep's
replicates at a middle and a large N, and the noisy claims' D = 1 setting)."""


def jax_make(N, d, s, lam=0.0, beta=None):
    """The JAX network and optax step of :mod:`mfcheck.frameworks.jax_step`'s docstring."""
    import jax
    import jax.numpy as jnp
    import optax

    params = {"hidden": jnp.zeros((d, N))}

    def apply(params, x):
        return jax.scipy.special.erf(x @ params["hidden"]).mean(-1)

    optimizer = optax.chain(optax.add_decayed_weights(2 * lam / N), optax.sgd(s * N))

    def step(params, opt_state, x, y, noise=None):
        grads = jax.grad(lambda p: ((apply(p, x) - y) ** 2).mean())(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        if noise is not None:
            params = {"hidden": params["hidden"] + math.sqrt(4 * s / beta) * noise["hidden"]}
        return params, opt_state

    return params, apply, optimizer, step


def _steps():
    from mfcheck.app.gate import reference_step
    from mfcheck.frameworks.jax_step import JaxStep
    from mfcheck.frameworks.torch_step import TorchStep

    sys.path.insert(0, str(EXAMPLE))
    from mfnet.model import make

    return {"numpy protocol": reference_step, "torch (example)": TorchStep(make, "hidden.weight"), "jax": JaxStep(jax_make, "hidden")}


def _per_call(step, theta, x, y, neuron, calls: int, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        th = theta
        t0 = time.perf_counter()
        for k in range(calls):
            th = step(th, x[k], y[k], 1e-3, neuron)
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def call_costs(calls: int = 50, repeats: int = 3, seed: int = 0) -> list[dict]:
    """Seconds per call of each step (:func:`_steps`) at each of :data:`SHAPES`, and its ratio to the numpy step."""
    from threadpoolctl import threadpool_limits

    from mfcheck.model.activations import erf_sigmoid
    from mfcheck.model.neurons import InnerNeuron

    neuron = InnerNeuron(erf_sigmoid())
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    rows = []
    steps = _steps()
    with threadpool_limits(limits=1, user_api="blas"):  # as in a worker
        for R, N, d in SHAPES:
            theta = 0.5 * rng.standard_normal((R, N, d))
            x, y = rng.standard_normal((calls, R, d)), rng.standard_normal((calls, R))
            row = {"R": R, "N": N, "d": d}
            for name, step in steps.items():
                _per_call(step, theta, x, y, neuron, 3, 1)  # warm-up: builds, compiles
                row[name] = _per_call(step, theta, x, y, neuron, calls, repeats)
            rows.append(row)
    return rows


def example_gate_time(timeout: float = 1800.0) -> dict:
    """Wall time and exit code of the ci gate on the example's factory, without the cache."""
    exe = str(Path(sys.executable).with_name("mfcheck"))
    cmd = [exe, "gate", "--torch", "mfnet.model:make", "--particles", "hidden.weight", "--tier", "ci", "--no-cache", "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=EXAMPLE, capture_output=True, text=True, env={**os.environ}, timeout=timeout)
    tail = proc.stdout.strip().splitlines() or proc.stderr.strip().splitlines()
    return {"command": " ".join(["mfcheck"] + cmd[1:]), "wall_s": time.perf_counter() - t0, "returncode": proc.returncode,
            "verdicts": [line.strip() for line in tail if line.startswith("  ") and ": " in line][:20]}
