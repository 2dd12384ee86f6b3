"""The network and its training step, as one would write them in PyTorch.

ŷ(x) = (1/N) Σ_i erf(<w_i, x>) is the mean-field scaling: the output averages the N hidden units.
Trained one sample at a time on the loss (y − ŷ)², plain SGD moves each unit by
lr · (2/N)(y − ŷ) ∇erf(<w_i, x>), so a learning rate lr = s·N gives each unit the step
2s(y − ŷ)∇σ* whose limit, as N → ∞ and s → 0, is the mean-field dynamics. Weight decay 2λ/N
gives the ridge term −2λsθ and the noise sqrt(4s/β) g makes it Langevin (noisy) SGD.
"""

import math

import torch


class MeanField(torch.nn.Module):
    """N hidden units erf(<w_i, x>), averaged."""

    def __init__(self, N: int, d: int):
        super().__init__()
        self.hidden = torch.nn.Linear(d, N, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.erf(self.hidden(x)).mean(dim=-1)


def make(N: int, d: int, s: float, lam: float = 0.0, beta: float | None = None):
    """The network of N units on R^d and its training step at step size s (ridge λ, inverse temperature β)."""
    model = MeanField(N, d)
    optimizer = torch.optim.SGD(model.parameters(), lr=s * N, weight_decay=2 * lam / N)

    def step(x: torch.Tensor, y: torch.Tensor, noise: dict | None = None) -> None:
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        if noise is not None:  # Langevin SGD: the Gaussians come from the caller
            with torch.no_grad():
                model.hidden.weight.add_(math.sqrt(4 * s / beta) * noise["hidden.weight"])

    return model, step
