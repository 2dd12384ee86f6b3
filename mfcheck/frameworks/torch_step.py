"""Gate a PyTorch two-layer network and its training step as the user wrote them.

The user writes a factory that builds their ``torch.nn.Module`` of N hidden units on inputs in
R^d and their training step, with the learning rate and options they use:

.. code-block:: python

    import math, torch

    class MeanField(torch.nn.Module):                  # ŷ(x) = (1/N) Σ_i erf(<w_i, x>)
        def __init__(self, N, d):
            super().__init__()
            self.hidden = torch.nn.Linear(d, N, bias=False)

        def forward(self, x):
            return torch.erf(self.hidden(x)).mean(-1)

    def make(N, d, s, lam=0.0, beta=None):
        model = MeanField(N, d)
        # loss (y − ŷ)², whose gradient in w_i is −(2/N)(y − ŷ)∇σ*: lr = sN gives the step 2s(y − ŷ)∇σ*,
        # and weight decay 2λ/N gives the ridge term −2λsθ
        opt = torch.optim.SGD(model.parameters(), lr=s * N, weight_decay=2 * lam / N)

        def step(x, y, noise=None):                    # one sample: x (1, d), y (1,)
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            if noise is not None:                      # Langevin: + sqrt(4s/β) g, the harness's g
                with torch.no_grad():
                    model.hidden.weight.add_(math.sqrt(4 * s / beta) * noise["hidden.weight"])

        return model, step

    gated = TorchStep(make, particles="hidden.weight")   # mfcheck gate --impl mypkg.net:gated

**What the adapter does** (:class:`~mfcheck.frameworks.adapter.FrameworkStep`): it builds one
model and step per replicate from the factory, writes the harness's particles into the named
parameters (:class:`~mfcheck.frameworks.particles.ParticleMap`), calls the user's step on each
replicate's sample (x as a (1, d) tensor, y as (1,), both of the model's dtype and device) and
reads the particles back. It keeps the models and their optimizers along a run and builds them
anew at the start of every run (:class:`~mfcheck.frameworks.particles.Trajectory`): momentum and
Adam moments live within one replicate's run, never across replicates, cells or claims.

**The factory.** ``factory(N, d, s)`` for noiseless SGD at step size s (the mean-field time per
step is s, the paper's ε); ``factory(N, d, s, lam=λ, beta=β)`` for noisy SGD. It returns
``(model, step)``: the module, and ``step(x, y)`` or ``step(x, y, noise=None)`` that does one
training step in place. A factory without ``beta`` builds only noiseless steps: the claims about
noisy SGD are reported not applicable. A noisy step that takes ``noise`` receives the harness's
standard Gaussians as a dict {parameter name: tensor of that parameter's shape} (for the particle
parameters), so that the harness can couple each particle to a twin driven by the same increments;
a noisy step that draws its own (``torch.randn``) runs every claim but that coupling, and the
adapter seeds torch's generator from the particles that start each run, so that a run repeats.

**Refused** (exit 2, nothing judged), each with a message naming the problem: a factory that does
not return ``(module, callable)``; a particle parameter the module does not have, or of a shape
that holds no N particles; a trainable parameter that is not a particle (the harness would not
see it move: name it as a particle or freeze it); a module whose one unit does not compute σ*; a
step that changes a particle parameter's shape, dtype or device; a step that leaves a non-finite
value (:func:`mfcheck.app.gate.protocol.checked`).

The adapter calls the user's step once per replicate and step (a Python loop over R): the step is
theirs, optimizer included, and cannot be batched without rewriting it. Its cost against the numpy
protocol step is measured by ``python -m benchmarks`` (reports/performance.md).
"""

from __future__ import annotations

import contextlib

import numpy as np

from mfcheck.errors import InvalidArgument
from mfcheck.frameworks.adapter import FrameworkStep
from mfcheck.frameworks.particles import factory_signature, seed_of

__all__ = ["TorchStep"]


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a declared dependency of the extras
        raise InvalidArgument("the PyTorch adapter needs torch: pip install 'mfcheck[torch]'.") from exc
    return torch


@contextlib.contextmanager
def _one_thread(torch):
    """torch on one thread inside a step: the networks are small, and the cells already run one per core."""
    n = torch.get_num_threads()
    if n != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if n != 1:
            torch.set_num_threads(n)


