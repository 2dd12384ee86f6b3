"""The README's protocol step runs as written and is the built-in step."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mfcheck.app.gate import probe
from mfcheck.app.gate.examples import reference_step
from mfcheck.model.experiment import default_experiment

README = Path(__file__).resolve().parent.parent / "README.md"


def _protocol_block() -> str:
    """The one python block of the README that defines ``step``."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S) if "def step(theta" in b]
    assert len(blocks) == 1, f"expected one python block defining step, found {len(blocks)}"
    return blocks[0]


def test_the_readme_step_runs_as_written_and_is_the_builtin_step(rng):
    namespace: dict = {}
    exec(compile(_protocol_block(), str(README), "exec"), namespace)  # a fresh namespace: the block brings its own imports
    step = namespace["step"]
    experiment = default_experiment(log2_M=8)
    neuron, d = experiment.neuron, experiment.problem.d
    R, N = 3, 5
    theta = rng.normal(size=(R, N, experiment.D))
    x, y, g = rng.normal(size=(R, d)), rng.normal(size=R), rng.normal(size=(R, N, experiment.D))
    np.testing.assert_allclose(step(theta, x, y, 0.05, neuron), reference_step(theta, x, y, 0.05, neuron), rtol=0, atol=1e-12)
    np.testing.assert_allclose(step(theta, x, y, 0.05, neuron, noise=g, lam=0.5, beta=4.0),
                               reference_step(theta, x, y, 0.05, neuron, noise=g, lam=0.5, beta=4.0), rtol=0, atol=1e-12)
    probe(step, experiment)  # and the gate's first call accepts it


def test_the_readme_torch_factory_runs_as_written_and_takes_the_builtin_step(rng):
    """The README's PyTorch factory, gated through the adapter: its float32 step is the built-in one to float32 rounding."""
    from mfcheck.frameworks.torch_step import TorchStep

    blocks = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S) if "def make(" in b]
    assert len(blocks) == 1, f"expected one python block defining make, found {len(blocks)}"
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    experiment = default_experiment(log2_M=8)
    neuron, d = experiment.neuron, experiment.problem.d
    theta = rng.normal(size=(3, 5, d))
    x, y, g = rng.normal(size=(3, d)), rng.normal(size=3), rng.normal(size=theta.shape)
    step = TorchStep(namespace["make"], "hidden.weight")
    np.testing.assert_allclose(step(theta, x, y, 0.05, neuron), reference_step(theta, x, y, 0.05, neuron), rtol=0, atol=1e-5)
    np.testing.assert_allclose(step(theta, x, y, 0.05, neuron, noise=g, lam=0.5, beta=4.0),
                               reference_step(theta, x, y, 0.05, neuron, noise=g, lam=0.5, beta=4.0), rtol=0, atol=1e-5)
