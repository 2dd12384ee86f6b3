"""A mean-field two-layer network in PyTorch: ŷ(x) = (1/N) Σ_i erf(<w_i, x>)."""
