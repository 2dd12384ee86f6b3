"""PyTorch networks and training steps as users write them: correct ones the gate must pass, and
mutants, each a plausible slip, that it must reject.

Every factory has the signature of :class:`~mfcheck.frameworks.torch_step.TorchStep`,
``make(N, d, s, lam=0.0, beta=None) -> (module, step)`` with ``step(x, y, noise=None)`` on one
sample (x of shape (1, d), y of shape (1,)), and holds the particles w_i in the rows of the
parameter :data:`PARTICLES` (``nn.Linear(d, N, bias=False).weight``). The step every variant is
measured against is the mean-field one (docs/theory.md §2), for σ*(x; w) = erf(<w, x>):

    θ_i ← θ_i + 2s(y − ŷ)∇σ*(x; θ_i) − 2λsθ_i + sqrt(4s/β) g_i,    ŷ(x) = (1/N) Σ_j σ*(x; θ_j),

with g_i the harness's standard Gaussians (``noise["hidden.weight"]``); the last two terms only
in the noisy case (λ = 0 and no noise in the noiseless one).

Torch's plain SGD with weight decay wd and learning rate lr moves a parameter by
−lr (∇loss + wd θ). On the loss (y − ŷ)² with the mean readout, ∇_{w_i} loss =
−(2/N)(y − ŷ)∇σ*, so lr = sN and wd = 2λ/N give the step above; every variant below is read
against that bookkeeping.

- :data:`CORRECT`: ``float32`` (the example network as is), ``folded`` (the 1/N of the readout
  folded into the loss and the learning rate), ``functional`` (``torch.func`` gradient and an
  explicit in-place update, no optimizer).
- :data:`MUTANTS`: ``sqrt_n_output``, ``lr_unscaled``, ``momentum``, ``adam``,
  ``weight_decay_wrong``, ``float16``.

``mfcheck reproduce frameworks`` (:mod:`mfcheck.app.reproduce.frameworks`) runs the gate on every
one and writes ``reports/frameworks/``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["PARTICLES", "CORRECT", "MUTANTS", "float32", "folded", "functional", "sqrt_n_output", "lr_unscaled", "momentum", "adam",
           "weight_decay_wrong", "float16"]

PARTICLES = "hidden.weight"
"""The parameter that holds the particles w_i, one per row (``TorchStep(factory, PARTICLES)``)."""


class MeanField(torch.nn.Module):
    """ŷ(x) = (1/N) Σ_i erf(<w_i, x>): N hidden units, averaged (the mean-field readout)."""

    def __init__(self, N: int, d: int, dtype: torch.dtype | None = None):
        super().__init__()
        self.hidden = torch.nn.Linear(d, N, bias=False, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.erf(self.hidden(x)).mean(dim=-1)


class SumReadout(torch.nn.Module):
    """ŷ(x) = c Σ_i erf(<w_i, x>) with a fixed readout scale c, kept as a buffer (not trained)."""

    def __init__(self, N: int, d: int, scale: float):
        super().__init__()
        self.hidden = torch.nn.Linear(d, N, bias=False)
        self.register_buffer("scale", torch.tensor(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * torch.erf(self.hidden(x)).sum(dim=-1)


def _add_noise(model: torch.nn.Module, s: float, beta, noise) -> None:
    """Langevin: w ← w + sqrt(4s/β) g, with the caller's Gaussians g."""
    if noise is not None:
        with torch.no_grad():
            model.hidden.weight.add_(math.sqrt(4 * s / beta) * noise[PARTICLES])