class TorchStep(FrameworkStep):
    """A PyTorch network and training step, built by ``factory``, as a gate step (module docstring).

    **Arguments:**

    - ``factory``: ``factory(N, d, s[, lam=, beta=]) -> (module, step)``.
    - ``particles``: the name of the parameter holding the first-layer weights w (``"hidden.weight"``,
      as ``module.named_parameters()`` names it), or ``{"a": …, "w": …, "b": …}`` for θ = (a, w, b).
    - ``name``: how the gate names it (default ``torch:<module>.<factory>``).
    """

    framework = "torch"

    def _validate_built(self, built):
        torch = _torch()
        if not (isinstance(built, tuple) and len(built) == 2 and isinstance(built[0], torch.nn.Module) and callable(built[1])):
            raise InvalidArgument(f"the factory {self.__name__} must return (torch.nn.Module, step), got {type(built).__name__} "
                                  f"{built!r:.120}.")
        model = built[0]
        params = dict(model.named_parameters())
        self.particles.check_parameters(params, [n for n, p in params.items() if p.requires_grad], f"the module {type(model).__name__}",
                                        "freeze them (requires_grad_(False))")
        return built

    def _noisy_step_of(self, built):
        return built[1]

    def _shapes(self, built) -> dict[str, tuple]:
        return {n: tuple(p.shape) for n, p in built[0].named_parameters()}

    def _load(self, model, theta_r: np.ndarray, d: int) -> None:
        torch = _torch()
        shapes = self._shapes((model, None))
        values = self.particles.from_theta(theta_r, shapes, self._layouts[d], d)
        with torch.no_grad():
            for name, v in values.items():
                p = model.get_parameter(name)
                p.copy_(torch.as_tensor(v, dtype=p.dtype, device=p.device))

    def _one_unit(self, built, theta, X, d):
        torch = _torch()
        model = built[0]
        self._load(model, theta, d)
        p = model.get_parameter(next(iter(self.particles.names.values())))
        with torch.no_grad(), _one_thread(torch):
            out = model(torch.as_tensor(X, dtype=p.dtype, device=p.device))
        return out.detach().to("cpu", torch.float64).numpy()

    def _start(self, theta, d, s, lam, beta):
        torch = _torch()
        R, N, _ = theta.shape
        with _one_thread(torch):
            self._nets = [self._build(N, d, s, lam, beta) for _ in range(R)]
            for (model, _), th in zip(self._nets, theta):
                self._load(model, th, d)
        model, self._N = self._nets[0][0], N
        self._spec = {n: (p.shape, p.dtype, p.device) for n, p in model.named_parameters() if n in self.particles.names.values()}
        self._dtype, self._device = next(iter(self._spec.values()))[1:]
        self._noisy = beta is not None
        self._takes_noise = self._noisy and factory_signature(self.factory, self._nets[0][1], "torch").takes_noise
        if self._noisy and not self._takes_noise:
            torch.manual_seed(seed_of(theta))

    def _checked_parameter(self, model, name: str, r: int):
        """The particle parameter ``name`` of replicate r's model after its step, unchanged in shape, dtype and device."""
        shape, dtype, device = self._spec[name]
        try:
            p = model.get_parameter(name)
        except AttributeError as exc:
            raise InvalidArgument(f"after a step of replicate {r}, the module has no parameter {name!r}.") from exc
        if p.shape != shape or p.dtype != dtype or p.device != device:
            raise InvalidArgument(f"the step changed parameter {name!r}: {tuple(shape)}, {dtype}, {device} before, "
                                  f"{tuple(p.shape)}, {p.dtype}, {p.device} after (replicate {r}).")
        return p.detach()

    def _advance(self, x, y, g, d):
        """One step of every replicate: the inputs converted once for all R (each replicate's step sees
        a (1, d) and a (1,) slice, and its noise as a dict of slices), the particles read back once."""
        torch = _torch()
        dtype, device, layouts = self._dtype, self._device, self._layouts[d]
        shapes = {n: tuple(s[0]) for n, s in self._spec.items()}
        with _one_thread(torch):
            xt = torch.as_tensor(x, dtype=dtype, device=device)
            yt = torch.as_tensor(y, dtype=dtype, device=device)
            noise = None
            if self._takes_noise:
                noise = {n: torch.as_tensor(v, dtype=dtype, device=device)
                         for n, v in self.particles.from_theta(g, shapes, layouts, d, batch=1).items()}
            values = {n: [] for n in self._spec}
            for r, (model, step) in enumerate(self._nets):
                if noise is None:
                    step(xt[r:r + 1], yt[r:r + 1])
                else:
                    step(xt[r:r + 1], yt[r:r + 1], noise={n: v[r] for n, v in noise.items()})
                for n in values:
                    values[n].append(self._checked_parameter(model, n, r))
            arrays = {n: torch.stack(v).to("cpu", torch.float64).numpy() for n, v in values.items()}
        return self.particles.to_theta(arrays, layouts, self._N, d, batch=1)
