"""Module-level PyTorch factories for the adapter's tests (:mod:`mfcheck.frameworks.torch_step`): the
correct network in float64 and float32, and the ways a user's factory can be wrong or partial."""

import math

import torch


class MeanField(torch.nn.Module):
    """ŷ(x) = (1/N) Σ_i act(<w_i, x>)."""

    def __init__(self, N, d, dtype=torch.float64, act=torch.erf, bias=False):
        super().__init__()
        self.hidden = torch.nn.Linear(d, N, bias=bias, dtype=dtype)
        self.act = act

    def forward(self, x):
        return self.act(self.hidden(x)).mean(-1)


def _sgd_step(model, opt, s, beta, noise_name="hidden.weight"):
    def step(x, y, noise=None):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        if noise is not None:
            with torch.no_grad():
                model.get_parameter(noise_name).add_(math.sqrt(4 * s / beta) * noise[noise_name])

    return step


def correct(N, d, s, lam=0.0, beta=None):
    """The mean-field step in float64: lr = sN, weight decay 2λ/N, noise sqrt(4s/β) g."""
    model = MeanField(N, d)
    return model, _sgd_step(model, torch.optim.SGD(model.parameters(), lr=s * N, weight_decay=2 * lam / N), s, beta)


def correct32(N, d, s, lam=0.0, beta=None):
    model = MeanField(N, d, dtype=torch.float32)
    return model, _sgd_step(model, torch.optim.SGD(model.parameters(), lr=s * N, weight_decay=2 * lam / N), s, beta)


def momentum(N, d, s, lam=0.0, beta=None):
    model = MeanField(N, d)
    return model, _sgd_step(model, torch.optim.SGD(model.parameters(), lr=s * N, momentum=0.9), s, beta)


def noiseless_only(N, d, s):
    model = MeanField(N, d)
    return model, _sgd_step(model, torch.optim.SGD(model.parameters(), lr=s * N), s, None)


def own_noise(N, d, s, lam=0.0, beta=None):
    """Draws its Gaussians itself (torch.randn_like): the coupling to the harness's noise does not apply."""
    model = MeanField(N, d)
    opt = torch.optim.SGD(model.parameters(), lr=s * N, weight_decay=2 * lam / N)

    def step(x, y):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        if beta is not None:
            with torch.no_grad():
                w = model.hidden.weight
                w.add_(math.sqrt(4 * s / beta) * torch.randn_like(w))

    return model, step


def tanh_activation(N, d, s, lam=0.0, beta=None):
    model = MeanField(N, d, act=torch.tanh)
    return model, _sgd_step(model, torch.optim.SGD(model.parameters(), lr=s * N), s, beta)


def trainable_bias(N, d, s, lam=0.0, beta=None):
    model = MeanField(N, d, bias=True)
    return model, _sgd_step(model, torch.optim.SGD(model.parameters(), lr=s * N), s, beta)


def reshaping(N, d, s, lam=0.0, beta=None):
    """Its step replaces the weight by one of another shape."""
    model = MeanField(N, d)

    def step(x, y, noise=None):
        model.hidden.weight = torch.nn.Parameter(torch.zeros(N + 1, d, dtype=torch.float64))

    return model, step


def nan_step(N, d, s, lam=0.0, beta=None):
    model = MeanField(N, d)

    def step(x, y, noise=None):
        with torch.no_grad():
            model.hidden.weight.fill_(float("nan"))

    return model, step


def not_a_pair(N, d, s, lam=0.0, beta=None):
    return MeanField(N, d)


def retyping(N, d, s, lam=0.0, beta=None):
    """Its step turns the float64 weight into float32."""
    model = MeanField(N, d)

    def step(x, y, noise=None):
        model.hidden.weight.data = model.hidden.weight.data.float()

    return model, step