def _optimizer_step(model, optimizer, s, beta, loss_scale: float = 1.0):
    """One step of ``optimizer`` on loss_scale · (ŷ(x) − y)², then the noise."""

    def step(x: torch.Tensor, y: torch.Tensor, noise: dict | None = None) -> None:
        optimizer.zero_grad()
        loss = loss_scale * ((model(x) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        _add_noise(model, s, beta, noise)

    return step


# -- correct -------------------------------------------------------------------------------------


def float32(N: int, d: int, s: float, lam: float = 0.0, beta: float | None = None):
    """Correct: the example network as is, in torch's default float32.

    ŷ = (1/N) Σ_i erf(<w_i, x>), loss (y − ŷ)², ``SGD(lr=s·N, weight_decay=2λ/N)``, then
    + sqrt(4s/β) g. The gradient of the loss in w_i is −(2/N)(y − ŷ)∇σ*, so the step is
    −sN(−(2/N)(y − ŷ)∇σ* + (2λ/N) w_i) = 2s(y − ŷ)∇σ* − 2λs w_i: the mean-field step, in float32
    (whose rounding is far inside the theorem's error budget)."""
    model = MeanField(N, d)
    optimizer = torch.optim.SGD(model.parameters(), lr=s * N, weight_decay=2 * lam / N)
    return model, _optimizer_step(model, optimizer, s, beta)


def folded(N: int, d: int, s: float, lam: float = 0.0, beta: float | None = None):
    """Correct: the 1/N folded into the loss instead of the learning rate.

    The network is the same mean ŷ = (1/N) Σ_i erf(<w_i, x>); the loss is N (y − ŷ)², whose
    gradient in w_i is −2(y − ŷ)∇σ* (the N cancels the readout's 1/N), trained by
    ``SGD(lr=s, weight_decay=2λ)``: the step is −s(−2(y − ŷ)∇σ* + 2λ w_i) = 2s(y − ŷ)∇σ* − 2λs w_i,
    exactly the mean-field step, with learning rate and weight decay in the "per-unit" convention
    (lr = s, wd = 2λ) that the example writes as lr = sN, wd = 2λ/N. The two conventions differ
    only in where the factor N sits, so they agree up to float32 rounding."""
    model = MeanField(N, d)
    optimizer = torch.optim.SGD(model.parameters(), lr=s, weight_decay=2 * lam)
    return model, _optimizer_step(model, optimizer, s, beta, loss_scale=float(N))


def functional(N: int, d: int, s: float, lam: float = 0.0, beta: float | None = None):
    """Correct: the step written with ``torch.func`` and an explicit in-place update, no optimizer.

    The loss ℓ(W; x, y) = (y − ŷ(x; W))² is evaluated by ``functional_call`` on the parameters as a
    dict; ``vmap(grad(ℓ))`` gives its gradient per sample of the batch (one sample here), averaged
    over the batch, ∇_{w_i} ℓ = −(2/N)(y − ŷ)∇σ*. The update is written out:
    w_i ← w_i − sN ∇_{w_i} ℓ − 2λs w_i + sqrt(4s/β) g_i = w_i + 2s(y − ŷ)∇σ* − 2λs w_i + sqrt(4s/β) g_i,
    the mean-field step, every term computed from the weights before the step."""
    from torch.func import functional_call, grad, vmap

    model = MeanField(N, d)

    def loss(params: dict, x1: torch.Tensor, y1: torch.Tensor) -> torch.Tensor:
        yhat = functional_call(model, params, (x1[None, :],))[0]
        return (y1 - yhat) ** 2

    per_sample_grad = vmap(grad(loss), in_dims=(None, 0, 0))

    def step(x: torch.Tensor, y: torch.Tensor, noise: dict | None = None) -> None:
        params = {k: v.detach() for k, v in model.named_parameters()}
        g = per_sample_grad(params, x, y)[PARTICLES].mean(dim=0)
        with torch.no_grad():
            w = model.hidden.weight
            delta = -(s * N) * g
            if noise is not None:
                delta = delta - 2 * lam * s * w + math.sqrt(4 * s / beta) * noise[PARTICLES]
            w.add_(delta)

    return model, step


# -- mutants -------------------------------------------------------------------------------------


def sqrt_n_output(N: int, d: int, s: float, lam: float = 0.0, beta: float | None = None):
    """Wrong: the readout Σ_i erf(<w_i, x>)/√N (the NTK / standard scaling) instead of the mean.

    With everything else as in :func:`float32` (lr = sN, wd = 2λ/N), the gradient in w_i is
    −(2/√N)(y − ŷ)∇σ*, so each unit moves by 2s√N(y − ŷ)∇σ*, √N times the mean-field step, and
    ŷ itself is √N times the mean: the dynamics has no mean-field limit. At N = 1 the readout is the
    unit itself, so the adapter's one-unit σ* check passes it and the claims must judge it."""
    model = SumReadout(N, d, 1.0 / math.sqrt(N))
    optimizer = torch.optim.SGD(model.parameters(), lr=s * N, weight_decay=2 * lam / N)
    return model, _optimizer_step(model, optimizer, s, beta)


def lr_unscaled(N: int, d: int, s: float, lam: float = 0.0, beta: float | None = None):
    """Wrong: learning rate s instead of sN (the 1/N of the readout forgotten).

    The gradient in w_i is −(2/N)(y − ŷ)∇σ*, so the step is 2(s/N)(y − ŷ)∇σ* − 2(λs/N) w_i: the
    mean-field step at step size s/N. In mean-field time the network moves N times too slowly, and
    after the harness's T/s steps it has covered only T/N of the trajectory."""
    model = MeanField(N, d)
    optimizer = torch.optim.SGD(model.parameters(), lr=s, weight_decay=2 * lam / N)
    return model, _optimizer_step(model, optimizer, s, beta)


def momentum(N: int, d: int, s: float, lam: float = 0.0, beta: float | None = None):
    """Wrong: SGD with momentum 0.9 (lr = sN, wd = 2λ/N as in :func:`float32`).

    The first step equals the mean-field step (torch starts the momentum buffer at the first
    gradient); from then on the update is the exponentially weighted sum Σ_k 0.9^k of past steps,
    which for a slowly varying gradient is 1/(1 − 0.9) = 10 times the mean-field step, taken on
    gradients of past samples: a different (heavy-ball, second-order) dynamics, not the
    McKean–Vlasov flow at any time scale."""
    model = MeanField(N, d)
    optimizer = torch.optim.SGD(model.parameters(), lr=s * N, momentum=0.9, weight_decay=2 * lam / N)
    return model, _optimizer_step(model, optimizer, s, beta)


def adam(N: int, d: int, s: float, lam: float = 0.0, beta: float | None = None):
    """Wrong: ``torch.optim.Adam(lr=s, weight_decay=2λ/N)``.

    Adam divides each coordinate's (decayed) gradient by the root of its running second moment, so
    each coordinate moves by about s·m̂/sqrt(v̂) (of order s, of the sign of the averaged gradient):
    the step no longer scales with (y − ŷ)∇σ*, the scale of the residual is normalised away, and the
    limit, if any, is a sign-like flow, not the mean-field drift 2(y − ŷ)∇σ*."""
    model = MeanField(N, d)
    optimizer = torch.optim.Adam(model.parameters(), lr=s, weight_decay=2 * lam / N)
    return model, _optimizer_step(model, optimizer, s, beta)


def weight_decay_wrong(N: int, d: int, s: float, lam: float = 0.0, beta: float | None = None):
    """Wrong: weight decay 2λ instead of 2λ/N (with lr = sN).

    The ridge term is −sN·2λ w_i = −2λsN w_i, N times the mean-field −2λs w_i: the confining
    potential is N times too strong. With λ = 0 (the noiseless claims) the step is exactly the
    mean-field one, so only the noisy claims (λ > 0) can see it."""
    model = MeanField(N, d)
    optimizer = torch.optim.SGD(model.parameters(), lr=s * N, weight_decay=2 * lam)
    return model, _optimizer_step(model, optimizer, s, beta)


def float16(N: int, d: int, s: float, lam: float = 0.0, beta: float | None = None):
    """Wrong: the example network with the module and its parameters in half precision.

    The formula is the mean-field step (as :func:`float32`), but the weights, the inputs, ŷ, the
    gradient and the update are float16 (11 significant bits): an update of w_i much smaller than
    half an ulp of w_i (2^-11 of |w_i|) is rounded away, and as s → 0 along the limit the
    per-step increments 2s(y − ŷ)∇σ* and the noise sqrt(4s/β) g fall to that size, so the rounding
    error per unit time grows like 1/s instead of vanishing. One unit computes erf(<w, x>) within
    float16 rounding, which the adapter's σ* check (tolerance 1e-2 relative) accepts."""
    model = MeanField(N, d, dtype=torch.float16)
    optimizer = torch.optim.SGD(model.parameters(), lr=s * N, weight_decay=2 * lam / N)
    return model, _optimizer_step(model, optimizer, s, beta)


CORRECT = {"float32": float32, "folded": folded, "functional": functional}
"""The correct variants, name → factory: the gate must not reject them."""

MUTANTS = {"sqrt_n_output": sqrt_n_output, "lr_unscaled": lr_unscaled, "momentum": momentum, "adam": adam,
           "weight_decay_wrong": weight_decay_wrong, "float16": float16}
"""The mutants, name → factory: the gate must reject each (some claim fails)."""
